"""The array backends, and the fakecupy stand-in that proves the CuPy path without a GPU.

Three parts: the stand-in fails the way CuPy fails (its arrays are not ``numpy.ndarray`` and
refuse implicit conversion), it supports what tinynet uses of CuPy, and a stray NumPy call
planted in an op makes the op tests fail on it while NumPy still passes.
"""
import copy
import pickle

import numpy as np
import pytest

import fake_cupy
import tinynet as tn
from fake_cupy import FakeArray, xp
from strategies import host, tensor
from tinynet import backend as B


def fa(a):
    return fake_cupy.from_numpy(np.asarray(a))


# ================================ the stand-in converts and dispatches as CuPy does ===============
# Refused by CuPy: implicit conversion to NumPy (core.pyx __array__) and NumPy arrays as operands.
REFUSED = {
    "asarray": lambda x: np.asarray(x),
    "array": lambda x: np.array(x),
    "asarray-of-list": lambda x: np.asarray([x[0], x[1]]),
    "ndarray-op": lambda x: np.ones(3) + x,
    "op-ndarray": lambda x: x * np.ones(3),
    "iop-ndarray": lambda x: x.__iadd__(np.ones(3)),
    "xp-with-ndarray": lambda x: xp.maximum(x, np.zeros(3)),
    "dispatched-with-ndarray": lambda x: np.concatenate([x, np.ones(3)]),
    "numpy-function-cupy-lacks": lambda x: np.insert(x, 0, 1.0),
}
# Dispatched by CuPy to itself (core.pyx __array_ufunc__ / __array_function__): a device array back.
DISPATCHED = {
    "ufunc": lambda x: np.exp(x),
    "ufunc-two-args": lambda x: np.maximum(x, 0),
    "concatenate": lambda x: np.concatenate([x, x]),
    "stack": lambda x: np.stack([x]),
    "where": lambda x: np.where(x > 0, x, 0),
    "sum": lambda x: np.sum(x),
    "zeros_like": lambda x: np.zeros_like(x),
    "ufunc-at": lambda x: np.add.at(x, np.array([0, 0]), 1.0),
}
STRAY = {**REFUSED, **DISPATCHED}


@pytest.mark.parametrize("name", list(REFUSED))
def test_implicit_conversions_and_host_operands_are_refused_as_on_cupy(name):
    x = fa([1.0, -2.0, 3.0])
    assert not isinstance(x, np.ndarray)
    with pytest.raises(TypeError):
        REFUSED[name](x)


@pytest.mark.parametrize("name", list(DISPATCHED))
def test_numpy_functions_are_dispatched_as_on_cupy_and_refused_in_strict_mode(name):
    x = fa([1.0, -2.0, 3.0])
    expected = DISPATCHED[name](x.get())
    with fake_cupy.strict(False):                         # the faithful mode, even under FAKECUPY_STRICT=1
        r = DISPATCHED[name](x)
    if expected is None:                                  # ufunc.at: in place
        assert r is None and x.get().tolist() == [3.0, -2.0, 3.0]
    else:
        assert isinstance(r, FakeArray) and r.get().tolist() == expected.tolist()
    with fake_cupy.strict(), pytest.raises(TypeError, match="strict mode"):
        DISPATCHED[name](x)


def test_scalar_conversions_copy_to_the_host_and_follow_numpy():
    """core.pyx: __float__ is float(self.get()) -- whatever NumPy does with the host copy."""
    x = fa([1.0, 2.0])
    assert float(xp.mean(x)) == 1.5 and float(x.sum()) == 3.0 and int(x.max()) == 2 and bool(x[1])
    for f in (float, int):
        with pytest.raises(TypeError):
            f(x)                                          # more than one element
    with pytest.raises(ValueError, match="ambiguous"):
        bool(x)
    with pytest.raises(TypeError):
        len(x.sum())
    assert repr(x) == repr(x.get()) and str(x) == str(x.get())


def test_explicit_transfers_work():
    h = np.array([[1.0, 2.0], [3.0, 4.0]])
    d = xp.asarray(h)
    assert isinstance(d, FakeArray)
    h[0, 0] = 99.0                                   # a copy: host and device are separate
    back = xp.asnumpy(d)
    assert isinstance(back, np.ndarray) and back.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert d.get().tolist() == back.tolist()
    assert fake_cupy.to_numpy(d) is not fake_cupy.to_numpy(d)


# ================================ the stand-in supports what CuPy supports ========================
def test_arithmetic_comparisons_and_reflected_operators():
    x, y = fa([1.0, 2.0, 4.0]), fa([2.0, 2.0, 2.0])
    for r, expected in [(x + y, [3, 4, 6]), (x - 1, [0, 1, 3]), (1 - x, [0, -1, -3]), (2 * x, [2, 4, 8]),
                        (x / y, [0.5, 1, 2]), (8 / x, [8, 4, 2]), (x ** 2, [1, 4, 16]), (2 ** x, [2, 4, 16]),
                        (-x, [-1, -2, -4]), (abs(-x), [1, 2, 4]), (x // y, [0, 1, 2]), (x % y, [1, 0, 0]),
                        (x * np.float64(0.5), [0.5, 1, 2])]:
        assert isinstance(r, FakeArray)
        assert xp.asnumpy(r).tolist() == expected
    assert xp.asnumpy(x > y).tolist() == [False, False, True]
    assert xp.asnumpy(x == y).tolist() == [False, True, False]
    assert xp.asnumpy((x >= y) & (x <= 2)).tolist() == [False, True, False]
    m = fa(np.arange(6.0).reshape(2, 3))
    assert xp.asnumpy(m @ fa(np.ones((3, 2)))).tolist() == [[3, 3], [12, 12]]


def test_inplace_operators_write_into_the_same_array():
    x = fa([1.0, 2.0])
    same = x
    x += 1
    x *= fa([2.0, 3.0])
    x -= 0.5
    x /= 2
    assert x is same and xp.asnumpy(x).tolist() == [1.75, 4.25]


def test_attributes_and_methods():
    a = fa(np.arange(24.0).reshape(2, 3, 4))
    assert a.shape == (2, 3, 4) and a.ndim == 3 and a.size == 24 and a.dtype == np.float64
    assert a.T.shape == (4, 3, 2) and a.flags.c_contiguous and not a.T.flags.c_contiguous
    assert len(a) == 2 and [b.shape for b in a] == [(3, 4), (3, 4)]
    for r in (a.reshape(6, 4), a.transpose(2, 0, 1), a.swapaxes(0, 1), a.sum(axis=1), a.mean(axis=(0, 2)),
              a.max(axis=0, keepdims=True), a.min(), a.argmax(axis=2), a.astype("float32"), a.copy()):
        assert isinstance(r, FakeArray)
    total = a.sum()
    assert isinstance(total, FakeArray) and total.ndim == 0     # reductions give 0-d arrays, as CuPy
    assert float(total) == 276.0 and total.item() == 276.0 and int(a.max()) == 23
    c = a.copy()
    c.fill(0.0)
    assert xp.asnumpy(a).sum() == 276.0 and xp.asnumpy(c).sum() == 0.0
    assert a.astype("float32").dtype == np.float32


def test_indexing_and_index_assignment():
    a = fa(np.arange(12.0).reshape(3, 4))
    assert xp.asnumpy(a[1:, ::2]).tolist() == [[4, 6], [8, 10]]
    assert xp.asnumpy(a[fa([2, 0, 2])][:, 0]).tolist() == [8, 0, 8]             # fake index arrays
    assert xp.asnumpy(a[fa([0, 2]), fa([1, 3])]).tolist() == [1, 11]
    assert xp.asnumpy(a[a > 9]).tolist() == [10, 11]                            # fake masks
    assert xp.asnumpy(a[np.array([1])]).tolist() == [[4, 5, 6, 7]]              # host indices, as CuPy
    a[0] = 0.0
    a[a > 9] = -1.0
    a[fa([1]), fa([0])] = fa([7.0])
    a[fa([2]), :2] = np.array([5.0, 5.0])             # a host value with an index array: copied, as CuPy
    a[1, 1] = np.array(5.0)                           # a 0-d host value: a scalar, as CuPy's fill
    assert xp.asnumpy(a).tolist() == [[0, 0, 0, 0], [7, 5, 6, 7], [5, 5, -1, -1]]
    with pytest.raises(ValueError, match="non-scalar numpy.ndarray"):
        a[2, :2] = np.array([5.0, 5.0])               # basic index: CuPy's fill refuses a host array
    with pytest.raises(TypeError):
        a[0] = [1.0, 2.0, 3.0, 4.0]
    assert xp.asnumpy(a[fa([3, -1])]).tolist() == xp.asnumpy(a[fa([0, 2])]).tolist()   # CuPy wraps


def test_module_functions_and_ufunc_at():
    a = fa([[1.0, -2.0], [3.0, -4.0]])
    for r in (xp.exp(a), xp.maximum(a, 0), xp.where(a > 0, a, xp.zeros((), dtype=a.dtype)),
              xp.concatenate([a, a], axis=0), xp.stack((a, a)), xp.broadcast_to(a[0], (3, 2)),
              xp.zeros_like(a), xp.ones((2, 2), dtype="float32"), xp.arange(3), xp.expand_dims(a, 0),
              xp.take(a, 1, axis=0), xp.sign(a), xp.tensordot(a, a, axes=([0], [0])), xp.linalg.norm(a),
              xp.random.standard_normal((2, 2)), xp.random.default_rng(0).standard_normal(size=2)):
        assert isinstance(r, FakeArray)
    assert xp.float32 is np.float32 and xp.inf == np.inf and xp.ndarray is FakeArray
    t = xp.zeros(4)
    xp.add.at(t, fa([1, 1, 3]), fa([1.0, 2.0, 5.0]))                           # repeats add up
    assert xp.asnumpy(t).tolist() == [0, 3, 0, 5]
    out = xp.zeros(2)
    assert xp.add(fa([1.0, 2.0]), 1.0, out=out) is out and xp.asnumpy(out).tolist() == [2, 3]
    assert xp.asnumpy(xp.add.reduce(a, axis=0)).tolist() == [4, -6]


def test_copy_and_pickle():
    a = fa([1.0, 2.0])
    for b in (copy.copy(a), copy.deepcopy(a), pickle.loads(pickle.dumps(a))):
        assert isinstance(b, FakeArray) and xp.asnumpy(b).tolist() == [1.0, 2.0]
        b[0] = 9.0
        assert xp.asnumpy(a)[0] == 1.0


# ================================ registration and the backend module ============================
def test_stand_in_is_a_registered_backend():
    a = fa([1.0])
    assert B.is_array(a) and B.backend_name(a) == "fakecupy" and B.array_module(a) is xp
    assert B.backend_name(np.ones(1)) == "numpy" and B.array_module(np.ones(1)) is np
    assert B.array_module(3.0) is np and not B.is_array([1.0])
    with pytest.raises(B.BackendError, match="list"):
        B.backend_name([1.0])
    assert isinstance(B.to_backend(np.ones(2), "fakecupy"), FakeArray)
    assert isinstance(B.to_backend([1.0, 2.0], "fakecupy"), FakeArray)
    back = B.to_backend(a, "numpy")
    assert isinstance(back, np.ndarray) and back.tolist() == [1.0]
    assert B.to_backend(a, "fakecupy") is a
    assert isinstance(B.to_numpy(a), np.ndarray)
    assert B.get_module("fakecupy") is xp


def test_check_same_backend_and_scatter_add():
    assert B.check_same_backend([np.ones(1), 2.0]) == "numpy"
    with pytest.raises(B.BackendError, match="'numpy' and 'fakecupy'"):
        B.check_same_backend([np.ones(1), fa([1.0])], "add")
    for target in (np.zeros(3), fa([0.0, 0.0, 0.0])):
        B.scatter_add(target, B.to_backend(np.array([0, 0, 2]), B.backend_name(target)),
                      B.to_backend(np.array([1.0, 2.0, 3.0]), B.backend_name(target)))
        assert B.to_numpy(target).tolist() == [3.0, 0.0, 3.0]


def test_tensors_on_the_stand_in_hold_fake_arrays(backend):
    x = tensor(np.array([[1.0, 2.0]]))
    y = (x @ x.T).exp().sum()
    y.backward()
    kind = B._get(backend).array_type
    assert isinstance(x.data, kind) and isinstance(y.data, kind) and isinstance(x.grad, kind)
    assert isinstance(x.numpy(), np.ndarray)
    assert "backend" not in repr(x) if backend == "numpy" else f"backend='{backend}'" in repr(x)


# ================================ a stray NumPy call in an op fails on the stand-in ===============
def _stray_forward(monkeypatch, cls, stray):
    original = cls.forward

    def forward(self, *xs):
        stray(xs[0])                 # e.g. np.asarray(x): fine on NumPy, a TypeError on CuPy
        return original(self, *xs)

    monkeypatch.setattr(cls, "forward", forward)


@pytest.mark.parametrize("stray", ["asarray", "ufunc", "concatenate", "sum"])
def test_a_stray_numpy_call_in_an_op(backend, monkeypatch, stray):
    """``np.asarray`` on device data fails on CuPy (and the stand-in); ``np.exp``/``np.concatenate``/
    ``np.sum`` are dispatched to CuPy and work there. The strict lint mode refuses all four."""
    from tinynet.ops.activation import ReLU
    _stray_forward(monkeypatch, ReLU, STRAY[stray])
    x = tensor(np.array([[1.0, -2.0, 3.0], [-0.5, 0.25, 2.0]]))
    if backend != "numpy" and stray in REFUSED:
        with pytest.raises(TypeError):
            tn.gradcheck(lambda t: t.relu(), x)
        with pytest.raises(TypeError):
            x.relu()
    else:
        with fake_cupy.strict(False):
            assert tn.gradcheck(lambda t: t.relu(), x)
            assert host(x.relu()).tolist() == [[1.0, 0.0, 3.0], [0.0, 0.25, 2.0]]
    if backend == "fakecupy":
        with fake_cupy.strict(), pytest.raises(TypeError):
            x.relu()


def test_a_stray_numpy_call_in_a_backward_fails_on_fakecupy_only(backend, monkeypatch):
    from tinynet.ops.elementwise import Exp
    original = Exp.backward

    def backward(self, gz):
        np.asarray(gz)               # a stray host conversion of the gradient
        return original(self, gz)

    monkeypatch.setattr(Exp, "backward", backward)
    x = tensor(np.array([0.5, -1.0]))
    y = x.exp().sum()
    if backend == "numpy":
        y.backward()
        np.testing.assert_allclose(host(x.grad), np.exp([0.5, -1.0]))
    else:
        with pytest.raises(TypeError):
            y.backward()


def test_the_op_suite_fails_on_fakecupy_with_a_stray_asarray(monkeypatch):
    """End to end: the gradient checks of test_ops_grad, run with a planted np.asarray in ReLU,
    fail on the stand-in backend and pass on NumPy."""
    import test_ops_grad
    from tinynet.ops.activation import ReLU
    _stray_forward(monkeypatch, ReLU, np.asarray)
    fn, arrays = test_ops_grad.FIXED["relu"]
    results = {}
    for name in ("numpy", "fakecupy"):
        tn.set_backend(name)
        try:
            test_ops_grad.check(fn, *arrays)
            results[name] = "passed"
        except TypeError:
            results[name] = "TypeError"
        finally:
            tn.set_backend("numpy")
    assert results == {"numpy": "passed", "fakecupy": "TypeError"}


def test_numpy_asarray_of_a_tensor_works_on_numpy_and_fails_like_cupy_elsewhere(backend):
    x = tensor(np.array([[1.0, 2.0]]))
    if backend == "numpy":
        assert np.asarray(x).tolist() == [[1.0, 2.0]] and np.asarray(x).dtype == np.float64
        assert np.asarray([x.sum(), x.mean()]).tolist() == [3.0, 1.5]
    else:
        with pytest.raises(TypeError):
            np.asarray(x)
        with pytest.raises(TypeError):
            np.asarray([x.sum(), x.mean()])
    assert x.numpy().tolist() == [[1.0, 2.0]]              # the explicit way works everywhere
