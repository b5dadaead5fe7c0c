"""Grade one file: choose the exercise, compute the reference, run the child, judge, report.

    result = check_file("lessons/exercises/ex03_softmax_ce.py")        # prints the report
    result.ok, result.passed, [p.status for p in result.parts]

The exercise comes from ``exercise=`` (``--exercise``), else from the file's name (``ex03_…``,
``alice_ex03.py``), and the file's ``EXERCISE = "…"`` must agree with it. Inputs are random for
each run (``seed=`` repeats them), so answers cannot be looked up in advance.
"""
import copy
import sys
import threading
import time

import numpy as np

from . import exercises  # noqa: F401  (registers the exercises)
from .choose import choose_exercise
from .compare import Failed
from .own import fingerprints as _fingerprints
from .protocol import decode, encode
from .results import FileResult, PartResult, one_line, print_report
from .runner import run_child
from .source import NotGradable, Source

DEFAULT_TIMEOUT = 30.0                 # seconds per file
DEFAULT_MEMORY = 2 << 30               # bytes of address space for the child
_JUDGING = threading.Lock()            # judges may run tinynet's autograd, whose grad mode is global


_FINGERPRINTS = {}


def fingerprints(exercise):
    """``own.fingerprints`` of the exercise's forbidden objects, computed once per exercise."""
    with _JUDGING:
        if exercise.name not in _FINGERPRINTS:
            _FINGERPRINTS[exercise.name] = _fingerprints(exercise.forbidden())
        return _FINGERPRINTS[exercise.name]


def prepare(exercise, seed):
    """Each part's inputs and reference values (tinynet's own implementation), in this process."""
    reference = exercise.reference()
    inputs, refs = [], []
    for i, part in enumerate(exercise.parts):
        inp = part.inputs(np.random.default_rng([seed, exercise.number, i]))
        with np.errstate(all="ignore"):
            refs.append(decode(encode(part.run(reference, copy.deepcopy(inp)))))
        inputs.append(inp)
    return inputs, refs


def check_file(path, exercise=None, timeout=DEFAULT_TIMEOUT, memory=DEFAULT_MEMORY, seed=None, out=sys.stdout,
               show_output=False, prepared=None):
    """Grade the file at ``path`` in a child process; print the report to ``out`` (None: silent).

    ``prepared`` (inputs, references, seed) lets a class batch reuse one set for every student.
    """
    start = time.monotonic()
    result = FileResult(str(path), seed=prepared[2] if prepared else 0)
    try:
        source = Source(path)
        result.exercise = ex = choose_exercise(source, exercise)
    except NotGradable as e:
        result.problem, result.usage_error = str(e), e.usage
        result.parts = [PartResult(p.title, "fail", str(e)) for p in getattr(result.exercise, "parts", [])]
    else:
        if prepared is None:
            seed = int(np.random.SeedSequence().entropy % 2 ** 31) if seed is None else int(seed)
            prepared = (*prepare(ex, seed), seed)
        inputs, refs, result.seed = prepared
        if source.syntax_error:
            result.parts, result.problem = _every_part_fails(ex, f"the file does not run: {source.syntax_error}")
        else:
            run = run_child(source.path, source.text, ex.name, inputs, timeout, memory, fingerprints(ex))
            with _JUDGING:
                result.parts, result.problem = judge_run(ex, source, run, inputs, refs, timeout)
            result.output = run.output
    result.seconds = time.monotonic() - start
    if out is not None:
        print_report(result, out, show_output)
    return result


def judge_run(ex, source, run, inputs, refs, timeout):
    """PartResults from what the child reported (see ``protocol``), and a file-level problem."""
    internal = run.events("internal_error")
    if internal or (not run.events("started") and run.ending != "timeout"):
        error = internal[0].get("error") if internal and isinstance(internal[0].get("error"), dict) else None
        last = _describe_error(error, source) if error else \
            one_line(run.output.strip().splitlines()[-1] if run.output.strip() else run.ending, 200)
        problem = f"internal error of the grader, not of this file: {last}"
        return _every_part_fails(ex, problem)
    if run.forged:
        problem = "the file wrote into the grader's report pipe: its report cannot be trusted"
        return _every_part_fails(ex, problem)
    refused = run.events("refused")
    if refused:
        problem = f"your file tried to {one_line(refused[0].get('what'))}, which graded code may not do"
        return _every_part_fails(ex, problem)
    imported = run.events("import_error")
    if imported:
        error = imported[0].get("error") if isinstance(imported[0].get("error"), dict) else {}
        problem = f"the file does not run: {_describe_error(error, source)}"
        return _every_part_fails(ex, problem)
    used = {}
    for m in run.events("own_implementation"):
        if type(m.get("index")) is int:
            used.setdefault(m["index"], str(m.get("name")))
    if -1 in used and used[-1].startswith("a copy of"):
        problem = f"the file runs {one_line(used[-1], 120)}, tinynet's own implementation: the exercise is to write it"
    elif -1 in used:
        problem = (f"uses tinynet's own implementation ({one_line(used[-1], 120)}) when the file is imported; "
                   "the exercise is to write it (a self-test belongs under if __name__ == \"__main__\":)")
    if -1 in used:
        return _every_part_fails(ex, problem)
    loaded = bool(run.events("loaded"))
    if not loaded:
        problem = _missing(run, loaded, timeout)
        return _every_part_fails(ex, problem)
    reports = {}
    for m in run.events("part"):
        if type(m.get("index")) is int:
            reports.setdefault(m["index"], m)
    results = []
    for i, part in enumerate(ex.parts):
        if i in used:
            results.append(PartResult(part.title, "fail", f"uses tinynet's own implementation "
                                      f"({one_line(used[i], 120)}) instead of its own", part.hint))
        elif i in reports:
            results.append(_judge_part(part, reports[i], refs[i], inputs[i], source))
        else:
            results.append(PartResult(part.title, "fail", _missing(run, loaded, timeout), part.hint))
    return results, ""


def _every_part_fails(ex, problem):
    """(a failing PartResult per part, the file-level ``problem``)."""
    return [PartResult(p.title, "fail", problem, p.hint) for p in ex.parts], problem


def _judge_part(part, report, ref, inputs, source):
    if "values" in report:
        try:
            got = decode(report["values"])
            if not isinstance(got, dict):
                raise Failed("the grading process sent a malformed report")
            with np.errstate(all="ignore"):
                part.judge(got, ref, inputs)
        except Failed as e:
            return PartResult(part.title, "fail", one_line(e.problem), e.hint or part.hint)
        except Exception as e:                  # values shaped so oddly that judging them failed
            return PartResult(part.title, "fail", one_line(f"the result could not be checked ({type(e).__name__}: "
                                                           f"{e})"), part.hint)
        return PartResult(part.title, "pass")
    if "failed" in report:
        return PartResult(part.title, "fail", one_line(report["failed"]), part.hint)
    error = report.get("error") if isinstance(report.get("error"), dict) else {}
    if error.get("stub") is True:
        return PartResult(part.title, "todo", _not_written(part, error, source), part.hint)
    return PartResult(part.title, "fail", _describe_error(error, source, " of your file"), part.hint)


def _describe_error(error, source, where=""):
    line = error.get("line") if isinstance(error.get("line"), int) else None
    text = f"{one_line(error.get('type'), 80)}: {one_line(error.get('message'), 200)}"
    return text + (f" (raised at line {line}{where})" if line else "")


def _not_written(part, error, source):
    """Name the TODOs this part needs: its own first, then those it runs before it."""
    stubs = [(name, line, todo) for name in reversed(part.uses) for line, todo in source.stubs.get(name, [])]
    if not stubs:
        line = error.get("line") if isinstance(error.get("line"), int) else None
        todo = source.todo_at(line) if line else ""
        return "not written yet" + (f" (line {line}" + (f", under “{todo}”)" if todo else ")") if line else "")
    (name, line, todo), rest = stubs[0], stubs[1:]
    text = f"not written yet: {name}, line {line}" + (f" (“{todo}”)" if todo else "")
    if rest:
        text += "; it also needs " + ", ".join(f"{n} (line {k})" for n, k, _ in rest)
    return text


def _missing(run, loaded, timeout):
    """Why a part (or, when ``loaded`` is False, the whole file) has no report."""
    when = "this part" if loaded else "the file's import"
    if run.ending == "timeout":
        return f"did not finish in {timeout:g} s" + ("" if loaded else ": importing the file never ended "
                                                      "(an endless loop at the top level?)")
    if run.malformed:
        return f"the grading process sent a malformed report ({run.malformed})"
    why = run.ending
    if run.ending.startswith("exit status"):
        why += ": does the file call sys.exit, os._exit or exit, or register an atexit hook?"
    return f"the grading process ended during {when} ({why})"


