"""Every op's gradient against central finite differences (``tinynet.gradcheck``), on every backend.

Each test runs once per backend (the ``backend`` fixture: numpy, the fakecupy stand-in, and
CuPy when a GPU is present), so a stray NumPy call on tensor data fails here as it would on a GPU.

Two layers:
* hypothesis draws shapes (broadcasting pairs, batched and 1-D matmuls, reductions over any
  axes, slices, repeated integer indices, masks, ...) and values kept away from kinks;
* ``FIXED`` is a table of deterministic cases with non-symmetric shapes and non-trivial values,
  one or more per op and per code path, so that a broken backward (a flipped sign, a factor of
  2, a transposed gradient) fails whatever hypothesis happens to draw.

``gradcheck`` reduces a non-scalar output with fixed random weights, so the upstream gradient is
never uniform (a uniform one would hide, e.g., a broken softmax backward).
Then known values: d/dx x³ at 2 is 12, softmax rows sum to 1, stability at huge logits.
"""
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import strategies as S
import tinynet as tn
import tinynet.functional as F
from strategies import host, tensor

# TINYNET_EXAMPLES=200 (say) for a thorough run; the defaults keep the file at a few seconds
_N = int(os.environ.get("TINYNET_EXAMPLES", "20"))
FAST = settings(max_examples=_N)
SLOW = settings(max_examples=max(1, _N * 3 // 5))      # the ops with bigger inputs (matmul, concatenate)


def check(fn, *arrays, requires_grad=None, **kw):
    """gradcheck ``fn`` on float64 copies of NumPy ``arrays`` moved to the backend under test."""
    requires_grad = requires_grad or [True] * len(arrays)
    ts = [tensor(a, requires_grad=r) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a
          for a, r in zip(arrays, requires_grad)]
    assert tn.gradcheck(fn, *ts, **kw)


# ================================ hypothesis: elementwise ========================================
BINARY = {"add": lambda x, y: x + y, "sub": lambda x, y: x - y, "mul": lambda x, y: x * y,
          "div": lambda x, y: x / y}


@pytest.mark.parametrize("op", list(BINARY))
@FAST
@given(data=st.data())
def test_binary_broadcasting(backend, op, data):
    sx, sy = data.draw(S.broadcast_shapes())
    x = data.draw(S.arrays(sx))
    y = data.draw(S.away_from_zero(sy, lo=0.5) if op == "div" else S.arrays(sy))
    check(BINARY[op], x, y)


@pytest.mark.parametrize("op", list(BINARY))
@FAST
@given(data=st.data())
def test_binary_one_side_requires_grad(backend, op, data):
    """Only one operand wants a gradient (the other branch of each backward)."""
    sx, sy = data.draw(S.broadcast_shapes())
    x = data.draw(S.arrays(sx))
    y = data.draw(S.away_from_zero(sy, lo=0.5) if op == "div" else S.arrays(sy))
    first = data.draw(st.booleans())
    check(BINARY[op], x, y, requires_grad=[first, not first])


SCALAR_OPS = {
    "t+c": lambda t, c: t + c, "c+t": lambda t, c: c + t, "t-c": lambda t, c: t - c,
    "c-t": lambda t, c: c - t, "t*c": lambda t, c: t * c, "c*t": lambda t, c: c * t,
    "t/c": lambda t, c: t / c, "c/t": lambda t, c: c / t, "-t": lambda t, c: -t,
}


@pytest.mark.parametrize("op", list(SCALAR_OPS))
@FAST
@given(x=S.away_from_zero(S.shapes(), lo=0.5), c=st.one_of(S.floats(-3, -0.5), S.floats(0.5, 3)))
def test_scalar_and_reflected_operators(backend, op, x, c):
    check(lambda t: SCALAR_OPS[op](t, c), x)


@FAST
@given(data=st.data(), p=st.sampled_from([2, 3, -1, -2, 0, 1, 0.5, 1.5, -0.5, 2.5]))
def test_pow(backend, data, p):
    shape = data.draw(S.shapes())
    x = data.draw(S.positive(shape, 0.3) if isinstance(p, float) else S.away_from_zero(shape, 0.3))
    check(lambda t: t ** p, x)


UNARY = {
    "exp": (lambda t: t.exp(), S.arrays),
    "log": (lambda t: t.log(), S.positive),
    "sqrt": (lambda t: t.sqrt(), S.positive),
    "abs": (lambda t: t.abs(), S.away_from_zero),
    "relu": (lambda t: t.relu(), S.away_from_zero),
    "sigmoid": (lambda t: t.sigmoid(), lambda s: S.arrays(s, -6, 6)),
    "tanh": (lambda t: t.tanh(), S.arrays),
    "tn.exp": (tn.exp, S.arrays),
    "tn.log": (tn.log, S.positive),
    "tn.sqrt": (tn.sqrt, S.positive),
    "tn.abs": (tn.abs, S.away_from_zero),
    "F.relu": (F.relu, S.away_from_zero),
    "F.sigmoid": (F.sigmoid, S.arrays),
    "F.tanh": (F.tanh, S.arrays),
}


@pytest.mark.parametrize("op", list(UNARY))
@FAST
@given(data=st.data())
def test_unary(backend, op, data):
    fn, values = UNARY[op]
    check(fn, data.draw(values(S.shapes())))


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
@FAST
@given(data=st.data())
def test_softmax_family(backend, op, data):
    shape = data.draw(S.shapes(min_dims=1))
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    x = data.draw(S.arrays(shape, -5, 5))
    check(lambda t: getattr(F, op)(t, axis), x)
    check(lambda t: getattr(t, op)(axis), x)


# ================================ hypothesis: matmul ==============================================
@SLOW
@given(shapes=S.matmul_shapes(), data=st.data())
def test_matmul(backend, shapes, data):
    x, y = (data.draw(S.arrays(s)) for s in shapes)
    check(lambda a, b: a @ b, x, y)
    check(tn.matmul, x, y, requires_grad=[True, False])
    check(lambda a, b: a.matmul(b), x, y, requires_grad=[False, True])


# ================================ hypothesis: reductions ==========================================
@pytest.mark.parametrize("op", ["sum", "mean"])
@FAST
@given(data=st.data(), keepdims=st.booleans())
def test_sum_mean(backend, op, data, keepdims):
    shape = data.draw(S.shapes())
    axis = data.draw(S.axes(len(shape)))
    x = data.draw(S.arrays(shape))
    check(lambda t: getattr(t, op)(axis=axis, keepdims=keepdims), x)
    check(lambda t: getattr(tn, op)(t, axis, keepdims), x)


@FAST
@given(data=st.data(), keepdims=st.booleans())
def test_max(backend, data, keepdims):
    shape = data.draw(S.shapes())
    axis = data.draw(S.axes(len(shape)))
    x = data.draw(S.distinct(shape))
    check(lambda t: t.max(axis=axis, keepdims=keepdims), x)


# ================================ hypothesis: shape ops ===========================================
@FAST
@given(data=st.data())
def test_reshape(backend, data):
    shape = data.draw(S.shapes())
    target = data.draw(S.reshape_target(shape))
    x = data.draw(S.arrays(shape))
    check(lambda t: t.reshape(target), x)
    check(lambda t: tn.reshape(t, target), x)
    check(lambda t: t.reshape(*target), x)


@FAST
@given(data=st.data())
def test_permute_transpose(backend, data):
    shape = data.draw(S.shapes(min_dims=1))
    perm = data.draw(S.permutation_of(len(shape)))
    x = data.draw(S.arrays(shape))
    check(lambda t: t.permute(*perm), x)
    check(lambda t: tn.permute(t, perm), x)
    d0, d1 = (data.draw(st.integers(-len(shape), len(shape) - 1)) for _ in range(2))
    check(lambda t: t.transpose(d0, d1), x)
    check(lambda t: tn.transpose(t, d0, d1), x)
    check(lambda t: t.T, x)


@FAST
@given(data=st.data())
def test_flatten(backend, data):
    shape = data.draw(S.shapes(min_dims=1))
    n = len(shape)
    start = data.draw(st.integers(-n, n - 1))
    end = data.draw(st.integers(start % n, n - 1))
    x = data.draw(S.arrays(shape))
    check(lambda t: t.flatten(start, end), x)
    check(lambda t: tn.flatten(t, start, end), x)


@FAST
@given(data=st.data())
def test_basic_indexing(backend, data):
    shape = data.draw(S.shapes(min_dims=1))
    key = data.draw(S.basic_index(shape))
    x = data.draw(S.arrays(shape))
    check(lambda t: t[key], x)


@FAST
@given(data=st.data())
def test_integer_array_indexing_with_repeats(backend, data):
    shape = data.draw(S.shapes(min_dims=1))
    axis = data.draw(st.integers(0, len(shape) - 1))
    idx = data.draw(S.integer_index(shape[axis]))
    x = data.draw(S.arrays(shape))
    key = (slice(None),) * axis + (idx,)
    check(lambda t: t[key], x)
    as_list = [int(i) for i in idx]
    check(lambda t: t[as_list] if axis == 0 else t[key], x)


@FAST
@given(data=st.data())
def test_two_integer_arrays(backend, data):
    shape = data.draw(S.shapes(min_dims=2))
    n = data.draw(st.integers(1, 6))
    rows, cols = (np.asarray(data.draw(st.lists(st.integers(-k, k - 1), min_size=n, max_size=n)), np.int64)
                  for k in shape[:2])
    x = data.draw(S.arrays(shape))
    idx_r, idx_c = (tensor(i, requires_grad=False) for i in (rows, cols))   # integer Tensors as indices
    check(lambda t: t[idx_r, idx_c], x)


@FAST
@given(data=st.data())
def test_boolean_mask(backend, data):
    shape = data.draw(S.shapes(min_dims=1))
    x = data.draw(S.arrays(shape))
    mask = data.draw(S.hnp.arrays(np.bool_, shape))
    m = tensor(mask, requires_grad=False)
    check(lambda t: t[m], x)
    above = tensor(x > x.mean(), requires_grad=False)      # fixed: perturbing t must not move the mask
    check(lambda t: t[above] * 1.5, x)


@SLOW
@given(data=st.data())
def test_concatenate(backend, data):
    base = list(data.draw(S.shapes(min_dims=1)))
    axis = data.draw(st.integers(-len(base), len(base) - 1))
    sizes = data.draw(st.lists(st.integers(1, 3), min_size=1, max_size=3))
    xs = []
    for n in sizes:
        base[axis] = n
        xs.append(data.draw(S.arrays(tuple(base))))
    check(lambda *ts: tn.concatenate(list(ts), axis), *xs)
    check(lambda *ts: tn.cat(ts, axis=axis), *xs, requires_grad=[i % 2 == 0 for i in range(len(xs))])


@SLOW
@given(data=st.data())
def test_stack(backend, data):
    shape = data.draw(S.shapes())
    axis = data.draw(st.integers(-len(shape) - 1, len(shape)))
    k = data.draw(st.integers(1, 3))
    xs = [data.draw(S.arrays(shape)) for _ in range(k)]
    check(lambda *ts: tn.stack(list(ts), axis), *xs)


# ================================ fixed cases: every op, every path ===============================
def _r(*shape, lo=-2.0, hi=2.0, seed=0):
    return np.random.default_rng(seed + 7 * len(shape) + sum(shape)).uniform(lo, hi, size=shape)


def _away(*shape, seed=0):
    a = _r(*shape, seed=seed)
    return np.where(a >= 0, a + 0.2, a - 0.2)


def _distinct(*shape, seed=0):
    n = int(np.prod(shape))
    return np.random.default_rng(seed).permutation(n).reshape(shape) * 0.37 - 1.1


FIXED = {
    # elementwise, with broadcasting in both directions and non-square shapes
    "add": (lambda x, y: x + y, [_r(2, 3, 4), _r(3, 1)]),
    "add-rev": (lambda x, y: x + y, [_r(4,), _r(2, 3, 4)]),
    "sub": (lambda x, y: x - y, [_r(2, 3, 4), _r(3, 1)]),
    "sub-rev": (lambda x, y: x - y, [_r(3, 1), _r(2, 3, 4)]),
    "mul": (lambda x, y: x * y, [_r(2, 3, 4), _r(3, 1)]),
    "mul-rev": (lambda x, y: x * y, [_r(1, 4), _r(2, 3, 4)]),
    "div": (lambda x, y: x / y, [_r(2, 3, 4), _away(3, 1)]),
    "div-rev": (lambda x, y: x / y, [_r(4,), _away(2, 3, 4)]),
    "neg": (lambda x: -x, [_r(2, 3)]),
    "rsub": (lambda x: 1.5 - x, [_r(2, 3)]),
    "rdiv": (lambda x: 1.5 / x, [_away(2, 3)]),
    "rmul": (lambda x: 2.5 * x, [_r(2, 3)]),
    "radd": (lambda x: 2.5 + x, [_r(2, 3)]),
    "pow3": (lambda x: x ** 3, [_r(2, 3)]),
    "pow-half": (lambda x: x ** 0.5, [_r(2, 3, lo=0.2)]),
    "pow-neg": (lambda x: x ** -2, [_away(2, 3)]),
    "pow0": (lambda x: x ** 0 * x, [_r(2, 3)]),
    "exp": (lambda x: x.exp(), [_r(2, 3)]),
    "log": (lambda x: x.log(), [_r(2, 3, lo=0.2)]),
    "sqrt": (lambda x: x.sqrt(), [_r(2, 3, lo=0.2)]),
    "abs": (lambda x: x.abs(), [_away(2, 3)]),
    # matmul: 2-D, batched, broadcast batch, 1-D on either or both sides
    "matmul": (lambda x, y: x @ y, [_r(2, 3), _r(3, 4)]),
    "matmul-batched": (lambda x, y: x @ y, [_r(2, 3, 4), _r(2, 4, 5)]),
    "matmul-bcast": (lambda x, y: x @ y, [_r(2, 1, 3, 4), _r(3, 4, 2)]),
    "matmul-bcast2": (lambda x, y: x @ y, [_r(3, 4), _r(2, 4, 5)]),
    "matmul-1d-left": (lambda x, y: x @ y, [_r(3), _r(2, 3, 4)]),
    "matmul-1d-right": (lambda x, y: x @ y, [_r(2, 5, 3), _r(3)]),
    "matmul-1d-both": (lambda x, y: x @ y, [_r(3), _r(3, seed=1)]),
    "matmul-1d-2d": (lambda x, y: tn.matmul(x, y), [_r(3), _r(3, 2)]),
    # reductions: every axis form, keepdims, both Max paths
    "sum": (lambda x: x.sum(), [_r(2, 3)]),
    "sum-axis": (lambda x: x.sum(axis=1), [_r(2, 3, 4)]),
    "sum-axis-neg-keep": (lambda x: x.sum(axis=-1, keepdims=True), [_r(2, 3, 4)]),
    "sum-tuple": (lambda x: x.sum(axis=(0, 2)), [_r(2, 3, 4)]),
    "mean": (lambda x: x.mean(), [_r(2, 3)]),
    "mean-axis": (lambda x: x.mean(axis=0), [_r(2, 3, 4)]),
    "mean-tuple-keep": (lambda x: x.mean(axis=(1, 2), keepdims=True), [_r(2, 3, 4)]),
    "max": (lambda x: x.max(), [_distinct(2, 3)]),
    "max-1d": (lambda x: x.max(), [_distinct(5)]),
    "max-axis": (lambda x: x.max(axis=1), [_distinct(2, 3, 4)]),
    "max-axis0-keep": (lambda x: x.max(axis=0, keepdims=True), [_distinct(3, 4)]),
    "max-tuple": (lambda x: x.max(axis=(0, 2)), [_distinct(2, 3, 4)]),
    # shape ops
    "reshape": (lambda x: x.reshape(4, 6), [_r(2, 3, 4)]),
    "reshape-neg": (lambda x: x.reshape(3, -1), [_r(2, 3, 4)]),
    "view": (lambda x: x.view(6, 4), [_r(2, 3, 4)]),
    "transpose": (lambda x: x.transpose(0, 1), [_r(2, 3)]),
    "transpose-3d": (lambda x: x.transpose(0, 2), [_r(2, 3, 4)]),
    "T": (lambda x: x.T, [_r(2, 3, 4)]),
    "permute": (lambda x: x.permute(2, 0, 1), [_r(2, 3, 4)]),
    "permute-tuple": (lambda x: tn.permute(x, (1, 2, 0)), [_r(2, 3, 4)]),
    "flatten": (lambda x: x.flatten(), [_r(2, 3, 4)]),
    "flatten-1": (lambda x: x.flatten(1), [_r(2, 3, 4)]),
    "flatten-0-1": (lambda x: tn.flatten(x, 0, 1), [_r(2, 3, 4)]),
    "getitem-slice": (lambda x: x[1:, ::2], [_r(3, 5)]),
    "getitem-neg-step": (lambda x: x[::-1, 1], [_r(3, 5)]),
    "getitem-int": (lambda x: x[1], [_r(3, 5)]),
    "getitem-ellipsis": (lambda x: x[..., 1:3], [_r(2, 3, 4)]),
    "getitem-repeats": (lambda x: x[np.array([2, 0, 2, 2])], [_r(3, 5)]),
    "getitem-repeats-col": (lambda x: x[:, [4, 1, 1]], [_r(3, 5)]),
    "getitem-pairs": (lambda x: x[np.array([0, 2, 0]), np.array([1, 4, 1])], [_r(3, 5)]),
    "getitem-mask": (lambda x: x[x > 0.0], [_r(3, 5)]),
    "getitem-mask-rows": (lambda x: x[np.array([True, False, True])], [_r(3, 5)]),
    "concatenate": (lambda x, y: tn.concatenate([x, y], axis=1), [_r(2, 3), _r(2, 5)]),
    "concatenate-0": (lambda x, y, z: tn.cat([x, y, z]), [_r(1, 3), _r(2, 3), _r(3, 3)]),
    "concatenate-neg": (lambda x, y: tn.concatenate([x, y], axis=-1), [_r(2, 3, 1), _r(2, 3, 2)]),
    "stack": (lambda x, y: tn.stack([x, y]), [_r(2, 3), _r(2, 3, seed=1)]),
    "stack-1": (lambda x, y, z: tn.stack([x, y, z], axis=1), [_r(2, 4), _r(2, 4, seed=1), _r(2, 4, seed=2)]),
    "stack-neg": (lambda x, y: tn.stack([x, y], axis=-1), [_r(2, 3), _r(2, 3, seed=1)]),
    # activations
    "relu": (lambda x: x.relu(), [_away(2, 3, 4)]),
    "sigmoid": (lambda x: x.sigmoid(), [_r(2, 3, lo=-4, hi=4)]),
    "tanh": (lambda x: x.tanh(), [_r(2, 3)]),
    "softmax": (lambda x: x.softmax(), [_r(2, 3)]),
    "softmax-0": (lambda x: F.softmax(x, 0), [_r(2, 3)]),
    "softmax-3d": (lambda x: tn.softmax(x, 1), [_r(2, 3, 4)]),
    "log_softmax": (lambda x: x.log_softmax(), [_r(2, 3)]),
    "log_softmax-0": (lambda x: F.log_softmax(x, 0), [_r(4, 3)]),
    "log_softmax-3d": (lambda x: tn.log_softmax(x, 1), [_r(2, 3, 4)]),
    # square shapes: a transposed gradient has the right shape there, so only its values give it away
    "sq-add": (lambda x, y: x + y.T, [_r(3, 3), _r(3, 3, seed=1)]),
    "sq-mul": (lambda x, y: x * y, [_r(3, 3), _r(3, 3, seed=1)]),
    "sq-div": (lambda x, y: x / y, [_r(3, 3), _away(3, 3, seed=1)]),
    "sq-pow": (lambda x: x ** 3, [_r(3, 3)]),
    "sq-exp-log": (lambda x: x.exp() + x.abs().log() + x.abs().sqrt(), [_away(3, 3)]),
    "sq-matmul": (lambda x, y: x @ y, [_r(3, 3), _r(3, 3, seed=1)]),
    "sq-matmul-batched": (lambda x, y: x @ y, [_r(2, 3, 3), _r(2, 3, 3, seed=1)]),
    "sq-matmul-bcast": (lambda x, y: x @ y, [_r(3, 3), _r(2, 3, 3, seed=1)]),
    "sq-sum": (lambda x: x.sum(axis=0) * tensor(np.arange(1.0, 4.0), False), [_r(3, 3)]),
    "sq-mean": (lambda x: x.mean(axis=1), [_r(3, 3)]),
    "sq-max": (lambda x: x.max(axis=0), [_distinct(3, 3)]),
    "sq-max-tuple": (lambda x: x.max(axis=(1, 2)), [_distinct(3, 3, 3)]),
    "sq-reshape": (lambda x: x.reshape(9), [_r(3, 3)]),
    "sq-reshape-back": (lambda x: x.reshape(3, 3), [_r(9)]),
    "sq-transpose": (lambda x: x.transpose(0, 1), [_r(3, 3)]),
    "sq-T": (lambda x: x.T, [_r(3, 3)]),
    "sq-permute": (lambda x: x.permute(1, 2, 0), [_r(3, 3, 3)]),
    "sq-flatten": (lambda x: x.flatten(), [_r(3, 3)]),
    "sq-getitem": (lambda x: x[:, 1:], [_r(3, 3)]),
    "sq-getitem-int": (lambda x: x[np.array([2, 0, 0])], [_r(3, 3)]),
    "sq-getitem-mask": (lambda x: x[x > 0.0], [_r(3, 3)]),
    "sq-concatenate": (lambda x, y: tn.concatenate([x, y], axis=1), [_r(3, 3), _r(3, 3, seed=1)]),
    "sq-stack": (lambda x, y, z: tn.stack([x, y, z], axis=1), [_r(3, 3), _r(3, 3, seed=1), _r(3, 3, seed=2)]),
    "sq-relu-sigmoid-tanh": (lambda x: x.relu() + x.sigmoid() * x.tanh(), [_away(3, 3)]),
    "sq-softmax": (lambda x: x.softmax(0), [_r(3, 3)]),
    "sq-log_softmax": (lambda x: x.log_softmax(), [_r(3, 3)]),
    "sq-linear": (lambda x, w: F.linear(x, w), [_r(3, 3), _r(3, 3, seed=1)]),
    "sq-conv2d": (lambda x, w: F.conv2d(x, w, padding=1), [_r(1, 1, 3, 3), _r(1, 1, 3, 3, seed=1)]),
    "sq-cross_entropy": (lambda z: F.cross_entropy(z, np.array([2, 0, 1])), [_r(3, 3)]),
    "sq-cross_entropy-sum-smooth": (lambda z: F.cross_entropy(z, np.array([2, 0, 1]), reduction="sum",
                                                              label_smoothing=0.1), [_r(3, 3)]),
    "sq-cross_entropy-none": (lambda z: F.cross_entropy(z, np.array([2, 0, 1]), reduction="none"), [_r(3, 3)]),
    "sq-nll_loss": (lambda z: F.nll_loss(z, np.array([2, 0, 1]), reduction="sum"), [_r(3, 3)]),
    # a composite: the same tensor reached along several paths
    "diamond": (lambda x: (x + x) * (x + x).exp().sum(axis=0), [_r(2, 3)]),
    # the network ops built on them (kept small)
    "linear": (lambda x, w, b: F.linear(x, w, b), [_r(4, 3), _r(5, 3), _r(5)]),
    "linear-nobias-3d": (lambda x, w: F.linear(x, w), [_r(2, 4, 3), _r(5, 3)]),
    "conv2d": (lambda x, w, b: F.conv2d(x, w, b), [_r(2, 2, 5, 4), _r(3, 2, 3, 2), _r(3)]),
    "conv2d-stride-pad": (lambda x, w: F.conv2d(x, w, None, stride=(2, 1), padding=(1, 2)),
                          [_r(1, 2, 5, 4), _r(3, 2, 3, 2)]),
    "max_pool2d": (lambda x: F.max_pool2d(x, 2), [_distinct(2, 2, 4, 6)]),
    "max_pool2d-overlap": (lambda x: F.max_pool2d(x, (3, 2), stride=1, padding=(1, 1)), [_distinct(1, 2, 4, 5)]),
    "avg_pool2d": (lambda x: F.avg_pool2d(x, 2), [_r(2, 2, 4, 6)]),
    "avg_pool2d-overlap": (lambda x: F.avg_pool2d(x, (3, 2), stride=(1, 2), padding=(1, 0)), [_r(1, 2, 4, 5)]),
    "cross_entropy": (lambda z: F.cross_entropy(z, np.array([2, 0, 3])), [_r(3, 4)]),
    "cross_entropy-sum-smooth": (lambda z: F.cross_entropy(z, np.array([2, 0, 3]), reduction="sum",
                                                           label_smoothing=0.1), [_r(3, 4)]),
    "cross_entropy-none": (lambda z: F.cross_entropy(z, np.array([2, 0, 3]), reduction="none"), [_r(3, 4)]),
    "nll_loss": (lambda z: F.nll_loss(z, np.array([2, 0, 3])), [_r(3, 4)]),
    "nll_loss-none": (lambda z: F.nll_loss(z, np.array([2, 0, 3]), reduction="none"), [_r(3, 4)]),
    "mse_loss": (lambda x, y: F.mse_loss(x, y), [_r(3, 4), _r(3, 4, seed=1)]),
    "batch_norm": (lambda x, g, b: F.batch_norm(x, tn.zeros(3, dtype="float64").data,
                                                tn.ones(3, dtype="float64").data, g, b, training=True),
                   [_r(4, 3, 2, 2), _r(3), _r(3)]),
    "dropout": (lambda x: (tn.manual_seed(3), F.dropout(x, 0.4))[1], [_r(3, 4)]),
}


@pytest.mark.parametrize("name", list(FIXED))
def test_fixed_case(backend, name):
    fn, arrays = FIXED[name]
    check(fn, *arrays)


# ================================ known values ====================================================
def test_derivative_of_cube_at_two_is_twelve(backend):
    x = tn.tensor(2.0, requires_grad=True, dtype="float64")
    (x ** 3).backward()
    assert host(x.grad) == pytest.approx(12.0, abs=1e-12)


def test_known_gradients(backend):
    x = tensor(np.array([[1.0, -2.0, 3.0], [0.5, 4.0, -1.0]]))
    y = (x * x).sum()
    y.backward()
    np.testing.assert_allclose(host(x.grad), 2 * host(x), rtol=0, atol=0)
    x.grad = None
    (x.exp().sum() + x.abs().sum()).backward()
    np.testing.assert_allclose(host(x.grad), np.exp(host(x)) + np.sign(host(x)), rtol=1e-15)


def test_softmax_rows_sum_to_one(backend):
    z = tensor(np.random.default_rng(0).normal(size=(5, 7)) * 10)
    np.testing.assert_allclose(host(z.softmax()).sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(host(F.softmax(z, axis=0)).sum(axis=0), 1.0, rtol=1e-12)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_softmax_and_log_softmax_stable_at_huge_logits(backend, dtype):
    z = tensor(np.array([[1e4, 0.0, -1e4], [1e4, 1e4, 1e4 - 1.0]]), dtype=dtype)
    s, ls = z.softmax(), z.log_softmax()
    assert s.dtype == dtype and ls.dtype == dtype
    s, ls = host(s), host(ls)
    assert np.isfinite(s).all() and np.isfinite(ls).all()
    np.testing.assert_allclose(s[0], [1.0, 0.0, 0.0], atol=1e-7)
    np.testing.assert_allclose(ls[0, :2], [0.0, -1e4], rtol=1e-6)
    e = np.exp(-1.0)
    np.testing.assert_allclose(s[1], [1 / (2 + e), 1 / (2 + e), e / (2 + e)], rtol=1e-6)
    np.testing.assert_allclose(ls[1], np.log([1 / (2 + e), 1 / (2 + e), e / (2 + e)]), rtol=1e-5)
    (z.log_softmax() * tensor(np.array([[1.0, 2.0, 3.0], [-1.0, 0.5, 2.0]]), False)).sum().backward()
    assert np.isfinite(host(z.grad)).all()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sigmoid_tanh_at_plus_minus_1000(backend, dtype):
    x = tensor(np.array([-1000.0, 1000.0, 0.0]), dtype=dtype)
    s, t = x.sigmoid(), x.tanh()
    assert s.dtype == dtype and t.dtype == dtype
    assert host(s).tolist() == [0.0, 1.0, 0.5]
    assert host(t).tolist() == [-1.0, 1.0, 0.0]
    (s.sum() + t.sum()).backward()
    assert host(x.grad).tolist() == [0.0, 0.0, 1.25]


def test_cross_entropy_with_huge_logits_is_finite(backend):
    z = tensor(np.array([[1e4, -1e4, 0.0], [0.0, 1e4, -1e4]]), dtype="float32")
    loss = F.cross_entropy(z, np.array([1, 1]))
    assert np.isfinite(host(loss)).all()
    assert host(loss) == pytest.approx(1e4, rel=1e-6)      # (2e4 + 0) / 2
    loss.backward()
    g = host(z.grad)
    assert np.isfinite(g).all()
    np.testing.assert_allclose(g, [[0.5, -0.5, 0.0], [0.0, 0.0, 0.0]], atol=1e-6)


def test_relu_at_infinities(backend):
    x = tensor(np.array([-np.inf, -1.0, 2.0, np.inf]))
    assert host(x.relu()).tolist() == [0.0, 0.0, 2.0, np.inf]


def test_max_ties(backend):
    """One axis: the first maximum gets the gradient (torch.max(x, dim)); all axes: shared."""
    x = tensor(np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]]))
    x.max(axis=1).sum().backward()
    assert host(x.grad).tolist() == [[0, 1, 0], [1, 0, 0]]
    x.grad = None
    x.max().backward()
    assert host(x.grad).tolist() == [[0, 0.5, 0.5], [0, 0, 0]]


def test_getitem_repeated_indices_add_up(backend):
    x = tensor(np.arange(4.0))
    x[np.array([1, 1, 3, 1])].sum().backward()
    assert host(x.grad).tolist() == [0, 3, 0, 1]


def test_abs_and_relu_gradient_at_zero_is_zero(backend):
    x = tensor(np.array([0.0, -0.0]))
    (x.abs().sum() + x.relu().sum()).backward()
    assert host(x.grad).tolist() == [0.0, 0.0]
