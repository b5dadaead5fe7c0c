"""im2col and col2im: turn a convolution into one matrix product.

Glossary (used in every docstring of the convolution and pooling code):

    N   batch size                 C   input channels           H, W    input height, width
    KH  kernel height              KW  kernel width             OC      output channels
    SH  stride along H             SW  stride along W           PH, PW  zero padding on each side
    OH = (H + 2·PH - KH) // SH + 1                             OW = (W + 2·PW - KW) // SW + 1

``im2col`` copies, for every output pixel (n, oh, ow), the C·KH·KW input values its kernel
window covers into one column:

    col[(c, i, j), (n, oh, ow)] = x_padded[n, c, oh·SH + i, ow·SW + j]        shape (C·KH·KW, N·OH·OW)

so the convolution of the whole batch is one matrix product, weight (OC, C·KH·KW) @ col →
(OC, N·OH·OW) (see ``tinynet.ops.conv`` for how the batch axis is brought to the front).

The copy loops over the KH·KW kernel offsets (9 for a 3×3 kernel); each step moves one strided
slice of the whole batch at once: for offset (i, j), the "tap" col[(c, i, j), :] is x_padded
shifted by (i, j). The zero padding is never built as a padded copy of x: only the output
pixels whose input position lies inside x are copied, and the entries that fall on the padding
are set to zero.

Fast path, for stride 1 and OW = W (a "same" convolution such as 3×3 with padding 1): flatten
each image row-major, pixel (h, w) at h·W + w. Output pixel m = oh·W + ow then reads, at offset
(i, j), input pixel (oh + i - PH)·W + (ow + j - PW) = m + s with s = (i - PH)·W + (j - PW): the
whole tap is the flat image shifted by s, one long contiguous copy per (c, n) instead of OH
short row copies. Where ow + j - PW falls off the left or right edge, the shifted read wraps
into the neighbouring row; those output columns lie on the padding and are zeroed afterwards.

``col2im`` is the adjoint: it adds every column entry back to the input position it was copied
from (positions covered by several windows get the sum; entries that came from the padding are
dropped), which is exactly the backward pass of im2col.
"""
from . import backend


def conv_output_size(size, kernel, stride, padding):
    """OH = (H + 2·PH - KH) // SH + 1 (and the same for widths)."""
    return (size + 2 * padding - kernel) // stride + 1


def _inside(offset, size, out_size, stride, padding):
    """For kernel offset i along one axis: the output range [o0, o1) whose input position
    o·S + i - P lies inside [0, size), and the input slice those outputs read."""
    o0 = max(0, -(-(padding - offset) // stride))                   # ceil((P - i) / S)
    o1 = min(out_size, (size - 1 + padding - offset) // stride + 1)
    if o1 <= o0:
        return 0, 0, slice(0, 0)
    start = o0 * stride + offset - padding
    return o0, o1, slice(start, start + (o1 - o0 - 1) * stride + 1, stride)


def _is_shift(W, OW, stride):
    """The fast path applies: every tap is the flat image shifted (stride 1, OW = W)."""
    return tuple(stride) == (1, 1) and OW == W


def _shifted_range(s, L_out, L_in):
    """Flat output positions m in [lo, hi) whose input m + s lies inside [0, L_in)."""
    return max(0, -s), max(max(0, -s), min(L_out, L_in - s))


def _wrapped_columns(tap, dw):
    """The output columns of a shifted tap (…, OH, OW) whose read wrapped to the neighbouring
    row: the first -dw columns when dw = j - PW < 0, the last dw when dw > 0."""
    OW = tap.shape[-1]
    return tap[..., :-dw] if dw < 0 else tap[..., OW - dw:] if dw > 0 else None


def im2col(x, kernel_size, stride=(1, 1), padding=(0, 0)):
    """x (N, C, H, W) → col (C·KH·KW, N·OH·OW); see the module docstring."""
    xp = backend.array_module(x)
    N, C, H, W = x.shape
    (KH, KW), (SH, SW), (PH, PW) = kernel_size, stride, padding
    OH, OW = conv_output_size(H, KH, SH, PH), conv_output_size(W, KW, SW, PW)
    col = xp.empty((C, KH, KW, N, OH * OW), dtype=x.dtype)
    shift = _is_shift(W, OW, stride)
    xc = x.transpose(1, 0, 2, 3)                                     # (C, N, H, W), a view
    if shift:
        xflat = x.reshape(N, C, H * W).transpose(1, 0, 2)            # (C, N, H·W)
    for i in range(KH):
        for j in range(KW):
            tap = col[:, i, j]                                       # (C, N, OH·OW): offset (i, j) of every window
            tap2d = tap.reshape(C, N, OH, OW)                        # the same memory, rows and columns apart
            if shift:
                s = (i - PH) * W + (j - PW)
                lo, hi = _shifted_range(s, OH * OW, H * W)
                tap[:, :, lo:hi] = xflat[:, :, lo + s:hi + s]
                tap[:, :, :lo] = 0                                   # rows above or below the image
                tap[:, :, hi:] = 0
                wrapped = _wrapped_columns(tap2d, j - PW)
                if wrapped is not None:
                    wrapped[...] = 0
            else:
                oh0, oh1, rows = _inside(i, H, OH, SH, PH)
                ow0, ow1, cols = _inside(j, W, OW, SW, PW)
                tap2d[:, :, oh0:oh1, ow0:ow1] = xc[:, :, rows, cols]
                tap2d[:, :, :oh0] = 0                                # the rest lies on the padding
                tap2d[:, :, oh1:] = 0
                tap2d[:, :, oh0:oh1, :ow0] = 0
                tap2d[:, :, oh0:oh1, ow1:] = 0
    return col.reshape(C * KH * KW, N * OH * OW)


def col2im(col, input_shape, kernel_size, stride=(1, 1), padding=(0, 0), overwrite_col=False):
    """col (C·KH·KW, N·OH·OW) → x (N, C, H, W), adding overlapping contributions (adjoint of im2col).
    (col may also come as (C·KH·KW, N, OH·OW), e.g. a transposed view: only its elements matter.)

    ``overwrite_col=True`` lets the fast path zero the wrapped entries of ``col`` in place
    instead of working around them (the conv backward passes its own scratch array).
    """
    xp = backend.array_module(col)
    N, C, H, W = input_shape
    (KH, KW), (SH, SW), (PH, PW) = kernel_size, stride, padding
    OH, OW = conv_output_size(H, KH, SH, PH), conv_output_size(W, KW, SW, PW)
    col = col.reshape(C, KH, KW, N, OH * OW)
    x = xp.zeros((N, C, H, W), dtype=col.dtype)
    shift = overwrite_col and _is_shift(W, OW, stride)
    xflat = x.reshape(N, C, H * W).transpose(1, 0, 2)                # views: writes land in x
    xc = x.transpose(1, 0, 2, 3)
    for i in range(KH):
        for j in range(KW):
            tap = col[:, i, j]
            if shift:                                                # the same shifts as in im2col
                wrapped = _wrapped_columns(tap.reshape(C, N, OH, OW), j - PW)
                if wrapped is not None:
                    wrapped[...] = 0                                 # they came from the padding
                s = (i - PH) * W + (j - PW)
                lo, hi = _shifted_range(s, OH * OW, H * W)
                xflat[:, :, lo + s:hi + s] += tap[:, :, lo:hi]
            else:
                oh0, oh1, rows = _inside(i, H, OH, SH, PH)
                ow0, ow1, cols = _inside(j, W, OW, SW, PW)
                xc[:, :, rows, cols] += tap.reshape(C, N, OH, OW)[:, :, oh0:oh1, ow0:ow1]
    return x
