"""Activations: ReLU, sigmoid, tanh, softmax and log-softmax, all numerically stable."""
from .. import backend
from ..tensor import Function


class ReLU(Function):
    """y = max(x, 0).   dy/dx = 1 where x > 0, else 0 (0 at x = 0, as in PyTorch)."""
    def forward(self, x):
        if self.needs_input_grad[0]:  # the mask is for backward: not kept in inference
            self.mask = x > 0
        return backend.array_module(x).maximum(x, 0)   # keeps the dtype; relu(-inf) = 0, not -inf·0 = nan

    def backward(self, gy):
        return gy * self.mask


class Sigmoid(Function):
    """y = 1 / (1 + e⁻ˣ).   dy/dx = y (1 - y).

    Computed with e = e^-|x| ≤ 1, which never overflows: y = 1/(1+e) for x ≥ 0, e/(1+e) for x < 0.
    """
    def forward(self, x):
        xp = backend.array_module(x)
        e = xp.exp(-xp.abs(x))
        self.y = xp.where(x >= 0, 1, e) / (1 + e)
        return self.y

    def backward(self, gy):
        return gy * self.y * (1 - self.y)


class Tanh(Function):
    """y = tanh x.   dy/dx = 1 - y²."""
    def forward(self, x):
        self.y = backend.array_module(x).tanh(x)
        return self.y

    def backward(self, gy):
        return gy * (1 - self.y * self.y)


def _log_softmax(x, axis):
    """log softmax(x) = x - m - log Σ e^(x - m), with m = max x: e^(x - m) ≤ 1 never overflows."""
    xp = backend.array_module(x)
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))


class Softmax(Function):
    """yᵢ = e^xᵢ / Σⱼ e^xⱼ along ``axis``.   dx = y ⊙ (dy - Σⱼ dyⱼ yⱼ)."""
    def __init__(self, axis):
        self.axis = axis

    def forward(self, x):
        self.y = backend.array_module(x).exp(_log_softmax(x, self.axis))
        return self.y

    def backward(self, gy):
        y = self.y
        return y * (gy - (gy * y).sum(axis=self.axis, keepdims=True))


class LogSoftmax(Function):
    """yᵢ = xᵢ - log Σⱼ e^xⱼ along ``axis``.   dx = dy - softmax(x) · Σⱼ dyⱼ."""
    def __init__(self, axis):
        self.axis = axis

    def forward(self, x):
        self.y = _log_softmax(x, self.axis)
        return self.y

    def backward(self, gy):
        xp = backend.array_module(gy)
        return gy - xp.exp(self.y) * gy.sum(axis=self.axis, keepdims=True)


def relu(x): return ReLU()(x)
def sigmoid(x): return Sigmoid()(x)
def tanh(x): return Tanh()(x)
def softmax(x, axis=-1, *, dim=None): return Softmax(axis if dim is None else dim)(x)            # dim: PyTorch's name
def log_softmax(x, axis=-1, *, dim=None): return LogSoftmax(axis if dim is None else dim)(x)
