"""Where a picture may be written: the checks made before any work, and the atomic write.

A picture goes to a file name (not a folder, a device or a pipe) with a suffix the writer knows,
in a folder that exists and is writable; each problem is one ValueError line naming the path.
The bytes go to a temporary file in the same folder, renamed over the target when complete, so a
failure never leaves half a file or costs the file that was there.
"""
import os
import secrets
from pathlib import Path

__all__ = ["check_out_path", "write_atomic"]


def check_out_path(path, formats, what):
    """``path`` as a Path, checked (nothing is written); ``formats`` the allowed suffixes, ``what``
    the name used in messages ("draw_graph", "--explain")."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{what}: the path must be a file name (str or Path), got {type(path).__name__}")
    path = Path(path)
    if not str(path) or path.name in ("", ".", ".."):
        raise ValueError(f"{what}: {str(path)!r} is not a file name")
    if path.is_dir():
        raise ValueError(f"{what}: {path} is a folder; give a file name inside it")
    if path.suffix.lower() not in formats:
        raise ValueError(f"{what}: {path} must end in {', '.join(formats)} (got {path.suffix or 'no suffix'!r})")
    folder = path.parent
    if not folder.is_dir():
        raise ValueError(f"{what}: {path}: the folder {folder} does not exist")
    if path.exists() and not path.is_file():
        raise ValueError(f"{what}: {path} exists and is not a regular file (a device or a pipe); not writing there")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(f"{what}: {path}: the folder {folder} is not writable")
    return path


def write_atomic(path, write, what):
    """Call ``write(file)`` on a temporary binary file beside ``path``, then rename it to ``path``.
    An OSError becomes one line naming ``path``; the temporary file is removed on any failure."""
    tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.part"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)    # the umask applies, as to open()
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(e, OSError):
            raise OSError(f"{what}: cannot write {path} ({e.strerror or e})") from None
        raise
