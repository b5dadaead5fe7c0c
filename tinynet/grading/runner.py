"""Start the child that grades one file, enforce its limits, and collect what it reports.

The child runs ``python -I`` (isolated: no PYTHONPATH, no user site, not the student's folder on
``sys.path``), inside Linux namespaces where the machine allows them (``isolation``), in a fresh
temporary folder deleted afterwards, with no stdin, its own session (process group), a small
environment, and its output going to a file that is read back only on request. It receives its
job (the file's text, the inputs, a secret token) on a pipe it reads once, so nothing of it is
left to read later. The wall-clock limit is the parent's: at the deadline it kills the child's
whole process group with SIGKILL, which no handler in the child can catch or delay.
"""
import os
import pickle
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from . import isolation, protocol
from .sandbox import OUTPUT_LIMIT, REFUSED_EXIT

ROOT = str(Path(__file__).resolve().parents[2])           # the folder holding tinynet/ and data_tools/
BOOT = ("import sys; sys.dont_write_bytecode = True; sys.path.insert(0, sys.argv[1]); "
        "from tinynet.grading.child import main; main(int(sys.argv[2]))")
SHOWN_OUTPUT = 20_000                                        # characters of the child's output kept
_LIVE = set()                                                # children running now (for kill_all)


class ChildRun:
    """What one child did: ``messages`` (decoded dicts, in order), how it ended, its output."""

    def __init__(self):
        self.messages, self.malformed, self.forged = [], None, False
        self.ending, self.returncode, self.seconds, self.output = "", None, 0.0, ""

    def events(self, name):
        return [m for m in self.messages if m.get("event") == name]


def _environment(workdir):
    keep = {k: os.environ[k] for k in ("PATH", "LANG", "LC_ALL", "SYSTEMROOT") if k in os.environ}
    return {**keep, "HOME": workdir, "TMPDIR": workdir, "MPLCONFIGDIR": workdir, "MPLBACKEND": "Agg",
            "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def run_child(student, source, exercise_name, inputs, timeout, memory, copies=None):
    """Grade ``source`` (the text of the file ``student``) as ``exercise_name`` in a child; return a ``ChildRun``."""
    run, start = ChildRun(), time.monotonic()
    base = tempfile.mkdtemp(prefix="tinynet-grade-")
    work = os.path.join(base, "work")
    os.mkdir(work, 0o700)
    results_r, results_w = os.pipe()
    job_r, job_w = os.pipe()
    token = secrets.token_hex(16)             # in every genuine message: lines the file writes itself lack it
    job = {"student": str(Path(student).resolve()), "source": source, "exercise": exercise_name, "inputs": inputs,
           "fd": results_w, "token": token, "copies": copies or {}, "private": _private(student), "memory": int(memory), "cpu": int(timeout) + 2, "workdir": work}
    command = [sys.executable, "-I", "-u", "-c", BOOT, ROOT, str(job_r)]     # -u: prints reach the file at once
    proc = None
    try:
        if isolation.available():
            command = isolation.wrap(command, work)
        with open(os.path.join(base, "output.txt"), "wb") as out:
            proc = subprocess.Popen(command, cwd=work, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                    pass_fds=(results_w, job_r), start_new_session=True, env=_environment(work))
        _LIVE.add(proc)
        os.close(results_w), os.close(job_r)
        results_w = job_r = None
        threading.Thread(target=_send, args=(job_w, pickle.dumps(job)), daemon=True).start()
        job_w = None
        _collect(run, results_r, proc, start + timeout, token)
    finally:
        for fd in (results_w, job_r, job_w, results_r):
            if fd is not None:
                os.close(fd)
        if proc is not None:
            _kill_group(proc)
            _LIVE.discard(proc)
            run.returncode = proc.returncode if run.returncode is None else run.returncode
        run.seconds = time.monotonic() - start
        run.output = _tail(os.path.join(base, "output.txt"))
        shutil.rmtree(base, ignore_errors=True)
    if not run.ending:
        run.ending = _describe(run.returncode, timeout)
    return run


def _private(student):
    """Folders the file may not read: the teacher's solutions, unless it is one of them."""
    solutions = Path(ROOT, "lessons", "solutions").resolve()
    inside = solutions in Path(student).resolve().parents
    return [] if inside or not solutions.is_dir() else [str(solutions)]


def _send(fd, data):
    try:
        while data:
            data = data[os.write(fd, data):]
    except OSError:                               # the child is gone: the run reports why
        pass
    finally:
        os.close(fd)


def _collect(run, fd, proc, deadline, token):
    """Read messages until the pipe closes, the child exits, or the deadline passes.

    A message without the job's token, or out of order (a part twice, parts after ``done``), marks
    the run ``forged``: the student's code wrote into the pipe. A line longer than
    ``protocol.MAX_LINE`` or more than ``protocol.MAX_MESSAGE`` bytes in all end the run.
    """
    pending, total = bytearray(), 0
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            run.ending = "timeout"
            return
        ready, _, _ = select.select([fd], [], [], min(left, 0.5))
        if not ready:
            if proc.poll() is not None and not select.select([fd], [], [], 0)[0]:
                break                             # the child has exited and nothing is left to read
            continue
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            break
        total += len(chunk)
        if total > protocol.MAX_MESSAGE:
            run.ending = f"it sent more than {protocol.MAX_MESSAGE >> 20} MB of results"
            return
        pending += chunk
        while True:
            end = pending.find(b"\n")
            if end < 0:
                break
            _receive(run, bytes(pending[:end]), token)
            del pending[:end + 1]
        if run.events("done"):
            return                                # everything arrived; the child is killed anyway
        if len(pending) > protocol.MAX_LINE:
            run.ending = f"it sent a line of more than {protocol.MAX_LINE >> 20} MB"
            return
    if run.events("done"):
        return                                    # everything arrived; the child is killed anyway
    try:                                          # the pipe closed early: how did the child end?
        run.returncode = proc.wait(timeout=max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        run.ending = "timeout"


def _receive(run, line, token):
    try:
        message = protocol.parse_line(line)
    except protocol.ProtocolError as e:
        run.malformed = run.malformed or str(e)
        return
    if message.pop("token", None) != token or not _in_order(run, message):
        run.forged = True
    run.messages.append(message)


def _in_order(run, message):
    """started, then loaded or import_error, then the parts 0, 1, … once each, then done."""
    seen = [m["event"] for m in run.messages if m["event"] in ("started", "loaded", "import_error", "part", "done")]
    event = message["event"]
    if event not in ("started", "loaded", "import_error", "part", "done"):
        return "started" in seen and "done" not in seen
    if "done" in seen or "import_error" in seen:
        return False
    if event == "started":
        return not seen
    if event in ("loaded", "import_error"):
        return seen == ["started"]
    if event == "part":
        return seen[:2] == ["started", "loaded"] and message.get("index") == len(seen) - 2
    return seen[:2] == ["started", "loaded"]


def kill_all():
    """Kill every child still running (Ctrl-C in a class batch)."""
    for proc in list(_LIVE):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def _kill_group(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def _describe(returncode, timeout):
    if returncode is None:
        return "it did not exit"
    if returncode == REFUSED_EXIT:
        return "it was stopped after a refused operation"
    if returncode >= 0:
        return f"exit status {returncode}"
    sig = -returncode
    reasons = {signal.SIGXCPU: f"it used more than {int(timeout) + 2} s of CPU time",
               signal.SIGXFSZ: f"it wrote more than {OUTPUT_LIMIT >> 20} MB to a file",
               signal.SIGKILL: "killed by SIGKILL (out of memory, or killed by itself)",
               signal.SIGSEGV: "it crashed (SIGSEGV)"}
    name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
    return reasons.get(sig, f"killed by signal {name}")


def _tail(path):
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - SHOWN_OUTPUT))
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""
