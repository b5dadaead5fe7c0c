# %% [markdown]
# # Lesson 13 · Two other model families on MNIST: a row-RNN and a tiny Vision Transformer
# Article 000 names three model families for MNIST: CNNs, RNNs ("they can recognise the stroke
# order of handwritten digits") and Transformers ("also usable for image classification"), and
# shows code for none but the CNN. Here are the other two, built from tinynet's own operations
# (matmul, tanh, softmax, LayerNorm), with their accuracy and size beside the CNNs'.

# %%
from _common import WORKERS, lesson, say, check, claim, savefig, finish   # first: paths, and one BLAS thread
import math
import time

import numpy as np

import tinynet as tn
import tinynet.functional as F
import tinynet.nn as nn
from tinynet import data, models, optim, parallel
from tinynet.train import evaluate
from data_tools.mnist import load_mnist

args = lesson(13, "Two other model families on MNIST: a row-RNN and a tiny Vision Transformer")
QUICK = args.quick
N_TRAIN, EPOCHS = (3000, 2) if QUICK else (60000, 3)
norm = data.Normalize(0.1307, 0.3081)
train_set = data.mnist("train", transform=norm, limit=N_TRAIN)
test_set = data.mnist("test", transform=norm, limit=1000 if QUICK else None)

# %% [markdown]
# ## 1. Is there a stroke order in MNIST?

# %%
say("""
    1. Lesson 01 showed that an MNIST record is 784 pixel bytes and nothing else: no pen
       trajectory, no timing, no stroke order (MNIST is *offline* handwriting, scanned images).
       An RNN can still read an image as a sequence — of its 28 rows, top to bottom.
""")
images, _ = load_mnist("train")
record_bytes = images[0].nbytes
check("one image = 28 × 28 = 784 bytes, nothing else", record_bytes == 784 and images.shape[1:] == (28, 28))

# %% [markdown]
# ## 2. The row-RNN
# h₀ = 0;  h_t = tanh(x_t W_xhᵀ + h_{t−1} W_hhᵀ + b)  for the rows t = 1…28;  logits = h₂₈ W_oᵀ + b_o.

# %%
class RowRNN(nn.Module):
    """A tanh RNN over the 28 rows of an image (28 features per step), classified from the last state."""

    def __init__(self, hidden=128):
        super().__init__()
        self.hidden = hidden
        self.input = nn.Linear(28, hidden)                     # W_xh and b
        self.recurrent = nn.Linear(hidden, hidden, bias=False)  # W_hh
        self.recurrent.weight.data[...] = np.eye(hidden, dtype=np.float32)  # start by remembering (IRNN-style)
        self.recurrent.weight.data *= 0.5
        self.head = nn.Linear(hidden, 10)

    def forward(self, x):                                      # x (N, 1, 28, 28)
        rows = x.reshape(x.shape[0], 28, 28)
        h = tn.zeros(x.shape[0], self.hidden)
        for t in range(28):                                    # backward() runs back through all 28 steps
            h = tn.tanh(self.input(rows[:, t]) + self.recurrent(h))
        return self.head(h)


# %% [markdown]
# ## 3. The tiny Vision Transformer
# 16 patches of 7×7 pixels → linear embedding (d = 64) + a class token + learned positions →
# 2 pre-norm blocks of 4-head self-attention and an MLP → LayerNorm → the class token → 10 logits.

# %%
class Attention(nn.Module):
    """Multi-head self-attention: softmax(Q Kᵀ / √d_head) V, heads concatenated, then a projection."""

    def __init__(self, d, heads):
        super().__init__()
        self.heads, self.dh = heads, d // heads
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.weights = None                                    # the last attention weights, for plotting

    def forward(self, x):                                      # x (N, T, d)
        N, T, d = x.shape
        qkv = self.qkv(x).reshape(N, T, 3, self.heads, self.dh).permute(2, 0, 3, 1, 4)   # (3, N, heads, T, dh)
        q, k, v = qkv[0], qkv[1], qkv[2]
        att = F.softmax(q @ k.transpose(-1, -2) * (1 / math.sqrt(self.dh)), axis=-1)        # (N, heads, T, T)
        self.weights = att.numpy()
        out = (att @ v).permute(0, 2, 1, 3).reshape(N, T, d)
        return self.proj(out)


class Block(nn.Module):
    def __init__(self, d, heads, mlp):
        super().__init__()
        self.norm1, self.attn = nn.LayerNorm(d), Attention(d, heads)
        self.norm2, self.fc1, self.fc2 = nn.LayerNorm(d), nn.Linear(d, mlp), nn.Linear(mlp, d)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.fc2(F.relu(self.fc1(self.norm2(x))))


class TinyViT(nn.Module):
    def __init__(self, d=64, depth=2, heads=4, mlp=128, patch=7):
        super().__init__()
        self.patch, self.n = patch, (28 // patch) ** 2
        self.embed = nn.Linear(patch * patch, d)
        self.cls = nn.Parameter(tn.randn(1, 1, d) * 0.02)
        self.pos = nn.Parameter(tn.randn(1, self.n + 1, d) * 0.02)
        self.blocks = nn.ModuleList([Block(d, heads, mlp) for _ in range(depth)])
        self.norm, self.head = nn.LayerNorm(d), nn.Linear(d, 10)

    def patches(self, x):                                      # (N, 1, 28, 28) → (N, 16, 49)
        N, p, g = x.shape[0], self.patch, 28 // self.patch
        return x.reshape(N, g, p, g, p).permute(0, 1, 3, 2, 4).reshape(N, g * g, p * p)

    def forward(self, x):
        tokens = self.embed(self.patches(x))                   # (N, 16, d)
        cls = self.cls + tn.zeros(x.shape[0], 1, self.cls.shape[2])   # one class token per image
        h = tn.cat([cls, tokens], axis=1) + self.pos           # (N, 17, d)
        for block in self.blocks:
            h = block(h)
        return self.head(self.norm(h)[:, 0])


say("""
    2–3. Both models are plain tinynet Modules: their forward is written with tinynet ops, so
         backward() and the optimisers work unchanged. First, gradient checks on tiny inputs.
""")
tn.manual_seed(0)
x_small = tn.tensor(np.random.default_rng(0).standard_normal((2, 1, 28, 28)))
for name, net, checked in [("row-RNN", RowRNN(hidden=8), "recurrent.weight"),
                           ("tiny ViT", TinyViT(d=8, depth=1, heads=2, mlp=8), "blocks.0.attn.qkv.weight")]:
    params = dict(net.named_parameters())
    for p in params.values():
        p.data = p.data.astype(np.float64)
    loss = F.cross_entropy(net(x_small), np.array([3, 7]))
    loss.backward()
    p = params[checked]                                        # check one weight tensor by finite differences
    analytic = p.grad.copy()
    numeric = tn.numerical_grad(lambda _: F.cross_entropy(net(x_small), np.array([3, 7])), p)
    check(f"{name}: backward = finite differences for {checked} {p.shape}", np.allclose(analytic, numeric, atol=1e-6),
          f"max diff {np.abs(analytic - numeric).max():.1e}")
vit_small = TinyViT()
vit_small(tn.tensor(np.zeros((3, 1, 28, 28), np.float32)))
att = vit_small.blocks[0].attn.weights
check("every attention row sums to 1", np.allclose(att.sum(-1), 1, atol=1e-5), f"weights {att.shape}")

# %% [markdown]
# ## 4. Training them, and the CNNs, with the same budget

# %%
say(f"""
    4. Adam (lr 1e-3), batch 64, {EPOCHS} epoch(s) on {N_TRAIN:,} images, for each model, gradients
       clipped to norm 5 (the RNN needs it: gradients through 28 tanh steps can explode).
""")


def clip_grad_norm(params, max_norm):
    grads = [p.grad for p in params if p.grad is not None]
    norm_ = math.sqrt(sum(float((g * g).sum()) for g in grads))
    if norm_ > max_norm:
        for g in grads:
            g *= max_norm / norm_
    return norm_


def train(model, label):
    tn.manual_seed(0)
    params = list(model.parameters())
    opt, t0 = optim.Adam(params, lr=1e-3), time.time()
    loader = data.DataLoader(train_set, batch_size=64, shuffle=True, seed=0)
    with parallel.Workers(model, WORKERS) as workers:          # the batch split over the cores: lesson 16
        for epoch in range(EPOCHS):
            model.train()
            for xb, yb in loader:
                opt.zero_grad()
                workers.forward_backward(xb, yb, F.cross_entropy)   # = F.cross_entropy(model(xb), yb).backward()
                clip_grad_norm(params, 5.0)
                opt.step()
        acc = evaluate(model, data.DataLoader(test_set, 250), workers=workers)["accuracy"]
    print(f"  {label:10s} {model.num_parameters():>8,} parameters   test accuracy {acc:.2%}   ({time.time() - t0:.0f} s)")
    return acc


tn.manual_seed(0)
zoo = {"row-RNN": RowRNN(), "tiny ViT": TinyViT(), "LeNet": models.lenet()}
if not QUICK:                                   # the padded CNN costs more than the other three together
    zoo["padded CNN"] = models.cnn()
scores = {name: (train(model, name), model.num_parameters()) for name, model in zoo.items()}
check("every model learns (well above the 10 % of guessing)", all(a > 0.3 for a, _ in scores.values()))


@claim("A82")
def _():
    acc = scores["row-RNN"][0]
    return dict(record_bytes=record_bytes), (
        f"the list is of models for MNIST classification (L44), and MNIST has no stroke order: a record is "
        f"{record_bytes} pixel bytes (RNNs do model stroke order on online handwriting, pen trajectories, which "
        f"MNIST is not). An RNN reading the 28 rows as "
        f"28 time steps still classifies: {acc:.2%} ({scores['row-RNN'][1]:,} parameters, {EPOCHS} epochs on "
        f"{N_TRAIN:,} images{', quick run' if QUICK else ''})")


@claim("A83")
def _():
    acc, n = scores["tiny ViT"]
    if QUICK:
        return None, f"quick run: tiny ViT {acc:.2%} after {EPOCHS} epochs on {N_TRAIN:,} images (LeNet {scores['LeNet'][0]:.2%})"
    return dict(acc=acc), (f"a 2-block ViT on 16 patches of 7×7 ({n:,} parameters) reaches {acc:.2%} in {EPOCHS} epochs "
                           f"(LeNet {scores['LeNet'][0]:.2%}, padded CNN {scores['padded CNN'][0]:.2%}, same budget)")


# %%
import matplotlib.pyplot as plt  # noqa: E402

vit = zoo["tiny ViT"].eval()
x_show = test_set[np.arange(6)][0]
with tn.no_grad():
    pred = vit(tn.tensor(x_show)).numpy().argmax(1)
cls_att = vit.blocks[-1].attn.weights[:, :, 0, 1:].mean(1)        # class token → 16 patches, mean over heads
fig, axes = plt.subplots(2, 6, figsize=(12, 4.4), layout="constrained")
top = float(cls_att[:6].max())                  # one colour scale for the six images
for k in range(6):
    axes[0, k].imshow(x_show[k, 0], cmap="gray_r"), axes[0, k].set_title(f"the ViT says {pred[k]}", fontsize=9)
    axes[1, k].imshow(x_show[k, 0], cmap="gray")
    im = axes[1, k].imshow(np.kron(cls_att[k].reshape(4, 4), np.ones((7, 7))), cmap="magma", alpha=0.7, vmin=0, vmax=top)
    axes[0, k].set_axis_off(), axes[1, k].set_axis_off()
fig.colorbar(im, ax=list(axes[1]), shrink=0.9, label="attention weight\n(over all 17 tokens it\nsums to 1: uniform 0.06)")
fig.suptitle("tiny ViT: which of the 16 patches (7×7 pixels) the class token reads in the last block "
             "(bottom row: brighter = more; mean of the 4 heads)")
savefig(fig, "vit_attention")

fig, ax = plt.subplots(figsize=(6, 3.5))
for name, (acc, n) in scores.items():
    ax.scatter(n, 100 * acc, s=40), ax.annotate(name, (n, 100 * acc), fontsize=9, xytext=(5, -3), textcoords="offset points")
ax.set_xscale("log"), ax.set_xlabel("parameters (log scale)"), ax.set_ylabel("test accuracy (%)")
ax.xaxis.set_major_formatter("{x:,.0f}"), ax.xaxis.set_minor_formatter("{x:,.0f}")
ax.set_title(f"model families, {EPOCHS} epoch{'s' if EPOCHS > 1 else ''} of Adam on {N_TRAIN:,} images")
savefig(fig, "families")

# %%
finish()
