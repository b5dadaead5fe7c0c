"""Module and Parameter: the containers that hold a model's weights (PyTorch's ``nn.Module``).

A Module finds its parameters and sub-modules from its attributes: assigning a ``Parameter``
or a ``Module`` to ``self.something`` registers it under that name. Names compose with dots,
so a ``Sequential`` whose first layer is a conv has a parameter ``"0.weight"``, exactly the key
PyTorch would use — state dicts carry over both ways.
"""
from collections import OrderedDict, namedtuple

from .. import backend
from ..tensor import Tensor

__all__ = ["Parameter", "Module", "ShapeError", "StateDictError"]


class ShapeError(ValueError, RuntimeError):
    """A layer was given an input of the wrong shape (or a state dict a wrongly shaped array).

    A ``ValueError``; also a ``RuntimeError``, which is what PyTorch raises for the same mistakes.
    """


class StateDictError(RuntimeError, KeyError):
    """A state dict's keys do not match the model's (missing or unexpected keys)."""

    def __str__(self):
        return str(self.args[0])


class Parameter(Tensor):
    """A Tensor that is a weight of a Module: ``requires_grad=True`` unless frozen."""

    def __init__(self, data, requires_grad=True):
        super().__init__(data.data if isinstance(data, Tensor) else data, requires_grad=requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


_FLOAT_DTYPES = ("float16", "float32", "float64")

IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class Module:
    """Base class of every layer and model. Subclasses set attributes in ``__init__`` and
    define ``forward``; calling the module calls ``forward``."""

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_name", None)

    # --- registration by attribute ---------------------------------------------------------
    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign {name!r} before Module.__init__() is called "
                                 f"(call super().__init__() first in {type(self).__name__}.__init__)")
        if name in self._parameters and not isinstance(value, Parameter) and value is not None:
            raise TypeError(f"cannot assign a {type(value).__name__} as parameter {name!r} of "
                            f"{type(self).__name__} (a Parameter or None expected; wrap it: nn.Parameter(...))")
        if name in self._buffers and (value is None or backend.is_array(value) or isinstance(value, Tensor)):
            self.register_buffer(name, value)          # a buffer stays a buffer when reassigned
            return
        was_parameter = name in self._parameters
        for d in (self._parameters, self._buffers, self._modules):
            d.pop(name, None)
        if isinstance(value, Parameter) or value is None and was_parameter:
            self._parameters[name] = value
        elif isinstance(value, Module):
            if value._name is None:
                object.__setattr__(value, "_name", name)
            self._modules[name] = value
        else:
            object.__setattr__(self, name, value)
            return
        self.__dict__.pop(name, None)

    def __getattr__(self, name):
        for d in ("_parameters", "_buffers", "_modules"):
            if name in self.__dict__.get(d, {}):
                return self.__dict__[d][name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name):
        for d in (self._parameters, self._buffers, self._modules):
            if name in d:
                del d[name]
                return
        object.__delattr__(self, name)

    def register_buffer(self, name, value):
        """A state Tensor that is saved in ``state_dict`` but is not trained (running means).

        ``value`` is a Tensor, a backend array (wrapped in a Tensor) or None.
        """
        if value is not None and not isinstance(value, Tensor):
            value = Tensor(value)
        self.__dict__.pop(name, None)
        self._buffers[name] = value

    def register_parameter(self, name, param):
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter({name!r}, ...): expected a Parameter or None, "
                            f"got {type(param).__name__}")
        self.__dict__.pop(name, None)
        self._parameters[name] = param

    def add_module(self, name, module):
        """Register ``module`` under ``name`` (the same as ``setattr(self, name, module)``)."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module({name!r}, ...): expected a Module, got {type(module).__name__}")
        setattr(self, name, module)

    # --- calling -----------------------------------------------------------------------------
    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def forward(self, *args):
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def layer_name(self):
        """How error messages name this layer: ``Linear 'fc1'``, ``Linear at index 7`` (its place
        in a Sequential), or just ``Linear``."""
        if self._name is None:
            return type(self).__name__
        if self._name.isdigit():
            return f"{type(self).__name__} at index {self._name}"
        return f"{type(self).__name__} {self._name!r}"

    def _shape_error(self, expected, x, hint=""):
        return ShapeError(f"{self.layer_name()} ({self.extra_repr()}): expected input {expected}, "
                          f"got input of shape {tuple(x.shape)}" + (f". {hint}" if hint else ""))

    # --- walking the tree --------------------------------------------------------------------
    def named_modules(self, prefix=""):
        yield prefix, self
        for name, m in self._modules.items():
            yield from m.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        yield from self._modules.items()

    def children(self):
        yield from self._modules.values()

    def named_parameters(self, prefix="", recurse=True):
        """(dotted name, Parameter) pairs, each parameter once, in registration order."""
        seen = set()
        modules = self.named_modules(prefix) if recurse else [(prefix, self)]
        for mname, m in modules:
            for pname, p in m._parameters.items():
                if p is not None and id(p) not in seen:
                    seen.add(id(p))
                    yield (f"{mname}.{pname}" if mname else pname), p

    def parameters(self, recurse=True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix=""):
        """(dotted name, Tensor) pairs of the buffers (running statistics), as named in state_dict."""
        for mname, m in self.named_modules(prefix):
            for bname, b in m._buffers.items():
                if b is not None:
                    yield (f"{mname}.{bname}" if mname else bname), b

    def buffers(self):
        for _, b in self.named_buffers():
            yield b

    def apply(self, fn):
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    # --- modes, devices, gradients -----------------------------------------------------------
    def train(self, mode=True):
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self):
        return self.train(False)

    def to(self, target):
        """Move every parameter and buffer to a backend, or cast them to a dtype; in place, returns self.

        ``model.to("cupy")`` / ``model.to("numpy")`` moves the data (as ``torch``'s ``.to(device)``);
        ``model.to("float64")`` casts the floating-point parameters and buffers (as ``.to(dtype)``;
        integer buffers such as ``num_batches_tracked`` keep their dtype). An optimizer's state is
        not moved (as in PyTorch): its next ``step()`` refuses state left on the old backend, naming
        the fix (``optimizer.load_state_dict(optimizer.state_dict())``).
        """
        dtype = getattr(target, "__name__", None) or str(target)
        if dtype in _FLOAT_DTYPES:
            def move(a):
                return a.astype(dtype) if a.dtype.kind == "f" and a.dtype != dtype else a
        else:
            def move(a):
                return backend.to_backend(a, target)
        for m in self.modules():
            for t in list(m._parameters.values()) + list(m._buffers.values()):
                if t is not None:
                    t.data = move(t.data)
                    if t.grad is not None:
                        t.grad = move(t.grad)
        return self

    def double(self):
        """Cast floating-point parameters and buffers to float64 (for gradient checks)."""
        return self.to("float64")

    def float(self):
        """Cast floating-point parameters and buffers to float32 (the default)."""
        return self.to("float32")

    def zero_grad(self, set_to_none=True):
        for p in self.parameters():
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad[...] = 0

    def requires_grad_(self, requires_grad=True):
        """Set ``requires_grad`` on every parameter (``False`` freezes the module)."""
        for p in self.parameters():
            p.requires_grad = requires_grad
            if not requires_grad:
                p.grad = None
        return self

    def freeze(self):
        """Stop training this module's parameters: no gradients, and no backward work for them."""
        return self.requires_grad_(False)

    def unfreeze(self):
        return self.requires_grad_(True)

    def num_parameters(self, trainable_only=False):
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)

    # --- state dicts -------------------------------------------------------------------------
    def _state_entries(self):
        """{dotted name: (Module, "parameter" or "buffer", attribute name)}, in state_dict order:
        for each module (parent before children) its parameters, then its buffers."""
        entries = OrderedDict()
        for mname, m in self.named_modules():
            for store in (m._parameters, m._buffers):
                for k, v in store.items():
                    if v is not None:
                        entries[f"{mname}.{k}" if mname else k] = v
        return entries

    def state_dict(self):
        """Ordered {dotted name: Tensor} of every parameter and buffer, with PyTorch's keys
        (``"0.weight"``, ``"1.running_mean"``); the Tensors share the model's data."""
        return OrderedDict((k, Tensor(v.data)) for k, v in self._state_entries().items())

    def load_state_dict(self, state_dict, strict=True):
        """Copy arrays (Tensors or NumPy arrays) from ``state_dict`` into the parameters and buffers.

        Everything is checked before anything is copied, so a refused state dict changes nothing.
        Every shape must match (an error names the key and both shapes). With ``strict=True``
        (default) a missing or unexpected key is an error that names it; with ``strict=False``
        they are skipped and returned as ``(missing_keys, unexpected_keys)``.

        Values are moved to the model's backend and cast to each parameter's dtype, as PyTorch
        does: a float32 model stays float32 when given float64 arrays (call ``model.double()``
        first to load them at full precision).
        """
        targets = self._state_entries()
        missing = [k for k in targets if k not in state_dict]
        unexpected = [k for k in state_dict if k not in targets]
        if strict and (missing or unexpected):
            parts = []
            if missing:
                parts.append("missing key(s): " + ", ".join(repr(k) for k in missing))
            if unexpected:
                parts.append("unexpected key(s): " + ", ".join(repr(k) for k in unexpected))
            raise StateDictError(f"Error(s) in loading state_dict for {type(self).__name__}: " + "; ".join(parts))
        values = {}
        for key, t in targets.items():
            if key not in state_dict:
                continue
            value = state_dict[key]
            value = value.data if isinstance(value, Tensor) else value
            shape = getattr(value, "shape", None)
            if shape is None:
                raise TypeError(f"Error in loading state_dict for {type(self).__name__}: {key!r} holds a "
                                f"{type(value).__name__}, expected a Tensor or an array")
            kind = getattr(getattr(value, "dtype", None), "kind", None)
            if kind not in ("b", "i", "u", "f"):
                raise TypeError(f"Error in loading state_dict for {type(self).__name__}: {key!r} holds values of "
                                f"dtype {getattr(value, 'dtype', type(value).__name__)}, not real numbers")
            if tuple(shape) != t.shape:
                raise ShapeError(f"Error in loading state_dict for {type(self).__name__}: size mismatch for "
                                 f"{key!r}: the checkpoint has shape {tuple(shape)}, the model "
                                 f"expects {t.shape}")
            values[key] = value
        for key, value in values.items():
            t = targets[key]
            t.data[...] = backend.to_backend(value, t.backend).astype(t.dtype, copy=False)
        return IncompatibleKeys(missing, unexpected)

    # --- printing ----------------------------------------------------------------------------
    def extra_repr(self):
        return ""

    def __repr__(self):
        lines = [f"({name}): " + repr(m).replace("\n", "\n  ") for name, m in self._modules.items()]
        head = f"{type(self).__name__}({self.extra_repr()}"
        return head + (")" if not lines else "\n  " + "\n  ".join(lines) + "\n)")
