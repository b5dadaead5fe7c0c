"""Hypothesis strategies shared by the op tests, and a helper to put arrays on the test's backend.

Values are float64 NumPy arrays; the tests move them to the backend under test with ``tensor``.
Shapes stay small (sides 1..4, up to 3 axes) so that full finite-difference checks are quick.
Where an op is not differentiable everywhere, the strategies keep away from the kinks:
``away_from_zero`` for abs/relu, ``positive`` for log/sqrt, ``distinct`` (values at least 0.1
apart, far more than gradcheck's ε) for max.
"""
import math

import hypothesis.extra.numpy as hnp
import numpy as np
from hypothesis import strategies as st

import tinynet
from tinynet import backend as _backend

MAX_SIDE = 4
MAX_DIMS = 3


# --- putting arrays on the backend under test ---------------------------------------------------
def tensor(a, requires_grad=True, dtype=None):
    """A leaf Tensor holding a copy of NumPy array ``a`` on the current default backend."""
    a = np.asarray(a, dtype=dtype)
    return tinynet.Tensor(_backend.to_backend(a.copy(), tinynet.get_backend()), requires_grad=requires_grad)


def host(x):
    """A Tensor's data (or a backend array) as a NumPy array, for comparisons."""
    return _backend.to_numpy(x.data if isinstance(x, tinynet.Tensor) else x)


# --- shapes --------------------------------------------------------------------------------------
def shapes(min_dims=0, max_dims=MAX_DIMS, min_side=1, max_side=MAX_SIDE):
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


def broadcast_shapes(num_shapes=2, min_dims=0, max_dims=MAX_DIMS, max_side=MAX_SIDE):
    """Tuples of ``num_shapes`` shapes that broadcast together (sizes 1 and missing axes included)."""
    return hnp.mutually_broadcastable_shapes(
        num_shapes=num_shapes, min_dims=min_dims, max_dims=max_dims, min_side=1, max_side=max_side
    ).map(lambda bs: bs.input_shapes)


# --- values --------------------------------------------------------------------------------------
def floats(lo=-3.0, hi=3.0):
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False, width=64)


def arrays(shape, lo=-3.0, hi=3.0):
    """float64 arrays of ``shape`` (a shape or a strategy) with values in [lo, hi]."""
    return hnp.arrays(np.float64, shape, elements=floats(lo, hi))


def away_from_zero(shape, lo=0.1, hi=3.0):
    """Values with lo <= |v| <= hi, both signs: for abs, relu, division."""
    return hnp.arrays(np.float64, shape, elements=st.one_of(floats(-hi, -lo), floats(lo, hi)))


def positive(shape, lo=0.1, hi=3.0):
    """Values in [lo, hi]: for log, sqrt and non-integer powers."""
    return arrays(shape, lo, hi)


@st.composite
def distinct(draw, shape, gap=0.1):
    """Values at least ``gap`` apart (no ties), in random order: for max."""
    shape = draw(shape) if isinstance(shape, st.SearchStrategy) else shape
    n = math.prod(shape)
    order = draw(st.permutations(range(n)))
    offset = draw(floats(-2.0, 2.0))
    return np.asarray(np.asarray(order, dtype=np.float64).reshape(shape) * gap + offset)


# --- op arguments ----------------------------------------------------------------------------------
@st.composite
def axes(draw, ndim):
    """An ``axis`` argument for a reduction over ``ndim`` axes: None, an int or a tuple (negatives too)."""
    if ndim == 0:
        return None
    kind = draw(st.sampled_from(["none", "int", "tuple"]))
    if kind == "none":
        return None
    if kind == "int":
        return draw(st.integers(-ndim, ndim - 1))
    chosen = draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True))
    return tuple(a - ndim if draw(st.booleans()) else a for a in chosen)


@st.composite
def matmul_shapes(draw):
    """Shapes (x, y) that ``matmul`` accepts: 2-D, batched, broadcast batches and 1-D operands."""
    n, k, m = (draw(st.integers(1, MAX_SIDE)) for _ in range(3))
    x1d, y1d = draw(st.booleans()), draw(st.booleans())
    bx, by = draw(broadcast_shapes(max_dims=2, max_side=3))
    x = (k,) if x1d else bx + (n, k)
    y = (k,) if y1d else by + (k, m)
    return x, y


@st.composite
def basic_index(draw, shape):
    """A tuple of ints and slices (any start/stop/step, negative too) for basic indexing:
    entries for some leading axes, then maybe ``...`` and entries for some trailing axes."""
    def entry(n):
        if draw(st.booleans()):
            return draw(st.integers(-n, n - 1))
        start = draw(st.none() | st.integers(-n - 1, n + 1))
        stop = draw(st.none() | st.integers(-n - 1, n + 1))
        step = draw(st.none() | st.sampled_from([1, 2, -1, -2, 3]))
        return slice(start, stop, step)

    ndim = len(shape)
    lead = draw(st.integers(0, ndim))
    key = [entry(n) for n in shape[:lead]]
    if lead < ndim and draw(st.booleans()):
        trail = draw(st.integers(0, ndim - lead))
        key += [Ellipsis] + [entry(n) for n in shape[ndim - trail:]]
    return tuple(key)


@st.composite
def integer_index(draw, n, max_size=6):
    """An integer index array into an axis of length n; repeats (and negatives) included."""
    return np.asarray(draw(st.lists(st.integers(-n, n - 1), min_size=1, max_size=max_size)), dtype=np.int64)


@st.composite
def permutation_of(draw, ndim):
    return tuple(draw(st.permutations(range(ndim))))


@st.composite
def reshape_target(draw, shape):
    """Another shape with as many elements (possibly with one -1)."""
    size = math.prod(shape)
    dims = []
    rest = size
    while rest > 1 and len(dims) < 3:
        divisors = [d for d in range(2, rest + 1) if rest % d == 0]
        d = draw(st.sampled_from(divisors))
        dims.append(d)
        rest //= d
    dims.append(rest)
    dims = list(draw(st.permutations(dims)))
    if draw(st.booleans()):
        dims.insert(draw(st.integers(0, len(dims))), 1)
    if draw(st.booleans()):
        dims[draw(st.integers(0, len(dims) - 1))] = -1
    return tuple(dims)
