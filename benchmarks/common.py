"""What the benchmarks share: the articles' CNN in both frameworks, MNIST batches, thread counts,
timing in alternating rounds, and a per-op timer for tinynet's Functions.

The CNN (the one the articles train on MNIST):

    conv(1→32, 3×3, pad 1) · ReLU · maxpool 2 · conv(32→64, 3×3, pad 1) · ReLU · maxpool 2 ·
    flatten · linear(3136→128) · ReLU · linear(128→10),   cross-entropy loss.
"""
import os
import resource
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))   # run from a checkout

import tinynet as tn                                     # noqa: E402
import tinynet.functional as F                            # noqa: E402
from tinynet import blas, parallel                        # noqa: E402
from tinynet import nn                                    # noqa: E402
from tinynet.tensor import Function                       # noqa: E402
from data_tools.mnist import load_mnist, MNIST_MEAN, MNIST_STD   # noqa: E402


def tinynet_cnn():
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(3136, 128), nn.ReLU(), nn.Linear(128, 10))


def torch_cnn(torch, tiny_model):
    """The same network in PyTorch, starting from tinynet's weights (same keys: "0.weight", …)."""
    tnn = torch.nn
    model = tnn.Sequential(
        tnn.Conv2d(1, 32, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(2),
        tnn.Conv2d(32, 64, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(2),
        tnn.Flatten(), tnn.Linear(3136, 128), tnn.ReLU(), tnn.Linear(128, 10))
    model.load_state_dict({k: torch.from_numpy(np.array(v.numpy())) for k, v in tiny_model.state_dict().items()})
    return model


def mnist_batches(batch_size, count, split="train"):
    """``count`` real MNIST batches: float32 images (B, 1, 28, 28) normalised as in the articles,
    int64 labels (B,)."""
    images, labels = load_mnist(split)
    n = batch_size * count
    if n > len(images):
        raise ValueError(f"asked for {count} batches of {batch_size}, the {split} split has {len(images)} images")
    x = ((images[:n].astype(np.float32) / 255 - MNIST_MEAN) / MNIST_STD).astype(np.float32)
    x = x.reshape(count, batch_size, 1, 28, 28)
    y = labels[:n].astype(np.int64).reshape(count, batch_size)
    return [(x[i], y[i]) for i in range(count)]


# --- thread counts (how tinynet asks and sets OpenBLAS's: tinynet/blas.py) ----------------------
def blas_threads():
    """The number of threads NumPy's BLAS uses (``None`` if it cannot be asked)."""
    return blas.threads()


def set_blas_threads(n):
    blas.set_threads(n)


def import_torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


# --- timing ---------------------------------------------------------------------------------
def timed(fn):
    """Milliseconds one call of ``fn`` takes."""
    t = time.perf_counter()
    fn()
    return (time.perf_counter() - t) * 1e3


def alternate(runners, rounds, per_round, warmup, usage=None):
    """Time each runner ``per_round`` calls at a time, taking turns for ``rounds`` rounds (the order
    flips every round), so a burst of load from other processes hits every runner alike.

    ``runners`` is a dict name → zero-argument function; returns name → list of ms per call.
    If ``usage`` is a dict, it receives name → (CPU ms per call, user + system, all threads;
    minor page faults per call), from ``getrusage`` around each runner's turns.
    """
    for fn in runners.values():
        for _ in range(warmup):
            fn()
    times = {name: [] for name in runners}
    cpu = {name: [0.0, 0] for name in runners}
    names = list(runners)
    for r in range(rounds):
        for name in (names if r % 2 == 0 else names[::-1]):
            before = resource.getrusage(resource.RUSAGE_SELF)
            times[name] += [timed(runners[name]) for _ in range(per_round)]
            after = resource.getrusage(resource.RUSAGE_SELF)
            cpu[name][0] += (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) * 1e3
            cpu[name][1] += after.ru_minflt - before.ru_minflt
    if usage is not None:
        n = rounds * per_round
        usage.update({name: (ms / n, faults / n) for name, (ms, faults) in cpu.items()})
    return times


def tinynet_step_fn(model, batches, workers=None):
    """One training step per call (forward, cross-entropy, backward, Adam on the trainable
    parameters), cycling through ``batches``; returns (step, optimizer). step() returns the loss.
    ``workers``: a ``tinynet.parallel.Workers`` of ``model`` to split each step over (as
    ``train.fit(..., workers=N)`` does), or None for the plain step in this thread."""
    opt = tn.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    state = {"i": 0}

    def step():
        x, y = batches[state["i"] % len(batches)]
        state["i"] += 1
        opt.zero_grad()
        if workers is not None:
            loss = tn.tensor(workers.forward_backward(tn.Tensor(x), tn.Tensor(y), F.cross_entropy)[0])
        else:
            loss = F.cross_entropy(model(tn.Tensor(x)), y)
            loss.backward()
        opt.step()
        return loss
    return step, opt


def torch_step_fn(torch, model, batches, device=None):
    """The same step in PyTorch, on the same batches (moved to ``device`` first, e.g. "cuda":
    then each step waits for its GPU work, ``torch.cuda.synchronize()``)."""
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    data = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in batches]
    if device is not None:
        data = [(x.to(device), y.to(device)) for x, y in data]
    state = {"i": 0}

    def step():
        x, y = data[state["i"] % len(data)]
        state["i"] += 1
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        if device is not None:
            torch.cuda.synchronize()
        return loss
    return step


def summary(ms):
    return statistics.median(ms), min(ms)


# --- where tinynet's time goes --------------------------------------------------------------
def _all_functions(cls=Function):
    for sub in cls.__subclasses__():
        yield sub
        yield from _all_functions(sub)


class OpTimer:
    """Inside ``with OpTimer() as t:``, every ``Function`` subclass's ``forward`` and ``backward``
    is wrapped by a timer (the engine is not modified; the wrappers are removed on exit).
    ``t.ms[(name, "forward")]`` is the total wall-clock milliseconds spent, ``t.cpu_ms`` the CPU
    milliseconds of the calling thread (NumPy's own work, and BLAS's share on this thread; robust
    to other processes' load, which wall time is not), ``t.calls`` the number of calls.
    A Function called from inside another's forward is counted in both (none is in this CNN).
    """

    def __init__(self):
        self.ms, self.cpu_ms, self.calls, self._saved = defaultdict(float), defaultdict(float), defaultdict(int), []

    def _wrap(self, cls, method):
        original = cls.__dict__[method]
        key = (cls.__name__, method)

        def wrapper(*args, **kwargs):
            t, c = time.perf_counter(), time.thread_time()
            try:
                return original(*args, **kwargs)
            finally:
                self.ms[key] += (time.perf_counter() - t) * 1e3
                self.cpu_ms[key] += (time.thread_time() - c) * 1e3
                self.calls[key] += 1
        setattr(cls, method, wrapper)
        self._saved.append((cls, method, original))

    def __enter__(self):
        for cls in set(_all_functions()):
            for method in ("forward", "backward"):
                if method in cls.__dict__:
                    self._wrap(cls, method)
        return self

    def __exit__(self, *exc):
        for cls, method, original in reversed(self._saved):
            setattr(cls, method, original)
        self._saved.clear()


def machine_note():
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    cpus = os.cpu_count()
    s = f"{cpus} CPUs"
    if load:
        s += f", load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (1/5/15 min)"
    return s


__all__ = ["tn", "F", "nn", "np", "blas", "parallel", "tinynet_cnn", "torch_cnn", "mnist_batches", "blas_threads",
           "set_blas_threads", "import_torch", "timed", "alternate", "tinynet_step_fn", "torch_step_fn", "summary", "OpTimer", "machine_note"]
