"""Ops that move elements without changing them: reshape, permute, indexing, concatenate, stack.

Each backward moves the gradient back the same way: reshape back, permute by the inverse
permutation, scatter into zeros, split.
"""
from .. import backend
from ..tensor import Function, Tensor


class Reshape(Function):
    """y = x viewed with another shape (same elements, same order).   dx = dy reshaped back."""
    def __init__(self, shape):
        self.shape = tuple(shape)

    def forward(self, x):
        self.in_shape = x.shape
        try:
            return x.reshape(self.shape)
        except ValueError:
            raise ValueError(f"cannot reshape a tensor of shape {tuple(x.shape)} ({x.size} elements) "
                             f"into shape {self.shape}") from None

    def backward(self, gy):
        return gy.reshape(self.in_shape)


class Permute(Function):
    """y = x with its axes reordered: y.shape[i] = x.shape[axes[i]].   dx = dy permuted back."""
    def __init__(self, axes):
        self.axes = axes

    def forward(self, x):
        if self.axes is not None and any(not -x.ndim <= a < x.ndim for a in self.axes):
            raise ValueError(f"permute: axes {tuple(self.axes)} out of range for shape {tuple(x.shape)}")
        self.axes = tuple(reversed(range(x.ndim))) if self.axes is None else tuple(a % x.ndim for a in self.axes)
        if sorted(self.axes) != list(range(x.ndim)):
            raise ValueError(f"permute: {self.axes} is not a permutation of the {x.ndim} axes of shape {tuple(x.shape)}")
        return x.transpose(self.axes)

    def backward(self, gy):
        inverse = [0] * len(self.axes)
        for i, a in enumerate(self.axes):
            inverse[a] = i
        return gy.transpose(inverse)


def _has_array_index(key):
    keys = key if isinstance(key, tuple) else (key,)
    return any(not isinstance(k, (int, slice, type(None), type(Ellipsis))) for k in keys)


class GetItem(Function):
    """y = x[key] (slices, integers, integer or boolean arrays).

    dx = zeros with dy scattered to the positions read; a position read twice (a repeated
    integer index) gets the sum of both gradients.
    """
    def __init__(self, key):
        self.key = key

    def forward(self, x):
        self.shape, self.dtype = x.shape, x.dtype
        return x[self.key]

    def backward(self, gy):
        gx = backend.array_module(gy).zeros(self.shape, dtype=gy.dtype)
        if _has_array_index(self.key):
            backend.scatter_add(gx, self.key, gy)
        else:                      # basic indexing reads each position at most once
            gx[self.key] = gy
        return gx


class Concatenate(Function):
    """y = [x₀, x₁, …] joined along ``axis``.   dxᵢ = the slice of dy that came from xᵢ."""
    def __init__(self, axis):
        self.axis = axis

    def forward(self, *xs):
        self.sizes = [x.shape[self.axis] for x in xs]
        return backend.array_module(xs[0]).concatenate(xs, axis=self.axis)

    def backward(self, gy):
        grads, start = [], 0
        for n in self.sizes:
            index = [slice(None)] * gy.ndim
            index[self.axis] = slice(start, start + n)
            grads.append(gy[tuple(index)])
            start += n
        return tuple(grads)


class Stack(Function):
    """y = [x₀, x₁, …] stacked along a new ``axis``.   dxᵢ = dy taken at index i of that axis."""
    def __init__(self, axis):
        self.axis = axis

    def forward(self, *xs):
        return backend.array_module(xs[0]).stack(xs, axis=self.axis)

    def backward(self, gy):
        xp = backend.array_module(gy)
        return tuple(xp.take(gy, i, axis=self.axis) for i in range(gy.shape[self.axis]))


def reshape(x, shape):
    return Reshape(shape)(x)


def permute(x, axes=None):
    """Reorder the axes (``axes=None`` reverses them, as ``.T``)."""
    return Permute(axes)(x)


def transpose(x, dim0=None, dim1=None):
    """Swap axes ``dim0`` and ``dim1`` (``torch.transpose``); with no axes, reverse them all."""
    if dim0 is None and dim1 is None:
        return Permute(None)(x)
    if dim0 is None or dim1 is None:
        raise TypeError("transpose(dim0, dim1) takes two axes to swap; use permute(...) to reorder all axes")
    axes = list(range(x.ndim))
    axes[dim0], axes[dim1] = axes[dim1], axes[dim0]
    return Permute(axes)(x)


def flatten(x, start_dim=0, end_dim=-1):
    """Merge axes start_dim..end_dim into one (``torch.flatten``)."""
    shape = x.shape
    s, e = start_dim % max(len(shape), 1), end_dim % max(len(shape), 1)
    n = 1
    for d in shape[s:e + 1]:
        n *= d
    return Reshape(shape[:s] + (n,) + shape[e + 1:])(x)


def getitem(x, key):
    if isinstance(key, Tensor):
        key = key.data
    elif isinstance(key, tuple):
        key = tuple(k.data if isinstance(k, Tensor) else k for k in key)
    elif isinstance(key, list):
        key = backend.array_module(x.data).asarray(key)
    return GetItem(key)(x)


def concatenate(xs, axis=0, *, dim=None):
    """Join tensors along an existing axis (``dim`` is PyTorch's name for ``axis``)."""
    return Concatenate(axis if dim is None else dim)(*xs)


cat = concatenate


def stack(xs, axis=0, *, dim=None):
    """Join tensors of one shape along a new axis (``dim`` is PyTorch's name for ``axis``)."""
    return Stack(axis if dim is None else dim)(*xs)
