"""data_tools.idx: round trips for every element type, and strict rejection of malformed files."""

import gzip
import io
import os
import struct
import tempfile
import time
import tracemalloc
import zlib

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from data_tools import atomic
from data_tools.idx import DTYPES, IDXError, idx_bytes, read_idx, write_idx

NATIVE_DTYPES = [dt.newbyteorder("=") for dt in DTYPES.values()]


# --- hypothesis strategies for IDX arrays -------------------------------------------------

def idx_arrays(max_dims=4, max_side=6):
    """Any array an IDX file can hold: one of the six dtypes, 1..max_dims dims, every side >= 1."""
    return st.sampled_from(NATIVE_DTYPES).flatmap(
        lambda dt: hnp.arrays(dt, hnp.array_shapes(min_dims=1, max_dims=max_dims, min_side=1, max_side=max_side))
    )


def header(code, dims):
    return bytes([0, 0, code, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims)


def assert_same(a, b):
    assert a.dtype == b.dtype and a.shape == b.shape
    assert a.dtype.isnative
    np.testing.assert_array_equal(a, b)  # NaNs in the same places count as equal


# --- round trips --------------------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(array=idx_arrays(), gz=st.booleans())
def test_write_read_round_trip(array, gz):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "a.idx" + (".gz" if gz else ""))
        write_idx(path, array)
        assert_same(read_idx(path), array)
        with open(path, "rb") as f:  # a file object works the same
            assert_same(read_idx(f), array)
        assert sorted(os.listdir(d)) == [os.path.basename(path)]  # no temporary file left


@settings(max_examples=40, deadline=None)
@given(array=idx_arrays())
def test_bytes_round_trip_and_layout(array):
    data = idx_bytes(array)
    assert data[:2] == b"\0\0" and data[3] == array.ndim
    assert len(data) == 4 + 4 * array.ndim + array.nbytes
    assert_same(read_idx(io.BytesIO(data)), array)
    assert_same(read_idx(io.BytesIO(gzip.compress(data))), array)


@pytest.mark.parametrize("dtype", NATIVE_DTYPES, ids=str)
def test_every_type_is_big_endian_on_disk(dtype, tmp_path):
    array = np.arange(6).reshape(2, 3).astype(dtype) - 2
    path = tmp_path / "x.idx"
    write_idx(path, array)
    data = path.read_bytes()
    code = {v.newbyteorder("="): k for k, v in DTYPES.items()}[dtype]
    assert data[:12] == header(code, (2, 3))
    assert data[12:] == array.astype(dtype.newbyteorder(">")).tobytes()
    assert_same(read_idx(path), array)


def test_known_bytes_decode():
    data = header(0x0B, (3,)) + b"\x01\x02\xff\xfe\x00\x07"
    assert read_idx(io.BytesIO(data)).tolist() == [0x0102, -2, 7]


def test_big_endian_input_array_is_written_correctly(tmp_path):
    array = np.array([[1.5, -2.25]], dtype=">f8")
    write_idx(tmp_path / "x.idx", array)
    out = read_idx(tmp_path / "x.idx")
    assert out.dtype == np.float64 and out.dtype.isnative and out.tolist() == [[1.5, -2.25]]


def test_gzip_detected_by_magic_not_by_name(tmp_path):
    array = np.arange(10, dtype=np.uint8)
    (tmp_path / "plain.gz").write_bytes(idx_bytes(array))  # raw bytes, misleading name
    (tmp_path / "packed.idx").write_bytes(gzip.compress(idx_bytes(array)))  # gzip, plain name
    assert_same(read_idx(tmp_path / "plain.gz"), array)
    assert_same(read_idx(str(tmp_path / "packed.idx")), array)


def test_gz_output_is_gzip_and_deterministic(tmp_path):
    array = np.arange(100, dtype=np.int32).reshape(10, 10)
    write_idx(tmp_path / "a.gz", array)
    write_idx(tmp_path / "b.gz", array)
    first = (tmp_path / "a.gz").read_bytes()
    assert first[:2] == b"\x1f\x8b" and first == (tmp_path / "b.gz").read_bytes()
    assert gzip.decompress(first) == idx_bytes(array)


def test_multi_member_gzip_is_one_stream():
    data = idx_bytes(np.arange(50, dtype=np.int16))
    joined = gzip.compress(data[:20]) + gzip.compress(data[20:])
    assert_same(read_idx(io.BytesIO(joined)), np.arange(50, dtype=np.int16))


def test_unseekable_file_object():
    class Pipe:  # has read() and nothing else
        def __init__(self, data):
            self._f = io.BytesIO(data)

        def read(self, n=-1):
            return self._f.read(n)

    array = np.arange(12, dtype=np.float32).reshape(3, 4)
    assert_same(read_idx(Pipe(idx_bytes(array))), array)
    assert_same(read_idx(Pipe(gzip.compress(idx_bytes(array)))), array)


# --- writing: refusals and atomicity ------------------------------------------------------

@pytest.mark.parametrize(
    "array, words",
    [
        (np.zeros(3, dtype=np.int64), "dtype int64"),
        (np.zeros(3, dtype=bool), "dtype bool"),
        (np.array(5, dtype=np.uint8), "dimensions"),
        (np.zeros((2, 0), dtype=np.uint8), "shape (2, 0)"),
    ],
)
def test_write_refuses_what_idx_cannot_hold(array, words, tmp_path):
    with pytest.raises(IDXError, match=words.replace("(", r"\(").replace(")", r"\)")):
        write_idx(tmp_path / "x.idx", array)
    assert list(tmp_path.iterdir()) == []


def test_failed_write_leaves_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "x.idx.gz"
    write_idx(path, np.arange(5, dtype=np.uint8))
    before = path.read_bytes()

    def broken_replace(src, dst):
        raise OSError("disk on fire")

    monkeypatch.setattr(atomic.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk on fire"):
        write_idx(path, np.arange(500, dtype=np.uint8))
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["x.idx.gz"]


# --- malformed files ----------------------------------------------------------------------

GOOD = header(0x08, (2, 3)) + bytes(range(6))

MALFORMED = {
    "empty": (b"", "empty file"),
    "one byte": (b"\x00", "shorter than the 4-byte magic"),
    "three bytes": (b"\x00\x00\x08", "shorter than the 4-byte magic"),
    "first byte": (b"\x01\x00\x08\x01" + b"\0\0\0\1" + b"x", "first two bytes are 01 00"),
    "second byte": (b"\x00\x02\x08\x01" + b"\0\0\0\1" + b"x", "first two bytes are 00 02"),
    "text file": (b"hello world\n", "first two bytes are 68 65"),
    "type code": (b"\x00\x00\x0a\x01" + b"\0\0\0\1" + b"x", "unknown element type code 0x0A"),
    "type code ff": (b"\x00\x00\xff\x01" + b"\0\0\0\1" + b"x", "unknown element type code 0xFF"),
    "zero dims": (b"\x00\x00\x08\x00", "zero dimensions"),
    "zero dims + data": (b"\x00\x00\x08\x00abcd", "zero dimensions"),
    "size-0 dimension": (header(0x08, (2, 0, 3)), "dimension 1 has size 0"),
    "header cut": (b"\x00\x00\x08\x03" + b"\0\0\0\2\0\0\0\3", "header truncated"),
    "header cut mid-int": (b"\x00\x00\x08\x01\x00\x00", "header truncated"),
    "payload short": (GOOD[:-1], "truncated"),
    "payload missing": (header(0x08, (2, 3)), "only 0 bytes are present"),
    "payload short int32": (header(0x0C, (4,)) + bytes(15), "16 bytes of data"),
    "payload short float64": (header(0x0E, (2, 2)) + bytes(31), "32 bytes of data"),
    "trailing byte": (GOOD + b"\0", "trailing bytes"),
    "trailing lots": (GOOD + bytes(1000), "trailing bytes"),
    "huge header": (header(0x08, (2**32 - 1, 2**32 - 1)), "truncated"),
    "huge header float64": (header(0x0E, (2**32 - 1,) * 8) + bytes(100), "truncated"),
    "255 huge dims": (header(0x0D, (2**32 - 1,) * 255), "255 dimensions"),
    "too many dims for numpy": (header(0x08, (1,) * 65) + b"x", "65 dimensions"),
    "max dims": (header(0x08, (2,) * 64) + b"x", "truncated"),
}


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gzip"])
@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_file_raises_idxerror_naming_file_and_problem(case, gz, tmp_path):
    data, words = MALFORMED[case]
    path = tmp_path / "broken-file.idx"
    path.write_bytes(gzip.compress(data) if gz else data)
    start = time.perf_counter()
    with pytest.raises(IDXError) as info:
        read_idx(path)
    assert time.perf_counter() - start < 1.0
    message = str(info.value)
    assert words in message
    assert str(path) in message
    assert isinstance(info.value, ValueError)
    with pytest.raises(IDXError, match="<BytesIO object>"):  # nameless file objects say so
        read_idx(io.BytesIO(path.read_bytes()))


def test_open_file_errors_name_the_path(tmp_path):
    path = tmp_path / "named.idx"
    path.write_bytes(b"\x00\x00\x08")
    with open(path, "rb") as f, pytest.raises(IDXError, match="named.idx"):
        read_idx(f)


GZ = gzip.compress(GOOD)


@pytest.mark.parametrize(
    "data, words",
    [
        (GZ[:-4], "truncated or corrupt gzip"),  # trailer cut
        (GZ[: len(GZ) // 2], "truncated or corrupt gzip"),
        (GZ[:2], "truncated or corrupt gzip"),  # magic only
        (GZ[:-8] + bytes([GZ[-8] ^ 1]) + GZ[-7:], "CRC"),  # wrong checksum
        (GZ[:12] + b"\xff" * (len(GZ) - 12), ""),  # garbage deflate data: any IDXError will do
        (b"\x1f\x8b" + b"not gzip at all", "truncated or corrupt gzip"),
        (GZ + b"junk after the stream", "truncated or corrupt gzip"),
    ],
    ids=["trailer cut", "half", "magic only", "crc", "garbage", "bad header", "junk after"],
)
def test_bad_gzip_stream(data, words, tmp_path):
    path = tmp_path / "bad.gz"
    path.write_bytes(data)
    with pytest.raises(IDXError) as info:
        read_idx(path)
    assert words in str(info.value) and str(path) in str(info.value)


def _compressed_zeros(prefix, n_zero_bytes):
    z = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31 = gzip container
    out = [z.compress(prefix)]
    block = bytes(1 << 20)
    for _ in range(n_zero_bytes >> 20):
        out.append(z.compress(block))
    out.append(z.flush())
    return b"".join(out)


def test_huge_header_fails_at_once_without_allocating():
    data = header(0x08, (2**32 - 1, 2**32 - 1))
    assert len(data) == 12
    for blob in (data, gzip.compress(data)):
        tracemalloc.start()
        start = time.perf_counter()
        with pytest.raises(IDXError, match="truncated"):
            read_idx(io.BytesIO(blob))
        elapsed = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert elapsed < 0.5 and peak < 256 << 10


def test_gzip_bomb_stops_one_byte_past_the_declared_size():
    # 16 declared bytes, then 64 MB of zeros squeezed into ~64 KB of gzip
    bomb = _compressed_zeros(header(0x08, (4, 4)) + bytes(16), 64 << 20)
    assert len(bomb) < 1 << 20
    tracemalloc.start()
    start = time.perf_counter()
    with pytest.raises(IDXError, match="trailing bytes"):
        read_idx(io.BytesIO(bomb))
    elapsed = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert elapsed < 1.0 and peak < 8 << 20


def test_lying_header_reads_only_what_is_present():
    # declares 2**64 bytes, holds 8 MB: the reader gives up when the data runs out
    blob = _compressed_zeros(header(0x08, (2**32 - 1, 2**32 - 1)), 8 << 20)
    tracemalloc.start()
    with pytest.raises(IDXError, match="only 8,388,608 bytes are present"):
        read_idx(io.BytesIO(blob))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 3 * (8 << 20)


def test_raw_file_of_known_length_fails_from_its_header(tmp_path):
    path = tmp_path / "liar.idx"
    path.write_bytes(header(0x08, (2**32 - 1, 2**32 - 1)) + bytes(8 << 20))
    tracemalloc.start()
    with pytest.raises(IDXError, match="only 8,388,608 bytes are present"):
        read_idx(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 256 << 10  # the 8 MB were never read
    path.write_bytes(GOOD + bytes(7))
    with pytest.raises(IDXError, match="7 trailing bytes after the 6 bytes"):
        read_idx(path)


def test_missing_file_is_an_oserror_not_idxerror(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "nope.idx")


# --- fuzzing: whatever the bytes, read_idx returns the exact array or raises IDXError ------

def _accepts_exactly_or_raises_idxerror(blob, decompressed):
    try:
        array = read_idx(io.BytesIO(blob))
    except IDXError:
        return
    assert idx_bytes(array) == decompressed  # accepted only if it is exactly a valid file


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=64) | st.builds(lambda h, b: h + b, st.sampled_from([b"\0\0\x08\x01", b"\0\0\x0d\x02", b"\0\0\x0e\x01"]), st.binary(max_size=64)))
def test_arbitrary_bytes(blob):
    _accepts_exactly_or_raises_idxerror(blob, blob)


@settings(max_examples=150, deadline=None)
@given(array=idx_arrays(max_dims=3, max_side=4), data=st.data())
def test_mutated_valid_file(array, data):
    good = idx_bytes(array)
    i = data.draw(st.integers(0, len(good) - 1), label="position")
    kind = data.draw(st.sampled_from(["flip", "cut", "insert"]), label="mutation")
    if kind == "flip":
        bad = good[:i] + bytes([good[i] ^ data.draw(st.integers(1, 255))]) + good[i + 1 :]
    elif kind == "cut":
        bad = good[:i]
    else:
        bad = good[:i] + data.draw(st.binary(min_size=1, max_size=8)) + good[i:]
    _accepts_exactly_or_raises_idxerror(bad, bad)
    packed = gzip.compress(bad, mtime=0)
    _accepts_exactly_or_raises_idxerror(packed, bad)
    # damage the gzip container too: whatever survives must still be exact
    j = data.draw(st.integers(0, len(packed) - 1), label="gzip position")
    damaged = packed[:j] + bytes([packed[j] ^ 0x40]) + packed[j + 1 :]
    try:
        out = read_idx(io.BytesIO(damaged))
    except IDXError:
        return
    assert idx_bytes(out) == gzip.decompress(damaged)  # gzip itself found nothing wrong either


def test_bytes_and_text_mode_files_are_type_errors(tmp_path):
    import io
    path = tmp_path / "a.idx"
    write_idx(path, np.arange(3, dtype=np.uint8))
    with pytest.raises(TypeError, match=r"got bytes; for bytes in memory use read_idx\(io.BytesIO\(data\)\)"):
        read_idx(path.read_bytes())
    with open(path) as text, pytest.raises(TypeError, match="text mode.*open\\(path, 'rb'\\)"):
        read_idx(text)
    with pytest.raises(TypeError, match="text mode"):
        read_idx(io.StringIO("\0\0\x08\x01"))
    with pytest.raises(TypeError, match="got int"):
        read_idx(3)
    assert read_idx(io.BytesIO(path.read_bytes())).tolist() == [0, 1, 2]
