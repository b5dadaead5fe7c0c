"""The folder a run writes into (``--out``): writable, never someone else's finished run.

    claim("runs/cnn")                              # before any training: may raise RunFolderError
    claim("runs/cnn", resuming="runs/cnn/checkpoint.npz")   # continuing the run that is there
    claim("runs/cnn", force=True)                  # replace it: its files are deleted first

``claim`` makes the folder if needed and proves it writable by writing (and removing) a file in
it, so a folder that is a file, lies inside a file, or may not be written is refused before any
work is done. A folder that holds a run (a ``checkpoint.npz`` or ``metrics.json``) is refused
unless the run continues the checkpoint found there or ``force`` is given. Leftovers of
interrupted saves (``tinynet.save`` writes ``.tmp-NAME-…`` and renames it) are removed.
"""
import os
import tempfile

__all__ = ["RunFolderError", "RUN_FILES", "claim", "holds_run", "make_writable", "remove_leftovers"]

RUN_FILES = ("checkpoint.npz", "metrics.json", "curves.png", "confusion.png", "misclassified.png", "filters.png")
LEFTOVER_PREFIX = ".tmp-checkpoint.npz-"      # what tinynet.save names checkpoint.npz while writing it


class RunFolderError(ValueError):
    """The folder cannot take this run; the message says why and what to do."""


def _file_above(folder):
    """The nearest existing path at or above ``folder`` that is not a folder, or None."""
    path = os.path.abspath(folder)
    while not os.path.exists(path):
        parent = os.path.dirname(path)
        if parent == path:
            return None
        path = parent
    return None if os.path.isdir(path) else path


def make_writable(folder):
    """Create ``folder`` (and its parents) if needed and check a file can be written in it."""
    blocker = _file_above(folder)
    if blocker is not None:
        if os.path.abspath(folder) == blocker:
            raise RunFolderError(f"{folder} is a file, not a folder")
        raise RunFolderError(f"{folder} cannot be made: {blocker} is a file, not a folder")
    try:
        os.makedirs(folder, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".tmp-probe-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise RunFolderError(f"cannot write in {folder}: {e.strerror or e}") from None


def holds_run(folder):
    """The run files ``folder`` holds (``checkpoint.npz``, ``metrics.json``), as a list."""
    return [name for name in ("checkpoint.npz", "metrics.json") if os.path.isfile(os.path.join(folder, name))]


def _same_file(a, b):
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def remove_leftovers(folder):
    """Delete the temporary files of saves that were interrupted; return their names."""
    names = sorted(n for n in os.listdir(folder) if n.startswith(LEFTOVER_PREFIX))
    for name in names:
        os.unlink(os.path.join(folder, name))
    return names


def claim(folder, resuming=None, force=False, command="tinynet train"):
    """Make ``folder`` ready for a run (see the module's docstring); return the leftover files removed.

    ``resuming``: the checkpoint the run continues (its own folder may hold a run). ``force``:
    delete the run files of ``RUN_FILES`` found in the folder (nothing else) and start afresh.
    """
    make_writable(folder)
    found = holds_run(folder)
    ours = resuming is not None and _same_file(os.path.join(folder, "checkpoint.npz"), resuming)
    if found and not ours:
        if not force:
            hint = f"continue it with --resume {os.path.join(folder, 'checkpoint.npz')}, " \
                if "checkpoint.npz" in found and command == "tinynet train" else ""
            raise RunFolderError(f"{folder} already holds a run ({', '.join(found)}); {hint}write elsewhere "
                                 f"with --out, or replace it with --force")
        for name in RUN_FILES:
            path = os.path.join(folder, name)
            if os.path.isfile(path):
                os.unlink(path)
    return remove_leftovers(folder)
