"""Would a loader thread pay? Training steps with the next batch loaded (and augmented) in a
background thread while the current step runs, against loading it in turn, as tinynet does.

    .venv/bin/python benchmarks/bench_prefetch.py [--workers N] [--steps 100] [--rounds 4]

Issue 18 asked to overlap loading the next batch with the current step. Before putting a thread
into ``DataLoader`` (and giving it its own random generator, so augmentation stays reproducible),
this measures what it could save, with the engine untouched:

    in turn      for x, y in loader: step(x, y)                  (what fit does)
    prefetched   the same loader read by a thread, two batches ahead (queue.Queue(2))

each with plain MNIST batches (``make train``'s Normalize) and with ``--augment``'s RandomAffine,
the step split over N workers (default: the cores available), as ``tinynet train`` does. The
runs take turns (the order flips each round). Printed: loading alone (ms per batch, this
thread), the step in turn and prefetched (median ms per step over the rounds), and the saving.
The batches differ between runs of the augmented loader (its random draws interleave with the
step's), which does not matter for timing.
"""
import argparse
import queue
import statistics
import threading
import time

from common import tn, F, parallel, machine_note
from tinynet import data, models
from tinynet.cli import common as cli_common
from tinynet.cli.common import int_between


def prefetched(loader, depth=2):
    """Iterate ``loader`` in a background thread, ``depth`` batches ahead."""
    q, done = queue.Queue(depth), object()

    def fill():
        for batch in loader:
            q.put(batch)
        q.put(done)
    threading.Thread(target=fill, daemon=True).start()
    while (batch := q.get()) is not done:
        yield batch


def run(loader, steps, workers, ahead):
    """ms per step over ``steps`` steps (after 5 warm-up steps) of cnn + Adam."""
    tn.manual_seed(0)
    model = models.cnn()
    opt = tn.optim.Adam(model.parameters(), lr=1e-3)
    batches = prefetched(loader) if ahead else iter(loader)
    with parallel.Workers(model, workers) as split:
        for i in range(steps + 5):
            if i == 5:
                t0 = time.perf_counter()
            x, y = next(batches)
            opt.zero_grad()
            split.forward_backward(x, y, F.cross_entropy)
            opt.step()
    return (time.perf_counter() - t0) * 1e3 / steps


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=cli_common.workers, default=parallel.available_cores())
    ap.add_argument("--steps", type=int_between(1), default=100)
    ap.add_argument("--rounds", type=int_between(1), default=4)
    args = ap.parse_args()
    normalize = data.Normalize(0.1307, 0.3081)
    loaders = {"plain": data.mnist("train", transform=normalize),
               "augmented": data.mnist("train", transform=data.Compose([data.RandomAffine(), normalize]))}
    print(f"prefetch: cnn, batch 64, {args.workers} workers, {args.steps} steps per run, {args.rounds} rounds; "
          + machine_note())
    for name, ds in loaders.items():
        loader = data.DataLoader(ds, 64, shuffle=True, seed=0)
        t0, n = time.perf_counter(), 0
        for _ in loader:
            n += 1
        load_ms = (time.perf_counter() - t0) * 1e3 / n
        ms = {"in turn": [], "prefetched": []}
        for r in range(args.rounds):
            for how in (["in turn", "prefetched"] if r % 2 == 0 else ["prefetched", "in turn"]):
                ms[how].append(run(loader, args.steps, args.workers, how == "prefetched"))
        a, b = statistics.median(ms["in turn"]), statistics.median(ms["prefetched"])
        print(f"  {name:10s} loading alone {load_ms:6.2f} ms/batch | step in turn {a:6.1f} ms, prefetched {b:6.1f} ms "
              f"(median of {args.rounds}) | saving {a - b:+5.1f} ms ({100 * (a - b) / a:+.1f} %); "
              f"all runs: in turn {', '.join(f'{v:.1f}' for v in ms['in turn'])}; "
              f"prefetched {', '.join(f'{v:.1f}' for v in ms['prefetched'])}")


if __name__ == "__main__":
    main()
