"""No run lost, none overwritten, and an exact resume after Ctrl-C (``tinynet train``).

Runs are tiny (the MLP on a few hundred images) so that each takes well under a second. Ctrl-C is a
real SIGINT sent to this process from inside the run (in ``optimizer.step``, in evaluation, during
the save), plus one subprocess interrupted from outside as a user would.
"""
import errno
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from tinynet import cli, optim, run_folder, train
from cli_run import run

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = ["--model", "mlp", "--limit", "300", "--batch-size", "50", "--augment", "--no-plots"]   # 6 steps an epoch




def one_error_line(err, command="train"):
    """``err`` holds one error line (besides the progress bar's lines) and no traceback."""
    lines = [line for line in err.strip().splitlines() if not re.match(r"epoch \d+/\d+ \[", line)]
    return len(lines) == 1 and lines[0].startswith(f"tinynet {command}: error: ") and "Traceback" not in err


def weights(path):
    return {k: v.numpy() for k, v in train.load_checkpoint(path)["model"].items()}


def assert_same_run(a, b):
    """Two run folders hold bit-identical weights and the same losses, epoch by epoch."""
    wa, wb = weights(a / "checkpoint.npz"), weights(b / "checkpoint.npz")
    assert wa.keys() == wb.keys()
    for k in wa:
        np.testing.assert_array_equal(wa[k], wb[k], err_msg=k)
    ha, hb = train.load_checkpoint(a / "checkpoint.npz")["history"], train.load_checkpoint(b / "checkpoint.npz")["history"]
    keys = ("epoch", "lr", "train_loss", "train_accuracy", "samples", "test_loss", "test_accuracy")
    assert [[h[k] for k in keys] for h in ha] == [[h[k] for k in keys] for h in hb]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The uninterrupted run of 3 epochs every interrupted one must equal."""
    out = tmp_path_factory.mktemp("ref") / "run"
    assert cli.main(["train", *TINY, "--epochs", "3", "--out", str(out)]) == 0
    return out


# --- --out is checked before any work -------------------------------------------------------------

def test_out_that_is_a_file_or_inside_one_is_one_line(capsys, tmp_path):
    afile = tmp_path / "notes.txt"
    afile.write_text("mine")
    for out, message in ((afile, "is a file, not a folder"), (afile / "run", "is a file, not a folder")):
        code, stdout, err = run(capsys, "train", *TINY, "--out", out)
        assert code == 2 and stdout == "" and one_error_line(err) and message in err and str(afile) in err
    assert afile.read_text() == "mine"


def test_unwritable_out_is_one_line_before_training(capsys, tmp_path, monkeypatch):
    def refused(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(run_folder.tempfile, "mkstemp", refused)
    code, stdout, err = run(capsys, "train", *TINY, "--out", tmp_path / "run")
    assert code == 2 and stdout == "" and one_error_line(err)
    assert "cannot write in" in err and "Permission denied" in err


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root may write anywhere")
def test_read_only_folder_is_refused(capsys, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        code, stdout, err = run(capsys, "train", *TINY, "--out", locked / "run")
    finally:
        locked.chmod(0o700)
    assert code == 2 and stdout == "" and one_error_line(err) and "Permission denied" in err


def test_a_finished_run_survives_a_second_train_into_its_folder(capsys, tmp_path):
    out = tmp_path / "run"
    assert run(capsys, "train", *TINY, "--epochs", "1", "--out", out)[0] == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    for extra in ([], ["--model", "lenet"], ["--epochs", "2"]):
        code, stdout, err = run(capsys, "train", *TINY, *extra, "--out", out)
        assert code == 2 and stdout == "" and one_error_line(err)
        assert "already holds a run" in err and "--resume" in err and "--force" in err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_the_default_out_is_protected_too(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert run(capsys, "train", *TINY, "--epochs", "1")[0] == 0
    kept = (tmp_path / "runs" / "mlp" / "checkpoint.npz").read_bytes()
    code, _, err = run(capsys, "train", *TINY, "--epochs", "1")
    assert code == 2 and "runs/mlp already holds a run" in err
    assert (tmp_path / "runs" / "mlp" / "checkpoint.npz").read_bytes() == kept


def test_force_replaces_the_run(capsys, tmp_path):
    out = tmp_path / "run"
    assert run(capsys, "train", *TINY, "--epochs", "1", "--out", out)[0] == 0
    (out / "confusion.png").write_bytes(b"an old plot")
    (out / "my-notes.txt").write_text("not a run file")
    code, _, _ = run(capsys, "train", *TINY, "--epochs", "2", "--seed", "5", "--out", out, "--force")
    assert code == 0
    ckpt = train.load_checkpoint(out / "checkpoint.npz")
    assert ckpt["epoch"] == 2 and ckpt["args"]["seed"] == 5
    assert not (out / "confusion.png").exists()            # --no-plots: the old run's plot is gone
    assert (out / "my-notes.txt").read_text() == "not a run file"


def test_resume_may_write_its_own_folder_but_not_another_run(capsys, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for out in (a, b):
        assert run(capsys, "train", *TINY, "--epochs", "1", "--out", out)[0] == 0
    kept = (b / "checkpoint.npz").read_bytes()
    code, _, err = run(capsys, "train", "--resume", a / "checkpoint.npz", "--epochs", "2", "--out", b)
    assert code == 2 and one_error_line(err) and f"{b} already holds a run" in err
    assert (b / "checkpoint.npz").read_bytes() == kept
    code, _, _ = run(capsys, "train", "--resume", a / "checkpoint.npz", "--epochs", "2")
    assert code == 0 and train.load_checkpoint(a / "checkpoint.npz")["epoch"] == 2


def test_leftovers_of_interrupted_saves_are_cleaned(capsys, tmp_path):
    out = tmp_path / "run"
    assert run(capsys, "train", *TINY, "--epochs", "1", "--out", out)[0] == 0
    leftovers = [out / ".tmp-checkpoint.npz-a1b2c3", out / ".tmp-checkpoint.npz-x9"]
    for p in leftovers:
        p.write_bytes(b"half a checkpoint")
    (out / ".tmp-other-file").write_bytes(b"not ours")
    code, _, err = run(capsys, "train", "--resume", out / "checkpoint.npz", "--epochs", "2")
    assert code == 0 and "removed 2 leftover file(s)" in err
    assert not any(p.exists() for p in leftovers) and (out / ".tmp-other-file").exists()
    fresh = tmp_path / "fresh"                                # a first save that never finished
    fresh.mkdir()
    (fresh / ".tmp-checkpoint.npz-zz").write_bytes(b"")
    assert run(capsys, "train", *TINY, "--epochs", "1", "--out", fresh)[0] == 0
    assert sorted(p.name for p in fresh.iterdir()) == ["checkpoint.npz", "metrics.json"]


def test_a_failed_save_keeps_the_previous_checkpoint(capsys, tmp_path, monkeypatch):
    out = tmp_path / "run"
    real, calls = os.fsync, []

    def disk_full_on_the_second_save(fd):
        calls.append(fd)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(fd)

    monkeypatch.setattr(os, "fsync", disk_full_on_the_second_save)
    code, _, err = run(capsys, "train", *TINY, "--epochs", "3", "--out", out)
    assert code == 1 and one_error_line(err)
    assert "could not save" in err and "No space left on device" in err and "previous checkpoint is kept" in err
    assert train.load_checkpoint(out / "checkpoint.npz")["epoch"] == 1
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint.npz"]      # no temporary file left


def test_negative_seed_is_one_line(capsys):
    for command in (["train"], ["finetune", "--task", "mnist", "--method", "scratch"]):
        code, _, err = run(capsys, *command, "--seed", "-1")
        assert code == 2 and "argument --seed: must be 0 or more, got -1" in err and len(err.splitlines()) == 1


# --- Ctrl-C ---------------------------------------------------------------------------------------

def ctrl_c():
    os.kill(os.getpid(), signal.SIGINT)


def test_ctrl_c_in_a_step_resumes_exactly(capsys, tmp_path, monkeypatch, reference):
    """SIGINT arrives inside optimizer.step of epoch 2, step 4: the step finishes, the position is saved."""
    out, real, steps = tmp_path / "run", optim.Adam.step, []

    def step(self):
        steps.append(1)
        if len(steps) == 6 + 4:
            ctrl_c()
        return real(self)

    monkeypatch.setattr(optim.Adam, "step", step)
    code, _, err = run(capsys, "train", *TINY, "--epochs", "3", "--out", out)
    monkeypatch.undo()
    assert code == 130 and "Traceback" not in err
    assert "1 full epochs and 4 of 6 steps of epoch 2" in err and f"--resume {out / 'checkpoint.npz'}" in err
    ckpt = train.load_checkpoint(out / "checkpoint.npz")
    assert ckpt["epoch"] == 1 and ckpt["extra"]["position"]["step"] == 4 and ckpt["extra"]["interrupted"]
    code, stdout, _ = run(capsys, "train", "--resume", out / "checkpoint.npz", "--epochs", "3", "--no-plots")
    assert code == 0 and "continuing epoch 2 after step 4" in stdout
    assert_same_run(out, reference)


def test_ctrl_c_in_evaluation_resumes_without_training_the_epoch_again(capsys, tmp_path, monkeypatch, reference):
    out, real, evaluations = tmp_path / "run", train.evaluate, []

    def interrupted_second_evaluation(model, loader, *args, **kwargs):
        evaluations.append(1)
        if len(evaluations) == 2:
            ctrl_c()
        return real(model, loader, *args, **kwargs)

    monkeypatch.setattr(train, "evaluate", interrupted_second_evaluation)
    code, _, err = run(capsys, "train", *TINY, "--epochs", "3", "--out", out)
    monkeypatch.undo()
    assert code == 130 and "6 of 6 steps of epoch 2" in err
    ckpt = train.load_checkpoint(out / "checkpoint.npz")
    assert ckpt["epoch"] == 1 and [h["epoch"] for h in ckpt["history"]] == [1]

    steps, real_step = [], optim.Adam.step
    monkeypatch.setattr(optim.Adam, "step", lambda self: (steps.append(1), real_step(self))[1])
    code, stdout, _ = run(capsys, "train", "--resume", out / "checkpoint.npz", "--epochs", "3", "--no-plots")
    assert code == 0 and len(steps) == 6                       # only epoch 3 is trained
    assert_same_run(out, reference)


def test_a_second_ctrl_c_during_the_save_loses_nothing(capsys, tmp_path, monkeypatch):
    out, real_save, real_step, steps = tmp_path / "run", train.save_checkpoint, optim.Adam.step, []

    def step(self):
        steps.append(1)
        if len(steps) == 3:
            ctrl_c()
        return real_step(self)

    def impatient_save(*args, **kwargs):
        if kwargs.get("interrupted"):
            ctrl_c()                                           # pressed again while the checkpoint is written
            ctrl_c()
        return real_save(*args, **kwargs)

    monkeypatch.setattr(optim.Adam, "step", step)
    monkeypatch.setattr(train, "save_checkpoint", impatient_save)
    before = signal.getsignal(signal.SIGINT)    # SIG_IGN when pytest runs as a background job
    code, _, err = run(capsys, "train", *TINY, "--epochs", "2", "--out", out)
    assert code == 130 and "Traceback" not in err and "please wait" in err and "interrupted: saved" in err
    assert train.load_checkpoint(out / "checkpoint.npz")["extra"]["position"]["step"] == 3
    assert signal.getsignal(signal.SIGINT) is before                 # the handler is put back


def test_keyboard_interrupt_from_elsewhere_keeps_the_epoch_checkpoint(capsys, tmp_path, monkeypatch):
    """A KeyboardInterrupt that is not the Ctrl-C handler's (raised by some code) leaves the last
    clean end-of-epoch checkpoint as it was, rather than saving a half-done step."""
    out, real = tmp_path / "run", train.train_epoch

    def broken_in_epoch(n):
        def train_epoch(model, optimizer, loader, loss_fn, epoch, *args, **kwargs):
            if epoch == n:
                raise KeyboardInterrupt
            return real(model, optimizer, loader, loss_fn, epoch, *args, **kwargs)
        return train_epoch

    monkeypatch.setattr(train, "train_epoch", broken_in_epoch(2))
    code, _, err = run(capsys, "train", *TINY, "--epochs", "3", "--out", out)
    assert code == 130 and "keeps epoch 1" in err and "Traceback" not in err
    ckpt = train.load_checkpoint(out / "checkpoint.npz")
    assert ckpt["epoch"] == 1 and ckpt["extra"] == {}
    monkeypatch.setattr(train, "train_epoch", broken_in_epoch(1))
    code, _, err = run(capsys, "train", *TINY, "--epochs", "3", "--out", tmp_path / "other")
    assert code == 130 and "nothing saved" in err and not (tmp_path / "other" / "checkpoint.npz").exists()


def test_ctrl_c_again_and_again_to_the_real_command(tmp_path):
    """As a user does it: the console command, SIGINT again and again while it trains; then resume to the end."""
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "tinynet.cli", "train", "--model", "lenet", "--limit", "3000", "--epochs", "2",
           "--no-plots", "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": ROOT}
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env)
    assert p.stdout.readline().startswith("training lenet")    # the data is loaded, training starts
    time.sleep(0.5)
    for _ in range(6):                  # an impatient user: during the step, the save and the way out
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
        time.sleep(0.05)
    stdout, stderr = p.communicate(timeout=120)
    assert p.returncode == 130 and "Traceback" not in stderr and "interrupted: saved" in stderr, stderr[-2000:]
    ckpt = train.load_checkpoint(out / "checkpoint.npz")
    assert ckpt["extra"]["interrupted"] and ckpt["extra"]["position"]["step"] >= 1
    r = subprocess.run([sys.executable, "-m", "tinynet.cli", "train", "--resume", str(out / "checkpoint.npz"),
                        "--epochs", "2", "--no-plots"], capture_output=True, text=True, cwd=ROOT, env=env)
    assert r.returncode == 0 and "continuing epoch" in r.stdout
    assert [h["epoch"] for h in train.load_checkpoint(out / "checkpoint.npz")["history"]] == [1, 2]


# --- tinynet predict --save-input -----------------------------------------------------------------

def mlp_and_a_stroke(tmp_path):
    """(an untrained mlp's checkpoint, a PNG of one white vertical stroke on black) in tmp_path."""
    import matplotlib.image
    from tinynet import models
    ckpt, image = tmp_path / "ck.npz", tmp_path / "seven.png"
    train.save_checkpoint(ckpt, models.mlp(), None, 1, "mlp")
    page = np.zeros((40, 40))
    page[8:32, 18:22] = 1
    matplotlib.image.imsave(image, page, cmap="gray")
    return ckpt, image


def test_save_input_into_a_missing_folder_is_one_line(capsys, tmp_path):
    ckpt, image = mlp_and_a_stroke(tmp_path)
    code, stdout, err = run(capsys, "predict", ckpt, image, "--save-input", tmp_path / "no" / "seen.png")
    assert code == 2 and stdout == "" and one_error_line(err, "predict") and "does not exist" in err
    code, _, err = run(capsys, "predict", ckpt, image, "--save-input", tmp_path / "seen.unknownformat")
    assert code == 2 and one_error_line(err, "predict") and "cannot write it" in err
    code, stdout, _ = run(capsys, "predict", ckpt, image, "--save-input", tmp_path / "seen.png")
    assert code == 0 and (tmp_path / "seen.png").stat().st_size > 0 and stdout.startswith(str(image))


def test_save_input_is_enlarged_pixel_for_pixel_and_scale_1_is_the_raw_28x28(capsys, tmp_path):
    from PIL import Image
    ckpt, image = mlp_and_a_stroke(tmp_path)
    sizes = {}
    for scale in (None, 1, 3):
        out = tmp_path / f"seen{scale}.png"
        code, _, _ = run(capsys, "predict", ckpt, image, "--save-input", out,
                         *(["--save-input-scale", str(scale)] if scale else []))
        assert code == 0
        with Image.open(out) as im:
            sizes[scale] = np.asarray(im.convert("L"))
    assert sizes[None].shape == (280, 280) and sizes[1].shape == (28, 28) and sizes[3].shape == (84, 84)
    raw = sizes[1]
    assert raw.max() > 200 and raw.min() < 50                         # a white stroke on black
    assert np.array_equal(sizes[3], raw.repeat(3, 0).repeat(3, 1))    # nearest neighbour: no smoothing
    assert np.array_equal(sizes[None], raw.repeat(10, 0).repeat(10, 1))


@pytest.mark.parametrize("value", ["0", "41", "-1", "2.5", "x", "", "1e9"])
def test_a_bad_save_input_scale_is_one_line(capsys, tmp_path, value):
    code, stdout, err = run(capsys, "predict", tmp_path / "ck.npz", tmp_path / "a.png", "--save-input",
                            tmp_path / "s.png", "--save-input-scale", value)
    assert code == 2 and stdout == "" and one_error_line(err, "predict") and "--save-input-scale" in err
    assert not (tmp_path / "s.png").exists()


def test_save_input_scale_without_save_input_is_one_line(capsys, tmp_path):
    code, stdout, err = run(capsys, "predict", tmp_path / "ck.npz", tmp_path / "a.png", "--save-input-scale", "3")
    assert code == 2 and stdout == "" and one_error_line(err, "predict") and "give --save-input" in err


def test_a_mid_epoch_checkpoint_needs_its_own_data_order_and_a_sound_position(capsys, tmp_path, monkeypatch):
    out, real, steps = tmp_path / "run", optim.Adam.step, []
    monkeypatch.setattr(optim.Adam, "step", lambda self: (steps.append(1), len(steps) == 2 and ctrl_c(),
                                                          real(self))[2])
    assert run(capsys, "train", *TINY, "--epochs", "2", "--out", out)[0] == 130
    monkeypatch.undo()
    code, _, err = run(capsys, "train", "--resume", out / "checkpoint.npz", "--epochs", "2", "--batch-size", "30")
    assert code == 2 and one_error_line(err) and "stopped in the middle of epoch 1" in err and "--batch-size" in err
    ckpt = train.load_checkpoint(out / "checkpoint.npz")
    from tinynet import models
    model = models.mlp()
    model.load_state_dict(ckpt["model"])
    for bad in ({**ckpt["extra"]["position"], "step": 99}, {**ckpt["extra"]["position"], "epoch": "1"}, [1, 2]):
        path = tmp_path / "bad" / "checkpoint.npz"
        train.save_checkpoint(path, model, None, 0, "mlp", [], ckpt["args"], interrupted=True, position=bad)
        code, _, err = run(capsys, "train", "--resume", path, "--epochs", "2", "--no-plots")
        assert code == 2 and one_error_line(err) and "position within epoch 1 is damaged" in err
