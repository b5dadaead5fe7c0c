"""One training step of the articles' CNN, tinynet against PyTorch, in the same run.

    .venv/bin/python benchmarks/bench_cnn_step.py [--rounds 10] [--per-round 5] [--workers N] [--threads N]

A step is forward, cross-entropy, backward and an Adam update, at batch 64, float32, on real
MNIST batches (the same batches for all). Timed side by side, taking turns in rounds (the order
flips each round, so load from other processes hits all alike), median and minimum ms/step after
a warm-up:

    tinynet, N workers          the batch split over N threads (tinynet.parallel; what
                                `tinynet train` does by default), one BLAS thread per worker
    tinynet, 1 worker           the plain step, BLAS with its own thread count (k)
    tinynet, 1 worker, 1 thread the plain step on one core: the base of the scaling
    pytorch                     torch.set_num_threads(N): the same cores as tinynet's N workers

N (``--workers``) defaults to the cores available; k is NumPy's BLAS count (``--threads`` sets it).
Printed: the ratios tinynet/PyTorch, the scaling from 1 to N workers and what it predicts for more
cores (Amdahl's law fitted to the two points). Then: where tinynet's time goes (per Function, one
worker), and evaluation at batch 1000 (forward, summed loss, argmax: the work of `evaluate`), the
same ways. Without PyTorch installed, tinynet is timed alone.
"""
import argparse
import datetime
import platform
import statistics
import time

from common import (tn, np, blas, parallel, tinynet_cnn, torch_cnn, mnist_batches, blas_threads, set_blas_threads,
                    import_torch, alternate, summary, timed, OpTimer, machine_note, tinynet_step_fn, torch_step_fn)
from tinynet.cli import common as cli_common
from tinynet.cli.common import int_between


def breakdown(step, opt, steps):
    """Per-op milliseconds per step: medians over ``steps`` steps run with every Function timed
    (medians, so a step slowed by another process's burst does not count), wall clock and CPU
    time of this thread."""
    adam = {"ms": 0.0, "cpu": 0.0}
    original_step = opt.step

    def timed_adam():
        c = time.thread_time()
        adam["ms"] += timed(original_step)
        adam["cpu"] += (time.thread_time() - c) * 1e3
    opt.step = timed_adam
    per_step = []                                  # one dict per step: key -> (wall ms, cpu ms) in that step
    try:
        with OpTimer() as t:
            for _ in range(steps):
                before, before_cpu, adam_before = dict(t.ms), dict(t.cpu_ms), dict(adam)
                c = time.thread_time()
                total = timed(step)
                total_cpu = (time.thread_time() - c) * 1e3
                d = {k: (v - before.get(k, 0.0), t.cpu_ms[k] - before_cpu.get(k, 0.0)) for k, v in t.ms.items()}
                d["Adam.step"] = (adam["ms"] - adam_before["ms"], adam["cpu"] - adam_before["cpu"])
                d["total"] = (total, total_cpu)
                per_step.append(d)
    finally:
        del opt.step                                   # back to the class's method
    med = {k: tuple(statistics.median(s.get(k, (0.0, 0.0))[i] for s in per_step) for i in (0, 1))
           for k in per_step[0]}
    total, total_cpu = med.pop("total")
    adam_ms, adam_cpu = med.pop("Adam.step")
    rows = sorted(((ms, cpu, name, phase, t.calls[name, phase] // steps) for (name, phase), (ms, cpu) in med.items()),
                  key=lambda r: -r[1])
    print(f"\nWhere tinynet's time goes (ms per step, medians of {steps} steps with every op timed; the step "
          f"took {total:.1f} ms wall, {total_cpu:.1f} ms CPU on the main thread):")
    print(f"  {'op':<14}{'pass':<10}{'calls':>6}{'wall ms':>9}{'CPU ms':>9}{'CPU share':>11}")
    for ms, cpu, name, phase, calls in rows:
        print(f"  {name:<14}{phase:<10}{calls:>6}{ms:>9.2f}{cpu:>9.2f}{cpu / total_cpu:>11.1%}")
    other, other_cpu = total - sum(r[0] for r in rows) - adam_ms, total_cpu - sum(r[1] for r in rows) - adam_cpu
    print(f"  {'Adam.step':<24}{'':>6}{adam_ms:>9.2f}{adam_cpu:>9.2f}{adam_cpu / total_cpu:>11.1%}")
    print(f"  {'engine, rest':<24}{'':>6}{other:>9.2f}{other_cpu:>9.2f}{other_cpu / total_cpu:>11.1%}"
          "   (graph walk, Tensor wrapping, zero_grad, gradient accumulation)")
    print("  CPU ms: time on the main thread: all of NumPy's elementwise work, BLAS's share of the products\n"
          "  (with 2 BLAS threads the other half runs elsewhere); robust to machine load, unlike wall ms.")


def remaining_note(faults_per_step, threads):
    print("\nWhat remains (details and numbers in benchmarks/README.md):")
    print("  - one worker: the matrix products (conv and linear) run on all BLAS threads; everything else (im2col,")
    print("    col2im, pooling, ReLU, Adam, transposes) is NumPy elementwise work on one core, where PyTorch uses all"
          f" {threads or 'its'} threads")
    print("  - N workers: every op of forward and backward runs on N cores, one share of the batch each; adding the")
    print("    workers' gradients and the Adam step stay on one core, as does the Python between ops (the GIL)")
    if faults_per_step > 1000:
        print(f"  - {faults_per_step:.0f} page faults per tinynet step: glibc returns freed memory to the kernel after every"
              " step;\n    tinynet/malloc.py keeps freed memory unless TINYNET_MALLOC=default is set")


def inference(tiny_model, workers, torch, torch_model, x, y, rounds, per_round=3):
    """Evaluation of one batch: forward (eval mode, no graph), summed cross-entropy, argmax;
    ``rounds`` alternating rounds of ``per_round`` calls each."""
    xt, yt = tn.Tensor(x), tn.Tensor(y)

    def tiny():
        with tn.no_grad():
            logits = tiny_model(xt)
            tn.functional.cross_entropy(logits, yt, reduction="sum").item()
            logits.data.argmax(axis=1)
    runners = {"tinynet, 1 worker": tiny}
    if workers.workers > 1:
        runners[f"tinynet, {workers.workers} workers"] = lambda: workers.evaluate_batch(
            xt, yt, tn.functional.cross_entropy)
    if torch is not None:
        xtorch, ytorch = torch.from_numpy(x), torch.from_numpy(y)

        def th():
            with torch.no_grad():
                logits = torch_model(xtorch)
                torch.nn.functional.cross_entropy(logits, ytorch, reduction="sum").item()
                logits.argmax(1)
        runners["pytorch"] = th
    times = alternate(runners, rounds=rounds, per_round=per_round, warmup=1)
    print(f"\nEvaluation, batch {len(x)} (forward in eval mode, no graph; summed loss; argmax), "
          f"{rounds} rounds × {per_round} calls:")
    report(times, len(x), "batch", workers.workers)


def report(times, batch, unit, n):
    """Median and min per runner, images/s, the ratios to PyTorch, and the scaling to n workers."""
    for name, ms in times.items():
        med, best = summary(ms)
        print(f"  {name:<31} median {med:7.1f} ms/{unit} ({batch / med * 1e3:6.0f} images/s)   min {best:7.1f} ms")
    med = {name: summary(ms)[0] for name, ms in times.items()}
    best = {name: summary(ms)[1] for name, ms in times.items()}
    if "pytorch" in times:
        for name in times:
            if name.startswith("tinynet"):
                print(f"  ratio {name} / pytorch: {med[name] / med['pytorch']:.2f} (median), "
                      f"{best[name] / best['pytorch']:.2f} (min)")
    many, one = f"tinynet, {n} workers", "tinynet, 1 worker, 1 thread"
    if many in times and one in times:
        speedup = med[one] / med[many]
        print(f"  scaling 1 → {n} workers (one BLAS thread each): {speedup:.2f}× faster (median; ideal {n}×)")
        if speedup > 1:
            p = (1 - 1 / speedup) / (1 - 1 / n)        # Amdahl: the share of the work that splits
            guess = ", ".join(f"{m} cores {1 / ((1 - p) + p / m):.1f}×" for m in (4, 8, 16))
            print(f"  Amdahl's law from these two points: {p:.0%} of the step splits over workers, so "
                  f"{guess} (an upper bound: memory bandwidth and the GIL also limit)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int_between(1, 60000 // 40, 64), default=64,
                    help="images per step (40 batches are drawn from the 60,000 training images)")
    ap.add_argument("--rounds", type=int_between(1), default=10, help="alternating rounds (default 10)")
    ap.add_argument("--per-round", type=int_between(1), default=5, help="steps per runner per round (default 5)")
    ap.add_argument("--warmup", type=int_between(0), default=5)
    ap.add_argument("--workers", type=cli_common.workers, default=parallel.available_cores(),
                    help="tinynet's workers and PyTorch's threads (default: the cores available)")
    ap.add_argument("--threads", type=int_between(1, 256, 2), default=None,
                    help="set NumPy's BLAS threads for the one-worker step to this; default: leave BLAS as it is")
    ap.add_argument("--breakdown-steps", type=int_between(1), default=20)
    ap.add_argument("--eval-rounds", type=int_between(1), default=15,
                    help="alternating rounds of the evaluation timing, 3 calls each (default 15)")
    ap.add_argument("--no-inference", action="store_true")
    args = ap.parse_args()

    if args.threads:
        set_blas_threads(args.threads)
    threads = blas_threads()
    n = parallel.check_workers(args.workers)
    torch = import_torch()
    print(f"tinynet CNN training step benchmark — {datetime.datetime.now():%Y-%m-%d %H:%M}, "
          f"{platform.processor() or platform.machine()}, {machine_note()}")
    print("glibc malloc thresholds raised by tinynet at import (tinynet/malloc.py; process-wide, so for "
          f"PyTorch too): {tn.malloc.tuned}")
    print(f"numpy {np.__version__}, BLAS threads (one-worker step): {threads if threads is not None else 'unknown'}, "
          f"tinynet workers: {n}")
    if torch is None:
        print("PyTorch is not installed: timing tinynet alone (pip install 'torch==2.13.0' to compare).")
    else:
        torch.set_num_threads(n)
        print(f"torch {torch.__version__}, torch threads: {torch.get_num_threads()} (= tinynet's workers)")

    tn.manual_seed(0)
    batches = mnist_batches(args.batch, 40)
    tiny_model = tinynet_cnn()
    copies = [tinynet_cnn() for _ in range(2)]        # the same weights for every runner
    for c in copies:
        c.load_state_dict(tiny_model.state_dict())
    torch_model = torch_cnn(torch, tiny_model) if torch is not None else None

    workers = parallel.Workers(copies[0], n)
    tiny_step, tiny_opt = tinynet_step_fn(tiny_model, batches)
    many_step, _ = tinynet_step_fn(copies[0], batches, workers)
    single_step, _ = tinynet_step_fn(copies[1], batches)

    def single_thread_step():
        with blas.limit_threads(1):
            return single_step()
    runners = {}
    if n > 1:
        runners[f"tinynet, {n} workers"] = many_step
    runners["tinynet, 1 worker"] = tiny_step
    if threads != 1:
        runners["tinynet, 1 worker, 1 thread"] = single_thread_step
    if torch is not None:
        runners["pytorch"] = torch_step_fn(torch, torch_model, batches)
    # the same weights and the same first batch give the same loss: a check we time the same thing
    first = {name: float(step().item()) for name, step in runners.items()}
    print("first-step loss (same weights, same batch): " + ", ".join(f"{k} {v:.6f}" for k, v in first.items()))

    t0 = time.perf_counter()
    usage = {}
    times = alternate(runners, args.rounds, args.per_round, args.warmup, usage)
    print(f"\nTraining step, batch {args.batch}, float32: {args.rounds} rounds × {args.per_round} steps each, "
          f"after {args.warmup} warm-up steps ({time.perf_counter() - t0:.0f} s)")
    report(times, args.batch, "step", n)
    print("  CPU ms/step over all threads, page faults/step: " + "; ".join(
        f"{name} {usage[name][0]:.1f}, {usage[name][1]:.0f}" for name in times))

    breakdown(tiny_step, tiny_opt, args.breakdown_steps)
    remaining_note(usage["tinynet, 1 worker"][1], threads)

    if not args.no_inference:
        tiny_model.eval()
        if torch_model is not None:
            torch_model.eval()
        x, y = mnist_batches(1000, 1, "test")[0]
        inference(tiny_model, parallel.Workers(tiny_model, n), torch, torch_model, x, y, rounds=args.eval_rounds)
    workers.close()


if __name__ == "__main__":
    main()
