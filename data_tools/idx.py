"""Read and write IDX files, the format MNIST is published in — strictly.

The IDX format
--------------
An IDX file is a tiny header followed by one big array, with nothing after it::

    offset  size     meaning
    0       2        always 00 00
    2       1        element type code (table below)
    3       1        number of dimensions, ndim (1..255)
    4       4*ndim   the size of each dimension, unsigned 32-bit big-endian
    4+4*ndim ...     the elements, big-endian, C order (the last dimension varies fastest)

    code  type      bytes/element
    0x08  uint8     1
    0x09  int8      1
    0x0B  int16     2
    0x0C  int32     4
    0x0D  float32   4
    0x0E  float64   8

So ``train-images-idx3-ubyte`` starts ``00 00 08 03`` (uint8, 3 dims), then 60000, 28, 28, then
60000*28*28 = 47,040,000 pixel bytes; the file is exactly 16 + 47,040,000 bytes long.
Files are often gzipped; a gzip stream is recognised by its first two bytes ``1f 8b``, never by
the file name.

Strictness
----------
Every accepted file has exactly the bytes its header declares: anything else raises
:class:`IDXError` (a ``ValueError``) with the file's name and the problem in the message.
Because of that, an array read here determines the file's decompressed bytes exactly
(:func:`idx_bytes` rebuilds them), which is how checksums of the decompressed data are checked.

The header is never trusted with memory.  When the file's length is known (a regular file,
BytesIO) a raw file whose header disagrees with its length fails before its payload is read.
Otherwise (gzip, pipes) the payload is read in growing chunks and at most ``declared size + 1``
bytes are ever asked for, so a header that declares 2**32 x 2**32 elements fails as soon as the
bytes actually present run out, and a gzip stream that inflates to gigabytes of trailing data
fails one byte past the declared size.
Every dimension must be at least 1 (an IDX file of zero samples is treated as malformed).
"""

from __future__ import annotations

import gzip
import io
import os
import zlib

import numpy as np

from data_tools.atomic import atomic_open

GZIP_MAGIC = b"\x1f\x8b"

# type code -> big-endian dtype as stored on disk
DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
CODES = {dt.newbyteorder("="): code for code, dt in DTYPES.items()}


def _numpy_max_ndim() -> int:
    """The most dimensions a numpy array may have (64 in numpy 2, 32 before)."""
    for n in (64, 32):
        try:
            np.empty((1,) * n, dtype=np.uint8)
            return n
        except ValueError:
            pass
    return 32


NUMPY_MAX_NDIM = _numpy_max_ndim()
_FIRST_CHUNK, _MAX_CHUNK = 1 << 16, 1 << 22  # payload reads: 64 KiB, doubling up to 4 MiB


class IDXError(ValueError):
    """A file that is not a well-formed IDX file. The message names the file and the problem."""


def read_idx(source) -> np.ndarray:
    """Read an IDX file (raw or gzipped) into a native-endian numpy array.

    ``source`` is a path (str or os.PathLike) or a binary file object opened for reading.
    The array has the file's element type and shape.  Raises :class:`IDXError` for any
    malformed file (see the module docstring); a missing file raises the usual OSError.
    """
    if isinstance(source, (str, os.PathLike)):
        if os.path.exists(source) and not os.path.isdir(source) and not os.path.isfile(source):
            raise IDXError(f"{os.fspath(source)}: not a regular file (a device, a pipe or a socket)")
        with open(source, "rb") as f:
            return _read_stream(f, os.fspath(source))
    _check_binary_file(source)
    name = getattr(source, "name", None)  # open() files know their path; BytesIO does not
    if not isinstance(name, (str, os.PathLike)):
        name = f"<{type(source).__name__} object>"
    return _read_stream(source, os.fspath(name))


def _check_binary_file(source) -> None:
    """TypeError at once for what is neither a path nor a binary file (bytes, a text-mode file)."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        raise TypeError(f"read_idx: expected a path or a binary file, got {type(source).__name__}; "
                        "for bytes in memory use read_idx(io.BytesIO(data))")
    if not callable(getattr(source, "read", None)):
        raise TypeError(f"read_idx: expected a path or a binary file, got {type(source).__name__}")
    if isinstance(source, io.TextIOBase) or isinstance(source.read(0), str):
        raise TypeError("read_idx: the file is open in text mode; open it in binary mode: open(path, 'rb')")


def write_idx(path, array) -> None:
    """Write ``array`` as an IDX file at ``path``, gzipped when the name ends in ``.gz``.

    The write is atomic: the bytes go to a temporary file in the same directory, which is
    renamed over ``path`` only when complete, so a crash never leaves a half-written file.
    """
    data = idx_bytes(array)
    with atomic_open(path) as f:
        if os.fspath(path).endswith(".gz"):
            # mtime=0 and no file name inside: the same array always gives the same bytes
            with gzip.GzipFile(filename="", mode="wb", fileobj=f, mtime=0, compresslevel=6) as gz:
                gz.write(data)
        else:
            f.write(data)


def idx_bytes(array) -> bytes:
    """The exact (uncompressed) bytes of the IDX file holding ``array``: header + payload."""
    array = np.asarray(array)
    return encode_header(array.dtype, array.shape) + array.astype(
        array.dtype.newbyteorder(">"), copy=False
    ).tobytes()


def encode_header(dtype, shape) -> bytes:
    """The IDX header for an array of this dtype and shape (checks that IDX can hold it)."""
    dtype = np.dtype(dtype).newbyteorder("=")
    if dtype not in CODES:
        names = ", ".join(str(d) for d in CODES)
        raise IDXError(f"IDX cannot store dtype {dtype} (supported: {names})")
    if not 1 <= len(shape) <= 255:
        raise IDXError(f"IDX needs 1 to 255 dimensions, the array has {len(shape)}")
    if not all(1 <= d < 2**32 for d in shape):
        raise IDXError(f"IDX dimensions must be 1 .. 2**32-1, the array has shape {tuple(shape)}")
    header = bytes([0, 0, CODES[dtype], len(shape)])
    return header + b"".join(int(d).to_bytes(4, "big") for d in shape)


def describe_magic(magic: bytes) -> str:
    """Explain the 4 magic bytes, e.g. ``00 00 08 03 → type 0x08 uint8, 3 dims``."""
    code, ndim = magic[2], magic[3]
    return f"{magic.hex(' ')} → type 0x{code:02X} {DTYPES[code].newbyteorder('=')}, {ndim} dims"


# --- reading ---------------------------------------------------------------------------


def _read_stream(f, name: str) -> np.ndarray:
    size = _bytes_left(f)  # known for regular files and BytesIO: lets a raw file fail from its header
    head = _read_upto(f, 2)
    if head == GZIP_MAGIC:
        stream = gzip.GzipFile(fileobj=_Prefixed(head, f), mode="rb")
        where = " (after gzip decompression)"
    else:
        stream = _Prefixed(head, f)
        where = ""

    def fail(problem):
        return IDXError(f"{name}: {problem}{where}")

    try:
        magic = _read_upto(stream, 4)
        if not magic:
            raise fail("empty file")
        if len(magic) < 4:
            raise fail(f"only {len(magic)} byte(s) long, shorter than the 4-byte magic number")
        if magic[:2] != b"\0\0":
            raise fail(f"not an IDX file: the first two bytes are {magic[:2].hex(' ')}, not 00 00")
        code, ndim = magic[2], magic[3]
        if code not in DTYPES:
            known = ", ".join(f"0x{c:02X}" for c in DTYPES)
            raise fail(f"unknown element type code 0x{code:02X} (known: {known})")
        if ndim == 0:
            raise fail("header declares zero dimensions")
        if ndim > NUMPY_MAX_NDIM:
            raise fail(f"header declares {ndim} dimensions; numpy arrays can have at most {NUMPY_MAX_NDIM}")
        raw_dims = _read_upto(stream, 4 * ndim)
        if len(raw_dims) < 4 * ndim:
            raise fail(
                f"header truncated: it declares {ndim} dimensions ({4 * ndim} bytes of sizes) "
                f"but only {len(raw_dims)} bytes follow the magic number"
            )
        dims = tuple(int.from_bytes(raw_dims[i : i + 4], "big") for i in range(0, 4 * ndim, 4))
        if 0 in dims:
            raise fail(f"dimension {dims.index(0)} has size 0 (dims {_fmt_dims(dims)})")
        dtype = DTYPES[code]
        count = 1
        for d in dims:  # Python ints: no overflow, however large the header claims
            count *= d
        declared = count * dtype.itemsize
        if size is not None and where == "":
            present = size - 4 - 4 * ndim  # raw file of known length: no need to read to know
            if present != declared:
                raise fail(_size_problem(dims, dtype, declared, present))
        payload = _read_upto(stream, declared + 1)  # one extra byte reveals trailing data
    except (EOFError, OSError, zlib.error) as e:
        if not isinstance(stream, gzip.GzipFile):
            raise  # a real I/O error on the underlying file, not a format problem
        raise IDXError(f"{name}: truncated or corrupt gzip stream: {e}") from e

    if len(payload) != declared:
        raise fail(_size_problem(dims, dtype, declared, len(payload), exact=False))
    array = np.frombuffer(payload, dtype=dtype).reshape(dims)
    return array.astype(dtype.newbyteorder("="), copy=False)


def _size_problem(dims, dtype, declared, present, exact=True) -> str:
    if present < declared:
        return (
            f"truncated: the header declares {_fmt_dims(dims)} {dtype.newbyteorder('=')} = "
            f"{declared:,} bytes of data, but only {present:,} bytes are present"
        )
    extra = f"{present - declared:,} trailing bytes" if exact else "trailing bytes: data goes on"
    return f"{extra} after the {declared:,} bytes of data the header declares"


def _bytes_left(f):
    """How many bytes ``f`` holds from its position to its end, or None if it cannot tell."""
    try:
        if f.seekable():
            here = f.tell()
            end = f.seek(0, os.SEEK_END)
            f.seek(here)
            return end - here
    except (AttributeError, OSError, ValueError):
        pass
    return None


def _read_upto(f, n: int) -> bytearray:
    """Read up to n bytes, fewer only at end of stream.

    A read of k bytes allocates k bytes even when less is there, so the chunks start small and
    double: memory stays proportional to the data actually present, however large n is.
    """
    out = bytearray()
    chunk = _FIRST_CHUNK
    while len(out) < n:
        data = f.read(min(chunk, n - len(out)))
        if not data:
            break
        out += data
        chunk = min(2 * chunk, _MAX_CHUNK)
    return out


def _fmt_dims(dims) -> str:
    return " x ".join(str(d) for d in dims)


class _Prefixed:
    """A read-only stream: ``prefix``, then the rest of ``f`` (undoes peeking at the magic)."""

    def __init__(self, prefix: bytes, f):
        self._prefix = bytes(prefix)
        self._f = f

    def read(self, n: int = -1) -> bytes:
        if self._prefix:
            head = self._prefix if n < 0 else self._prefix[:n]
            self._prefix = self._prefix[len(head):]
            return head
        return self._f.read(n)
