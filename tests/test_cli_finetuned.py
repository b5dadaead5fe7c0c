"""Fine-tuned checkpoints are checkpoints: ``tinynet eval``, ``predict`` and ``train --resume`` take
what ``tinynet finetune`` writes (a head of another size, the class names, the task's data)."""
import os

import matplotlib.image
import numpy as np
import pytest

import tinynet as tn
from tinynet import cli, models, train
from cli_run import run

FT = ["--task", "digits5-9", "--labels-per-class", "6", "--test-limit", "60", "--batch-size", "10", "--no-plots"]




@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    tn.manual_seed(3)
    path = tmp_path_factory.mktemp("pre") / "checkpoint.npz"
    train.save_checkpoint(path, models.mlp(), None, 1, "mlp", [], {"normalize": "mnist"})
    return path


@pytest.fixture(scope="module")
def finetuned(pretrained, tmp_path_factory):
    out = tmp_path_factory.mktemp("ft") / "head"
    assert cli.main(["finetune", "--from", str(pretrained), *FT, "--method", "head", "--epochs", "1",
                     "--out", str(out)]) == 0
    return out / "checkpoint.npz"


def weights(path):
    return {k: v.numpy() for k, v in train.load_checkpoint(path)["model"].items()}


def digit_png(path, label):
    """A real MNIST test digit of ``label``, as a PNG on a larger page."""
    from data_tools.mnist import load_mnist
    images, labels = load_mnist("test")
    page = np.zeros((60, 60))
    page[16:44, 16:44] = images[np.flatnonzero(labels == label)[0]] / 255
    matplotlib.image.imsave(path, page, cmap="gray", vmin=0, vmax=1)
    return path


def test_eval_takes_a_fine_tuned_checkpoint(capsys, finetuned):
    code, out, err = run(capsys, "eval", finetuned, "--limit", "50")
    assert code == 0 and err == ""
    assert "mlp fine-tuned for digits5-9 (head) after 1 epochs, digits5-9 test (50 images)" in out
    table = out.split("class  precision")[1].split("macro")[0].split()
    assert [table[i] for i in range(3, len(table), 5)] == ["5", "6", "7", "8", "9"]     # its classes, by name
    code, out, _ = run(capsys, "eval", finetuned, "--limit", "50", "--json")
    assert code == 0 and '"samples": 50' in out and len(eval(out.replace("null", "None"))["confusion_matrix"]) == 5


def test_predict_names_the_fine_tuned_classes(capsys, finetuned, tmp_path):
    image = digit_png(tmp_path / "digit.png", 7)
    code, out, err = run(capsys, "predict", finetuned, image)
    assert code == 0 and err == ""
    best, nexts = out.split(": ", 1)[1].split("  (")[0], out.split("next: ")[1]
    assert best in {"5", "6", "7", "8", "9"} and all(n.split()[0] in {"5", "6", "7", "8", "9"}
                                                        for n in nexts.strip(")\n").split(", "))


def test_predict_prints_names_such_as_sneaker(capsys, tmp_path):
    """A 10-class fine-tuned model of Fashion-MNIST (made here: its head prefers class 7) says Sneaker."""
    from data_tools.mnist import FASHION_MNIST_CLASSES
    model = models.mlp()
    model[-1].bias.data[...] = 0
    model[-1].bias.data[7] = 50.0
    path = tmp_path / "fashion.npz"
    train.save_checkpoint(path, model, None, 3, "mlp", [], {"normalize": "mnist"}, task="fashion", method="full",
                          class_names=list(FASHION_MNIST_CLASSES), num_classes=10)
    code, out, _ = run(capsys, "predict", path, digit_png(tmp_path / "shoe.png", 3))
    assert code == 0 and out.split(": ", 1)[1].startswith("Sneaker  (probability 1.000")


def test_train_resume_continues_a_fine_tuning_exactly(capsys, pretrained, tmp_path):
    for method in ("head", "full"):
        whole, part = tmp_path / f"{method}-2", tmp_path / f"{method}-1"
        assert run(capsys, "finetune", "--from", pretrained, *FT, "--method", method, "--epochs", "2",
                   "--out", whole)[0] == 0
        assert run(capsys, "finetune", "--from", pretrained, *FT, "--method", method, "--epochs", "1",
                   "--out", part)[0] == 0
        code, out, err = run(capsys, "train", "--resume", part / "checkpoint.npz", "--epochs", "2")
        assert code == 0, err
        assert "continuing the fine-tuning of mlp for digits5-9 by " + method in out
        a, b = weights(whole / "checkpoint.npz"), weights(part / "checkpoint.npz")
        for k in a:
            np.testing.assert_array_equal(a[k], b[k], err_msg=f"{method} {k}")
        ckpt = train.load_checkpoint(part / "checkpoint.npz")
        assert ckpt["epoch"] == 2 and ckpt["extra"]["class_names"] == ["5", "6", "7", "8", "9"]
        assert [h["epoch"] for h in ckpt["history"]] == [1, 2]


def test_train_resume_of_a_lora_fine_tuning_goes_on(capsys, pretrained, tmp_path):
    out = tmp_path / "lora"
    assert run(capsys, "finetune", "--from", pretrained, *FT, "--method", "lora", "--epochs", "1", "--out", out)[0] == 0
    before = weights(out / "checkpoint.npz")
    code, _, err = run(capsys, "train", "--resume", out / "checkpoint.npz", "--epochs", "2")
    assert code == 0, err
    after = weights(out / "checkpoint.npz")
    assert before.keys() == after.keys()                       # still plain layers (the update merged)
    assert not np.array_equal(before["3.weight"], after["3.weight"])


def test_train_resume_of_a_fine_tuning_refuses_train_only_options(capsys, finetuned):
    code, _, err = run(capsys, "train", "--resume", finetuned, "--epochs", "3", "--lr", "1")
    assert code == 2 and len(err.splitlines()) == 1 and "written by tinynet finetune" in err and "--lr" in err
    code, _, err = run(capsys, "train", "--resume", finetuned, "--epochs", "1")
    assert code == 2 and "already trained 1 epochs" in err


def test_damaged_fine_tuning_settings_are_one_line(capsys, finetuned, tmp_path):
    ckpt = train.load_checkpoint(finetuned)
    model = models.mlp()
    from tinynet.finetune import replace_head
    replace_head(model, 5)
    model.load_state_dict(ckpt["model"])
    cases = [({**ckpt["args"], "lr": "fast"}, ckpt["extra"], "'lr' is 'fast'"),
             ({**ckpt["args"], "labels_per_class": -4}, ckpt["extra"], "labels_per_class=-4"),
             (ckpt["args"], {**ckpt["extra"], "method": "magic"}, "extra['method'] is 'magic'"),
             (ckpt["args"], {**ckpt["extra"], "class_names": 5}, "extra['class_names'] is '5'"),
             (ckpt["args"], {**ckpt["extra"], "task": ["digits5-9"]}, "extra['task']"),
             (ckpt["args"], {**ckpt["extra"], "task": "mnist"}, "has 10 classes, but its head has 5")]
    for i, (args, extra, message) in enumerate(cases):
        path = tmp_path / f"bad{i}" / "checkpoint.npz"
        train.save_checkpoint(path, model, None, 1, "mlp", [], args, **extra)
        code, _, err = run(capsys, "train", "--resume", path, "--epochs", "2")
        assert code == 2 and len(err.splitlines()) == 1 and message in err and "Traceback" not in err, err


def test_eval_of_a_fashion_model_without_its_data_is_one_line(capsys, tmp_path, monkeypatch):
    if os.path.isdir("/usr/share/datasets/fashion-mnist"):
        pytest.skip("Fashion-MNIST is installed on this machine")
    monkeypatch.setenv("TINYNET_DATA", str(tmp_path))
    from data_tools.mnist import FASHION_MNIST_CLASSES
    path = tmp_path / "fashion.npz"
    train.save_checkpoint(path, models.mlp(), None, 1, "mlp", [], {"normalize": "mnist"}, task="fashion",
                          method="full", class_names=list(FASHION_MNIST_CLASSES), num_classes=10)
    code, _, err = run(capsys, "eval", path)
    assert code == 2 and len(err.splitlines()) == 1 and "fine-tuned for 'fashion'" in err


def test_a_model_of_five_classes_without_a_task_is_one_line_from_eval(capsys, finetuned, tmp_path):
    ckpt = train.load_checkpoint(finetuned)
    model = models.mlp()
    from tinynet.finetune import replace_head
    replace_head(model, 5)
    model.load_state_dict(ckpt["model"])
    path = tmp_path / "notask" / "checkpoint.npz"
    train.save_checkpoint(path, model, None, 1, "mlp", [], ckpt["args"], class_names=list("abcde"), num_classes=5)
    code, _, err = run(capsys, "eval", path)
    assert code == 2 and len(err.splitlines()) == 1 and "names no task" in err, err
