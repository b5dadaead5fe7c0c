"""``tinynet.recipes`` and ``tinynet.runs``: the library builds what ``tinynet train`` runs.

The same settings, given to ``build_run`` or as options to the command, make the same model,
optimizer, schedule and data, and so the same first step and the same checkpoint.
"""
import json

import numpy as np
import pytest

from tinynet import cli, optim, train
from tinynet.recipes import RECIPES, TrainSettings
from tinynet.runs import build_run


def test_a_recipe_fills_in_the_settings_and_options_win():
    s = TrainSettings.from_recipe("r3", epochs=1, limit=None)
    assert (s.model, s.optimizer, s.lr, s.momentum, s.batch_size, s.normalize) == ("lenet", "sgd", 0.01, 0.9, 64,
                                                                                   "mnist")
    assert s.epochs == 1 and s.recipe == "r3" and s.seed == 0
    saved = TrainSettings.from_recipe("r1", epochs=5).as_dict()
    resumed = TrainSettings.from_recipe(saved=saved, lr=0.5)      # a resumed run keeps its recipe and settings
    assert resumed.recipe == "r1" and resumed.epochs == 5 and resumed.lr == 0.5 and resumed.model == "cnn_dropout"
    assert set(TrainSettings().as_dict()) >= {k for r in RECIPES.values() for k in r if k != "source"}


@pytest.mark.parametrize("bad, message", [
    (dict(model="resnet"), "model: 'resnet' is not one of"),
    (dict(lr=0), "lr must be a positive number"),
    (dict(momentum=0.9), "momentum applies to optimizer 'sgd' only"),
    (dict(batch_size=0), "batch_size must be a whole number, at least 1"),
    (dict(normalize="zscore"), "expected mnist, half, none or MEAN,STD"),
])
def test_settings_that_cannot_be_used_are_a_value_error(bad, message):
    with pytest.raises(ValueError, match=message):
        build_run(TrainSettings(**bad))
    with pytest.raises(ValueError, match="unknown recipe 'r9'"):
        TrainSettings.from_recipe("r9")


def test_build_run_of_a_recipe():
    run = build_run(TrainSettings.from_recipe("r1", epochs=1, limit=200))
    assert [type(m).__name__ for m in run.model][-2:] == ["Dropout", "Linear"]
    assert isinstance(run.optimizer, optim.Adam) and run.optimizer.param_groups[0]["lr"] == 1e-3
    assert run.scheduler is None and run.train_loader.batch_size == 100 and len(run.train_set) == 200
    assert "Normalize(mean=[0.5], std=[0.5])" in repr(run.train_set.transform)
    cosine = build_run({"model": "mlp", "schedule": "cosine", "epochs": 4, "limit": 100, "optimizer": "sgd",
                        "lr": 0.1, "momentum": 0.5})
    assert isinstance(cosine.scheduler, optim.lr_scheduler.CosineAnnealingLR)
    assert isinstance(cosine.optimizer, optim.SGD) and cosine.optimizer.param_groups[0]["momentum"] == 0.5


def first_step_loss(run):
    """The loss of the run's first training step."""
    import tinynet.functional as F
    from tinynet.tensor import Tensor
    run.train_loader.set_epoch(0)
    x, y = next(iter(run.train_loader))
    run.model.train()
    loss = F.cross_entropy(run.model(x if isinstance(x, Tensor) else Tensor(x)), y)
    return float(loss.item())


def test_the_library_and_the_command_make_the_same_run(tmp_path, capsys):
    """``tinynet train --recipe r3 …`` and ``build_run(from_recipe("r3", …)).fit()``: the same settings,
    first-step loss, weights and history, bit for bit."""
    options = dict(epochs=1, limit=256, batch_size=32, seed=3)
    argv = ["train", "--recipe", "r3", "--epochs", "1", "--limit", "256", "--batch-size", "32", "--seed", "3",
            "--out", str(tmp_path / "cli"), "--no-plots"]
    assert cli.main(argv) == 0
    capsys.readouterr()
    ckpt = train.load_checkpoint(tmp_path / "cli" / "checkpoint.npz")
    settings = TrainSettings.from_recipe("r3", **options)
    fresh = build_run(settings)
    assert settings.workers is None and fresh.settings.workers >= 1          # the cores available, recorded
    assert ckpt["args"] == fresh.settings.as_dict() == {**settings.as_dict(), "workers": fresh.settings.workers}
    assert json.loads((tmp_path / "cli" / "metrics.json").read_text())["config"] == fresh.settings.as_dict()

    loss = first_step_loss(fresh)
    run = build_run(settings)
    assert first_step_loss(run) == loss                       # the same seed: the same model and first batch
    run = build_run(settings)
    history = run.fit(progress=False, log=None)
    assert history[0]["train_loss"] == ckpt["history"][0]["train_loss"]
    assert history[0]["test_accuracy"] == ckpt["history"][0]["test_accuracy"]
    for name, w in run.model.state_dict().items():
        np.testing.assert_array_equal(w.numpy(), ckpt["model"][name].numpy(), err_msg=name)


def test_build_run_continues_a_checkpoint(tmp_path, capsys):
    """A checkpoint given to ``build_run`` continues as ``tinynet train --resume`` does."""
    common = ["--model", "mlp", "--limit", "200", "--batch-size", "50", "--no-plots", "--schedule", "cosine"]
    assert cli.main(["train", *common, "--epochs", "1", "--out", str(tmp_path / "a")]) == 0
    assert cli.main(["train", "--resume", str(tmp_path / "a" / "checkpoint.npz"), "--epochs", "2"]) == 0
    capsys.readouterr()
    ckpt = train.load_checkpoint(tmp_path / "a" / "checkpoint.npz")        # now 2 epochs
    settings = TrainSettings.from_recipe(saved=ckpt["args"])
    assert cli.main(["train", *common, "--epochs", "1", "--out", str(tmp_path / "b")]) == 0
    capsys.readouterr()
    first = train.load_checkpoint(tmp_path / "b" / "checkpoint.npz")
    run = build_run(settings, first)
    assert run.epochs_done == 1 and len(run.history) == 1
    run.fit(progress=False, log=None)
    assert [h["lr"] for h in run.history] == [h["lr"] for h in ckpt["history"]]
    for name, w in run.model.state_dict().items():
        np.testing.assert_array_equal(w.numpy(), ckpt["model"][name].numpy(), err_msg=name)


def test_a_schedule_added_on_resume_starts_from_the_current_rate(tmp_path):
    from tinynet.recipes import TrainSettings
    from tinynet.runs import build_run
    from tinynet import train
    run = build_run(TrainSettings(model="mlp", epochs=1, limit=200, lr=0.01))
    run.fit()
    path = tmp_path / "c.npz"
    train.save_checkpoint(path, run.model, run.optimizer, 1, "mlp", run.history, run.settings.as_dict())
    resumed = build_run(TrainSettings(model="mlp", epochs=3, limit=200, lr=0.01, schedule="cosine"),
                        train.load_checkpoint(path))
    assert resumed.scheduler is not None and resumed.optimizer.param_groups[0]["initial_lr"] == 0.01


def test_a_learning_rate_given_on_resume_is_the_one_used(tmp_path):
    from tinynet.recipes import TrainSettings
    from tinynet.runs import build_run
    from tinynet import train
    run = build_run(TrainSettings(model="mlp", epochs=1, limit=200, lr=1e-3))
    run.fit()
    path = tmp_path / "c.npz"
    train.save_checkpoint(path, run.model, run.optimizer, 1, "mlp", run.history, run.settings.as_dict())
    again = build_run(TrainSettings(model="mlp", epochs=2, limit=200, lr=1e-3), train.load_checkpoint(path))
    faster = build_run(TrainSettings(model="mlp", epochs=2, limit=200, lr=0.05), train.load_checkpoint(path))
    assert again.optimizer.param_groups[0]["lr"] == 1e-3 and faster.optimizer.param_groups[0]["lr"] == 0.05
