"""A stand-in for CuPy that runs on the CPU, so the CuPy code path is tested without a GPU.

``FakeArray`` wraps a ``numpy.ndarray`` but is *not* one, and refuses implicit conversion to
NumPy exactly as ``cupy.ndarray`` does:

* ``__array__`` raises ``TypeError``        -> ``numpy.asarray(x)``, ``numpy.array(x)`` fail;
* ``__array_ufunc__ = None``                -> ``numpy.exp(x)``, ``ndarray + x`` fail;
* ``__array_function__`` -> NotImplemented  -> ``numpy.concatenate([x])``, ``numpy.where(x, ..)`` fail.

Mixing with host arrays fails as on CuPy too: an arithmetic operand, or an argument of an ``xp``
function, that is a ``numpy.ndarray`` raises ``TypeError``. Only the explicit transfers accept
one (``xp.asarray``, ``xp.array``, ..., index arrays and values assigned with ``a[k] = v``,
which CuPy copies to the device). Reductions give 0-d arrays, never NumPy scalars, as on CuPy.

``xp`` is the stand-in array module: every NumPy function, reached through ``__getattr__``,
unwraps its arguments (recursively through lists, tuples and keyword arguments), calls NumPy
and wraps array results; ufuncs keep ``.at``/``.reduce``; ``xp.random`` and ``xp.linalg`` work
the same way; ``xp.asnumpy(x)`` copies back to the host.

``register()`` makes it the tinynet backend ``"fakecupy"``.
"""
import operator

import numpy as np

__all__ = ["FakeArray", "xp", "to_numpy", "from_numpy", "register", "BACKEND_NAME"]

BACKEND_NAME = "fakecupy"

# The explicit host -> device transfers, which accept numpy.ndarray arguments (as CuPy's do).
_TRANSFERS = {"asarray", "array", "asanyarray", "ascontiguousarray", "asfortranarray"}


def _refuse_host(x):
    raise TypeError(f"Unsupported type {type(x)} (a NumPy array where a fakecupy array is needed: "
                    f"move it explicitly, as CuPy requires)")


def _unwrap(x, allow_host=False):
    """Arguments as NumPy sees them: FakeArrays unwrapped, recursively through containers."""
    if isinstance(x, FakeArray):
        return x._a
    if isinstance(x, np.ndarray):      # a host array: copied to the "device", or refused
        return x.copy() if allow_host else _refuse_host(x)
    if isinstance(x, (list, tuple)):
        return type(x)(_unwrap(v, allow_host) for v in x)
    if isinstance(x, dict):
        return {k: _unwrap(v, allow_host) for k, v in x.items()}
    return x


def _unwrap_index(key):
    """An index: FakeArrays unwrapped; NumPy arrays and lists allowed (CuPy converts them)."""
    if isinstance(key, FakeArray):
        return key._a
    if isinstance(key, tuple):
        return tuple(_unwrap_index(k) for k in key)
    return key


def _wrap(r):
    """Results as CuPy gives them: arrays (and NumPy scalars, as 0-d arrays) wrapped."""
    if isinstance(r, np.ndarray):
        return FakeArray(r)
    if isinstance(r, np.generic):
        return FakeArray(np.asarray(r))
    if isinstance(r, tuple) and not hasattr(r, "_fields"):
        return tuple(_wrap(v) for v in r)
    if isinstance(r, list):
        return [_wrap(v) for v in r]
    return r


def _operand(o):
    """The NumPy value of an arithmetic operand, or NotImplemented for foreign types."""
    if isinstance(o, FakeArray):
        return o._a
    if isinstance(o, np.ndarray):
        _refuse_host(o)
    if isinstance(o, (bool, int, float, complex, np.generic)):
        return o
    return NotImplemented          # e.g. a tinynet Tensor: let its reflected operator run


def _binary(op):
    def method(self, other):
        o = _operand(other)
        return NotImplemented if o is NotImplemented else _wrap(op(self._a, o))
    return method


def _reflected(op):
    def method(self, other):
        o = _operand(other)
        return NotImplemented if o is NotImplemented else _wrap(op(o, self._a))
    return method


def _inplace(op):
    def method(self, other):
        o = _operand(other)
        if o is NotImplemented:
            return NotImplemented
        op(self._a, o)                # NumPy's in-place operators write into self._a
        return self
    return method


def _unary(op):
    return lambda self: _wrap(op(self._a))


def _method(name):
    def method(self, *args, **kwargs):
        return _wrap(getattr(self._a, name)(*_unwrap(args), **_unwrap(kwargs)))
    method.__name__ = name
    return method


class FakeArray:
    """A device array stand-in: holds a ``numpy.ndarray`` in ``_a`` but is not one."""

    __array_ufunc__ = None           # numpy.exp(x), ndarray + x: TypeError / our reflected ops
    __array_priority__ = 100         # as cupy.ndarray
    __hash__ = None                  # arrays are unhashable

    def __init__(self, a):
        if not isinstance(a, np.ndarray):
            raise TypeError(f"FakeArray wraps a numpy.ndarray, got {type(a).__name__}")
        self._a = a

    # --- refuse implicit conversion, as CuPy ---------------------------------------------------
    def __array__(self, *args, **kwargs):
        raise TypeError("Implicit conversion to a NumPy array is not allowed. "
                        "Please use `.get()` to construct a NumPy array explicitly.")

    def __array_function__(self, func, types, args, kwargs):
        return NotImplemented

    def get(self):
        """A host copy (``cupy.ndarray.get``)."""
        return self._a.copy()

    # --- attributes ----------------------------------------------------------------------------
    shape = property(lambda self: self._a.shape)
    ndim = property(lambda self: self._a.ndim)
    dtype = property(lambda self: self._a.dtype)
    size = property(lambda self: self._a.size)
    nbytes = property(lambda self: self._a.nbytes)
    itemsize = property(lambda self: self._a.itemsize)
    strides = property(lambda self: self._a.strides)
    flags = property(lambda self: self._a.flags)
    T = property(lambda self: FakeArray(self._a.T))
    mT = property(lambda self: FakeArray(self._a.swapaxes(-1, -2)))
    real = property(lambda self: FakeArray(self._a.real))
    imag = property(lambda self: FakeArray(self._a.imag))

    def __len__(self):
        return len(self._a)

    def __iter__(self):
        for i in range(len(self._a)):
            yield self[i]

    def __repr__(self):
        return "fakecupy." + repr(self._a)

    __str__ = lambda self: str(self._a)  # noqa: E731

    # scalar conversions of one-element arrays (CuPy copies the value to the host)
    def __bool__(self): return bool(self._a)
    def __int__(self): return int(self._a)
    def __float__(self): return float(self._a)
    def __complex__(self): return complex(self._a)

    # --- indexing ------------------------------------------------------------------------------
    def __getitem__(self, key):
        return _wrap(self._a[_unwrap_index(key)])

    def __setitem__(self, key, value):
        self._a[_unwrap_index(key)] = _unwrap(value, allow_host=True)

    # --- operators -----------------------------------------------------------------------------
    __add__, __radd__, __iadd__ = _binary(operator.add), _reflected(operator.add), _inplace(operator.iadd)
    __sub__, __rsub__, __isub__ = _binary(operator.sub), _reflected(operator.sub), _inplace(operator.isub)
    __mul__, __rmul__, __imul__ = _binary(operator.mul), _reflected(operator.mul), _inplace(operator.imul)
    __truediv__, __rtruediv__, __itruediv__ = (
        _binary(operator.truediv), _reflected(operator.truediv), _inplace(operator.itruediv))
    __floordiv__, __rfloordiv__, __ifloordiv__ = (
        _binary(operator.floordiv), _reflected(operator.floordiv), _inplace(operator.ifloordiv))
    __mod__, __rmod__, __imod__ = _binary(operator.mod), _reflected(operator.mod), _inplace(operator.imod)
    __pow__, __rpow__, __ipow__ = _binary(operator.pow), _reflected(operator.pow), _inplace(operator.ipow)
    __matmul__, __rmatmul__ = _binary(operator.matmul), _reflected(operator.matmul)
    __and__, __rand__, __iand__ = _binary(operator.and_), _reflected(operator.and_), _inplace(operator.iand)
    __or__, __ror__, __ior__ = _binary(operator.or_), _reflected(operator.or_), _inplace(operator.ior)
    __xor__, __rxor__, __ixor__ = _binary(operator.xor), _reflected(operator.xor), _inplace(operator.ixor)
    __lshift__, __rshift__ = _binary(operator.lshift), _binary(operator.rshift)
    __lt__, __le__ = _binary(operator.lt), _binary(operator.le)
    __gt__, __ge__ = _binary(operator.gt), _binary(operator.ge)
    __eq__, __ne__ = _binary(operator.eq), _binary(operator.ne)
    __neg__, __pos__ = _unary(operator.neg), _unary(operator.pos)
    __abs__, __invert__ = _unary(operator.abs), _unary(operator.invert)

    def __copy__(self):
        return FakeArray(self._a.copy())

    def __deepcopy__(self, memo):
        return FakeArray(self._a.copy())


# the ndarray methods CuPy has and tinynet may use
for _name in ("reshape", "transpose", "swapaxes", "sum", "mean", "max", "min", "argmax", "argmin",
              "prod", "var", "std", "cumsum", "all", "any", "clip", "round", "astype", "copy",
              "item", "tolist", "fill", "ravel", "flatten", "squeeze", "repeat", "take", "put",
              "nonzero", "dot", "view", "conj", "sort", "argsort", "trace", "diagonal", "tobytes"):
    setattr(FakeArray, _name, _method(_name))
del _name


class _FakeUfunc:
    """A NumPy ufunc on FakeArrays, with ``.at`` (in place), ``.reduce``, ``.outer``."""

    def __init__(self, ufunc):
        self._u = ufunc
        self.__name__ = ufunc.__name__

    def __call__(self, *args, **kwargs):
        out = kwargs.get("out")
        r = self._u(*_unwrap(args), **_unwrap(kwargs))
        return out if isinstance(out, FakeArray) else _wrap(r)

    def at(self, a, indices, b=None):
        if not isinstance(a, FakeArray):
            raise TypeError(f"{self.__name__}.at: the target must be a fakecupy array, got {type(a)}")
        args = () if b is None else (_unwrap(b),)
        self._u.at(a._a, _unwrap_index(indices), *args)   # in place, into the wrapped array

    def __getattr__(self, name):
        attr = getattr(self._u, name)
        if callable(attr):
            return lambda *a, **k: _wrap(attr(*_unwrap(a), **_unwrap(k)))
        return attr


class FakeModule:
    """A NumPy-like module whose functions take and return FakeArrays."""

    def __init__(self, module, name):
        self._m, self.__name__ = module, name

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        attr = getattr(self._m, name)
        if isinstance(attr, np.ufunc):
            wrapped = _FakeUfunc(attr)
        elif isinstance(attr, type) or not callable(attr):
            wrapped = attr                          # dtypes, classes, constants: as they are
        else:
            allow_host = name in _TRANSFERS and self._m is np

            def wrapped(*args, **kwargs):
                return _wrap(attr(*_unwrap(args, allow_host), **_unwrap(kwargs, allow_host)))
            wrapped.__name__ = name
        setattr(self, name, wrapped)                # cache
        return wrapped

    def __repr__(self):
        return f"<fake module {self.__name__!r}>"


class _FakeCupy(FakeModule):
    ndarray = FakeArray

    def __init__(self):
        super().__init__(np, "fakecupy")
        self.random = _FakeRandom(np.random, "fakecupy.random")
        self.linalg = FakeModule(np.linalg, "fakecupy.linalg")
        self.fft = FakeModule(np.fft, "fakecupy.fft")

    @staticmethod
    def asnumpy(x):
        """Copy to the host (``cupy.asnumpy``)."""
        if isinstance(x, FakeArray):
            return x._a.copy()
        return np.asarray(x)

    def get_array_module(self, *args):
        return self if any(isinstance(a, FakeArray) for a in args) else np


class _FakeRandom(FakeModule):
    def default_rng(self, seed=None):
        return _FakeGenerator(np.random.default_rng(seed))


class _FakeGenerator:
    def __init__(self, g):
        self._g = g

    def __getattr__(self, name):
        attr = getattr(self._g, name)
        return (lambda *a, **k: _wrap(attr(*_unwrap(a), **_unwrap(k)))) if callable(attr) else attr


xp = _FakeCupy()


def to_numpy(a):
    """Device -> host: a copy, as ``cupy.asnumpy``."""
    return a._a.copy()


def from_numpy(a):
    """Host -> device: a copy, as ``cupy.asarray`` of a NumPy array."""
    return FakeArray(np.array(a, copy=True))


def register():
    """Register the stand-in as tinynet backend ``"fakecupy"`` (idempotent)."""
    from tinynet import backend
    backend.register_backend(BACKEND_NAME, xp, FakeArray, to_numpy, from_numpy)
    return BACKEND_NAME
