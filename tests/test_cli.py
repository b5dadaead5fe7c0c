"""The ``tinynet`` command: bad arguments, train → checkpoint/metrics/plots, resume, Ctrl-C, eval, predict, summary."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tinynet import cli, train
from cli_run import run

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """LeNet trained by the CLI on 3,000 images for 1 epoch (about 90 % on the first 3,000 test images;
    tests/test_train_e2e.py holds the real accuracy gate)."""
    out = tmp_path_factory.mktemp("run") / "lenet"
    code = cli.main(["train", "--model", "lenet", "--epochs", "1", "--lr", "3e-3", "--batch-size", "32",
                     "--limit", "3000", "--seed", "0", "--out", str(out)])
    assert code == 0
    return out


BAD = [
    (["train", "--epochs", "0"], "argument --epochs: must be at least 1, got 0"),
    (["train", "--lr", "-1"], "argument --lr: must be a positive number, got -1"),
    (["train", "--lr", "fast"], "argument --lr: expected a number such as 1e-3, got 'fast'"),
    (["train", "--batch-size", "x"], "argument --batch-size: expected a positive whole number, got 'x'"),
    (["train", "--model", "resnet"], "argument --model: invalid choice: 'resnet'"),
    (["train", "--momentum", "0.9"], "--momentum applies to --optimizer sgd only"),
    (["train", "--optimizer", "sgd", "--momentum", "1.5"], "argument --momentum: must be in [0, 1), got 1.5"),
    (["train", "--normalize", "zscore"], "expected mnist, half, none or MEAN,STD"),
    (["train", "--resume", "no/such.npz"], "checkpoint no/such.npz does not exist"),
    (["eval", "no/such.npz"], "checkpoint no/such.npz does not exist"),
    (["summary", "vgg"], "argument model: invalid choice: 'vgg'"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
]


@pytest.mark.parametrize("argv, message", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_arguments_give_one_clear_line_and_exit_code_2(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert message in err and err.startswith("tinynet")
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_missing_backend_is_a_clear_error(capsys, tmp_path):
    pytest.importorskip("numpy")
    try:
        import cupy  # noqa: F401
        pytest.skip("CuPy is installed")
    except ImportError:
        pass
    code, _, err = run(capsys, "train", "--backend", "cupy", "--limit", "10", "--out", tmp_path / "run")
    assert code == 2 and "backend 'cupy' is not available" in err and len(err.splitlines()) == 1


def test_no_traceback_from_the_real_command(tmp_path):
    """As a subprocess (the console script's entry point): a file that is no checkpoint."""
    bogus = tmp_path / "bogus.npz"
    bogus.write_bytes(b"not a zip file")
    r = subprocess.run([sys.executable, "-m", "tinynet.cli", "eval", str(bogus)], capture_output=True, text=True,
                       cwd=ROOT, env={**os.environ, "PYTHONPATH": ROOT})
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.startswith("tinynet eval: error: tinynet.load:") and "bogus.npz" in r.stderr
    assert len(r.stderr.splitlines()) == 1


def test_no_command_prints_help(capsys):
    code, _, err = run(capsys)
    assert code == 2 and "train" in err and "predict" in err


def test_summary(capsys):
    code, out, _ = run(capsys, "summary", "cnn")
    assert code == 0 and "total parameters: 421,642" in out and "64×7×7" in out
    code, out, _ = run(capsys, "summary", "all", "--markdown")
    rows = [line for line in out.splitlines() if line.startswith("| `")]
    assert len(rows) == 5 and "| `lenet` | 21,840 |" in out and "| `cnn_dropout` | 225,034 |" in out


def test_train_writes_checkpoint_metrics_and_plots(trained):
    for name in ("checkpoint.npz", "metrics.json", "curves.png", "confusion.png", "misclassified.png", "filters.png"):
        assert (trained / name).stat().st_size > 0, name
    m = json.loads((trained / "metrics.json").read_text())
    assert m["model"] == "lenet" and m["parameters"] == 21_840 and [e["epoch"] for e in m["epochs"]] == [1]
    assert m["config"]["lr"] == 3e-3 and m["config"]["optimizer"] == "adam"
    assert m["test_accuracy"] == m["epochs"][-1]["test_accuracy"] > 0.8
    assert m["report"]["samples"] == 3000 and len(m["report"]["confusion_matrix"]) == 10
    ckpt = train.load_checkpoint(trained / "checkpoint.npz")
    assert ckpt["epoch"] == 1 and ckpt["model_name"] == "lenet" and ckpt["optimizer"] is not None


def test_eval_prints_the_full_report(capsys, trained):
    code, out, _ = run(capsys, "eval", trained / "checkpoint.npz", "--limit", "3000")
    m = json.loads((trained / "metrics.json").read_text())
    assert code == 0 and f"accuracy: {m['test_accuracy']:.2%}" in out
    assert "precision  recall" in out and "macro" in out and "confusion matrix" in out


def test_resume_continues_and_refuses_to_go_backwards(capsys, trained, tmp_path):
    code, out, _ = run(capsys, "train", "--resume", trained / "checkpoint.npz", "--epochs", "2",
                       "--limit", "500", "--out", tmp_path, "--no-plots")
    assert code == 0 and "for epochs 2..2" in out and "lenet" in out
    m = json.loads((tmp_path / "metrics.json").read_text())
    assert [e["epoch"] for e in m["epochs"]] == [1, 2] and m["config"]["lr"] == 3e-3
    code, _, err = run(capsys, "train", "--resume", tmp_path / "checkpoint.npz", "--epochs", "2")
    assert code == 2 and "already trained 2 epochs" in err
    code, _, err = run(capsys, "train", "--resume", tmp_path / "checkpoint.npz", "--model", "cnn", "--epochs", "4")
    assert code == 2 and "does not match the checkpoint's model lenet" in err


def make_page(digit, invert, rgb=False):
    """A 28×28 test digit enlarged 4× (bilinear-ish), off-centre on a 150×130 page."""
    big = np.kron(digit, np.ones((4, 4), np.float32))
    page = np.zeros((150, 130), np.float32)
    page[10:122, 5:117] = big
    page = 1 - page if invert else page
    return np.repeat(page[..., None], 3, axis=2) if rgb else page


def test_predict_own_images(capsys, trained, tmp_path):
    import matplotlib.image
    from data_tools.mnist import load_mnist
    from tinynet import data, models
    from tinynet.tensor import Tensor
    images, labels = load_mnist("test")
    ckpt = train.load_checkpoint(trained / "checkpoint.npz")
    model = models.build("lenet")
    model.load_state_dict(ckpt["model"])
    model.eval()
    x = data.Normalize(0.1307, 0.3081)((images[9000:9100, None] / 255.0).astype(np.float32))
    probs = model(Tensor(x)).softmax(axis=1).numpy()
    sure = [i for i in range(100) if probs[i].argmax() == labels[9000 + i] and probs[i].max() > 0.95][:4]
    assert len(sure) == 4
    paths = []
    for k, i in enumerate(sure):
        page = make_page(images[9000 + i] / 255.0, invert=k % 2 == 0, rgb=k == 1)
        paths.append(tmp_path / f"digit{k}.png")
        matplotlib.image.imsave(paths[-1], page, cmap="gray", vmin=0, vmax=1)
    code, out, _ = run(capsys, "predict", trained / "checkpoint.npz", *paths)
    assert code == 0
    got = [int(line.split(": ")[1].split()[0]) for line in out.splitlines()]
    assert got == [int(labels[9000 + i]) for i in sure]
    code, out, _ = run(capsys, "predict", trained / "checkpoint.npz", paths[0], "--save-input", tmp_path / "seen.png")
    assert code == 0 and int(out.split(": ")[1].split()[0]) == got[0]     # --save-input: one IMAGE only
    assert (tmp_path / "seen.png").exists()


def test_predict_bad_images(capsys, trained, tmp_path):
    code, _, err = run(capsys, "predict", trained / "checkpoint.npz", tmp_path / "none.png")
    assert code == 2 and "does not exist" in err
    blank = tmp_path / "blank.png"
    import matplotlib.image
    matplotlib.image.imsave(blank, np.ones((20, 20)), cmap="gray", vmin=0, vmax=1)
    code, _, err = run(capsys, "predict", trained / "checkpoint.npz", blank)
    assert code == 2 and "blank" in err
    text = tmp_path / "notes.png"
    text.write_text("hello")
    code, _, err = run(capsys, "predict", trained / "checkpoint.npz", text)
    assert code == 2 and "cannot read" in err and len(err.splitlines()) == 1


def test_cosine_schedule_and_its_resume(capsys, tmp_path):
    code, _, _ = run(capsys, "train", "--model", "mlp", "--epochs", "2", "--schedule", "cosine", "--limit", "200",
                     "--out", tmp_path, "--no-plots")
    assert code == 0
    code, _, _ = run(capsys, "train", "--resume", tmp_path / "checkpoint.npz", "--epochs", "4", "--no-plots")
    assert code == 0
    lrs = [e["lr"] for e in json.loads((tmp_path / "metrics.json").read_text())["epochs"]]
    # epochs 1-2 annealed over 2 epochs, then 3-4 over the 4 asked for on resuming
    np.testing.assert_allclose(lrs, [1e-3, 5e-4, 1e-3 * (1 + np.cos(np.pi * 2 / 4)) / 2,
                                     1e-3 * (1 + np.cos(np.pi * 3 / 4)) / 2], rtol=1e-6)
