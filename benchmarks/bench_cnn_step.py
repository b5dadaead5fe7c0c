"""One training step of the articles' CNN, tinynet against PyTorch, in the same run.

    .venv/bin/python benchmarks/bench_cnn_step.py [--rounds 10] [--per-round 5] [--threads N]

A step is forward, cross-entropy, backward and an Adam update, at batch 64, float32, on real
MNIST batches (the same batches for both). The two frameworks take turns in rounds (the order
flips each round), so load from other processes on the machine hits both alike; each reports
the median and the minimum ms/step after a warm-up. PyTorch runs with as many threads as
NumPy's BLAS, and both counts are printed. Then: where tinynet's time goes (forward and backward
of each Function type, the Adam update, and what is left for the engine), and inference at
batch 1000 (images/s). Without PyTorch installed, tinynet is timed alone.
"""
import argparse
import datetime
import platform
import statistics
import time

from common import (tn, np, tinynet_cnn, torch_cnn, mnist_batches, blas_threads, set_blas_threads,
                    import_torch, alternate, summary, timed, OpTimer, machine_note, tinynet_step_fn, torch_step_fn)


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
    print("  - the matrix products (conv and linear) run on all BLAS threads; everything else (im2col, col2im,")
    print("    pooling, ReLU, Adam, transposes) is NumPy elementwise work on one core, where PyTorch uses all"
          f" {threads or 'its'} threads")
    if faults_per_step > 1000:
        print(f"  - {faults_per_step:.0f} page faults per tinynet step: glibc returns freed memory to the kernel after every"
              " step;\n    tinynet/malloc.py keeps freed memory unless TINYNET_MALLOC=default is set")


def inference(tiny_model, torch, torch_model, x, rounds):
    runners = {}
    xt = tn.Tensor(x)

    def tiny():
        with tn.no_grad():
            tiny_model(xt)
    runners["tinynet"] = tiny
    if torch is not None:
        xtorch = torch.from_numpy(x)

        def th():
            with torch.no_grad():
                torch_model(xtorch)
        runners["pytorch"] = th
    times = alternate(runners, rounds=rounds, per_round=1, warmup=1)
    print(f"\nInference, batch {len(x)} (eval mode, no graph), {rounds} rounds:")
    for name, ms in times.items():
        med, best = summary(ms)
        print(f"  {name:<8} {med:8.1f} ms/batch median ({len(x) / med * 1e3:8.0f} images/s), "
              f"min {best:.1f} ms ({len(x) / best * 1e3:.0f} images/s)")
    if torch is not None:
        print(f"  ratio tinynet/pytorch (median): {summary(times['tinynet'])[0] / summary(times['pytorch'])[0]:.2f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=10, help="alternating rounds (default 10)")
    ap.add_argument("--per-round", type=int, default=5, help="steps per framework per round (default 5)")
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None,
                    help="set NumPy's BLAS threads (and PyTorch's) to this; default: leave BLAS as it is")
    ap.add_argument("--breakdown-steps", type=int, default=20)
    ap.add_argument("--no-inference", action="store_true")
    args = ap.parse_args()

    if args.threads:
        set_blas_threads(args.threads)
    threads = blas_threads()
    torch = import_torch()
    print(f"tinynet CNN training step benchmark — {datetime.datetime.now():%Y-%m-%d %H:%M}, "
          f"{platform.processor() or platform.machine()}, {machine_note()}")
    print("glibc malloc thresholds raised by tinynet at import (tinynet/malloc.py; process-wide, so for "
          f"PyTorch too): {tn.malloc.tuned}")
    print(f"numpy {np.__version__}, BLAS threads: {threads if threads is not None else 'unknown'}")
    if torch is None:
        print("PyTorch is not installed: timing tinynet alone (pip install 'torch==2.13.0' to compare).")
    else:
        torch.set_num_threads(threads or torch.get_num_threads())
        print(f"torch {torch.__version__}, torch threads: {torch.get_num_threads()}")

    tn.manual_seed(0)
    batches = mnist_batches(args.batch, 40)
    tiny_model = tinynet_cnn()
    torch_model = torch_cnn(torch, tiny_model) if torch is not None else None

    tiny_step, tiny_opt = tinynet_step_fn(tiny_model, batches)
    runners = {"tinynet": tiny_step}
    if torch is not None:
        runners["pytorch"] = torch_step_fn(torch, torch_model, batches)
        # the same weights and the same first batch give the same loss: a check we time the same thing
        l_tiny, l_torch = tiny_step().item(), runners["pytorch"]().item()
        print(f"first-step loss: tinynet {l_tiny:.6f}, pytorch {l_torch:.6f} (same weights, same batch)")

    t0 = time.perf_counter()
    usage = {}
    times = alternate(runners, args.rounds, args.per_round, args.warmup, usage)
    print(f"\nTraining step, batch {args.batch}, float32: {args.rounds} rounds × {args.per_round} steps each, "
          f"after {args.warmup} warm-up steps ({time.perf_counter() - t0:.0f} s)")
    for name, ms in times.items():
        med, best = summary(ms)
        print(f"  {name:<8} median {med:7.1f} ms/step   min {best:7.1f} ms/step   "
              f"(CPU {usage[name][0]:.1f} ms/step over all threads, {usage[name][1]:.0f} page faults/step)")
    if torch is not None:
        (tm, tb), (pm, pb) = summary(times["tinynet"]), summary(times["pytorch"])
        print(f"  ratio tinynet/pytorch: {tm / pm:.2f} (median), {tb / pb:.2f} (min)")

    breakdown(tiny_step, tiny_opt, args.breakdown_steps)
    remaining_note(usage["tinynet"][1], threads)

    if not args.no_inference:
        tiny_model.eval()
        if torch_model is not None:
            torch_model.eval()
        x = mnist_batches(1000, 1, "test")[0][0]
        inference(tiny_model, torch, torch_model, x, rounds=5)


if __name__ == "__main__":
    main()
