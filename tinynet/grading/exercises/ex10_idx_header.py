"""Exercise 10 · reading an IDX file (lessons/exercises/ex10_idx_header.py).

00 00 | type code | ndim | ndim big-endian uint32 sizes | the values, big-endian, C order.
"""
import gzip
import io
from types import SimpleNamespace

import numpy as np

from ..compare import Failed
from ..probes import get
from ..registry import exercise


def reference():
    from data_tools.idx import DTYPES, read_idx

    def parse_header(data):
        ndim = data[3]
        return data[2], [int.from_bytes(data[4 + 4 * k:8 + 4 * k], "big") for k in range(ndim)], 4 + 4 * ndim

    if set(DTYPES) != {0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E}:
        raise AssertionError("data_tools.idx.DTYPES changed: update exercise 10")
    return SimpleNamespace(parse_header=parse_header, read_idx_bytes=lambda data: read_idx(io.BytesIO(data)))


def _forbidden():
    import data_tools.idx
    import data_tools.mnist
    from ..own import defined_in
    return defined_in(data_tools.idx, data_tools.mnist)


ex = exercise(10, "idx_header", "reading an IDX file", reference=reference, forbidden=_forbidden)
HINT = ("Sizes and values are big-endian (most significant byte first); the header is 4 + 4·ndim bytes; "
        "the values' dtype comes from the type code (DTYPES).")


def _mnist_file(name):
    from data_tools.mnist import MNIST_DIR
    with gzip.open(MNIST_DIR / name) as f:
        return f.read()


@ex.part("MNIST's training-image header: (0x08, [60000, 28, 28], 16)", HINT, uses=["parse_header"],
         inputs=lambda rng: {"head": _mnist_file("train-images-idx3-ubyte.gz")[:16]},
         judge=lambda got, ref, inp: _same_header(got.get("header"), ref["header"], "parse_header(first 16 bytes)"))
def training_header(mod, inp):
    return {"header": get(mod, "parse_header")(inp["head"])}


def _plain(v):
    """Lists and arrays (a student may return NumPy integers) as plain nested lists."""
    if isinstance(v, np.ndarray):
        return v.tolist()
    return [_plain(x) for x in v] if isinstance(v, list) else v


def _same_header(got, want, what):
    got = _plain(got)
    if not (isinstance(got, list) and len(got) == 3 and got == _plain(want)):
        raise Failed(f"{what} returned {_show(got)}, expected ({want[0]}, {want[1]}, {want[2]}).")


def _show(v):
    return tuple(v) if isinstance(v, list) and len(v) == 3 else v


def _types_inputs(rng):
    from data_tools.idx import idx_bytes
    cases = []
    for dtype in ("uint8", "int8", "int16", "int32", "float32", "float64"):
        shape = tuple(int(d) for d in rng.integers(1, 6, rng.integers(1, 5)))
        a = (rng.standard_normal(shape) * 100).astype(dtype)
        cases.append((dtype, shape, idx_bytes(a)))
    return {"cases": cases}


def _judge_types(got, ref, inputs):
    for dtype, shape, _ in inputs["cases"]:
        g, want = got.get(dtype), ref[dtype]
        if not isinstance(g, dict):
            raise Failed(f"for a {dtype} array of shape {shape}: no result.")
        _same_header(g.get("header"), want["header"], f"for a {dtype} array of shape {shape}: parse_header")
        a = g.get("array")
        if not isinstance(a, np.ndarray):
            raise Failed(f"for {dtype} values read_idx_bytes returned {a!r}, not an array.")
        if a.dtype.kind != want["array"].dtype.kind or a.dtype.itemsize != want["array"].dtype.itemsize:
            raise Failed(f"for {dtype} values read_idx_bytes returned dtype {a.dtype}.")
        if a.shape != shape or not np.array_equal(a, want["array"]):
            raise Failed(f"for a {dtype} array of shape {shape}: read_idx_bytes returned shape {a.shape} "
                         f"and different values (first: {a.reshape(-1)[:3].tolist()}, "
                         f"expected {want['array'].reshape(-1)[:3].tolist()}).")


@ex.part("all six value types, 1 to 4 dimensions", HINT, inputs=_types_inputs, uses=["parse_header", "read_idx_bytes"],
         judge=_judge_types)
def six_types(mod, inp):
    return {dtype: {"header": get(mod, "parse_header")(data), "array": get(mod, "read_idx_bytes")(data)}
            for dtype, shape, data in inp["cases"]}


INVALID = ["a PNG file", "an unknown type code", "only 2 bytes", "a header cut short", "one value byte missing",
           "one byte too many"]


def _invalid_inputs(rng):
    """Broken variants of a random well-formed file (a new one each run)."""
    from data_tools.idx import idx_bytes
    dtype = rng.choice(["uint8", "int16", "float32"])
    good = idx_bytes((rng.standard_normal(tuple(int(d) for d in rng.integers(2, 5, 2))) * 50).astype(dtype))
    code = int(rng.choice([0x00, 0x07, 0x0A, 0x0F, 0x10]))
    return {"cases": dict(zip(INVALID, [b"\x89PNG\r\n\x1a\n" + bytes(int(rng.integers(8, 40))),
                                        good[:2] + bytes([code]) + good[3:], good[:2],
                                        good[:int(rng.integers(5, 12))], good[:-1], good + bytes([int(rng.integers(256))])]))}


def _judge_invalid(got, ref, inputs):
    for what in INVALID:
        outcome = got.get(what)
        if outcome == "ValueError":
            continue
        raise Failed(f"for {what}: " + ("no error was raised." if outcome is None else
                                        f"raised {outcome}, expected ValueError."))


@ex.part("invalid bytes raise ValueError", "Check before you index: the two zero bytes, a known type code, enough "
         "bytes for the header, and exactly as many value bytes as the header announces.",
         inputs=_invalid_inputs, uses=["parse_header", "read_idx_bytes"], judge=_judge_invalid)
def invalid(mod, inp):
    outcomes = {}
    for what, data in inp["cases"].items():
        try:
            get(mod, "read_idx_bytes")(data)
            outcomes[what] = None
        except NotImplementedError:
            raise
        except ValueError:
            outcomes[what] = "ValueError"
        except Exception as e:
            outcomes[what] = f"{type(e).__name__} ({e})"
    return outcomes


def _judge_labels(got, ref, inputs):
    a = got.get("labels")
    if not isinstance(a, np.ndarray) or a.shape != ref["labels"].shape or not np.array_equal(a, ref["labels"]):
        raise Failed("the 10,000 test labels differ from data_tools.mnist.load_mnist('test').")


@ex.part("reads the real MNIST test labels", HINT, inputs=lambda rng: {"data": _mnist_file("t10k-labels-idx1-ubyte.gz")},
         uses=["parse_header", "read_idx_bytes"], judge=_judge_labels)
def test_labels(mod, inp):
    return {"labels": get(mod, "read_idx_bytes")(inp["data"])}
