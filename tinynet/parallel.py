"""Data parallelism over threads: every core trains on its own share of each batch.

    workers = Workers(model, 2)                     # the model, and one replica of it per worker
    optimizer.zero_grad()
    loss, predictions = workers.forward_backward(x, y, F.cross_entropy)   # the batch's gradient in .grad
    optimizer.step()                                # one step on the model's own parameters
    workers.close()                                 # or: with Workers(model, 2) as workers: …

``train.fit(..., workers=2)`` and ``tinynet train --workers 2`` do exactly this at every step.

**Why it is exact.** A mean loss over a batch of n samples split into parts of n₀, n₁, … samples is
the weighted mean of the parts' mean losses, and so is its gradient:

    L = (1/n) Σₛ ℓₛ = Σᵢ (nᵢ/n) · Lᵢ          ∇L = Σᵢ (nᵢ/n) · ∇Lᵢ

So worker i runs forward and backward of part i alone, starting its backward from nᵢ/n instead of
1 (``autograd.grad(Lᵢ, params, grad_output=nᵢ/n)``), and the parts' gradients are added. The parts
are as equal as possible (the first n mod N one sample larger), in batch order; a last batch
smaller than the others is split the same way, and the weights nᵢ/n keep it exact.

**What changes numerically: the order of a sum.** One worker adds the contributions of the n
samples inside one BLAS product (in the order its blocking chooses) and scales by 1/n; N workers
add within each part, scale by nᵢ/n (rounded to float32), then add the parts in the fixed order
0, 1, …, N-1. Float32 addition is not associative, so the gradients differ from one worker's by
round-off (relative 1e-6 or so), never more; and since the order is fixed, two runs with the same
seed and the same N are bit-identical. (``tests/test_parallel.py`` checks both.)

**Replicas share nothing mutable.** Each worker has its own copy of the module tree: its own
Parameter objects, which point at the model's parameter arrays (read-only during the step: no
copy, and the optimizer's in-place update is seen at once — they are re-pointed every step all
the same); its own buffers (BatchNorm's running statistics); its own graph, walked by
``autograd.grad``, which writes no ``.grad``; its own random generator (``random.thread_generator``,
seeded at every step from tinynet's shared generator and the worker's number, so dropout masks
repeat for a given seed and N, and a resumed checkpoint continues them). Only after every worker
has finished are the gradients added into the model's ``.grad`` and its buffers updated, in the
calling thread; the optimizer step that follows is the one of a single worker. (Other attributes
of a module are copied by reference: a custom layer that changes a Python attribute of its own in
``forward`` would change it in every replica at once, and needs a buffer instead.)

**BatchNorm** normalises each part with that part's own mean and variance, as PyTorch's
``DataParallel`` and ``DistributedDataParallel`` do (``SyncBatchNorm`` would pool them; tinynet
has none). So with BatchNorm in training mode, N workers compute a different function from one
worker, as in PyTorch; parts are kept at 2 samples or more so every part has a variance. The
running statistics: every replica updates its copy from its part, and the model keeps their
average weighted by nᵢ/n — for ``running_mean`` that is the whole batch's update (up to round-off);
``running_var`` moves towards the parts' (unbiased) variances averaged the same way, not the whole
batch's, which also counts the spread between the parts' means (PyTorch's ``DataParallel`` keeps
the first replica's statistics instead).
``num_batches_tracked`` counts one per step, as with one worker.

**Threads and BLAS.** Worker 0 is the calling thread, the others a pool started once. During the
work, NumPy's BLAS is held to one thread per product (``blas.limit_threads(1)``: N workers already
use N cores), and put back afterwards. NumPy releases Python's GIL inside its array operations, so
the workers really run at once; the GIL is held only for the Python between them.
"""
import concurrent.futures
import contextlib
import numbers
import os

from . import autograd, backend, blas, nn, random
from .tensor import Tensor, enable_grad, no_grad

__all__ = ["Workers", "available_cores", "MAX_WORKERS", "check_workers", "split"]

MAX_WORKERS = 64      # a worker count above this is refused as a mistake
EVAL_CHUNK = 128      # evaluate_batch runs a worker's part in pieces of at most this many samples (see there)


def available_cores():
    """The number of cores this process may run on (its CPU affinity), at least 1."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:          # not on Linux
        return os.cpu_count() or 1


def check_workers(workers):
    """``workers`` as an int if it is a whole number from 1 to ``MAX_WORKERS`` (a Python or NumPy
    integer, not a bool or a float); else ValueError saying so."""
    if isinstance(workers, bool) or not isinstance(workers, numbers.Integral) or not 1 <= workers <= MAX_WORKERS:
        raise ValueError(f"workers must be a whole number from 1 to {MAX_WORKERS}, got {workers!r}")
    return int(workers)


def split(n, parts, least=1):
    """``[(start, stop), …]``: ``n`` samples in at most ``parts`` consecutive parts as equal as
    possible (the first ``n mod parts`` one larger), each of at least ``least`` samples, or one
    part when ``n < 2·least``."""
    k = max(min(parts, n // least), 1)
    q, r = divmod(n, k)
    bounds = [0]
    for i in range(k):
        bounds.append(bounds[-1] + q + (i < r))
    return list(zip(bounds[:-1], bounds[1:]))


def _replicate(module, memo):
    """A copy of ``module``'s tree with new Parameter objects pointing at the same arrays, and
    copies of the buffers. ``memo`` maps id(original) → copy, so a shared (tied) parameter or
    module stays shared in the copy."""
    if id(module) in memo:
        return memo[id(module)]
    copy = object.__new__(type(module))
    copy.__dict__.update(module.__dict__)
    memo[id(module)] = copy
    parameters = {}
    for name, p in module._parameters.items():
        if p is not None and id(p) not in memo:
            memo[id(p)] = nn.Parameter(p.data, requires_grad=p.requires_grad)
        parameters[name] = None if p is None else memo[id(p)]
    object.__setattr__(copy, "_parameters", type(module._parameters)(parameters))
    object.__setattr__(copy, "_buffers", type(module._buffers)(
        (name, None if b is None else Tensor(b.data.copy())) for name, b in module._buffers.items()))
    object.__setattr__(copy, "_modules", type(module._modules)(
        (name, None if m is None else _replicate(m, memo)) for name, m in module._modules.items()))
    return copy


def _argmax(logits):
    return backend.to_numpy(logits.data.argmax(axis=1))


class Workers:
    """``model``'s training step and evaluation split over ``workers`` threads (see the module
    docstring). ``forward_backward`` leaves the batch's gradient in the model's ``.grad``, as
    ``loss.backward()`` would; ``evaluate_batch`` is ``evaluate``'s loss and predictions of one
    batch. With ``workers=1`` everything runs in the calling thread, bit for bit as the plain
    five lines of a training step."""

    def __init__(self, model, workers):
        self.model, self.workers = model, check_workers(workers)
        self.params = list(model.parameters())
        self.buffers = list(model.buffers())
        self.modules = list(model.modules())
        self.replicas = [_replicate(model, {}) for _ in range(self.workers)]
        self.batchnorm = any(isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)) for m in self.modules)
        self.pool = (concurrent.futures.ThreadPoolExecutor(self.workers - 1, thread_name_prefix="tinynet-worker")
                     if self.workers > 1 else None)

    def close(self):
        """Stop the worker threads (after their current work)."""
        if self.pool is not None:
            self.pool.shutdown()
            self.pool = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _sync(self, replica):
        """Point the replica at the model's current parameters, copy its buffers and modes."""
        for p, q in zip(self.params, replica.parameters()):
            q.data = p.data
            q._requires_grad = p.requires_grad
        for b, c in zip(self.buffers, replica.buffers()):
            c.data = b.data.copy()
        for m, r in zip(self.modules, replica.modules()):
            object.__setattr__(r, "training", m.training)

    def _run(self, job, parts):
        """``job(i, start, stop)`` for every part, part 0 in this thread and the others in the
        pool, BLAS on one thread meanwhile; the results in part order (every job has finished,
        even when one raised: then its exception is raised)."""
        with blas.limit_threads(1) if len(parts) > 1 else contextlib.nullcontext():
            futures = [self.pool.submit(job, i, *part) for i, part in enumerate(parts) if i > 0]
            try:
                first = job(0, *parts[0])
            finally:
                concurrent.futures.wait(futures)
            return [first] + [f.result() for f in futures]

    def forward_backward(self, x, y, loss_fn):
        """Forward and backward of batch ``(x, y)`` split over the workers. The gradient of the
        batch's mean loss is added into each parameter's ``.grad`` (one sum per parameter, parts
        in order). Returns ``(loss, predictions)``: the batch's mean loss (a float, the parts'
        losses weighted by nᵢ/n) and the argmax of the logits (a NumPy array, batch order).
        ``loss_fn(logits, y)`` must be a mean over the batch, as ``F.cross_entropy`` is."""
        n = len(y)
        parts = split(n, self.workers, 2 if self.batchnorm and self.model.training else 1)
        # one seed per step from the shared generator: worker i draws from default_rng([seed, i])
        seed = int(random.generator().integers(2 ** 63)) if self.workers > 1 else None
        wanted = [i for i, p in enumerate(self.params) if p.requires_grad]

        def job(i, start, stop):
            replica = self.replicas[i]
            self._sync(replica)
            own = random.thread_generator(backend.get_module("numpy").random.default_rng([seed, i])) \
                if seed is not None else contextlib.nullcontext()
            with own, enable_grad():
                logits = replica(Tensor(x.data[start:stop]))
                loss = loss_fn(logits, Tensor(y.data[start:stop]))
                params = list(replica.parameters())
                grads = autograd.grad(loss, [params[j] for j in wanted], grad_output=(stop - start) / n,
                                      materialize_grads=False) if wanted else []
            return loss.item(), _argmax(logits), grads

        results = self._run(job, parts)
        for k, j in enumerate(wanted):
            total = None
            for _, _, grads in results:
                g = grads[k]
                if g is not None:
                    total = g.data if total is None else total + g.data
            if total is not None:
                p = self.params[j]
                p.grad = total if p.grad is None else p.grad + total
        self._combine_buffers(results, parts, n)
        np = backend.get_module("numpy")
        loss = 0.0
        for (value, _, _), (start, stop) in zip(results, parts):
            loss += value * ((stop - start) / n) if len(parts) > 1 else value
        return loss, np.concatenate([r[1] for r in results])

    def _combine_buffers(self, results, parts, n):
        """The model's buffers from the replicas': floating ones weighted by nᵢ/n, in part order;
        the others (``num_batches_tracked``) from the first replica."""
        for b, copies in zip(self.buffers, zip(*(list(self.replicas[i].buffers()) for i in range(len(parts))))):
            if b.data.dtype.kind != "f" or len(parts) == 1:
                b.data[...] = copies[0].data
                continue
            total = None
            for c, (start, stop) in zip(copies, parts):
                term = c.data * b.data.dtype.type((stop - start) / n)
                total = term if total is None else total + term
            b.data[...] = total

    def evaluate_batch(self, x, y, loss_fn):
        """``(summed loss, predictions)`` of batch ``(x, y)`` with no graph, split over the
        workers. The model must be in eval mode (then no layer changes anything in a forward).

        Each worker runs its part in pieces of at most ``EVAL_CHUNK`` samples: glibc gives every
        thread but the main one an arena of 64 MB heaps, so a larger array (the second conv's
        im2col for 500 images is 113 MB) is mapped afresh and page-faulted at every batch; with
        500-image parts, two workers took twice as long as one thread."""
        if self.model.training:
            raise ValueError("Workers.evaluate_batch: put the model in eval mode first (model.eval())")
        parts = split(len(y), self.workers)

        def job(i, start, stop):
            replica = self.replicas[i]
            self._sync(replica)
            out = []
            with no_grad():
                for a in range(start, stop, EVAL_CHUNK):
                    b = min(a + EVAL_CHUNK, stop)
                    logits = replica(Tensor(x.data[a:b]))
                    out.append((loss_fn(logits, Tensor(y.data[a:b]), reduction="sum").item(), _argmax(logits)))
            return out

        results = [chunk for part in self._run(job, parts) for chunk in part]
        total = 0.0
        for value, _ in results:
            total += value
        return total, backend.get_module("numpy").concatenate([r[1] for r in results])
