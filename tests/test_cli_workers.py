"""``tinynet train --workers N``: checked as one line, recorded in the run's settings, kept by a
resumed run unless given again, and a resumed run with another count works and says what differs."""
import json

import pytest

from tinynet import parallel, train
from cli_run import run

TINY = ["train", "--model", "mlp", "--limit", "200", "--batch-size", "50", "--no-plots"]


@pytest.mark.parametrize("bad, says", [
    ("0", "must be from 1 to 64, got 0"), ("-3", "must be from 1 to 64, got -3"), ("65", "got 65"),
    ("2.5", "expected a whole number such as 2, got '2.5'"), ("two", "got 'two'"), ("", "got ''"),
    ("1e3", "got '1e3'"), ("9" * 5000, "expected a whole number")])
def test_a_bad_worker_count_is_one_line(capsys, tmp_path, bad, says):
    code, out, err = run(capsys, *TINY, "--workers", bad, "--out", tmp_path / "run")
    assert code == 2 and says in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert err.startswith("tinynet train: error: argument --workers:") and not (tmp_path / "run").exists()


def test_workers_on_cupy_is_one_line(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr("tinynet.cli.train.set_backend", lambda name: None)     # as if CuPy were installed
    code, _, err = run(capsys, *TINY, "--backend", "cupy", "--workers", "2", "--out", tmp_path / "run")
    assert code == 2 and "with backend cupy the GPU does the work" in err and len(err.strip().splitlines()) == 1


def settings_of(folder):
    return train.load_checkpoint(folder / "checkpoint.npz")["args"], json.loads((folder / "metrics.json").read_text())


def test_the_worker_count_is_recorded_and_kept_by_resume_unless_given(capsys, tmp_path):
    out = tmp_path / "run"
    code, text, _ = run(capsys, *TINY, "--epochs", "1", "--out", out)
    cores = min(parallel.available_cores(), parallel.MAX_WORKERS)
    assert code == 0 and f"{cores} worker" in text
    args, metrics = settings_of(out)
    assert args["workers"] == metrics["config"]["workers"] == cores          # the default: the cores available

    code, text, _ = run(capsys, "train", "--resume", out / "checkpoint.npz", "--epochs", "2")
    assert code == 0 and "resuming with" not in text
    assert settings_of(out)[0]["workers"] == cores

    other = 1 if cores > 1 else 2
    code, text, err = run(capsys, "train", "--resume", out / "checkpoint.npz", "--epochs", "3", "--workers", other)
    assert code == 0, err
    assert f"resuming with {other} workers where the checkpoint was trained with {cores}" in text
    args, metrics = settings_of(out)
    assert args["workers"] == metrics["config"]["workers"] == other
    assert [h["epoch"] for h in metrics["epochs"]] == [1, 2, 3]


def test_one_and_two_workers_train_the_same_data_to_the_same_accuracy(capsys, tmp_path):
    results = {}
    for n in (1, 2):
        code, _, err = run(capsys, *TINY, "--epochs", "2", "--workers", n, "--out", tmp_path / str(n))
        assert code == 0, err
        results[n] = settings_of(tmp_path / str(n))[1]
    one, two = results[1]["epochs"], results[2]["epochs"]
    assert [h["samples"] for h in one] == [h["samples"] for h in two]
    assert two[-1]["train_loss"] == pytest.approx(one[-1]["train_loss"], rel=1e-3)   # round-off apart, no dropout
    assert two[-1]["test_accuracy"] == pytest.approx(one[-1]["test_accuracy"], abs=0.02)


def test_eval_splits_over_workers_and_gives_the_same_report(capsys, tmp_path):
    out = tmp_path / "run"
    assert run(capsys, *TINY, "--epochs", "1", "--out", out)[0] == 0
    reports = {}
    for n in ("1", "2"):
        code, text, err = run(capsys, "eval", out / "checkpoint.npz", "--limit", "300", "--json", "--workers", n)
        assert code == 0, err
        reports[n] = json.loads(text)
    assert reports["1"]["confusion_matrix"] == reports["2"]["confusion_matrix"]
    code, _, err = run(capsys, "eval", out / "checkpoint.npz", "--workers", "0")
    assert code == 2 and "--workers: must be from 1 to 64, got 0" in err and len(err.strip().splitlines()) == 1
    code, _, err = run(capsys, "eval", out / "checkpoint.npz", "--workers", "2", "--backend", "cupy")
    assert code == 2 and "with --backend cupy the GPU does the work" in err and len(err.strip().splitlines()) == 1
