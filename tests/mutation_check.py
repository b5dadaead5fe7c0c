"""Mutation check: break each op's backward in a copy of the repository, one mutation at a time,
and check that the op tests notice (not a pytest module: run it as a script).

    nice -n 19 .venv/bin/python tests/mutation_check.py                  # every mutant (~15-30 min)
    nice -n 19 .venv/bin/python tests/mutation_check.py --only Exp       # a class, a file (elementwise)
    nice -n 19 .venv/bin/python tests/mutation_check.py --list           # the mutants, without running

For every ``Function`` subclass in ``tinynet/ops/*.py`` (conv, pool, linear, losses and dropout
included; batch_norm and mse_loss are composed of other ops and have no backward of their own)
the mutants are, per ``return`` of its ``backward`` and per gradient in the returned tuple:

  neg        the gradient negated                 g → -g
  double     the gradient doubled                 g → 2·g
  transpose  its last two axes swapped            g → g.swapaxes(-1, -2)

and, per matrix product ``A @ B`` anywhere in a backward,

  swap       the operands swapped                 A @ B → B @ A
  untrans    a transposed operand not transposed  A @ B.T → A @ B   (operands spelt .T, _mT(.), .transpose(.), .swapaxes(.))

A transposed gradient or a product with swapped operands usually has the wrong shape, which the
engine's shape check in ``Tensor.backward`` (or matmul itself) reports whatever the values.  To
see whether the tests check the *values*, these three kinds change a gradient only where the
result keeps the original shape (square shapes) and leave it alone elsewhere.  If the tests pass
and the change was never shape-compatible in any call, the mutant is reported ``killed-shape``:
written unconditionally, it raises a shape error in every test that runs it.

and, per ``forward`` and ``backward``, the issue's third judging point:

  stray      ``numpy.asarray`` of the first array argument put in front (harmless on NumPy, a
             TypeError on CuPy and on the fakecupy stand-in, which the op tests also run on).

A gradient is changed at run time by a small helper appended to the mutated module: ``None``
stays ``None`` (an input that needs no gradient), and the helper records what it did.  A mutant
whose helper never changed anything (a transpose of gradients that are at most 1-D) is reported
as ``n/a``: it is the original code.

Each mutant is written into a temporary copy of tinynet/, data_tools/, tests/ and pyproject.toml
(one copy per job; /work/main is never touched) and the op test files are run there with ``-x``
and Hypothesis's derandomized ``ci`` profile.  A mutant is *killed* when the tests fail (the
first failing test is shown), *survived* when they pass (but see ``killed-shape`` above).  ``EQUIVALENT`` lists mutants that no
test can kill, with the reason; they are reported but do not fail the check.  Exit status 1 if
any mutant survived, or could not be tested (``ERROR``: pytest did not run, a timeout), or the
unmutated copy fails; else 0.
"""
import argparse
import ast
import concurrent.futures
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
COPY = ["tinynet", "data_tools", "tests", "pyproject.toml"]
OPS = "tinynet/ops"
TESTS = ["tests/test_ops_grad.py", "tests/test_layers_grad.py", "tests/test_losses.py",
         "tests/test_conv_pool.py", "tests/test_tensor.py", "tests/test_backend.py",
         "tests/test_gradcheck.py", "tests/test_nn.py", "tests/test_torch_compare_ops.py",
         "tests/test_torch_compare_nn.py"]
KINDS = ["neg", "double", "transpose", "swap", "untrans", "stray"]
HELPER = "_mutation_check_"
HITS_ENV = "TINYNET_MUTANT_HITS"

# (file, class, mutation) -> why no test can kill it (the mutant computes the same gradients)
EQUIVALENT = {
    ("elementwise.py", "Pow", "neg return 1 (p == 0)"): "the gradient of x**0 is gz * 0: zero, and -0 == 0",
    ("elementwise.py", "Pow", "double return 1 (p == 0)"): "the gradient of x**0 is gz * 0: zero, and 2·0 == 0",
}

_HELPER_SOURCE = f'''

def {HELPER}(value, kind, index):
    """Added by tests/mutation_check.py: change gradient ``index`` of ``value`` by ``kind``."""
    def change(g):
        if g is None:
            return g
        if kind == "neg":
            g = -g
        elif kind == "double":
            g = 2 * g
        elif g.ndim < 2 or g.shape[-1] == g.shape[-2] == 1:
            return g                          # transposing changes nothing
        elif g.shape[-1] != g.shape[-2]:
            {HELPER}note("shape")               # a shape error, unless square
            return g
        else:
            g = g.swapaxes(-1, -2)
        {HELPER}note("applied")
        return g
    if not isinstance(value, tuple):
        return change(value)
    value = list(value)
    value[index] = change(value[index])
    return tuple(value)


def {HELPER}product(original, mutated):
    """The mutated product where it has the original's shape, else the original."""
    want = original()
    try:
        got = mutated()
    except ValueError:
        got = None
    if got is None or got.shape != want.shape:
        {HELPER}note("shape")
        return want
    {HELPER}note("applied")
    return got


def {HELPER}note(what):
    with open(__import__("os").environ["{HITS_ENV}"], "a") as f:
        f.write(what + "\\n")
'''


# ================================ finding the mutants =============================================
class Mutant:
    def __init__(self, file, cls, name, edits):
        self.file, self.cls, self.name = file, cls, name
        self.edits = edits            # [(start byte, end byte, replacement bytes)], non-overlapping

    @property
    def key(self):
        return (self.file, self.cls, self.name)

    def apply(self, source):
        """The module's source (bytes) with this mutant's edits and the helper."""
        for start, end, text in sorted(self.edits, reverse=True):
            source = source[:start] + text + source[end:]
        return source + _HELPER_SOURCE.encode()


def _offsets(source):
    """Byte offset of the start of every line (1-based line numbers index it)."""
    starts, n = [0, 0], 0
    for line in source.splitlines(keepends=True):
        n += len(line)
        starts.append(n)
    return starts


def _span(node, lines):
    return lines[node.lineno] + node.col_offset, lines[node.end_lineno] + node.end_col_offset


def _own_nodes(fn):
    """The nodes of function ``fn``'s body, not descending into nested functions and lambdas."""
    todo = list(fn.body)
    while todo:
        node = todo.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                todo.append(child)


def _untransposed(node):
    """The operand inside a transposition spelt ``x.T``, ``_mT(x)``, ``x.transpose(...)``,
    ``x.swapaxes(...)``, else None."""
    if isinstance(node, ast.Attribute) and node.attr == "T":
        return node.value
    if isinstance(node, ast.Call):
        f = node.func
        if isinstance(f, ast.Name) and f.id == "_mT" and len(node.args) == 1:
            return node.args[0]
        if isinstance(f, ast.Attribute) and f.attr in ("transpose", "swapaxes"):
            return f.value
    return None


def _is_function_class(node):
    return isinstance(node, ast.ClassDef) and any(
        (isinstance(b, ast.Name) and b.id == "Function") or (isinstance(b, ast.Attribute) and b.attr == "Function")
        for b in node.bases)


def _returns_note(ret, source, lines, fn):
    """A short note telling returns apart: the condition of an ``if`` that ends in this return."""
    for node in _own_nodes(fn):
        if isinstance(node, ast.If) and node.body and node.body[-1] is ret:
            a, b = _span(node.test, lines)
            return f" ({source[a:b].decode()})"
    return ""


def find_mutants(path, kinds=KINDS):
    """Every mutant of module ``path`` (a file of tinynet/ops) of the given kinds."""
    source = path.read_bytes()
    lines = _offsets(source)
    tree = ast.parse(source)
    rel = path.name
    mutants = []
    for cls in (n for n in tree.body if _is_function_class(n)):
        methods = {f.name: f for f in cls.body if isinstance(f, ast.FunctionDef)}
        backward = methods.get("backward")
        if backward is not None:
            returns = [n for n in _own_nodes(backward) if isinstance(n, ast.Return) and n.value is not None]
            returns.sort(key=lambda n: (n.lineno, n.col_offset))
            for r, ret in enumerate(returns, 1):
                a, b = _span(ret.value, lines)
                expr = source[a:b]
                if isinstance(ret.value, ast.Tuple):
                    indices = [i for i, e in enumerate(ret.value.elts)
                               if not (isinstance(e, ast.Constant) and e.value is None)]
                elif isinstance(ret.value, ast.Call) and getattr(ret.value.func, "id", None) == "tuple":
                    indices = [0, -1]         # a tuple built at run time: its first and last gradients
                else:
                    indices = [None]
                label = f"return {r}" if len(returns) > 1 else "return"
                label += _returns_note(ret, source, lines, backward)
                for kind in ("neg", "double", "transpose"):
                    if kind not in kinds:
                        continue
                    for i in indices:
                        what = f"{kind} {label}" + ("" if i is None else f" [{i}]")
                        text = f"{HELPER}(({expr.decode()}), {kind!r}, {i!r})".encode()
                        mutants.append(Mutant(rel, cls.name, what, [(a, b, text)]))
            products = [n for n in _own_nodes(backward)
                        if isinstance(n, ast.BinOp) and isinstance(n.op, ast.MatMult)]
            for node in sorted(products, key=lambda n: (n.lineno, n.col_offset)):
                a, b = _span(node, lines)
                la, lb = _span(node.left, lines)
                ra, rb = _span(node.right, lines)
                left, right = source[la:lb].decode(), source[ra:rb].decode()
                product = source[a:b].decode()
                where = f"`{product}` (line {node.lineno})"

                def guarded(mutated):
                    return f"{HELPER}product(lambda: ({product}), lambda: ({mutated}))".encode()
                if "swap" in kinds:
                    mutants.append(Mutant(rel, cls.name, f"swap {where}", [(a, b, guarded(f"({right}) @ ({left})"))]))
                if "untrans" in kinds:
                    for side, operand in (("left", node.left), ("right", node.right)):
                        inner = _untransposed(operand)
                        if inner is None:
                            continue
                        ia, ib = _span(inner, lines)
                        oa, ob = _span(operand, lines)
                        mutated = (source[a:oa] + source[ia:ib] + source[ob:b]).decode()
                        mutants.append(Mutant(rel, cls.name, f"untrans {side} of {where}", [(a, b, guarded(mutated))]))
        if "stray" in kinds:
            for name in ("forward", "backward"):
                fn = methods.get(name)
                args = [a.arg for a in fn.args.args[1:]] if fn else []
                if not args and fn is not None and fn.args.vararg:
                    args = [fn.args.vararg.arg + "[0]"]
                if not args:
                    continue
                first = fn.body[0]
                if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and len(fn.body) > 1:
                    first = fn.body[1]                   # after the docstring
                pos = lines[first.lineno]
                indent = source[pos:pos + first.col_offset]
                text = indent + f'__import__("sys").modules["numpy"].asarray({args[0]})\n'.encode()
                mutants.append(Mutant(rel, cls.name, f"stray numpy.asarray({args[0]}) in {name}",
                                      [(pos, pos, text)]))
    return mutants


# ================================ running them ====================================================
def make_copy(parent):
    dest = pathlib.Path(tempfile.mkdtemp(prefix="copy-", dir=parent))
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".hypothesis", ".pytest_cache")
    for name in COPY:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=ignore)
        else:
            shutil.copy2(src, dest / name)
    return dest


def self_test():
    """The helper does what it says, on NumPy arrays (a broken helper would 'kill' every mutant)."""
    import numpy as np
    with tempfile.TemporaryDirectory() as d:
        hits = pathlib.Path(d) / "hits"
        os.environ[HITS_ENV] = str(hits)
        ns = {}
        exec(compile(_HELPER_SOURCE, "<helper>", "exec"), ns)
        mutate, product = ns[HELPER], ns[HELPER + "product"]
        g, sq, row = np.arange(6.0).reshape(2, 3), np.arange(4.0).reshape(2, 2), np.arange(3.0)
        assert (mutate(g, "neg", None) == -g).all() and (mutate((None, g), "double", 1)[1] == 2 * g).all()
        assert mutate((g, None), "neg", 1)[1] is None and mutate(g, "transpose", None) is g
        assert (mutate(sq, "transpose", None) == sq.T).all() and mutate(row, "transpose", None) is row
        assert (product(lambda: sq @ g, lambda: g @ sq) == sq @ g).all()           # shapes differ: original
        assert (product(lambda: sq @ sq.T, lambda: sq @ sq) == sq @ sq).all()
        assert hits.read_text().split() == ["applied", "applied", "shape", "applied", "shape", "applied"]
        del os.environ[HITS_ENV]


def run_tests(copy, tests, timeout, hits_file):
    """(status, first failure line or note) for the test files run in ``copy``: status is
    "passed", "failed" (some test failed) or "error" (pytest could not run the tests)."""
    env = dict(os.environ, PYTHONPATH=str(copy), PYTHONDONTWRITEBYTECODE="1", HYPOTHESIS_PROFILE="ci", COLUMNS="300",
               TINYNET_NUM_THREADS="1", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    env[HITS_ENV] = str(hits_file)
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-o", "addopts=",
           "-m", "not slow", "--tb=line", "-rf", *tests]
    try:
        p = subprocess.run(cmd, cwd=copy, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "error", f"timeout after {timeout} s"
    if p.returncode == 0:
        return "passed", ""
    failed = [line for line in p.stdout.splitlines() if line.startswith("FAILED ")]
    if p.returncode != 1 or not failed:      # collection errors, usage errors, crashes
        tail = (p.stdout + p.stderr).strip().splitlines()[-3:]
        return "error", f"pytest exit {p.returncode}: " + " | ".join(tail)
    return "failed", failed[0][len("FAILED "):]


def check_copy_imports_itself(copy):
    env = dict(os.environ, PYTHONPATH=str(copy), PYTHONDONTWRITEBYTECODE="1")
    out = subprocess.run([sys.executable, "-c", "import tinynet; print(tinynet.__file__)"], cwd=copy,
                         env=env, capture_output=True, text=True, check=True).stdout.strip()
    if not out.startswith(str(copy)):
        sys.exit(f"mutation_check: the copy imports tinynet from {out}, not from {copy}; giving up")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", action="append", default=[],
                    help="a file (elementwise or elementwise.py), a class (Exp) or FILE:CLASS; repeatable")
    ap.add_argument("--kinds", default=",".join(KINDS), help=f"comma-separated, of {','.join(KINDS)}")
    ap.add_argument("--jobs", type=int, default=1, help="mutants run at once (each in its own copy)")
    ap.add_argument("--timeout", type=float, default=900, help="seconds per mutant")
    ap.add_argument("--tests", nargs="+", default=TESTS, help="test files to run (paths in the repository)")
    ap.add_argument("--list", action="store_true", help="list the mutants and exit")
    ap.add_argument("--show", action="store_true", help="print each mutated line (with --list)")
    args = ap.parse_args(argv)
    kinds = args.kinds.split(",")
    unknown = set(kinds) - set(KINDS)
    if unknown:
        ap.error(f"unknown kinds {sorted(unknown)}; known: {','.join(KINDS)}")

    def wanted(m):
        if not args.only:
            return True
        stem = m.file.removesuffix(".py")
        return any(o in (m.file, stem, m.cls, f"{m.file}:{m.cls}", f"{stem}:{m.cls}") for o in args.only)

    paths = sorted(p for p in (ROOT / OPS).glob("*.py") if p.name != "__init__.py")
    mutants = [m for p in paths for m in find_mutants(p, kinds) if wanted(m)]
    if not mutants:
        ap.error("no mutant matches --only " + " ".join(args.only))
    self_test()
    for m in mutants:               # a mutant that does not compile would be 'killed' for nothing
        compile(m.apply((ROOT / OPS / m.file).read_bytes()), f"{m.file} ({m.cls}: {m.name})", "exec")
    if args.list:
        for m in mutants:
            print(f"{m.file:16} {m.cls:14} {m.name}")
            if args.show:
                src = (ROOT / OPS / m.file).read_bytes()
                new = m.apply(src).decode().splitlines()
                old = src.decode().splitlines()
                for a, b in zip(old, new):
                    if a != b:
                        print(f"    - {a.strip()}\n    + {b.strip()}")
                        break
        print(f"{len(mutants)} mutants")
        return 0

    parent = pathlib.Path(tempfile.mkdtemp(prefix="tinynet-mutants-"))
    try:
        copies = [make_copy(parent) for _ in range(max(1, args.jobs))]
        check_copy_imports_itself(copies[0])
        t0 = time.time()
        outcome, note = run_tests(copies[0], args.tests, args.timeout, parent / "baseline-hits")
        print(f"baseline (no mutation): {outcome} {note} in {time.time() - t0:.0f} s", flush=True)
        if outcome != "passed":
            return 1
        free, lock = list(copies), threading.Lock()

        def run(i, m):
            with lock:
                copy = free.pop()
            target = copy / OPS / m.file
            original = target.read_bytes()
            hits = copy / f"hits-{i}"
            try:
                target.write_bytes(m.apply(original))
                start = time.time()
                outcome, note = run_tests(copy, args.tests, args.timeout, hits)
                seconds = time.time() - start
            finally:
                target.write_bytes(original)
                with lock:
                    free.append(copy)
            seen = set(hits.read_text().split()) if hits.exists() else set()
            hits.unlink(missing_ok=True)
            if outcome == "error":
                status = "ERROR"
            elif outcome == "failed":
                status = "killed"
            elif m.key in EQUIVALENT:
                status, note = "equivalent", EQUIVALENT[m.key]
            elif m.name.startswith("stray") or "applied" in seen:
                status = "SURVIVED"
            elif "shape" in seen:
                status, note = "killed-shape", "never shape-compatible in the tests: a shape error wherever it runs"
            else:
                status, note = "n/a", "the mutation never changed a gradient (the original code ran)"
            return m, status, note, seconds

        results = []
        print(f"{len(mutants)} mutants, tests: {' '.join(args.tests)}\n", flush=True)
        print(f"{'file':16} {'class':14} {'mutation':58} {'result':10} first failing test / note")
        with concurrent.futures.ThreadPoolExecutor(max(1, args.jobs)) as pool:
            for m, status, note, seconds in pool.map(lambda im: run(*im), enumerate(mutants)):
                results.append((m, status, note))
                name = m.name if len(m.name) <= 58 else m.name[:55] + "..."
                print(f"{m.file:16} {m.cls:14} {name:58} {status:10} {note[:150]}  [{seconds:.0f} s]", flush=True)
    finally:
        shutil.rmtree(parent, ignore_errors=True)

    counts = {}
    for _, status, _ in results:
        counts[status] = counts.get(status, 0) + 1
    print("\n" + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) + f" of {len(results)} mutants")
    bad = [(m, s) for m, s, _ in results if s in ("SURVIVED", "ERROR")]
    for m, s in bad:
        print(f"{s.lower()}: {m.file} {m.cls}: {m.name}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
