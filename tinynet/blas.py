"""How many threads NumPy's BLAS (OpenBLAS) uses for a matrix product, asked and set through ctypes.

    blas.threads()                    # 2 on a two-core machine (None: cannot be asked)
    with blas.limit_threads(1):       # one thread per product inside, the previous count after
        ...

Data parallelism (``tinynet.parallel``) gives every core its own share of the batch; a product
that also spread itself over all cores would fight the other workers for them, so the workers
run with one BLAS thread each and the count is put back afterwards. The count is process-wide
(OpenBLAS has one setting for all threads). NumPy built on another BLAS (Accelerate, MKL) cannot
be asked here: ``threads()`` is None and ``limit_threads`` does nothing.
"""
import contextlib
import ctypes
import functools
import glob
import os

from . import backend

__all__ = ["threads", "set_threads", "limit_threads"]

_SYMBOLS = (("scipy_openblas_get_num_threads64_", "scipy_openblas_set_num_threads64_"),
            ("openblas_get_num_threads64_", "openblas_set_num_threads64_"),
            ("openblas_get_num_threads", "openblas_set_num_threads"))


@functools.lru_cache(maxsize=None)
def _openblas():
    """(get, set) functions of the OpenBLAS bundled with NumPy (in ``numpy.libs``), or (None, None)."""
    np = backend.get_module("numpy")
    for path in glob.glob(os.path.join(os.path.dirname(np.__file__) + ".libs", "*openblas*.so*")):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for get, set_ in _SYMBOLS:
            if hasattr(lib, get):
                return getattr(lib, get), getattr(lib, set_)
    return None, None


def threads():
    """The number of threads a BLAS product may use now (None when NumPy's BLAS cannot be asked)."""
    get, _ = _openblas()
    return int(get()) if get else None


def set_threads(n):
    """Let BLAS products use ``n`` threads (process-wide); RuntimeError when it cannot be set."""
    _, set_ = _openblas()
    if set_ is None:
        raise RuntimeError("cannot set NumPy's BLAS thread count (no OpenBLAS found next to NumPy)")
    set_(int(n))


@contextlib.contextmanager
def limit_threads(n):
    """Inside: at most ``n`` BLAS threads; on leaving, the count there was before (nothing when the
    BLAS cannot be asked, or already uses at most ``n``)."""
    before = threads()
    if before is None or before <= n:
        yield
        return
    set_threads(n)
    try:
        yield
    finally:
        set_threads(before)
