"""The operating system's share of the isolation: Linux namespaces, where the machine allows them.

When ``unshare`` can create namespaces (as root on Linux, the usual case for a grading machine or
a container), each child runs

    unshare --pid --fork --kill-child --net --ipc --uts --mount --mount-proc  sh -c SCRIPT …

* a PID namespace: the child is process 1 of its own tree; it cannot see or signal the grader or
  the other students' children, and when it ends the kernel kills everything it started;
* no network, and its own IPC and host name;
* a mount namespace in which every file system is read-only, except a fresh 64 MB ``tmpfs`` that
  becomes the child's working folder (so it cannot fill the disk either);
* then ``setpriv`` drops every capability (no mounting, no raising limits) and forbids gaining
  new ones, before Python starts.

Elsewhere (no ``unshare``, not permitted, or ``TINYNET_GRADING_SANDBOX=0``), the child runs as a
plain process and the in-process guard rails (``sandbox``) are the only ones; ``available()``
says which, and the class report prints it.
"""
import os
import shutil
import subprocess
import tempfile
import threading

WORK_SIZE = "64m"
UNSHARE = ["unshare", "--pid", "--fork", "--kill-child", "--net", "--ipc", "--uts", "--mount", "--mount-proc"]
SCRIPT = r"""
work=$1; shift
mount -t tmpfs -o size=%s,mode=0700 tinynet-grade "$work" || exit 97
awk '{print $2}' /proc/self/mounts | sort -u | while read -r m; do
  m=$(printf '%%b' "$m")
  case "$m" in /proc|/proc/*|"$work") ;; *) mount -o remount,bind,ro "$m" 2>/dev/null ;; esac
done
if touch "$work/../.tinynet-probe" 2>/dev/null; then echo "the file systems stayed writable" >&2; exit 97; fi
cd "$work" || exit 97
exec setpriv --bounding-set=-all --inh-caps=-all --no-new-privs "$@"
""" % WORK_SIZE

_checked = {}
_lock = threading.Lock()


def wrap(command, workdir):
    """``command`` run inside the namespaces with ``workdir`` as its writable folder."""
    return UNSHARE + ["sh", "-c", SCRIPT, "tinynet-grade", str(workdir)] + list(command)


def available():
    """Can this machine run a child in the namespaces? (Checked once, by trying.)"""
    with _lock:
        if "ok" not in _checked:
            _checked["ok"] = _probe()
        return _checked["ok"]


def _probe():
    if os.environ.get("TINYNET_GRADING_SANDBOX", "1") == "0" or not all(
            shutil.which(tool) for tool in ("unshare", "setpriv", "mount", "sh", "awk")):
        return False
    base = tempfile.mkdtemp(prefix="tinynet-probe-")
    try:
        work = os.path.join(base, "work")
        os.mkdir(work)
        r = subprocess.run(wrap(["sh", "-c", "touch x && ! touch /.tinynet-probe 2>/dev/null"], work),
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=20)
        return r.returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False
    finally:
        shutil.rmtree(base, ignore_errors=True)
