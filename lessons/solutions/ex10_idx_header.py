"""Exercise 10 · Reading an IDX file: the format MNIST ships in            (lesson 01)

An IDX file is a header followed by the raw values, nothing else:

    offset   size        meaning
    0        2           two zero bytes
    2        1           type code of the values (see DTYPES below)
    3        1           number of dimensions, ndim
    4        4 · ndim    each dimension's size: unsigned 32-bit, big-endian
    4+4·ndim …           the values, big-endian, in C order (the last dimension varies fastest)

"Big-endian" means the most significant byte comes first: the 4 bytes 00 00 ea 60 are the
number 0xea60 = 60000. ``int.from_bytes(b, "big")`` reads such a number.

Both functions raise ``ValueError`` with a message saying what is wrong when the bytes are not
a valid IDX file: the first two bytes not zero, an unknown type code, too few bytes for the
header, or a number of value bytes different from what the header announces.

Fill in each ``# TODO`` and remove the ``raise NotImplementedError`` under it. Check your work:

    tinynet check lessons/exercises/ex10_idx_header.py
"""
import numpy as np

EXERCISE = "idx_header"

# type code → NumPy dtype of the stored values (">" = big-endian)
DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def parse_header(data):
    """The start of an IDX file (bytes) → (type_code, dims, header_length); e.g. for MNIST's
    training images (0x08, [60000, 28, 28], 16)."""
    # TODO: check the two zero bytes and the type code, read ndim and the ndim sizes
    ### BEGIN SOLUTION
    if len(data) < 4:
        raise ValueError(f"an IDX header needs at least 4 bytes, got {len(data)}")
    if data[0] != 0 or data[1] != 0:
        raise ValueError(f"not an IDX file: the first two bytes are {data[:2].hex(' ')}, not 00 00")
    code, ndim = data[2], data[3]
    if code not in DTYPES:
        raise ValueError(f"unknown IDX type code 0x{code:02x}")
    length = 4 + 4 * ndim
    if len(data) < length:
        raise ValueError(f"the header announces {ndim} dimensions ({length} bytes) but only {len(data)} bytes are given")
    dims = [int.from_bytes(data[4 + 4 * k:8 + 4 * k], "big") for k in range(ndim)]
    return code, dims, length
    ### END SOLUTION


def read_idx_bytes(data):
    """A whole (decompressed) IDX file → a NumPy array of the announced dtype and shape."""
    # TODO: parse the header, check the number of value bytes, and build the array
    ### BEGIN SOLUTION
    code, dims, length = parse_header(data)
    dtype = np.dtype(DTYPES[code])
    expected = int(np.prod(dims)) * dtype.itemsize
    if len(data) - length != expected:
        raise ValueError(f"the header announces {dims} values of {dtype.itemsize} bytes ({expected} bytes), "
                         f"but {len(data) - length} bytes follow it")
    return np.frombuffer(data, dtype=dtype, offset=length).reshape(dims).astype(dtype.newbyteorder("="))
    ### END SOLUTION


if __name__ == "__main__":
    from tinynet.check import main
    raise SystemExit(main([__file__]))
