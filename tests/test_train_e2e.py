"""tinynet.train: a short real training run, checkpoint/resume, NaN detection, the progress bar."""
import io

import numpy as np
import pytest

import tinynet as tn
import tinynet.functional as F
from tinynet import data, models, nn, optim, train


def test_short_run_on_real_mnist_beats_90_percent():
    """LeNet, 5,000 training images, 2 epochs (about 10 s on an idle core): at least 90 % on 2,000
    test images (it reaches about 93.5 %)."""
    tn.manual_seed(0)
    norm = data.Normalize(0.1307, 0.3081)
    train_loader = data.DataLoader(data.mnist("train", norm, limit=5000), 32, shuffle=True, seed=0)
    test_loader = data.DataLoader(data.mnist("test", norm, limit=2000), 500)
    model = models.lenet()
    history = train.fit(model, optim.Adam(model.parameters(), lr=3e-3), train_loader, test_loader, epochs=2,
                        progress=False, log=None)
    assert [r["epoch"] for r in history] == [1, 2]
    assert history[1]["train_loss"] < history[0]["train_loss"]
    assert history[-1]["test_accuracy"] > 0.90
    result = train.evaluate(model, test_loader)
    assert result["accuracy"] == pytest.approx(history[-1]["test_accuracy"])
    assert result["predictions"].shape == result["labels"].shape == (2000,)
    assert model.training                                     # evaluate restores the mode


def small_setup(seed=0):
    """A tiny model with dropout, trained on augmented random data: every random draw matters."""
    tn.manual_seed(seed)
    rng = np.random.default_rng(0)
    x, y = rng.random((96, 1, 8, 8), dtype=np.float32), rng.integers(0, 3, 96)
    ds = data.TensorDataset(x, y, transform=data.RandomAffine(degrees=20))
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 3))
    opt = optim.Adam(model.parameters(), lr=1e-2)
    return model, opt, data.DataLoader(ds, 32, shuffle=True, seed=1)


def test_resuming_from_a_checkpoint_repeats_the_uninterrupted_run_exactly(tmp_path):
    model, opt, loader = small_setup()
    full = train.fit(model, opt, loader, epochs=3, progress=False, log=None)

    model2, opt2, loader2 = small_setup()
    train.fit(model2, opt2, loader2, epochs=1, progress=False, log=None)
    path = tmp_path / "ck.npz"
    train.save_checkpoint(path, model2, opt2, epoch=1, model_name="tiny", history=[{"epoch": 1}], args={"lr": 0.01})
    tn.manual_seed(123)                                      # disturb the generator: the checkpoint restores it

    model3, opt3, loader3 = small_setup(seed=99)             # different initial weights
    ckpt = train.load_checkpoint(path)
    assert ckpt["epoch"] == 1 and ckpt["model_name"] == "tiny" and ckpt["args"] == {"lr": 0.01}
    assert ckpt["history"] == [{"epoch": 1}]
    model3.load_state_dict(ckpt["model"])
    opt3.load_state_dict(ckpt["optimizer"])
    train.restore_rng(ckpt)
    resumed = train.fit(model3, opt3, loader3, epochs=3, start_epoch=1, progress=False, log=None)
    assert [r["epoch"] for r in resumed] == [2, 3]
    for (k, a), (_, b) in zip(model.state_dict().items(), model3.state_dict().items()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=k)
    assert resumed[-1]["train_loss"] == full[-1]["train_loss"]


def test_load_checkpoint_rejects_other_files(tmp_path):
    path = tmp_path / "weights.npz"
    tn.save(models.lenet().state_dict(), path)
    with pytest.raises(ValueError, match="not a tinynet training checkpoint"):
        train.load_checkpoint(path)


def test_nan_loss_stops_training_naming_the_step_and_suggesting_a_lower_lr():
    model, opt, loader = small_setup()
    calls = []

    def poisoned_loss(logits, y, **kw):                      # the 3rd batch makes the loss NaN
        calls.append(1)
        return F.cross_entropy(logits * (float("nan") if len(calls) == 3 else 1.0), y, **kw)

    history = []
    with pytest.raises(train.NonFiniteLossError, match=r"epoch 1, step 3 of 3.*lower learning rate.*lr=0.01"):
        train.fit(model, opt, loader, epochs=2, loss_fn=poisoned_loss, history=history, progress=False, log=None)
    assert history == []


def test_a_huge_learning_rate_stops_training_although_the_loss_stays_finite():
    """Adam at lr 10⁶ drives the loss to ~10²³ without overflowing: still a divergence."""
    model, _, loader = small_setup()
    opt = optim.Adam(model.parameters(), lr=1e6)
    history = []
    with pytest.raises(train.DivergenceError, match=r"became .*e\+\d+, more than 1000 times its first value.*"
                                                    r"epoch 1, step \d of 3.*lr=1000000.0"):
        train.fit(model, opt, loader, epochs=3, history=history, progress=False, log=None)
    assert history == []
    assert train.NonFiniteLossError is train.DivergenceError       # the CLI's exit code 1 covers both


@pytest.mark.parametrize("losses, stops_at", [
    ([2.3, 2.0, 2299.0], None),            # under 1000 x the first loss: an ordinary spike
    ([2.3, 2.0, 2301.0], 3),
    ([0.001, 0.5, 999.0], None),           # a resumed run at a tiny loss: the limit is 1000 x 1, not 1000 x 0.001
    ([0.001, 1001.0], 2),
    ([float("nan")], 1),
    ([2.3, float("-inf")], 2),
    ([float("nan"), 5.0], 1),
])
def test_divergence_check_limits(losses, stops_at):
    check = train.DivergenceCheck()
    for step, value in enumerate(losses, start=1):
        if step == stops_at:
            with pytest.raises(train.DivergenceError, match=f"step {step} of {len(losses)}"):
                check(value, 1, step, len(losses), 0.1)
            return
        check(value, 1, step, len(losses), 0.1)
    assert stops_at is None


def test_the_first_loss_is_kept_across_epochs():
    """fit shares one check: epoch 2's loss is compared with epoch 1's first, not its own."""
    model, opt, loader = small_setup()
    seen = []

    def loss(logits, y, **kw):
        seen.append(1)
        value = F.cross_entropy(logits, y, **kw)
        return value * 3000.0 if len(seen) == 4 else value     # the first step of epoch 2

    with pytest.raises(train.DivergenceError, match="epoch 2, step 1 of 3"):
        train.fit(model, opt, loader, epochs=2, loss_fn=loss, progress=False, log=None)


def test_fit_keeps_history_of_finished_epochs_when_interrupted():
    model, opt, loader = small_setup()
    history = []

    def stop_in_second_epoch(record, evaluation):
        if record["epoch"] == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train.fit(model, opt, loader, epochs=5, history=history, progress=False, log=None,
                  on_epoch_end=stop_in_second_epoch)
    assert [r["epoch"] for r in history] == [1, 2]


def test_progress_bar_plain_lines_when_not_a_terminal():
    out = io.StringIO()
    bar = train.Progress(100, "epoch 1/1", stream=out)
    for _ in range(10):
        bar.update(10, loss=0.5)
    bar.close()
    lines = out.getvalue().splitlines()
    assert len(lines) == 4 and "\r" not in out.getvalue()
    assert lines[-1].startswith("epoch 1/1 [########################] 100/100")
    assert "samples/s" in lines[-1] and "loss 0.5000" in lines[-1] and "ETA 0:00" in lines[-1]


def test_epoch_record_fields():
    model, opt, loader = small_setup()
    record = train.fit(model, opt, loader, loader, epochs=1, progress=False, log=None)[0]
    assert set(record) == {"epoch", "lr", "train_loss", "train_accuracy", "samples", "seconds", "samples_per_second",
                           "test_loss", "test_accuracy"}
    assert record["samples"] == 96 and 0 <= record["train_accuracy"] <= 1


def _stop_after(n):
    """A ``should_stop`` that says True from its n-th question on."""
    asked = []
    return lambda: asked.append(1) or len(asked) >= n


@pytest.mark.parametrize("stop_at", [2, 3 + 1, 3 + 3 + 1], ids=["in a step", "in the 1st epoch's evaluation",
                                                                "in a step after that evaluation"])
def test_fit_stopped_between_steps_resumes_bit_for_bit(tmp_path, stop_at):
    """Stopped anywhere (3 steps an epoch, one evaluation batch), saved, loaded into a fresh
    model, continued: the same weights and the same history as the run that never stopped."""
    model, opt, loader = small_setup()
    test_loader = data.DataLoader(data.TensorDataset(*loader.dataset.arrays), 96)
    full = train.fit(model, opt, loader, test_loader, epochs=3, progress=False, log=None)

    model2, opt2, loader2 = small_setup()
    history = []
    with pytest.raises(train.TrainingInterrupted) as stopped:
        train.fit(model2, opt2, loader2, test_loader, epochs=3, history=history, progress=False, log=None,
                  should_stop=_stop_after(stop_at))
    position = stopped.value.position
    path = tmp_path / "ck.npz"
    train.save_checkpoint(path, model2, opt2, len(history), "tiny", history, position=position)
    tn.manual_seed(123)

    model3, opt3, loader3 = small_setup(seed=99)
    ckpt = train.load_checkpoint(path)
    model3.load_state_dict(ckpt["model"])
    opt3.load_state_dict(ckpt["optimizer"])
    train.restore_rng(ckpt)
    resumed = train.fit(model3, opt3, loader3, test_loader, epochs=3, start_epoch=ckpt["epoch"],
                        history=ckpt["history"], position=ckpt["extra"]["position"], progress=False, log=None)
    for (k, a), (_, b) in zip(model.state_dict().items(), model3.state_dict().items()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=k)
    keys = ("epoch", "train_loss", "train_accuracy", "samples", "test_loss", "test_accuracy")
    assert [[r[k] for k in keys] for r in resumed] == [[r[k] for k in keys] for r in full]


def test_a_stop_in_evaluation_gives_the_position_after_the_last_step():
    model, opt, loader = small_setup()
    test_loader = data.DataLoader(data.TensorDataset(*loader.dataset.arrays), 32)
    with pytest.raises(train.TrainingInterrupted) as stopped:
        train.fit(model, opt, loader, test_loader, epochs=2, progress=False, log=None, should_stop=_stop_after(4))
    assert stopped.value.position["epoch"] == 1 and stopped.value.position["step"] == 3
    assert stopped.value.position["seen"] == 96 and model.training      # the model is put back in training mode
