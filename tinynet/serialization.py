"""``tinynet.save`` / ``tinynet.load``: state dicts and checkpoints as ``.npz``, never pickle.

What is saved is a tree of dicts, lists and tuples whose leaves are Tensors, arrays, numbers,
strings, booleans or None — a model's ``state_dict()``, or a checkpoint such as
``{"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 3}``.

The ``.npz`` archive holds one ``.npy`` entry per array, named by its path in the tree
(``model/0.weight``, ``optimizer/state/0/exp_avg``), so ``numpy.load`` shows plain names, plus
one text entry ``__tinynet__``: the tree itself as JSON, with each array replaced by
``{"__array__": name}``. Dicts are stored as ``{"__dict__": [[key, value], ...]}`` (keys keep
their type: the optimizer's parameter indices stay ints) and tuples as ``{"__tuple__": [...]}``.

Files are written to a temporary file in the same folder and renamed over the target, so a
crash never leaves half a checkpoint and never damages an older one.

Loading trusts nothing in the file (see ``load``): it never unpickles, and it reads the zip
directory and every ``.npy`` header before inflating any array, so a small file that claims
gigabytes is refused from its headers, with bounded memory, in milliseconds.
"""
import json
import math
import os
import tempfile
import zipfile
from collections import namedtuple

import numpy  # host-side file I/O only
import numpy.lib.format as npy

from . import backend
from .tensor import Tensor

__all__ = ["save", "load", "CheckpointError", "StoredArray", "MAX_BYTES", "MAX_MEMBERS"]

_META = "__tinynet__"
_FORMAT = 1

MAX_BYTES = 1 << 30      # what ``load`` inflates at most by default, all arrays together: 1 GiB
MAX_MEMBERS = 10_000     # arrays in one file (a model and its optimizer state have tens)
MAX_DEPTH = 100          # nesting of the stored tree (a checkpoint nests 4 levels)


class CheckpointError(ValueError):
    """A file is not a readable tinynet checkpoint (not an .npz, damaged, or malformed)."""


# --- saving ------------------------------------------------------------------------------------
def _encode(obj, path, arrays):
    """The JSON-able form of ``obj``; arrays are moved to the host and collected in ``arrays``."""
    if isinstance(obj, Tensor) or backend.is_array(obj):
        a = obj.numpy() if isinstance(obj, Tensor) else backend.to_numpy(obj)
        if a.dtype.kind not in "biufc":
            raise TypeError(f"tinynet.save: the array at {path or '<root>'!r} has dtype {a.dtype}; "
                            "only numeric and boolean arrays can be stored without pickle")
        name, n = path or "array", 1
        while name in arrays or name == _META:
            name, n = f"{path or 'array'}#{n}", n + 1
        arrays[name] = a
        return {"__array__": name}
    if isinstance(obj, numpy.generic):          # a NumPy scalar, e.g. from loss.item() arithmetic
        obj = obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, dict):
        items = []
        for k, v in obj.items():
            if not isinstance(k, (str, int)) or isinstance(k, bool):
                raise TypeError(f"tinynet.save: dict keys must be str or int, got {k!r} at {path or '<root>'!r}")
            items.append([k, _encode(v, f"{path}/{k}" if path else str(k), arrays)])
        return {"__dict__": items}
    if isinstance(obj, (list, tuple)):
        items = [_encode(v, f"{path}/{i}" if path else str(i), arrays) for i, v in enumerate(obj)]
        return {"__tuple__": items} if isinstance(obj, tuple) else items
    raise TypeError(f"tinynet.save: cannot store a {type(obj).__name__} at {path or '<root>'!r}: only dicts, "
                    "lists, tuples, Tensors, arrays, numbers, strings, booleans and None")


def save(obj, path):
    """Write ``obj`` (a state dict, or a checkpoint dict of them) to ``path`` as ``.npz``, atomically.

    The file is written under a temporary name in the same folder, flushed to disk, then
    renamed to ``path``: a failure at any moment leaves either the old file or the new one.
    """
    arrays = {}
    meta = {"format": _FORMAT, "tree": _encode(obj, "", arrays)}
    arrays[_META] = numpy.array(json.dumps(meta))
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-" + os.path.basename(path) + "-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            numpy.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)                      # mkstemp makes 0600 files: give the usual mode
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


# --- loading -----------------------------------------------------------------------------------
class StoredArray(namedtuple("StoredArray", ["name", "shape", "dtype"])):
    """An array as its ``.npy`` header in the file describes it, before it is read:
    ``nbytes`` = shape[0] · shape[1] · … · dtype.itemsize (what reading it will allocate)."""

    @property
    def nbytes(self):
        return math.prod(self.shape) * self.dtype.itemsize


def load(path, check=None, max_bytes=MAX_BYTES):
    """Read a file written by ``save``: the same tree back, arrays as Tensors on the default backend.

    Nothing is inflated before everything that can be checked has been, from the zip directory
    and the ``.npy`` headers: at most ``MAX_MEMBERS`` members, each a ``.npy`` of numbers whose
    header (shape × itemsize) agrees with the size the directory gives, all of them together at
    most ``max_bytes`` (None: no limit), and a well-formed tree that refers to each of them.
    Then ``check(tree)``, if given, sees the tree with each array as a ``StoredArray`` (name,
    shape, dtype) and may raise to refuse the file — ``train.load_checkpoint`` checks a
    checkpoint against the model it must fit this way. Only then are the arrays read.

    A ``.npz`` written by plain ``numpy.savez`` loads as a flat ``{name: Tensor}`` dict.
    Raises ``FileNotFoundError`` if there is no such file and ``CheckpointError`` (a
    ``ValueError``) naming the file and the problem for anything else.
    """
    path = _archive_path(path)
    archive = _guarded(path, zipfile.ZipFile, path)
    with archive:
        members = _guarded(path, _read_directory, archive, path, max_bytes)
        tree = _guarded(path, _read_tree, archive, members, path)
        if check is not None:
            check(tree)
        arrays = _guarded(path, _read_arrays, archive, members)
    return _to_tensors(tree, arrays)


def _archive_path(path):
    """``path`` as a str, once it is known to be a zip file (else FileNotFoundError / CheckpointError)."""
    path = os.fspath(path)
    if os.path.isdir(path):
        inside = os.path.join(path, "checkpoint.npz")
        hint = f"; did you mean {inside}?" if os.path.isfile(inside) else ""
        raise CheckpointError(f"tinynet.load: {path!r} is a folder, not a checkpoint file{hint}")
    if not os.path.exists(path):
        raise FileNotFoundError(f"tinynet.load: no such file: {path!r}")
    if not os.path.isfile(path):          # a pipe would block, /dev/zero would never end
        raise CheckpointError(f"tinynet.load: {path!r} is not a regular file (a device, a pipe or a socket)")
    if not _guarded(path, zipfile.is_zipfile, path):
        raise CheckpointError(f"tinynet.load: {path!r} is not a .npz archive (a tinynet checkpoint is a zip "
                              "of .npy arrays written by tinynet.save); is it the right file?")
    return path


def _guarded(path, fn, *args):
    """``fn(*args)``, any error of a damaged file (zipfile, zlib, the .npy format, JSON, an
    unreadable disk) turned into a CheckpointError naming ``path``."""
    try:
        return fn(*args)
    except CheckpointError:
        raise
    except Exception as e:  # zipfile, zlib, struct, numpy and OS errors of every kind
        raise CheckpointError(f"tinynet.load: {path!r} is damaged or not a tinynet checkpoint "
                              f"({type(e).__name__}: {e})") from e


def _read_directory(archive, path, max_bytes):
    """{array name: (ZipInfo, StoredArray)} from the zip directory and the .npy headers alone."""
    def refuse(problem):
        return CheckpointError(f"tinynet.load: {path!r} {problem}")

    infos = archive.infolist()
    if len(infos) > MAX_MEMBERS:
        raise refuse(f"holds {len(infos):,} members, more than the {MAX_MEMBERS:,} a checkpoint may have")
    total = sum(info.file_size for info in infos)
    if max_bytes is not None and total > max_bytes:
        raise refuse(f"would inflate to {total:,} bytes, more than the limit of {max_bytes:,} "
                     "(tinynet.load(..., max_bytes=...) raises it)")
    members = {}
    for info in infos:
        if not info.filename.endswith(".npy") or info.is_dir():
            raise refuse(f"holds a member {info.filename!r} that is not a .npy array")
        if info.flag_bits & 0x1:
            raise refuse(f"holds an encrypted member {info.filename!r}")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise refuse(f"holds a member {info.filename!r} compressed by method {info.compress_type}, "
                         "not stored or deflated as numpy writes them")
        name = info.filename[:-len(".npy")]
        if name in members:
            raise refuse(f"holds two members named {info.filename!r}")
        with archive.open(info) as f:
            members[name] = (info, _read_header(f, name, info.file_size, refuse))
    return members


def _read_header(f, name, size, refuse):
    """The StoredArray a member's .npy header declares, checked against the member's ``size``."""
    version = npy.read_magic(f)
    if version not in ((1, 0), (2, 0)):
        raise refuse(f"holds {name!r} in .npy format version {version}, not 1.0 or 2.0")
    read = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
    shape, _, dtype = read(f)
    if dtype.hasobject or dtype.fields is not None or dtype.kind not in ("biufc" + ("U" if name == _META else "")):
        raise refuse(f"holds {name!r} of dtype {dtype}: only arrays of numbers or booleans can be loaded")
    stored = StoredArray(name, tuple(shape), dtype)
    if f.tell() + stored.nbytes != size:
        raise refuse(f"holds {name!r} whose header declares shape {stored.shape} {dtype} = {stored.nbytes:,} "
                     f"bytes, but the member has {size - f.tell():,} bytes of data")
    return stored


def _read_tree(archive, members, path):
    """The stored tree with each array a StoredArray (a flat dict for plain numpy .npz files)."""
    if _META not in members:
        return {name: stored for name, (_, stored) in members.items()}
    info, stored = members[_META]
    if stored.dtype.kind != "U" or stored.shape != ():
        raise CheckpointError(f"tinynet.load: {path!r} has a {_META} entry of dtype {stored.dtype} and shape "
                              f"{stored.shape}, not one string")
    with archive.open(info) as f:
        text = str(npy.read_array(f, allow_pickle=False))
    try:
        meta = json.loads(text)
    except (ValueError, RecursionError) as e:
        raise CheckpointError(f"tinynet.load: {path!r} has an unreadable {_META} entry ({e})") from None
    if not isinstance(meta, dict) or "tree" not in meta:
        raise CheckpointError(f"tinynet.load: {path!r} has a {_META} entry without a tree")
    used = set()
    tree = _decode(meta["tree"], members, path, used, depth=0)
    unused = sorted(set(members) - used - {_META})
    if unused:
        raise CheckpointError(f"tinynet.load: {path!r} holds arrays its tree does not refer to: "
                              + ", ".join(map(repr, unused[:5])) + (", ..." if len(unused) > 5 else ""))
    return tree


def _decode(node, members, path, used, depth):
    """One node of the JSON tree, checked: lists, {"__array__": name}, {"__tuple__": [...]},
    {"__dict__": [[key, value], ...]} with str or int keys, and plain JSON values."""
    def malformed(problem):
        return CheckpointError(f"tinynet.load: {path!r} has a malformed tree: {problem}")

    if depth > MAX_DEPTH:
        raise malformed(f"nested more than {MAX_DEPTH} levels deep")
    if isinstance(node, list):
        return [_decode(v, members, path, used, depth + 1) for v in node]
    if not isinstance(node, dict):
        return node                                 # None, bool, int, float or str
    if len(node) != 1:
        raise malformed(f"an entry with keys {sorted(map(str, node))}")
    (kind, value), = node.items()
    if kind == "__array__":
        if not isinstance(value, str) or value not in members or value == _META:
            raise malformed(f"a reference to an array {value!r} that the file does not hold")
        used.add(value)
        return members[value][1]
    if kind == "__tuple__" and isinstance(value, list):
        return tuple(_decode(v, members, path, used, depth + 1) for v in value)
    if kind == "__dict__" and isinstance(value, list):
        out = {}
        for item in value:
            if not (isinstance(item, list) and len(item) == 2):
                raise malformed(f"a dict item {str(item)[:60]} that is not a [key, value] pair")
            key = item[0]
            if not isinstance(key, (str, int)) or isinstance(key, bool):
                raise malformed(f"a dict key {str(key)[:60]} that is not a string or an integer")
            out[key] = _decode(item[1], members, path, used, depth + 1)
        return out
    raise malformed(f"an entry {kind!r} holding a {type(value).__name__}")


def _read_arrays(archive, members):
    """Inflate every array, now that its header and size have been checked; the CRC is checked too."""
    arrays = {}
    for name, (info, _) in members.items():
        if name == _META:
            continue
        with archive.open(info) as f:
            arrays[name] = npy.read_array(f, allow_pickle=False)
            if f.read(1):
                raise ValueError(f"{info.filename} goes on after its data")
    return arrays


def _to_tensors(node, arrays):
    """The tree with each StoredArray replaced by its array, as a Tensor on the default backend."""
    if isinstance(node, StoredArray):
        return Tensor(backend.to_backend(arrays[node.name], backend.get_backend()))
    if isinstance(node, dict):
        return {k: _to_tensors(v, arrays) for k, v in node.items()}
    if isinstance(node, (list, tuple)):
        return type(node)(_to_tensors(v, arrays) for v in node)
    return node
