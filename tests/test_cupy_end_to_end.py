"""The whole product with ``--backend cupy``, where ``import cupy`` gives the CPU stand-in
(``fake_cupy_as_cupy``, tests/conftest.py): train every model (``--augment``, ``--schedule cosine``,
``--resume``), eval, predict, finetune (every method), checkpoints moved between backends, gradcheck.

All of tinynet's random draws but dropout's are made on the host, so a run on the stand-in must give
the numbers the same run gives on NumPy: that is the check, not merely "it did not crash". (Dropout
masks are made on the device from seeds drawn on the host: repeatable, but not NumPy's.)
"""
import json

import numpy as np
import pytest

import tinynet as tn
from cli_run import run
from tinynet import backend, cli, models, train

# One worker: CuPy trains on one, and N NumPy workers would add each batch's gradient in another order.
SMALL = ["--epochs", "1", "--limit", "96", "--batch-size", "32", "--seed", "0", "--workers", "1"]
FT = ["--task", "digits5-9", "--labels-per-class", "4", "--test-limit", "40", "--batch-size", "10", "--no-plots"]


def history(out):
    with open(out / "metrics.json") as f:
        h = json.load(f)["epochs"]
    return [{k: r[k] for k in ("train_loss", "train_accuracy", "test_loss", "test_accuracy")} for r in h]


def same_numbers(a, b):
    assert len(a) == len(b)
    for ra, rb in zip(a, b):
        for k in ra:
            assert ra[k] == pytest.approx(rb[k], rel=1e-5, abs=1e-6), k


@pytest.mark.parametrize("model", ["mlp", "lenet", "cnn_dropout", "keras_cnn", "cnn"])
def test_train_every_model_on_cupy_gives_the_numpy_numbers(fake_cupy_as_cupy, tmp_path, capsys, model):
    extra = ["--augment", "--schedule", "cosine"] if model in ("lenet", "cnn_dropout") else []
    plots = ["--no-plots"]
    for name in ("numpy", "cupy"):
        code, out, err = run(capsys, "train", "--model", model, *SMALL, *extra, *plots, "--backend", name,
                             "--out", tmp_path / name)
        assert code == 0, err
    assert "backend cupy" in out
    if model == "cnn_dropout":       # dropout masks are drawn on the device: other numbers, as repeatable
        code, out, err = run(capsys, "train", "--model", model, *SMALL, *extra, *plots, "--backend", "cupy",
                             "--out", tmp_path / "again")
        assert code == 0, err
        same_numbers(history(tmp_path / "cupy"), history(tmp_path / "again"))
        assert history(tmp_path / "cupy") != history(tmp_path / "numpy")
    else:
        same_numbers(history(tmp_path / "numpy"), history(tmp_path / "cupy"))
    with np.load(tmp_path / "cupy" / "checkpoint.npz", allow_pickle=False) as z:   # host arrays, no pickles
        assert len(z.files) > 0


def test_resume_on_cupy_and_across_backends(fake_cupy_as_cupy, tmp_path, capsys):
    args = ["--model", "lenet", "--limit", "96", "--batch-size", "32", "--seed", "0", "--no-plots", "--workers", "1"]
    assert run(capsys, "train", *args, "--epochs", "2", "--out", tmp_path / "straight")[0] == 0
    assert run(capsys, "train", *args, "--epochs", "1", "--backend", "cupy", "--out", tmp_path / "r")[0] == 0
    code, out, err = run(capsys, "train", *args, "--epochs", "2", "--backend", "numpy",       # written on cupy,
                         "--resume", tmp_path / "r" / "checkpoint.npz")                     # resumed on numpy
    assert code == 0, err
    same_numbers(history(tmp_path / "straight"), history(tmp_path / "r"))
    assert run(capsys, "train", *args, "--epochs", "3", "--backend", "cupy",                # and back on cupy
               "--resume", tmp_path / "r" / "checkpoint.npz")[0] == 0
    assert len(history(tmp_path / "r")) == 3


def test_eval_and_predict_on_cupy(fake_cupy_as_cupy, tmp_path, capsys):
    import matplotlib.image
    from data_tools.mnist import load_mnist
    assert run(capsys, "train", "--model", "mlp", *SMALL, "--no-plots", "--out", tmp_path / "a")[0] == 0
    ck = tmp_path / "a" / "checkpoint.npz"                               # written on numpy
    results = {}
    for name in ("numpy", "cupy"):
        code, out, err = run(capsys, "eval", ck, "--limit", "50", "--backend", name, "--json")
        assert code == 0, err
        results[name] = json.loads(out)
    assert results["numpy"]["accuracy"] == results["cupy"]["accuracy"]
    images, _ = load_mnist("test")
    path = tmp_path / "digit.png"
    matplotlib.image.imsave(path, images[0] / 255.0, cmap="gray", vmin=0, vmax=1)
    said = {}
    for name in ("numpy", "cupy"):
        tn.set_backend(name)
        code, out, err = run(capsys, "predict", ck, path)
        assert code == 0, err
        said[name] = out
    assert said["numpy"] == said["cupy"]


@pytest.mark.parametrize("method", ["scratch", "full", "head", "lora"])
def test_finetune_every_method_on_cupy(fake_cupy_as_cupy, tmp_path, capsys, method):
    tn.manual_seed(3)
    pre = tmp_path / "pre.npz"
    train.save_checkpoint(pre, models.mlp(), None, 1, "mlp", [], {"normalize": "mnist"})
    got = {}
    for name in ("numpy", "cupy"):
        code, out, err = run(capsys, "finetune", "--from", pre, *FT, "--method", method, "--epochs", "1",
                             "--backend", name, "--out", tmp_path / name)
        assert code == 0, err
        with open(tmp_path / name / "metrics.json") as f:
            got[name] = json.load(f)
    for key in ("accuracy", "test_accuracy"):
        if key in got["numpy"]:
            assert got["numpy"][key] == pytest.approx(got["cupy"][key], abs=1e-9)
    code, out, err = run(capsys, "eval", tmp_path / "cupy" / "checkpoint.npz", "--backend", "cupy", "--limit", "20")
    assert code == 0, err


def test_gradcheck_float64_on_cupy(fake_cupy_as_cupy):
    """LeNet's loss against central differences, in float64, with everything on the "cupy" backend."""
    tn.manual_seed(0)
    net = models.build("lenet").to("cupy")
    for p in net.parameters():
        p.data = p.data.astype("float64")
    x = tn.Tensor(backend.to_backend(np.random.default_rng(0).standard_normal((2, 1, 28, 28)), "cupy"),
                  requires_grad=True)
    y = tn.Tensor(backend.to_backend(np.array([3, 7]), "cupy"))
    assert backend.backend_name(net(x).data) == "cupy"
    assert tn.gradcheck(lambda t: tn.functional.cross_entropy(net(t), y), x, directions=4)
