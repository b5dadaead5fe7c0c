"""Print the README's results table from finished runs (nothing here is typed in by hand).

    .venv/bin/python benchmarks/recipes_table.py [--runs runs/recipes] [--torch runs/torch/results.json]

tinynet runs are the folders ``RUNS/NAME_sSEED/metrics.json`` written by ``tinynet train`` (NAME =
a recipe r1…r5, ``default`` or ``augment…``); PyTorch runs are the records that
``benchmarks/torch_recipes.py`` appended to its JSON file. One row per NAME: mean test accuracy
over the seeds found (each seed listed), mean wall time, and the same for PyTorch.
"""
import argparse
import glob
import json
import os
import re
import statistics
from collections import defaultdict


def mean_sd(values):
    if len(values) == 1:
        return f"{100 * values[0]:.2f}"
    return f"{100 * statistics.mean(values):.2f} ± {100 * statistics.stdev(values):.2f}"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--runs", default="runs/recipes")
    p.add_argument("--torch", default="runs/torch/results.json")
    args = p.parse_args()
    try:
        print_table(args.runs, args.torch)
    except (OSError, ValueError, KeyError, TypeError) as e:
        p.exit(2, f"recipes_table.py: error: cannot read the runs: {type(e).__name__}: {e}\n")


def print_table(runs_dir, torch_results):
    """The markdown table of every run under ``runs_dir`` beside PyTorch's in ``torch_results``."""
    ours = defaultdict(list)
    for path in sorted(glob.glob(os.path.join(runs_dir, "*_s*", "metrics.json"))):
        name, seed = re.match(r"(.+)_s(\d+)$", os.path.basename(os.path.dirname(path))).groups()
        with open(path) as f:
            m = json.load(f)
        ours[name].append((int(seed), m))
    theirs = defaultdict(list)
    if os.path.exists(torch_results):
        with open(torch_results) as f:
            for r in json.load(f):
                theirs[r["recipe"]].append(r)
    print("| run | model | optimizer, batch, epochs, input | tinynet test acc. % (seeds) | tinynet time | "
          "PyTorch test acc. % (seeds) | PyTorch time | difference |")
    print("|---|---|---|---|---:|---|---:|---:|")
    for name, runs in sorted(ours.items()):
        runs.sort(key=lambda r: r[0])
        c = runs[0][1]["config"]
        opt = f"{c['optimizer']} {c['lr']:g}" + (f" m {c['momentum']:g}" if c["momentum"] else "") + \
              (f" eps {c['adam_eps']:g}" if c["optimizer"] == "adam" and c["adam_eps"] != 1e-8 else "")
        setting = f"{opt}, {c['batch_size']}, {c['epochs']}, {c['normalize']}" + (", augment" if c["augment"] else "")
        acc = [m["test_accuracy"] for _, m in runs]
        wall = statistics.mean(m["wall_seconds"] for _, m in runs)
        row = (f"| {name} | `{c['model']}` | {setting} | {mean_sd(acc)} (n={len(acc)}: "
               f"{', '.join(f'{100 * a:.2f}' for a in acc)}) | {wall:.0f} s |")
        t = theirs.get(name, [])
        if t:
            tacc = [r["test_accuracy"] for r in t]
            row += (f" {mean_sd(tacc)} (n={len(tacc)}) | {statistics.mean(r['wall_seconds'] for r in t):.0f} s |"
                    f" {100 * (statistics.mean(acc) - statistics.mean(tacc)):+.2f} |")
        else:
            row += " — | — | — |"
        print(row)


if __name__ == "__main__":
    main()
