"""Hostile inputs through the command line: each ends in one line on stderr, no traceback,
a non-zero exit code, within seconds (images checked before decoding, divergence stops a run)."""
import os
import subprocess
import sys

import matplotlib.image
import numpy as np

from test_checkpoints import capped, eval_cli
from test_data import png_header_only

from tinynet import train


def test_predict_refuses_a_huge_png_under_a_memory_cap(tmp_path, capsys):
    """A 20000x20000 PNG (decoded: 400 MB of grey, GBs as floats) is refused from its header."""
    ckpt = tmp_path / "run" / "checkpoint.npz"
    from tinynet import models
    train.save_checkpoint(ckpt, models.mlp(), None, 1, "mlp", [], {"normalize": "mnist"})
    big = png_header_only(tmp_path / "big.png", 20000, 20000)
    result = capped("predict", ckpt, big, limit_mb=500)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.count("\n") == 1 and f"tinynet predict: error: {big}: the image has more than" in result.stderr
    for content, name in ((b"", "empty.png"), (b"GIF89a" + bytes(20), "cut.gif")):
        (tmp_path / name).write_bytes(content)
        code, out, err = eval_cli(capsys, "predict", ckpt, tmp_path / name)
        assert code == 2 and err.startswith(f"tinynet predict: error: cannot read {tmp_path / name} as an image")
        assert err.count("\n") == 1
    wide = np.ones((4, 16384))
    wide[2, 100:16000] = 0                                     # a long dark stroke on white paper
    matplotlib.image.imsave(tmp_path / "wide.png", wide, cmap="gray")
    code, out, err = eval_cli(capsys, "predict", ckpt, tmp_path / "wide.png")
    assert code == 0 and out.startswith(f"{tmp_path / 'wide.png'}: ")


def test_a_diverging_run_stops_with_exit_code_1(tmp_path, capsys):
    code, out, err = eval_cli(capsys, "train", "--model", "mlp", "--lr", "1e6", "--epochs", 1, "--limit", 640,
                              "--batch-size", 32, "--no-plots", "--out", tmp_path / "run")
    assert code == 1
    assert err.strip().splitlines()[-1].startswith("tinynet train: error: the training loss became ")
    assert "training has diverged. Try a lower learning rate (this run used lr=1000000.0" in err
    assert "test accuracy" not in out


def test_data_tools_info_on_a_damaged_copy_exits_non_zero(tmp_path):
    from data_tools.idx import write_idx
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(60000, np.uint8))
    result = subprocess.run([sys.executable, "-m", "data_tools", "info", str(tmp_path / "train-labels-idx1-ubyte")],
                            capture_output=True, text=True, timeout=60,
                            cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert result.returncode == 1 and result.stderr.count("\n") == 1 and "MD5" in result.stderr
