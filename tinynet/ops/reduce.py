"""Reductions: sum, mean and max over some axes (``axis=None`` reduces everything)."""
from .. import backend
from ..tensor import Function


def _axes(axis, ndim):
    """``axis`` (None, int or tuple, negatives allowed) as a sorted tuple of positive axes."""
    if axis is None:
        return tuple(range(ndim))
    axis = (axis,) if isinstance(axis, int) else tuple(axis)
    n = ndim or 1                  # a 0-d tensor accepts axis 0 and -1, as in PyTorch
    for a in axis:
        if not -n <= a < n:
            raise IndexError(f"axis {a} is out of range for a tensor with {ndim} dimensions")
    axes = tuple(sorted(a % n for a in axis))
    if len(set(axes)) != len(axes):
        raise ValueError(f"axis {axis} names the same axis twice")
    return axes if ndim else ()


def _expand(gy, shape, axes):
    """Broadcast a reduced gradient back to the input's ``shape`` (reinsert the reduced axes)."""
    kept = [1 if i in axes else n for i, n in enumerate(shape)]
    return backend.array_module(gy).broadcast_to(gy.reshape(kept), shape)


class Sum(Function):
    """y = Σ_axes x.   dy/dx = 1 for every element: the gradient is broadcast back."""
    def __init__(self, axis, keepdims):
        self.axis, self.keepdims = axis, keepdims

    def forward(self, x):
        self.shape, self.axes = x.shape, _axes(self.axis, x.ndim)
        return x.sum(axis=self.axes, keepdims=self.keepdims)

    def backward(self, gy):
        return _expand(gy, self.shape, self.axes)


class Mean(Function):
    """y = (1/M) Σ_axes x over M elements.   dy/dx = 1/M."""
    def __init__(self, axis, keepdims):
        self.axis, self.keepdims = axis, keepdims

    def forward(self, x):
        self.shape, self.axes = x.shape, _axes(self.axis, x.ndim)
        self.count = 1
        for a in self.axes:
            self.count *= x.shape[a]
        return x.mean(axis=self.axes, keepdims=self.keepdims)

    def backward(self, gy):
        return _expand(gy / self.count, self.shape, self.axes)


class Max(Function):
    """y = max_axes x.   The gradient goes to the maximum.

    Over one axis, to the *first* maximum on ties (as ``torch.max(x, dim)``); over all or several
    axes, shared equally between tied maxima (as ``torch.max(x)`` / ``torch.amax``).
    """
    def __init__(self, axis, keepdims):
        self.axis, self.keepdims = axis, keepdims

    def forward(self, x):
        self.x, self.axes = x, _axes(self.axis, x.ndim)
        self.y = x.max(axis=self.axes, keepdims=True)
        return self.y if self.keepdims else self.y.reshape([n for i, n in enumerate(x.shape) if i not in self.axes])

    def backward(self, gy):
        xp = backend.array_module(gy)
        gy = gy.reshape(self.y.shape)
        if len(self.axes) == 1 and self.x.ndim > 0:
            a = self.axes[0]
            first = xp.expand_dims(self.x.argmax(axis=a), a)
            idx = xp.arange(self.x.shape[a]).reshape([-1 if i == a else 1 for i in range(self.x.ndim)])
            mask = idx == first
            return xp.where(mask, gy, xp.zeros((), dtype=gy.dtype))
        mask = (self.x == self.y)
        return mask * (gy / mask.sum(axis=self.axes, keepdims=True).astype(gy.dtype))


# ``dim`` and ``keepdim`` are accepted as PyTorch's names for ``axis`` and ``keepdims``.
def _args(axis, keepdims, dim, keepdim):
    return (axis if dim is None else dim), bool(keepdims if keepdim is None else keepdim)


def sum(x, axis=None, keepdims=False, *, dim=None, keepdim=None):  # noqa: A001
    return Sum(*_args(axis, keepdims, dim, keepdim))(x)


def mean(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    return Mean(*_args(axis, keepdims, dim, keepdim))(x)


def max(x, axis=None, keepdims=False, *, dim=None, keepdim=None):  # noqa: A001
    """The maximum over ``axis`` (values only: unlike ``torch.max(x, dim)``, no indices)."""
    return Max(*_args(axis, keepdims, dim, keepdim))(x)
