"""im2col and col2im: turn a convolution into one matrix product.

Glossary (used in every docstring of the convolution and pooling code):

    N   batch size                 C   input channels           H, W    input height, width
    KH  kernel height              KW  kernel width             OC      output channels
    SH  stride along H             SW  stride along W           PH, PW  zero padding on each side
    OH = (H + 2·PH - KH) // SH + 1                             OW = (W + 2·PW - KW) // SW + 1

``im2col`` copies, for every output pixel (oh, ow), the C·KH·KW input values its kernel window
covers into one column:

    col[n, (c, i, j), (oh, ow)] = x_padded[n, c, oh·SH + i, ow·SW + j]        shape (N, C·KH·KW, OH·OW)

so the convolution is a single (batched) matrix product, weight (OC, C·KH·KW) @ col → (N, OC, OH·OW),
which is already in (N, OC, OH, OW) order: no transpose is needed afterwards.

The copy loops over the KH·KW kernel offsets (9 for a 3×3 kernel); each step moves one strided
slice of the whole batch at once. ``col2im`` is its adjoint: it adds every column entry back to
the input position it was copied from (positions covered by several windows get the sum), which
is exactly the backward pass of im2col.
"""
from . import backend


def conv_output_size(size, kernel, stride, padding):
    """OH = (H + 2·PH - KH) // SH + 1 (and the same for widths)."""
    return (size + 2 * padding - kernel) // stride + 1


def im2col(x, kernel_size, stride=(1, 1), padding=(0, 0)):
    """x (N, C, H, W) → col (N, C·KH·KW, OH·OW); see the module docstring."""
    xp = backend.array_module(x)
    N, C, H, W = x.shape
    (KH, KW), (SH, SW), (PH, PW) = kernel_size, stride, padding
    OH, OW = conv_output_size(H, KH, SH, PH), conv_output_size(W, KW, SW, PW)
    if PH or PW:
        xpad = xp.zeros((N, C, H + 2 * PH, W + 2 * PW), dtype=x.dtype)
        xpad[:, :, PH:PH + H, PW:PW + W] = x
    else:
        xpad = x
    col = xp.empty((N, C, KH, KW, OH, OW), dtype=x.dtype)
    for i in range(KH):
        for j in range(KW):
            col[:, :, i, j] = xpad[:, :, i:i + SH * OH:SH, j:j + SW * OW:SW]
    return col.reshape(N, C * KH * KW, OH * OW)


def col2im(col, input_shape, kernel_size, stride=(1, 1), padding=(0, 0)):
    """col (N, C·KH·KW, OH·OW) → x (N, C, H, W), adding overlapping contributions (adjoint of im2col)."""
    xp = backend.array_module(col)
    N, C, H, W = input_shape
    (KH, KW), (SH, SW), (PH, PW) = kernel_size, stride, padding
    OH, OW = conv_output_size(H, KH, SH, PH), conv_output_size(W, KW, SW, PW)
    col = col.reshape(N, C, KH, KW, OH, OW)
    # rows/columns past the last window get no gradient; the +SH-1 keeps every slice in range
    xpad = xp.zeros((N, C, H + 2 * PH + SH - 1, W + 2 * PW + SW - 1), dtype=col.dtype)
    for i in range(KH):
        for j in range(KW):
            xpad[:, :, i:i + SH * OH:SH, j:j + SW * OW:SW] += col[:, :, i, j]
    return xpad[:, :, PH:PH + H, PW:PW + W]
