"""tinynet.checkpoints: a checkpoint from an untrusted file is checked (types, fit to its model,
size, finite values) and refused with one CheckpointError naming the file — through the library
and through ``tinynet eval|predict|finetune|train --resume``, one line, exit code 2."""
import io
import json
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest

import tinynet as tn
from tinynet import checkpoints, cli, models, optim, serialization, train
from cli_run import run as eval_cli

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    """A lenet checkpoint as tinynet train writes it (untrained weights, an Adam state, a history)."""
    tn.manual_seed(0)
    model = models.lenet()
    opt = optim.Adam(model.parameters(), lr=1e-3)
    model(tn.randn(2, 1, 28, 28)).sum().backward()
    opt.step()
    path = tmp_path_factory.mktemp("good") / "checkpoint.npz"
    history = [{"epoch": 1, "lr": 1e-3, "train_loss": 0.5, "train_accuracy": 0.9, "samples": 10, "seconds": 1.0}]
    train.save_checkpoint(path, model, opt, 1, "lenet", history, {"model": "lenet", "normalize": "mnist", "lr": 1e-3})
    return path


def tree_of(path):
    """The stored tree, arrays as NumPy arrays (what tn.save takes back)."""
    def host(node):
        if isinstance(node, tn.Tensor):
            return node.numpy()
        if isinstance(node, dict):
            return {k: host(v) for k, v in node.items()}
        if isinstance(node, (list, tuple)):
            return type(node)(host(v) for v in node)
        return node
    return host(tn.load(path))


def variant(good, tmp_path, change, name="bad.npz"):
    """A copy of the good checkpoint with ``change(tree)`` applied."""
    tree = tree_of(good)
    change(tree)
    tn.save(tree, tmp_path / name)
    return tmp_path / name




def setter(key, value):
    def change(tree):
        tree[key] = value
    return change


def deleter(key):
    def change(tree):
        del tree[key]
    return change


def set_json(key, value):
    return setter(key, json.dumps(value))


def set_arg(key, value):
    def change(tree):
        args = json.loads(tree["args"])
        args[key] = value
        tree["args"] = json.dumps(args)
    return change


def nan_weight(tree):
    tree["model"]["7.weight"][0, 0] = np.nan


def inf_moment(tree):
    tree["optimizer"]["state"][0]["exp_avg"][...] = np.inf


def lenet_as_cnn(tree):
    tree["model_name"] = "cnn"
    set_arg("model", "cnn")(tree)


def drop_weight(tree):
    del tree["model"]["3.bias"]


def extra_weight(tree):
    tree["model"]["99.weight"] = np.zeros((2, 2), np.float32)


def int_weight(tree):
    tree["model"]["0.weight"] = tree["model"]["0.weight"].astype(np.int32)


def transposed(tree):
    tree["model"]["7.weight"] = tree["model"]["7.weight"].T.copy()


BAD = [  # (what is changed, words the one-line error must hold)
    (setter("model_name", ["lenet"]), "'model_name' should be a string, not a list"),
    (lambda t: (setter("model_name", "resnet")(t), setter("args", "{}")(t)),
     "a model called 'resnet', which tinynet does not know"),
    (deleter("model"), "has no 'model' entry"),
    (setter("model", [1, 2]), "'model' should be a dict, not a list"),
    (setter("model", {"0.weight": "w"}), "maps '0.weight' to a str"),
    (setter("epoch", "3"), "'epoch' should be a whole number, not a str ('3')"),
    (setter("epoch", True), "'epoch' should be a whole number, not a bool"),
    (setter("epoch", -2), "'epoch' is -2"),
    (setter("epoch", 2.5), "'epoch' should be a whole number, not a float"),
    (setter("format", "tinynet-checkpoint-9"), "not a tinynet training checkpoint"),
    (set_json("history", 5), "'history' should hold a JSON list, not a int"),
    (setter("history", 5), "'history' should be JSON text, not a int"),
    (setter("history", "[{"), "'history' is not readable JSON"),
    (set_json("history", [{"epoch": "1"}]), "history entry 0 should be a dict with a whole-number 'epoch'"),
    (set_json("history", [{"epoch": 1, "train_loss": "low"}]), "history entry 0 has 'train_loss'"),
    (set_json("args", [1]), "'args' should hold a JSON object"),
    (set_json("extra", "x"), "'extra' should hold a JSON object"),
    (set_json("rng", {"bit_generator": "MT19937"}), "random-generator state 'rng' is not valid"),
    (set_json("rng", 3), "'rng' should hold a JSON object"),
    (set_arg("normalize", "zscore"), "setting 'normalize' is 'zscore', not mnist, half, none or MEAN,STD"),
    (set_arg("normalize", "0.1,0"), "setting 'normalize' is '0.1,0'"),
    (set_arg("normalize", 3), "setting 'normalize' is 3"),
    (set_arg("lr", -1), "setting 'lr' is -1, not a positive number"),
    (set_arg("batch_size", "64"), "setting 'batch_size' is '64'"),
    (set_arg("augment", 1), "setting 'augment' is 1, not true or false"),
    (set_arg("recipe", "r9"), "setting 'recipe' is 'r9'"),
    (set_arg("workers", 0), "setting 'workers' is 0, not a whole number from 1 to 64 or null"),
    (set_arg("workers", 10 ** 9), "setting 'workers' is 1000000000"),
    (set_arg("workers", 2.0), "setting 'workers' is 2.0"),
    (set_arg("workers", "2"), "setting 'workers' is '2'"),
    (set_arg("workers", True), "setting 'workers' is True"),
    (set_arg("model", "cnn"), "settings name the model 'cnn', its weights are 'lenet'"),
    (setter("optimizer", [1]), "optimizer state is malformed"),
    (setter("optimizer", {"state": {"0": {}}, "param_groups": []}), "state '0' should be a dict under a parameter number"),
    (setter("optimizer", {"state": {}, "param_groups": [{"params": "all"}]}), "parameter group 0 should list"),
    (setter("optimizer", {"state": {0: {"step": "one"}}, "param_groups": []}), "state 0/step is a str"),
    (lenet_as_cnn, "says it holds a 'cnn' model, but its weights do not fit models.cnn()"),
    (drop_weight, "missing key(s) '3.bias'"),
    (extra_weight, "unexpected key(s) '99.weight'"),
    (transposed, "size mismatch for '7.weight': the file has shape (320, 50), the model needs (50, 320)"),
    (int_weight, "'0.weight' is stored as int32"),
    (nan_weight, "weight '7.weight' holds 1 NaN or infinite value(s) of 16,000: the run that saved it had diverged"),
    (inf_moment, "optimizer state 'state/0/exp_avg' holds 250 NaN or infinite value(s)"),
    (set_arg("normalize", "0,1e-60"), "setting 'normalize' is '0,1e-60'"),           # std 0 in float32
    (set_arg("normalize", "1e300,1"), "setting 'normalize' is '1e300,1'"),           # ∞ in float32
    (set_json("history", [{"epoch": 7}]), "history entry 0 is for epoch 7, but the checkpoint has 1 epochs"),
    (set_json("extra", {"task": ["digits5-9"]}), "extra['task'] is"),
    (set_json("extra", {"task": "mnist", "num_classes": 5, "class_names": list("abcde")}), "has 10 classes"),
    (set_json("extra", {"class_names": ["a", "b"], "num_classes": 3}), "names 2 classes but says it has 3"),
    (set_json("extra", {"position": {"epoch": 2, "step": 1, "correct": 10 ** 6, "seen": 1, "loss_sum": 0.5,
                                     "seconds": 1.0}}), "position within epoch 2 is damaged"),
    (set_json("extra", {"position": {"epoch": 2, "step": 1, "correct": 0, "seen": 1, "loss_sum": float("nan"),
                                     "seconds": 1.0}}), "position within epoch 2 is damaged (loss_sum"),
    (lambda t: t["optimizer"]["state"][0].__setitem__("step", -7), "state 0/step is -7, not a count of steps"),
    (lambda t: t["optimizer"]["state"][0].__setitem__("step", 10 ** 30), "not a count of steps"),
    (lambda t: t["optimizer"]["param_groups"][0].__setitem__("lr", -1e30), "'lr' = -1e+30, not a number ≥ 0"),
    (lambda t: t["optimizer"]["param_groups"][0].__setitem__("betas", [5, -3]), "'betas' = [5, -3]"),
    (set_arg("optimizer", "sgd"), "which --optimizer sgd does not keep"),
]


@pytest.mark.parametrize("change, message", BAD, ids=[m[:40] for _, m in BAD])
def test_bad_checkpoints_are_one_clear_error(good, tmp_path, change, message):
    path = variant(good, tmp_path, change)
    with pytest.raises(serialization.CheckpointError) as e:
        train.load_model(path)
    assert str(path) in str(e.value) and message in str(e.value) and "\n" not in str(e.value)
    assert isinstance(e.value, ValueError)


@pytest.mark.parametrize("change, message", [BAD[0], BAD[2], BAD[3], BAD[6], BAD[10], BAD[31], BAD[36]])
def test_eval_prints_them_as_one_line(good, tmp_path, capsys, change, message):
    path = variant(good, tmp_path, change)
    code, out, err = eval_cli(capsys, "eval", path, "--limit", 10)
    assert code == 2 and out == ""
    assert err.startswith(f"tinynet eval: error: {path}") and message in err and err.count("\n") == 1


def test_unhashable_keys_are_one_clear_error(good, tmp_path, capsys):
    meta = json.loads(str(np.load(good)["__tinynet__"]))
    meta["tree"]["__dict__"].append([["a", "list"], 1])
    f = io.BytesIO()
    np.save(f, np.array(json.dumps(meta)))
    path = tmp_path / "unhashable.npz"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(path, "w") as dst:
        for info in src.infolist():
            dst.writestr(info.filename, f.getvalue() if info.filename == "__tinynet__.npy" else src.read(info))
    code, _, err = eval_cli(capsys, "eval", path)
    assert code == 2 and "malformed tree: a dict key ['a', 'list'] that is not a string or an integer" in err
    assert err.count("\n") == 1


def test_a_good_checkpoint_loads_into_its_model(good):
    model, ckpt = train.load_model(good)
    assert ckpt["epoch"] == 1 and ckpt["model_name"] == "lenet" and ckpt["history"][0]["epoch"] == 1
    assert not model.training and ckpt["optimizer"]["param_groups"][0]["lr"] == 1e-3
    np.testing.assert_array_equal(model[0].weight.numpy(), ckpt["model"]["0.weight"].numpy())
    again = models.lenet()
    assert train.load_checkpoint(good, model=again)["epoch"] == 1
    np.testing.assert_array_equal(again[0].weight.numpy(), model[0].weight.numpy())


def test_float64_weights_load_into_the_float32_model(good, tmp_path):
    def to_float64(tree):
        tree["model"] = {k: v.astype(np.float64) for k, v in tree["model"].items()}
    model, _ = train.load_model(variant(good, tmp_path, to_float64))
    assert {p.dtype for p in model.parameters()} == {np.dtype(np.float32)}


def test_a_checkpoint_of_another_model_is_refused_before_its_arrays_are_read(good, tmp_path, monkeypatch):
    path = variant(good, tmp_path, lenet_as_cnn)
    monkeypatch.setattr(serialization, "_read_arrays", None)      # reading any array would fail here
    with pytest.raises(serialization.CheckpointError, match="do not fit models.cnn"):
        train.load_model(path)


def test_a_checkpoint_larger_than_its_model_can_need_is_refused_before_reading(good, tmp_path, monkeypatch):
    def padded(tree):
        tree["extra_weights"] = np.zeros(3 * 21_840 + (1 << 18), np.float64)   # 3 x the model at float64, + 2 MiB
    path = variant(good, tmp_path, padded)
    monkeypatch.setattr(serialization, "_read_arrays", None)
    with pytest.raises(serialization.CheckpointError, match=r"bytes of arrays, more than a checkpoint of "
                                                            r"models.lenet\(\) can need \(1,572,736\)"):
        train.load_model(path)


def test_a_plain_npz_and_a_folder(good, tmp_path, capsys):
    np.savez(tmp_path / "plain.npz", w=np.ones(3))
    with pytest.raises(serialization.CheckpointError, match="not a tinynet training checkpoint"):
        train.load_checkpoint(tmp_path / "plain.npz")
    code, _, err = eval_cli(capsys, "eval", good.parent)
    assert code == 2 and f"is a folder, not a checkpoint file; did you mean {good}?" in err


def test_predict_finetune_and_resume_refuse_nan_weights(good, tmp_path, capsys):
    path = variant(good, tmp_path, nan_weight)
    png = tmp_path / "seven.png"
    import matplotlib.image
    matplotlib.image.imsave(png, np.eye(28), cmap="gray")
    for argv in (["predict", path, png],
                 ["finetune", "--from", path, "--task", "digits5-9", "--method", "head", "--out", tmp_path / "ft"],
                 ["train", "--resume", path, "--epochs", 2, "--out", tmp_path / "r"]):
        code, out, err = eval_cli(capsys, *argv)
        assert code == 2 and "NaN or infinite" in err and err.count("\n") == 1, (argv, err)
    assert not (tmp_path / "ft").exists() and not (tmp_path / "r").exists()


def test_a_damaged_mnist_file_is_one_line_from_eval(good, tmp_path, capsys, monkeypatch):
    import gzip
    import shutil
    from data_tools import mnist
    for name in mnist.FILES["test"]:
        shutil.copy(mnist.MNIST_DIR / (name + ".gz"), tmp_path / (name + ".gz"))
    images = tmp_path / "t10k-images-idx3-ubyte.gz"
    data = bytearray(gzip.decompress(images.read_bytes()))
    data[1000] ^= 0xFF                                             # one pixel changed
    images.write_bytes(gzip.compress(bytes(data)))
    monkeypatch.setattr(mnist, "MNIST_DIR", tmp_path)
    code, _, err = eval_cli(capsys, "eval", good, "--limit", 10)
    assert code == 2 and err.startswith("tinynet eval: error: ") and "t10k-images-idx3-ubyte.gz: MD5" in err
    assert err.count("\n") == 1


def capped(*argv, limit_mb=600, timeout=60):
    """``tinynet ARGV`` as its own process with at most ``limit_mb`` of address space."""
    code = ("import resource, sys; resource.setrlimit(resource.RLIMIT_AS, (%d << 20, %d << 20)); "
            "from tinynet.cli import main; sys.exit(main(sys.argv[1:]))" % (limit_mb, limit_mb))
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-c", code, *map(str, argv)], capture_output=True, text=True,
                          cwd=ROOT, timeout=timeout, env=env)


def test_a_weight_that_inflates_to_gigabytes_is_refused_under_a_memory_cap(good, tmp_path):
    """8 MB of zeros in the file, a header declaring 3 GiB: refused from the header, in a process that
    could not even allocate 3 GiB."""
    import time
    path = tmp_path / "bomb.npz"
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False,
                                                  "shape": (3 * 2 ** 28, 1)})
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "model/0.weight.npy":
                data = header.getvalue() + bytes(8 << 20)
            dst.writestr(info.filename, data)
    start = time.perf_counter()
    result = capped("eval", path)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.count("\n") == 1 and str(path) in result.stderr and "3,221,225," in result.stderr
    assert time.perf_counter() - start < 30                       # the interpreter's start-up included


@pytest.mark.parametrize("kind", ["fifo", "dev/zero"])
def test_a_pipe_or_a_device_is_refused_without_reading_it(tmp_path, capsys, kind):
    path = tmp_path / "x.npz"
    if kind == "fifo":
        os.mkfifo(path)
    else:
        path.symlink_to("/dev/zero")
    for command in (["eval", path], ["train", "--resume", path, "--epochs", "2"]):
        code, _, err = eval_cli(capsys, *command)
        assert code == 2 and "not a regular file" in err and len(err.splitlines()) == 1, err
    from data_tools.idx import IDXError, read_idx
    with pytest.raises(IDXError, match="not a regular file"):
        read_idx(path)
