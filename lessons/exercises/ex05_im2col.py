"""Exercise 05 · im2col: a convolution as one matrix product             (lesson 04)

x (N, C, H, W); a KH×KW kernel; stride (SH, SW); zero padding (PH, PW) on each side.

    OH = (H + 2·PH − KH) // SH + 1,        OW = (W + 2·PW − KW) // SW + 1

im2col copies, for every output position (oh, ow), the C·KH·KW input values its window
covers into one column:

    col[n, (c, i, j), (oh, ow)] = x_padded[n, c, oh·SH + i, ow·SW + j]

The result has shape (N, C·KH·KW, OH·OW); rows are ordered c, then i, then j (C order), and
columns oh, then ow. With it, conv2d(x, w) for w (OC, C, KH, KW) is
``w.reshape(OC, -1) @ col``, reshaped to (N, OC, OH, OW).

Loop over pixels if you like; the fast way loops over the KH·KW kernel offsets only and copies a
strided slice x_padded[:, :, i : i + SH·OH : SH, j : j + SW·OW : SW] of the whole batch at once.

Fill in each ``# TODO`` and remove the ``raise NotImplementedError`` under it. Check your work:

    tinynet check lessons/exercises/ex05_im2col.py
"""
import numpy as np

EXERCISE = "im2col"


def pair(v):
    """3 → (3, 3); (2, 3) stays (2, 3)."""
    return (v, v) if isinstance(v, int) else tuple(v)


def im2col(x, kernel_size, stride=1, padding=0):
    """x (N, C, H, W) → col (N, C·KH·KW, OH·OW), as described above."""
    (KH, KW), (SH, SW), (PH, PW) = pair(kernel_size), pair(stride), pair(padding)
    N, C, H, W = x.shape
    # TODO: compute OH and OW, pad x with zeros, and fill col
    raise NotImplementedError


if __name__ == "__main__":
    from tinynet.check import main
    raise SystemExit(main([__file__]))
