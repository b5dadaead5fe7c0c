"""One training step and inference of the articles' CNN on a GPU: tinynet on CuPy against PyTorch on CUDA.

    .venv/bin/python benchmarks/bench_cnn_step_gpu.py [--rounds 10] [--per-round 5] [--batch 64]

The sibling of bench_cnn_step.py for the "cupy" backend: the same network, weights, real MNIST
batches (moved to the GPU once, before timing) and Adam step, the two frameworks taking turns in
rounds, in one process. A step is timed up to the end of its GPU work (each framework's device
synchronize), so queued kernels are not mistaken for speed. Prints median and minimum ms/step,
images/s at inference (batch 1000) and the ratios. Where no GPU works it prints one line saying
why and exits 0; without PyTorch's CUDA it times tinynet alone.
"""
import argparse
import sys

from common import (tn, F, tinynet_cnn, torch_cnn, mnist_batches, import_torch, alternate, summary,
                    torch_step_fn)
from tinynet import backend
from tinynet.cli.common import int_between


def gpu_or_reason():
    """(cupy, None) when tinynet's "cupy" backend works here, else (None, why not)."""
    try:
        tn.set_backend("cupy")
    except backend.BackendUnavailable as e:
        return None, str(e)
    return backend.get_module("cupy"), None


def tinynet_runners(cupy, model, batches, x_inference):
    opt = tn.optim.Adam(model.parameters(), lr=1e-3)
    data = [(tn.Tensor(backend.to_backend(x, "cupy")), tn.Tensor(backend.to_backend(y, "cupy"))) for x, y in batches]
    xi = tn.Tensor(backend.to_backend(x_inference, "cupy"))
    sync = cupy.cuda.runtime.deviceSynchronize
    state = {"i": 0}

    def step():
        x, y = data[state["i"] % len(data)]
        state["i"] += 1
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        sync()
        return loss

    def infer():
        with tn.no_grad():
            model(xi)
        sync()
    return step, infer


def torch_runners(torch, model, batches, x_inference):
    model = model.to("cuda")
    xi = torch.from_numpy(x_inference).to("cuda")

    def infer():
        with torch.no_grad():
            model(xi)
        torch.cuda.synchronize()
    return torch_step_fn(torch, model, batches, device="cuda"), infer, model


def report(title, times, per_call_images=None):
    print(title)
    for name, ms in times.items():
        med, best = summary(ms)
        rate = f"   ({per_call_images / med * 1e3:,.0f} images/s)" if per_call_images else ""
        print(f"  {name:<8} median {med:8.2f} ms   min {best:8.2f} ms{rate}")
    if len(times) == 2:
        (tm, tb), (pm, pb) = summary(times["tinynet"]), summary(times["pytorch"])
        print(f"  ratio tinynet/pytorch: {tm / pm:.2f} (median), {tb / pb:.2f} (min)")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int_between(1, 60000 // 40, 64), default=64)
    ap.add_argument("--rounds", type=int_between(1), default=10)
    ap.add_argument("--per-round", type=int_between(1), default=5)
    ap.add_argument("--warmup", type=int_between(0), default=5)
    ap.add_argument("--no-inference", action="store_true")
    args = ap.parse_args(argv)

    cupy, reason = gpu_or_reason()
    if cupy is None:
        print(f"bench_cnn_step_gpu: skipped, no GPU works here: {reason}")
        return 0
    try:
        props = cupy.cuda.runtime.getDeviceProperties(0)
        name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
        print(f"tinynet on CuPy {cupy.__version__}, device {name}")
        torch = import_torch()
        if torch is not None and not torch.cuda.is_available():
            print(f"torch {torch.__version__} has no CUDA here: timing tinynet alone")
            torch = None
        elif torch is None:
            print("PyTorch is not installed: timing tinynet alone (pip install 'torch==2.13.0' to compare)")
        else:
            print(f"torch {torch.__version__} on {torch.cuda.get_device_name(0)}")

        tn.manual_seed(0)
        batches = mnist_batches(args.batch, 40)
        x_inference = mnist_batches(1000, 1, "test")[0][0]
        model = tinynet_cnn().to("cupy")
        torch_model = torch_cnn(torch, model) if torch is not None else None
        tiny_step, tiny_infer = tinynet_runners(cupy, model, batches, x_inference)
        steps, infers = {"tinynet": tiny_step}, {"tinynet": tiny_infer}
        if torch is not None:
            steps["pytorch"], infers["pytorch"], torch_model = torch_runners(torch, torch_model, batches, x_inference)
            print(f"first-step loss: tinynet {tiny_step().item():.6f}, pytorch {steps['pytorch']().item():.6f} "
                  "(same weights, same batch: the check that both time the same thing)")
        times = alternate(steps, args.rounds, args.per_round, args.warmup)
        report(f"\nTraining step, batch {args.batch}, float32, {args.rounds} rounds × {args.per_round} steps:", times)
        if not args.no_inference:
            model.eval()
            if torch_model is not None:
                torch_model.eval()
            report("\nInference, batch 1000, no graph:", alternate(infers, max(args.rounds // 2, 1), 1, 1), 1000)
    finally:
        tn.set_backend("numpy")
    return 0


if __name__ == "__main__":
    sys.exit(main())
