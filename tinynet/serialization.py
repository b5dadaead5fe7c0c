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
crash never leaves half a checkpoint and never damages an older one. Loading uses
``allow_pickle=False``: a file can hold only numbers and text, never code.
"""
import json
import os
import tempfile
import zipfile

import numpy  # host-side file I/O only

from . import backend
from .tensor import Tensor

__all__ = ["save", "load", "CheckpointError"]

_META = "__tinynet__"
_FORMAT = 1


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
def _decode(node, arrays, where):
    if isinstance(node, list):
        return [_decode(v, arrays, where) for v in node]
    if not isinstance(node, dict):
        return node
    if "__array__" in node:
        name = node["__array__"]
        if name not in arrays:
            raise CheckpointError(f"tinynet.load: {where!r} refers to an array {name!r} that the file does not hold")
        return Tensor(backend.to_backend(arrays[name], backend.get_backend()))
    if "__tuple__" in node:
        return tuple(_decode(v, arrays, where) for v in node["__tuple__"])
    if "__dict__" in node:
        return {k: _decode(v, arrays, where) for k, v in node["__dict__"]}
    raise CheckpointError(f"tinynet.load: {where!r} holds a malformed tree entry {sorted(node)}")


def load(path):
    """Read a file written by ``save``: the same tree back, arrays as Tensors on the default backend.

    A ``.npz`` written by plain ``numpy.savez`` loads as a flat ``{name: Tensor}`` dict.
    Raises ``FileNotFoundError`` if there is no such file and ``CheckpointError`` (a
    ``ValueError``) naming the file if it is not a readable ``.npz`` archive.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"tinynet.load: no such file: {path!r}")
    if not zipfile.is_zipfile(path):
        raise CheckpointError(f"tinynet.load: {path!r} is not a .npz archive (a tinynet checkpoint is a zip "
                              "of .npy arrays written by tinynet.save); is it the right file?")
    try:
        with numpy.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except Exception as e:  # a damaged archive: zipfile, zlib and format errors of every kind
        raise CheckpointError(f"tinynet.load: {path!r} is damaged or not a tinynet checkpoint "
                              f"({type(e).__name__}: {e})") from e
    if _META not in arrays:
        return {k: Tensor(backend.to_backend(a, backend.get_backend())) for k, a in arrays.items()}
    try:
        meta = json.loads(str(arrays.pop(_META)))
        tree = meta["tree"]
    except (ValueError, KeyError, TypeError) as e:
        raise CheckpointError(f"tinynet.load: {path!r} has an unreadable {_META} entry ({e})") from e
    return _decode(tree, arrays, path)
