"""tinynet.save / tinynet.load: .npz without pickle, atomic writes, exact round trips of nested
checkpoints, and clear errors for files that are not checkpoints."""
import os
import zipfile

import numpy as np
import pytest

import tinynet as tn
from tinynet import nn, optim, serialization
from strategies import host


def checkpoint():
    tn.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 3 * 3, 4))
    opt = optim.Adam(model.parameters(), lr=1e-3)
    model(tn.randn(3, 1, 5, 5)).sum().backward()
    opt.step()
    return model, opt, {
        "model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 7, "loss": 0.125,
        "note": "fine-tuned on Fashion-MNIST, ünïcode ok", "done": False, "best": None, "ratio": float("inf"),
        "history": [1.5, 0.75, 0.5], "shape": (28, 28), "empty": {}, "none_yet": [], "pair": (),
        "labels": np.arange(10, dtype=np.uint8), "mask": np.array([True, False]), "big": 2 ** 40,
        "scalar": tn.tensor(3.0), "np_scalar": np.float64(0.5),
        "nested": {"a": {"b": {"c": [tn.ones(2), {"d": "deep"}]}}},
    }


def assert_same(a, b, where="<root>"):
    """Equal trees: same container types, same keys, equal arrays with the same dtype and shape."""
    if isinstance(a, tn.Tensor):
        assert isinstance(b, tn.Tensor), where
        assert a.dtype == b.dtype and a.shape == b.shape, where
        np.testing.assert_array_equal(host(a), host(b), err_msg=where)
    elif isinstance(a, np.ndarray):
        assert isinstance(b, tn.Tensor) and b.dtype == a.dtype, where      # arrays come back as Tensors
        np.testing.assert_array_equal(a, host(b), err_msg=where)
    elif isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b), where
        for k in a:
            assert_same(a[k], b[k], f"{where}/{k}")
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}/{i}")
    else:
        assert type(a) is type(b) or isinstance(a, np.generic), (where, a, b)
        assert a == b, where


def test_nested_checkpoint_round_trip(tmp_path):
    _, _, ckpt = checkpoint()
    path = tmp_path / "ckpt.npz"
    tn.save(ckpt, path)
    back = tn.load(path)
    ckpt["np_scalar"] = 0.5                          # NumPy scalars are stored as Python numbers
    assert_same(ckpt, back)
    assert list(back["optimizer"]["state"]) == [0, 1, 2, 3, 4, 5]     # int keys stay ints
    assert back["optimizer"]["param_groups"][0]["betas"] == (0.9, 0.999)
    assert back["model"]["1.num_batches_tracked"].shape == ()                # 0-d tensors stay tensors


def test_checkpoint_resumes_a_model_and_optimizer(tmp_path):
    model, opt, ckpt = checkpoint()
    tn.save({"model": model.state_dict(), "optimizer": opt.state_dict()}, tmp_path / "c.npz")
    back = tn.load(tmp_path / "c.npz")
    model2, opt2, _ = checkpoint()
    model2.load_state_dict(back["model"])
    opt2.load_state_dict(back["optimizer"])
    assert opt2.state[next(model2.parameters())]["step"] == 1


def test_top_level_values_round_trip(tmp_path):
    path = tmp_path / "x.npz"
    for obj in (tn.randn(3, 2), [1, "two", 3.0], (tn.zeros(1), None), 42, "text"):
        tn.save(obj, path)
        assert_same(obj, tn.load(path))


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "int32", "uint8", "bool", "float16"])
def test_dtypes_are_kept(tmp_path, dtype):
    a = (np.arange(6).reshape(2, 3) % 2).astype(dtype)
    tn.save({"a": a}, tmp_path / "d.npz")
    back = tn.load(tmp_path / "d.npz")["a"]
    assert back.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(host(back), a)


def test_file_is_a_plain_npz_with_readable_names(tmp_path):
    model, opt, _ = checkpoint()
    path = tmp_path / "m.npz"
    tn.save({"model": model.state_dict()}, path)
    with np.load(path, allow_pickle=False) as z:               # readable without pickle, by NumPy alone
        assert "model/0.weight" in z.files and "model/4.bias" in z.files
        np.testing.assert_array_equal(z["model/0.weight"], host(model[0].weight))
    assert zipfile.is_zipfile(path)


def test_a_plain_numpy_npz_loads_as_a_flat_dict(tmp_path):
    np.savez(tmp_path / "plain.npz", **{"0.weight": np.ones((2, 3)), "0.bias": np.zeros(2)})
    back = tn.load(tmp_path / "plain.npz")
    assert sorted(back) == ["0.bias", "0.weight"]
    nn.Sequential(nn.Linear(3, 2)).load_state_dict(back)


def test_load_refuses_pickle(tmp_path, monkeypatch):
    """A .npz holding an object array (which only pickle can read) is refused, not unpickled."""
    path = tmp_path / "evil.npz"
    np.savez(path, x=np.array([{"a": 1}], dtype=object))
    calls = []
    real_read = serialization.npy.read_array
    monkeypatch.setattr(serialization.npy, "read_array", lambda *a, **k: calls.append(k) or real_read(*a, **k))
    with pytest.raises(serialization.CheckpointError, match="evil.npz.*dtype object"):
        tn.load(path)
    assert calls == []                          # refused from its header: never read at all
    tn.save({"w": np.ones(3)}, path)
    tn.load(path)
    assert calls and all(k.get("allow_pickle") is False for k in calls)


def test_save_refuses_what_it_cannot_store_without_pickle(tmp_path):
    with pytest.raises(TypeError, match=r"'a/b'.*object"):
        tn.save({"a": {"b": np.array([None, 1], dtype=object)}}, tmp_path / "x.npz")
    with pytest.raises(TypeError, match=r"set at 'opt'"):
        tn.save({"opt": {1, 2}}, tmp_path / "x.npz")
    with pytest.raises(TypeError, match="keys must be str or int"):
        tn.save({(1, 2): 3}, tmp_path / "x.npz")
    assert not os.listdir(tmp_path)                              # nothing written


def test_save_is_atomic_when_writing_fails(tmp_path, monkeypatch):
    """A crash in the middle of writing leaves the old checkpoint intact and no temporary file."""
    path = tmp_path / "model.npz"
    tn.save({"w": np.ones(3)}, path)
    old = path.read_bytes()

    def failing_savez(f, **arrays):
        f.write(b"PK\x03\x04 half a zip")                       # some bytes reach the disk, then:
        raise OSError("disk full")
    monkeypatch.setattr(serialization.numpy, "savez", failing_savez)
    with pytest.raises(OSError, match="disk full"):
        tn.save({"w": np.zeros(3)}, path)
    assert path.read_bytes() == old
    assert os.listdir(tmp_path) == ["model.npz"]
    np.testing.assert_array_equal(host(tn.load(path)["w"]), [1, 1, 1])

    with pytest.raises(OSError):
        tn.save({"w": np.zeros(3)}, tmp_path / "new.npz")        # no old file: none is left at all
    assert os.listdir(tmp_path) == ["model.npz"]


def test_save_is_atomic_when_interrupted(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    tn.save({"w": np.ones(3)}, path)
    monkeypatch.setattr(serialization.os, "replace", lambda *a: (_ for _ in ()).throw(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        tn.save({"w": np.zeros(3)}, path)
    assert os.listdir(tmp_path) == ["model.npz"]
    np.testing.assert_array_equal(host(tn.load(path)["w"]), [1, 1, 1])


def test_saved_file_gets_the_usual_permissions(tmp_path):
    tn.save({"a": 1}, tmp_path / "p.npz")
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "p.npz").stat().st_mode & 0o777 == 0o666 & ~umask


def test_save_creates_the_folder_and_accepts_str_paths(tmp_path):
    path = str(tmp_path / "runs" / "exp1" / "last.npz")
    tn.save({"a": 1}, path)
    assert tn.load(path) == {"a": 1}


@pytest.mark.parametrize("content", [b"", b"not a checkpoint\n", b"PK\x03\x04" + b"\0" * 40])
def test_corrupt_files_give_a_clear_error(tmp_path, content):
    path = tmp_path / "bad.npz"
    path.write_bytes(content)
    with pytest.raises(serialization.CheckpointError, match="bad.npz") as e:
        tn.load(path)
    assert isinstance(e.value, ValueError)


def test_truncated_and_damaged_archives_give_a_clear_error(tmp_path):
    good = tmp_path / "good.npz"
    tn.save({"w": np.arange(1000.0)}, good)
    data = good.read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(serialization.CheckpointError, match="cut.npz"):
        tn.load(tmp_path / "cut.npz")
    i = data.index(b"\x93NUMPY") + 200                         # flip bytes inside the array data
    damaged = data[:i] + bytes(b ^ 0xFF for b in data[i:i + 16]) + data[i + 16:]
    (tmp_path / "flip.npz").write_bytes(damaged)
    with pytest.raises(serialization.CheckpointError, match="flip.npz"):
        tn.load(tmp_path / "flip.npz")


def test_npy_and_missing_files(tmp_path):
    np.save(tmp_path / "a.npy", np.ones(3))
    with pytest.raises(serialization.CheckpointError, match="not a .npz archive"):
        tn.load(tmp_path / "a.npy")
    with pytest.raises(FileNotFoundError, match="nope.npz"):
        tn.load(tmp_path / "nope.npz")


def test_load_puts_tensors_on_the_default_backend(tmp_path, backend):
    x = tn.randn(2, 3)                                           # made on the backend under test
    tn.save({"x": x, "n": 3}, tmp_path / "b.npz")
    back = tn.load(tmp_path / "b.npz")
    assert back["x"].backend == backend and back["n"] == 3
    np.testing.assert_array_equal(host(back["x"]), host(x))


# --- hostile archives: refused from the zip directory and the .npy headers, before inflating ---

def npy_header(shape, dtype="<f4"):
    """The bytes of a .npy 1.0 header declaring ``shape`` and ``dtype`` (what np.save writes first)."""
    import io
    f = io.BytesIO()
    np.lib.format.write_array_header_1_0(f, {"descr": dtype, "fortran_order": False, "shape": tuple(shape)})
    return f.getvalue()


def zip_of(path, members, compression=zipfile.ZIP_STORED):
    """A zip at ``path`` with ``members`` {name: bytes}, written as given (duplicates allowed as a list)."""
    with zipfile.ZipFile(path, "w", compression) as z:
        for name, data in (members.items() if isinstance(members, dict) else members):
            z.writestr(name, data)
    return path


def tinynet_meta(tree):
    """The ``__tinynet__.npy`` member tinynet.save writes for ``tree`` (a JSON-able tree)."""
    import io, json
    f = io.BytesIO()
    np.save(f, np.array(json.dumps({"format": 1, "tree": tree})))
    return f.getvalue()


def test_an_array_that_inflates_to_gigabytes_is_refused_fast_from_its_header(tmp_path):
    """8 MB of zeros deflate to 8 KB; the header claims 3 GiB: refused without allocating them."""
    import resource, time
    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("w.npy", npy_header((3 * 2 ** 30 // 4,)) + bytes(8 * 2 ** 20))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    with pytest.raises(serialization.CheckpointError, match="bomb.npz.*'w'.*3,221,225,472 bytes"):
        tn.load(path)
    assert time.perf_counter() - start < 0.5
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100_000     # KiB: < 100 MB more


def test_a_member_whose_declared_size_is_huge_is_refused_before_reading(tmp_path):
    path = zip_of(tmp_path / "big.npz", {"w.npy": npy_header((4,)) + bytes(16)})
    data = bytearray(path.read_bytes())
    cd = data.rindex(b"PK\x01\x02")                      # central directory: uncompressed size at +24
    data[cd + 24:cd + 28] = (2 ** 32 - 1).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    with pytest.raises(serialization.CheckpointError, match="big.npz.*4,294,967,295 bytes.*limit"):
        tn.load(path)


def test_max_bytes_limits_what_load_inflates(tmp_path):
    tn.save({"w": np.zeros(1000)}, tmp_path / "w.npz")
    with pytest.raises(serialization.CheckpointError, match="more than the limit of 4,000"):
        tn.load(tmp_path / "w.npz", max_bytes=4000)
    assert tn.load(tmp_path / "w.npz", max_bytes=None)["w"].shape == (1000,)


def test_a_deflate_bomb_that_lies_about_its_size_is_cut_at_the_declared_size(tmp_path):
    """A member whose directory says 16 bytes but whose data inflates to 64 MB: never inflated past 16."""
    path = tmp_path / "liar.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("w.npy", npy_header((4,)) + bytes(64 * 2 ** 20))
    data = bytearray(path.read_bytes())
    for sig, at in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):    # local header and directory sizes
        i = data.index(sig)
        data[i + at:i + at + 4] = (len(npy_header((4,))) + 16).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    with pytest.raises(serialization.CheckpointError, match="liar.npz"):
        tn.load(path)


def test_too_many_members_are_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(serialization, "MAX_MEMBERS", 5)
    path = zip_of(tmp_path / "many.npz", {f"a{i}.npy": npy_header((1,)) + bytes(4) for i in range(6)})
    with pytest.raises(serialization.CheckpointError, match="many.npz.*6 members, more than the 5"):
        tn.load(path)


@pytest.mark.parametrize("members, message", [
    ({"w.npy": npy_header((4,)) + bytes(15)}, r"declares shape \(4,\).*16 bytes.*15 bytes"),
    ({"w.npy": npy_header((4,)) + bytes(17)}, r"declares shape \(4,\).*17 bytes"),
    ({"w.npy": npy_header((2,), "|O") + bytes(16)}, "dtype object"),
    ({"w.npy": npy_header((2,), [("a", "<f4")]) + bytes(8)}, "only arrays of numbers"),
    ({"w.npy": npy_header((2,), "<U3") + bytes(24)}, "dtype <U3"),
    ({"w.npy": b"\x93NUMPY\x09\x00" + bytes(30)}, r"format version \(9, 0\)"),
    ({"w.npy": b"not an npy at all"}, "damaged"),
    ({"inner.npz": b"PK\x03\x04"}, "'inner.npz' that is not a .npy"),
    ({"model/": b""}, "'model/' that is not a .npy"),
    ([("w.npy", npy_header((1,)) + bytes(4)), ("w.npy", npy_header((1,)) + bytes(4))], "two members named 'w.npy'"),
])
def test_malformed_members_are_refused(tmp_path, members, message):
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")              # zipfile warns about the duplicate name
        path = zip_of(tmp_path / "bad.npz", members)
    with pytest.raises(serialization.CheckpointError, match="bad.npz.*" + message):
        tn.load(path)


def test_nested_member_names_load_as_flat_names(tmp_path):
    """numpy.savez names may hold slashes; they are names, never paths on disk."""
    zip_of(tmp_path / "n.npz", {"a/b/../c.npy": npy_header((1,)) + bytes(4)})
    assert list(tn.load(tmp_path / "n.npz")) == ["a/b/../c"]
    assert not (tmp_path / "a").exists()


W = {"__array__": "w"}
@pytest.mark.parametrize("tree, message", [
    ({"__dict__": [[[1, 2], W]]}, "dict key .* not a string or an integer"),
    ({"__dict__": [[True, W]]}, "dict key True"),
    ({"__dict__": [[{"k": 1}, W]]}, "dict key"),
    ({"__dict__": [["model"]]}, "not a .key, value. pair"),
    ({"__dict__": 5}, "'__dict__' holding a int"),
    ({"__tuple__": "abc"}, "'__tuple__' holding a str"),
    ({"__array__": ["w"]}, "reference to an array"),
    ({"__array__": "nope"}, "reference to an array 'nope'"),
    ({"__array__": "w", "extra": 1}, "keys"),
    ({"__dict__": [["a", {"__dict__": [["b", W]]}]], "__tuple__": []}, "keys"),
    ([{"__dict__": [["w", W]]}, {"zzz": 1}], "'zzz'"),
])
def test_malformed_trees_are_refused(tmp_path, tree, message):
    path = zip_of(tmp_path / "t.npz", {"w.npy": npy_header((1,)) + bytes(4), "__tinynet__.npy": tinynet_meta(tree)})
    with pytest.raises(serialization.CheckpointError, match="t.npz.*malformed tree.*" + message):
        tn.load(path)


def test_deep_or_unreadable_trees_and_unreferenced_arrays(tmp_path):
    deep = W
    for _ in range(200):
        deep = [deep]
    members = {"w.npy": npy_header((1,)) + bytes(4)}
    zip_of(tmp_path / "deep.npz", {**members, "__tinynet__.npy": tinynet_meta(deep)})
    with pytest.raises(serialization.CheckpointError, match="deep.npz.*more than 100 levels"):
        tn.load(tmp_path / "deep.npz")
    import io
    f = io.BytesIO()
    np.save(f, np.array("[" * 100_000 + "]" * 100_000))
    zip_of(tmp_path / "json.npz", {**members, "__tinynet__.npy": f.getvalue()})
    with pytest.raises(serialization.CheckpointError, match="json.npz.*unreadable __tinynet__"):
        tn.load(tmp_path / "json.npz")
    zip_of(tmp_path / "extra.npz", {**members, "x.npy": npy_header((1,)) + bytes(4),
                                    "__tinynet__.npy": tinynet_meta(W)})
    with pytest.raises(serialization.CheckpointError, match="extra.npz.*does not refer to: 'x'"):
        tn.load(tmp_path / "extra.npz")


def test_check_sees_shapes_before_anything_is_inflated(tmp_path):
    tn.save({"model": {"w": np.ones((2, 3), np.float32)}, "epoch": 1}, tmp_path / "c.npz")
    seen = []

    def check(tree):
        seen.append(tree)
        raise serialization.CheckpointError("refused")

    with pytest.raises(serialization.CheckpointError, match="refused"):
        tn.load(tmp_path / "c.npz", check=check)
    w = seen[0]["model"]["w"]
    assert isinstance(w, serialization.StoredArray) and w.shape == (2, 3) and w.dtype == np.float32
    assert w.nbytes == 24 and seen[0]["epoch"] == 1


def test_a_folder_is_named_as_one(tmp_path):
    tn.save({"w": np.ones(1)}, tmp_path / "run" / "checkpoint.npz")
    with pytest.raises(serialization.CheckpointError, match=r"is a folder.*did you mean .*run/checkpoint.npz\?"):
        tn.load(tmp_path / "run")
