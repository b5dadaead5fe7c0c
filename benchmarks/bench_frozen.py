"""Fine-tuning cost: a training step of the articles' CNN with every layer trained, against one
with only the last Linear trained (every other parameter ``requires_grad=False``).

    .venv/bin/python benchmarks/bench_frozen.py [--rounds 8] [--per-round 5]

A frozen layer whose input needs no gradient is not recorded in the graph at all
(``Function.__call__`` records only when some input requires grad), so its backward never runs;
a layer whose input does need a gradient skips only its weight-gradient work
(``Function.needs_input_grad``). This script checks the first case on the first conv (raw
images in, frozen weight): its backward must be called zero times. Then it times both set-ups in
alternating rounds (batch 64, float32, real MNIST batches, Adam) and prints the ratio.
"""
import argparse
import datetime

from common import (tn, np, tinynet_cnn, mnist_batches, blas_threads, alternate, summary,
                    machine_note, tinynet_step_fn)
from tinynet.ops.conv import Conv2d as ConvFunction
from tinynet.ops.linear import Linear as LinearFunction
from tinynet.cli.common import int_between


def head_only(model):
    """Freeze everything but the last layer (a Linear)."""
    for p in model.parameters():
        p.requires_grad = False
    for p in model[-1].parameters():
        p.requires_grad = True
    return model


def count_backward_calls(step):
    """Calls of Conv2d.backward and Linear.backward during one step, and what each computed."""
    calls = {"conv": [], "linear": []}
    originals = ConvFunction.backward, LinearFunction.backward

    def spy(kind, original):
        def backward(self, gy):
            grads = original(self, gy)
            calls[kind].append(tuple(g is not None for g in grads))
            return grads
        return backward
    ConvFunction.backward, LinearFunction.backward = spy("conv", originals[0]), spy("linear", originals[1])
    try:
        step()
    finally:
        ConvFunction.backward, LinearFunction.backward = originals
    return calls


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int_between(1), default=8)
    ap.add_argument("--per-round", type=int_between(1), default=5)
    ap.add_argument("--warmup", type=int_between(0), default=3)
    args = ap.parse_args()
    print(f"tinynet frozen-layers benchmark — {datetime.datetime.now():%Y-%m-%d %H:%M}, {machine_note()}, "
          f"numpy {np.__version__}, BLAS threads {blas_threads()}")

    batches = mnist_batches(64, 20)
    tn.manual_seed(0)
    full = tinynet_cnn()
    tn.manual_seed(0)
    head = head_only(tinynet_cnn())
    steps = {"all layers": tinynet_step_fn(full, batches)[0], "last Linear only": tinynet_step_fn(head, batches)[0]}

    # the frozen convs on raw images: not in the graph, so their backward never runs
    out = head[0](tn.Tensor(batches[0][0]))
    assert out.grad_fn is None and not out.requires_grad, "frozen first conv was recorded in the graph"
    for name, step in steps.items():
        calls = count_backward_calls(step)
        print(f"{name:>17}: Conv2d.backward calls {len(calls['conv'])}, Linear.backward calls "
              f"{len(calls['linear'])} (gradients computed for (input, weight, bias): "
              f"conv {calls['conv']}, linear {calls['linear']})")
    frozen_calls = count_backward_calls(steps["last Linear only"])
    if frozen_calls["conv"]:
        raise SystemExit("FAIL: a frozen conv on an input that needs no gradient ran its backward")
    print("frozen convs: no backward work at all (not recorded in the graph)")

    times = alternate(steps, args.rounds, args.per_round, args.warmup)
    print(f"\nTraining step, batch 64, float32, {args.rounds} rounds × {args.per_round} steps each:")
    for name, ms in times.items():
        med, best = summary(ms)
        print(f"  {name:>17}: median {med:6.1f} ms/step, min {best:6.1f} ms/step")
    (fm, fb), (hm, hb) = summary(times["all layers"]), summary(times["last Linear only"])
    print(f"  ratio last-Linear-only / all layers: {hm / fm:.2f} (median), {hb / fb:.2f} (min)")


if __name__ == "__main__":
    main()
