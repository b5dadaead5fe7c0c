"""Turn the lessons (``lessons/NN_*.py``, cells marked ``# %%``) into Jupyter notebooks and run them,
so each ``lessons/NN_*.ipynb`` carries its printed output and its figures inline.

    python lessons/make_notebooks.py                  # every lesson, full mode (what `make notebooks` runs)
    python lessons/make_notebooks.py --quick          # small subsets, few steps (`make notebooks QUICK=1`)
    python lessons/make_notebooks.py --lessons 01,04  # some lessons only

Needs the ``notebooks`` extra (jupytext reads the scripts, nbclient runs them in an ipykernel):
``pip install -e '.[notebooks]'``. The notebooks are written next to the scripts, because a lesson
imports ``_common`` from its own folder (the kernel starts in the notebook's folder when a student
reopens one); they are build output, ignored by git. A notebook of the same name that this script
did not write is never overwritten. Quick mode and the figures' folder reach the kernel through
the environment (``TINYNET_LESSONS_QUICK``, ``TINYNET_LESSONS_OUT``: see ``_common.py``).
Exit status: 0 when every notebook ran, 1 when one failed (its notebook is still written, with the
error in the cell that raised it), 2 for a usage error or a missing extra.
"""
import argparse
import os
import sys
import tempfile
from pathlib import Path

from _common import OUT_ENV, QUICK_ENV, ROOT

LESSONS = ROOT / "lessons"
MARK = "tinynet_lesson"          # notebook metadata key: the script this notebook was made from
PROG = "make_notebooks"


def fail(message, status=2):
    print(f"{PROG}: error: {message}", file=sys.stderr)
    sys.exit(status)


def parse_args(argv):
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="run the lessons in quick mode (small subsets, few steps)")
    p.add_argument("--lessons", metavar="NN,NN", help="only these lessons, by number (default: all)")
    p.add_argument("--into", type=Path, default=LESSONS, metavar="DIR",
                   help="folder for the .ipynb files (default: lessons/, next to the scripts)")
    p.add_argument("--out", type=Path, metavar="DIR", help="folder for the figures, DIR/NN/ (default lessons/out/)")
    p.add_argument("--timeout", type=float, default=3600, metavar="SECONDS",
                   help="longest a single cell may run before the notebook counts as failed (default 3600)")
    args = p.parse_args(argv)
    if os.environ.get(QUICK_ENV, "") not in ("", "0", "1"):
        fail(f"{QUICK_ENV}={os.environ[QUICK_ENV]!r} in the environment: use 1 (quick), 0 or nothing (full)")
    if not args.timeout > 0:          # also refuses nan
        fail(f"--timeout must be a positive number of seconds, got {args.timeout}")
    return args


def choose(lessons_option):
    """The lesson scripts to convert, in order; an unknown number is a usage error."""
    scripts = sorted(LESSONS.glob("[0-9][0-9]_*.py"))
    if not lessons_option:
        return scripts
    by_number = {s.name[:2]: s for s in scripts}
    wanted = [n.strip().zfill(2) for n in lessons_option.split(",") if n.strip()]
    unknown = [n for n in wanted if n not in by_number]
    if unknown or not wanted:
        fail(f"--lessons {lessons_option!r}: no lesson {', '.join(unknown) or '(empty list)'}; "
             f"the lessons are {', '.join(by_number)}")
    return [by_number[n] for n in dict.fromkeys(wanted)]


def import_extra():
    """(jupytext, nbclient, CellExecutionError, DeadKernelError); a missing one is one line saying what to install."""
    try:
        import ipykernel  # noqa: F401  (the kernel nbclient starts)
        import jupytext
        import nbclient
        from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
    except ImportError as e:
        fail(f"the notebooks extra is missing ({e.name or e} does not import): run "
             f"{sys.executable} -m pip install -e '{ROOT}[notebooks]'  (or: make notebooks)")
    return jupytext, nbclient, (CellExecutionError, CellTimeoutError, DeadKernelError)


def writable_target(target, script):
    """Refuse to overwrite a notebook this script did not write (someone's own work)."""
    if not target.exists():
        return
    import nbformat
    try:
        mark = nbformat.read(target, as_version=4).metadata.get(MARK)
    except Exception:           # unreadable: not one of ours either
        mark = None
    if mark != script.name:
        fail(f"{target} exists and was not made from {script.name} by this script: move it away "
             f"(it is not overwritten)", status=1)


def failure_line(error, nb):
    """One line for a failed cell: the error's last line ("NameError: …"), not its traceback. For a
    SystemExit (a lesson's failed checks, or its argument error) the last line the cell printed says why."""
    text = str(getattr(error, "evalue", "") or error).strip()
    ename = getattr(error, "ename", "") or type(error).__name__
    last = text.splitlines()[-1] if text else ""
    line = f"{ename}: {last}" if ename not in last else last
    if ename == "SystemExit":
        failed = [c for c in nb.cells if any(o.output_type == "error" for o in c.get("outputs", []))]
        printed = [o.text for c in failed[-1:] for o in c.outputs
                   if o.output_type == "stream" and o.name == "stdout" and o.text.strip()]
        if printed:
            line += f" after: {printed[-1].strip().splitlines()[-1]}"
    return line


def run_one(script, target, extra, args):
    """Convert ``script`` and execute it in a kernel started in lessons/; write ``target`` (also on failure)."""
    jupytext, nbclient, errors = extra
    import nbformat
    from jupyter_client.manager import KernelManager
    nb = jupytext.read(script)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata[MARK] = script.name
    problem = None
    with tempfile.TemporaryDirectory() as sockets:      # the kernel talks through local sockets (IPC), not TCP
        km = KernelManager(kernel_name="python3", transport="ipc", ip=os.path.join(sockets, "kernel"))
        client = nbclient.NotebookClient(nb, km=km, timeout=args.timeout, resources={"metadata": {"path": str(LESSONS)}})
        try:
            client.execute()
        except errors as e:
            problem = failure_line(e, nb) + " (the notebook shows it in its cell)"
        finally:                    # nbclient leaves a kernel it was given running: stop it here
            if km.has_kernel:
                km.shutdown_kernel(now=True)
    tmp = target.with_name(target.name + ".tmp")
    try:
        nbformat.write(nb, tmp)
        os.replace(tmp, target)
    except OSError as e:
        problem = problem or f"cannot write {target}: {e.strerror or e}"
    finally:
        tmp.unlink(missing_ok=True)
    return problem


def main(argv=None):
    args = parse_args(argv)
    scripts = choose(args.lessons)
    extra = import_extra()
    if not args.into.is_dir():
        fail(f"--into {args.into}: no such folder")
    try:                            # before any lesson runs: can a notebook be written there?
        with tempfile.NamedTemporaryFile(dir=args.into, suffix=".ipynb.tmp"):
            pass
    except OSError as e:
        fail(f"--into {args.into}: cannot write there ({e.strerror or e})")
    if args.out and args.out.exists() and not args.out.is_dir():
        fail(f"--out {args.out}: a file is in the way (the figures need a folder)")
    if args.quick:
        os.environ[QUICK_ENV] = "1"        # the kernel inherits this environment
    if args.out:
        os.environ[OUT_ENV] = str(args.out.resolve())
    targets = [args.into / (s.stem + ".ipynb") for s in scripts]
    for script, target in zip(scripts, targets):
        writable_target(target, script)
    failed = []
    for script, target in zip(scripts, targets):
        print(f"{script.name} → {target} ...", end=" ", flush=True)
        problem = run_one(script, target, extra, args)
        print(f"FAILED: {problem}" if problem else "ok", flush=True)
        if problem:
            failed.append(script.stem)
    mode = "quick" if args.quick else "full"
    print(f"{len(scripts) - len(failed)} of {len(scripts)} notebooks ran ({mode} mode)"
          + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:       # the kernel is already shut down and no half-written notebook is left
        print(f"\n{PROG}: interrupted", file=sys.stderr)
        sys.exit(130)
