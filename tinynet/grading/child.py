"""The program that grades one file in a child process (started by ``runner.run_child``).

    python -I -c "…" ROOT JOB_FD    (JOB_FD: a pipe carrying the parent's pickle: the student's file
                                     and its text, the exercise, each part's inputs, the limits, the
                                     result pipe and its token)

1. read the job, apply the limits, install the guard rails (``sandbox``); only they hold the
   result pipe and its token, and no frame of the harness does, so the student's code cannot
   reach them: the harness sends through ``sys.audit(REPORT, message)``, which the audit hook
   passes on only when the calling frames are the harness's own;
2. run the student's file as a module;
3. run each part's ``run`` on it and send what came back, part by part;
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
from .own import code_objects, package_files
from .protocol import dumps, encode

_audit = sys.audit


def _writer(fd, token, write_bytes=os.write, encode_line=dumps):
    """The function that writes messages (os.write and the encoder bound here, so that replacing
    ``os.write`` or ``json.dumps`` later changes nothing); given only to the guard rails."""
    def write(message):
        data = encode_line({**message, "token": token}).encode("utf-8")
        while data:
            data = data[write_bytes(fd, data):]
    return write


def _report(message):
    _audit(sandbox.REPORT, message)


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
    exercise = EXERCISES[job["exercise"]]
    current = [-1]                               # the part running; -1 while the file is imported
    _install(job, exercise, current, boot=sys._getframe(1).f_code)
    module = _load(job["student"], job["source"], exercise)
    _run_parts(module, exercise, job, current)
    _report({"event": "done"})
    os._exit(0)


def _install(job, exercise, current, boot):
    """Limits, the watch on tinynet's own implementation, the audit hook; the writer ends up in
    their closures only (the pipe and the token are taken out of ``job``)."""
    write = _writer(job.pop("fd"), job.pop("token"))
    write({"event": "started"})
    try:
        sandbox.limit(job["memory"], job["cpu"])
        refuse = lambda what: write({"event": "refused", "what": what[:300]})     # noqa: E731
        sandbox.watch_calls(lambda name, part: write({"event": "own_implementation", "name": name, "index": part}),
                            refuse, code_objects(exercise.forbidden()), lambda: current[0], job.pop("copies"),
                            package_files())
        senders = [(_report.__code__, f.__code__, main.__code__, boot) for f in (_load, _run_parts)] + \
            [(_report.__code__, main.__code__, boot)]
        sandbox.guard(refuse, job["workdir"], write, senders, job["private"])
    except BaseException as e:                   # noqa: B036 — a fault of the grader's, not the student's
        write({"event": "internal_error", "error": _error(e, __file__)})
        os._exit(1)


def _load(path, text, exercise):
    """The student's file run as a module; on any exception, report it and end the process."""
    module = types.ModuleType(f"student_{exercise.name}")
    module.__file__ = path
    sys.modules[module.__name__] = module
    try:
        exec(compile(text, path, "exec"), module.__dict__)
    except BaseException as e:                   # noqa: B036 — SystemExit and KeyboardInterrupt too
        _report({"event": "import_error", "error": _error(e, path)})
        os._exit(0)
    _report({"event": "loaded"})
    return module


def _run_parts(module, exercise, job, current):
    for i, (part, inputs) in enumerate(zip(exercise.parts, job["inputs"])):
        current[0] = i
        try:
            with np.errstate(all="ignore"):
                message = {"values": encode(part.run(module, inputs))}
        except Failed as e:
            message = {"failed": str(e.problem)[:500]}
        except BaseException as e:               # noqa: B036
            message = {"error": _error(e, job["student"])}
        _report({"event": "part", "index": i, **message})
