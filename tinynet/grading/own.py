"""What counts as "tinynet's own implementation" of an exercise, as objects the child watches.

The child turns these into code objects and reports any call of one while the student's file is
imported or graded (``sandbox.watch_calls``); aliases, thin wrappers, subclasses and copies of the
function object all run the same code object, so they are all caught. Source text of tinynet's
executed under another name (``exec(open(…/activation.py).read())``) makes new code objects with
the same content: ``fingerprints`` recognises those by digest (whole modules, and functions long
enough that nobody writes them byte for byte by chance).
"""
import functools
import hashlib
import inspect
import types
from pathlib import Path


def all_ops():
    """Every differentiable operation in ``tinynet.ops``: a solution written as a tinynet Function
    computes its forward and backward itself, so it calls none of them."""
    from .. import ops
    from ..tensor import Function
    found = []
    for _, module in inspect.getmembers(ops, inspect.ismodule):
        found += [c for _, c in inspect.getmembers(module, inspect.isclass)
                  if issubclass(c, Function) and c is not Function and c.__module__.startswith("tinynet.")]
    return found


def defined_in(*modules):
    """The functions and classes each module defines itself (not what it imports)."""
    return [obj for m in modules for _, obj in inspect.getmembers(m)
            if (inspect.isfunction(obj) or inspect.isclass(obj)) and obj.__module__ == m.__name__]


def code_objects(objects):
    """{code object: dotted name} for functions, and for every function defined in a class."""
    codes = {}

    def add(fn, name):
        fn = inspect.unwrap(fn) if callable(fn) else fn
        code = getattr(fn, "__code__", None)
        if code is not None:
            codes[code] = name

    for obj in objects:
        if inspect.isclass(obj):
            for attr, value in vars(obj).items():
                for fn in (getattr(value, "__func__", value), getattr(value, "fget", None)):
                    if inspect.isfunction(fn):
                        add(fn, f"{obj.__module__}.{obj.__qualname__}.{attr}")
        elif inspect.isfunction(obj) or inspect.ismethod(obj):
            fn = getattr(obj, "__func__", obj)
            add(fn, f"{fn.__module__}.{fn.__qualname__}")
    return codes


LONG = 120          # bytes of bytecode: a function this long that is tinynet's byte for byte was copied


def content_key(code):
    """A digest of what two code objects compiled from the same source share, whatever the file
    name they were compiled under: the bytecode, the names, the constants (nested code included)."""
    consts = tuple(content_key(c) if isinstance(c, types.CodeType) else (type(c).__name__, repr(c))
                   for c in code.co_consts)
    return hashlib.sha256(repr((code.co_code, code.co_names, code.co_varnames, consts)).encode()).hexdigest()


@functools.lru_cache(maxsize=None)
def _module_fingerprints():
    package = Path(__file__).resolve().parents[1]
    found = {}
    for path in sorted(package.rglob("*.py")):
        try:
            code = compile(path.read_text(encoding="utf-8"), str(path), "exec")
        except (OSError, SyntaxError, ValueError):
            continue
        found[content_key(code)] = f"a copy of tinynet/{path.relative_to(package).as_posix()}"
    return found


def fingerprints(objects):
    """{digest: (name, anywhere)} of tinynet's code run as copies: every module of the package (its
    text executed under another name) and every function among ``objects``. ``anywhere`` is False
    for a short function: its copy counts only when compiled from tinynet's own file (a code object
    copied with ``replace`` or ``FunctionType``), since a student may well write the same few lines."""
    found = {key: (name, True) for key, name in _module_fingerprints().items()}
    for code, name in code_objects(objects).items():
        found[content_key(code)] = (f"a copy of {name}", len(code.co_code) >= LONG)
    return found


def package_files():
    """The real paths of tinynet's own source files (code compiled from them is tinynet's, not a copy)."""
    package = Path(__file__).resolve().parents[1]
    return frozenset(str(p) for p in package.rglob("*.py"))
