"""Array backends: the only module of tinynet that imports NumPy or CuPy for array math.

Everything else asks this module for the *array module* of its data and calls that::

    xp = backend.array_module(x)      # numpy for a numpy.ndarray, cupy for a cupy.ndarray
    y = xp.exp(x)

This is Chainer's and DeZero's ``get_array_module`` idea: one code path for every backend.

A backend is a name, an array module (``xp``) and the array type it makes. ``"numpy"`` is always
present; ``"cupy"`` is loaded on first use and refused with one clear error when CuPy is not
installed or no CUDA GPU is present. Tests register a stand-in backend (``register_backend``)
whose arrays refuse implicit conversion to NumPy, the way CuPy's do, so a stray ``numpy`` call
on tensor data fails in CI even without a GPU.
"""
import numpy

__all__ = [
    "BackendError", "BackendUnavailable", "register_backend", "set_backend", "get_backend",
    "array_module", "backend_name", "is_array", "to_backend", "to_numpy", "get_module", "canonical_name",
    "self_test", "gpu_info",
]


class BackendError(TypeError):
    """An operation mixed arrays of two backends, or was given something that is no array."""


class BackendUnavailable(RuntimeError):
    """The backend that was asked for cannot run on this machine."""


class _Backend:
    def __init__(self, name, xp, array_type, to_numpy, from_numpy):
        self.name, self.xp, self.array_type = name, xp, array_type
        self.to_numpy, self.from_numpy = to_numpy, from_numpy


_backends = {"numpy": _Backend("numpy", numpy, numpy.ndarray, lambda a: a, lambda a: a)}
_default = "numpy"


def register_backend(name, xp, array_type, to_numpy, from_numpy):
    """Make a backend available under ``name``.

    ``xp`` is its array module (NumPy's API), ``array_type`` the class of its arrays,
    ``to_numpy(a)`` / ``from_numpy(a)`` move an array off / onto it.
    """
    _backends[name] = _Backend(name, xp, array_type, to_numpy, from_numpy)


def _load_cupy():
    try:
        import cupy
    except ImportError as e:
        raise BackendUnavailable(
            "backend 'cupy' is not available: CuPy is not installed "
            "(install it with: pip install 'tinynet[gpu]')") from e
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as e:  # CUDA driver missing or broken
        raise BackendUnavailable(
            f"backend 'cupy' is not available: CuPy is installed but no CUDA GPU is usable ({e})") from e
    if count == 0:
        raise BackendUnavailable("backend 'cupy' is not available: CuPy is installed but no CUDA GPU is present")
    self_test(cupy)
    register_backend("cupy", cupy, cupy.ndarray, cupy.asnumpy, cupy.asarray)


# What a failing first operation usually lacks: (text in CuPy's error, the library, what brings it)
_CUDA_LIBRARIES = [
    ("nvrtc", "NVRTC (the CUDA runtime compiler CuPy builds its kernels with)"),
    ("cublas", "cuBLAS (matrix products)"),
    ("curand", "cuRAND (random numbers)"),
    ("cudart", "the CUDA runtime (cudart)"),
    ("nvjitlink", "nvJitLink"),
]


def self_test(cupy):
    """Run what tinynet needs of a GPU once: an elementwise kernel (compiled by NVRTC), a matrix
    product (cuBLAS) and a copy to the host. Any failure becomes ``BackendUnavailable`` naming
    the library that is missing, so the first training step does not fail deep inside CuPy."""
    step = "an elementwise kernel"
    try:
        a = cupy.arange(6, dtype="float32").reshape(2, 3)
        b = a * 2 + 1                                   # [[1,3,5],[7,9,11]]
        step = "a matrix product"
        c = b @ a.T                                     # [[13,40],[31,112]]
        step = "a copy to the host"
        host = cupy.asnumpy(c)
    except Exception as e:
        text = f"{type(e).__name__}: {e}"
        lib = next((name for key, name in _CUDA_LIBRARIES if key in text.lower()), None)
        missing = (f"{lib} is missing or broken" if lib else "it failed")
        raise BackendUnavailable(
            f"backend 'cupy' is not available: a GPU is present, but {step} failed and {missing} ({text.strip()[:300]}); "
            f"install CuPy with its CUDA libraries: pip install 'tinynet[gpu]' (cupy-cuda12x[ctk])") from e
    if host.tolist() != [[13.0, 40.0], [31.0, 112.0]]:
        raise BackendUnavailable(f"backend 'cupy' is not available: the GPU self-test computed {host.tolist()}, "
                                 f"not [[13.0, 40.0], [31.0, 112.0]]")


def gpu_info():
    """``{"cupy": version or None, "works": bool, "reason"|"device", "cuda_runtime", "cuda_driver"}``:
    whether the "cupy" backend loads (and passes ``self_test``) here, and on what."""
    try:
        import cupy
    except ImportError:
        return {"cupy": None, "works": False, "reason": "CuPy is not installed (pip install 'tinynet[gpu]')"}
    info = {"cupy": getattr(cupy, "__version__", "?"), "works": False}
    try:
        _get("cupy")
    except BackendUnavailable as e:
        info["reason"] = str(e)
        return info
    info["works"] = True
    try:
        rt = cupy.cuda.runtime
        name = rt.getDeviceProperties(0)["name"]
        info["device"] = name.decode() if isinstance(name, bytes) else str(name)
        info["cuda_runtime"], info["cuda_driver"] = rt.runtimeGetVersion(), rt.driverGetVersion()
    except Exception as e:                   # the GPU works; only its description failed
        info["device"] = f"? ({type(e).__name__})"
    return info


ALIASES = {"cpu": "numpy", "cuda": "cupy"}     # PyTorch's device names for the two backends


def canonical_name(name):
    """The backend that ``name`` stands for: ``"cpu"`` is ``"numpy"``, ``"cuda"`` is ``"cupy"``."""
    return ALIASES.get(name, name)


def _get(name):
    name = canonical_name(name)
    if name not in _backends:
        if name == "cupy":
            _load_cupy()
        else:
            known = ", ".join(sorted(set(_backends) | {"cupy"}))
            aliases = ", ".join(f"{a!r} for {b!r}" for a, b in ALIASES.items())
            raise BackendUnavailable(f"unknown backend {name!r}; known backends: {known} ({aliases})")
    return _backends[name]


def set_backend(name):
    """Set the backend that new tensors are created on (``"numpy"`` or ``"cupy"``; ``"cpu"`` and
    ``"cuda"``, PyTorch's device names, stand for them)."""
    global _default
    _default = _get(name).name


def get_backend():
    """The name of the default backend for new tensors."""
    return _default


def get_module(name=None):
    """The array module of backend ``name`` (default: the current default backend)."""
    return _get(name or _default).xp


def _backend_of(x):
    for b in _backends.values():
        if isinstance(x, b.array_type):
            return b
    return None


def is_array(x):
    """True if ``x`` is an array of some registered backend."""
    return _backend_of(x) is not None


def backend_name(x):
    """The name of the backend that array ``x`` lives on."""
    b = _backend_of(x)
    if b is None:
        raise BackendError(f"expected an array of a tinynet backend, got {type(x).__name__}")
    return b.name


def array_module(x):
    """The array module (``numpy``, ``cupy``, ...) for array ``x``; NumPy for Python scalars."""
    b = _backend_of(x)
    return numpy if b is None else b.xp


def to_backend(x, name):
    """Array ``x`` (of any backend, or a list/scalar) as an array of backend ``name``."""
    target = _get(name)
    src = _backend_of(x)
    if src is target:
        return x
    host = numpy.asarray(x) if src is None else src.to_numpy(x)
    return target.from_numpy(host)


def to_numpy(x):
    """Array ``x`` of any backend as a ``numpy.ndarray`` (a copy only when it must move)."""
    b = _backend_of(x)
    return numpy.asarray(x) if b is None else b.to_numpy(x)


def scatter_add(target, index, values):
    """``target[index] += values`` where repeated indices add up (NumPy's ``add.at``)."""
    xp = array_module(target)
    if hasattr(xp, "add") and hasattr(xp.add, "at"):
        xp.add.at(target, index, values)
    else:  # older CuPy spells it cupyx.scatter_add
        import cupyx
        cupyx.scatter_add(target, index, values)
    return target


def check_same_backend(arrays, what="operation"):
    """Raise ``BackendError`` naming both backends if ``arrays`` live on different ones."""
    names = []
    for a in arrays:
        b = _backend_of(a)
        if b is not None and b.name not in names:
            names.append(b.name)
    if len(names) > 1:
        raise BackendError(
            f"{what}: expected all tensors on the same backend, but found tensors on "
            f"{names[0]!r} and {names[1]!r}; move them with .to({names[0]!r}) first")
    return names[0] if names else _default
