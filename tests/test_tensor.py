"""Graph behaviour of ``tinynet.Tensor``: accumulation, no_grad, propagation, the backward walk,
errors, dtypes, comparisons, and moving between backends. Runs on every backend."""

import numpy as np
import pytest

import fake_cupy
import tinynet as tn
import tinynet.functional as F
from strategies import host, tensor
from tinynet import backend as B


# ================================ accumulation and zeroing ========================================
def test_gradients_accumulate_across_backward_calls(backend):
    x = tensor(np.array([1.0, -2.0, 3.0]))
    (x * x).sum().backward()
    (3 * x).sum().backward()
    np.testing.assert_allclose(host(x.grad), 2 * np.array([1.0, -2.0, 3.0]) + 3)
    assert isinstance(x.grad, B._get(backend).array_type)
    assert x.grad.shape == x.shape


def test_zeroing_gradients(backend):
    x = tensor(np.array([1.0, 2.0]))
    (x * x).sum().backward()
    x.grad = None                                     # zeroing by dropping the gradient
    (5 * x).sum().backward()
    assert host(x.grad).tolist() == [5.0, 5.0]
    x.grad[...] = 0                                   # or in place
    (x * x).sum().backward()
    assert host(x.grad).tolist() == [2.0, 4.0]


def test_leaf_grad_is_not_a_view_of_an_upstream_buffer(backend):
    """The first gradient stored in a leaf must be its own array: changing it changes nothing else."""
    x = tensor(np.array([[1.0, 2.0], [3.0, 4.0]]))
    y = x.reshape(4)
    g = tensor(np.array([1.0, 2.0, 3.0, 4.0]), requires_grad=False)
    y.backward(g)
    x.grad[...] = 0
    assert host(g).tolist() == [1.0, 2.0, 3.0, 4.0]


# ================================ grad mode =======================================================
def test_no_grad_context_records_nothing(backend):
    x = tensor(np.array([1.0, 2.0]))
    with tn.no_grad():
        assert not tn.is_grad_enabled()
        y = (x * 2).exp().sum()
    assert tn.is_grad_enabled()
    assert y.grad_fn is None and not y.requires_grad and y.is_leaf
    with pytest.raises(RuntimeError):
        y.backward()


def test_no_grad_decorator_records_nothing(backend):
    x = tensor(np.array([1.0, 2.0]))

    @tn.no_grad()
    def f(t):
        assert not tn.is_grad_enabled()
        return t * t

    y = f(x)
    assert y.grad_fn is None and not y.requires_grad
    assert tn.is_grad_enabled()


def test_no_grad_is_reentrant_and_restores_on_exceptions(backend):
    guard = tn.no_grad()

    @guard
    def depth(n):
        return depth(n - 1) if n else tn.is_grad_enabled()

    assert depth(3) is False
    assert tn.is_grad_enabled()
    with guard:
        with guard:
            assert not tn.is_grad_enabled()
        assert not tn.is_grad_enabled()
    assert tn.is_grad_enabled()
    with pytest.raises(ZeroDivisionError):
        with tn.no_grad():
            1 / 0
    assert tn.is_grad_enabled()


def test_enable_grad_inside_no_grad(backend):
    x = tensor(np.array([1.0, 2.0]))
    with tn.no_grad():
        with tn.enable_grad():
            y = x * x
        z = x * x
    assert y.requires_grad and y.grad_fn is not None
    assert not z.requires_grad


# ================================ requires_grad ===================================================
def test_requires_grad_propagation(backend):
    a = tensor(np.array([1.0, 2.0]))
    c = tensor(np.array([3.0, 4.0]), requires_grad=False)
    assert (a + c).requires_grad and (c * a).requires_grad and (2 * a).requires_grad
    assert not (c + c).requires_grad and (c + c).grad_fn is None
    assert not (c.exp() * 3).requires_grad
    assert a.is_leaf and not (a + c).is_leaf
    a.requires_grad_(False)
    assert not (a + c).requires_grad


def test_integer_tensors_cannot_require_grad(backend):
    with pytest.raises(TypeError, match="floating"):
        tn.tensor([1, 2, 3], requires_grad=True)
    i = tn.tensor([1, 2, 3])
    with pytest.raises(TypeError, match="floating"):
        i.requires_grad_()
    with pytest.raises(TypeError):
        i.requires_grad = True
    assert not i.requires_grad
    x = tensor(np.array([1.0, 2.0, 3.0]))
    out = x[tensor(np.array([0, 2]), requires_grad=False)]   # an integer index tensor stays gradient-free
    assert out.requires_grad
    assert not (i * 2).requires_grad


def test_intermediate_grads_stay_none(backend):
    x = tensor(np.array([1.0, 2.0, 3.0]))
    y = x * 2
    z = y.exp()
    z.sum().backward()
    assert x.grad is not None
    assert y.grad is None and z.grad is None


def test_leaf_without_requires_grad_gets_no_grad(backend):
    x = tensor(np.array([1.0, 2.0]))
    c = tensor(np.array([3.0, 4.0]), requires_grad=False)
    (x * c).sum().backward()
    assert c.grad is None
    assert host(x.grad).tolist() == [3.0, 4.0]


# ================================ the backward walk ===============================================
def test_diamond_graph(backend):
    a = tensor(np.array([1.5, -2.0]))
    b = a + a
    c = b * b
    c.sum().backward()
    np.testing.assert_allclose(host(a.grad), 8 * host(a))      # c = 4a², dc/da = 8a


def test_node_used_many_times(backend):
    a = tensor(np.array([2.0]))
    y = a * a * a + a * a            # a³ + a², dy/da = 3a² + 2a = 16
    y.sum().backward()
    assert host(a.grad).tolist() == [16.0]


def test_chain_of_10000_ops_has_no_recursion_error(backend):
    x = tensor(np.array([1.0, 2.0]))
    y = x
    for _ in range(10_000):
        y = y + 0.5
    y.sum().backward()
    assert host(x.grad).tolist() == [1.0, 1.0]
    np.testing.assert_allclose(host(y), [5001.0, 5002.0])


def test_deep_graph_can_be_dropped_without_backward(backend):
    x = tensor(np.array([1.0]))
    y = x
    for _ in range(20_000):
        y = y * 1.0
    del y                            # freeing a long chain must not overflow the C stack either


def test_backward_on_a_leaf(backend):
    x = tensor(np.array(3.0))
    x.backward()
    assert host(x.grad).tolist() == 1.0
    v = tensor(np.array([1.0, 2.0]))
    v.backward(tensor(np.array([0.5, -1.0]), requires_grad=False))
    assert host(v.grad).tolist() == [0.5, -1.0]


def test_backward_with_explicit_grad(backend):
    x = tensor(np.array([[1.0, 2.0], [3.0, 4.0]]))
    y = x * x
    y.backward([[1.0, 0.0], [0.0, 2.0]])             # a nested list is fine
    assert host(x.grad).tolist() == [[2.0, 0.0], [0.0, 16.0]]
    with pytest.raises(ValueError, match="shape"):
        (x * x).backward(tensor(np.ones(3), requires_grad=False))


def test_non_scalar_backward_without_grad_is_a_clear_error(backend):
    x = tensor(np.array([1.0, 2.0]))
    with pytest.raises(RuntimeError, match=r"scalar outputs.*\(2,\)"):
        (x * 2).backward()


def test_single_element_non_scalar_backward_is_implicit(backend):
    x = tensor(np.array([[3.0]]))
    (x * x).backward()
    assert host(x.grad).tolist() == [[6.0]]


def test_second_backward_without_retain_graph_is_a_clear_error(backend):
    x = tensor(np.array([1.0, 2.0]))
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.backward()


def test_retain_graph_allows_a_second_backward(backend):
    x = tensor(np.array([1.0, 2.0]))
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert host(x.grad).tolist() == [4.0, 8.0]


def test_backward_on_tensor_without_grad_is_an_error(backend):
    c = tensor(np.array([1.0]), requires_grad=False)
    with pytest.raises(RuntimeError, match="does not require grad"):
        (c * 2).backward()


def test_detach_cuts_the_graph(backend):
    x = tensor(np.array([1.0, 2.0]))
    y = (x * 3).detach()
    assert y.is_leaf and not y.requires_grad
    (x * y).sum().backward()
    assert host(x.grad).tolist() == [3.0, 6.0]


# ================================ dtypes ==========================================================
def _all_ops(x, w, pos):
    """Every op, on a float tensor x (2, 3), w (3, 4) and pos (2, 3) > 0, with Python scalars."""
    return {
        "x+1": x + 1, "1+x": 1 + x, "x-1.5": x - 1.5, "2-x": 2 - x, "x*2.5": x * 2.5, "2*x": 2 * x,
        "x/3": x / 3, "3/pos": 3 / pos, "x**2": x ** 2, "pos**0.5": pos ** 0.5, "x**np.float64": x ** np.float64(2.0),
        "x*np.float64": x * np.float64(0.5), "-x": -x, "x+pos": x + pos, "x*pos": x * pos, "x/pos": x / pos,
        "exp": x.exp(), "log": pos.log(), "sqrt": pos.sqrt(), "abs": x.abs(), "matmul": x @ w,
        "sum": x.sum(), "sum1": x.sum(axis=1), "mean": x.mean(), "mean0": x.mean(axis=0, keepdims=True),
        "max": x.max(), "max1": x.max(axis=1), "reshape": x.reshape(3, 2), "transpose": x.transpose(0, 1),
        "permute": x.permute(1, 0), "flatten": x.flatten(), "getitem": x[1:, [0, 2, 2]], "mask": x[x > 0],
        "concatenate": tn.concatenate([x, pos]), "stack": tn.stack([x, pos], axis=1), "relu": x.relu(),
        "sigmoid": x.sigmoid(), "tanh": x.tanh(), "softmax": x.softmax(), "log_softmax": x.log_softmax(0),
        "cross_entropy": F.cross_entropy(x, tn.tensor([0, 2])), "mse": F.mse_loss(x, pos),
        "linear": F.linear(x, w.T), "batched": tn.stack([x, x]) @ w,
    }


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dtype_is_preserved_through_every_op_and_its_gradient(backend, dtype):
    rng = np.random.default_rng(0)
    x = tensor(rng.normal(size=(2, 3)), dtype=dtype)
    w = tensor(rng.normal(size=(3, 4)), dtype=dtype)
    pos = tensor(rng.uniform(0.5, 2, size=(2, 3)), dtype=dtype)
    for name, y in _all_ops(x, w, pos).items():
        assert y.dtype == dtype, name
        for t in (x, w, pos):
            t.grad = None
        y.sum().backward()
        for t in (x, w, pos):
            assert t.grad is None or t.grad.dtype == dtype, name


def test_python_floats_make_float32_tensors(backend):
    assert tn.tensor([1.0, 2.0]).dtype == "float32"
    assert tn.tensor(2.5).dtype == "float32"
    assert tn.tensor([1, 2]).dtype.kind == "i"
    assert tn.tensor(np.array([1.0])).dtype == "float64"        # an array keeps its dtype
    assert tn.tensor([1.0], dtype="float64").dtype == "float64"


def test_mixed_precision_gradient_has_the_leaf_dtype(backend):
    x32 = tensor(np.array([1.0, 2.0]), dtype="float32")
    x64 = tensor(np.array([3.0, 4.0]), dtype="float64")
    y = x32 * x64
    assert y.dtype == "float64"
    y.sum().backward()
    assert x32.grad.dtype == "float32" and x64.grad.dtype == "float64"
    assert host(x32.grad).tolist() == [3.0, 4.0]


def test_integer_tensor_with_python_scalars_keeps_values(backend):
    i = tn.tensor([1, 2, 3])
    assert host(i * 0.5).tolist() == [0.5, 1.0, 1.5]       # not truncated to the integer dtype
    assert host(i + 1).tolist() == [2, 3, 4] and (i + 1).dtype.kind == "i"
    b = tn.tensor([True, False])
    assert host(b + 2).tolist() == [3, 2]


# ================================ comparisons =====================================================
def test_comparisons_return_plain_arrays(backend):
    x = tensor(np.array([1.0, 2.0, 3.0]))
    y = tensor(np.array([3.0, 2.0, 1.0]), requires_grad=False)
    array_type = B._get(backend).array_type
    for r, expected in [(x < 2, [True, False, False]), (x <= 2, [True, True, False]),
                        (x > y, [False, False, True]), (x >= y, [False, True, True])]:
        assert isinstance(r, array_type) and not isinstance(r, tn.Tensor)
        assert r.dtype == bool
        assert B.to_numpy(r).tolist() == expected


# ================================ backends ========================================================
def _pair_on_two_backends():
    a = tn.tensor(np.array([1.0, 2.0]), requires_grad=True)                      # numpy
    b = tn.Tensor(fake_cupy.from_numpy(np.array([3.0, 4.0])), requires_grad=True)   # fakecupy
    return a, b


@pytest.mark.parametrize("op", [
    lambda a, b: a + b, lambda a, b: b * a, lambda a, b: a @ b, lambda a, b: b - a,
    lambda a, b: tn.concatenate([a, b]), lambda a, b: tn.stack([b, a]), lambda a, b: a < b,
    lambda a, b: b >= a, lambda a, b: a + b.data, lambda a, b: b * a.data,
    lambda a, b: b.backward(a),
])
def test_mixing_backends_is_a_clear_error_naming_both(op):
    a, b = _pair_on_two_backends()
    with pytest.raises(tn.BackendError) as e:
        op(a, b)
    assert "numpy" in str(e.value) and "fakecupy" in str(e.value)


def test_tensor_to_moves_data_between_backends():
    x = tn.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    assert x.backend == "numpy" and x.to("numpy") is x
    y = x.to("fakecupy")
    assert y.backend == "fakecupy" and isinstance(y.data, fake_cupy.FakeArray)
    assert y.dtype == "float32" and y.requires_grad and y.is_leaf
    assert y.numpy().tolist() == x.numpy().tolist()
    (y * y).sum().backward()
    assert isinstance(y.grad, fake_cupy.FakeArray) and x.grad is None
    z = y.to("numpy")
    assert isinstance(z.data, np.ndarray) and z.tolist() == x.tolist()
    with pytest.raises(tn.BackendUnavailable, match="unknown backend"):
        x.to("tpu")


def test_set_backend_sets_the_default_for_new_tensors():
    tn.set_backend("fakecupy")
    try:
        assert tn.get_backend() == "fakecupy"
        t = tn.tensor([1.0, 2.0])
        assert t.backend == "fakecupy" and isinstance(t.data, fake_cupy.FakeArray)
        assert tn.zeros(2, 3).backend == "fakecupy" and tn.ones(2).backend == "fakecupy"
        assert tn.randn(2).backend == "fakecupy"
        assert (t * 2).backend == "fakecupy"
    finally:
        tn.set_backend("numpy")
    assert tn.tensor([1.0]).backend == "numpy"


def test_set_backend_cupy_without_cupy_or_gpu_is_one_clear_error():
    try:
        import cupy  # noqa: F401
        if cupy.cuda.runtime.getDeviceCount() > 0:
            pytest.skip("a CUDA GPU is present")
    except Exception:
        pass
    with pytest.raises(tn.BackendUnavailable) as e:
        tn.set_backend("cupy")
    msg = str(e.value)
    assert "cupy" in msg.lower()
    assert "not installed" in msg or "no CUDA GPU" in msg
    assert tn.get_backend() == "numpy"                          # the default did not change
    with pytest.raises(tn.BackendUnavailable):
        tn.tensor([1.0]).to("cupy")


def test_unknown_backend_names_the_known_ones():
    with pytest.raises(tn.BackendUnavailable, match="numpy"):
        tn.set_backend("jax")


# ================================ PyTorch names, scalars, NumPy interplay, argument errors =========
def test_pytorch_argument_names(backend):
    x = tensor(np.array([[1.0, 5.0, 2.0], [4.0, 0.0, 3.0]]))
    assert host(x.sum(dim=1)).tolist() == host(x.sum(axis=1)).tolist() == [8.0, 7.0]
    assert x.mean(dim=0, keepdim=True).shape == (1, 3)
    assert host(tn.max(x, dim=1)).tolist() == [5.0, 4.0]
    np.testing.assert_allclose(host(x.softmax(dim=0)), host(x.softmax(0)))
    np.testing.assert_allclose(host(tn.log_softmax(x, dim=0)), host(tn.log_softmax(x, 0)))
    assert tn.cat([x, x], dim=1).shape == (2, 6) and tn.stack([x, x], dim=2).shape == (2, 3, 2)


def test_python_scalar_conversions(backend):
    x = tensor(np.array([[2.5]]))
    assert float(x) == 2.5 and int(x) == 2 and x.item() == 2.5
    with pytest.raises(ValueError):
        tensor(np.array([1.0, 2.0])).item()
    with pytest.raises(TypeError):
        len(tensor(np.array(1.0)))


def test_numpy_arrays_on_the_left_defer_to_tensors():
    x = tn.tensor([1.0, 2.0], requires_grad=True)
    for y in (np.ones(2) + x, np.ones(2) - x, np.ones(2) * x, np.ones((2, 2)) @ x, np.float64(2.0) * x):
        assert isinstance(y, tn.Tensor) and y.requires_grad
    assert (np.float32(2.0) * x).dtype == "float32"
    with pytest.raises(TypeError):
        np.exp(x)                    # not silently an object array of Tensors


def test_argument_errors(backend):
    x = tensor(np.ones((2, 3)))
    with pytest.raises(IndexError):
        x.sum(axis=2)
    with pytest.raises(ValueError):
        x.sum(axis=(0, -2))                       # the same axis twice
    with pytest.raises(ValueError):
        x.permute(0, 5)
    with pytest.raises(ValueError):
        x.permute(0, 0)
    with pytest.raises(ValueError, match="reshape"):
        x.reshape(4, 2)
    with pytest.raises(ValueError, match="matmul"):
        x @ x
    with pytest.raises(TypeError, match="exponent"):
        x ** x
    s = tensor(np.array(3.0))
    assert host(s.sum(axis=-1)).tolist() == 3.0 and host(s.max(axis=0)).tolist() == 3.0   # as torch


def test_pow_with_numpy_scalar_exponent_keeps_float32(backend):
    x = tensor(np.array([1.0, 2.0]), dtype="float32")
    for p in (np.float64(2.0), np.int64(3), 2.0):
        y = x ** p
        assert y.dtype == "float32"
        y.sum().backward()
        assert x.grad.dtype == "float32"
        x.grad = None


def test_pow_zero_has_zero_gradient_everywhere(backend):
    x = tensor(np.array([0.0, 2.0]))
    (x ** 0).sum().backward()
    assert host(x.grad).tolist() == [0.0, 0.0]


@pytest.mark.parametrize("data, message", [
    (["a"], "dtype <U1"),
    ([1, None], "dtype object"),
    ([[1.0], [None]], "numbers or booleans"),
    ({"a": 1}, "dtype object"),
])
def test_tensor_of_what_is_not_numbers_is_a_type_error(data, message):
    with pytest.raises(TypeError, match=message):
        tn.tensor(data)


# --- tinynet.autograd.grad and per-thread grad mode ------------------------------------------

def test_autograd_grad_equals_backward_and_leaves_dot_grad_alone():
    import numpy as np
    rng = np.random.default_rng(0)
    xa, wa = rng.normal(size=(3, 4)), rng.normal(size=(4, 2))
    x, w = tn.tensor(xa, requires_grad=True), tn.tensor(wa, requires_grad=True)
    gx, gw = tn.autograd.grad((x @ w).relu().sum(), [x, w])
    assert x.grad is None and w.grad is None
    (x @ w).relu().sum().backward()
    np.testing.assert_array_equal(gx.data, x.grad.data)
    np.testing.assert_array_equal(gw.data, w.grad.data)


def test_autograd_grad_of_an_unused_input_is_zero_and_non_tensors_are_refused():
    import pytest
    x, z = tn.tensor([1.0, 2.0], requires_grad=True), tn.tensor([5.0, 6.0, 7.0], requires_grad=True)
    g = tn.autograd.grad((x * x).sum(), [x, z])
    assert g[0].tolist() == [2.0, 4.0] and g[1].tolist() == [0.0, 0.0, 0.0]
    with pytest.raises(RuntimeError, match="requires grad"):
        tn.autograd.grad((x * x).sum(), [tn.tensor([1.0])])
    with pytest.raises(RuntimeError, match="scalar outputs"):
        tn.autograd.grad(x * x, x)
    assert tn.autograd.grad(x * x, x, grad_output=[1.0, 1.0]).tolist() == [2.0, 4.0]


def test_grad_mode_is_per_thread():
    import threading
    seen = {}

    def worker():
        seen["start"] = tn.is_grad_enabled()
        with tn.no_grad():
            seen["inside"] = tn.is_grad_enabled()
            barrier.wait()          # main checks its own mode while this thread is in no_grad
            barrier.wait()

    barrier = threading.Barrier(2)
    with tn.no_grad():
        t = threading.Thread(target=worker)
        t.start()
        barrier.wait()
        main_in_no_grad = tn.is_grad_enabled()
        barrier.wait()
        t.join()
    assert seen == {"start": True, "inside": False} and main_in_no_grad is False
    barrier = threading.Barrier(2)
    t = threading.Thread(target=worker)
    t.start()
    barrier.wait()
    assert tn.is_grad_enabled() is True         # the worker's no_grad does not reach this thread
    barrier.wait()
    t.join()
