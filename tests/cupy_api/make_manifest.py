"""Write ``cupy_manifest.json``: the names and keyword arguments real CuPy has, read from CuPy itself.

    pip install cupy-cuda12x          # imports without a GPU; only kernels need a device
    .venv/bin/python tests/cupy_api/make_manifest.py [--out tests/cupy_api/cupy_manifest.json]

The stand-in ``tests/fake_cupy.py`` allows exactly what this file lists, so a name tinynet uses that
CuPy lacks fails in the CPU test suite, as it would on a GPU. What is recorded, and how:

* ``namespace``: every public name of ``cupy`` with its kind (ufunc, function, class, module, value)
  and, for functions, the keyword arguments ``inspect.signature`` gives (``null``: none readable).
* ``ndarray``: the public attributes and methods of ``cupy.ndarray``. Its methods are Cython, so
  ``inspect.signature`` fails; their keyword arguments come from the signature Cython embeds as the
  docstring's first line (``_ndarray_base.sum(self, axis=None, ...)``).
* ``random``, ``random_generator`` (``cupy.random.Generator``), ``linalg``, ``fft``: the same.
* ``cupyx``: ``scatter_add`` (and its siblings) with their keyword arguments.
* ``ufuncs``: for each ufunc, ``nin``/``nout``, the keyword arguments ``__call__`` accepts and which of
  ``at``/``reduce``/``accumulate``/``reduceat`` work. These are *probed*, not guessed: in
  ``cupy/_core/_kernel.pyx`` ``ufunc.at`` raises ``NotImplementedError`` unless the ufunc has a
  scatter op (``_scatter_op``), ``reduce``/``accumulate``/``reduceat`` raise it unless the ufunc is
  ``cupy_add``/``cupy_multiply``, and ``__call__`` raises ``TypeError('Wrong arguments ...')`` for a
  keyword it does not pop -- all before a device is touched. So each method is called with ``None``
  operands: ``NotImplementedError`` means unsupported, any other error means it got past the check.
"""
import argparse
import ast
import inspect
import json
import os
import sys
import types

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(HERE, "cupy_manifest.json")
UFUNC_METHODS = ("at", "reduce", "accumulate", "reduceat", "outer")
CANDIDATE_UFUNC_KWARGS = ("out", "dtype", "casting", "where", "order", "subok", "axis", "keepdims",
                          "initial", "signature", "axes")


def kwargs_of(obj):
    """Keyword-argument names of a callable (``"**"`` appended when it takes ``**kwargs``), or None."""
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        sig = _signature_from_doc(obj)
    if sig is None:
        return None
    names = []
    for p in sig.parameters.values():
        if p.name == "self":
            continue
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
            names.append(p.name)
        elif p.kind == p.VAR_KEYWORD:
            names.append("**")
    return names


def _signature_from_doc(obj):
    """The signature Cython embeds as a docstring's first line, e.g. ``_ndarray_base.sum(self, axis=None)``."""
    doc = getattr(obj, "__doc__", None) or ""
    first = doc.strip().splitlines()[0] if doc.strip() else ""
    name = getattr(obj, "__name__", "")
    head, sep, rest = first.partition("(")
    if not sep or not head.split(".")[-1] == name:
        return None
    params = ", ".join(_drop_cython_type(q) for q in rest.rsplit(")", 1)[0].split(","))
    try:
        fn = ast.parse(f"def f({params}): pass").body[0]
    except SyntaxError:
        return None
    a = fn.args
    P = inspect.Parameter
    params = [P(x.arg, P.POSITIONAL_ONLY) for x in a.posonlyargs]
    params += [P(x.arg, P.POSITIONAL_OR_KEYWORD) for x in a.args]
    if a.vararg:
        params.append(P(a.vararg.arg, P.VAR_POSITIONAL))
    params += [P(x.arg, P.KEYWORD_ONLY) for x in a.kwonlyargs]
    if a.kwarg:
        params.append(P(a.kwarg.arg, P.VAR_KEYWORD))
    return inspect.Signature(params)


def _drop_cython_type(param):
    """``_ndarray_base out=None`` -> ``out=None`` (Cython's typed parameters are not Python syntax)."""
    name, eq, default = param.partition("=")
    return name.split()[-1] + eq + default if name.split() else param


def kind_of(obj, ufunc_type):
    if isinstance(obj, ufunc_type):
        return "ufunc"
    if isinstance(obj, types.ModuleType):
        return "module"
    if isinstance(obj, type):
        return "class"
    if callable(obj):
        return "function"
    return "value"


def describe_namespace(module, ufunc_type):
    """{name: {"kind": ..., "kwargs": [...] or None}} for the public names of ``module``."""
    out = {}
    for name in sorted(dir(module)):
        if name.startswith("_"):
            continue
        obj = getattr(module, name)
        entry = {"kind": kind_of(obj, ufunc_type)}
        if entry["kind"] == "function":
            entry["kwargs"] = kwargs_of(obj)
        out[name] = entry
    return out


def describe_class(cls):
    """{name: {"kind": "method"|"attribute", "kwargs": ...}} for the public members of a class."""
    out = {}
    for name in sorted(dir(cls)):
        if name.startswith("_"):
            continue
        obj = getattr(cls, name)
        if callable(obj) and not isinstance(obj, type):
            out[name] = {"kind": "method", "kwargs": kwargs_of(obj)}
        else:
            out[name] = {"kind": "attribute"}
    return out


def _raises_not_implemented(fn, *args):
    try:
        fn(*args)
    except NotImplementedError:
        return True
    except Exception:       # got past CuPy's support check (then failed on the None operands / no GPU)
        return False
    return False


def _kwarg_accepted(ufunc, kw):
    try:
        ufunc(*([1] * ufunc.nin), **{kw: None})
    except TypeError as e:
        if "Wrong arguments" in str(e):
            return False
        return True
    except Exception:       # e.g. CUDARuntimeError: the keyword was popped, the launch failed
        return True
    return True


def describe_ufuncs(cupy):
    out = {}
    for name in sorted(dir(cupy)):
        u = getattr(cupy, name)
        if name.startswith("_") or not isinstance(u, cupy.ufunc):
            continue
        out[name] = {
            "name": u.name, "nin": u.nin, "nout": u.nout,
            "kwargs": [k for k in CANDIDATE_UFUNC_KWARGS if _kwarg_accepted(u, k)],
            "methods": [m for m in UFUNC_METHODS
                        if hasattr(u, m) and not _raises_not_implemented(getattr(u, m), *([None] * (2 if m in (
                            "at", "reduceat", "outer") else 1)))],
            "scatter_op": getattr(u, "_scatter_op", None),
        }
    return out


def make_manifest():
    import cupy
    import cupyx
    import numpy
    ufunc_type = cupy.ufunc
    return {
        "generator": "tests/cupy_api/make_manifest.py",
        "cupy_version": cupy.__version__,
        "numpy_version": numpy.__version__,
        "python_version": ".".join(map(str, sys.version_info[:3])),
        "namespace": describe_namespace(cupy, ufunc_type),
        "ndarray": describe_class(cupy.ndarray),
        "ndarray_special": sorted(n for n in dir(cupy.ndarray) if n.startswith("__")),
        "random": describe_namespace(cupy.random, ufunc_type),
        "random_generator": describe_class(cupy.random.Generator),
        "linalg": describe_namespace(cupy.linalg, ufunc_type),
        "fft": describe_namespace(cupy.fft, ufunc_type),
        "cupyx": {name: {"kind": "function", "kwargs": kwargs_of(getattr(cupyx, name))}
                  for name in ("scatter_add", "scatter_max", "scatter_min") if hasattr(cupyx, name)},
        "ufuncs": describe_ufuncs(cupy),
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=DEFAULT_OUT, help="where to write the JSON (default: %(default)s)")
    args = ap.parse_args(argv)
    try:
        manifest = make_manifest()
    except ImportError as e:
        sys.exit(f"make_manifest: CuPy does not import ({e}); install it with: pip install cupy-cuda12x")
    tmp = args.out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
        f.write("\n")
    os.replace(tmp, args.out)
    print(f"wrote {args.out}: CuPy {manifest['cupy_version']}, {len(manifest['namespace'])} names, "
          f"{len(manifest['ndarray'])} ndarray members, {len(manifest['ufuncs'])} ufuncs "
          f"({sum('at' in u['methods'] for u in manifest['ufuncs'].values())} with .at)")


if __name__ == "__main__":
    main()
