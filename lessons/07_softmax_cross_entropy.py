# %% [markdown]
# # Lesson 07 · Logits, softmax and the cross-entropy loss
# Every article trains with `nn.CrossEntropyLoss` and writes its formula as
# L = −Σᵢ yᵢ log ŷᵢ (000 §4.2, 002 §4.4, 003 §4.1.2) — each with a different idea of what i
# runs over. We compute the candidates side by side, and the gradient that training uses.

# %%
from _common import lesson, say, check, claim, savefig, finish   # first: paths, and one BLAS thread
import math

import numpy as np

import tinynet as tn
import tinynet.functional as F
from tinynet import models
from data_tools.mnist import load_mnist

args = lesson(7, "Logits, softmax and the cross-entropy loss")
tn.manual_seed(0)
rng = np.random.default_rng(0)
images, labels = load_mnist("test")
n = 200 if args.quick else 1000
x = tn.tensor((images[:n, None].astype(np.float32) / 255 - 0.1307) / 0.3081)
y = labels[:n].astype(np.int64)

# %% [markdown]
# ## 1. What the last layer outputs: logits, not probabilities

# %%
say(f"""
    1. An untrained padded CNN (articles 003/004) on {n} test digits. Its last layer, fc2, is a
       plain Linear layer: its outputs ("logits") can be negative and need not sum to 1.
       softmax turns them into probabilities; PyTorch's CrossEntropyLoss does that internally.
""")
model = models.cnn().eval()
logits = model(x)
z = logits.numpy()
p = F.softmax(logits, axis=1).numpy()
print(f"  logits of image 0: {np.round(z[0], 3)}")
print(f"  row sums of the logits: {z.sum(1).min():.3f} … {z.sum(1).max():.3f}; negative entries: {(z < 0).mean():.0%}")
print(f"  softmax rows sum to 1 (max error {np.abs(p.sum(1) - 1).max():.1e}); all entries in (0, 1)")
check("softmax rows sum to 1", np.allclose(p.sum(1), 1, atol=1e-6))


@claim("A36")
def _():
    return (dict(min_out=float(z.min()), max_row_err=float(np.abs(z.sum(1) - 1).max())),
            f"the PyTorch models' fc2 gives logits (untrained padded CNN, {n} digits): row sums {z.sum(1).min():.2f}…"
            f"{z.sum(1).max():.2f}, {(z < 0).mean():.0%} negative; softmax (inside CrossEntropyLoss) makes probabilities, and "
            "004's prediction (L198) takes the max of these raw logits (Keras's Dense(10, softmax) would give "
            "probabilities, but 004 is PyTorch)")


same = np.array_equal(z.argmax(1), p.argmax(1))
check("argmax of the logits = argmax of the probabilities", same, f"{n} images")


@claim("A37")
def _():
    p_np = np.exp(z - z.max(1, keepdims=True), dtype=np.float64)      # softmax in NumPy
    agree = float((z.argmax(1) == (p_np / p_np.sum(1, keepdims=True)).argmax(1)).mean())
    return dict(agree=agree), f"argmax(logits) = argmax(softmax(logits)) for {agree:.0%} of {n} images: softmax is monotone"


# %% [markdown]
# ## 2. Three readings of L = −Σ yᵢ log ŷᵢ

# %%
say("""
    2. (a) per sample, i over the 10 classes with one-hot y: ℓ = −Σ_c y_c log ŷ_c = −log ŷ_label;
           the batch loss PyTorch and Keras report is the mean over the N samples.
       (b) the sum over samples instead: N times (a).
       (c) article 000's literal words: i over the N samples, yᵢ "the true label" (an integer),
           ŷᵢ the predicted probability of sample i: −Σᵢ yᵢ log ŷᵢ. A label 0 then counts for
           nothing and a 9 counts nine times.
""")
logp = F.log_softmax(logits, axis=1).numpy()
per_sample = -logp[np.arange(n), y]
mean_ce = F.cross_entropy(logits, y).item()
sum_ce = F.cross_entropy(logits, y, reduction="sum").item()
onehot = np.eye(10)[y]
onehot_form = float(-(onehot * logp).sum(1).mean())
literal = float(-(y * logp[np.arange(n), y]).sum())
perm = rng.permutation(10)                        # rename the classes: the task is the same
literal_renamed = float(-(perm[y] * logp[np.arange(n), y]).sum())
print(f"  (a) mean CE (F.cross_entropy)       {mean_ce:.5f}   one-hot form {onehot_form:.5f}   "
      f"mean(−log_softmax[n, yₙ]) {per_sample.mean():.5f}")
print(f"  (b) summed over samples             {sum_ce:.3f}  = N × mean = {n * mean_ce:.3f}")
print(f"  (c) literal −Σ yᵢ log ŷᵢ            {literal:.3f};  after renaming the classes: {literal_renamed:.3f}")
check("F.cross_entropy = mean of −log softmax at the label", abs(mean_ce - per_sample.mean()) < 1e-5)
check("the one-hot form equals the integer-label form", abs(onehot_form - mean_ce) < 1e-5)
check("sum = N · mean", abs(sum_ce - n * mean_ce) < 1e-3 * sum_ce)
check("the literal formula depends on what the classes are called", abs(literal - literal_renamed) > 1)
z64 = z.astype(np.float64)                        # the same numbers in plain NumPy, for the verdicts
logp_np = z64 - z64.max(1, keepdims=True)
logp_np -= np.log(np.exp(logp_np).sum(1, keepdims=True))  # log-softmax by log-sum-exp
mean_np = float(-logp_np[np.arange(n), y].mean())  # nn.CrossEntropyLoss's definition: mean(−log_softmax[n, yₙ])
check("tinynet's cross_entropy = the NumPy log-sum-exp formula", abs(mean_ce - mean_np) < 1e-5, f"{mean_ce:.6f} vs {mean_np:.6f}")
print(f"  an untrained model knows nothing: each class ≈ 1/10, so the loss ≈ −log(1/10) = ln 10 = {math.log(10):.4f}")
check("untrained loss ≈ ln 10", abs(mean_ce - math.log(10)) < 0.15, f"{mean_ce:.4f}")


@claim("A30")
def _():
    literal_np = float(-(y * logp_np[np.arange(n), y]).sum())
    return dict(literal=literal_np, mean_ce=mean_np), (
        f"mixes samples and classes. Read literally on N = {n:,} images of an untrained model (yᵢ the digit 0–9, ŷᵢ the "
        f"predicted probability of image i's true digit) the sum is {literal_np:.1f}, and {literal_renamed:.1f} once the "
        f"digits are relabelled: a loss must not depend on class names, yet here images labelled 0 count for nothing "
        f"and 9s nine times. Right: L = −(1/N) Σᵢ log ŷᵢ = {mean_np:.4f} here (≈ ln 10 = 2.3026 untrained)")


@claim("A31")
def _():
    onehot_np = float(-(np.eye(10)[y] * logp_np).sum(1).mean())
    return dict(onehot_form=onehot_np, mean_ce=mean_np), (
        f"right per sample if i runs over the classes with one-hot y (−Σ_c y_c log ŷ_c = −log ŷ_label: "
        f"{onehot_np:.5f} = {mean_np:.5f} averaged); the reported batch loss is the mean")


# %% [markdown]
# ## 3. The gradient that trains the network

# %%
say("""
    3. For the mean loss, ∂L/∂z = (softmax(z) − onehot(y)) / N. We compare it with backward and
       with finite differences, on a small random batch in float64.
""")
zz = tn.tensor(rng.standard_normal((8, 10)), requires_grad=True)
yy = rng.integers(0, 10, 8)
F.cross_entropy(zz, yy).backward()
formula = (F.softmax(tn.tensor(zz.numpy()), axis=1).numpy() - np.eye(10)[yy]) / 8
numeric = tn.numerical_grad(lambda t: F.cross_entropy(t, yy), tn.tensor(zz.numpy()))
check("backward = (softmax − onehot) / N", np.allclose(zz.grad, formula, atol=1e-12), f"max diff {np.abs(zz.grad - formula).max():.1e}")
check("finite differences agree", np.allclose(numeric, formula, atol=1e-8), f"max diff {np.abs(numeric - formula).max():.1e}")

say("""
    Stability: softmax computed naively as e^z / Σ e^z overflows for logits near 1000. The
    log-sum-exp form (subtract the row maximum first) gives the same numbers without overflow.
""")
big = np.array([[1000.0, 999.0, 0.0]])
with np.errstate(over="ignore", invalid="ignore"):
    naive = np.exp(big) / np.exp(big).sum(1, keepdims=True)
stable = F.softmax(tn.tensor(big), axis=1).numpy()
print(f"  naive: {naive[0]}   tinynet: {np.round(stable[0], 6)}")
check("tinynet's softmax is finite where the naive one gives nan", np.isnan(naive).any() and np.isfinite(stable).all())


@claim("A32")
def _():
    err = abs(float(-(np.eye(10)[y] * logp_np).sum(1).mean()) - mean_np)
    return dict(err=err), ("a per-sample CE if i runs over the classes; nn.CrossEntropyLoss takes logits, applies log-softmax "
                           f"(log-sum-exp) and averages: the one-hot form = mean(−log_softmax[n, yₙ]) in NumPy (diff {err:.0e}); "
                           "tinynet's loss and its gradient (softmax − onehot)/N are checked separately above")


# %%
import matplotlib.pyplot as plt  # noqa: E402

fig, axes = plt.subplots(3, 4, figsize=(11, 6.4), layout="constrained", sharey="row")
for k in range(4):
    axes[0, k].imshow(images[k], cmap="gray_r"), axes[0, k].set_axis_off()
    axes[0, k].set_title(f"test image {k}: a {labels[k]}")
    colours = ["C3" if d == labels[k] else "C0" for d in range(10)]     # the true digit in red
    axes[1, k].bar(range(10), z[k], color=colours)
    axes[1, k].axhline(0, color="k", lw=0.5)
    axes[2, k].bar(range(10), p[k], color=colours)
    axes[2, k].axhline(0.1, color="k", lw=0.8, ls="--")
    axes[2, k].set_ylim(0, max(0.2, 1.15 * p[:4].max()))
    for ax in axes[1:, k]:
        ax.set_xticks(range(10)), ax.set_xlabel("class (red: the true digit)", fontsize=8)
axes[1, 0].set_ylabel("logit zᵢ\n(any real number)")
axes[2, 0].set_ylabel("softmax pᵢ = e^zᵢ / Σ e^zⱼ\n(≥ 0, sum 1; dashed: 1/10)")
fig.suptitle("an untrained CNN: its logits (middle row) and the probabilities softmax makes of them (bottom row)")
savefig(fig, "logits_and_softmax")

# %%
finish()
