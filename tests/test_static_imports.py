"""Static check: only ``tinynet/backend.py`` imports NumPy or CuPy.

Every other module gets the array module of its data from ``tinynet.backend`` (``array_module``),
so the same code runs on NumPy and on CuPy. A module that imported NumPy itself would compute on
the host behind CuPy's back (or fail on CuPy arrays), so this test parses every module of the
package with ``ast`` and fails on any import of numpy/cupy/cupyx outside ``backend.py`` - at
module level or inside a function, ``import x``, ``from x import y``, ``from .backend import numpy``,
``importlib.import_module("x")`` or ``__import__("x")``.

A few modules only need NumPy for host-side work on data that never is tensor data (reading and
writing files, plotting, metrics on host arrays). They are listed in ``HOST_ONLY`` with the
reason; anything else, in particular any *new* module, fails until it is fixed or listed here
with a reason that a reviewer accepts.
"""
import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "tinynet"
ARRAY_LIBRARIES = {"numpy", "cupy", "cupyx"}

BACKEND = "backend.py"

# module (relative to tinynet/) -> why it may import NumPy; host-side only, never CuPy.
HOST_ONLY = {
    "serialization.py": "save/load: converts tensors to host arrays for .npz files (file I/O only)",
    "plots.py": "matplotlib takes host arrays (plotting only)",
    "data.py": "datasets and loaders hold uint8 MNIST images on the host before batching",
    "metrics.py": "confusion matrices and accuracies on host label arrays",
    "cli/": "the command line: prints and saves host arrays",
    "grading/": "the exercise grader (an application): test inputs, reference values and verdicts are host "
                "arrays, sent between processes as bytes",
}


def _resolve(node, module_path):
    """The absolute dotted module name of an ``ImportFrom`` (relative imports resolved)."""
    if node.level == 0:
        return node.module or ""
    parts = ("tinynet",) + module_path.relative_to(PACKAGE).with_suffix("").parts   # "__init__" counts
    base = parts[:-node.level]                                                         # as a module name
    return ".".join(base + ((node.module,) if node.module else ()))


def array_imports(source, module_path=PACKAGE / "example.py"):
    """``[(line, what)]``: every place ``source`` imports numpy, cupy or cupyx."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, f"import {a.name}") for a in node.names
                      if a.name.split(".")[0] in ARRAY_LIBRARIES]
        elif isinstance(node, ast.ImportFrom):
            module = _resolve(node, module_path)
            if module.split(".")[0] in ARRAY_LIBRARIES:
                found.append((node.lineno, f"from {module} import ..."))
            found += [(node.lineno, f"from {module} import {a.name}") for a in node.names
                      if a.name in ARRAY_LIBRARIES]
        elif isinstance(node, ast.Call):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", None)
            if name in ("import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant) \
                    and str(node.args[0].value).split(".")[0] in ARRAY_LIBRARIES:
                found.append((node.lineno, f"{name}({node.args[0].value!r})"))
    return found


def _modules():
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def test_the_package_is_found():
    names = {p.relative_to(PACKAGE).as_posix() for p in _modules()}
    assert {BACKEND, "tensor.py", "gradcheck.py", "ops/elementwise.py", "ops/conv.py"} <= names


@pytest.mark.parametrize("path", _modules(), ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_only_the_backend_imports_numpy_or_cupy(path):
    rel = path.relative_to(PACKAGE).as_posix()
    found = array_imports(path.read_text(encoding="utf-8"), path)
    if rel == BACKEND:
        assert any("numpy" in what for _, what in found), "backend.py is where NumPy is imported"
        return
    if rel in HOST_ONLY or rel.split("/")[0] + "/" in HOST_ONLY:
        cupy = [(line, what) for line, what in found if "cupy" in what]
        assert not cupy, f"tinynet/{rel} is allowed NumPy for host-side work only, but imports CuPy: {cupy}"
        return
    assert not found, (
        f"tinynet/{rel} imports an array library ({', '.join(f'line {n}: {w}' for n, w in found)}). "
        f"Only tinynet/backend.py may: get the array module with backend.array_module(x) "
        f"(or backend.get_module('numpy') for host-side work), or, for a module that handles "
        f"host data only, add it to HOST_ONLY in {pathlib.Path(__file__).name} with the reason.")


# --- the checker itself ---------------------------------------------------------------------------
@pytest.mark.parametrize("source", [
    "import numpy",
    "import numpy as np",
    "import numpy.linalg",
    "from numpy import exp",
    "from numpy.random import default_rng",
    "import cupy",
    "import cupyx.scipy",
    "def f():\n    import numpy as np\n    return np",
    "try:\n    import cupy\nexcept ImportError:\n    cupy = None",
    "from .backend import numpy",
    "from tinynet.backend import cupy",
    "import importlib\nnp = importlib.import_module('numpy')",
    "np = __import__('numpy')",
])
def test_checker_finds_every_form_of_import(source):
    assert array_imports(source)


@pytest.mark.parametrize("source", [
    "from . import backend\nxp = backend.array_module(x)",
    "import numbers",
    "from .backend import array_module",
    "numpy_like = 1",
    "from .ops import numpy_free",
])
def test_checker_accepts_backend_use(source):
    assert not array_imports(source)
