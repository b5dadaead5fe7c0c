"""A CPU stand-in for CuPy, held to CuPy's real API, so the CuPy code path is tested without a GPU.

What it allows is read from ``tests/cupy_api/cupy_manifest.json``, written from the installed CuPy by
``tests/cupy_api/make_manifest.py``: a name CuPy lacks raises ``AttributeError`` (``xp.errstate``,
``xp.random.default_rng().normal``), a keyword argument CuPy's function does not take raises
``TypeError``, and ``ufunc.at``/``.reduce`` raise ``NotImplementedError`` where CuPy's do.

``FakeArray`` wraps a ``numpy.ndarray`` but is not one. The rules below are CuPy's, each with the
place in CuPy's source it comes from (``core.pyx`` = ``cupy/_core/core.pyx``, ``_ndarray_base``;
``indexing.pyx`` = ``cupy/_core/_routines_indexing.pyx``; ``_kernel.pyx`` = ``cupy/_core/_kernel.pyx``):

* implicit conversion refused: ``__array__`` raises ``TypeError`` (core.pyx ``__array__``), so
  ``numpy.asarray(x)`` and ``numpy.array(x)`` fail;
* NumPy functions are *dispatched*, not refused: ``numpy.exp(x)`` runs ``cupy.exp(x)``
  (core.pyx ``__array_ufunc__``), ``numpy.concatenate([x, x])`` runs ``cupy.concatenate``
  (``__array_function__``); a function CuPy lacks gives NumPy's "no implementation found" TypeError;
* host arrays refused as operands: ``cupy.add(x, numpy_array)`` raises ``TypeError``
  (``_kernel.pyx`` ``_preprocess_arg``), only the explicit transfers (``asarray``, ``array``, ...)
  take them;
* ``float(x)``, ``int(x)``, ``bool(x)``, ``repr(x)`` copy to the host and do what NumPy does with
  that copy (core.pyx ``__float__`` is ``float(self.get())``);
* ``x[basic_index] = numpy_array`` raises ``ValueError`` (indexing.pyx ``_scatter_op`` calls
  ``fill``, which refuses a non-scalar ``numpy.ndarray``); with an index *array* the value is copied
  to the device (``core.array(value)``). Integer index arrays wrap around instead of raising
  (``_prepare_array_indexing``);
* ``x.data`` is a memory pointer (``MemoryPointer``: ``ptr``, ``device_id``), not an array.

Two modes. **faithful** (the default) is the above. **strict** (``with fake_cupy.strict():`` or the
environment variable ``FAKECUPY_STRICT=1``) additionally refuses every NumPy call on a device array,
even one CuPy would dispatch: a lint for code that should say ``xp.`` but says ``np.``.

``transfers`` counts device-to-host copies (``get``, ``asnumpy``, ``float``/``int``/``bool``/
``item``/``tolist``, ``repr``) and host-to-device ones, so a test can state how many a step makes.
``register()`` makes the stand-in the tinynet backend ``"fakecupy"``.
"""
import collections
import contextlib
import functools
import inspect
import json
import operator
import os
import warnings

import numpy as np

__all__ = ["FakeArray", "xp", "to_numpy", "from_numpy", "register", "strict", "transfers",
           "count_transfers", "MANIFEST", "BACKEND_NAME"]

BACKEND_NAME = "fakecupy"
_HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(_HERE, "cupy_api", "cupy_manifest.json")) as _f:
    MANIFEST = json.load(_f)

_mode = {"strict": os.environ.get("FAKECUPY_STRICT", "") not in ("", "0")}
transfers = collections.Counter()          # "to_host" / "to_device": copies made so far


@contextlib.contextmanager
def strict(on=True):
    """Strict lint mode: any NumPy function or ufunc called on a device array raises TypeError."""
    before, _mode["strict"] = _mode["strict"], on
    try:
        yield
    finally:
        _mode["strict"] = before


@contextlib.contextmanager
def count_transfers():
    """``with count_transfers() as c:`` -- ``c["to_host"]``, ``c["to_device"]`` made inside the block."""
    start = transfers.copy()
    c = collections.Counter()
    try:
        yield c
    finally:
        c.update(transfers)
        c.subtract(start)


def _to_host(a):
    transfers["to_host"] += 1
    return a.copy()


# The explicit host -> device transfers: they accept numpy.ndarray (and lists) as CuPy's do.
_TRANSFERS = {"asarray", "array", "asanyarray", "ascontiguousarray", "asfortranarray"}
_SCALARS = (bool, int, float, complex, np.generic)


def _refuse_host(x):
    raise TypeError(f"Unsupported type {type(x)}")          # _kernel.pyx -> _scalar.CScalar


def _unwrap(x, allow_host=False):
    """Arguments as NumPy sees them: FakeArrays unwrapped, recursively through containers."""
    if isinstance(x, FakeArray):
        return x._a
    if isinstance(x, np.ndarray):
        if not allow_host:
            _refuse_host(x)
        transfers["to_device"] += 1
        return x.copy()
    if isinstance(x, (list, tuple)):
        return type(x)(_unwrap(v, allow_host) for v in x)
    if isinstance(x, dict):
        return {k: _unwrap(v, allow_host) for k, v in x.items()}
    return x


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


def _check_kwargs(where, kwargs, allowed):
    """Refuse a keyword argument CuPy's function does not take (``allowed`` from the manifest)."""
    if allowed is None or "**" in allowed:
        return
    bad = sorted(set(kwargs) - set(allowed))
    if bad:
        raise TypeError(f"{where}() got an unexpected keyword argument {bad[0]!r} (not in CuPy "
                        f"{MANIFEST['cupy_version']}'s signature: {', '.join(allowed) or 'none'})")


# ==================================== indices: CuPy's conversions ===================================
def _index_part(k, allow_host=True):
    if isinstance(k, FakeArray):
        return k._a
    if isinstance(k, (np.ndarray, list)):           # indexing.pyx _prepare_slice_list: core.array(s)
        transfers["to_device"] += 1
        return np.asarray(k)
    return k


def _is_array_index(k):
    return isinstance(k, np.ndarray) and not (k.ndim == 0 and k.dtype.kind in "iu")


def _prepare_index(a, key):
    """The index as NumPy takes it, integer arrays wrapped modulo their axis (CuPy does not raise)."""
    parts = list(key) if isinstance(key, tuple) else [key]
    parts = [_index_part(k) for k in parts]
    axis = 0
    for i, k in enumerate(parts):
        if k is None:
            continue
        if k is Ellipsis or (isinstance(k, np.ndarray) and k.dtype.kind == "b"):
            break                                   # past here axes are not tracked: left to NumPy
        if isinstance(k, np.ndarray) and k.dtype.kind in "iu" and k.ndim > 0 and a.shape[axis] > 0:
            parts[i] = np.mod(k, a.shape[axis])      # _prepare_array_indexing: in0 - floor(in0/in1)*in1
        axis += 1
    return tuple(parts), any(_is_array_index(k) for k in parts)


# ==================================== the device array =============================================
class _MemoryPointer:
    """What ``cupy.ndarray.data`` is: a pointer into device memory, not the array (core.pyx ``data``)."""

    def __init__(self, a):
        self.ptr = a.__array_interface__["data"][0]
        self.device_id = 0
        self.device = _Device(0)

    def __repr__(self):
        return f"<fakecupy.cuda.MemoryPointer 0x{self.ptr:x} device={self.device_id}>"

    def __int__(self):
        return self.ptr


class _Device:
    def __init__(self, id):
        self.id = id

    def __repr__(self):
        return f"<CUDA Device {self.id}>"


def _strict_refusal(what):
    raise TypeError(f"fakecupy strict mode: NumPy's {what} called on a device array; use the "
                    f"array module (xp = backend.array_module(x)) instead")


class FakeArray:
    """A device array stand-in: holds a ``numpy.ndarray`` in ``_a`` but is not one."""

    __array_priority__ = 100         # as cupy.ndarray (core.pyx)
    __hash__ = None                  # arrays are unhashable

    def __init__(self, a):
        if not isinstance(a, np.ndarray):
            raise TypeError(f"FakeArray wraps a numpy.ndarray, got {type(a).__name__}")
        self._a = a

    # --- conversion to NumPy: refused implicitly (core.pyx __array__), explicit via get() ----------
    def __array__(self, *args, **kwargs):
        raise TypeError("Implicit conversion to a NumPy array is not allowed. "
                        "Please use `.get()` to construct a NumPy array explicitly.")

    def get(self, stream=None, order="C", out=None, blocking=True):
        """A host copy (``cupy.ndarray.get``); into ``out`` (same dtype and shape) when given."""
        if out is not None:
            if not isinstance(out, np.ndarray):
                raise TypeError("Only numpy.ndarray can be obtained fromcupy.ndarray")
            if out.dtype != self.dtype:
                raise TypeError(f"{out.dtype} array cannot be obtained from {self.dtype} array")
            if out.shape != self.shape:
                raise ValueError(f"Shape mismatch. Expected shape: {self.shape}, actual shape: {out.shape}")
            transfers["to_host"] += 1
            out[...] = self._a
            return out
        transfers["to_host"] += 1
        return np.array(self._a, order=order, copy=True)

    def set(self, arr, stream=None):
        """Copy a host array of the same dtype and shape into this one (``cupy.ndarray.set``)."""
        if not isinstance(arr, np.ndarray):
            raise TypeError("Only numpy.ndarray can be set to cupy.ndarray")
        if self.dtype != arr.dtype:
            raise TypeError(f"{arr.dtype} array cannot be set to {self.dtype} array")
        if self.shape != arr.shape:
            raise ValueError(f"Shape mismatch. Old shape: {self.shape}, new shape: {arr.shape}")
        transfers["to_device"] += 1
        self._a[...] = arr

    # --- NumPy functions on device arrays: dispatched to the stand-in (core.pyx) -------------------
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if _mode["strict"]:
            _strict_refusal(f"ufunc {ufunc.__name__}" + ("" if method == "__call__" else f".{method}"))
        inout = inputs
        if "out" in kwargs:
            out = kwargs["out"]
            if len(out) != 1:
                raise ValueError("The 'out' parameter must have exactly one array value")
            inout += out
            kwargs["out"] = out[0]
        if method not in ("__call__", "outer", "at", "reduce", "accumulate", "reduceat"):
            return NotImplemented
        try:
            func = getattr(xp, ufunc.__name__)
            if method != "__call__":
                func = getattr(func, method)
        except AttributeError:
            return NotImplemented
        for x in inout:
            if not isinstance(x, (FakeArray, np.ndarray)) and type(x) not in _SCALAR_TYPES:
                return NotImplemented
        return func(*inputs, **kwargs)

    def __array_function__(self, func, types, args, kwargs):
        if _mode["strict"]:
            _strict_refusal(f"function {func.__module__}.{func.__name__}")
        try:
            module = functools.reduce(getattr, func.__module__.split(".")[1:], xp)
            fake_func = getattr(module, func.__name__)
        except AttributeError:
            return NotImplemented
        if not all(issubclass(t, (FakeArray, np.ndarray)) for t in types):
            return NotImplemented
        return fake_func(*args, **kwargs)

    # --- attributes -----------------------------------------------------------------------------
    shape = property(lambda self: self._a.shape)
    ndim = property(lambda self: self._a.ndim)
    dtype = property(lambda self: self._a.dtype)
    size = property(lambda self: self._a.size)
    nbytes = property(lambda self: self._a.nbytes)
    itemsize = property(lambda self: self._a.itemsize)
    strides = property(lambda self: self._a.strides)
    flags = property(lambda self: self._a.flags)
    T = property(lambda self: FakeArray(self._a.T))
    mT = property(lambda self: FakeArray(np.swapaxes(self._a, -1, -2)))
    real = property(lambda self: FakeArray(self._a.real))
    imag = property(lambda self: FakeArray(self._a.imag))
    base = property(lambda self: None if self._a.base is None else FakeArray(np.asarray(self._a.base)))
    data = property(lambda self: _MemoryPointer(self._a))
    device = property(lambda self: _Device(0))

    def __len__(self):
        if self._a.ndim == 0:
            raise TypeError("len() of unsized object")
        return len(self._a)

    def __iter__(self):
        if self._a.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(len(self._a)))

    # string forms and scalar conversions copy to the host (core.pyx: repr(self.get()), float(self.get()))
    def __repr__(self):
        return repr(_to_host(self._a))

    def __str__(self):
        return str(_to_host(self._a))

    def __format__(self, spec):
        return format(_to_host(self._a), spec)

    def __bool__(self):                             # core.pyx __nonzero__
        if self._a.size == 0:
            warnings.warn("The truth value of an empty array is ambiguous. Returning False, but in "
                          "future this will result in an error.", DeprecationWarning, stacklevel=2)
            return False
        if self._a.size == 1:
            return bool(_to_host(self._a))
        raise ValueError("The truth value of an array with more than one element is ambiguous. "
                         "Use a.any() or a.all()")

    def __int__(self):
        return int(_to_host(self._a))

    def __float__(self):
        return float(_to_host(self._a))

    def __complex__(self):
        return complex(_to_host(self._a))

    def item(self, *args):
        transfers["to_host"] += 1
        return self._a.item(*args)

    def tolist(self):
        transfers["to_host"] += 1
        return self._a.tolist()

    # --- indexing (indexing.pyx) ----------------------------------------------------------------
    def __getitem__(self, key):
        index, _ = _prepare_index(self._a, key)
        return _wrap(self._a[index])

    def __setitem__(self, key, value):
        index, advanced = _prepare_index(self._a, key)
        if isinstance(value, FakeArray):
            self._a[index] = value._a
        elif advanced:                              # _scatter_op_single: core.array(value, a.dtype)
            if isinstance(value, (np.ndarray, list, tuple)):
                transfers["to_device"] += 1
            self._a[index] = np.asarray(value, dtype=self._a.dtype)
        else:                                       # basic index: y.fill(value)
            self._a[index] = _fill_value(value)

    # --- operators (core.pyx: ``__add__(x, y)`` etc.) ---------------------------------------------
    def __copy__(self):
        return FakeArray(self._a.copy())

    def __deepcopy__(self, memo):
        return FakeArray(self._a.copy())

    def __reduce__(self):                           # core.pyx: _creation.array, (self.get(),)
        return from_numpy, (_to_host(self._a),)


_SCALAR_TYPES = {bool, int, float, complex} | {t for t in np.sctypeDict.values() if issubclass(t, np.generic)}


def _fill_value(value):
    """``cupy.ndarray.fill``'s rule: a scalar, or a 0-d ``numpy.ndarray`` (core.pyx ``fill``)."""
    if isinstance(value, np.ndarray):
        if value.shape != ():
            raise ValueError("non-scalar numpy.ndarray cannot be used for fill")
        return value.item()
    if type(value) not in _SCALAR_TYPES:
        _refuse_host(value)
    return value


def _should_use_rop(x, y):                          # core.pyx _should_use_rop
    return getattr(x, "__array_priority__", 0) < getattr(y, "__array_priority__", 0) and not isinstance(y, FakeArray)


def _binary(name, reflected=False):
    def method(self, other):
        if not isinstance(other, FakeArray) and _should_use_rop(self, other):
            return NotImplemented
        if not isinstance(other, (FakeArray, np.ndarray)) and type(other) not in _SCALAR_TYPES:
            return NotImplemented
        f = getattr(xp, name)
        return f(other, self) if reflected else f(self, other)
    return method


def _inplace(name):
    def method(self, other):
        getattr(xp, name)(self, other, out=self)
        return self
    return method


def _compare(name, default):
    def method(self, other):
        if isinstance(other, np.ndarray) and other.ndim == 0:
            other = other.item()
        if name in ("equal", "not_equal") and (other is None or type(other).__eq__ is object.__eq__):
            return FakeArray(np.full(self.shape, default))      # core.pyx __richcmp__, op 2 / 3
        return _binary(name)(self, other)
    return method


for _op, _name in [("add", "add"), ("sub", "subtract"), ("mul", "multiply"), ("truediv", "true_divide"),
                   ("floordiv", "floor_divide"), ("mod", "remainder"), ("pow", "power"), ("matmul", "matmul"),
                   ("and", "bitwise_and"), ("or", "bitwise_or"), ("xor", "bitwise_xor"),
                   ("lshift", "left_shift"), ("rshift", "right_shift"), ("divmod", "divmod")]:
    setattr(FakeArray, f"__{_op}__", _binary(_name))
    setattr(FakeArray, f"__r{_op}__", _binary(_name, reflected=True))
    if _op not in ("matmul", "divmod"):                         # CuPy has no __imatmul__
        setattr(FakeArray, f"__i{_op}__", _inplace(_name))
for _op, _name, _default in [("lt", "less", False), ("le", "less_equal", False), ("gt", "greater", False),
                             ("ge", "greater_equal", False), ("eq", "equal", False), ("ne", "not_equal", True)]:
    setattr(FakeArray, f"__{_op}__", _compare(_name, _default))
for _op, _name in [("neg", "negative"), ("pos", "positive"), ("abs", "absolute"), ("invert", "invert")]:
    setattr(FakeArray, f"__{_op}__", (lambda n: lambda self: getattr(xp, n)(self))(_name))


def _method(name, allowed):
    def method(self, *args, **kwargs):
        _check_kwargs(f"ndarray.{name}", kwargs, allowed)
        return _wrap(getattr(self._a, name)(*_unwrap(args), **_unwrap(kwargs)))
    method.__name__ = name
    return method


# Every other method cupy.ndarray has and numpy.ndarray has too, with CuPy's keyword arguments.
_OWN = set(vars(FakeArray))
for _name, _entry in MANIFEST["ndarray"].items():
    if _entry["kind"] == "method" and _name not in _OWN and hasattr(np.ndarray, _name):
        setattr(FakeArray, _name, _method(_name, _entry["kwargs"]))
del _op, _name, _default, _entry, _OWN


# ==================================== ufuncs =======================================================
# the dtypes cupy's scatter kernels take (indexing.pyx _scatter_op_single), by scatter op
_SCATTER_DTYPES = {
    "add": ("int32", "float16", "float32", "float64", "uint32", "uint64"),
    "sub": ("int32", "uint32"),
    "max": ("int32", "float32", "float64", "uint32", "uint64"),
    "min": ("int32", "float32", "float64", "uint32", "uint64"),
    "and": ("int32", "int64", "uint32", "uint64"), "or": ("int32", "int64", "uint32", "uint64"),
    "xor": ("int32", "int64", "uint32", "uint64"),
}


class ufunc:
    """A CuPy ufunc over NumPy's: CuPy's keyword arguments, and only the methods CuPy supports."""

    def __init__(self, np_ufunc, entry):
        self._u, self._entry = np_ufunc, entry
        self.__name__ = np_ufunc.__name__
        self.name = entry["name"]                     # e.g. "cupy_divide" for true_divide (an alias)
        self.nin, self.nout = entry["nin"], entry["nout"]

    def __repr__(self):
        return f"<ufunc '{self.name}'>"

    def __call__(self, *args, **kwargs):
        bad = set(kwargs) - set(self._entry["kwargs"])
        if bad:
            raise TypeError(f"Wrong arguments {({k: kwargs[k] for k in bad})}")   # _kernel.pyx ufunc.__call__
        if not (self.nin <= len(args) <= self.nin + self.nout):
            raise TypeError(f"Wrong number of arguments for {self.name!r}. It must be either {self.nin} "
                            f"or {self.nin + self.nout} (with outputs), but given {len(args)}.")
        for a in args + ((kwargs["out"],) if kwargs.get("out") is not None else ()):
            if not isinstance(a, FakeArray) and type(a) not in _SCALAR_TYPES:
                _refuse_host(a)
        out = kwargs.get("out")
        r = self._u(*_unwrap(args), **_unwrap(kwargs))
        return out if isinstance(out, FakeArray) else _wrap(r)

    def _supported(self, method):
        if method not in self._entry["methods"]:
            raise NotImplementedError(f"`{self.name}.{method}` is not supported yet")

    def at(self, a, indices, b=None):
        self._supported("at")
        op = self._entry["scatter_op"]
        if a.dtype.name not in _SCATTER_DTYPES[op]:
            raise TypeError(f"cupy.{self.__name__}.at only supports {', '.join(_SCATTER_DTYPES[op])} as data type")
        index, _ = _prepare_index(a._a, indices)
        value = b._a if isinstance(b, FakeArray) else _unwrap(b, allow_host=True)
        self._u.at(a._a, index, np.asarray(value, dtype=a.dtype))

    def reduce(self, array, axis=0, dtype=None, out=None, keepdims=False):
        self._supported("reduce")      # add -> array.sum, multiply -> array.prod (_kernel.pyx)
        return (array.sum if self.__name__ == "add" else array.prod)(axis, dtype, out, keepdims)

    def accumulate(self, array, axis=0, dtype=None, out=None):
        self._supported("accumulate")
        return (array.cumsum if self.__name__ == "add" else array.cumprod)(axis, dtype, out)

    def reduceat(self, array, indices, axis=0, dtype=None, out=None):
        self._supported("reduceat")
        return _wrap(self._u.reduceat(array._a, _unwrap(indices), axis=axis, dtype=dtype))

    def outer(self, A, B, **kwargs):
        self._supported("outer")
        A, B = xp.array(A), xp.array(B)
        return self(A.reshape(A.shape + (1,) * B.ndim), B.reshape((1,) * A.ndim + B.shape), **kwargs)


def _accepts_dtype(f):
    try:
        params = inspect.signature(f).parameters
    except (TypeError, ValueError):
        return True
    return "dtype" in params or any(p.kind == p.VAR_KEYWORD for p in params.values())


def _call_numpy(f, args, kwargs):
    """NumPy's ``f``; a ``dtype=`` CuPy takes and NumPy's ``f`` does not (``rand``, ``uniform``)
    is applied to the result instead."""
    dtype = kwargs.pop("dtype", None) if "dtype" in kwargs and not _accepts_dtype(f) else None
    r = _wrap(f(*args, **kwargs))
    return r if dtype is None else r.astype(dtype)


# ==================================== modules ======================================================
# CuPy-only keyword arguments NumPy's function lacks: dropped (they only steer the device)
_CUPY_ONLY_KWARGS = {"blocking", "stream"}


class FakeModule:
    """A CuPy module over a NumPy one: only the names the manifest section lists, CuPy's kwargs."""

    def __init__(self, np_module, section, name):
        self._m, self._section, self.__name__ = np_module, section, name

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        entry = self._section.get(name)
        if entry is None:
            raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")
        attr = self._make(name, entry)
        setattr(self, name, attr)                   # cache
        return attr

    def __dir__(self):
        return sorted(self._section)

    def _make(self, name, entry):
        target = getattr(self._m, name, None)
        if target is None:
            raise NotImplementedError(f"{self.__name__}.{name} exists in CuPy but not in the CPU stand-in")
        if entry["kind"] == "ufunc":
            return ufunc(target, MANIFEST["ufuncs"][name])
        if entry["kind"] != "function":
            return target                           # dtypes, classes, constants: as they are
        allow_host = name in _TRANSFERS and self._m is np
        allowed = entry.get("kwargs")

        def wrapped(*args, **kwargs):
            _check_kwargs(f"{self.__name__}.{name}", kwargs, allowed)
            for k in _CUPY_ONLY_KWARGS & set(kwargs):
                del kwargs[k]
            return _call_numpy(target, _unwrap(args, allow_host), _unwrap(kwargs, allow_host))
        wrapped.__name__ = name
        return wrapped

    def __repr__(self):
        return f"<fake module {self.__name__!r}>"


class _FakeRandom(FakeModule):
    def default_rng(self, seed=None):
        return _FakeGenerator(np.random.default_rng(seed))


class _FakeGenerator:
    """``cupy.random.Generator``: only its methods (no ``normal``, ``permutation``, ``choice``...)."""

    def __init__(self, g):
        self._g = g

    def __getattr__(self, name):
        entry = MANIFEST["random_generator"].get(name)
        if name.startswith("_") or entry is None:
            raise AttributeError(f"'cupy.random.Generator' object has no attribute {name!r}")
        method = getattr(self._g, name)

        def call(*args, **kwargs):
            _check_kwargs(f"Generator.{name}", kwargs, entry["kwargs"])
            return _call_numpy(method, _unwrap(args), _unwrap(kwargs))
        return call


class _FakeCupy(FakeModule):
    def __init__(self):
        super().__init__(np, MANIFEST["namespace"], "fakecupy")
        self.ndarray = FakeArray
        self.ufunc = ufunc
        self.random = _FakeRandom(np.random, MANIFEST["random"], "fakecupy.random")
        self.linalg = FakeModule(np.linalg, MANIFEST["linalg"], "fakecupy.linalg")
        self.fft = FakeModule(np.fft, MANIFEST["fft"], "fakecupy.fft")
        self.cuda = _FakeCuda()
        self.__version__ = MANIFEST["cupy_version"]

    @staticmethod
    def asnumpy(a, stream=None, order="C", out=None, blocking=True):
        """Copy to the host (``cupy.asnumpy``); anything else through ``numpy.asarray``."""
        if isinstance(a, FakeArray):
            return a.get(order=order, out=out)
        return np.asarray(a, order=order)

    def get_array_module(self, *args):
        return self if any(isinstance(a, FakeArray) for a in args) else np


class _FakeRuntime:
    """``cupy.cuda.runtime``: one device, and the version numbers a real CUDA 12 reports."""

    @staticmethod
    def getDeviceCount():
        return 1

    @staticmethod
    def runtimeGetVersion():
        return 12080

    @staticmethod
    def driverGetVersion():
        return 12080

    @staticmethod
    def deviceSynchronize():
        return None

    @staticmethod
    def getDeviceProperties(device):
        return {"name": b"fakecupy CPU stand-in", "totalGlobalMem": 0}


class _FakeCuda:
    runtime = _FakeRuntime()

    @staticmethod
    def is_available():
        return True


xp = _FakeCupy()


class _FakeCupyx:
    """``cupyx``: ``scatter_add`` (the spelling older CuPy has for ``cupy.add.at``)."""

    @staticmethod
    def scatter_add(a, slices, value):
        xp.add.at(a, slices, value)


cupyx = _FakeCupyx()


def to_numpy(a):
    """Device -> host: a copy, as ``cupy.asnumpy``."""
    return a.get()


def from_numpy(a):
    """Host -> device: a copy, as ``cupy.asarray`` of a NumPy array."""
    transfers["to_device"] += 1
    return FakeArray(np.array(a, copy=True))


def install_as_cupy(monkeypatch):
    """Make ``import cupy`` / ``import cupyx`` give the stand-in (for the length of a test), so
    tinynet's ``"cupy"`` backend -- the CLI's ``--backend cupy`` -- runs on it."""
    import sys
    from tinynet import backend
    monkeypatch.setitem(sys.modules, "cupy", xp)
    monkeypatch.setitem(sys.modules, "cupyx", cupyx)
    monkeypatch.delitem(backend._backends, "cupy", raising=False)
    monkeypatch.delitem(backend._backends, BACKEND_NAME, raising=False)   # FakeArray is cupy's now


def register():
    """Register the stand-in as tinynet backend ``"fakecupy"`` (idempotent)."""
    from tinynet import backend
    backend.register_backend(BACKEND_NAME, xp, FakeArray, to_numpy, from_numpy)
    return BACKEND_NAME
