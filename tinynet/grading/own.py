"""What counts as "tinynet's own implementation" of an exercise, as objects the child watches.

The child turns these into code objects and reports any call of one while the student's file is
imported or graded (``sandbox.watch_calls``); aliases, thin wrappers, subclasses and copies of the
function object all run the same code object, so they are all caught.
"""
import inspect


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
