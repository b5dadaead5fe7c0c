"""Inverted dropout: zero each element with probability p and scale the rest by 1/(1-p)."""
from .. import random
from ..tensor import Function


class Dropout(Function):
    """y = x ⊙ m / (1 - p) with m ~ Bernoulli(1 - p), so E[y] = x and eval mode needs no rescaling.

    dy/dx = m / (1 - p): the same mask scales the gradient.
    """
    def __init__(self, p):
        self.p = p

    def forward(self, x):
        keep = random.uniform(x.shape, like=x) >= self.p
        self.scale = keep.astype(x.dtype) * (1.0 / (1.0 - self.p)) if self.p < 1 else keep.astype(x.dtype)
        return x * self.scale

    def backward(self, gy):
        return gy * self.scale


def dropout(x, p=0.5, training=True):
    """Inverted dropout (``torch.nn.functional.dropout``): identity unless ``training``."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return x
    return Dropout(p)(x)
