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
    real_load = np.load
    monkeypatch.setattr(serialization.numpy, "load", lambda *a, **k: calls.append(k) or real_load(*a, **k))
    with pytest.raises(serialization.CheckpointError, match="evil.npz"):
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
