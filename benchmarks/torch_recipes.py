"""The articles' recipes in PyTorch, for the README's results table (the one place torch is used).

    .venv/bin/python benchmarks/torch_recipes.py r4 default --seeds 0 1 2 --out runs/torch/results.json

Builds the same ``nn.Sequential`` models as ``tinynet.models`` (same layers, PyTorch's default
initialisation; ``keras_cnn`` Glorot-uniform with zero biases as Keras), reads the same bundled
MNIST arrays, normalises them the same way, shuffles every epoch, and trains with the recipe's
optimizer, learning rate, batch size and epochs (``tinynet.recipes.RECIPES``; ``default`` is the
README's main run: cnn, Adam 1e-3, batch 64, 2 epochs, Normalize(0.1307, 0.3081)). Prints one
line per run and appends the results (test accuracy per epoch, wall seconds) to ``--out``.
Skips, with a message, when torch is not installed (``pip install 'tinynet[compare]'``).
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from data_tools.mnist import load_mnist  # noqa: E402
from tinynet.recipes import RECIPES  # noqa: E402
from tinynet.cli import common as cli_common  # noqa: E402
from tinynet.cli.common import int_between  # noqa: E402

NORMALIZE = {"mnist": (0.1307, 0.3081), "half": (0.5, 0.5), "none": (0.0, 1.0)}
DEFAULT = dict(model="cnn", optimizer="adam", lr=1e-3, batch_size=64, epochs=2, normalize="mnist",
               source="README main run (make train)")


def build(torch, name):
    nn = torch.nn
    if name == "lenet":
        return nn.Sequential(nn.Conv2d(1, 10, 5), nn.MaxPool2d(2), nn.ReLU(), nn.Conv2d(10, 20, 5), nn.MaxPool2d(2),
                             nn.ReLU(), nn.Flatten(), nn.Linear(320, 50), nn.ReLU(), nn.Linear(50, 10))
    if name == "cnn":
        return nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Flatten(), nn.Linear(3136, 128), nn.ReLU(), nn.Linear(128, 10))
    convs = [nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
             nn.Flatten(), nn.Linear(1600, 128), nn.ReLU()]
    if name == "cnn_dropout":
        return nn.Sequential(*convs, nn.Dropout(0.5), nn.Linear(128, 10))
    if name == "keras_cnn":
        model = nn.Sequential(*convs, nn.Linear(128, 10))
        for m in model:
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)
        return model
    if name == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                             nn.Linear(128, 10))
    raise ValueError(name)


def tensors(torch, split, normalize, limit=None):
    images, labels = load_mnist(split)
    images, labels = images[:limit], labels[:limit]
    mean, std = NORMALIZE[normalize]
    x = (torch.from_numpy(images.copy()).float().div_(255).sub_(mean).div_(std)).unsqueeze(1)
    return x, torch.from_numpy(labels.astype("int64"))


def run(torch, name, recipe, seed, limit=None):
    torch.manual_seed(seed)
    xtr, ytr = tensors(torch, "train", recipe["normalize"], limit)
    xte, yte = tensors(torch, "test", recipe["normalize"], limit)
    model = build(torch, recipe["model"])
    if recipe["optimizer"] == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=recipe["lr"], momentum=recipe.get("momentum", 0.0))
    else:
        opt = torch.optim.Adam(model.parameters(), lr=recipe["lr"], eps=recipe.get("adam_eps", 1e-8))
    loss_fn = torch.nn.functional.cross_entropy
    bs, history, start = recipe["batch_size"], [], time.perf_counter()
    for epoch in range(1, recipe["epochs"] + 1):
        model.train()
        order = torch.randperm(len(xtr))
        for i in range(0, len(xtr), bs):
            idx = order[i:i + bs]
            opt.zero_grad()
            loss = loss_fn(model(xtr[idx]), ytr[idx])
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            correct = sum(int((model(xte[i:i + 500]).argmax(1) == yte[i:i + 500]).sum()) for i in range(0, len(xte), 500))
        history.append({"epoch": epoch, "test_accuracy": correct / len(xte), "seconds": time.perf_counter() - start})
    result = {"recipe": name, "model": recipe["model"], "seed": seed, "test_accuracy": history[-1]["test_accuracy"],
              "wall_seconds": time.perf_counter() - start, "epochs": history, "torch": torch.__version__,
              "threads": torch.get_num_threads()}
    print(f"{name} seed {seed}: test accuracy {result['test_accuracy']:.2%} after {recipe['epochs']} epochs, "
          f"{result['wall_seconds']:.0f} s  (per epoch: {' '.join(format(h['test_accuracy'], '.4f') for h in history)})",
          flush=True)
    return result


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("recipes", nargs="+", choices=list(RECIPES) + ["default"])
    p.add_argument("--seeds", nargs="+", type=cli_common.seed, default=[0])
    p.add_argument("--out", default="runs/torch/results.json")
    p.add_argument("--epochs", type=int_between(1), help="train this many epochs instead of the recipe's")
    p.add_argument("--limit", type=int_between(1, 60000, 1000), help="only the first N training and test images (as tinynet train --limit)")
    p.add_argument("--threads", type=int_between(1, 256, 2), help="torch.set_num_threads(N) (default: PyTorch's own choice)")
    args = p.parse_args(argv)
    try:
        import torch
    except ImportError:
        print("torch is not installed: skipping (pip install 'tinynet[compare]')")
        return 0
    if args.threads:
        torch.set_num_threads(args.threads)
    try:    # a bad --out fails now, not after the first hour of training
        results = read_results(args.out)
        write_results(args.out, results)
    except (OSError, ValueError) as e:
        p.error(f"--out {args.out}: {e}")
    for name in args.recipes:
        recipe = dict(DEFAULT if name == "default" else RECIPES[name])
        recipe["epochs"] = args.epochs or recipe["epochs"]
        for seed in args.seeds:
            results.append(run(torch, name, recipe, seed, args.limit))
            write_results(args.out, results)
    return 0


def read_results(path):
    """The list of results already in ``path`` ([] if there is no such file)."""
    if not os.path.exists(path):
        return []
    with open(path) as f:
        try:
            results = json.load(f)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ValueError("not a results file (it is not JSON)") from None
    if not isinstance(results, list) or not all(isinstance(r, dict) and "recipe" in r for r in results):
        raise ValueError("not a results file (expected a list of runs, each with a \"recipe\")")
    return results


def write_results(path, results):
    """Write ``results`` to ``path`` whole or not at all (a temporary file, then renamed)."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path + ".tmp", "w") as f:
        json.dump(results, f, indent=1)
    os.replace(path + ".tmp", path)


if __name__ == "__main__":
    sys.exit(main())
