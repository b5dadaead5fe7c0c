"""What the grader reads from a student's file without running it: its text, which exercise it
claims to be, and where its unwritten TODOs are.

Everything here parses; nothing executes the file. A file that is too big, binary, not UTF-8 or
not Python gets one sentence saying so.
"""
import ast
import re
from pathlib import Path

MAX_BYTES = 1 << 20           # an exercise file is a few KB; 1 MB is surely something else
_EXERCISE_NUMBER = re.compile(r"(?:^|[^a-z])ex[_-]?0*(\d{1,2})(?!\d)", re.I)


class NotGradable(ValueError):
    """The file cannot be graded at all (missing, binary, not Python, no such exercise …).

    ``usage`` is True when the command was wrong (no such file, a folder) rather than the file."""

    def __init__(self, message, usage=False):
        super().__init__(message)
        self.usage = usage


class Source:
    """A student's file, read and parsed: ``text``, ``tree``, ``declared`` (the EXERCISE value),
    ``stubs`` ({"ReLU.backward": [(line, "# TODO: …")]} for every ``raise NotImplementedError``)."""

    def __init__(self, path):
        self.path = Path(path)
        self.text = read_text(self.path)
        try:
            self.tree = ast.parse(self.text, filename=str(self.path))
        except SyntaxError as e:
            self.tree, self.syntax_error = None, f"SyntaxError: {e.msg} (line {e.lineno})"
        except (ValueError, RecursionError, MemoryError) as e:
            self.tree, self.syntax_error = None, f"{type(e).__name__}: the file cannot be parsed"
        else:
            self.syntax_error = None
        if self.tree is None and self.path.suffix != ".py":
            raise NotGradable(f"{self.path} is not a Python file ({self.syntax_error})")
        self.lines = self.text.splitlines()
        self.declared = _declared_exercise(self.tree) if self.tree else _declared_in_text(self.text)
        self.stubs = _stubs(self.tree, self.lines) if self.tree else {}

    def todo_at(self, line):
        """The ``# TODO`` comment just above ``line`` (1-based), or ""."""
        for k in range(line - 2, max(line - 6, -1), -1):
            if k < len(self.lines) and self.lines[k].strip().startswith("# TODO"):
                return self.lines[k].strip()
        return ""


_MISSING = object()


def read_text(path):
    """The file's text, or ``NotGradable`` naming what is wrong with it."""
    path = Path(path)
    if not path.exists():
        raise NotGradable(f"no such file: {path}", usage=True)
    if path.is_dir():
        raise NotGradable(f"{path} is a folder, not an exercise file (grade a whole folder with --class)", usage=True)
    if not path.is_file():
        raise NotGradable(f"{path} is not a regular file (a device, a pipe or a socket)")
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_BYTES + 1)
    except OSError as e:
        raise NotGradable(f"cannot read {path}: {e.strerror or e}") from None
    if len(data) > MAX_BYTES:
        raise NotGradable(f"{path} is larger than {MAX_BYTES >> 20} MB; an exercise file is a few KB")
    if b"\0" in data:
        raise NotGradable(f"{path} is not a Python file: it holds binary data")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise NotGradable(f"{path} is not a Python file: it is not UTF-8 text (byte {e.start})") from None


def _declared_exercise(tree):
    """The top-level ``EXERCISE = "name"``: the string, ``_MISSING``, or the source of a non-string."""
    for node in tree.body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "EXERCISE" for t in targets) and node.value is not None:
                value = node.value
                if isinstance(value, ast.Constant) and isinstance(value.value, str):
                    return value.value
                return NotAString(ast.unparse(value)[:80])
    return _MISSING


def _declared_in_text(text):
    """EXERCISE read from the text of a file that does not parse (to report its syntax error)."""
    m = re.search(r"^EXERCISE\s*=\s*[\"']([A-Za-z0-9_]+)[\"']\s*$", text, re.M)
    return m.group(1) if m else _MISSING


class NotAString(str):
    """EXERCISE set to something other than a plain string (its source text)."""


def _stubs(tree, lines):
    """{qualified function name: [(line, TODO comment)]} for each ``raise NotImplementedError``."""
    found = {}

    def visit(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                visit(child, prefix + [child.name])
            elif isinstance(child, ast.Raise) and _is_not_implemented(child.exc):
                todo = next((lines[k].strip() for k in range(child.lineno - 2, max(child.lineno - 6, -1), -1)
                             if k < len(lines) and lines[k].strip().startswith("# TODO")), "")
                found.setdefault(".".join(prefix), []).append((child.lineno, todo))
            else:
                visit(child, prefix)
    visit(tree, [])
    return found


def _is_not_implemented(exc):
    if isinstance(exc, ast.Call):
        exc = exc.func
    return isinstance(exc, ast.Name) and exc.id == "NotImplementedError"


def exercises_named_by(path, exercises):
    """The exercises the file's name points at: ``ex03`` (any case, in ``alice_ex03.py`` too) by
    number, else an exercise's name in the stem (``bob_softmax_ce.py``)."""
    stem = Path(path).stem.lower()
    numbers = {int(n) for n in _EXERCISE_NUMBER.findall(stem)}
    if numbers:
        return [ex for ex in exercises if ex.number in numbers] or [None]
    return [ex for ex in exercises if re.search(rf"(?:^|[^a-z0-9]){re.escape(ex.name)}(?:$|[^a-z0-9])", stem)]
