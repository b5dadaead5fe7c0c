"""The child's guard rails, installed just before the student's file is run.

* ``limit(memory, cpu_seconds)``: address space, CPU time, file size and core dumps capped
  (``resource``), so a runaway allocation fails inside the child.
* ``guard(report, workdir)``: an audit hook (``sys.addaudithook``; Python offers no way to remove
  one) that stops the process at once, after one report line, when the file tries what graded
  code never needs: starting processes or threads, signalling other processes, raising its
  limits, network sockets, ctypes, tracing hooks, walking the garbage collector's object graph,
  or writing, deleting or renaming files outside its own temporary folder.
* ``watch_calls(report, codes, part)``: a profile hook that reports every call of tinynet's own
  implementation of the exercise (``own.code_objects``), with the part that was running.

This is not a security boundary against code written to defeat the grader with its source in
hand; it stops the accidents and the ordinary tricks, and the parent kills the whole process group
at the time limit whatever happens here.
"""
import os
import resource
import signal
import sys
import threading
import _posixsubprocess
import _thread

REFUSED_EXIT = 86                     # the child's exit status after a refused operation
REPORT = "tinynet.grading.report"     # the audit event that carries the harness's messages
OUTPUT_LIMIT = 64 << 20               # bytes the child may write to one file

REFUSED = {
    "os.fork": "start a process (os.fork)", "os.forkpty": "start a process (os.forkpty)",
    "os.system": "run a shell command (os.system)", "os.exec": "replace the process (os.exec*)",
    "os.posix_spawn": "start a process (os.posix_spawn)", "os.spawn": "start a process (os.spawn*)",
    "subprocess.Popen": "start a process (subprocess)", "pty.spawn": "start a process (pty.spawn)",
    "os.kill": "send a signal (os.kill)", "os.killpg": "send a signal (os.killpg)",
    "signal.pthread_kill": "send a signal (signal.pthread_kill)",
    "resource.setrlimit": "change its resource limits", "resource.prlimit": "change resource limits",
    "sys.setprofile": "replace the grader's profile hook (sys.setprofile)",
    "sys.settrace": "install a trace hook (sys.settrace)",
    "gc.get_referrers": "search the grader's objects (gc.get_referrers)",
    "gc.get_referents": "search the grader's objects (gc.get_referents)",
    "gc.get_objects": "search the grader's objects (gc.get_objects)",
    "webbrowser.open": "open a web browser", "os.startfile": "start a program",
}
# audit event -> (positions of the paths it changes, positions of its dir_fd arguments)
PATH_EVENTS = {
    "os.remove": ((0,), (1,)), "os.rmdir": ((0,), (1,)), "os.rename": ((0, 1), (2, 3)), "os.truncate": ((0,), ()),
    "os.chmod": ((0,), (2,)), "os.chown": ((0,), (3,)), "os.link": ((1,), (2, 3)), "os.symlink": ((1,), (2,)),
    "os.mkdir": ((0,), (2,)), "os.utime": ((0,), (3,)), "shutil.rmtree": ((0,), (1,)), "shutil.move": ((0, 1), ()),
    "shutil.copyfile": ((1,), ()), "shutil.copytree": ((1,), ()), "os.chflags": ((0,), ()),
    "os.lchflags": ((0,), ()), "os.lchmod": ((0,), ()), "os.lchown": ((0,), ()), "os.removexattr": ((0,), ()),
    "os.setxattr": ((0,), ()),
}
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
HARMLESS = {"/dev/null", "/dev/stdout", "/dev/stderr"}
# Built-in functions with no audit event that graded code never needs; the profile hook sees every
# call of a built-in ("c_call") and stops the process before it runs.
UNAUDITED = [   # (function, what it does): a list, since equal built-ins (aliases) would merge as dict keys
    (_thread.start_new_thread, "start a thread"), (_thread.start_new, "start a thread"),
    (sys.getprofile, "look at the grader's profile hook (sys.getprofile)"),
    (sys.gettrace, "look at the grader's trace hook (sys.gettrace)"),
    (_posixsubprocess.fork_exec, "start a process (_posixsubprocess)"),
    (os.setsid, "leave its process group (os.setsid)"), (os.setpgid, "leave its process group (os.setpgid)"),
    (os.setpgrp, "leave its process group (os.setpgrp)"), (os.mkfifo, "make a named pipe (os.mkfifo)"),
    (os.mknod, "make a device file (os.mknod)"), (os.fchmod, "change a file's mode (os.fchmod)"),
    (os.fchown, "change a file's owner (os.fchown)"),
] + [(f, "signal another process (pidfd)") for f in (getattr(os, "pidfd_open", None),
                                                      getattr(signal, "pidfd_send_signal", None)) if f is not None]


def limit(memory, cpu_seconds):
    """Cap the child's address space (bytes), CPU time (s), file writes and core dumps."""
    for which, value in ((resource.RLIMIT_AS, memory), (resource.RLIMIT_CPU, cpu_seconds),
                         (resource.RLIMIT_FSIZE, OUTPUT_LIMIT), (resource.RLIMIT_CORE, 0)):
        try:
            resource.setrlimit(which, (value, value))
        except (ValueError, OSError):       # a platform without this limit: the parent's kill still holds
            pass


def guard(report, workdir, send=None, senders=(), private=()):
    """Install the audit hook (see the module docstring). ``report(what)`` is called once, then the
    process exits with ``REFUSED_EXIT``.

    Reading a file under one of the ``private`` folders (the teacher's solutions) is refused too.
    ``sys.audit(REPORT, message)`` passes ``message`` to ``send`` when the calling frames are
    exactly one of ``senders`` (tuples of code objects, innermost first): only the harness's own
    functions, called by the harness, can send; the sender itself is reachable from no frame.
    """
    home = os.path.realpath(workdir) + os.sep
    hidden = tuple(os.path.realpath(p) + os.sep for p in private)
    exit_now, get_frame = os._exit, sys._getframe
    chains = {tuple(id(c) for c in chain) for chain in senders}   # code objects that live as long as the process

    def from_harness():
        frame, chain = get_frame(2), []           # 0 this function, 1 the hook, 2 the caller of sys.audit
        while frame is not None and len(chain) < 8:
            chain.append(id(frame.f_code))
            frame = frame.f_back
        return tuple(chain) in chains

    def inside(path):
        if isinstance(path, int):
            return path in (0, 1, 2)         # the standard streams; any other descriptor may lead outside
        try:
            real = os.path.realpath(os.fsdecode(path))
        except (TypeError, ValueError):
            return False
        return real.startswith(home) or real in HARMLESS

    def refuse(what):
        try:
            report(what)
        finally:
            exit_now(REFUSED_EXIT)

    def hook(event, args):
        if event == REPORT:
            if send is None or not from_harness():
                refuse("send a message as the grader (sys.audit)")
            send(args[0])
        elif event in REFUSED:
            refuse(REFUSED[event])
        elif event == "open":
            path, mode, flags = (tuple(args) + (None, None, None))[:3]
            writes = (isinstance(mode, str) and any(c in mode for c in "wax+")) or \
                     (mode is None and isinstance(flags, int) and flags & WRITE_FLAGS)
            if hidden and not isinstance(path, int) and os.path.realpath(os.fsdecode(path)).startswith(hidden):
                refuse(f"read the teacher's solutions ({os.fsdecode(path)})")
            if writes and not inside(path):
                refuse(f"write to {os.fsdecode(path) if not isinstance(path, int) else f'descriptor {path}'}")
            if mode is None and not isinstance(path, int) and not inside(path) and os.path.isdir(path):
                refuse(f"open a folder outside its own ({os.fsdecode(path)})")   # a dir_fd would lead outside
        elif event in PATH_EVENTS:
            where, fds = PATH_EVENTS[event]
            paths = [args[i] for i in where if i < len(args)]
            dir_fds = [args[i] for i in fds if i < len(args) and isinstance(args[i], int) and args[i] >= 0]
            if dir_fds or not all(inside(p) for p in paths):
                shown = next((os.fsdecode(p) for p in paths if isinstance(p, (str, bytes))), "a descriptor")
                refuse(f"change files outside its folder ({event} {shown})")
        elif event.startswith("ctypes."):
            refuse(f"use ctypes ({event})")
        elif event.startswith("socket."):
            refuse("open a network socket")

    sys.addaudithook(hook)


def watch_calls(report, refuse, codes, part, copies=None, own_files=frozenset()):
    """``report(name, part())`` for calls of the code objects ``codes`` ({code: name}), once per part,
    and of new code whose ``own.content_key`` is in ``copies`` ({digest: (name, anywhere)}): from any
    file if ``anywhere``, else only when compiled from one of ``own_files`` (tinynet's own modules).

    A call of an ``UNAUDITED`` built-in (a thread would run unwatched; the others have no audit
    event) calls ``refuse(what)`` and ends the process.
    """
    from .own import content_key
    keep = list(codes)                                   # ids stay valid while the objects live
    names = {id(c): n for c, n in codes.items()}
    checked, copies = {}, copies or {}
    seen = set()
    unaudited, exit_now = {id(f): what for f, what in UNAUDITED}, os._exit

    def profile(frame, event, arg):
        if event == "call":
            code = frame.f_code
            name = names.get(id(code))
            if name is None and copies and id(code) not in checked:
                checked[id(code)] = code
                copy, anywhere = copies.get(content_key(code), (None, False))
                if copy is not None and (anywhere or code.co_filename in own_files):
                    name = names[id(code)] = copy
            if name is not None and (name, part()) not in seen:
                seen.add((name, part()))
                report(name, part())
        elif event == "c_call" and id(arg) in unaudited:
            try:
                refuse(unaudited[id(arg)])
            finally:
                exit_now(REFUSED_EXIT)

    profile.keep = keep
    sys.setprofile(profile)
    threading.setprofile(profile)
