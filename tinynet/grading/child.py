"""The program that grades one file in a child process (started by ``runner.run_child``).

    python -I -c "…" ROOT JOB_FD    (JOB_FD: a pipe carrying the parent's pickle: the student's file
                                     and its text, the exercise, each part's inputs, the limits, the
                                     result pipe and its token)

1. read the job, report ``started``, apply the limits, note tinynet's own implementation;
2. install the guard rails (``sandbox``), then run the student's file as a module;
3. run each part's ``run`` on it and send what came back, part by part, on the pipe;
4. end with ``os._exit`` so that nothing of the student's (atexit hooks, finalisers) runs after.

Nothing here decides a grade: the parent compares what it receives with its own reference values.
A fault of the grader's own before the student's file runs is reported as ``internal_error``.
"""
import os
import pickle
import sys
import traceback
import types

import numpy as np

from . import sandbox
from .compare import Failed
from .exercises import EXERCISES
from .own import code_objects
from .protocol import dumps, encode


def _writer(fd, token):
    def write(message):
        data = dumps({**message, "token": token}).encode("utf-8")
        while data:
            data = data[os.write(fd, data):]
    return write


def _error(e, path):
    """An exception as a plain record: type, message, the line of the student's file it came from."""
    try:
        message = str(e)
    except BaseException:                # noqa: B036 — a student's exception whose __str__ fails
        message = "(its message could not be printed)"
    line = None
    for frame, lineno in traceback.walk_tb(e.__traceback__):
        if frame.f_code.co_filename == path:
            line = lineno
    return {"type": type(e).__name__[:100], "message": message[:500], "line": line,
            "stub": isinstance(e, NotImplementedError)}


def main(job_fd):
    with os.fdopen(job_fd, "rb") as f:          # read once: nothing of the job stays to be read later
        job = pickle.load(f)
    write = _writer(job["fd"], job["token"])
    write({"event": "started"})
    try:
        exercise = EXERCISES[job["exercise"]]
        code = _guard(job, exercise, write)
    except BaseException as e:                   # noqa: B036 — a fault of the grader's, not the student's
        write({"event": "internal_error", "error": _error(e, __file__)})
        os._exit(1)
    module = _load(job["student"], job["source"], exercise, write)
    _run_parts(module, exercise, job, write, code)
    write({"event": "done"})
    os._exit(0)


def _guard(job, exercise, write):
    """Limits, the watch on tinynet's own implementation, the audit hook; returns the part counter."""
    sandbox.limit(job["memory"], job["cpu"])
    current = [-1]                               # the part running; -1 while the file is imported
    refuse = lambda what: write({"event": "refused", "what": what[:300]})     # noqa: E731
    sandbox.watch_calls(lambda name, part: write({"event": "own_implementation", "name": name, "index": part}),
                        refuse, code_objects(exercise.forbidden()), lambda: current[0])
    sandbox.guard(refuse, job["workdir"])
    return current


def _load(path, text, exercise, write):
    """The student's file run as a module; on any exception, report it and end the process."""
    module = types.ModuleType(f"student_{exercise.name}")
    module.__file__ = path
    sys.modules[module.__name__] = module
    try:
        exec(compile(text, path, "exec"), module.__dict__)
    except BaseException as e:                   # noqa: B036 — SystemExit and KeyboardInterrupt too
        write({"event": "import_error", "error": _error(e, path)})
        os._exit(0)
    write({"event": "loaded"})
    return module


def _run_parts(module, exercise, job, write, current):
    for i, (part, inputs) in enumerate(zip(exercise.parts, job["inputs"])):
        current[0] = i
        try:
            with np.errstate(all="ignore"):
                message = {"values": encode(part.run(module, inputs))}
        except Failed as e:
            message = {"failed": str(e.problem)[:500]}
        except BaseException as e:               # noqa: B036
            message = {"error": _error(e, job["student"])}
        write({"event": "part", "index": i, **message})
