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

    With col = im2col(x) (C·KH·KW, N·OH·OW) and w2 = w.reshape(OC, C·KH·KW):
    Forward:  y = w2 @ col + b, one matrix product (OC, N·OH·OW), then viewed as (N, OC, OH, OW).
    Backward, with dy as dy2 (OC, N·OH·OW):
              dw = dy2 @ colᵀ;   db = Σ_{n,oh,ow} dy;   dx = col2im(w2ᵀ @ dy2).
    Each gradient is computed only if that input needs one (a frozen layer skips dw and db; the
    first layer, whose input is data, skips w2ᵀ @ dy2 and col2im).
    """
    def __init__(self, stride, padding):
        self.stride, self.padding = stride, padding

    def forward(self, x, w, b=None):
        xp = backend.array_module(x)
        N, C, H, W = x.shape
        OC, _, KH, KW = w.shape
        (SH, SW), (PH, PW) = self.stride, self.padding
        OH, OW = (H + 2 * PH - KH) // SH + 1, (W + 2 * PW - KW) // SW + 1
        self.x_shape, self.w_shape = x.shape, w.shape
        self.col = im2col(x, (KH, KW), self.stride, self.padding)        # (C·KH·KW, N·OH·OW)
        self.w2 = w.reshape(OC, -1)                                        # (OC, C·KH·KW)
        y = self.w2 @ self.col                                             # (OC, N·OH·OW)
        if b is not None:
            y += b.reshape(OC, 1)
        # (OC, N, OH, OW) → (N, OC, OH, OW), copied so that later ops see the usual memory order
        return xp.ascontiguousarray(y.reshape(OC, N, OH, OW).transpose(1, 0, 2, 3))

    def backward(self, gy):
        xp = backend.array_module(gy)
        N, OC = gy.shape[:2]
        gy2 = xp.ascontiguousarray(gy.transpose(1, 0, 2, 3)).reshape(OC, -1)   # (OC, N·OH·OW)
        gx = gw = gb = None
        if self.needs_input_grad[0]:
            gcol = self.w2.T @ gy2                                         # (C·KH·KW, N·OH·OW)
            gx = col2im(gcol, self.x_shape, self.w_shape[2:], self.stride, self.padding)
        if self.needs_input_grad[1]:
            gw = (gy2 @ self.col.T).reshape(self.w_shape)                  # Σ over all (n, oh, ow)
        if len(self.needs_input_grad) > 2 and self.needs_input_grad[2]:
            gb = gy2.sum(axis=1)
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
