"""What tinynet runs on here: ``report()`` -> a dict, ``format_report(report)`` -> text.

The backends and their versions, NumPy's BLAS, the thread settings that decide its speed, and
whether a GPU works (``backend.gpu_info()``: loading "cupy" runs a tiny kernel, a matrix product
and a copy to the host, and says which CUDA library is missing when that fails). ``tinynet doctor``
prints it.
"""
import os
import platform

from . import backend

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")


def _blas(np):
    """NumPy's BLAS as its build configuration names it (e.g. ``scipy-openblas 0.3.29``), or None."""
    try:
        config = np.show_config(mode="dicts")
        blas = config["Build Dependencies"]["blas"]
        return f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except Exception:                        # older NumPy: no mode="dicts"
        return None


def report():
    """A dict: python, platform, numpy (version, BLAS), threads (CPU count, variables), gpu."""
    np = backend.get_module("numpy")
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "tinynet_backend": backend.get_backend(),
        "numpy": {"version": np.__version__, "blas": _blas(np)},
        "threads": {"cpus": os.cpu_count(), **{v: os.environ.get(v) for v in THREAD_VARIABLES}},
        "gpu": backend.gpu_info(),
    }


def format_report(r):
    threads = ", ".join(f"{k}={v}" for k, v in r["threads"].items() if k != "cpus" and v is not None) or "none set"
    g = r["gpu"]
    if g["works"]:
        gpu = f"works: {g.get('device', '?')}, CUDA runtime {g.get('cuda_runtime', '?')}, driver {g.get('cuda_driver', '?')}"
    else:
        gpu = f"does not work: {g['reason']}"
    return "\n".join([
        f"python   {r['python']} on {r['platform']}",
        f"numpy    {r['numpy']['version']}, BLAS {r['numpy']['blas'] or 'unknown'}",
        f"threads  {r['threads']['cpus']} CPUs; {threads}",
        f"cupy     {g['cupy'] or 'not installed'}",
        f"gpu      {gpu}",
        f"backends numpy (always){', cupy' if g['works'] else ''}; default for new tensors: {r['tinynet_backend']}",
    ])
