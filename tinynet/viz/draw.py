"""``draw_graph``: the autograd graph (``to_dot``) drawn to SVG or PNG by Graphviz's ``dot``.

Graphviz is a program, not a Python package, so it is not a dependency: when ``dot`` is not on
the PATH the DOT text is written next to the path asked for (``step.png`` → ``step.dot``) with
one line on stderr saying how to install Graphviz and draw it. Writes are atomic (``files.py``),
so a failed drawing never leaves half a file or costs the file that was there.
"""
import shutil
import subprocess
import sys

from .files import check_out_path, write_atomic
from .graph import HEADER, to_dot

__all__ = ["draw_graph", "FORMATS"]

FORMATS = (".svg", ".png", ".dot")
INSTALL = "install Graphviz (Debian/Ubuntu: sudo apt-get install graphviz; macOS: brew install graphviz)"


def _write(path, data):
    write_atomic(path, lambda f: f.write(data), "draw_graph")


def _ours(path):
    """Whether ``path`` is missing or a .dot file this module wrote (safe to replace)."""
    try:
        with open(path, "rb") as f:
            return f.read(len(HEADER)) == HEADER.encode()
    except FileNotFoundError:
        return True
    except OSError:
        return False


def draw_graph(output, path, params=None, *, depth=None, grads=False, legend=True, timeout=60):
    """Draw the graph behind ``output`` into ``path`` (.svg, .png, or .dot for the text itself).

    ``params``, ``depth``, ``grads``, ``legend`` as in ``to_dot``. Runs ``dot`` with a time limit
    of ``timeout`` seconds. Returns the Path written: ``path``, or the ``.dot`` beside it when
    Graphviz is not installed (then one line on stderr says how to install it).
    """
    path = check_out_path(path, FORMATS, "draw_graph")
    text = to_dot(output, params, depth=depth, grads=grads, legend=legend)
    fmt = path.suffix.lower()[1:]
    if fmt == "dot":
        _write(path, text.encode())
        return path
    exe = shutil.which("dot")
    if exe is None:
        dot_path = path.with_suffix(".dot")
        if not _ours(dot_path):
            raise ValueError(f"draw_graph: Graphviz's dot is not installed and {dot_path}, where the DOT text would "
                             f"go, is another file; not replacing it ({INSTALL})")
        _write(dot_path, text.encode())
        print(f"Graphviz's dot is not installed, so the graph went to {dot_path} as text; {INSTALL}, then: "
              f"dot -T{fmt} {dot_path} -o {path}", file=sys.stderr)
        return dot_path
    try:
        r = subprocess.run([exe, f"-T{fmt}"], input=text.encode(), capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"draw_graph: dot took more than {timeout} s on a graph of {text.count(' [label=')} "
                           "nodes; draw it with depth=1, or as .dot") from None
    except OSError as e:
        raise RuntimeError(f"draw_graph: cannot run {exe} ({e.strerror or e})") from None
    if r.returncode != 0 or not r.stdout:
        why = (r.stderr.decode(errors="replace").strip().splitlines() or ["no output"])[0]
        raise RuntimeError(f"draw_graph: dot failed (exit status {r.returncode}): {why}")
    _write(path, r.stdout)
    return path
