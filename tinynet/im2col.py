"""im2col and col2im: turn a convolution into one matrix product.

Glossary (used in every docstring of the convolution and pooling code):

    N   batch size                 C   input channels           H, W    input height, width
    KH  kernel height              KW  kernel width             OC      output channels
    SH  stride along H             SW  stride along W           PH, PW  zero padding on each side
    OH = (H + 2·PH - KH) // SH + 1                             OW = (W + 2·PW - KW) // SW + 1

``im2col`` copies, for every output pixel (n, oh, ow), the C·KH·KW input values its kernel
window covers into one column:

    col[(c, i, j), (n, oh, ow)] = x_padded[n, c, oh·SH + i, ow·SW + j]        shape (C·KH·KW, N·OH·OW)

so the convolution of the whole batch is one matrix product,
weight (OC, C·KH·KW) @ col → (OC, N·OH·OW), a single large product that BLAS runs at full speed
(the batch sits in the columns, not in a loop of small products). Its result comes out
channel-major, (OC, N, OH, OW), and is transposed to (N, OC, OH, OW) by the conv op.

The copy loops over the KH·KW kernel offsets (9 for a 3×3 kernel); each step moves one strided
slice of the whole batch at once. The zero padding is never built as a padded copy of x: for
offset (i, j) only the output pixels whose input position lies inside x are copied, and the
few rows and columns of col that fall on the padding are set to zero.

``col2im`` is its adjoint: it adds every column entry back to the input position it was copied
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


def im2col(x, kernel_size, stride=(1, 1), padding=(0, 0)):
    """x (N, C, H, W) → col (C·KH·KW, N·OH·OW); see the module docstring."""
    xp = backend.array_module(x)
    N, C, H, W = x.shape
    (KH, KW), (SH, SW), (PH, PW) = kernel_size, stride, padding
    OH, OW = conv_output_size(H, KH, SH, PH), conv_output_size(W, KW, SW, PW)
    col = xp.empty((C, KH, KW, N, OH, OW), dtype=x.dtype)
    xc = x.transpose(1, 0, 2, 3)                        # (C, N, H, W): a view, no copy
    for i in range(KH):
        oh0, oh1, rows = _inside(i, H, OH, SH, PH)
        for j in range(KW):
            ow0, ow1, cols = _inside(j, W, OW, SW, PW)
            tap = col[:, i, j]                          # (C, N, OH, OW): offset (i, j) of every window
            tap[:, :, oh0:oh1, ow0:ow1] = xc[:, :, rows, cols]
            # what is left of this tap lies on the zero padding
            tap[:, :, :oh0] = 0
            tap[:, :, oh1:] = 0
            tap[:, :, oh0:oh1, :ow0] = 0
            tap[:, :, oh0:oh1, ow1:] = 0
    return col.reshape(C * KH * KW, N * OH * OW)


def col2im(col, input_shape, kernel_size, stride=(1, 1), padding=(0, 0)):
    """col (C·KH·KW, N·OH·OW) → x (N, C, H, W), adding overlapping contributions (adjoint of im2col)."""
    xp = backend.array_module(col)
    N, C, H, W = input_shape
    (KH, KW), (SH, SW), (PH, PW) = kernel_size, stride, padding
    OH, OW = conv_output_size(H, KH, SH, PH), conv_output_size(W, KW, SW, PW)
    col = col.reshape(C, KH, KW, N, OH, OW)
    x = xp.zeros((N, C, H, W), dtype=col.dtype)
    xc = x.transpose(1, 0, 2, 3)                        # (C, N, H, W) view: writes land in x
    for i in range(KH):
        oh0, oh1, rows = _inside(i, H, OH, SH, PH)
        for j in range(KW):
            ow0, ow1, cols = _inside(j, W, OW, SW, PW)
            xc[:, :, rows, cols] += col[:, i, j, :, oh0:oh1, ow0:ow1]
    return x
