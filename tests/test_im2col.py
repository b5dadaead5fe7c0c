"""im2col / col2im: the definition entry by entry, small examples by hand, and col2im as the
adjoint of im2col (⟨im2col(x), c⟩ = ⟨x, col2im(c)⟩), on every backend."""
import numpy as np
from hypothesis import given, settings, strategies as st

from tinynet import backend as B
from tinynet.im2col import col2im, conv_output_size, im2col


def on_backend(a, name):
    return B.to_backend(np.ascontiguousarray(a), name)


@st.composite
def geometry(draw):
    """(N, C, H, W), kernel, stride, padding with at least one output pixel; odd sizes included."""
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    ph, pw = draw(st.integers(0, 3)), draw(st.integers(0, 3))
    h = draw(st.integers(max(1, kh - 2 * ph), 7))
    w = draw(st.integers(max(1, kw - 2 * pw), 7))
    return (draw(st.integers(1, 3)), draw(st.integers(1, 3)), h, w), (kh, kw), (sh, sw), (ph, pw)


def reference_im2col(x, k, s, p):
    """col[(c, i, j), (n, oh, ow)] = x_padded[n, c, oh·SH + i, ow·SW + j], by loops."""
    N, C, H, W = x.shape
    OH, OW = conv_output_size(H, k[0], s[0], p[0]), conv_output_size(W, k[1], s[1], p[1])
    xpad = np.pad(x, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])))
    col = np.empty((C * k[0] * k[1], N * OH * OW))
    for c in range(C):
        for i in range(k[0]):
            for j in range(k[1]):
                for n in range(N):
                    for oh in range(OH):
                        for ow in range(OW):
                            col[(c * k[0] + i) * k[1] + j, (n * OH + oh) * OW + ow] = \
                                xpad[n, c, oh * s[0] + i, ow * s[1] + j]
    return col


@settings(max_examples=40)
@given(g=geometry(), seed=st.integers(0, 1000))
def test_im2col_matches_its_definition(backend, g, seed):
    shape, k, s, p = g
    x = np.random.default_rng(seed).standard_normal(shape)
    col = B.to_numpy(im2col(on_backend(x, backend), k, s, p))
    np.testing.assert_array_equal(col, reference_im2col(x, k, s, p))


@st.composite
def same_geometry(draw):
    """Stride 1 and OW = W (KW = 2·PW + 1): the shifted-copy fast path; any KH, PH."""
    pw, kh, ph = draw(st.integers(0, 2)), draw(st.integers(1, 4)), draw(st.integers(0, 3))
    h, w = draw(st.integers(max(1, kh - 2 * ph), 7)), draw(st.integers(1, 7))
    return (draw(st.integers(1, 3)), draw(st.integers(1, 3)), h, w), (kh, 2 * pw + 1), (1, 1), (ph, pw)


@settings(max_examples=40)
@given(g=same_geometry(), seed=st.integers(0, 1000))
def test_im2col_fast_path_matches_its_definition(backend, g, seed):
    shape, k, s, p = g
    x = np.random.default_rng(seed).standard_normal(shape)
    col = B.to_numpy(im2col(on_backend(x, backend), k, s, p))
    np.testing.assert_array_equal(col, reference_im2col(x, k, s, p))


@settings(max_examples=40)
@given(g=st.one_of(geometry(), same_geometry()), seed=st.integers(0, 1000), overwrite=st.booleans())
def test_col2im_is_the_adjoint_of_im2col(backend, g, seed, overwrite):
    shape, k, s, p = g
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    OH, OW = conv_output_size(shape[2], k[0], s[0], p[0]), conv_output_size(shape[3], k[1], s[1], p[1])
    c = rng.standard_normal((shape[1] * k[0] * k[1], shape[0] * OH * OW))
    col = B.to_numpy(im2col(on_backend(x, backend), k, s, p))
    c_backend = on_backend(c, backend)
    back = B.to_numpy(col2im(c_backend, shape, k, s, p, overwrite_col=overwrite))
    assert back.shape == shape
    lhs, rhs = float(np.sum(col * c)), float(np.sum(x * back))
    assert abs(lhs - rhs) <= 1e-10 * (1 + abs(lhs))
    if not overwrite:
        np.testing.assert_array_equal(B.to_numpy(c_backend), c)      # the input is left alone


def test_small_example_by_hand(backend):
    x = np.arange(1.0, 10.0).reshape(1, 1, 3, 3)          # [[1 2 3] [4 5 6] [7 8 9]]
    col = B.to_numpy(im2col(on_backend(x, backend), (2, 2)))
    # rows: kernel offsets (0,0) (0,1) (1,0) (1,1); columns: output pixels (0,0) (0,1) (1,0) (1,1)
    np.testing.assert_array_equal(col, [[1, 2, 4, 5],
                                        [2, 3, 5, 6],
                                        [4, 5, 7, 8],
                                        [5, 6, 8, 9]])
    # col2im of ones counts how many windows cover each pixel
    ones = on_backend(np.ones((4, 4)), backend)
    np.testing.assert_array_equal(B.to_numpy(col2im(ones, (1, 1, 3, 3), (2, 2)))[0, 0],
                                  [[1, 2, 1], [2, 4, 2], [1, 2, 1]])


def test_padding_stride_and_batch_by_hand(backend):
    x = np.stack([np.arange(1.0, 5.0).reshape(1, 2, 2), -np.arange(1.0, 5.0).reshape(1, 2, 2)])  # N=2, C=1
    col = B.to_numpy(im2col(on_backend(x, backend), (3, 3), stride=(2, 2), padding=(1, 1)))
    # 2x2 image [[1 2] [3 4]], padded to 4x4, one 3x3 window at (0, 0) per image: its 9 values
    assert col.shape == (9, 2)
    np.testing.assert_array_equal(col[:, 0], [0, 0, 0, 0, 1, 2, 0, 3, 4])
    np.testing.assert_array_equal(col[:, 1], -col[:, 0])
    back = B.to_numpy(col2im(on_backend(col, backend), x.shape, (3, 3), (2, 2), (1, 1)))
    np.testing.assert_array_equal(back, x)                 # each pixel is in exactly one window


def test_a_kernel_row_entirely_on_the_padding_is_zero(backend):
    # H = 1, kernel 5, padding 2, stride 3: offsets 0, 1, 3 and 4 only ever see padding
    x = np.full((1, 1, 1, 1), 7.0)
    col = B.to_numpy(im2col(on_backend(x, backend), (5, 1), (3, 1), (2, 0)))
    np.testing.assert_array_equal(col[:, 0], [0, 0, 7, 0, 0])
    back = B.to_numpy(col2im(on_backend(np.arange(5.0)[:, None], backend), x.shape, (5, 1), (3, 1), (2, 0)))
    np.testing.assert_array_equal(back, [[[[2.0]]]])


def test_float32_stays_float32(backend):
    x = on_backend(np.ones((2, 3, 5, 5), dtype=np.float32), backend)
    col = im2col(x, (3, 3), (1, 1), (1, 1))
    assert col.dtype == np.float32
    assert col2im(col, (2, 3, 5, 5), (3, 3), (1, 1), (1, 1)).dtype == np.float32
