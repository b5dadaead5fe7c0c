"""Containers: ``Sequential`` (layers applied in order) and ``ModuleList``."""
from collections import OrderedDict

from .module import Module


class ModuleList(Module):
    """A list of modules, registered under the names "0", "1", … .

    ``ModuleList([a, b])`` or ``ModuleList(OrderedDict(name=module, ...))`` (names kept: that is
    how a slice keeps the keys of the layers it took).
    """

    def __init__(self, modules=()):
        super().__init__()
        items = modules.items() if isinstance(modules, (dict, OrderedDict)) else None
        if items is not None:
            for name, m in items:
                self.add_module(str(name), m)
        else:
            for m in modules:
                self.append(m)

    def append(self, module):
        if not isinstance(module, Module):
            raise TypeError(f"{type(self).__name__}.append: expected a Module, got {type(module).__name__}")
        setattr(self, str(len(self._modules)), module)
        return self

    def _key(self, i):
        n = len(self._modules)
        if not isinstance(i, int):
            raise TypeError(f"{type(self).__name__} indices must be integers or slices, not {type(i).__name__}")
        if not -n <= i < n:
            raise IndexError(f"index {i} is out of range for {type(self).__name__} of length {n}")
        return list(self._modules)[i % n]

    def __getitem__(self, i):
        if isinstance(i, slice):            # a new container sharing the layers, keys kept (as PyTorch)
            return type(self)(OrderedDict(list(self._modules.items())[i]))
        return self._modules[self._key(i)]

    def __setitem__(self, i, module):
        if not isinstance(module, Module):
            raise TypeError(f"{type(self).__name__}[{i}] = ...: expected a Module, got {type(module).__name__}")
        setattr(self, self._key(i), module)

    def __delitem__(self, i):
        keys = list(self._modules)[i] if isinstance(i, slice) else [self._key(i)]
        for k in keys:
            del self._modules[k]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())


class Sequential(ModuleList):
    """``Sequential(conv, relu, ...)``: calling it feeds the input through each layer in turn.

    Indexable (``model[0]``, ``model[-1] = nn.Linear(128, 5)``) and sliceable (``model[:4]``
    is a Sequential sharing those layers, under the same keys); parameter names are
    ``"0.weight"`` and so on, as in PyTorch. ``Sequential(OrderedDict(conv=..., relu=...))``
    names the layers.
    """

    def __init__(self, *modules):
        if len(modules) == 1 and isinstance(modules[0], (dict, OrderedDict)):
            modules = modules[0]
        super().__init__(modules)

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x
