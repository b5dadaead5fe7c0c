"""The benchmarks' command lines: a bad option is one line naming it (exit 2, no traceback), before
any timing or training starts; a results file that is not one is refused before a run, not after."""
import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tinynet.cli.common import int_between

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import torch_recipes  # noqa: E402  (imports torch only inside main)


def run(script, *args, timeout=60):
    return subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), *args],
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("script, bad, option", [
    ("bench_cnn_step.py", ["--rounds", "0"], "--rounds"),
    ("bench_cnn_step.py", ["--per-round", "-1"], "--per-round"),
    ("bench_cnn_step.py", ["--batch", "0"], "--batch"),
    ("bench_cnn_step.py", ["--batch", "1501"], "--batch"),        # 40 batches must fit in 60,000 images
    ("bench_cnn_step.py", ["--warmup", "-1"], "--warmup"),
    ("bench_cnn_step.py", ["--breakdown-steps", "0"], "--breakdown-steps"),
    ("bench_cnn_step.py", ["--eval-rounds", "0"], "--eval-rounds"),
    ("bench_cnn_step.py", ["--threads", "100000"], "--threads"),
    ("bench_cnn_step.py", ["--workers", "two"], "--workers"),
    ("bench_cnn_step_gpu.py", ["--batch", "1e3"], "--batch"),
    ("bench_finetune_step.py", ["--batch", "7501"], "--batch"),
    ("bench_frozen.py", ["--per-round", "0"], "--per-round"),
    ("bench_lora_conv.py", ["--rank", "0"], "--rank"),
    ("bench_lora_conv.py", ["--repeat", "0"], "--repeat"),
    ("bench_main_job.py", ["--rounds", "0"], "--rounds"),
    ("bench_main_job.py", ["--limit", "-5"], "--limit"),
    ("bench_main_job.py", ["--workers", "0"], "--workers"),
    ("bench_serve.py", ["--clients", "0"], "--clients"),
    ("bench_serve.py", ["--requests", "x"], "--requests"),
    ("torch_recipes.py", ["default", "--seeds", "-1"], "--seeds"),
    ("torch_recipes.py", ["default", "--epochs", "0"], "--epochs"),
])
def test_a_bad_option_is_one_line_naming_it(script, bad, option):
    r = run(script, *bad)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    last = r.stderr.strip().splitlines()[-1]
    assert "error:" in last and option in last, last


def test_bench_serve_refuses_a_file_that_is_not_a_checkpoint_in_one_line(tmp_path):
    (tmp_path / "fake.npz").write_text("not a zip")
    for path in (tmp_path / "fake.npz", tmp_path / "missing.npz"):
        r = run("bench_serve.py", str(path))
        assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
        assert "checkpoint" in r.stderr.strip().splitlines()[-1]


def test_recipes_table_refuses_a_bad_results_file_in_one_line(tmp_path):
    for text in ("not json", '{"a": 1}'):
        (tmp_path / "r.json").write_text(text)
        r = run("recipes_table.py", "--runs", str(tmp_path), "--torch", str(tmp_path / "r.json"))
        assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
        assert "error: cannot read the runs" in r.stderr


@pytest.mark.parametrize("text", ["not json", '{"a": 1}', "[1, 2]", '[{"no recipe": 1}]', "\udcff"])
def test_torch_recipes_refuses_a_file_that_is_not_its_results(tmp_path, text):
    path = tmp_path / "results.json"
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    with pytest.raises(ValueError, match="not a results file"):
        torch_recipes.read_results(str(path))
    assert path.read_bytes() == text.encode("utf-8", "surrogateescape")     # and leaves it as it was


def test_torch_recipes_results_round_trip_whole(tmp_path):
    path = str(tmp_path / "new" / "results.json")
    assert torch_recipes.read_results(path) == []
    runs = [{"recipe": "default", "seed": 0, "test_accuracy": 0.98}]
    torch_recipes.write_results(path, runs)
    assert torch_recipes.read_results(path) == runs == json.loads(Path(path).read_text())
    assert sorted(p.name for p in (tmp_path / "new").iterdir()) == ["results.json"]     # no temporary left


def test_int_between_says_what_is_allowed():
    one_to_four = int_between(1, 4)
    assert one_to_four("3") == 3
    for text, message in [("0", "must be from 1 to 4, got 0"), ("5", "must be from 1 to 4, got 5"),
                          ("2.5", "expected a whole number such as 1, got '2.5'"), ("", "expected a whole number")]:
        with pytest.raises(argparse.ArgumentTypeError, match=message.replace("(", r"\(")):
            one_to_four(text)
    assert int_between(0)("0") == 0
    with pytest.raises(argparse.ArgumentTypeError, match="must be at least 0, got -1"):
        int_between(0)("-1")
