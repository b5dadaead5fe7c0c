"""What each fine-tuning method costs per training step: the articles' CNN trained fully, with
frozen convolutions, head-only, and with LoRA, in tinynet (and the same in PyTorch for
comparison), in one run. (``bench_frozen.py`` is the focused check of full vs head-only.)

    .venv/bin/python benchmarks/bench_finetune_step.py [--rounds 8] [--per-round 5] [--batch 64]

A step is forward, cross-entropy, backward and an Adam update of the trainable parameters, on
real MNIST batches. Configurations take turns in rounds (``common.alternate``), so load from the
other processes on this shared machine hits all of them alike; medians are reported. The claim
checked (issue 7): training only the head takes at most half the time per step of full training.
It holds when the frozen layers do no backward work at all: the frozen convolutions and fc1 get
inputs that need no gradient, so no graph is recorded for them and backward stops at the head.
"""
import argparse

from common import tn, tinynet_cnn, torch_cnn, mnist_batches, blas_threads, import_torch, \
    alternate, summary, machine_note, tinynet_step_fn, torch_step_fn
from tinynet import finetune
from tinynet.cli.common import int_between

BATCH_MAX = 60000 // 8    # 8 batches are drawn from the 60,000 training images

CONFIGS = {   # name -> what is trainable
    "full": "everything (421,642 parameters)",
    "convs frozen": "fc1 and the head (402,826)",
    "head only": "the last Linear (1,290)",
    "lora r=4": "LoRA A, B on conv1, conv2, fc1 + the head (15,918)",
}


def tinynet_setup(name):
    model = tinynet_cnn()
    if name == "convs frozen":
        finetune.freeze(model, ["0", "3"])
    elif name == "head only":
        finetune.freeze(model, ["0", "3", "7"])
    elif name.startswith("lora"):
        finetune.freeze(model)
        finetune.apply_lora(model, rank=4, targets=["0", "3", "7"])
        finetune.unfreeze(model, "9")
    return model


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int_between(1), default=8)
    ap.add_argument("--per-round", type=int_between(1), default=5)
    ap.add_argument("--batch", type=int_between(1, BATCH_MAX, 64), default=64)
    ap.add_argument("--no-torch", action="store_true")
    args = ap.parse_args(argv)
    tn.manual_seed(0)
    batches = mnist_batches(args.batch, 8)
    runners, trainable = {}, {}
    for name in CONFIGS:
        model = tinynet_setup(name)
        trainable[name] = model.num_parameters(trainable_only=True)
        runners[f"tinynet {name}"] = tinynet_step_fn(model, batches)[0]
    torch = None if args.no_torch else import_torch()
    if torch is not None:
        torch.set_num_threads(blas_threads() or 1)
        for name, frozen in (("full", ()), ("head only", ("0", "3", "7"))):
            model = torch_cnn(torch, tinynet_cnn())
            for n, p in model.named_parameters():
                p.requires_grad_(not any(n.startswith(f + ".") for f in frozen))
            runners[f"torch {name}"] = torch_step_fn(torch, model, batches)
    print(f"batch {args.batch}, Adam, {args.rounds} rounds × {args.per_round} steps; {machine_note()}; "
          f"BLAS threads {blas_threads()}" + (f", torch threads {torch.get_num_threads()}" if torch else ""))
    times = alternate(runners, args.rounds, args.per_round, warmup=2)
    base = {fw: summary(times[f"{fw} full"])[0] for fw in ("tinynet", "torch") if f"{fw} full" in times}
    print(f"{'configuration':26s} {'trainable':>10s} {'median ms':>10s} {'min ms':>8s} {'/ full':>7s}")
    for key, ms in times.items():
        fw, name = key.split(" ", 1)
        med, low = summary(ms)
        count = f"{trainable[name]:,}" if fw == "tinynet" else ""
        print(f"{key:26s} {count:>10s} {med:10.1f} {low:8.1f} {med / base[fw]:7.2f}")
    ratio = summary(times["tinynet head only"])[0] / base["tinynet"]
    verdict = "holds" if ratio <= 0.5 else "does NOT hold"
    print(f"claim 'head-only step <= 1/2 of a full step' {verdict} for tinynet: ratio {ratio:.2f}")
    return 0 if ratio <= 0.5 else 1


if __name__ == "__main__":
    raise SystemExit(main())
