"""Losses (tinynet/ops/loss.py): cross_entropy, nll_loss, mse_loss.

Gradient checks in float64 over hypothesis-drawn batch and class counts, on every backend;
exact values against formulas written here; the errors a student meets with wrong targets.
(Comparisons with PyTorch are in test_torch_compare_nn.py.)
"""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import tinynet as tn
import tinynet.functional as F
from tinynet import backend as B
from strategies import arrays, host, tensor

REDUCTIONS = ["mean", "sum", "none"]


@st.composite
def logits_and_targets(draw, max_n=4, max_c=5):
    n, c = draw(st.integers(1, max_n)), draw(st.integers(1, max_c))
    z = draw(arrays((n, c), -4.0, 4.0))
    t = np.asarray(draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)), dtype=np.int64)
    return z, t


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def reference_ce(z, t, eps=0.0):
    """Per-sample cross-entropy with label smoothing, straight from the definition."""
    n, c = z.shape
    q = np.full((n, c), eps / c)
    q[np.arange(n), t] += 1 - eps
    return -(q * np.log(softmax(z))).sum(axis=1), q


# --- gradient checks -----------------------------------------------------------------------------
@settings(max_examples=15)
@given(data=logits_and_targets(), reduction=st.sampled_from(REDUCTIONS),
       eps=st.sampled_from([0.0, 0.1, 0.5, 1.0]))
def test_cross_entropy_gradcheck(backend, data, reduction, eps):
    z, t = data
    assert tn.gradcheck(lambda x: F.cross_entropy(x, t, reduction=reduction, label_smoothing=eps), tensor(z))


@settings(max_examples=10)
@given(data=logits_and_targets(), reduction=st.sampled_from(REDUCTIONS))
def test_nll_loss_gradcheck(backend, data, reduction):
    z, t = data
    assert tn.gradcheck(lambda x: F.nll_loss(F.log_softmax(x, axis=1), t, reduction=reduction), tensor(z))
    assert tn.gradcheck(lambda x: F.nll_loss(x, t, reduction=reduction), tensor(z))


@settings(max_examples=10)
@given(shape=st.lists(st.integers(1, 4), min_size=0, max_size=3).map(tuple), reduction=st.sampled_from(REDUCTIONS),
       data=st.data())
def test_mse_loss_gradcheck_both_inputs(backend, shape, reduction, data):
    a, b = data.draw(arrays(shape)), data.draw(arrays(shape))
    assert tn.gradcheck(lambda x, y: F.mse_loss(x, y, reduction=reduction), tensor(a), tensor(b))


# --- values ------------------------------------------------------------------------------------
@settings(max_examples=20)
@given(data=logits_and_targets(max_n=6, max_c=7), eps=st.sampled_from([0.0, 0.2]))
def test_cross_entropy_values_and_gradient_formula(data, eps):
    """loss = mean ℓₙ, and the gradient is exactly (softmax − q) / N (q the smoothed one-hot)."""
    z, t = data
    n = z.shape[0]
    per_sample, q = reference_ce(z, t, eps)
    x = tensor(z)
    loss = F.cross_entropy(x, t, label_smoothing=eps)
    loss.backward()
    np.testing.assert_allclose(loss.item(), per_sample.mean(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(host(x.grad), (softmax(z) - q) / n, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(F.cross_entropy(tensor(z), t, reduction="sum", label_smoothing=eps).item(),
                               per_sample.sum(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(host(F.cross_entropy(tensor(z), t, reduction="none", label_smoothing=eps)),
                               per_sample, rtol=1e-12, atol=1e-12)


def test_cross_entropy_of_equal_logits_is_log_classes():
    z = np.zeros((3, 10))
    assert F.cross_entropy(tensor(z), [0, 4, 9]).item() == pytest.approx(math.log(10), rel=1e-14)


def test_cross_entropy_is_stable_for_huge_logits():
    """log-sum-exp: logits of 1e4 neither overflow nor give NaN, in float32 either."""
    for dtype in ("float32", "float64"):
        z = tensor([[1e4, 0.0, -1e4], [0.0, 1e4, 1e4]], dtype=dtype)
        loss = F.cross_entropy(z, [0, 0], reduction="none")
        loss.sum().backward()
        assert np.isfinite(host(loss)).all() and np.isfinite(host(z.grad)).all()
        np.testing.assert_allclose(host(loss), [0.0, 1e4 + math.log(2)], rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(host(z.grad), [[0, 0, 0], [-1, 0.5, 0.5]], atol=1e-6)


def test_cross_entropy_keeps_float32():
    z = tn.randn(4, 3, requires_grad=True)
    loss = F.cross_entropy(z, [0, 1, 2, 0])
    loss.backward()
    assert loss.dtype == np.float32 and z.grad.dtype == np.float32


@pytest.mark.parametrize("make_target", [
    lambda t: t,                                  # int64 NumPy array
    lambda t: t.astype(np.uint8),                 # MNIST labels are uint8
    lambda t: t.astype(np.int32),
    lambda t: t.tolist(),                         # a Python list
    lambda t: tn.tensor(t),                       # a Tensor of integers
])
def test_cross_entropy_accepts_integer_targets_of_any_kind(make_target):
    z = np.random.default_rng(0).standard_normal((4, 3))
    t = np.array([0, 2, 1, 2])
    expected = reference_ce(z, t)[0].mean()
    assert F.cross_entropy(tensor(z), make_target(t)).item() == pytest.approx(expected, rel=1e-12)
    assert F.nll_loss(tensor(np.log(softmax(z))), make_target(t)).item() == pytest.approx(expected, rel=1e-12)


def test_nll_loss_values():
    x = np.array([[-1.0, -2.0, -3.0], [-0.5, -0.25, -4.0]])
    t = np.array([2, 1])
    assert F.nll_loss(tensor(x), t).item() == pytest.approx((3.0 + 0.25) / 2)
    assert F.nll_loss(tensor(x), t, reduction="sum").item() == pytest.approx(3.25)
    np.testing.assert_array_equal(host(F.nll_loss(tensor(x), t, reduction="none")), [3.0, 0.25])
    xt = tensor(x)
    F.nll_loss(xt, t).backward()
    np.testing.assert_array_equal(host(xt.grad), [[0, 0, -0.5], [0, -0.5, 0]])


def test_mse_loss_values():
    a, b = tensor([[1.0, 2.0], [3.0, 5.0]]), tensor([[1.0, 0.0], [0.0, 1.0]])
    assert F.mse_loss(a, b).item() == pytest.approx((0 + 4 + 9 + 16) / 4)
    assert F.mse_loss(a, b, reduction="sum").item() == pytest.approx(29)
    np.testing.assert_array_equal(host(F.mse_loss(a, b, reduction="none")), [[0, 4], [9, 16]])
    F.mse_loss(a, b).backward()
    np.testing.assert_allclose(host(a.grad), 2 * (host(a) - host(b)) / 4)
    np.testing.assert_allclose(host(b.grad), -2 * (host(a) - host(b)) / 4)


def test_losses_on_the_backend_give_the_numpy_values(backend):
    rng = np.random.default_rng(3)
    z, t = rng.standard_normal((5, 4)), np.array([3, 0, 1, 1, 2])
    loss = F.cross_entropy(tensor(z), t, label_smoothing=0.1)
    assert loss.backend == backend
    assert loss.item() == pytest.approx(reference_ce(z, t, 0.1)[0].mean(), rel=1e-12)
    # integer targets already on the backend work too
    t_dev = tn.Tensor(tn.backend.to_backend(t, backend))
    assert F.cross_entropy(tensor(z), t_dev).item() == pytest.approx(reference_ce(z, t)[0].mean(), rel=1e-12)


# --- errors a student meets ------------------------------------------------------------------------
@pytest.mark.parametrize("target, error, words", [
    (np.array([[0], [1], [2]]), ValueError, ["target", "(3,)", "(3, 1)"]),                # one-hot-ish column
    (np.array([0, 1]), ValueError, ["target", "(3,)", "(2,)"]),                           # wrong batch size
    (np.array([0, 1, 4]), IndexError, ["class 4", "0..3"]),                               # class out of range
    (np.array([0, -1, 2]), IndexError, ["class -1", "0..3"]),                             # negative class
    (np.array([0.0, 1.0, 2.0]), TypeError, ["integer", "float64"]),                        # float labels
    (np.eye(3, 4), ValueError, ["target", "(3,)", "(3, 4)"]),                              # one-hot targets
])
def test_cross_entropy_refuses_bad_targets_with_a_clear_message(target, error, words):
    for loss in (F.cross_entropy, F.nll_loss):
        with pytest.raises(error) as e:
            loss(tn.randn(3, 4), target)
        for w in words:
            assert w in str(e.value), (w, str(e.value))


def test_cross_entropy_refuses_bad_input_and_arguments():
    with pytest.raises(ValueError, match=r"\(N, C\)"):
        F.cross_entropy(tn.randn(4), [0])
    with pytest.raises(ValueError, match="reduction"):
        F.cross_entropy(tn.randn(2, 3), [0, 1], reduction="avg")
    with pytest.raises(ValueError, match="label_smoothing"):
        F.cross_entropy(tn.randn(2, 3), [0, 1], label_smoothing=1.5)
    with pytest.raises(ValueError, match="reduction"):
        F.mse_loss(tn.randn(2), tn.randn(2), reduction="avg")
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(3, 2\)"):
        F.mse_loss(tn.randn(2, 3), tn.randn(3, 2))


def test_targets_move_to_the_logits_backend(backend):
    """Labels usually come from the host (a NumPy batch); logits may live on another backend."""
    z = tn.randn(4, 3, requires_grad=True)
    loss = F.cross_entropy(z, np.array([0, 1, 2, 1], dtype=np.uint8))
    loss.backward()
    assert loss.backend == backend and B.backend_name(z.grad) == backend
    assert F.nll_loss(F.log_softmax(z, axis=1), [0, 1, 2, 1]).backend == backend


def test_cross_entropy_accepts_a_plain_array_of_logits():
    z = np.array([[0.0, 0.0], [1.0, 0.0]])
    assert F.cross_entropy(z, [0, 0]).item() == pytest.approx((math.log(2) + math.log(1 + math.exp(-1))) / 2)
