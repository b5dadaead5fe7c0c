"""2-D convolution (cross-correlation, as in every framework) by im2col and one matrix product.

Note for lessons: deep-learning "convolution" does not flip the kernel,
    y[n, o, oh, ow] = b[o] + Σ_{c,i,j} w[o, c, i, j] · x_pad[n, c, oh·SH + i, ow·SW + j],
which mathematicians call cross-correlation. (A true convolution would use w[o, c, KH-1-i, KW-1-j].)
"""
from .. import backend
from ..im2col import im2col, col2im
from ..tensor import Function


class Conv2d(Function):
    """y = conv2d(x, w, b).   x (N, C, H, W), w (OC, C, KH, KW), b (OC,) → y (N, OC, OH, OW).

    With col = im2col(x) (K, N·L), K = C·KH·KW, L = OH·OW, and w2 = w.reshape(OC, K):
    Forward:  y = w2 @ col + b   (OC, N·L), the batch brought to the front: (N, OC, OH, OW).
    Backward, with dy as dy2 (OC, N·L):
              dw = dy2 @ colᵀ;   db = Σ_{n,oh,ow} dy;   dx = col2im(w2ᵀ @ dy2).
    Each gradient is computed only if that input needs one (a frozen layer skips dw and db; the
    first layer, whose input is data, skips w2ᵀ @ dy2 and col2im).

    The same products are computed in one of two ways, by the number of rows K of col:
    - K > SMALL_K: one large product (OC, K) @ (K, N·L) per formula, which BLAS runs at full
      speed on all its threads; the batch axis is moved to the front by one copy of y (and of
      dy in backward).
    - K ≤ SMALL_K (e.g. the first layer on 1-channel images, K = 9): the products are bound by
      memory, not arithmetic, and those copies would cost more than the products. Per-image
      products, y[n] = w2 @ col[:, n] and dw = Σₙ dy[n] @ col[:, n]ᵀ, read and write (N, OC, L)
      directly, with no copy. The bias rides along as one more row of col, all ones, whose
      weight is b: y = [w2 | b] @ [col ; 1], so no second pass over y adds it, and its gradient
      db = Σ dy comes out of the dw product as that row's column.
    """
    SMALL_K = 32

    def __init__(self, stride, padding):
        self.stride, self.padding = stride, padding

    def forward(self, x, w, b=None):
        xp = backend.array_module(x)
        N, C, H, W = x.shape
        OC, _, KH, KW = w.shape
        (SH, SW), (PH, PW) = self.stride, self.padding
        OH, OW = (H + 2 * PH - KH) // SH + 1, (W + 2 * PW - KW) // SW + 1
        self.x_shape, self.w_shape = x.shape, w.shape
        K, L = C * KH * KW, OH * OW
        col = self.col = im2col(x, (KH, KW), self.stride, self.padding)  # (K, N·L)
        w2 = self.w2 = w.reshape(OC, K)
        self.per_image = K <= self.SMALL_K
        self.bias_row = self.per_image and b is not None
        if self.per_image:
            if self.bias_row:   # b as the weight of a constant input 1: [w2 | b] @ [col ; 1] = w2 @ col + b
                col = self.col = xp.concatenate([col, xp.ones((1, N * L), dtype=col.dtype)])
                w2 = xp.concatenate([w2, b.reshape(OC, 1).astype(w2.dtype, copy=False)], axis=1)
            y = w2 @ col.reshape(len(col), N, L).transpose(1, 0, 2)        # (N, OC, L): N products
        else:
            yt = (w2 @ col).reshape(OC, N, L).transpose(1, 0, 2)           # (N, OC, L) view of (OC, N, L)
            y = xp.empty(yt.shape, dtype=yt.dtype)
            if b is not None:
                xp.add(yt, b.reshape(OC, 1), out=y)                        # the copy and the bias in one pass
            else:
                y[...] = yt
        return y.reshape(N, OC, OH, OW)

    def backward(self, gy):
        xp = backend.array_module(gy)
        N, OC, OH, OW = gy.shape
        K, L = self.w2.shape[1], OH * OW
        need_x, need_w = self.needs_input_grad[:2]
        need_b = len(self.needs_input_grad) > 2 and self.needs_input_grad[2]
        gx = gw = gb = None
        if self.per_image:
            gy3 = gy.reshape(N, OC, L)
            col3 = self.col.reshape(len(self.col), N, L)                   # K (+ 1 for the bias row) rows
            if need_w:
                gw = (gy3 @ col3.transpose(1, 2, 0)).sum(axis=0)           # Σₙ dy[n] @ col[:, n]ᵀ
                if self.bias_row:                                          # the ones row's weight is b:
                    gw, gb = gw[:, :K], (gw[:, K] if need_b else None)     # its gradient is Σ dy, for free
            if need_b and gb is None:
                gb = gy3.sum(axis=(0, 2))
            if need_x:
                gcol = (self.w2.T @ gy3).transpose(1, 0, 2)                # (K, N, L) view of (N, K, L)
        else:
            gy2 = xp.ascontiguousarray(gy.reshape(N, OC, L).transpose(1, 0, 2)).reshape(OC, N * L)
            if need_w:                                                     # Σ over all (n, oh, ow), as
                gw = (self.col @ gy2.T).T                                  # (col @ dy2ᵀ)ᵀ: faster in OpenBLAS
            if need_b:
                gb = gy2.sum(axis=1)
            if need_x:
                gcol = self.w2.T @ gy2                                     # (K, N·L)
        if need_x:
            gx = col2im(gcol, self.x_shape, self.w_shape[2:], self.stride, self.padding, overwrite_col=True)
        if gw is not None:
            gw = gw.reshape(self.w_shape)
        return gx, gw, gb


def _pair(v, name):
    if isinstance(v, int):
        return (v, v)
    if isinstance(v, (tuple, list)) and len(v) == 2 and all(isinstance(i, int) for i in v):
        return tuple(v)
    raise TypeError(f"conv2d: {name} must be an int or a pair of ints, got {v!r}")


def conv2d(x, weight, bias=None, stride=1, padding=0):
    """Convolve x (N, C, H, W) with weight (OC, C, KH, KW) (+ bias (OC,)) → (N, OC, OH, OW)."""
    stride, padding = _pair(stride, "stride"), _pair(padding, "padding")
    if x.ndim != 4:
        raise ValueError(f"conv2d: expected input of shape (N, C, H, W), got {x.shape}")
    if weight.ndim != 4:
        raise ValueError(f"conv2d: expected weight of shape (OC, C, KH, KW), got {weight.shape}")
    if x.shape[1] != weight.shape[1]:
        raise ValueError(f"conv2d: input has {x.shape[1]} channels (shape {x.shape}) but the weight "
                         f"{weight.shape} expects {weight.shape[1]}")
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ValueError(f"conv2d: bias must have shape ({weight.shape[0]},), got {bias.shape}")
    if min(stride) < 1 or min(padding) < 0:
        raise ValueError(f"conv2d: stride must be >= 1 and padding >= 0, got stride={stride}, padding={padding}")
    H, W = x.shape[2] + 2 * padding[0], x.shape[3] + 2 * padding[1]
    if H < weight.shape[2] or W < weight.shape[3]:
        raise ValueError(f"conv2d: input of spatial size {x.shape[2]}x{x.shape[3]} (padded {H}x{W}) is "
                         f"smaller than the kernel {weight.shape[2]}x{weight.shape[3]}")
    fn = Conv2d(stride, padding)
    return fn(x, weight) if bias is None else fn(x, weight, bias)
