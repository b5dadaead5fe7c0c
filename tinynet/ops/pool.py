"""Max and average pooling over KH×KW windows (symbols as in ``tinynet.im2col``).

Both loop over the KH·KW window offsets, never over pixels: for offset (i, j) the strided slice
x_pad[:, :, i::SH, j::SW] holds that element of every window at once.
"""
from .. import backend
from ..im2col import conv_output_size
from ..tensor import Function


def _window(a, i, j, OH, OW, SH, SW):
    """Element (i, j) of every window: a[:, :, i + oh·SH, j + ow·SW] for all (oh, ow)."""
    return a[:, :, i:i + SH * OH:SH, j:j + SW * OW:SW]


def _separable_max(xp, xpad, OH, OW, kernel_size, stride):
    """The window maximum without its position, in two passes: a max is separable,
        y[n, c, oh, ow] = max_j ( max_i x_pad[n, c, oh·SH + i, ow·SW + j] ),
    so first the KH rows of every window are combined (whole rows: contiguous, the fast case),
    (N, C, Hp, Wp) → (N, C, OH, Wp), then the KW columns, → (N, C, OH, OW): KH + KW passes over
    ever smaller arrays instead of KH·KW strided ones. (NaN still propagates.)"""
    (KH, KW), (SH, SW) = kernel_size, stride
    rows = xpad[:, :, 0:SH * OH:SH]
    rows = rows.copy() if KH == 1 else xp.maximum(rows, xpad[:, :, 1:1 + SH * OH:SH])
    for i in range(2, KH):
        xp.maximum(rows, xpad[:, :, i:i + SH * OH:SH], out=rows)
    y = rows[..., 0:SW * OW:SW].copy()
    for j in range(1, KW):
        xp.maximum(y, rows[..., j:j + SW * OW:SW], out=y)
    return y


class MaxPool2d(Function):
    """y[n, c, oh, ow] = max_{i,j} x_pad[n, c, oh·SH + i, ow·SW + j]   (padding is -∞).

    Forward keeps, for every window, the offset k = i·KW + j of its maximum (``self.arg``): the
    running maximum is updated offset by offset and k is recorded where an offset is strictly
    bigger than all before it, so ties keep the first maximum (row-major order inside the
    window, as in PyTorch). Backward sends each dy to that position; overlapping windows add up.

    Fast path when the windows tile the input (stride = kernel, no padding, H and W divisible):
    every input position lies in exactly one window, so backward *writes* each offset's gradient
    once, with no zero-filled buffer to add into and no padded copy. ``fast=False`` forces the
    general path (the tests compare the two).

    In inference (no input needs a gradient) no position is kept, and the maximum is taken rows
    first, then columns (``_separable_max``): the same values in about a third less time.
    """
    def __init__(self, kernel_size, stride, padding, fast=True):
        self.k, self.s, self.p, self.allow_fast = kernel_size, stride, padding, fast

    def forward(self, x):
        xp = backend.array_module(x)
        (KH, KW), (SH, SW), (PH, PW) = self.k, self.s, self.p
        N, C, H, W = self.x_shape = x.shape
        OH, OW = conv_output_size(H, KH, SH, PH), conv_output_size(W, KW, SW, PW)
        self.tiles = self.allow_fast and (KH, KW) == (SH, SW) and PH == PW == 0 and H % KH == 0 and W % KW == 0
        if PH or PW:
            xpad = xp.full((N, C, H + 2 * PH, W + 2 * PW), -xp.inf, dtype=x.dtype)
            xpad[:, :, PH:PH + H, PW:PW + W] = x
        else:
            xpad = x
        if not any(self.needs_input_grad):     # no backward to come (inference): no arg to keep
            self.arg = None
            return _separable_max(xp, xpad, OH, OW, self.k, self.s)
        y = _window(xpad, 0, 0, OH, OW, SH, SW).copy()
        arg = self.arg = xp.zeros(y.shape, dtype=xp.int8 if KH * KW < 128 else xp.int32)
        for k in range(1, KH * KW):
            # a contiguous copy first: the compare and max below then run several times faster
            # than on the strided view (on NumPy, by more than the copy costs)
            v = xp.ascontiguousarray(_window(xpad, k // KW, k % KW, OH, OW, SH, SW))
            bigger = v > y                      # strictly greater: ties keep the earlier offset
            # arg = k where bigger, else unchanged; as k only grows this is max(arg, k·bigger),
            # which is far cheaper than the masked assignment arg[bigger] = k
            xp.maximum(arg, bigger * arg.dtype.type(k), out=arg)
            xp.maximum(y, v, out=y)             # (NaN propagates, as in PyTorch)
        return y

    def backward(self, gy):
        xp = backend.array_module(gy)
        (KH, KW), (SH, SW), (PH, PW) = self.k, self.s, self.p
        N, C, H, W = self.x_shape
        OH, OW = gy.shape[2:]
        if self.tiles:
            gx = xp.empty((N, C, H, W), dtype=gy.dtype)
            for k in range(KH * KW):             # offset k of every window gets dy where k won, else 0
                _window(gx, k // KW, k % KW, OH, OW, SH, SW)[...] = gy * (self.arg == k)
            return gx
        # rows/columns past the last window get no gradient; the +SH-1 keeps every slice in range
        gpad = xp.zeros((N, C, H + 2 * PH + SH - 1, W + 2 * PW + SW - 1), dtype=gy.dtype)
        for k in range(KH * KW):
            _window(gpad, k // KW, k % KW, OH, OW, SH, SW)[...] += gy * (self.arg == k)
        return gpad[:, :, PH:PH + H, PW:PW + W]


class AvgPool2d(Function):
    """y[n, c, oh, ow] = (1 / (KH·KW)) Σ_{i,j} x_pad[n, c, oh·SH + i, ow·SW + j]   (zero padding,
    counted in the divisor, as PyTorch's default ``count_include_pad=True``).

    Backward: each dy is shared equally, dy / (KH·KW), by the KH·KW positions of its window.
    """
    def __init__(self, kernel_size, stride, padding):
        self.k, self.s, self.p = kernel_size, stride, padding

    def forward(self, x):
        xp = backend.array_module(x)
        (KH, KW), (SH, SW), (PH, PW) = self.k, self.s, self.p
        N, C, H, W = self.x_shape = x.shape
        OH, OW = conv_output_size(H, KH, SH, PH), conv_output_size(W, KW, SW, PW)
        if PH or PW:
            xpad = xp.zeros((N, C, H + 2 * PH, W + 2 * PW), dtype=x.dtype)
            xpad[:, :, PH:PH + H, PW:PW + W] = x
        else:
            xpad = x
        y = xp.zeros((N, C, OH, OW), dtype=x.dtype)
        for i in range(KH):
            for j in range(KW):
                y += _window(xpad, i, j, OH, OW, SH, SW)
        return y / (KH * KW)

    def backward(self, gy):
        xp = backend.array_module(gy)
        (KH, KW), (SH, SW), (PH, PW) = self.k, self.s, self.p
        N, C, H, W = self.x_shape
        OH, OW = gy.shape[2:]
        g = gy / (KH * KW)
        gpad = xp.zeros((N, C, H + 2 * PH + SH - 1, W + 2 * PW + SW - 1), dtype=gy.dtype)
        for i in range(KH):
            for j in range(KW):
                _window(gpad, i, j, OH, OW, SH, SW)[...] += g
        return gpad[:, :, PH:PH + H, PW:PW + W]


def _pool_args(name, x, kernel_size, stride, padding):
    pair = lambda v: (v, v) if isinstance(v, int) else tuple(v)  # noqa: E731
    k = pair(kernel_size)
    s = k if stride is None else pair(stride)
    p = pair(padding)
    if x.ndim != 4:
        raise ValueError(f"{name}: expected input of shape (N, C, H, W), got {x.shape}")
    if min(k) < 1 or min(s) < 1 or min(p) < 0:
        raise ValueError(f"{name}: kernel_size and stride must be >= 1 and padding >= 0, got {k}, {s}, {p}")
    if p[0] * 2 > k[0] or p[1] * 2 > k[1]:
        raise ValueError(f"{name}: padding {p} should be at most half of kernel_size {k}")
    if x.shape[2] + 2 * p[0] < k[0] or x.shape[3] + 2 * p[1] < k[1]:
        raise ValueError(f"{name}: input of spatial size {x.shape[2]}x{x.shape[3]} is smaller than the window {k}")
    return k, s, p


def max_pool2d(x, kernel_size, stride=None, padding=0):
    """Max over KH×KW windows of x (N, C, H, W); ``stride`` defaults to ``kernel_size``."""
    return MaxPool2d(*_pool_args("max_pool2d", x, kernel_size, stride, padding))(x)


def avg_pool2d(x, kernel_size, stride=None, padding=0):
    """Mean over KH×KW windows of x (N, C, H, W); ``stride`` defaults to ``kernel_size``."""
    return AvgPool2d(*_pool_args("avg_pool2d", x, kernel_size, stride, padding))(x)
