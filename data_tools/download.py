"""Download MNIST or Fashion-MNIST from their canonical mirrors (only needed for Fashion-MNIST:
MNIST is bundled).

For each ``.gz`` file the mirrors are tried in order; the first that delivers the complete file
with the right MD5 wins.  The MD5s here are of the ``.gz`` files as the mirrors publish them
(they differ from the bundled MNIST copies, which were recompressed; the bytes inside match).
Every file is streamed into a temporary file next to its destination and renamed into place
only once complete and verified, so a failed download leaves nothing behind.  Only the
standard library is used (urllib).
"""

from __future__ import annotations

import hashlib
import http.client
import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from data_tools.atomic import atomic_open

MIRRORS = {
    "mnist": [
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ],
    "fashion-mnist": [
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    ],
}

GZ_MD5 = {  # data set -> file name -> MD5 of the .gz as published by the mirrors
    "mnist": {
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    },
}

_CHUNK = 64 * 1024


class DownloadError(OSError):
    """No mirror delivered a file; the message lists each mirror and why it failed."""


class _BadDownload(Exception):
    """One mirror delivered something wrong (short or with the wrong MD5)."""


def default_dest(dataset: str) -> Path:
    """Where files go without ``--dest``: ``$TINYNET_DATA/<dataset>``, else ``./data/<dataset>``."""
    return Path(os.environ.get("TINYNET_DATA") or "data") / dataset


def download(dataset, dest, mirrors=None, files=None, timeout=30.0, progress=sys.stderr):
    """Fetch every file of ``dataset`` into the folder ``dest``; returns their paths.

    ``mirrors`` (base URLs, tried in order) and ``files`` (name -> expected MD5 of the file as
    served) default to the tables above.  Files already present with the right MD5 are kept.
    ``progress`` is a text stream for progress reports, or None for silence.
    Raises DownloadError when some file cannot be fetched from any mirror.
    """
    if dataset not in MIRRORS and (mirrors is None or files is None):
        raise ValueError(f"unknown data set {dataset!r}; known: {', '.join(MIRRORS)}")
    mirrors = list(mirrors if mirrors is not None else MIRRORS[dataset])
    files = dict(files if files is not None else GZ_MD5[dataset])
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, md5 in files.items():
        target = dest / name
        if target.is_file() and _md5_of_file(target) == md5:
            _say(progress, f"{target}: already present, MD5 ok\n")
        else:
            fetch(name, md5, mirrors, target, timeout=timeout, progress=progress)
        paths.append(target)
    return paths


def fetch(name, md5, mirrors, target, timeout=30.0, progress=sys.stderr) -> None:
    """Download ``name`` from the first mirror that delivers it whole with MD5 ``md5``."""
    failures = []
    for mirror in mirrors:
        url = mirror.rstrip("/") + "/" + name
        try:
            _fetch_one(url, md5, Path(target), timeout, progress)
            return
        except (_BadDownload, OSError, http.client.HTTPException) as e:
            _say(progress, f"{url}: failed: {_reason(e)}\n")
            failures.append(f"  {url}: {_reason(e)}")
    tried = "\n".join(failures) or "  (no mirrors given)"
    raise DownloadError(f"could not download {name}; every mirror failed:\n{tried}")


def _fetch_one(url, md5, target: Path, timeout, progress) -> None:
    request = urllib.request.Request(url, headers={"User-Agent": "tinynet-data-tools"})
    with urllib.request.urlopen(request, timeout=timeout) as response, atomic_open(target) as f:
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        digest, received, last_report = hashlib.md5(), 0, 0.0
        while chunk := response.read(_CHUNK):
            f.write(chunk)
            digest.update(chunk)
            received += len(chunk)
            if time.monotonic() - last_report > 0.25:
                _progress(progress, url, received, total)
                last_report = time.monotonic()
        _progress(progress, url, received, total, final=True)
        # raising inside atomic_open removes the temporary file: nothing is left behind
        if total is not None and received != total:
            raise _BadDownload(
                f"connection closed after {received:,} of {total:,} bytes (incomplete transfer)"
            )
        if digest.hexdigest() != md5:
            raise _BadDownload(f"checksum error: MD5 {digest.hexdigest()}, expected {md5}")


def _reason(e: BaseException) -> str:
    if isinstance(e, urllib.error.HTTPError):
        return f"HTTP {e.code} {e.reason}"
    if isinstance(e, urllib.error.URLError):
        return f"cannot connect: {e.reason}"
    return str(e) or type(e).__name__


def _progress(out, url, received, total, final=False) -> None:
    if out is None:
        return
    mb = received / 1e6
    if total:
        line = f"{url}  {mb:.1f} / {total / 1e6:.1f} MB  {100 * received // total:3d}%"
    else:
        line = f"{url}  {mb:.1f} MB"
    # on a terminal, redraw one line as the bytes come; in a log, write only the final line
    if getattr(out, "isatty", lambda: False)():
        out.write("\r" + line + ("\n" if final else ""))
    elif final:
        out.write(line + "\n")
    out.flush()


def _say(out, text: str) -> None:
    if out is not None:
        out.write(text)
        out.flush()


def _md5_of_file(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
