"""Edges of issue 13: every ``tinynet`` error is one line ``tinynet COMMAND: error: …`` (exit 2;
1 for a failed run, 130 for Ctrl-C) and the library's constructors refuse bad settings with a
clear ValueError/TypeError."""
import math
import os
import subprocess
import sys

import matplotlib.image
import numpy as np
import pytest

from cli_run import run

import tinynet
from tinynet import cli, data, models, nn, optim, train
from tinynet.recipes import TrainSettings, normalize_values

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def one_error_line(code, err, command, expected_code=2):
    assert code == expected_code, err
    assert "Traceback" not in err and err.count("\n") == 1, err
    assert err.startswith(f"tinynet {command}: error: "), err
    return err


@pytest.fixture
def ckpt(tmp_path):
    path = tmp_path / "run" / "checkpoint.npz"
    train.save_checkpoint(path, models.mlp(), None, 1, "mlp", [], {"normalize": "mnist"})
    return path


def digit_png(path):
    image = np.ones((28, 28))
    image[5:23, 12:16] = 0                       # a dark "1" on white paper
    matplotlib.image.imsave(path, image, cmap="gray")
    return path


# --- 1. --save-input with several images; empty paths -------------------------------------------

def test_save_input_takes_one_image_only(tmp_path, capsys, ckpt):
    a, b = digit_png(tmp_path / "a.png"), digit_png(tmp_path / "b.png")
    code, out, err = run(capsys, "predict", ckpt, a, b, "--save-input", tmp_path / "two.png")
    assert "give one IMAGE, not 2" in one_error_line(code, err, "predict")
    assert out == "" and not (tmp_path / "two.png").exists()
    code, out, err = run(capsys, "predict", ckpt, a, "--save-input", tmp_path / "one.png")
    assert code == 0 and (tmp_path / "one.png").is_file()


@pytest.mark.parametrize("argv", [
    ["predict", "CKPT", "a.png", "--save-input", ""], ["predict", "", "a.png"], ["predict", "CKPT", ""],
    ["train", "--resume", ""], ["train", "--out", ""], ["eval", ""],
    ["finetune", "--task", "digits5-9", "--method", "head", "--out", ""],
    ["finetune", "--task", "digits5-9", "--method", "head", "--from", ""],
    ["finetune", "--task", "fashion", "--method", "scratch", "--data-dir", ""],
])
def test_an_empty_path_is_a_one_line_error(capsys, argv):
    code, _, err = run(capsys, *argv)
    assert "expected a path, got an empty one ('')" in one_error_line(code, err, argv[0])


# --- 2. no RuntimeWarning before the error line ----------------------------------------------------

def test_a_diverging_run_prints_no_runtime_warning(tmp_path):
    result = subprocess.run([sys.executable, "-m", "tinynet.cli", "train", "--model", "mlp", "--optimizer", "sgd",
                             "--lr", "1e308", "--limit", "200", "--epochs", "1", "--no-plots",
                             "--out", str(tmp_path / "run")],
                            capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert result.returncode == 1, result.stderr
    assert "Warning" not in result.stderr and "Traceback" not in result.stderr, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("tinynet train: error: the training loss became ")


def test_the_warnings_filter_is_only_around_the_command(capsys):
    import warnings
    before = list(warnings.filters)
    run(capsys, "summary", "mlp")
    assert warnings.filters == before


# --- 3. Fashion-MNIST missing: one line ------------------------------------------------------------

def test_missing_fashion_mnist_is_one_line(tmp_path, capsys, ckpt, monkeypatch):
    import data_tools.mnist                                # missing here even where Debian's package is installed
    monkeypatch.setattr(data_tools.mnist, "FASHION_SYSTEM_DIR", tmp_path / "no-system-copy")
    monkeypatch.delenv("TINYNET_DATA", raising=False)
    code, _, err = run(capsys, "finetune", "--from", ckpt, "--task", "fashion", "--method", "head",
                       "--data-dir", tmp_path / "nonexistent", "--out", tmp_path / "ft")
    one_error_line(code, err, "finetune")
    assert "Fashion-MNIST train files" in err and f"--data-dir {str(tmp_path / 'nonexistent')!r}" in err
    assert "python -m data_tools download fashion-mnist --dest DIR" in err


def test_a_mistyped_data_dir_is_not_replaced_by_another_copy(tmp_path, capsys, ckpt, monkeypatch):
    """Fashion-MNIST files elsewhere ($TINYNET_DATA, the system folder) are not read in place of
    a --data-dir that lacks them: the error names the folder given."""
    import data_tools.mnist
    from data_tools.idx import write_idx
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for name in data_tools.mnist.FILES["train"]:
        write_idx(elsewhere / (name + ".gz"), np.zeros((3, 28, 28) if "images" in name else 3, dtype=np.uint8))
    monkeypatch.setattr(data_tools.mnist, "FASHION_SYSTEM_DIR", elsewhere)
    monkeypatch.setenv("TINYNET_DATA", str(elsewhere))
    code, _, err = run(capsys, "finetune", "--from", ckpt, "--task", "fashion", "--method", "head",
                       "--data-dir", tmp_path / "typo", "--out", tmp_path / "ft")
    one_error_line(code, err, "finetune")
    assert f"not found in --data-dir {str(tmp_path / 'typo')!r}" in err
    assert not (tmp_path / "ft").exists() or not any((tmp_path / "ft").iterdir())     # nothing written


def test_eval_uses_the_saved_data_dir_only_while_it_exists(tmp_path):
    """A fine-tuned checkpoint remembers its --data-dir; once that folder is gone, tinynet eval
    looks on the search path (every copy is checked against the same MD5s)."""
    from tinynet.cli.eval import saved_data_dir
    assert saved_data_dir({"args": {"data_dir": str(tmp_path)}}) == str(tmp_path)
    for gone in (str(tmp_path / "moved"), None, 3, ["x"]):
        assert saved_data_dir({"args": {"data_dir": gone}}) is None


# --- 4. unrecognized arguments name the command -----------------------------------------------------

def test_unrecognized_arguments_name_the_command(capsys):
    code, _, err = run(capsys, "train", "--nonsense")
    assert err == "tinynet train: error: unrecognized arguments: --nonsense (see: tinynet train --help)\n"
    assert code == 2
    code, _, err = run(capsys, "eval", "x.npz", "--bad", "extra")
    assert err == "tinynet eval: error: unrecognized arguments: --bad extra (see: tinynet eval --help)\n"
    code, _, err = run(capsys, "--nonsense")
    assert code == 2 and err == "tinynet: error: unrecognized arguments: --nonsense (see: tinynet --help)\n"
    code, _, err = run(capsys)
    assert code == 2 and "COMMAND" in err                  # bare tinynet: the help


# --- 5. a newline in a path stays escaped ------------------------------------------------------------

def test_a_newline_in_a_path_keeps_the_error_on_one_line(tmp_path, capsys, ckpt):
    code, _, err = run(capsys, "predict", ckpt, "a\nb.png")
    assert "image a\\nb.png does not exist" in one_error_line(code, err, "predict")
    code, _, err = run(capsys, "eval", tmp_path / "x\ny.npz")
    assert "x\\ny.npz does not exist" in one_error_line(code, err, "eval")
    code, _, err = run(capsys, "train", "--out", tmp_path / "o\ru\u2028t", "--resume", tmp_path / "n\no.npz")
    one_error_line(code, err, "train")
    code, _, err = run(capsys, "train", "--bad\noption")        # the parser's own errors too
    assert err == "tinynet train: error: unrecognized arguments: --bad\\noption (see: tinynet train --help)\n"
    assert cli.common.one_line("é × \x00\t") == "é × \\x00\\t"


# --- 6. --normalize and TrainSettings.check -----------------------------------------------------------

@pytest.mark.parametrize("text", ["1,inf", "nan,1", "inf,1", "1e300,1", "0,1e300", "0,-1", "0,0", "0,1e-7",
                                  "0,nan"])
def test_normalize_must_be_finite_with_a_usable_std(capsys, tmp_path, text):
    code, _, err = run(capsys, "train", "--normalize", text, "--out", tmp_path / "run")
    assert "argument --normalize: " in one_error_line(code, err, "train")
    with pytest.raises(ValueError, match="normalize: "):
        normalize_values(text)
    with pytest.raises(ValueError, match="normalize: "):
        TrainSettings(normalize=text).check()


def test_normalize_keeps_what_is_fine():
    assert normalize_values("0.5,1e-6") == (0.5, 1e-6)
    assert normalize_values("-3,2") == (-3.0, 2.0)


@pytest.mark.parametrize("setting", [dict(lr=True), dict(adam_eps=True), dict(optimizer="sgd", momentum=True),
                                     dict(lr=math.nan), dict(lr="0.1")])
def test_settings_refuse_bools_and_non_numbers(setting):
    with pytest.raises(ValueError, match=list(setting)[-1]):
        TrainSettings(**setting).check()


# --- 7. library edges --------------------------------------------------------------------------------

@pytest.mark.parametrize("make, message", [
    (lambda: nn.MaxPool2d(0), "MaxPool2d: kernel_size must be at least 1, got 0"),
    (lambda: nn.MaxPool2d(-2), "kernel_size must be at least 1"),
    (lambda: nn.MaxPool2d(2, stride=0), "stride must be at least 1, got 0"),
    (lambda: nn.AvgPool2d((2, 0)), "AvgPool2d: kernel_size must be at least 1"),
    (lambda: nn.MaxPool2d(2, padding=-1), "padding must be at least 0"),
    (lambda: nn.MaxPool2d(2, padding=2), "padding must be at most half of kernel_size"),
    (lambda: data.Normalize(0, math.nan), "Normalize: mean and std must be finite"),
    (lambda: data.Normalize(math.inf, 1), "Normalize: mean and std must be finite"),
    (lambda: data.Normalize(0, 0), "Normalize: std must be positive"),
    (lambda: data.Normalize((), ()), "at least one value"),
])
def test_layer_and_transform_settings(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_pools_still_build():
    assert nn.MaxPool2d(2).stride == 2 and nn.AvgPool2d((3, 3), 1, 1).padding == 1
    with pytest.raises(TypeError, match="whole number"):
        nn.MaxPool2d(2.5)


def params():
    return [tinynet.tensor(np.zeros(3, np.float32), requires_grad=True)]


@pytest.mark.parametrize("make, message", [
    (lambda: optim.Adam(params(), lr=math.nan), r"Invalid learning rate: nan"),
    (lambda: optim.Adam(params(), lr=-1e-3), r"Invalid learning rate: -0.001"),
    (lambda: optim.Adam(params(), betas=(1.0, 0.999)), r"Invalid beta parameter at index 0: 1.0"),
    (lambda: optim.Adam(params(), betas=(0.9, -0.1)), r"Invalid beta parameter at index 1: -0.1"),
    (lambda: optim.Adam(params(), eps=-1e-8), r"Invalid epsilon value: -1e-08"),
    (lambda: optim.AdamW(params(), weight_decay=-1), r"Invalid weight_decay value: -1"),
    (lambda: optim.SGD(params(), lr=0.1, momentum=1.5), r"Invalid momentum value: 1.5"),
    (lambda: optim.SGD(params(), lr=0.1, momentum=-0.5), r"Invalid momentum value: -0.5"),
    (lambda: optim.SGD(params(), lr=-0.1), r"Invalid learning rate: -0.1"),
    (lambda: optim.SGD(params(), lr=math.nan), r"Invalid learning rate: nan"),
    (lambda: optim.SGD(params(), lr=0.1, weight_decay=-1), r"Invalid weight_decay value: -1"),
])
def test_optimizer_settings(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_optimizer_settings_that_are_no_numbers():
    with pytest.raises(TypeError, match="Invalid learning rate: expected a number, got '0.1'"):
        optim.SGD(params(), lr="0.1")
    with pytest.raises(TypeError, match="betas must be a pair"):
        optim.Adam(params(), betas=0.9)
    assert optim.SGD(params(), lr=0.1, momentum=0.9, nesterov=True).defaults["momentum"] == 0.9
    assert optim.Adam(params(), lr=np.float32(1e-3)).defaults["lr"] == np.float32(1e-3)


@pytest.mark.parametrize("image, message", [
    (np.zeros((0, 0)), r"shape \(H, W\).*got shape \(0, 0\)"),
    (np.zeros((0, 5)), r"got shape \(0, 5\)"),
    (np.ones(7), r"got shape \(7,\)"),
    (np.zeros((2, 3, 3)), r"got shape \(2, 3, 3\)"),
    (np.full((5, 5), np.nan), "NaN or infinite"),
])
def test_mnist_style_refuses_what_is_no_image(image, message):
    with pytest.raises(ValueError, match=message):
        data.mnist_style(image)


# --- 8. Ctrl-C while the commands load ----------------------------------------------------------------

def test_ctrl_c_while_the_commands_load(monkeypatch, capsys):
    def interrupted():
        raise KeyboardInterrupt
    monkeypatch.setattr(cli, "_register_command_modules", interrupted)
    code, _, err = run(capsys, "train", "--epochs", "1")
    assert code == 130 and err == "\ntinynet: interrupted\n"
