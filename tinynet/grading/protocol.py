"""What the child sends the parent: one JSON object per line, on a pipe the parent owns.

    {"event": "started"}                          the child runs, before the student's file is read
    {"event": "loaded"}                           the student's file was imported
    {"event": "import_error", "error": E}         importing it raised
    {"event": "part", "index": i, "values": V}    part i ran; V = the values ``run`` returned
    {"event": "part", "index": i, "error": E}     part i raised (E: type, message, line, stub)
    {"event": "part", "index": i, "failed": S}    the harness found a problem (S: one sentence)
    {"event": "refused", "what": S}               the file tried something graded code may not do
    {"event": "own_implementation", "name": S, "index": i}   it called tinynet's own version
    {"event": "done"}

Values are JSON numbers, strings, lists and dicts; arrays travel as
``{"__array__": [dtype, shape, base64 bytes]}`` and anything else as ``{"__opaque__": type name}``.
The parent trusts none of it: ``decode`` checks every field, dtypes come from a short list, sizes
are bounded, and a malformed line is one more reason for a part to fail.
"""
import base64
import json
import math

import numpy as np

MAX_ELEMENTS = 1 << 18        # one array the child may send (262,144 values, 2 MB as float64)
MAX_LINE = 8 << 20            # one message, in bytes
MAX_MESSAGE = 32 << 20        # all the child may send, in bytes
MAX_DEPTH = 8
MAX_ITEMS = 10_000            # entries of one list or dict
MAX_TEXT = 2_000              # characters of one string
DTYPES = {"bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
          "float16", "float32", "float64"}


class Opaque:
    """Something the student's code returned that is neither a number, a string nor an array."""

    def __init__(self, type_name):
        self.type_name = type_name

    def __repr__(self):
        return f"<{self.type_name}>"


class ProtocolError(ValueError):
    """A line from the child that is not a well-formed message."""


# --- the child's side ----------------------------------------------------------------------------
def encode(v, depth=0):
    """A JSON-able form of ``v`` (Tensors and arrays as base64, other objects by their type name)."""
    from ..backend import is_array, to_numpy
    from ..tensor import Tensor
    if v is None or isinstance(v, (bool, str)):
        return v[:MAX_TEXT] if isinstance(v, str) else v
    if isinstance(v, int):
        return v if abs(v) < 2 ** 63 else float(v)
    if isinstance(v, float):
        return v
    if isinstance(v, Tensor):
        v = v.data
    if isinstance(v, np.generic):
        v = np.asarray(v)
    if is_array(v) or isinstance(v, np.ndarray):
        a = to_numpy(v) if is_array(v) else v
        if str(a.dtype) not in DTYPES:
            return {"__opaque__": f"array of dtype {a.dtype}"}
        if a.size > MAX_ELEMENTS:
            return {"__opaque__": f"array of {a.size} values (more than the grader takes)"}
        a = np.ascontiguousarray(a)
        return {"__array__": [str(a.dtype), list(a.shape), base64.b64encode(a.tobytes()).decode("ascii")]}
    if depth < MAX_DEPTH and isinstance(v, (list, tuple)) and len(v) <= MAX_ITEMS:
        return [encode(x, depth + 1) for x in v]
    if depth < MAX_DEPTH and isinstance(v, dict) and len(v) <= MAX_ITEMS and all(isinstance(k, str) for k in v):
        return {k[:MAX_TEXT]: encode(x, depth + 1) for k, x in v.items()}
    return {"__opaque__": type(v).__name__[:100]}


_ENCODER = json.JSONEncoder(allow_nan=True, separators=(",", ":"))   # bound now: patching json later changes nothing


def dumps(message):
    return _ENCODER.encode(message) + "\n"


# --- the parent's side ---------------------------------------------------------------------------
def decode(v, depth=0):
    """The value ``encode`` produced, checked field by field (raises ``ProtocolError``)."""
    if depth > MAX_DEPTH + 1:
        raise ProtocolError("nested too deeply")
    if v is None or isinstance(v, (bool, int)):
        return v
    if isinstance(v, float):
        return v
    if isinstance(v, str):
        return v[:MAX_TEXT]
    if isinstance(v, list):
        if len(v) > MAX_ITEMS:
            raise ProtocolError("a list that is too long")
        return [decode(x, depth + 1) for x in v]
    if not isinstance(v, dict):
        raise ProtocolError(f"unexpected {type(v).__name__}")
    if set(v) == {"__opaque__"}:
        return Opaque(str(v["__opaque__"])[:100])
    if set(v) == {"__array__"}:
        return _decode_array(v["__array__"])
    if len(v) > MAX_ITEMS:
        raise ProtocolError("a dict that is too long")
    return {str(k)[:MAX_TEXT]: decode(x, depth + 1) for k, x in v.items()}


def _decode_array(spec):
    if not (isinstance(spec, list) and len(spec) == 3 and spec[0] in DTYPES and isinstance(spec[1], list)
            and isinstance(spec[2], str) and len(spec[1]) <= 32
            and all(isinstance(d, int) and not isinstance(d, bool) and 0 <= d <= MAX_ELEMENTS for d in spec[1])):
        raise ProtocolError("a malformed array")
    dtype, shape = np.dtype(spec[0]), tuple(spec[1])
    size = math.prod(shape)
    if size > MAX_ELEMENTS or len(spec[2]) > 4 * (size * dtype.itemsize + 2) // 3 + 4:
        raise ProtocolError("an array larger than its shape")
    try:
        raw = base64.b64decode(spec[2], validate=True)
    except ValueError:
        raise ProtocolError("an array that is not base64") from None
    if len(raw) != size * dtype.itemsize:
        raise ProtocolError("an array whose bytes do not match its shape")
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()


def parse_line(line):
    """One message (a dict with a string ``event``) from one line of bytes."""
    try:
        msg = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ProtocolError("a line that is not JSON") from None
    if not isinstance(msg, dict) or not isinstance(msg.get("event"), str):
        raise ProtocolError("a message without an event")
    return msg
