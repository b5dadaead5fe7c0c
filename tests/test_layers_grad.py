"""Gradient checks of the layers and of the functional ops they use, in float64, on every backend.

Functional ops (``F.linear``, ``F.relu``, ``F.flatten``, ``F.dropout``, ``F.batch_norm``) go
through ``tinynet.gradcheck``. Layers (``nn.Linear``, ``nn.Conv2d``, ``nn.BatchNorm2d``, …) are
checked on their input *and* their own parameters: the analytic gradients from one backward
pass against central differences taken by nudging each element in place.
Shapes, strides and paddings are drawn by hypothesis, odd sizes included.
"""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import tinynet as tn
import tinynet.functional as F
from tinynet import backend as B, nn
from strategies import arrays, away_from_zero, host, tensor


def check_module(module, x, atol=1e-6, rtol=1e-5, eps=1e-6):
    """d(Σ w ⊙ module(x)) by backward vs central differences, for x and every parameter.

    ``module`` must be float64 and deterministic (dropout reseeded by the caller).
    """
    w = tensor(np.random.default_rng(0).standard_normal(module(x).shape), requires_grad=False)

    def loss():
        return (module(x) * w).sum()

    module.zero_grad()
    x.grad = None
    loss().backward()
    checked = [("input", x)] + list(module.named_parameters())
    for name, t in checked:
        analytic = host(t.grad) if t.grad is not None else np.zeros(t.shape)
        numeric = host(tn.numerical_grad(lambda _: loss(), t, eps=eps))
        np.testing.assert_allclose(analytic, numeric, atol=atol, rtol=rtol,
                                   err_msg=f"{type(module).__name__}: gradient of {name}")
    return True


# --- functional ops ------------------------------------------------------------------------------
@st.composite
def linear_case(draw):
    lead = tuple(draw(st.lists(st.integers(1, 3), min_size=1, max_size=3)))
    fin, fout = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    return (draw(arrays(lead + (fin,))), draw(arrays((fout, fin))),
            draw(st.none() | arrays((fout,))))


@settings(max_examples=20)
@given(case=linear_case())
def test_linear_gradcheck(backend, case):
    x, w, b = case
    if b is None:
        assert tn.gradcheck(lambda x, w: F.linear(x, w), tensor(x), tensor(w))
    else:
        assert tn.gradcheck(lambda x, w, b: F.linear(x, w, b), tensor(x), tensor(w), tensor(b))


def test_linear_values_and_frozen_weight(backend):
    x, w, b = np.arange(6.0).reshape(2, 3), np.arange(12.0).reshape(4, 3) / 10, np.array([1.0, -1, 0, 2])
    xt, wt = tensor(x), tensor(w, requires_grad=False)
    y = F.linear(xt, wt, tensor(b, requires_grad=False))
    np.testing.assert_allclose(host(y), x @ w.T + b, rtol=1e-13)   # float64 on a GPU: ~1e-13, not 1e-15
    y.sum().backward()
    assert wt.grad is None                       # frozen: no gradient made
    np.testing.assert_allclose(host(xt.grad), np.ones((2, 4)) @ w)


def test_linear_refuses_wrong_features():
    with pytest.raises(ValueError, match=r"5 features.*expects 3"):
        F.linear(tn.randn(2, 5), tn.randn(4, 3))
    with pytest.raises(ValueError, match=r"bias must have shape \(4,\)"):
        F.linear(tn.randn(2, 3), tn.randn(4, 3), tn.randn(3))


@settings(max_examples=15)
@given(x=away_from_zero(st.lists(st.integers(1, 4), min_size=1, max_size=4).map(tuple)))
def test_relu_gradcheck(backend, x):
    assert tn.gradcheck(F.relu, tensor(x))
    np.testing.assert_array_equal(host(F.relu(tensor(x))), np.maximum(x, 0))


def test_relu_gradient_at_zero_is_zero():
    x = tensor([-1.0, 0.0, 2.0])
    F.relu(x).sum().backward()
    np.testing.assert_array_equal(host(x.grad), [0, 0, 1])


@st.composite
def flatten_case(draw):
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=4)))
    nd = len(shape)
    start = draw(st.integers(-nd, nd - 1))
    end = draw(st.integers(start % nd, nd - 1))
    if draw(st.booleans()):
        end -= nd
    return draw(arrays(shape)), start, end


@settings(max_examples=20)
@given(case=flatten_case())
def test_flatten_gradcheck_and_shape(backend, case):
    x, start, end = case
    s, e = start % x.ndim, end % x.ndim
    expected = x.shape[:s] + (int(np.prod(x.shape[s:e + 1])),) + x.shape[e + 1:]
    y = F.flatten(tensor(x), start, end)
    assert y.shape == expected
    np.testing.assert_array_equal(host(y), x.reshape(expected))
    assert tn.gradcheck(lambda t: F.flatten(t, start, end), tensor(x))


def test_flatten_layer_keeps_the_batch_axis():
    assert nn.Flatten()(tn.randn(2, 3, 4, 5)).shape == (2, 60)
    assert F.flatten(tn.randn(2, 3, 4)).shape == (24,)           # torch.flatten: start_dim=0


@settings(max_examples=10)
@given(x=arrays(st.lists(st.integers(1, 5), min_size=1, max_size=3).map(tuple)),
       p=st.sampled_from([0.0, 0.2, 0.5, 0.9, 1.0]), seed=st.integers(0, 2**16))
def test_dropout_gradcheck(backend, x, p, seed):
    """With the seed fixed, the mask is fixed: dropout is then linear, y = x ⊙ m / (1 − p)."""
    def fn(t):
        tn.manual_seed(seed)
        return F.dropout(t, p, training=True)
    assert tn.gradcheck(fn, tensor(x))
    y = host(fn(tensor(x)))
    kept = y != 0
    if p < 1:
        np.testing.assert_allclose(y[kept], x[kept] / (1 - p), rtol=1e-13)   # GPU float64 rounding
    else:
        assert not kept.any()


@st.composite
def batch_norm_case(draw):
    n, c = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    spatial = tuple(draw(st.lists(st.integers(1, 3), min_size=0, max_size=2)))
    if n * int(np.prod(spatial)) < 2:
        n = 2                                   # training needs two values per channel
    shape = (n, c) + spatial
    return (draw(arrays(shape)), draw(arrays((c,), 0.5, 2.0)), draw(arrays((c,))),
            draw(arrays((c,))), draw(arrays((c,), 0.5, 2.0)))


@settings(max_examples=15)
@given(case=batch_norm_case(), training=st.booleans(), affine=st.booleans())
def test_batch_norm_gradcheck(backend, case, training, affine):
    x, w, b, rm, rv = case
    rm_t, rv_t = tensor(rm, requires_grad=False), tensor(rv, requires_grad=False)
    if affine:
        fn = lambda x, w, b: F.batch_norm(x, rm_t, rv_t, w, b, training=training)  # noqa: E731
        assert tn.gradcheck(fn, tensor(x), tensor(w), tensor(b))
    else:
        assert tn.gradcheck(lambda x: F.batch_norm(x, rm_t, rv_t, training=training), tensor(x))


def test_batch_norm_values(backend):
    """Training normalises with the batch's biased variance; eval with the running statistics."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 3, 2, 2)) * 3 + 1
    w, b = np.array([1.0, 2.0, 0.5]), np.array([0.0, -1.0, 3.0])
    mu, var = x.mean(axis=(0, 2, 3)), x.var(axis=(0, 2, 3))
    rm, rv = tensor(np.zeros(3), requires_grad=False), tensor(np.ones(3), requires_grad=False)
    y = F.batch_norm(tensor(x), rm, rv, tensor(w), tensor(b), training=True, momentum=0.25, eps=1e-5)
    shape = (1, 3, 1, 1)
    expected = (x - mu.reshape(shape)) / np.sqrt(var.reshape(shape) + 1e-5) * w.reshape(shape) + b.reshape(shape)
    np.testing.assert_allclose(host(y), expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(host(rm), 0.25 * mu, rtol=1e-12)
    np.testing.assert_allclose(host(rv), 0.75 + 0.25 * var * 16 / 15, rtol=1e-12)   # unbiased: m/(m-1)
    y = F.batch_norm(tensor(x), rm, rv, tensor(w), tensor(b), training=False, eps=1e-5)
    expected = ((x - host(rm).reshape(shape)) / np.sqrt(host(rv).reshape(shape) + 1e-5) * w.reshape(shape)
                + b.reshape(shape))
    np.testing.assert_allclose(host(y), expected, rtol=1e-12, atol=1e-12)


def test_batch_norm_errors():
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        F.batch_norm(tn.randn(1, 3), None, None, training=True)
    with pytest.raises(ValueError, match=r"running_mean must have shape \(3,\)"):
        F.batch_norm(tn.randn(2, 3), tn.zeros(4), tn.ones(3), training=True)
    with pytest.raises(ValueError, match="running_mean and running_var"):
        F.batch_norm(tn.randn(2, 3), None, None, training=False)


# --- layers, checked on their input and parameters -----------------------------------------------
@st.composite
def conv_case(draw):
    n, c, oc = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    ph, pw = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    h = draw(st.integers(max(1, kh - 2 * ph), 6))
    w = draw(st.integers(max(1, kw - 2 * pw), 6))
    return (n, c, h, w), dict(in_channels=c, out_channels=oc, kernel_size=(kh, kw), stride=(sh, sw),
                              padding=(ph, pw), bias=draw(st.booleans()))


@settings(max_examples=12)
@given(case=conv_case(), seed=st.integers(0, 1000))
def test_conv2d_layer_gradients(backend, case, seed):
    shape, kwargs = case
    tn.manual_seed(seed)
    layer = nn.Conv2d(**kwargs).double()
    x = tensor(np.random.default_rng(seed).standard_normal(shape))
    assert check_module(layer, x)


@st.composite
def pool_case(draw):
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    stride = draw(st.none() | st.tuples(st.integers(1, 3), st.integers(1, 3)))
    ph, pw = draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2))
    h, w = draw(st.integers(max(1, kh - 2 * ph), 7)), draw(st.integers(max(1, kw - 2 * pw), 7))
    return (draw(st.integers(1, 2)), draw(st.integers(1, 2)), h, w), dict(kernel_size=(kh, kw), stride=stride,
                                                                           padding=(ph, pw))


@settings(max_examples=12)
@given(case=pool_case(), kind=st.sampled_from(["max", "avg"]), data=st.data())
def test_pool_layer_gradients(backend, case, kind, data):
    shape, kwargs = case
    layer = nn.MaxPool2d(**kwargs) if kind == "max" else nn.AvgPool2d(**kwargs)
    size = int(np.prod(shape))          # distinct values 0.1 apart: no ties for max to split
    x = np.random.default_rng(data.draw(st.integers(0, 1000))).permutation(size).reshape(shape) * 0.1
    assert check_module(layer, tensor(x))


@settings(max_examples=10)
@given(lead=st.lists(st.integers(1, 3), min_size=1, max_size=3).map(tuple), fin=st.integers(1, 5),
       fout=st.integers(1, 5), bias=st.booleans(), seed=st.integers(0, 1000))
def test_linear_layer_gradients(backend, lead, fin, fout, bias, seed):
    tn.manual_seed(seed)
    layer = nn.Linear(fin, fout, bias=bias).double()
    assert check_module(layer, tensor(np.random.default_rng(seed).standard_normal(lead + (fin,))))


@settings(max_examples=10)
@given(n=st.integers(2, 3), c=st.integers(1, 3), h=st.integers(1, 3), w=st.integers(1, 3),
       training=st.booleans(), seed=st.integers(0, 1000))
def test_batchnorm2d_layer_gradients(backend, n, c, h, w, training, seed):
    rng = np.random.default_rng(seed)
    layer = nn.BatchNorm2d(c).double().train(training)
    layer.weight.data[...] = B.to_backend(rng.uniform(0.5, 2, c), backend)
    layer.bias.data[...] = B.to_backend(rng.standard_normal(c), backend)
    layer.running_var.data[...] = B.to_backend(rng.uniform(0.5, 2, c), backend)
    assert check_module(layer, tensor(rng.standard_normal((n, c, h, w))))


@pytest.mark.parametrize("make", [
    lambda: nn.Sigmoid(), lambda: nn.Tanh(), lambda: nn.ReLU(), lambda: nn.Identity(),
    lambda: nn.Flatten(), lambda: nn.LayerNorm(4), lambda: nn.BatchNorm1d(4),
    lambda: nn.Dropout(0.0), lambda: nn.Dropout(0.5).eval(),
], ids=["Sigmoid", "Tanh", "ReLU", "Identity", "Flatten", "LayerNorm", "BatchNorm1d", "Dropout0", "DropoutEval"])
def test_small_layer_gradients(backend, make):
    layer = make().double()
    x = np.random.default_rng(1).uniform(0.2, 2.0, (3, 4)) * np.array([1, -1, 1, -1])   # away from ReLU's kink
    assert check_module(layer, tensor(x))


def test_dropout_layer_gradients_with_a_fixed_seed(backend):
    class Seeded(nn.Module):
        def __init__(self):
            super().__init__()
            self.drop = nn.Dropout(0.3)

        def forward(self, x):
            tn.manual_seed(7)
            return self.drop(x)
    assert check_module(Seeded(), tensor(np.random.default_rng(2).standard_normal((4, 5))))


def test_small_cnn_gradients_end_to_end(backend):
    """conv → batchnorm → relu → pool → flatten → linear → cross-entropy: every parameter."""
    tn.manual_seed(3)
    model = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.BatchNorm2d(3), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(3 * 3 * 3, 4)).double()
    x = tensor(np.random.default_rng(4).standard_normal((3, 2, 6, 6)), requires_grad=False)
    t = np.array([0, 3, 1])

    def loss():
        return F.cross_entropy(model(x), t)

    model.zero_grad()
    loss().backward()
    for name, p in model.named_parameters():
        numeric = host(tn.numerical_grad(lambda _: loss(), p))
        np.testing.assert_allclose(host(p.grad), numeric, atol=1e-7, rtol=1e-5, err_msg=name)
