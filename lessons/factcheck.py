"""The fact-check: run the lessons, collect every article claim they check, print the table.

    python lessons/factcheck.py [--quick] [--out lessons/out/factcheck.md] [--lessons 01,04]

Each lesson registers its claim checks with ``@claim("A3")`` (see ``_common.py``); the check runs
inside the lesson and the claim's rule in ``claims.py`` turns what it measured into the verdict, so
the table shows exactly what the lesson computed. This script
runs the lessons one after the other in this process (their printed output goes to
``lessons/out/factcheck_logs/``), then prints one row per claim — id, article, claim, verdict,
the number computed — and writes the same table as Markdown. In ``--quick`` mode training
results come from small runs and are marked "no verdict" instead of given a verdict.
"""
import _common  # noqa: I001  (first: paths, and one BLAS thread, before numpy loads)
import argparse
import contextlib
import datetime
import os
import runpy
import subprocess
import sys
import time
import traceback
from pathlib import Path

from _common import ROOT
from claims import REGISTRY

LESSONS = ROOT / "lessons"
ALL_IDS = sorted(REGISTRY, key=lambda c: int(c[1:]))


def run_lesson(path, quick, log_dir):
    """Run one lesson file as a script; return (ok, seconds). Its output goes to a log file."""
    argv, sys.argv = sys.argv, [str(path)] + (["--quick"] if quick else [])
    t0, ok = time.time(), True
    with open(log_dir / f"{path.stem}.log", "w", buffering=1) as log:     # line-buffered: follow it with tail -f
        try:
            with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
                runpy.run_path(str(path), run_name="__main__")
        except SystemExit as e:
            ok = e.code in (0, None)
        except Exception:
            ok = False
            log.write(traceback.format_exc())
        finally:
            sys.argv = argv
            _close_figures()
    return ok, time.time() - t0


def _close_figures():
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")


def _cell(s):
    return str(s).replace("|", "\\|").replace("\n", " ")


def table(claims):
    rows = ["| id | article | claim | verdict | computed here | how decided | lesson |", "|---|---|---|---|---|---|---|"]
    for cid in sorted(claims, key=lambda c: int(c[1:])):
        c = claims[cid]
        verdict = "no verdict" if c["verdict"] is None else f"**{c['verdict']}**"
        verdict += " (judgement)" if c.get("kind") == "judgement" else ""
        how = "rule (claims.md)" if c.get("kind") == "computed" else f"judgement: {c.get('why', '')}"
        rows.append(f"| {cid} | {c['article']} | {_cell(c['text'])} | {verdict} | {_cell(c['value'])} | {_cell(how)} | {c['lesson']} |")
    return "\n".join(rows)


def summary(claims):
    counts = {}
    for c in claims.values():
        counts[c["verdict"] or "no verdict"] = counts.get(c["verdict"] or "no verdict", 0) + 1
    return ", ".join(f"{v}: {counts[v]}" for v in (*_common.VERDICTS, "no verdict", "error") if v in counts)


def failed_note(stem):
    """A failed lesson and the claims it checks: '16_data_parallel (checks no claim)',
    '10_training_recipes (checks A11, A13, …)'."""
    ids = [c for c in ALL_IDS if REGISTRY[c].lesson == stem[:2]]
    return f"{stem} ({'checks ' + ', '.join(ids) if ids else 'checks no claim'})"


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="run the lessons in quick mode")
    p.add_argument("--out", type=Path, default=LESSONS / "out" / "factcheck.md", help="Markdown file to write")
    p.add_argument("--lessons", default="", help="comma-separated lesson numbers to run (default: all)")
    args = p.parse_args()
    wanted = {n.strip().zfill(2) for n in args.lessons.split(",") if n.strip()}
    paths = [q for q in sorted(LESSONS.glob("[0-9][0-9]_*.py")) if not wanted or q.name[:2] in wanted]
    log_dir = args.out.parent / "factcheck_logs"
    log_dir.mkdir(parents=True, exist_ok=True)

    mode = "quick" if args.quick else "full"
    print(f"Fact-check of the five MNIST articles: running {len(paths)} lessons in {mode} mode "
          f"(their output goes to {log_dir})")
    failed, timings, started, load_start = [], [], time.time(), os.getloadavg()[0]
    for path in paths:
        before = len(_common.CLAIMS)
        ok, secs = run_lesson(path, args.quick, log_dir)
        timings.append((path.stem, secs, ok))
        print(f"  {'✓' if ok else '✗'} {path.stem:32s} {secs:6.1f} s  {len(_common.CLAIMS) - before:2d} claims")
        if not ok:
            failed.append(path.stem)

    claims = _common.CLAIMS
    missing = [c for c in ALL_IDS if c not in claims]
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip() or "unknown"
    if subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
                      capture_output=True, text=True).stdout.strip():
        commit += " with uncommitted changes"
    minutes, load_end = (time.time() - started) / 60, os.getloadavg()[0]      # wall time: lessons run one by one

    head = [
        "# Fact-check of the five MNIST articles",
        "",
        f"Produced by `python lessons/factcheck.py{' --quick' if args.quick else ''}` on "
        f"{datetime.date.today()} (commit {commit}), **{mode} mode**, in {minutes:.0f} minutes "
        f"({len(paths)} lessons, {_common.WORKERS} worker{'s' * (_common.WORKERS > 1)}, load average "
        f"{load_start:.1f} at the start and {load_end:.1f} at the end; "
        f"{'every lesson passed' if not failed else 'failed: ' + '; '.join(map(failed_note, failed))}): in rule "
        "rows every number in the last-but-one column was computed by the lesson named in the last column during "
        "this run; judgement rows give a reading of the text and may quote sources (not computed).",
        "The claims, where they are in the articles and the rule that decides each verdict are listed in "
        "`lessons/claims.md`. *How decided*: a rule on the numbers computed here, or a judgement (a reading "
        "of the text, not a measurement) with its reason. \"wrong\" rows give the right value.",
        "" if not args.quick else
        "Quick mode trains on small subsets for a few steps, so training results are reported "
        "but left without a verdict (\"no verdict\").",
        "",
        f"Verdicts: {summary(claims)}.  Claims checked: {len(claims)} of {len(ALL_IDS)}.",
        "",
        "",
    ]
    body = table(claims)
    tail = []
    if missing:
        tail.append(f"\nNot checked in this run: {', '.join(missing)}.")
    if failed:
        tail.append(f"\nLessons that failed (see their logs in {log_dir}): {', '.join(failed)}.")
    tail.append("\nLesson run times: " + ", ".join(f"{n[:2]} {s:.0f} s" for n, s, _ in timings) + ".")
    text = "\n".join(head) + body + "\n" + "\n".join(tail) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print()
    print(text)
    print(f"written to {args.out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
