"""conv2d, max_pool2d and avg_pool2d: against direct loop-based references written here, gradient
checks in float64, max pool's fast path against its general path, first-max routing on ties,
and forward/backward against torch.nn.functional; on every backend.

Shapes, kernels, strides and paddings are drawn by hypothesis, odd sizes included.
"""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import tinynet as tn
import tinynet.functional as F
from tinynet.ops.conv import Conv2d
from tinynet.ops.pool import MaxPool2d
from strategies import host, tensor


# --- references, by loops over every output pixel -------------------------------------------------
def out_size(size, k, s, p):
    return (size + 2 * p - k) // s + 1


def ref_conv2d(x, w, b, stride, padding):
    """y[n, o, oh, ow] = b[o] + Σ_{c,i,j} w[o, c, i, j] · x_pad[n, c, oh·SH + i, ow·SW + j]."""
    (SH, SW), (PH, PW) = stride, padding
    N, C, H, W = x.shape
    OC, _, KH, KW = w.shape
    xpad = np.pad(x, ((0, 0), (0, 0), (PH, PH), (PW, PW)))
    OH, OW = out_size(H, KH, SH, PH), out_size(W, KW, SW, PW)
    y = np.zeros((N, OC, OH, OW))
    for n in range(N):
        for o in range(OC):
            for oh in range(OH):
                for ow in range(OW):
                    window = xpad[n, :, oh * SH:oh * SH + KH, ow * SW:ow * SW + KW]
                    y[n, o, oh, ow] = np.sum(window * w[o]) + (b[o] if b is not None else 0.0)
    return y


def ref_max_pool2d(x, gy, k, s, p):
    """Forward max over -inf-padded windows, and the backward that sends each gy to the first
    maximum of its window in row-major order (np.argmax returns the first one)."""
    (KH, KW), (SH, SW), (PH, PW) = k, s, p
    N, C, H, W = x.shape
    xpad = np.pad(x, ((0, 0), (0, 0), (PH, PH), (PW, PW)), constant_values=-np.inf)
    OH, OW = out_size(H, KH, SH, PH), out_size(W, KW, SW, PW)
    y = np.empty((N, C, OH, OW))
    gpad = np.zeros_like(xpad)
    for n in range(N):
        for c in range(C):
            for oh in range(OH):
                for ow in range(OW):
                    window = xpad[n, c, oh * SH:oh * SH + KH, ow * SW:ow * SW + KW]
                    i, j = np.unravel_index(np.argmax(window), window.shape)
                    y[n, c, oh, ow] = window[i, j]
                    if gy is not None:
                        gpad[n, c, oh * SH + i, ow * SW + j] += gy[n, c, oh, ow]
    return y, gpad[:, :, PH:PH + H, PW:PW + W]


def ref_avg_pool2d(x, k, s, p):
    (KH, KW), (SH, SW), (PH, PW) = k, s, p
    xpad = np.pad(x, ((0, 0), (0, 0), (PH, PH), (PW, PW)))
    OH, OW = out_size(x.shape[2], KH, SH, PH), out_size(x.shape[3], KW, SW, PW)
    y = np.empty(x.shape[:2] + (OH, OW))
    for oh in range(OH):
        for ow in range(OW):
            y[:, :, oh, ow] = xpad[:, :, oh * SH:oh * SH + KH, ow * SW:ow * SW + KW].mean(axis=(2, 3))
    return y


# --- strategies ------------------------------------------------------------------------------------
@st.composite
def conv_geometry(draw, max_side=7):
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    ph, pw = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    h, w = draw(st.integers(max(1, kh - 2 * ph), max_side)), draw(st.integers(max(1, kw - 2 * pw), max_side))
    n, c, oc = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    return (n, c, h, w), (oc, c, kh, kw), (sh, sw), (ph, pw)


@st.composite
def same_conv_geometry(draw):
    """Stride 1 and OW = W (KW = 2·PW + 1): the geometry of im2col's shifted-copy fast path."""
    pw, kh, ph = draw(st.integers(0, 2)), draw(st.integers(1, 4)), draw(st.integers(0, 2))
    h, w = draw(st.integers(max(1, kh - 2 * ph), 7)), draw(st.integers(1, 7))
    n, c, oc = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    return (n, c, h, w), (oc, c, kh, 2 * pw + 1), (1, 1), (ph, pw)


@st.composite
def pool_geometry(draw, max_side=8):
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    stride = draw(st.none() | st.tuples(st.integers(1, 4), st.integers(1, 4)))
    ph, pw = draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2))
    h, w = draw(st.integers(max(1, kh - 2 * ph), max_side)), draw(st.integers(max(1, kw - 2 * pw), max_side))
    n, c = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    return (n, c, h, w), (kh, kw), (stride or (kh, kw)), (ph, pw)


def distinct_values(shape, seed):
    """Values 0.1 apart in random order: no ties, so max is differentiable well beyond gradcheck's ε."""
    size = int(np.prod(shape))
    return np.random.default_rng(seed).permutation(size).reshape(shape) * 0.1 - size * 0.05


# --- conv2d ----------------------------------------------------------------------------------------
@pytest.fixture(params=["per_image", "one_product"])
def conv_path(request, monkeypatch):
    """Conv2d computes its products per image when K = C·KH·KW is small, else as one product:
    run each conv test both ways by moving the threshold."""
    monkeypatch.setattr(Conv2d, "SMALL_K", 10**9 if request.param == "per_image" else 0)
    return request.param


@settings(max_examples=30)
@given(g=conv_geometry(), bias=st.booleans(), seed=st.integers(0, 10_000))
def test_conv2d_matches_the_loop_reference(backend, conv_path, g, bias, seed):
    xs, ws, stride, padding = g
    rng = np.random.default_rng(seed)
    x, w, b = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[0])
    y = F.conv2d(tensor(x), tensor(w), tensor(b) if bias else None, stride=stride, padding=padding)
    assert y.backend == backend and y.dtype == np.float64
    np.testing.assert_allclose(host(y), ref_conv2d(x, w, b if bias else None, stride, padding),
                               rtol=1e-12, atol=1e-12)


@settings(max_examples=15)
@given(g=conv_geometry(max_side=5), seed=st.integers(0, 10_000))
def test_conv2d_gradcheck(backend, conv_path, g, seed):
    xs, ws, stride, padding = g
    rng = np.random.default_rng(seed)
    x, w, b = (tensor(rng.standard_normal(s)) for s in (xs, ws, ws[:1]))
    assert tn.gradcheck(lambda x, w, b: F.conv2d(x, w, b, stride, padding), x, w, b)


@settings(max_examples=20)
@given(g=same_conv_geometry(), seed=st.integers(0, 10_000))
def test_same_convolutions_forward_and_gradients(backend, conv_path, g, seed):
    """The stride-1, OW = W geometries (im2col's shifted copies) against the loop reference and
    central differences."""
    xs, ws, stride, padding = g
    rng = np.random.default_rng(seed)
    x, w, b = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[0])
    y = F.conv2d(tensor(x), tensor(w), tensor(b), stride=stride, padding=padding)
    np.testing.assert_allclose(host(y), ref_conv2d(x, w, b, stride, padding), rtol=1e-12, atol=1e-12)
    assert tn.gradcheck(lambda x, w, b: F.conv2d(x, w, b, stride, padding), *(tensor(a) for a in (x, w, b)))


# Geometries where every matrix product of Conv2d.backward has the shape of its transpose and of the
# product with its operands swapped (K = C·KH·KW = 4 = OC = L = OH·OW, and N = 4 or N·L = 4): a
# transposed or swapped product raises no shape error here, so only the gradient values catch it.
SQUARE_CONVS = {"N=K=OC=L": ((4, 1, 3, 3), (4, 1, 2, 2)), "N*L=K=OC": ((1, 1, 3, 3), (4, 1, 2, 2))}


@pytest.mark.parametrize("case", list(SQUARE_CONVS))
def test_conv2d_gradcheck_where_every_product_is_square(backend, conv_path, case):
    xs, ws = SQUARE_CONVS[case]
    rng = np.random.default_rng(len(case))
    x, w, b = (tensor(rng.standard_normal(s)) for s in (xs, ws, ws[:1]))
    assert tn.gradcheck(lambda x, w, b: F.conv2d(x, w, b), x, w, b)


@pytest.mark.parametrize("needs", [(x, w, b) for x in (0, 1) for w in (0, 1) for b in (0, 1) if x or w or b])
def test_conv2d_gradients_for_every_subset_of_inputs_that_need_them(backend, conv_path, needs):
    """A frozen weight with a trainable bias (and every other mix) gets the same gradients as when
    all three are trained: the per-image path's bias row must give db even when dw is skipped."""
    rng = np.random.default_rng(sum(needs))
    x, w, b = rng.standard_normal((2, 2, 5, 4)), rng.standard_normal((3, 2, 3, 3)), rng.standard_normal(3)
    gy = rng.standard_normal((2, 3, 5, 4))
    everything = [tensor(a) for a in (x, w, b)]
    F.conv2d(*everything, padding=1).backward(tensor(gy, requires_grad=False))
    some = [tensor(a, requires_grad=bool(r)) for a, r in zip((x, w, b), needs)]
    F.conv2d(*some, padding=1).backward(tensor(gy, requires_grad=False))
    for full, part, needed in zip(everything, some, needs):
        if needed:
            np.testing.assert_allclose(host(part.grad), host(full.grad), rtol=1e-12, atol=1e-12)
        else:
            assert part.grad is None


def test_conv2d_integer_stride_and_padding_and_no_bias(backend):
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((2, 3, 6, 5)), rng.standard_normal((4, 3, 3, 2))
    y = F.conv2d(tensor(x), tensor(w), stride=2, padding=1)
    np.testing.assert_allclose(host(y), ref_conv2d(x, w, None, (2, 2), (1, 1)), rtol=1e-12, atol=1e-12)


def test_conv2d_skips_input_gradient_work_when_the_input_needs_none(backend, monkeypatch):
    import tinynet.ops.conv as conv_ops
    calls = []
    monkeypatch.setattr(conv_ops, "col2im", lambda *a, **k: calls.append(1))
    x = tensor(np.ones((1, 1, 4, 4)), requires_grad=False)
    w = tensor(np.ones((2, 1, 3, 3)))
    F.conv2d(x, w, padding=1).sum().backward()
    assert calls == [] and w.grad is not None
    frozen = F.conv2d(x, tensor(np.ones((2, 1, 3, 3)), requires_grad=False))
    assert not frozen.requires_grad and frozen.grad_fn is None      # no graph, no backward at all


def test_an_empty_batch_gives_empty_outputs_and_zero_weight_gradients(backend, conv_path):
    x, w, b = tensor(np.zeros((0, 3, 5, 5))), tensor(np.ones((4, 3, 3, 3))), tensor(np.ones(4))
    y = F.conv2d(x, w, b, padding=1)
    assert y.shape == (0, 4, 5, 5)
    F.max_pool2d(y, 2).sum().backward()
    assert x.grad.shape == (0, 3, 5, 5)
    np.testing.assert_array_equal(host(w.grad), np.zeros((4, 3, 3, 3)))
    np.testing.assert_array_equal(host(b.grad), np.zeros(4))


def test_conv2d_keeps_float32(backend, conv_path):
    x = tensor(np.ones((2, 3, 5, 5)), dtype=np.float32)
    w = tensor(np.ones((4, 3, 3, 3)), dtype=np.float32)
    b = tensor(np.ones(4), dtype=np.float32)
    y = F.conv2d(x, w, b, padding=1)
    y.sum().backward()
    assert y.dtype == np.float32 and x.grad.dtype == w.grad.dtype == b.grad.dtype == np.float32


# --- pooling ---------------------------------------------------------------------------------------
@settings(max_examples=30)
@given(g=pool_geometry(), seed=st.integers(0, 10_000), ties=st.booleans())
def test_max_pool2d_matches_the_loop_reference(backend, g, seed, ties):
    shape, k, s, p = g
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 3, shape).astype(float) if ties else rng.standard_normal(shape)
    xt = tensor(x)
    y = F.max_pool2d(xt, k, s, p)
    gy = rng.standard_normal(y.shape)
    y.backward(tensor(gy, requires_grad=False))
    ry, rgx = ref_max_pool2d(x, gy, k, s, p)
    np.testing.assert_array_equal(host(y), ry)
    np.testing.assert_allclose(host(xt.grad), rgx, rtol=1e-12, atol=1e-12)


@settings(max_examples=40)
@given(g=pool_geometry(), seed=st.integers(0, 10_000), special=st.booleans(),
       dtype=st.sampled_from([np.float64, np.float32]))
def test_max_pool2d_without_gradients_matches_the_loop_reference(backend, g, seed, special, dtype):
    """Inference (no input needs a gradient) skips the argmax bookkeeping and takes the maximum
    rows first, then columns: the same values, NaN and ±inf included, in the input's dtype."""
    shape, k, s, p = g
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 3, shape).astype(dtype)
    if special:                                 # a few NaN, +inf and -inf among the ties
        x[rng.random(shape) < 0.15] = rng.choice([np.nan, np.inf, -np.inf])
    y = F.max_pool2d(tensor(x, requires_grad=False, dtype=dtype), k, s, p)
    with tn.no_grad():
        y2 = F.max_pool2d(tensor(x, dtype=dtype), k, s, p)
    with np.errstate(invalid="ignore"):
        ry = ref_max_pool2d(x, None, k, s, p)[0]
    np.testing.assert_array_equal(host(y), ry)
    np.testing.assert_array_equal(host(y2), ry)
    assert y.grad_fn is None and y2.grad_fn is None and y.dtype == y2.dtype == dtype


@settings(max_examples=30)
@given(g=pool_geometry(), seed=st.integers(0, 10_000))
def test_avg_pool2d_matches_the_loop_reference(backend, g, seed):
    shape, k, s, p = g
    x = np.random.default_rng(seed).standard_normal(shape)
    np.testing.assert_allclose(host(F.avg_pool2d(tensor(x), k, s, p)), ref_avg_pool2d(x, k, s, p),
                               rtol=1e-12, atol=1e-12)


@settings(max_examples=15)
@given(g=pool_geometry(max_side=6), seed=st.integers(0, 10_000), kind=st.sampled_from(["max", "avg"]))
def test_pool_gradcheck(backend, g, seed, kind):
    shape, k, s, p = g
    pool = F.max_pool2d if kind == "max" else F.avg_pool2d
    assert tn.gradcheck(lambda x: pool(x, k, s, p), tensor(distinct_values(shape, seed)))


@settings(max_examples=30)
@given(n=st.integers(1, 3), c=st.integers(1, 3), oh=st.integers(1, 4), ow=st.integers(1, 4),
       k=st.tuples(st.integers(1, 3), st.integers(1, 3)), seed=st.integers(0, 10_000))
def test_max_pool_fast_path_agrees_with_the_general_path(backend, n, c, oh, ow, k, seed):
    """Windows that tile the input (stride = kernel, no padding) take the fast path; ``fast=False``
    forces the general one. Both must give the same values and route ties the same way."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 3, (n, c, oh * k[0], ow * k[1])).astype(float)      # many ties
    gy = tensor(rng.standard_normal((n, c, oh, ow)), requires_grad=False)
    results = []
    for fast in (True, False):
        xt = tensor(x)
        fn = MaxPool2d(k, k, (0, 0), fast=fast)
        y = fn(xt)
        assert fn.tiles == fast
        y.backward(gy)
        results.append((host(y), host(xt.grad)))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][1], results[1][1])


@pytest.mark.parametrize("fast", [True, False])
def test_max_pool_routes_ties_to_the_first_maximum(backend, fast):
    x = np.array([[[[1.0, 1.0, 0.0, 2.0],
                    [1.0, 1.0, 2.0, 1.0],
                    [5.0, 3.0, -1.0, -1.0],
                    [5.0, 5.0, -1.0, -1.0]]]])
    xt = tensor(x)
    y = MaxPool2d((2, 2), (2, 2), (0, 0), fast=fast)(xt)
    np.testing.assert_array_equal(host(y), [[[[1.0, 2.0], [5.0, -1.0]]]])
    y.backward(tensor(np.array([[[[10.0, 20.0], [30.0, 40.0]]]]), requires_grad=False))
    np.testing.assert_array_equal(host(xt.grad), [[[[10.0, 0.0, 0.0, 20.0],     # first of the four 1s
                                                    [0.0, 0.0, 0.0, 0.0],       # first 2 in row-major order
                                                    [30.0, 0.0, 40.0, 0.0],
                                                    [0.0, 0.0, 0.0, 0.0]]]])


def test_overlapping_windows_add_their_gradients(backend):
    x = tensor(np.array([[[[0.0, 9.0, 0.0, 1.0]]]]))
    y = F.max_pool2d(x, (1, 2), stride=(1, 1))                            # windows share the 9
    y.backward(tensor(np.ones((1, 1, 1, 3)), requires_grad=False))
    np.testing.assert_array_equal(host(x.grad), [[[[0.0, 2.0, 0.0, 1.0]]]])


def test_pools_keep_float32(backend):
    for pool in (F.max_pool2d, F.avg_pool2d):
        x = tensor(np.arange(32.0).reshape(1, 2, 4, 4), dtype=np.float32)
        y = pool(x, 2)
        y.sum().backward()
        assert y.dtype == x.grad.dtype == np.float32


# --- against PyTorch -------------------------------------------------------------------------------
@settings(max_examples=20)
@given(g=conv_geometry(), bias=st.booleans(), seed=st.integers(0, 10_000))
def test_conv2d_forward_and_backward_match_torch(backend, conv_path, g, bias, seed):
    torch = pytest.importorskip("torch")
    xs, ws, stride, padding = g
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(xs), rng.standard_normal(ws)] + ([rng.standard_normal(ws[0])] if bias else [])
    ours = [tensor(a) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    y = F.conv2d(*ours, stride=stride, padding=padding)
    ty = torch.nn.functional.conv2d(*theirs, stride=stride, padding=padding)
    gy = rng.standard_normal(tuple(ty.shape))
    y.backward(tensor(gy, requires_grad=False))
    ty.backward(torch.tensor(gy))
    np.testing.assert_allclose(host(y), ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(host(a.grad), b.grad.numpy(), rtol=1e-12, atol=1e-12)


@settings(max_examples=20)
@given(g=pool_geometry(), seed=st.integers(0, 10_000), kind=st.sampled_from(["max", "avg"]),
       ties=st.booleans())
def test_pools_forward_and_backward_match_torch(backend, g, seed, kind, ties):
    torch = pytest.importorskip("torch")
    shape, k, s, p = g
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 3, shape).astype(float) if ties else rng.standard_normal(shape)
    ours, theirs = tensor(x), torch.tensor(x, requires_grad=True)
    y = (F.max_pool2d if kind == "max" else F.avg_pool2d)(ours, k, s, p)
    ty = (torch.nn.functional.max_pool2d if kind == "max" else torch.nn.functional.avg_pool2d)(theirs, k, s, p)
    gy = rng.standard_normal(tuple(ty.shape))
    y.backward(tensor(gy, requires_grad=False))
    ty.backward(torch.tensor(gy))
    np.testing.assert_allclose(host(y), ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(host(ours.grad), theirs.grad.numpy(), rtol=1e-12, atol=1e-12)
