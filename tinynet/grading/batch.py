"""Grade a whole class: every submission in a folder, in parallel, into a CSV and a summary.

    check_class("submissions/", "softmax_ce", csv_path="grades.csv", jobs=4)

A submission is a ``.py`` file directly in the folder (the student is its stem: ``alice.py`` or
``alice_ex03.py``) or a sub-folder (the student is the folder's name) holding the file for the
exercise (``exNN_…`` or the exercise's name in its file name, or its only ``.py`` file). Every
student's file runs in its own child with the same random inputs; one broken or hostile
submission changes nothing for the others.
"""
import csv
import math
import os
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from . import runner
from .grade import DEFAULT_MEMORY, DEFAULT_TIMEOUT, check_file, prepare
from .results import FileResult, PartResult, one_line
from .source import exercises_named_by


class BatchError(ValueError):
    """The folder or the CSV path cannot be used (one line, before anything is graded)."""


def find_submissions(folder, exercise):
    """[(student, path or None, problem)] in name order."""
    folder = Path(folder)
    if not folder.is_dir():
        raise BatchError(f"{folder} is not a folder" if folder.exists() else f"no such folder: {folder}")
    found = []
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        if entry.name.startswith((".", "__")):
            continue
        if entry.is_file() and entry.suffix == ".py":
            found.append((entry.stem, entry, ""))
        elif entry.is_dir():
            found.append((entry.name, *_file_in(entry, exercise)))
    return found


MAX_FILES = 200                       # .py files looked at in one student's folder


def _python_files(folder):
    """The regular .py files under ``folder`` (symbolic links not followed, at most MAX_FILES)."""
    found = []
    for top, dirs, files in os.walk(folder, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "__")))
        found += [Path(top) / f for f in sorted(files) if f.endswith(".py") and (Path(top) / f).is_file()]
        if len(found) >= MAX_FILES:
            break
    return found[:MAX_FILES]


def _file_in(folder, exercise):
    files = _python_files(folder)
    named = [p for p in files if exercises_named_by(p, [exercise]) == [exercise]]
    if len(named) == 1:
        return named[0], ""
    if not named and len(files) == 1:
        return files[0], ""
    if not files:
        return None, f"no .py file in {folder.name}/"
    return None, (f"{len(named) or len(files)} files in {folder.name}/ could be exercise {exercise.number:02d} "
                  f"({', '.join(p.name for p in (named or files)[:4])}); keep one, named {exercise.file_stem}.py")


def _check_csv_path(path):
    path = Path(path)
    if path.is_dir():
        raise BatchError(f"--csv {path} is a folder; give a file name such as grades.csv")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise BatchError(f"--csv {path}: the folder {parent} does not exist")
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise BatchError(f"--csv {path}: not writable")


def _safe_cell(value):
    """A CSV cell that a spreadsheet will not run as a formula (a student names the files)."""
    text = str(value)
    return "'" + text if text.lstrip(" \t\r\n")[:1] in ("=", "+", "-", "@") or text[:1] in ("\t", "\r") else text


def write_csv(path, exercise, rows):
    """One row per student: the student, file, exercise, each part (pass or fail), points, seconds,
    the seed of the inputs, and the first failure's reason in one line."""
    header = ["student", "file", "exercise"] + [f"part {i} ({p.title})" for i, p in enumerate(exercise.parts, 1)] + \
             ["points", "out of", "seconds", "seed", "first failure"]
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent if str(path.parent) else ".")
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(header)
            for student, result in rows:
                statuses = [("pass" if p.status == "pass" else "fail") for p in result.parts] or \
                    ["fail"] * len(exercise.parts)           # a TODO is a fail; the reason says "not written yet"
                w.writerow([_safe_cell(one_line(student, 200)), _safe_cell(one_line(result.path, 400)), exercise.name, *statuses, result.passed,
                            len(exercise.parts), f"{result.seconds:.1f}", result.seed,
                            _safe_cell(one_line(result.first_reason))])
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def check_class(folder, exercise, csv_path=None, jobs=None, timeout=DEFAULT_TIMEOUT, memory=DEFAULT_MEMORY,
                seed=None, out=sys.stdout):
    """Grade every submission in ``folder`` as ``exercise`` (an Exercise); return [(student, FileResult)].

    Prints one line per student as each finishes, then a summary; writes ``csv_path`` if given.
    """
    import numpy as np
    subs = find_submissions(folder, exercise)
    if csv_path is not None:
        _check_csv_path(csv_path)
    if not subs:
        raise BatchError(f"{folder} holds no .py file and no sub-folder to grade")
    jobs = jobs or max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
    seed = int(np.random.SeedSequence().entropy % 2 ** 31) if seed is None else int(seed)
    prepared = (*prepare(exercise, seed), seed)
    from . import isolation
    walls = "each in Linux namespaces" if isolation.available() else \
        "no OS isolation on this machine (unshare not permitted): in-process guard rails only"
    print(f"Grading {len(subs)} submissions of exercise {exercise.number:02d} · {exercise.title} "
          f"({jobs} at a time, {timeout:g} s each at most; seed {seed}; {walls})", file=out)
    width = min(40, max(len(s) for s, _, _ in subs))
    results, lock = {}, threading.Lock()

    def grade(student, path, problem):
        if path is None:
            return FileResult(str(folder / Path(student)), exercise,
                              [PartResult(p.title, "fail", problem) for p in exercise.parts], problem, seed=seed)
        try:
            return check_file(path, exercise.name, timeout, memory, out=None, prepared=prepared)
        except Exception as e:                 # a grader bug must not cost the other students their grade
            problem = f"the grader failed on this file ({type(e).__name__}: {e})"
            return FileResult(str(path), exercise, [PartResult(p.title, "fail", problem) for p in exercise.parts],
                              problem, seed=seed)

    pool = ThreadPoolExecutor(max_workers=jobs)
    try:
        futures = {pool.submit(grade, *sub): sub[0] for sub in subs}
        for future in as_completed(futures):
            student, result = futures[future], future.result()
            with lock:
                results[student] = result
            mark = "✓" if result.ok else "✗"
            print(f"  {mark} {one_line(student, 40):<{width}}  {result.passed}/{len(exercise.parts)}  {result.seconds:5.1f} s"
                  + ("" if result.ok else f"  {one_line(result.first_reason, 120)}"), file=out)
    except KeyboardInterrupt:
        pool.shutdown(wait=False, cancel_futures=True)
        runner.kill_all()
        rows = sorted(results.items())
        if csv_path is not None and rows:
            write_csv(csv_path, exercise, rows)
        print(f"\ninterrupted: {len(rows)} of {len(subs)} graded" +
              (f"; {csv_path} holds those" if csv_path is not None and rows else ""), file=out)
        raise
    pool.shutdown()
    rows = sorted(results.items())
    if csv_path is not None:
        write_csv(csv_path, exercise, rows)
    print_summary(exercise, rows, out, csv_path)
    return rows


def print_summary(exercise, rows, out, csv_path=None):
    n = len(rows)
    print(f"\nSummary ({n} submissions):", file=out)
    for i, part in enumerate(exercise.parts):
        passed = sum(len(r.parts) > i and r.parts[i].status == "pass" for _, r in rows)
        print(f"  part {i + 1}: {passed:>{len(str(n))}} of {n} passed  {part.title}", file=out)
    full = sum(r.ok for _, r in rows)
    mean = sum(r.passed for _, r in rows) / n if n else math.nan
    print(f"{full} of {n} passed every part; mean {mean:.1f} of {len(exercise.parts)} parts."
          + (f" Grades: {csv_path}" if csv_path else ""), file=out)
