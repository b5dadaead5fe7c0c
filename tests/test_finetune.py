"""Freezing, heads, parameter groups and loading for fine-tuning (tinynet.finetune)."""
import importlib

import numpy as np
import pytest

import tinynet as tn
import tinynet.nn as nn
from tinynet import finetune, optim
from tinynet.nn import ShapeError, StateDictError

conv_ops = importlib.import_module("tinynet.ops.conv")        # the modules (``tinynet.ops.linear`` is
linear_ops = importlib.import_module("tinynet.ops.linear")    # also the name of the function)


def articles_cnn():
    """The articles' padded 32/64 CNN (M-D, 421,642 parameters), built here so the test stands alone."""
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10))


def small_cnn(classes=3):
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(4, 6, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(6 * 2 * 2, 8), nn.ReLU(), nn.Linear(8, classes))


def batch(n=6, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    x = tn.Tensor(rng.standard_normal((n, 1, 8, 8)).astype("float32"))
    y = tn.Tensor(rng.integers(0, classes, n))
    return x, y


def snapshot(model):
    return {k: v.numpy().copy() for k, v in model.state_dict().items()}


def train_steps(model, opt, steps=3, classes=3):
    for s in range(steps):
        x, y = batch(classes=classes, seed=s)
        opt.zero_grad()
        tn.functional.cross_entropy(model(x), y).backward()
        opt.step()


# --- requires_grad, freeze, unfreeze --------------------------------------------------------------

def test_parameter_and_module_requires_grad():
    layer = nn.Linear(3, 2)
    assert layer.weight.requires_grad and nn.Parameter(tn.zeros(2), requires_grad=False).requires_grad is False
    layer(tn.randn(4, 3)).sum().backward()
    assert layer.weight.grad is not None
    assert layer.requires_grad_(False) is layer
    assert not any(p.requires_grad for p in layer.parameters())
    assert layer.weight.grad is None                    # freezing drops a stale gradient
    layer.unfreeze()
    assert all(p.requires_grad for p in layer.parameters())
    layer.freeze()
    assert layer.num_parameters(trainable_only=True) == 0 and layer.num_parameters() == 8


def test_freeze_by_prefix_matches_whole_components():
    model = nn.Sequential(*[nn.Linear(2, 2) for _ in range(11)])
    assert finetune.freeze(model, "1") == ["1.weight", "1.bias"]        # not "10.weight"
    assert model[10].weight.requires_grad and not model[1].weight.requires_grad
    assert finetune.freeze(model, ["0.weight", 10]) == ["0.weight", "10.weight", "10.bias"]
    assert model[0].bias.requires_grad
    assert len(finetune.unfreeze(model)) == 22
    assert all(p.requires_grad for p in model.parameters())
    assert len(finetune.freeze(model)) == 22 and model.num_parameters(trainable_only=True) == 0


def test_freeze_nested_names():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU())
            self.head = nn.Linear(2, 2)
    net = Net()
    assert finetune.freeze(net, "features") == ["features.0.weight", "features.0.bias"]
    assert net.head.weight.requires_grad


def test_unknown_prefix_is_a_clear_error():
    with pytest.raises(ValueError, match=r"named '12'.*layers with parameters: 0, 3, 7, 9$"):
        finetune.freeze(articles_cnn(), "12")
    with pytest.raises(ValueError, match="named 'fc'"):
        finetune.unfreeze(articles_cnn(), ["0", "fc"])


def test_trainable_summary_counts_the_articles_cnn():
    model = articles_cnn()
    finetune.freeze(model, ["0", "3"])
    text = finetune.trainable_summary(model, quiet=True)
    assert "trainable: 402,826 of 421,642" in text                      # claim A70
    rows = {line.split()[0]: line.split()[1:] for line in text.splitlines()[1:-2]}
    assert rows["0"] == ["Conv2d", "0", "320"] and rows["7"] == ["Linear", "401,536", "0"]
    finetune.unfreeze(model)
    finetune.freeze(model, ["0", "3", "7"])
    assert "trainable: 1,290 of 421,642" in finetune.trainable_summary(model, quiet=True)


def test_trainable_summary_prints(capsys):
    finetune.trainable_summary(small_cnn())
    assert "total" in capsys.readouterr().out


# --- frozen weights do not move and get no gradient -----------------------------------------------

@pytest.mark.parametrize("make_opt", [
    lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=1e-2),
    lambda ps: optim.Adam(ps, lr=1e-2, weight_decay=1e-2),
    lambda ps: optim.AdamW(ps, lr=1e-2)])
def test_frozen_weights_bit_identical_after_steps(make_opt):
    model = small_cnn()
    finetune.freeze(model, ["0", "3"])
    before = snapshot(model)
    opt = make_opt(model.parameters())                 # frozen parameters given to the optimizer
    train_steps(model, opt)
    after = snapshot(model)
    for k in ("0.weight", "0.bias", "3.weight", "3.bias"):
        assert np.array_equal(after[k], before[k]), k
        assert dict(model.named_parameters())[k].grad is None
    for k in ("7.weight", "9.weight"):
        assert not np.array_equal(after[k], before[k]), k


def test_head_only_training_changes_only_the_head():
    model = small_cnn(classes=3)
    model[-1] = nn.Linear(8, 5)                        # a new head, as for digits 5-9
    finetune.freeze(model)
    finetune.unfreeze(model, "9")
    before = snapshot(model)
    train_steps(model, optim.SGD(model.parameters(), lr=0.5), classes=5)
    after = snapshot(model)
    changed = {k for k in before if not np.array_equal(before[k], after[k])}
    assert changed == {"9.weight", "9.bias"}
    assert [n for n, p in model.named_parameters() if p.grad is not None] == ["9.weight", "9.bias"]


def test_frozen_layer_unfrozen_later_trains_again():
    model = small_cnn()
    finetune.freeze(model, "0")
    finetune.unfreeze(model, "0")
    w = model[0].weight.numpy().copy()
    train_steps(model, optim.SGD(model.parameters(), lr=0.5))
    assert not np.array_equal(model[0].weight.numpy(), w)


# --- frozen layers do no weight-gradient work -----------------------------------------------------

@pytest.fixture
def counters(monkeypatch):
    """Count conv/linear backward calls, the gradients they return, and col2im calls."""
    calls = {"conv_backward": [], "linear_backward": [], "col2im": 0}

    def wrap(cls, key):
        original = cls.backward

        def backward(self, gy):
            grads = original(self, gy)
            calls[key].append(tuple(g is not None for g in grads))
            return grads
        monkeypatch.setattr(cls, "backward", backward)
    wrap(conv_ops.Conv2d, "conv_backward")
    wrap(linear_ops.Linear, "linear_backward")
    original_col2im = conv_ops.col2im

    def col2im(*args, **kwargs):
        calls["col2im"] += 1
        return original_col2im(*args, **kwargs)
    monkeypatch.setattr(conv_ops, "col2im", col2im)
    return calls


def test_frozen_backbone_records_no_graph_and_no_conv_backward(counters):
    model = small_cnn()
    finetune.freeze(model, ["0", "3", "7"])
    x, y = batch()
    tn.functional.cross_entropy(model(x), y).backward()
    assert counters["conv_backward"] == [] and counters["col2im"] == 0
    assert counters["linear_backward"] == [(False, True, True)]        # only the head: no dx, dW, db


def test_frozen_first_conv_on_raw_images_does_no_work(counters):
    model = small_cnn()
    finetune.freeze(model, "0")
    x, y = batch()
    tn.functional.cross_entropy(model(x), y).backward()
    # conv 3 computes dW, db and dx (for nothing upstream needs dx: its input does not require
    # grad, so dx is skipped too); conv 0 is not in the graph at all
    assert counters["conv_backward"] == [(False, True, True)]
    assert counters["col2im"] == 0
    assert model[0].weight.grad is None and model[3].weight.grad is not None


def test_frozen_middle_conv_skips_weight_gradient_only(counters):
    model = small_cnn()
    finetune.freeze(model, "3")                          # conv 0 trains, so conv 3 must pass dx back
    x, y = batch()
    tn.functional.cross_entropy(model(x), y).backward()
    assert sorted(counters["conv_backward"]) == [(False, True, True), (True, False, False)]
    assert counters["col2im"] == 1                       # conv 3's dx; conv 0 needs no dx
    assert model[3].weight.grad is None and model[3].bias.grad is None
    assert model[0].weight.grad is not None


def test_fully_trained_model_does_all_the_work(counters):
    model = small_cnn()
    x, y = batch()
    tn.functional.cross_entropy(model(x), y).backward()
    assert sorted(counters["conv_backward"]) == [(False, True, True), (True, True, True)]


# --- loading a trained model and replacing its head -----------------------------------------------

def test_strict_loading_names_missing_and_unexpected_keys():
    source = small_cnn().state_dict()
    del source["9.bias"]
    source["9.extra"] = tn.zeros(1)
    with pytest.raises(StateDictError, match=r"missing key\(s\): '9.bias'.*unexpected key\(s\): '9.extra'"):
        small_cnn().load_state_dict(source)


def test_non_strict_loading_returns_the_keys_and_loads_the_rest():
    trained = small_cnn()
    sd = {k: v for k, v in trained.state_dict().items() if not k.startswith("9.")}   # backbone only
    sd["head.weight"] = tn.zeros(2, 2)
    model = small_cnn(classes=5)
    missing, unexpected = model.load_state_dict(sd, strict=False)
    assert missing == ["9.weight", "9.bias"] and unexpected == ["head.weight"]
    for i in (0, 3, 7):
        assert np.array_equal(model[i].weight.numpy(), trained[i].weight.numpy())
    assert model[9].weight.shape == (5, 8)                             # the new head keeps its init


def test_head_of_another_size_is_a_shape_error_even_non_strict():
    with pytest.raises(ShapeError, match=r"'9.weight'.*\(3, 8\).*\(5, 8\)"):
        small_cnn(classes=5).load_state_dict(small_cnn(classes=3).state_dict(), strict=False)


def test_load_then_replace_head(tmp_path):
    trained = articles_cnn()
    tn.save({"model": trained.state_dict()}, tmp_path / "pre.npz")
    model = articles_cnn()
    model.load_state_dict(tn.load(tmp_path / "pre.npz")["model"])
    model[-1] = nn.Linear(128, 5)
    assert model(tn.zeros(2, 1, 28, 28)).shape == (2, 5)
    assert [k for k, _ in model.named_parameters()][-2:] == ["9.weight", "9.bias"]
    head = finetune.replace_head(model, 7)
    assert model[-1] is head and model(tn.zeros(1, 1, 28, 28)).shape == (1, 7)
    with pytest.raises(TypeError, match="last layer is a ReLU"):
        finetune.replace_head(nn.Sequential(nn.Linear(2, 2), nn.ReLU()), 3)


# --- parameter groups -----------------------------------------------------------------------------

def test_param_groups_give_backbone_and_head_their_learning_rates():
    model = small_cnn()
    finetune.freeze(model, "0")
    groups = finetune.param_groups(model, head="9", lr_head=0.5, lr_backbone=0.0)
    assert [g["lr"] for g in groups] == [0.0, 0.5]
    assert sum(len(g["params"]) for g in groups) == 6                  # frozen conv 0 left out
    opt = optim.SGD(groups, lr=0.1)
    before = snapshot(model)
    train_steps(model, opt)
    after = snapshot(model)
    assert {k for k in before if not np.array_equal(before[k], after[k])} == {"9.weight", "9.bias"}
    assert model[3].weight.grad is not None                             # it got a gradient, lr 0


def test_param_groups_drop_an_empty_backbone_and_refuse_all_frozen():
    model = small_cnn()
    finetune.freeze(model, ["0", "3", "7"])
    groups = finetune.param_groups(model, "9", 1e-3, 1e-4)
    assert len(groups) == 1 and groups[0]["lr"] == 1e-3
    finetune.freeze(model)
    with pytest.raises(ValueError, match="no trainable parameter"):
        finetune.param_groups(model, "9", 1e-3, 1e-4)


# --- LoRA inside a model ------------------------------------------------------------------------

def test_lora_fine_tune_moves_only_lora_and_head():
    model = small_cnn()
    finetune.freeze(model)
    finetune.apply_lora(model, rank=2, targets=["3", "7"])
    finetune.unfreeze(model, "9")
    before = snapshot(model)
    train_steps(model, optim.Adam(model.parameters(), lr=1e-2))
    after = snapshot(model)
    changed = {k for k in before if not np.array_equal(before[k], after[k])}
    assert changed == {"3.lora_A", "3.lora_B", "7.lora_A", "7.lora_B", "9.weight", "9.bias"}
    text = finetune.trainable_summary(model, quiet=True)
    n = finetune.lora_parameter_count(model) + 8 * 3 + 3
    assert f"trainable: {n:,} of" in text


# --- the tinynet finetune command -----------------------------------------------------------------

@pytest.fixture
def pretrained(tmp_path):
    from tinynet import models, train as training
    tn.manual_seed(3)
    model = models.cnn()
    path = tmp_path / "pre" / "checkpoint.npz"
    training.save_checkpoint(path, model, None, 1, "cnn", [], {"normalize": "mnist"})
    return path, model.state_dict()


def _run_cli(*argv):
    from tinynet import cli
    return cli.main(["finetune", *map(str, argv)])


def test_cli_head_method_writes_train_outputs_and_keeps_the_backbone(pretrained, tmp_path):
    import json
    from tinynet import train as training
    path, source = pretrained
    out = tmp_path / "head"
    assert _run_cli("--from", path, "--task", "digits5-9", "--method", "head", "--labels-per-class", 3,
                    "--epochs", 2, "--test-limit", 40, "--seed", 1, "--no-plots", "--out", out) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["trainable_parameters"] == 645 and m["train_images"] == 15 and m["steps"] == 2
    assert 0 <= m["test_accuracy"] <= 1 and m["report"]["samples"] == 40
    ckpt = training.load_checkpoint(out / "checkpoint.npz")
    assert ckpt["extra"]["class_names"] == ["5", "6", "7", "8", "9"] and ckpt["model_name"] == "cnn"
    for k in ("0.weight", "3.bias", "7.weight"):                   # frozen through the whole command
        assert np.array_equal(ckpt["model"][k].numpy(), source[k].numpy()), k
    assert ckpt["model"]["9.weight"].shape == (5, 128)


@pytest.mark.slow
def test_cli_writes_the_plots_of_tinynet_train(pretrained, tmp_path):
    out = tmp_path / "plots"
    assert _run_cli("--from", pretrained[0], "--task", "digits5-9", "--method", "head", "--labels-per-class", 2,
                    "--test-limit", 30, "--out", out) == 0
    for name in ("checkpoint.npz", "metrics.json", "curves.png", "confusion.png", "misclassified.png", "filters.png"):
        assert (out / name).is_file(), name


def test_cli_lora_saves_merged_plain_layers(pretrained, tmp_path):
    import json
    from tinynet import models, train as training
    path, source = pretrained
    out = tmp_path / "lora"
    assert _run_cli("--from", path, "--task", "digits5-9", "--method", "lora", "--rank", 2, "--labels-per-class",
                    2, "--epochs", 1, "--test-limit", 20, "--no-plots", "--out", out) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["lora_parameters"] == 2 * ((9 + 32) + (288 + 64) + (3136 + 128))
    assert m["trainable_parameters"] == m["lora_parameters"] + 645
    ckpt = training.load_checkpoint(out / "checkpoint.npz")
    model = models.cnn()
    finetune.replace_head(model, 5)
    model.load_state_dict(ckpt["model"])                           # plain keys: 0.weight, …, no lora_A
    assert not np.array_equal(ckpt["model"]["7.weight"].numpy(), source["7.weight"].numpy())   # update merged


def test_cli_errors(pretrained, tmp_path, capsys):
    path, _ = pretrained
    assert _run_cli("--task", "digits5-9", "--method", "full", "--out", tmp_path / "x") == 2
    assert "give it with --from CKPT" in capsys.readouterr().err
    assert _run_cli("--from", path, "--task", "digits5-9", "--method", "full", "--labels-per-class", 6000,
                    "--out", tmp_path / "x") == 2
    assert "class 0 ('5') has only 5,421 training images; use at most 5,421, or 'all'" in capsys.readouterr().err
    assert _run_cli("--from", tmp_path / "missing.npz", "--task", "digits5-9", "--method", "head") == 2
    assert "does not exist" in capsys.readouterr().err


def test_cli_errors_name_the_mistake(pretrained, tmp_path, capsys):
    from tinynet import models, train as training
    path, _ = pretrained                              # tmp_path/pre/checkpoint.npz
    # the folder of the pre-training run instead of its checkpoint file
    assert _run_cli("--from", path.parent, "--task", "digits5-9", "--method", "head") == 2
    assert f"is a folder, not a checkpoint file; did you mean --from {path}?" in capsys.readouterr().err
    # a checkpoint whose weights are not those of the model it names
    other = tmp_path / "lenet-as-cnn.npz"
    training.save_checkpoint(other, models.lenet(), None, 0, "cnn", [], {"normalize": "mnist"})
    assert _run_cli("--from", other, "--task", "digits5-9", "--method", "full", "--labels-per-class", 1,
                    "--out", tmp_path / "x") == 2
    err = capsys.readouterr().err
    assert "says it holds a 'cnn' model, but its weights do not fit models.cnn()" in err
    assert "size mismatch for '0.weight'" in err
    # --labels-per-class 0 and an unknown task are refused by the parser, naming the option
    for argv, message in ((["--labels-per-class", 0, "--task", "digits5-9"], "--labels-per-class: must be at least 1"),
                          (["--task", "cifar10"], "--task: invalid choice: 'cifar10'")):
        with pytest.raises(SystemExit) as exit_info:
            _run_cli("--from", path, "--method", "head", *argv)
        assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_labels_per_class_error_names_the_smallest_class():
    from tinynet.tasks import labels_per_class
    labels = np.array([0] * 5 + [1] * 3 + [2] * 4)
    with pytest.raises(ValueError, match=r"class 1 \('shirt'\) has only 3 training images; use at most 3"):
        labels_per_class(labels, 4, 0, ["coat", "shirt", "bag"])
    assert len(labels_per_class(labels, 3, 0)) == 9


def test_labels_per_class_is_seeded_and_balanced():
    from tinynet.tasks import labels_per_class
    labels = np.repeat(np.arange(3), 50)
    a, b, c = (labels_per_class(labels, 4, s) for s in (0, 0, 1))
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert np.bincount(labels[a]).tolist() == [4, 4, 4]
