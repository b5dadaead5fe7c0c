"""Tensor, Function and the backward pass: define-by-run reverse-mode autodiff on arrays.

A ``Tensor`` wraps a backend array (``.data``). Calling a ``Function`` on tensors runs its
``forward`` on the arrays and, when grad mode is on and some input requires a gradient, records
the function as the output's ``grad_fn``: that record *is* the graph. ``Tensor.backward`` walks
the graph from the output in reverse topological order and calls each ``Function.backward``
with the gradient of its output, getting one gradient per input back.

Only leaves (tensors no function made) keep ``.grad``; gradients of intermediate tensors are
freed as soon as they have been passed on. Gradients accumulate in leaves until zeroed.
"""
import contextlib
import functools
import threading

from . import backend

__all__ = ["Tensor", "Function", "no_grad", "enable_grad", "is_grad_enabled", "tensor", "sum_to", "grad"]


class _GradMode(threading.local):
    """Grad mode is per thread, as in PyTorch: ``no_grad`` in one thread (a server answering a
    request, a worker evaluating) does not switch off recording in another. A new thread starts on."""
    enabled = True


_grad_mode = _GradMode()


def is_grad_enabled():
    return _grad_mode.enabled


@contextlib.contextmanager
def _set_grad_enabled(flag):
    old, _grad_mode.enabled = _grad_mode.enabled, flag
    try:
        yield
    finally:
        _grad_mode.enabled = old


class no_grad(contextlib.ContextDecorator):
    """Context manager and decorator: inside it, no graph is recorded (``torch.no_grad``).

    Re-entrant: the mode before each ``__enter__`` is kept on a stack, so one instance may be
    nested, and a decorated function may call itself.
    """
    _mode = False

    def __init__(self):
        self._saved = []

    def __enter__(self):
        self._saved.append(_grad_mode.enabled)
        _grad_mode.enabled = self._mode

    def __exit__(self, *exc):
        _grad_mode.enabled = self._saved.pop()
        return False

    def _recreate_cm(self):          # each call of a decorated function gets its own context
        return type(self)()


class enable_grad(no_grad):
    """Turn graph recording back on inside a ``no_grad`` block."""
    _mode = True


def _is_float(dtype):
    return dtype.kind == "f"


def _preview(data):
    text = repr(data)
    return text if len(text) <= 60 else text[:57] + "..."


def _as_array(data, dtype=None):
    """Backend array from an array, a Tensor, a list or a scalar (Python floats become float32)."""
    if isinstance(data, Tensor):
        data = data.data
    if backend.is_array(data):
        return data if dtype is None or data.dtype == dtype else data.astype(dtype)
    host = backend.get_module("numpy").asarray(data, dtype=dtype)   # infer the dtype as NumPy does,
    if host.dtype.kind not in "biufc":
        raise TypeError(f"a tensor holds numbers or booleans; got {_preview(data)}, which makes an array of "
                        f"dtype {host.dtype}" + (" (a None, a string or a mix)" if host.dtype.kind == "O" else ""))
    if dtype is None and host.dtype.kind == "f" and not hasattr(data, "dtype"):                      # but floats default to float32
        host = host.astype("float32")
    return backend.to_backend(host, backend.get_backend())


class Tensor:
    """An n-dimensional array that can record the operations applied to it.

    ``Tensor(data, requires_grad=False, dtype=None)``: ``data`` is a backend array (kept as is,
    no copy), a nested list or a scalar (created on the default backend; Python floats become
    float32, as in PyTorch). Only floating-point tensors can require gradients.
    """
    __array_priority__ = 1000       # make ``ndarray * Tensor`` call Tensor.__rmul__,
    __array_ufunc__ = None          # and ``numpy.exp(t)`` a TypeError, not an array of Tensors

    def __init__(self, data, requires_grad=False, dtype=None):
        self.data = _as_array(data, dtype)
        self.grad = None
        self.grad_fn = None          # the Function that made this tensor (None for a leaf)
        self._requires_grad = False
        self.requires_grad = requires_grad

    # --- basic properties -------------------------------------------------------------------
    @property
    def requires_grad(self):
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag):
        if flag and not _is_float(self.data.dtype):
            raise TypeError(f"only floating-point tensors can require gradients, got dtype {self.data.dtype}")
        if not flag and self.grad_fn is not None:
            raise RuntimeError("requires_grad can only be turned off on a leaf tensor; use .detach()")
        self._requires_grad = bool(flag)

    @property
    def is_leaf(self):
        return self.grad_fn is None

    shape = property(lambda self: tuple(self.data.shape))
    dtype = property(lambda self: self.data.dtype)
    ndim = property(lambda self: self.data.ndim)
    backend = property(lambda self: backend.backend_name(self.data))

    def __len__(self):
        if not self.shape:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def size(self, dim=None):
        """``t.size()`` is the shape (a tuple), ``t.size(d)`` the length of axis ``d``, as in PyTorch.
        (NumPy's ``a.size``, the number of elements, is ``t.numel()``.)"""
        if dim is None:
            return self.shape
        if not -self.ndim <= dim < self.ndim:
            raise IndexError(f"size({dim}): dimension out of range for a tensor of shape {self.shape}")
        return self.shape[dim]

    def numel(self):
        """The number of elements."""
        return int(self.data.size)

    def dim(self):
        return self.ndim

    def __repr__(self):
        body = repr(backend.to_numpy(self.data)).replace("array(", "tensor(", 1)
        extra = ", requires_grad=True" if self.requires_grad else ""
        if self.backend != "numpy":
            extra += f", backend={self.backend!r}"
        return body[:-1] + extra + ")" if extra else body

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def item(self):
        if self.numel() != 1:
            raise ValueError(f"only a tensor with one element can be converted to a Python scalar, got shape {self.shape}")
        return self.data.reshape(()).item()

    def __array__(self, dtype=None, copy=None):
        """``numpy.asarray(t)``: the data of a tensor on the NumPy backend. On CuPy it raises
        ``TypeError`` as CuPy's arrays do, so a copy to the host is always explicit (``t.numpy()``)."""
        a = backend.get_module("numpy").asarray(self.data, dtype=dtype)
        return a.copy() if copy else a

    def numpy(self):
        """The data as a ``numpy.ndarray`` (copied off the GPU when needed)."""
        return backend.to_numpy(self.data)

    def tolist(self):
        return self.numpy().tolist()

    def detach(self):
        """A new leaf sharing this tensor's data, cut from the graph."""
        return Tensor(self.data)

    def to(self, name):
        """This tensor's data moved to backend ``name`` (a new leaf unless nothing moves).
        ``"cpu"`` and ``"cuda"``, PyTorch's device names, stand for ``"numpy"`` and ``"cupy"``."""
        name = backend.canonical_name(name)
        if backend.backend_name(self.data) == name:
            return self
        return Tensor(backend.to_backend(self.data, name), requires_grad=self.requires_grad)

    def float(self):
        return Tensor(self.data.astype("float32"), self.requires_grad) if self.dtype != "float32" else self

    def double(self):
        return Tensor(self.data.astype("float64"), self.requires_grad) if self.dtype != "float64" else self

    def zero_(self):
        self.data[...] = 0
        return self

    def requires_grad_(self, flag=True):
        self.requires_grad = flag
        return self

    # --- the backward pass ------------------------------------------------------------------
    def backward(self, grad=None, retain_graph=False):
        """Accumulate d(self)/d(leaf) into ``leaf.grad`` for every leaf that requires grad.

        ``grad`` is the gradient of some scalar with respect to ``self`` (same shape); it may be
        left out only when ``self`` holds a single element, and then is 1.
        """
        for leaf, g in _backpropagate(self, _initial_grad(self, grad, "backward"), retain_graph):
            if leaf.grad_fn is None:            # a leaf: keep the gradient
                leaf.grad = g.copy() if leaf.grad is None else leaf.grad + g   # a copy: g may be a view

    # --- operators (the ops themselves live in tinynet.ops) ---------------------------------
    def __add__(self, o): return _ops().add(self, o)
    def __radd__(self, o): return _ops().add(o, self)
    def __sub__(self, o): return _ops().sub(self, o)
    def __rsub__(self, o): return _ops().sub(o, self)
    def __mul__(self, o): return _ops().mul(self, o)
    def __rmul__(self, o): return _ops().mul(o, self)
    def __truediv__(self, o): return _ops().div(self, o)
    def __rtruediv__(self, o): return _ops().div(o, self)
    def __pow__(self, p): return _ops().pow(self, p)
    def __neg__(self): return _ops().neg(self)
    def __matmul__(self, o): return _ops().matmul(self, o)
    def __rmatmul__(self, o): return _ops().matmul(o, self)
    def __getitem__(self, key): return _ops().getitem(self, key)

    # comparisons give plain backend arrays (no gradient flows through a comparison)
    def __lt__(self, o): return self.data < _raw(o, self, "<")
    def __le__(self, o): return self.data <= _raw(o, self, "<=")
    def __gt__(self, o): return self.data > _raw(o, self, ">")
    def __ge__(self, o): return self.data >= _raw(o, self, ">=")
    __hash__ = object.__hash__           # tensors are used as dict keys by identity

    def exp(self): return _ops().exp(self)
    def log(self): return _ops().log(self)
    def sqrt(self): return _ops().sqrt(self)
    def abs(self): return _ops().abs(self)
    def relu(self): return _ops().relu(self)
    def sigmoid(self): return _ops().sigmoid(self)
    def tanh(self): return _ops().tanh(self)
    # reductions and softmax also take PyTorch's names: dim for axis, keepdim for keepdims
    def sum(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return _ops().sum(self, axis, keepdims, dim=dim, keepdim=keepdim)

    def mean(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return _ops().mean(self, axis, keepdims, dim=dim, keepdim=keepdim)

    def max(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return _ops().max(self, axis, keepdims, dim=dim, keepdim=keepdim)

    def argmax(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        """Index of the (first) maximum along ``axis``, or in the flattened tensor for ``None``.

        Like comparisons, it gives a plain integer array on this tensor's backend, not a Tensor:
        no gradient flows through an index. ``(logits.argmax(1) == y.data).mean()`` is accuracy.
        """
        axis = axis if dim is None else dim
        xp = backend.array_module(self.data)
        i = xp.asarray(self.data.argmax(axis=axis))        # NumPy gives a scalar for axis=None
        if keepdims if keepdim is None else keepdim:
            i = i.reshape((1,) * self.ndim) if axis is None else xp.expand_dims(i, axis)
        return i

    def softmax(self, axis=-1, *, dim=None): return _ops().softmax(self, axis, dim=dim)
    def log_softmax(self, axis=-1, *, dim=None): return _ops().log_softmax(self, axis, dim=dim)
    def matmul(self, o): return _ops().matmul(self, o)
    def flatten(self, start_dim=0, end_dim=-1): return _ops().flatten(self, start_dim, end_dim)

    def reshape(self, *shape):
        return _ops().reshape(self, shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape)

    view = reshape

    def transpose(self, dim0=None, dim1=None):
        """``t.transpose(0, 1)`` swaps two axes (as in PyTorch); ``t.transpose()`` reverses them."""
        return _ops().transpose(self, dim0, dim1)

    def permute(self, *axes):
        return _ops().permute(self, axes[0] if len(axes) == 1 and isinstance(axes[0], (tuple, list)) else axes)

    @property
    def T(self):
        return _ops().permute(self, None)


def _raw(x, like, what):
    """The array behind operand ``x`` of a comparison with tensor ``like`` (same backend)."""
    x = x.data if isinstance(x, Tensor) else x
    if backend.is_array(x):
        backend.check_same_backend([like.data, x], f"comparison {what}")
    return x


@functools.lru_cache(maxsize=None)
def _ops():
    from . import ops      # ops import this module; import them lazily to avoid a cycle
    return ops


def tensor(data, requires_grad=False, dtype=None):
    """``tinynet.tensor([1., 2.])``: a new leaf tensor, as ``torch.tensor``."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def _initial_grad(out, grad, who):
    """The gradient that starts a backward pass from ``out``: 1 for a one-element ``out``, else
    ``grad`` checked (same backend, same shape) and cast to ``out``'s dtype."""
    if not out.requires_grad:
        raise RuntimeError(f"{who}() on a tensor that does not require grad and has no grad_fn")
    if grad is None:
        if out.numel() != 1:
            raise RuntimeError(
                f"grad can be implicitly created only for scalar outputs, but this tensor has shape "
                f"{out.shape}; pass {who}() a gradient of that shape")
        return backend.array_module(out.data).ones_like(out.data)
    if isinstance(grad, Tensor):
        grad = grad.data
    if backend.is_array(grad):
        backend.check_same_backend([out.data, grad], f"{who}(grad)")
        grad = grad if grad.dtype == out.dtype else grad.astype(out.dtype)
    else:       # a list or scalar: made on this tensor's backend
        grad = backend.to_backend(backend.get_module("numpy").asarray(grad, dtype=out.dtype), out.backend)
    if tuple(grad.shape) != out.shape:
        raise ValueError(f"{who}(grad): grad has shape {tuple(grad.shape)}, expected {out.shape}")
    return grad


def _backpropagate(root, grad, retain_graph):
    """Walk the graph behind ``root`` in reverse topological order, starting from ``grad``, and
    yield ``(tensor, its complete gradient)`` for every tensor reached, each once; intermediate
    gradients are dropped after being passed on. Functions are released unless ``retain_graph``."""
    grads = {id(root): grad}
    for t in _topological_order(root):
        g = grads.pop(id(t), None)
        if g is None:
            continue
        yield t, g
        fn = t.grad_fn
        if fn is None:
            continue
        if fn.inputs is None:
            raise RuntimeError("trying to backward through the graph a second time; "
                               "pass retain_graph=True to the first backward() call")
        in_grads = fn.backward(g)
        if not isinstance(in_grads, tuple):
            in_grads = (in_grads,)
        for x, gx in zip(fn.inputs, in_grads):
            if gx is None or not x.requires_grad:
                continue
            if tuple(gx.shape) != x.shape:
                raise RuntimeError(f"{type(fn).__name__}.backward returned a gradient of shape "
                                   f"{tuple(gx.shape)} for an input of shape {x.shape}")
            if gx.dtype != x.data.dtype:   # float32 + float64 → float64, but x.grad stays float32
                gx = gx.astype(x.data.dtype)
            grads[id(x)] = gx if id(x) not in grads else grads[id(x)] + gx
        if not retain_graph:
            fn.release()


def grad(output, inputs, grad_output=None, retain_graph=False, materialize_grads=True):
    """``torch.autograd.grad``: d(output)/d(input) for each of ``inputs``, returned as Tensors
    (a list, or one Tensor when ``inputs`` is one Tensor) without touching any ``.grad``.

    So a gradient can be taken on a shared model without writing into its parameters — e.g.
    saliency, |∂ logit / ∂ image|, computed by several threads at once. An input that ``output``
    does not depend on gets a zero gradient, or None with ``materialize_grads=False`` (as
    ``backward`` leaves its ``.grad`` alone). ``grad_output`` is as ``backward``'s ``grad``.
    """
    single = isinstance(inputs, Tensor)
    inputs = [inputs] if single else list(inputs)
    for x in inputs:
        if not isinstance(x, Tensor) or not x.requires_grad:
            raise RuntimeError("grad(): every input must be a Tensor that requires grad")
    wanted = {id(x) for x in inputs}
    found = {}
    for t, g in _backpropagate(output, _initial_grad(output, grad_output, "grad"), retain_graph):
        if id(t) in wanted:
            found[id(t)] = g.copy()
    xp = backend.array_module(output.data)
    out = [Tensor(found[id(x)]) if id(x) in found else Tensor(xp.zeros_like(x.data)) if materialize_grads else None
           for x in inputs]
    return out[0] if single else out


def _topological_order(root):
    """Tensors reachable from ``root`` through ``grad_fn``, every tensor before its inputs.

    Iterative depth-first search, so a chain of any length needs no recursion.
    """
    order, visited, stack = [], set(), [(root, False)]
    while stack:
        t, inputs_done = stack.pop()
        if inputs_done:
            order.append(t)
            continue
        if id(t) in visited:
            continue
        visited.add(id(t))
        stack.append((t, True))
        if t.grad_fn is not None and t.grad_fn.inputs is not None:
            stack.extend((x, False) for x in t.grad_fn.inputs if x.requires_grad and id(x) not in visited)
    order.reverse()
    return order


class Function:
    """One differentiable operation: ``forward`` on arrays, ``backward`` on their gradients.

    Subclasses implement ``forward(*arrays) -> array`` (saving what backward needs on ``self``)
    and ``backward(grad_output) -> one gradient per input`` (a tuple, or a single array for one
    input). ``self.needs_input_grad[i]`` says whether input ``i`` wants a gradient, so work
    only a frozen input would need can be skipped: return ``None`` for it.

    ``Function()(a, b)`` takes Tensors or scalars; scalars become constants of the first
    tensor's dtype and backend. The graph is recorded only when grad mode is on and some input
    requires grad.
    """
    inputs = None
    needs_input_grad = ()

    def __call__(self, *args):
        inputs = _to_tensors(args, type(self).__name__)
        self.needs_input_grad = tuple(x.requires_grad for x in inputs)
        y = self.forward(*(x.data for x in inputs))
        if not backend.is_array(y):   # NumPy turns full reductions into scalars: keep an array
            y = backend.array_module(inputs[0].data).asarray(y)
        out = Tensor(y)
        if _grad_mode.enabled and any(self.needs_input_grad):
            out._requires_grad = _is_float(out.data.dtype)
            out.grad_fn = self
            self.inputs = inputs
        return out

    def forward(self, *xs):
        raise NotImplementedError

    def backward(self, gy):
        raise NotImplementedError

    def release(self):
        """Drop the references backward needed (called after backward unless retain_graph)."""
        self.__dict__.clear()      # ``inputs`` falls back to the class default, None


def _to_tensors(args, opname):
    tensors = [a for a in args if isinstance(a, Tensor)]
    if not tensors:
        return [Tensor(a) for a in args]
    backend.check_same_backend([t.data for t in tensors], opname)
    like = tensors[0].data
    out = []
    for a in args:
        if isinstance(a, Tensor):
            out.append(a)
        elif backend.is_array(a):
            backend.check_same_backend([like, a], opname)
            out.append(Tensor(a))
        else:   # a Python scalar: a constant of the tensor's dtype (``2 * t`` stays float32)
            out.append(Tensor(backend.array_module(like).asarray(a, dtype=_scalar_dtype(like.dtype, a))))
    return out


def _scalar_dtype(dtype, a):
    """The dtype of the constant made from scalar ``a`` for an op with a tensor of ``dtype``:
    the tensor's (``2 * t`` stays float32), unless that would lose the scalar's kind: a float
    with an integer tensor is a float32 constant (``int_tensor * 0.5`` is 0.5, not 0), an int
    with a bool tensor an int64 one (``bool_tensor + 2`` is 3, not True)."""
    if dtype.kind in "fc" or isinstance(a, bool):
        return dtype
    kind = getattr(getattr(a, "dtype", None), "kind", None)
    if isinstance(a, float) or kind == "f":
        return "float32"
    if isinstance(a, complex) or kind == "c":
        return "complex64"
    if dtype.kind == "b":
        return "int64"
    return dtype


def sum_to(g, shape):
    """Sum gradient ``g`` down to ``shape``: undoes NumPy broadcasting in backward passes."""
    shape = tuple(shape)
    if tuple(g.shape) == shape:
        return g
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(i + lead for i, n in enumerate(shape) if n == 1 and g.shape[i + lead] != 1)
    g = g.sum(axis=axes, keepdims=True)
    return g.reshape(shape) if lead else g
