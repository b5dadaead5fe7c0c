"""``python -m data_tools info|show``: reports on the bundled files, drawings, and clean errors."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from data_tools.__main__ import ascii_art, main
from data_tools.idx import write_idx
from data_tools.mnist import MD5, MNIST_DIR

ROOT = Path(__file__).resolve().parents[1]
TEST_IMAGES = MNIST_DIR / "t10k-images-idx3-ubyte.gz"


def run_module(*args):
    return subprocess.run(
        [sys.executable, "-m", "data_tools", *args], capture_output=True, text=True, cwd=ROOT, timeout=60
    )


def test_info_on_the_bundled_files_as_a_real_command():
    result = run_module("info")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.count("00 00 08 03 → type 0x08 uint8, 3 dims") == 2
    assert out.count("00 00 08 01 → type 0x08 uint8, 1 dims") == 2
    for dims in ["60000 x 28 x 28", "10000 x 28 x 28", "dims    60000\n", "dims    10000\n"]:
        assert dims in out
    for md5 in MD5["mnist"].values():
        assert md5 in out
    assert out.count("range   0 .. 255") == 2 and out.count("range   0 .. 9") == 2
    assert out.count("dtype   uint8") == 4


def test_info_reports_one_file(capsys):
    assert main(["info", str(MNIST_DIR / "t10k-labels-idx1-ubyte.gz")]) == 0
    out = capsys.readouterr().out
    assert "t10k-labels-idx1-ubyte.gz" in out
    assert "10,008 bytes" in out and "gzip" in out and "27ae3e4e09519cfbb04c329615203637" in out


def test_info_on_other_types(tmp_path, capsys):
    path = tmp_path / "floats.idx"
    write_idx(path, np.linspace(-1, 2, 24, dtype=np.float32).reshape(2, 3, 4))
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "00 00 0d 03 → type 0x0D float32, 3 dims" in out
    assert "dtype   float32" in out and "2 x 3 x 4" in out and "-1.0 .. 2.0" in out
    assert "raw (not compressed)" in out


def test_info_error_is_one_line_exit_2_and_others_still_reported(tmp_path, capsys):
    bad = tmp_path / "bad.idx"
    bad.write_bytes(b"\x00\x00\x08\x02\x00\x00\x00\x05")
    good = tmp_path / "good.idx"
    write_idx(good, np.arange(3, dtype=np.int8))
    assert main(["info", str(bad), str(good)]) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and str(bad) in captured.err and "header truncated" in captured.err
    assert "good.idx" in captured.out


def test_errors_have_no_traceback_as_a_real_command(tmp_path):
    bad = tmp_path / "bad.gz"
    bad.write_bytes(b"\x1f\x8b\x08\x00garbage")
    for args in (["info", str(bad)], ["info", str(tmp_path / "missing")], ["show", str(TEST_IMAGES), "--index", "10000"]):
        result = run_module(*args)
        assert result.returncode == 2
        assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
        assert "Traceback" not in result.stderr


def test_show_ascii(capsys):
    assert main(["show", str(TEST_IMAGES), "--index", "0"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "[0]" in lines[0] and "label 7" in lines[0]
    art = lines[1:]
    assert len(art) == 28 and all(len(line) == 56 for line in art)
    assert any("@" in line for line in art) and art[0].strip() == ""


def test_show_negative_index_and_labels_file(capsys):
    assert main(["show", str(MNIST_DIR / "t10k-labels-idx1-ubyte.gz"), "--index", "-1"]) == 0
    assert capsys.readouterr().out.strip().endswith(": 6")  # the last test label is a 6


def test_show_png(tmp_path, capsys):
    out = tmp_path / "seven.png"
    assert main(["show", str(TEST_IMAGES), "--index", "0", "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_show_out_of_range(capsys):
    assert main(["show", str(TEST_IMAGES), "--index", "10000"]) == 2
    assert "out of range" in capsys.readouterr().err


def test_ascii_art_scales_any_range():
    art = ascii_art(np.array([[-5.0, 0.0, 5.0]]))
    assert art == "  ++@@"  # min, middle, max of the array
    assert ascii_art(np.zeros((2, 2), dtype=np.uint8)) == "    \n    "


def test_unknown_command_exits_2():
    with pytest.raises(SystemExit) as info:
        main(["frobnicate"])
    assert info.value.code == 2


def test_info_fails_when_a_file_named_like_mnist_has_another_md5(tmp_path, capsys):
    fake = tmp_path / "t10k-labels-idx1-ubyte.gz"
    write_idx(fake, np.zeros(10000, np.uint8))                 # the right shape, the wrong bytes
    other = tmp_path / "my-labels.idx"
    write_idx(other, np.zeros(10, np.uint8))                   # a name no data set uses: no check
    assert main(["info", str(other)]) == 0
    capsys.readouterr()
    assert main(["info", str(fake), str(other)]) == 1
    out, err = capsys.readouterr()
    assert "dims    10000" in out and "my-labels.idx" in out      # both still described
    assert err.count("\n") == 1
    assert ("t10k-labels-idx1-ubyte.gz: MD5 of the decompressed bytes is " in err
            and f"should have {MD5['mnist']['t10k-labels-idx1-ubyte']} (mnist) or "
                f"{MD5['fashion-mnist']['t10k-labels-idx1-ubyte']} (fashion-mnist)" in err)


@pytest.mark.parametrize("out, written", [("x", "x.png"), ("x.png", "x.png"), ("d.v1/seven", "d.v1/seven.png"),
                                          ("x.svg", "x.svg")])
def test_show_names_the_file_it_wrote(tmp_path, capsys, monkeypatch, out, written):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "d.v1").mkdir()
    assert main(["show", str(TEST_IMAGES), "--index", "7", "--out", out]) == 0
    assert capsys.readouterr().out == f"wrote {written}\n"
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()) == [written]


def test_show_into_a_missing_folder_is_one_line(tmp_path, capsys):
    assert main(["show", str(TEST_IMAGES), "--out", str(tmp_path / "no" / "x.png")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
