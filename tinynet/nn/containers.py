"""Containers: ``Sequential`` (layers applied in order) and ``ModuleList``."""
from .module import Module


class ModuleList(Module):
    """A list of modules, registered under the names "0", "1", … ."""

    def __init__(self, modules=()):
        super().__init__()
        for m in modules:
            self.append(m)

    def append(self, module):
        setattr(self, str(len(self._modules)), module)
        return self

    def _key(self, i):
        n = len(self._modules)
        if not -n <= i < n:
            raise IndexError(f"index {i} is out of range for {type(self).__name__} of length {n}")
        return str(i % n)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return type(self)(list(self._modules.values())[i])
        return self._modules[self._key(i)]

    def __setitem__(self, i, module):
        key = self._key(i)
        if module._name is None:
            object.__setattr__(module, "_name", key)
        self._modules[key] = module

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())


class Sequential(ModuleList):
    """``Sequential(conv, relu, ...)``: calling it feeds the input through each layer in turn.

    Indexable (``model[0]``, ``model[-1] = nn.Linear(128, 5)``) and sliceable (``model[:4]``
    is a Sequential sharing those layers); parameter names are ``"0.weight"`` and so on.
    """

    def __init__(self, *modules):
        super().__init__(modules)

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x
