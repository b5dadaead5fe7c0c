"""Does fine-tuning "reduce training time and improve generalisation" (claim A72)? Measured.

    .venv/bin/python benchmarks/finetune_experiments.py [--quick] [--part a|b|all] [--out runs/finetune-exp]

Part a: pre-train the articles' ``cnn`` on the digits 0–4 (1 epoch, all 30,596 images), then
train for the digits 5–9 with K = 10, 100 and all labels per class by each method.
Part b: pre-train on all of MNIST (1 epoch), then train for Fashion-MNIST the same way (skipped,
with a message saying how to get the data, when Fashion-MNIST is not found; give its folder with
--data-dir or $TINYNET_DATA).

Methods (``tinynet.finetune.METHODS``): scratch, full, head (frozen backbone, new head), lora
(rank 4 on conv1, conv2 and fc1, new head); plus two controls that cost little: ``head-random``
(the head trained on a frozen *random* backbone: what the pre-trained features are worth) and,
in part b, the MNIST model applied to Fashion-MNIST as it is (the digit head's labels on clothes).

Every run is one ``tinynet finetune`` command (printed, so any row can be re-run by hand), with
Adam, batch 64 and a fixed budget of about 200 optimizer steps for K = 10 and K = 100 (digits 5–9:
200 epochs of 50 images, 25 epochs of 8 batches; Fashion: 100 epochs of 2 batches, 13 epochs of
16 batches) and one epoch for all labels. Learning rate: 1e-3 for scratch and full, 1e-2 for the
methods that train few parameters (head, lora, head-random), chosen by a pilot on digits 5–9
with K = 100 (README). Seeds 0, 1, 2 for K = 10 and 100 (the labelled images and the new
weights change with the seed), seed 0 for all labels. A run whose metrics.json exists is not
run again (--force to redo). Writes the tables (Markdown and JSON) and the plot to --results.
"""
import argparse
import contextlib
import json
import math
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))   # run from a checkout

from tinynet import cli, models, train as training   # noqa: E402

METHODS = ["scratch", "full", "head", "lora", "head-random"]
LR = {"scratch": 1e-3, "full": 1e-3, "head": 1e-2, "lora": 1e-2, "head-random": 1e-2}
PARTS = {"a": ("digits0-4", "digits5-9", 5), "b": ("mnist", "fashion", 10)}   # pre-train, task, classes
BATCH = 64


def plan(quick, classes):
    """(K, epochs, seeds) per labels-per-class setting (None for K: all labels, one epoch), with
    epochs chosen so that K = 10 and 100 get about ``steps`` optimizer steps."""
    steps, seeds = (20, [0]) if quick else (200, [0, 1, 2])
    settings = [(k, math.ceil(steps / math.ceil(k * classes / BATCH)), seeds) for k in (10, 100)]
    if quick:
        return settings, {"pretrain_k": 300, "pretrain_epochs": 1, "test_limit": 1000}
    return settings + [(None, 1, [0])], {"pretrain_k": None, "pretrain_epochs": 1, "test_limit": None}


def command(args_list):
    return "tinynet " + " ".join(args_list)


def run(args_list, out, force, log_name="log.txt"):
    """``tinynet ARGS --out OUT`` in this process (output to OUT/log.txt); its metrics.json."""
    metrics = Path(out) / "metrics.json"
    full = args_list + ["--out", str(out)]
    print("  $ " + command(full), flush=True)
    if metrics.exists() and not force:
        print("    (done before: reading its metrics.json)", flush=True)
    else:
        Path(out).mkdir(parents=True, exist_ok=True)
        with open(Path(out) / log_name, "w") as log, contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
            code = cli.main(full)
        if code != 0:
            raise SystemExit(f"the command failed (exit code {code}); see {Path(out) / log_name}")
    m = json.loads(metrics.read_text())
    print(f"    test accuracy {m['test_accuracy']:.2%}, trainable {m['trainable_parameters']:,}, "
          f"training {m['train_seconds']:.1f} s ({1000 * m['seconds_per_step']:.0f} ms/step)", flush=True)
    return m


def random_checkpoint(path, seed):
    """A checkpoint of an untrained ``cnn`` (for the head-random control)."""
    if not Path(path).exists():
        from tinynet import random
        random.manual_seed(1000 + seed)
        training.save_checkpoint(path, models.cnn(), None, 0, "cnn", [], {"normalize": "mnist"})
    return str(path)


def as_is(pre_ckpt, task, data_dir, test_limit):
    """Accuracy of the pre-trained 10-digit model on ``task`` without any training: its digit
    labels taken as the task's labels (claim A75's 'meaningless label mapping')."""
    from tinynet import data, tasks
    ckpt = training.load_checkpoint(pre_ckpt)
    model = models.build(ckpt["model_name"])
    model.load_state_dict(ckpt["model"])
    _, test = tasks.task_data(task, None, 0, data.Normalize(0.1307, 0.3081), data_dir, test_limit)
    return training.evaluate(model, data.DataLoader(test, 500))["accuracy"]


def part(name, quick, out, force, data_dir):
    pre_task, task, classes = PARTS[name]
    settings, extra = plan(quick, classes)
    common = ["--seed", "0"] + (["--data-dir", data_dir] if data_dir else [])
    limit = ["--test-limit", str(extra["test_limit"])] if extra["test_limit"] else []
    print(f"\n=== part {name}: pre-train on {pre_task}, then {task} ===", flush=True)
    pre_args = ["finetune", "--task", pre_task, "--method", "scratch", "--epochs", str(extra["pretrain_epochs"])]
    if extra["pretrain_k"]:
        pre_args += ["--labels-per-class", str(extra["pretrain_k"])]
    pre = run(pre_args + ["--seed", "0"] + limit, out / name / "pretrain", force)
    pre_ckpt = str(out / name / "pretrain" / "checkpoint.npz")
    rows = []
    for k, epochs, seeds in settings:
        for method in METHODS:
            for seed in seeds:
                source = random_checkpoint(out / name / f"random-{seed}.npz", seed) if method == "head-random" else pre_ckpt
                a = ["finetune", "--from", source, "--task", task, "--method", method.split("-")[0],
                     "--labels-per-class", "all" if k is None else str(k), "--epochs", str(epochs),
                     "--lr", f"{LR[method]:g}", "--seed", str(seed), "--no-plots"] + limit + common[2:]
                m = run(a, out / name / f"k{k or 'all'}" / f"{method}-s{seed}", force)
                rows.append({"part": name, "task": task, "k": k or "all", "method": method, "seed": seed,
                             "accuracy": m["test_accuracy"], "trainable": m["trainable_parameters"],
                             "steps": m["steps"], "train_seconds": m["train_seconds"],
                             "ms_per_step": 1000 * m["seconds_per_step"], "command": command(a + ["--out", "DIR"])})
    zero = as_is(pre_ckpt, task, data_dir, extra["test_limit"]) if task == "fashion" else None
    return {"part": name, "pretrain": {"task": pre_task, "accuracy": pre["test_accuracy"],
                                        "train_seconds": pre["train_seconds"], "steps": pre["steps"],
                                        "command": command(pre_args + ["--seed", "0", "--out", "DIR"])},
            "as_is_accuracy": zero, "rows": rows}


def aggregate(rows):
    """Mean ± std (over seeds) per (k, method)."""
    groups = {}
    for r in rows:
        groups.setdefault((str(r["k"]), r["method"]), []).append(r)
    table = []
    for (k, method), rs in groups.items():
        acc = [r["accuracy"] for r in rs]
        table.append({"k": k, "method": method, "n": len(rs), "accuracy_mean": statistics.mean(acc),
                      "accuracy_std": statistics.stdev(acc) if len(acc) > 1 else 0.0,
                      "trainable": rs[0]["trainable"], "steps": rs[0]["steps"],
                      "train_seconds": statistics.mean(r["train_seconds"] for r in rs),
                      "ms_per_step": statistics.mean(r["ms_per_step"] for r in rs)})
    return table


def markdown(result):
    lines = [f"Pre-training on {result['pretrain']['task']}: test accuracy {result['pretrain']['accuracy']:.2%} "
             f"after {result['pretrain']['steps']} steps ({result['pretrain']['train_seconds']:.0f} s).", ""]
    if result["as_is_accuracy"] is not None:
        lines += [f"The pre-trained digit model applied to {result['rows'][0]['task']} as it is (digit k taken "
                  f"for class k): {result['as_is_accuracy']:.2%}.", ""]
    lines += ["| labels/class | method | lr | test accuracy (%) | seeds | trainable params | steps | train s | ms/step |",
              "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for t in aggregate(result["rows"]):
        acc = f"{100 * t['accuracy_mean']:.2f}" + (f" ± {100 * t['accuracy_std']:.2f}" if t["n"] > 1 else "")
        lines.append(f"| {t['k']} | {t['method']} | {LR[t['method']]:g} | {acc} | {t['n']} | {t['trainable']:,} | "
                     f"{t['steps']} | {t['train_seconds']:.1f} | {t['ms_per_step']:.0f} |")
    return "\n".join(lines)


def plot(results, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(results), figsize=(6 * len(results), 4.2), squeeze=False)
    for ax, result in zip(axes[0], results):
        table = aggregate(result["rows"])
        ks = sorted({t["k"] for t in table if t["k"] != "all"}, key=int)
        n_all = {"digits5-9": 5881, "fashion": 6000}.get(result["rows"][0]["task"])   # per class (digits 5–9: 29,404 / 5)
        xs = {k: int(k) for k in ks}
        if any(t["k"] == "all" for t in table):
            xs["all"] = n_all
        for method in METHODS:
            pts = sorted((xs[t["k"]], t) for t in table if t["method"] == method)
            if pts:
                ax.errorbar([x for x, _ in pts], [100 * t["accuracy_mean"] for _, t in pts],
                            yerr=[100 * t["accuracy_std"] for _, t in pts], marker="o", capsize=3, label=method)
        if result["as_is_accuracy"] is not None:
            ax.axhline(100 * result["as_is_accuracy"], color="grey", ls=":", label="digit model as is")
        ax.set_xscale("log")
        ax.set_xticks(list(xs.values()), [f"{k}" if k != "all" else f"all\n(~{n_all:,})" for k in xs])
        ax.set_xlabel("labelled training images per class")
        ax.set_ylabel("test accuracy (%)")
        ax.set_title(f"{result['pretrain']['task']} → {result['rows'][0]['task']}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a few minutes: K = 10 and 100, one seed, short budgets")
    ap.add_argument("--part", choices=["a", "b", "all"], default="all")
    ap.add_argument("--out", default="runs/finetune-exp", help="where the runs go (default runs/finetune-exp)")
    ap.add_argument("--results", default=None,
                    help="where tables and plot go (default benchmarks/results, or OUT/results with --quick)")
    ap.add_argument("--data-dir", help="Fashion-MNIST's folder (default: $TINYNET_DATA and the search path)")
    ap.add_argument("--force", action="store_true", help="re-run runs that have a metrics.json")
    args = ap.parse_args(argv)
    out = Path(args.out) / ("quick" if args.quick else "full")
    results_dir = Path(args.results or (out / "results" if args.quick else Path(__file__).parent / "results"))
    results_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    results = []
    for name in (["a", "b"] if args.part == "all" else [args.part]):
        if name == "b":
            from data_tools.mnist import load_fashion_mnist
            try:
                load_fashion_mnist("test", args.data_dir)
            except FileNotFoundError as e:
                print(f"\n=== part b skipped: Fashion-MNIST not found ===\n{e}", flush=True)
                continue
        results.append(part(name, args.quick, out, args.force, args.data_dir))
    suffix = "_quick" if args.quick else ""
    for r in results:
        text = markdown(r)
        (results_dir / f"finetune_part_{r['part']}{suffix}.md").write_text(text + "\n")
        print(f"\n--- part {r['part']} ---\n{text}")
    (results_dir / f"finetune_results{suffix}.json").write_text(json.dumps(results, indent=1))
    if results:
        print("plot:", plot(results, results_dir / f"finetune_accuracy{suffix}.png"))
    print(f"all done in {time.perf_counter() - start:.0f} s (runs in {out}/, tables in {results_dir}/)")


if __name__ == "__main__":
    main()
