# %% [markdown]
# # Lesson 16 · Data parallelism: one batch, several workers, one step
# A training step on a machine with several cores (or several GPUs, or several machines) can give
# each worker its own share of the batch. Why that computes the *same* step, what tinynet does on
# two cores, what the same idea becomes across GPUs and machines (all-reduce), and why the
# effective batch size is the number to watch.

# %%
from _common import lesson, say, check, savefig, finish   # first: paths, one BLAS thread
import time

import numpy as np

import tinynet as tn
import tinynet.functional as F
from tinynet import data, models, optim, parallel
from tinynet.train import fit

args = lesson(16, "Data parallelism: one batch, several workers, one step")
QUICK = args.quick
# multiples of 256, so batches of 64 and of 256 both fill every step (section 4 counts them)
train_set = data.mnist("train", data.Normalize(0.1307, 0.3081), limit=2048 if QUICK else 20480)


def grads(model):
    return [p.grad.copy() for p in model.parameters()]


# %% [markdown]
# ## 1. The gradient of a batch is the weighted average of the gradients of its parts

# %%
say("""
    1. The loss of a batch of n samples is the mean of their losses, L = (1/n) Σ ℓₛ. Split the batch
       into parts of n₀, n₁, … samples with mean losses L₀, L₁, …; then L = Σᵢ (nᵢ/n)·Lᵢ, and since
       the gradient is linear, ∇L = Σᵢ (nᵢ/n)·∇Lᵢ. Each part's gradient can be computed by a
       different worker, on its own. Checked in float64 (so round-off does not hide anything) on
       12 images split 5 + 4 + 3:
""")
tn.manual_seed(0)
model = models.mlp().double()
x, y = train_set[np.arange(12)]
x, y = tn.Tensor(x.astype(np.float64)), tn.Tensor(y)
model.zero_grad()
F.cross_entropy(model(x), y).backward()
whole = grads(model)
parts, part_grads = [(0, 5), (5, 9), (9, 12)], []
for a, b in parts:
    model.zero_grad()
    F.cross_entropy(model(tn.Tensor(x.data[a:b])), tn.Tensor(y.data[a:b])).backward()
    part_grads.append(grads(model))
weighted = [sum((b - a) / 12 * g[k] for (a, b), g in zip(parts, part_grads)) for k in range(len(whole))]
plain = [sum(g[k] for g in part_grads) / 3 for k in range(len(whole))]


def rel(u, v):
    return max(float(np.abs(a - b).max() / np.abs(b).max()) for a, b in zip(u, v))


err_weighted, err_plain = rel(weighted, whole), rel(plain, whole)
print(f"  Σ (nᵢ/n)·∇Lᵢ vs ∇L: largest relative difference {err_weighted:.1e}")
print(f"  the plain average (1/3)·Σ ∇Lᵢ vs ∇L: {err_plain:.1e} — unequal parts need their weights")
check("the weighted average of the parts' gradients is the batch's gradient (float64)", err_weighted < 1e-12,
      f"{err_weighted:.1e}")
check("an unweighted average is not (parts of 5, 4, 3)", err_plain > 1e-3, f"{err_plain:.1e}")

# %% [markdown]
# ## 2. tinynet on two workers

# %%
say("""
    2. tinynet.parallel.Workers(model, 2) gives each of two threads a replica of the model (its own
       Parameter objects pointing at the same weight arrays, its own buffers and random generator,
       its own graph). A step splits the batch, each worker runs forward and backward of its half,
       the halves' gradients are added in a fixed order into the model's .grad, and then the
       optimizer makes ONE step. In float32 the result equals one worker's up to round-off: the
       sums over the batch are now done in two halves, then added.
""")
tn.manual_seed(0)
model = models.cnn()
x, y = train_set[np.arange(64)]
x, y = tn.Tensor(x), tn.Tensor(y)
model.zero_grad()
F.cross_entropy(model(x), y).backward()
one = grads(model)
model.zero_grad()
with parallel.Workers(model, 2) as workers:
    loss, _ = workers.forward_backward(x, y, F.cross_entropy)
two = grads(model)
err = rel(two, one)
print(f"  cnn, batch 64: two workers' gradient vs one worker's: largest relative difference {err:.1e} (float32)")
check("two workers give one worker's gradient up to float32 round-off", err < 1e-5, f"{err:.1e}")


def train_run(workers, steps):
    """Adam on `steps` batches of 64 with `workers` workers: the weights, the mean loss, the seconds."""
    tn.manual_seed(0)
    model = models.cnn()
    loader = data.DataLoader(data.TensorDataset(*train_set[np.arange(64 * steps)]), 64, shuffle=True, seed=0)
    t = time.perf_counter()
    record = fit(model, optim.Adam(model.parameters()), loader, epochs=1, progress=False, log=None,
                 workers=workers)[0]
    return [p.numpy().copy() for p in model.parameters()], record["train_loss"], time.perf_counter() - t


steps = 8 if QUICK else 60
w1, loss1, s1 = train_run(1, steps)
w2, loss2, s2 = train_run(2, steps)
w2b, _, _ = train_run(2, steps)
print(f"  {steps} Adam steps of batch 64: mean training loss {loss1:.6f} (1 worker) vs {loss2:.6f} (2 workers)")
print(f"  time: {s1:.1f} s with 1 worker, {s2:.1f} s with 2 ({s1 / s2:.2f}×) on {parallel.available_cores()} "
      f"core(s) — a shared machine's timings vary; benchmarks/bench_cnn_step.py measures properly")
check("one and two workers train the same way (mean loss within 1e-3)", abs(loss1 - loss2) < 1e-3 * loss1,
      f"{loss1:.6f} vs {loss2:.6f}")
check("two runs with two workers are bit-identical (the parts are added in a fixed order)",
      all(np.array_equal(a, b) for a, b in zip(w2, w2b)))

# %% [markdown]
# ## 3. Across GPUs and machines: all-reduce

# %%
say("""
    3. Threads share memory, so adding the workers' gradients is adding arrays in one thread. GPUs and
       machines do not share memory: each holds a full replica, computes the gradient of its shard,
       and then they run an ALL-REDUCE — afterwards every worker holds the sum of all gradients and
       makes the same optimizer step, so the replicas stay identical (PyTorch's
       DistributedDataParallel; NCCL on GPUs, Gloo or MPI between machines). The usual algorithm is
       the RING: the gradient is cut into N chunks; in N−1 steps each worker passes one chunk to its
       right-hand neighbour, which adds it to its own (reduce-scatter: now worker i holds the full
       sum of chunk i+1); in N−1 more steps the finished chunks travel round the ring (all-gather).
       Each worker sends 2(N−1)/N of one gradient in all, however many workers there are: that
       is why it scales. Simulated here with 4 workers in NumPy:
""")


def ring_all_reduce(vectors):
    """Every worker's vector replaced by the sum of all, by passing chunks round a ring."""
    n = len(vectors)
    chunks = [np.array_split(v.astype(np.float64), n) for v in vectors]     # chunks[worker][c]
    sent = 0
    for step in range(n - 1):                      # reduce-scatter: worker i sends chunk (i - step) mod n
        outgoing = [(i, (i - step) % n, chunks[i][(i - step) % n].copy()) for i in range(n)]
        for i, c, values in outgoing:
            chunks[(i + 1) % n][c] += values
            sent += values.size
    for step in range(n - 1):                      # all-gather: worker i sends its finished chunk (i + 1 - step) mod n
        outgoing = [(i, (i + 1 - step) % n, chunks[i][(i + 1 - step) % n].copy()) for i in range(n)]
        for i, c, values in outgoing:
            chunks[(i + 1) % n][c] = values
            sent += values.size
    return [np.concatenate(c) for c in chunks], sent


rng = np.random.default_rng(0)
local = [rng.normal(size=1000) for _ in range(4)]
reduced, sent = ring_all_reduce(local)
exact = np.sum(local, axis=0)
worst = max(float(np.abs(r - exact).max()) for r in reduced)
print(f"  4 workers, gradients of 1,000 numbers: after the ring every worker holds the sum (largest error "
      f"{worst:.1e}); each sent {sent // 4:,} numbers = 2·(4−1)/4 of its gradient")
check("ring all-reduce: every worker ends with the sum of all gradients", worst < 1e-12, f"{worst:.1e}")
check("ring all-reduce: each worker sends 2(N−1)/N of a gradient", sent // 4 == 2 * 3 * 1000 // 4, f"{sent // 4}")

# %% [markdown]
# ## 4. Why the effective batch size matters

# %%
say("""
    4. tinynet SPLITS the batch: two workers on a batch of 64 take 32 each, and the step is the step
       of a batch of 64 — the same training, only faster. Across machines it is common to give each
       worker a batch of its own: 8 GPUs × 64 images make an EFFECTIVE batch of 512. Then an epoch
       has 8× fewer steps; with the same learning rate the model moves less per epoch. The usual
       remedy scales the learning rate with the batch, with a warm-up (the "linear scaling rule" of
       Goyal et al. 2017, "Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour"). Below: one epoch on the same images, batch 64 against an
       effective batch of 256 (4 workers × 64), with lr 1e-3 and with lr 4e-3.
""")


def epoch_loss(batch, lr):
    tn.manual_seed(0)
    model = models.mlp()
    loader = data.DataLoader(train_set, batch, shuffle=True, seed=0)
    record = fit(model, optim.Adam(model.parameters(), lr=lr), loader, epochs=1, progress=False, log=None)[0]
    return record["train_loss"], len(loader)


runs = {(64, 1e-3): epoch_loss(64, 1e-3), (256, 1e-3): epoch_loss(256, 1e-3), (256, 4e-3): epoch_loss(256, 4e-3)}
for (batch, lr), (loss, n_steps) in runs.items():
    print(f"  batch {batch:>3}, lr {lr:g}: {n_steps:>3} steps in the epoch, mean training loss {loss:.4f}")
check("the effective batch of 256 makes 4× fewer steps per epoch",
      runs[256, 1e-3][1] * 4 == runs[64, 1e-3][1], f"{runs[256, 1e-3][1]} vs {runs[64, 1e-3][1]}")
check("with the same lr it learns less in the epoch than batch 64", runs[256, 1e-3][0] > runs[64, 1e-3][0],
      f"{runs[256, 1e-3][0]:.4f} vs {runs[64, 1e-3][0]:.4f}")

import matplotlib.pyplot as plt   # noqa: E402

fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.6))
a1.bar(["Σ (nᵢ/n)∇Lᵢ", "(1/N) Σ ∇Lᵢ", "2 workers\n(float32)"], [max(err_weighted, 1e-17), err_plain, err])
a1.set_yscale("log")
a1.set_ylabel("largest relative difference to ∇L")
a1.set_title("gradient of the parts vs the batch")
labels = [f"batch {b}\nlr {lr:g}" for b, lr in runs]
a2.bar(labels, [v[0] for v in runs.values()], color=["C0", "C1", "C2"])
a2.set_ylabel("mean training loss, one epoch")
a2.set_title("effective batch size")
savefig(fig, "data_parallel")

finish()
