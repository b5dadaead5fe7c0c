"""What every lesson shares: its arguments, the ✓/✗ printer, figures, and the claim registry.
The same script runs on the command line and as a notebook (``lessons/make_notebooks.py``): there,
figures are shown inline as well as saved, and quick mode comes from the environment (``QUICK_ENV``).

    from _common import lesson, say, check, claim, savefig, savegraph, finish
    args = lesson(4, "Convolution")        # parses --quick/--out, prints the title
    check("engine == loop", err < 1e-6, f"max error {err:.1e}")
    @claim("A17")                          # the claim as registered in claims.py, with its rule
    def _():                               # runs at once; its verdict goes in the fact-check table
        return dict(err=err), f"max |formula − reference| = {err:.1e}"
    finish()                               # summary; exit status 1 if any check failed

A claim function returns (measured, value): measured is the dict of numbers the claim's rule in
claims.py turns into the verdict ({} for a judgement), or None when this run cannot decide (a
training result measured in --quick mode, missing data); value says what was computed.
"""
import argparse
import os
import sys
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:      # `python lessons/NN_x.py` works from a fresh, uninstalled clone
    sys.path.insert(0, str(ROOT))
if str(ROOT / "lessons") not in sys.path:   # claims.py and verdicts.py, also when imported from elsewhere
    sys.path.insert(0, str(ROOT / "lessons"))
if "ipykernel" not in sys.modules:  # outside Jupyter, figures go to files only
    os.environ.setdefault("MPLBACKEND", "Agg")
# One BLAS thread unless you say otherwise: on a small machine shared with other work, OpenBLAS's
# spinning threads made training steps 5-10x slower here. (Takes effect if numpy is not loaded yet.)
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

from verdicts import VERDICTS  # noqa: E402,F401  (correct, wrong, ambiguous, unverifiable)
from tinynet.parallel import MAX_WORKERS, available_cores  # noqa: E402

# The lessons that train split every batch over the cores (data parallelism: lesson 16), one BLAS
# thread per worker. Their numbers depend a little on the worker count (the order of a sum), so
# the title line prints it; TINYNET_LESSONS_WORKERS=1 trains in one thread.
WORKERS_ENV = "TINYNET_LESSONS_WORKERS"
_workers = os.environ.get(WORKERS_ENV, "").strip()
if _workers and not (_workers.isdigit() and 1 <= int(_workers) <= MAX_WORKERS):
    sys.exit(f"{WORKERS_ENV}={_workers!r}: use a whole number from 1 to {MAX_WORKERS}, or nothing for every core")
WORKERS = int(_workers) if _workers else available_cores()
CLAIMS = {}     # "A3" -> {"article", "text", "verdict", "value", "lesson", "mode"}
RUN = {}        # this lesson: number, args, failures, passes, start time


# A notebook has no command line: there, quick mode and the figures' folder come from these
# (lessons/make_notebooks.py sets them for the kernel; on the command line they are the defaults).
QUICK_ENV = "TINYNET_LESSONS_QUICK"     # "1": as --quick
OUT_ENV = "TINYNET_LESSONS_OUT"         # a folder: figures go to FOLDER/NN instead of lessons/out/NN


def lesson(number, title):
    """Parse ``--quick`` and ``--out``, make the output folder, print the title; return the args."""
    p = argparse.ArgumentParser(description=f"Lesson {number:02d}: {title}")
    p.add_argument("--quick", action="store_true", help=f"small subsets and few steps (under 30 s); "
                   f"also when the environment has {QUICK_ENV}=1")
    p.add_argument("--out", type=Path, default=Path(os.environ.get(OUT_ENV) or ROOT / "lessons" / "out") / f"{number:02d}",
                   help=f"folder for the figures (default lessons/out/NN, or ${OUT_ENV}/NN)")
    args, _ = p.parse_known_args()  # parse_known_args: Jupyter passes arguments of its own
    quick_env = os.environ.get(QUICK_ENV, "")
    if quick_env not in ("", "0", "1"):
        p.error(f"{QUICK_ENV}={quick_env!r}: use 1 for quick mode, 0 or nothing for full mode")
    args.quick = args.quick or quick_env == "1"
    args.out.mkdir(parents=True, exist_ok=True)
    RUN.update(number=f"{number:02d}", args=args, failed=[], passed=0, t0=time.time())
    mode = ("quick mode: small subsets, few steps" if args.quick else "full mode") + f", {WORKERS} worker{'s' * (WORKERS > 1)}"
    print(f"{'═' * 78}\nLesson {number:02d} · {title}   ({mode})\n{'═' * 78}")
    return args


def say(text):
    """Print an explanation (indentation of the triple-quoted string removed)."""
    print(textwrap.dedent(text).strip("\n"))


def check(what, ok, detail=""):
    """Print ``✓ what: detail`` or ``✗ what: detail`` and remember failures. Returns nothing: a
    notebook would print a returned value under every cell that ends with a check."""
    ok = bool(ok)
    print(f"  {'✓' if ok else '✗'} {what}" + (f": {detail}" if detail else ""))
    if ok:
        RUN["passed"] = RUN.get("passed", 0) + 1
    else:
        RUN.setdefault("failed", []).append(what)


def claim(cid):
    """Decorator: run the check of claim ``cid`` now, turn what it measured into a verdict by the
    claim's rule (claims.py), print it and record it for the fact-check."""
    from claims import REGISTRY
    entry, number = REGISTRY[cid], RUN.get("number", "?")

    def run(fn):
        try:
            if entry.lesson != number:
                raise LookupError(f"{cid} is registered to lesson {entry.lesson} in claims.py, not {number}")
            measured, value = fn()
            if entry.kind == "judgement" and measured:
                raise TypeError(f"{cid} is a judgement in claims.py: nothing measured may decide it, got {sorted(measured)}")
            verdict = None if measured is None and entry.kind == "computed" else entry.basis(measured or {})
        except Exception as e:          # a broken check or rule is a failure, not a verdict
            verdict, value = "error", f"{type(e).__name__}: {e}"
            check(f"{cid} check ran", False, value)
        shown = "NO VERDICT" if verdict is None else verdict.upper() + (" (judgement)" if entry.kind == "judgement" else "")
        print(f"  ▸ {cid} [article {entry.article}] {entry.text}\n      → {shown}: {value}")
        quick = RUN["args"].quick if "args" in RUN else False
        CLAIMS[cid] = dict(article=entry.article, text=entry.text, verdict=verdict, value=value, lesson=number,
                           mode="quick" if quick else "full", kind=entry.kind, why=entry.basis.why)
        return fn
    return run


def _shown(path):
    try:
        return path.resolve().relative_to(Path.cwd())
    except ValueError:
        return path


def in_notebook():
    """True when running in a Jupyter kernel (there figures are shown inline as well as saved)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return getattr(shell, "kernel", None) is not None


def savefig(fig, name):
    """Save a matplotlib figure as OUT/name.png, close it, and say where it went (and show it, in a notebook)."""
    import matplotlib.pyplot as plt
    path = RUN["args"].out / f"{name}.png"
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    figure(path)


def figure(path):
    """Say where a figure went (saved by savefig or by tinynet.plots); in a notebook, show the PNG
    itself inline, so what the notebook shows is the file. Returns nothing (see ``check``)."""
    print(f"  [figure] {_shown(Path(path))}")
    if in_notebook():
        from IPython.display import Image, display
        display(Image(filename=str(path)))


def savegraph(output, name, params=None, **options):
    """Draw the autograd graph behind ``output`` as OUT/name.svg (``tinynet.viz.draw_graph``; the
    DOT text, OUT/name.dot, when Graphviz is not installed), say where it went, and show it inline
    in a notebook. ``options``: ``depth``, ``grads`` as in ``draw_graph``."""
    from tinynet.viz import draw_graph
    path = draw_graph(output, RUN["args"].out / f"{name}.svg", params, **options)
    print(f"  [figure] {_shown(path)}")
    if in_notebook() and path.suffix == ".svg":
        from IPython.display import SVG, display
        display(SVG(filename=str(path)))


def trained_model(path, build, train):
    """``build()`` trained: loaded from ``path`` when an earlier full run saved it there (lesson 10
    saves its models in lessons/out/10/), else trained now by ``train(model)`` and, in full mode,
    saved there. Quick mode always trains its own small model. Returns (model, loaded)."""
    import tinynet as tn
    model, quick = build(), RUN["args"].quick
    if not quick and Path(path).is_file():
        model.load_state_dict(tn.load(path))
        print(f"  loaded the trained model {_shown(Path(path))} (delete it to train again)")
        return model, True
    train(model)
    if not quick:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        tn.save(model.state_dict(), path)
        print(f"  saved the trained model as {_shown(Path(path))}")
    return model, False


def finish():
    """Print the summary; exit with status 1 if any check failed."""
    failed, n = RUN.get("failed", []), RUN.get("passed", 0)
    secs = time.time() - RUN.get("t0", time.time())
    ours = [c for c, v in CLAIMS.items() if v["lesson"] == RUN.get("number")]
    print(f"{'─' * 78}\nLesson {RUN.get('number')}: {n} checks passed, {len(failed)} failed; "
          f"{len(ours)} article claims checked; figures in {_shown(RUN['args'].out)}/ ({secs:.1f} s)")
    if failed:
        print("failed: " + "; ".join(failed))
        sys.exit(1)
