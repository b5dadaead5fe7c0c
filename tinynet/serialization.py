"""``tinynet.save`` / ``tinynet.load``: state dicts and checkpoints as ``.npz``, never pickle.

A (possibly nested) dict of arrays, Tensors, numbers and strings is flattened to one ``.npz``
archive whose keys join the nesting with "/" (``model/0.weight``, ``optimizer/state/0/exp_avg``).
Files are written to a temporary name and renamed, so a crash never leaves half a checkpoint;
loading uses ``allow_pickle=False``, so a file can hold only numbers and text, never code.
"""
import os
import tempfile

import numpy  # host-side file I/O only

from . import backend
from .tensor import Tensor

_SEP = "/"
_TYPE = "__type__"     # marks how a non-array leaf was stored


def _flatten(obj, prefix, out):
    if isinstance(obj, dict):
        if not obj:
            out[prefix + _SEP + _TYPE] = numpy.array("emptydict")
        for k, v in obj.items():
            k = str(k)
            if _SEP in k:
                raise ValueError(f"tinynet.save: key {k!r} contains {_SEP!r}, which separates nesting levels")
            _flatten(v, f"{prefix}{_SEP}{k}" if prefix else k, out)
    elif isinstance(obj, (list, tuple)):
        out[f"{prefix}{_SEP}{_TYPE}"] = numpy.array("tuple" if isinstance(obj, tuple) else "list")
        for i, v in enumerate(obj):
            _flatten(v, f"{prefix}{_SEP}{i}", out)
    elif isinstance(obj, Tensor):
        out[prefix] = obj.numpy()
    elif backend.is_array(obj):
        out[prefix] = backend.to_numpy(obj)
    elif isinstance(obj, (bool, int, float, str)) or obj is None:
        out[prefix] = numpy.array("__none__" if obj is None else obj)
        if isinstance(obj, bool) or obj is None:
            out[prefix + "." + _TYPE] = numpy.array("bool" if isinstance(obj, bool) else "none")
    else:
        raise TypeError(f"tinynet.save: cannot store {type(obj).__name__} at {prefix!r}: "
                        "only dicts, lists, Tensors, arrays, numbers, strings and None")


def save(obj, path):
    """Write ``obj`` (a state dict, or a dict of them) to ``path`` as ``.npz``, atomically."""
    flat = {}
    _flatten(obj, "", flat)
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            numpy.savez(f, **flat)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _leaf(a, kind):
    if kind == "bool":
        return bool(a)
    if kind == "none":
        return None
    if a.ndim == 0:
        return a.item()
    return Tensor(a)


def load(path):
    """Read a file written by ``save``: arrays come back as Tensors (on the default backend)."""
    try:
        with numpy.load(os.fspath(path), allow_pickle=False) as z:
            flat = {k: z[k] for k in z.files}
    except (OSError, ValueError) as e:
        raise ValueError(f"tinynet.load: cannot read {os.fspath(path)!r} as a tinynet .npz checkpoint ({e})") from e
    root = {}
    for key in sorted(flat, key=lambda k: k.count(_SEP)):
        if key.endswith(_TYPE):
            continue
        kind = flat.get(key + "." + _TYPE)
        node, parts = root, key.split(_SEP)
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = _leaf(flat[key], None if kind is None else str(kind))
    for key in flat:                       # empty dicts and lists/tuples
        if key.endswith(_SEP + _TYPE):
            node, parts = root, key.split(_SEP)[:-1]
            for p in parts[:-1]:
                node = node.setdefault(p, {})
            node.setdefault(parts[-1], {})
    return _restore_sequences(root, flat, "")


def _restore_sequences(node, flat, prefix):
    if not isinstance(node, dict):
        return node
    for k in list(node):
        node[k] = _restore_sequences(node[k], flat, f"{prefix}{_SEP}{k}" if prefix else k)
    kind = flat.get(f"{prefix}{_SEP}{_TYPE}") if prefix else None
    if kind is not None and str(kind) in ("list", "tuple"):
        items = [node[str(i)] for i in range(len(node))]
        return items if str(kind) == "list" else tuple(items)
    return node
