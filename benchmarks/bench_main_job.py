"""The main job's real work, whole processes timed: one epoch of `tinynet train --model cnn` plus
the test evaluation, against the same work written in PyTorch (benchmarks/torch_recipes.py) on
the same cores. Process start, imports and data loading are included on both sides.

    .venv/bin/python benchmarks/bench_main_job.py [--rounds 2] [--workers N] [--limit 6000]

Commands, run in turns (the order flips every round, so a burst of load hits all alike):

    tinynet, N workers   tinynet train --model cnn --epochs 1 --optimizer adam --lr 1e-3 --batch-size 64
                         --normalize mnist --seed 0 --no-plots --workers N        (make train's settings)
    tinynet, 1 worker    the same with --workers 1 (BLAS with its own thread count)
    tinynet, 1 core      --workers 1 with OPENBLAS_NUM_THREADS=1: the base of the scaling
    pytorch              torch_recipes.py default --epochs 1 --threads N  (same model, data, normalisation,
                         optimizer, batch size; shuffled every epoch; test evaluation in batches of 500)

tinynet also saves a checkpoint and metrics.json (--no-plots leaves out the PNGs, which PyTorch's
script does not draw). Prints each command's median and minimum wall seconds, CPU seconds
(user + system of the process and its threads), the ratios tinynet/PyTorch and the scaling from
1 to N workers. Needs torch (pip install 'torch==2.13.0') for the PyTorch row.
"""
import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tinynet import parallel  # noqa: E402
from tinynet.cli import common as cli_common  # noqa: E402
from tinynet.cli.common import int_between  # noqa: E402


def commands(n, limit, out):
    """name → (argv, extra environment)."""
    tinynet = [str(ROOT / ".venv" / "bin" / "tinynet"), "train", "--model", "cnn", "--epochs", "1", "--optimizer",
               "adam", "--lr", "1e-3", "--batch-size", "64", "--normalize", "mnist", "--seed", "0", "--no-plots",
               "--force"] + (["--limit", str(limit)] if limit else [])
    torch = [sys.executable, str(ROOT / "benchmarks" / "torch_recipes.py"), "default", "--epochs", "1", "--threads",
             str(n), "--out", os.path.join(out, "torch.json")] + (["--limit", str(limit)] if limit else [])
    runs = {}
    if n > 1:
        runs[f"tinynet, {n} workers"] = (tinynet + ["--workers", str(n), "--out", os.path.join(out, "n")], {})
    runs["tinynet, 1 worker"] = (tinynet + ["--workers", "1", "--out", os.path.join(out, "one")], {})
    runs["tinynet, 1 core"] = (tinynet + ["--workers", "1", "--out", os.path.join(out, "core")],
                               {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"})
    try:
        import torch as _  # noqa: F401
        runs["pytorch"] = (torch, {"OMP_NUM_THREADS": str(n)})
    except ImportError:
        print("PyTorch is not installed: timing tinynet alone (pip install 'torch==2.13.0' to compare).")
    return runs


def timed_run(argv, env):
    """(wall seconds, CPU seconds of the child, its last output line); exits on failure."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    r = subprocess.run(argv, env={**os.environ, **env}, capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed ({r.returncode}):\n{r.stderr[-2000:]}")
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return wall, cpu, (r.stdout.strip().splitlines() or [""])[-1]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int_between(1), default=2, help="runs of each command (default 2)")
    ap.add_argument("--workers", type=cli_common.workers, default=parallel.available_cores(),
                    help="tinynet's workers and PyTorch's threads (default: the cores available)")
    ap.add_argument("--limit", type=int_between(1, 60000, 1000), help="only the first N training and test images (a quick check)")
    args = ap.parse_args()
    n = parallel.check_workers(args.workers)
    load = os.getloadavg()
    print(f"main job: 1 epoch + test evaluation, whole processes; {os.cpu_count()} CPUs, {n} workers/threads, "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at the start"
          + (f"; --limit {args.limit}" if args.limit else ""))
    with tempfile.TemporaryDirectory() as out:
        runs = commands(n, args.limit, out)
        wall, cpu = {k: [] for k in runs}, {k: [] for k in runs}
        names = list(runs)
        for r in range(args.rounds):
            for name in names if r % 2 == 0 else names[::-1]:
                w, c, last = timed_run(*runs[name])
                wall[name].append(w)
                cpu[name].append(c)
                print(f"  round {r + 1} {name:<20} {w:7.1f} s wall {c:7.1f} s CPU   | {last[:90]}", flush=True)
    load = os.getloadavg()
    print(f"\nwall seconds (median / min over {args.rounds} runs; load average {load[0]:.2f} {load[1]:.2f} "
          f"{load[2]:.2f} at the end):")
    med = {k: statistics.median(v) for k, v in wall.items()}
    for name in runs:
        print(f"  {name:<20} {med[name]:7.1f} / {min(wall[name]):7.1f} s   CPU {statistics.median(cpu[name]):7.1f} s")
    if "pytorch" in runs:
        for name in runs:
            if name != "pytorch":
                print(f"  ratio {name} / pytorch: {med[name] / med['pytorch']:.2f} (median), "
                      f"{min(wall[name]) / min(wall['pytorch']):.2f} (min)")
    if n > 1:
        print(f"  scaling 1 core → {n} workers: {med['tinynet, 1 core'] / med[f'tinynet, {n} workers']:.2f}× "
              f"(median; ideal {n}×, less process start and data loading, which do not split)")


if __name__ == "__main__":
    main()
