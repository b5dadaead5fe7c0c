# %% [markdown]
# # Lesson 05 · Max pooling, output shapes and receptive fields
# The articles write max pooling three ways (001 §4.1/§4.3, 002 §4.2, 003 §4.2.2) and praise it
# for "robustness" (003, 004). We compute each version, its shape, its gradient, and how far
# each unit of a CNN can see.

# %%
from _common import lesson, say, check, claim, savefig, finish   # first: paths, and one BLAS thread
import numpy as np

import tinynet as tn
import tinynet.functional as F
from data_tools.mnist import load_mnist

args = lesson(5, "Max pooling, output shapes and receptive fields")
rng = np.random.default_rng(0)
images, labels = load_mnist("test")
X = images[0].astype(np.float64) / 255

# %% [markdown]
# ## 1. Which max? Stride 1, stride 2, or everything

# %%
say("""
    1. Article 002 §4.2: Y[i,j] = max_{m,n} X[i+m, j+n]. Read literally (the window slides one
       pixel at a time) a 2×2 window turns 28×28 into 27×27. MaxPool2d(2) in every framework
       moves the window by its own size (stride 2): Y[i,j] = max_{0≤m,n<2} X[2i+m, 2j+n] → 14×14.
""")


def sliding_max(x, k=2):
    """002's formula literally: stride 1."""
    H, W = x.shape
    return np.array([[x[i:i + k, j:j + k].max() for j in range(W - k + 1)] for i in range(H - k + 1)])


literal = sliding_max(X)
blocks = X.reshape(14, 2, 14, 2).max(axis=(1, 3))                 # non-overlapping 2×2 blocks
engine = F.max_pool2d(tn.tensor(X[None, None]), 2).numpy()[0, 0]
print(f"  literal formula: {literal.shape};  reshape-max of 2×2 blocks: {blocks.shape};  engine max_pool2d(2): {engine.shape}")
check("engine max_pool2d(2) = max over non-overlapping 2×2 blocks", np.array_equal(engine, blocks))
check("the stride-1 formula is a different operation (27×27)", literal.shape == (27, 27) and np.array_equal(literal[::2, ::2], blocks),
      "its even rows/columns are the stride-2 result")


@claim("A26")
def _():
    strided = np.array([[max(X[2 * i + m, 2 * j + n] for m in range(2) for n in range(2)) for j in range(14)]
                        for i in range(14)])               # max_{m,n<2} X[2i+m, 2j+n], loops
    return (dict(literal_hw=literal.shape, pool_hw=blocks.shape, strided_err=float(np.abs(strided - blocks).max())),
            f"as written (stride 1) 28×28 → {literal.shape[0]}×{literal.shape[1]}; MaxPool(2) is max_{{m,n<2}} X[2i+m, 2j+n] → "
            f"{blocks.shape[0]}×{blocks.shape[1]} (equal to NumPy reshape-max of 2×2 blocks; tinynet checked separately above)")


@claim("A25")
def _():
    return dict(shapes=(literal.shape, blocks.shape)), f"window and stride unstated: stride 1 gives {literal.shape}, stride 2 gives {blocks.shape}"


@claim("A27")
def _():
    S = [(slice(2 * i, 2 * i + 2), slice(2 * j, 2 * j + 2)) for i in range(14) for j in range(14)]
    h = np.array([X[s].max() for s in S]).reshape(14, 14)
    err = float(np.abs(h - blocks).max())
    return dict(err=err), (f"windows S_i = the 196 disjoint 2×2 blocks: equals NumPy reshape-max (max diff {err:.0e}); "
                           "tinynet's max_pool2d is checked against it separately above")


say("""
    Article 001 §4.3 pools the whole activated map Y₂ into "Y₃ = max(Y₂)". That is *global*
    max pooling: one number per map. A 2×2 pool keeps a map, 26×26 → 13×13.
""")
Y2 = np.maximum(0, F.conv2d(tn.tensor(X[None, None]), tn.tensor(rng.standard_normal((1, 1, 3, 3)))).numpy()[0, 0])
global_max = Y2.max()
pooled = F.max_pool2d(tn.tensor(Y2[None, None]), 2).numpy()[0, 0]
print(f"  Y₂ {Y2.shape}: max(Y₂) has shape {np.shape(global_max)} (= {global_max:.3f}); max_pool2d(Y₂, 2) has shape {pooled.shape}")
check("2×2 pooling of 26×26 gives 13×13", pooled.shape == (13, 13))


@claim("A24")
def _():
    return dict(ndim=np.ndim(global_max)), f"max(Y₂) is a scalar (shape {np.shape(global_max)}): global pooling; 2×2 max pooling gives {pooled.shape}"


@claim("A44")
def _():
    hw = Y2.reshape(13, 2, 13, 2).max(axis=(1, 3)).shape
    return dict(hw=hw), f"2×2 max pooling of 26×26 (NumPy reshape-max) → {hw[0]}×{hw[1]} (tinynet's max_pool2d: {pooled.shape})"


# %% [markdown]
# ## 2. The gradient of a max goes to one place

# %%
say("""
    2. Backward through max pooling: each output's gradient goes to the position that won its
       window; the three losers get 0. (Random values, so no ties.)
""")
x = tn.tensor(rng.standard_normal((1, 1, 4, 4)), requires_grad=True)
y = F.max_pool2d(x, 2)
y.backward(np.ones((1, 1, 2, 2)))
winners = (x.numpy().reshape(2, 2, 2, 2).transpose(0, 2, 1, 3).reshape(4, 4) ==
           y.numpy().reshape(4, 1)).reshape(2, 2, 2, 2).transpose(0, 2, 1, 3).reshape(4, 4)
print("  input:\n" + "\n".join("    " + " ".join(f"{v:+.2f}" for v in row) for row in x.numpy()[0, 0]))
print("  gradient (1 where the max was):\n" + "\n".join("    " + " ".join(f"{v:5.0f}" for v in row) for row in x.grad[0, 0]))
check("gradient = 1 at each window's maximum, 0 elsewhere", np.array_equal(x.grad[0, 0], winners.astype(float)))
check("gradcheck of max_pool2d (2×2 and overlapping 3×3 stride 2)",
      tn.gradcheck(lambda t: F.max_pool2d(t, 2), tn.tensor(rng.standard_normal((2, 3, 6, 6)), requires_grad=True)) and
      tn.gradcheck(lambda t: F.max_pool2d(t, 3, 2), tn.tensor(rng.standard_normal((2, 2, 7, 7)), requires_grad=True)))

# %% [markdown]
# ## 3. ReLU before or after the pool?

# %%
say("""
    3. Articles 000/003 write relu(max_pool(conv(x))); 001/004 pool after the ReLU. Both are
       monotone non-decreasing functions, so max and ReLU commute: the two orders are identical.
""")
zz = tn.tensor(rng.standard_normal((8, 16, 24, 24)))
a = F.relu(F.max_pool2d(zz, 2)).numpy()
b = F.max_pool2d(F.relu(zz), 2).numpy()
check("relu(maxpool(z)) = maxpool(relu(z)) on 73,728 random values", np.array_equal(a, b))


@claim("A39")
def _():
    v = zz.numpy()
    pool_np = lambda t: t.reshape(8, 16, 12, 2, 12, 2).max(axis=(3, 5))    # noqa: E731
    err = float(np.abs(np.maximum(0, pool_np(v)) - pool_np(np.maximum(0, v))).max())
    return dict(err=err), (f"max and ReLU commute: both orders equal in NumPy on 8×16×24×24 random values (max diff {err:.0e}); "
                           "tinynet gives the same (checked above)")


# %% [markdown]
# ## 4. Is pooling "robust"? Shift an image by one pixel

# %%
n_img = 50 if args.quick else 200
say(f"""
    4. Article 004: pooling "reduces the dimension and improves robustness" (003: size only). Size: a
       2×2/2 pool keeps ¼ of the values. Robustness: shift {n_img} test digits one pixel right and
       count feature values (after conv + ReLU, inked region only) that did not change, before
       and after pooling.
""")
digits = images[:n_img].astype(np.float32)[:, None] / 255
shifted = np.roll(digits, 1, axis=3)                                # one pixel right (borders are 0)
kernels = tn.tensor(rng.standard_normal((8, 1, 3, 3)).astype(np.float32))
maps = F.relu(F.conv2d(tn.tensor(digits), kernels, padding=1)).numpy()
maps_s = F.relu(F.conv2d(tn.tensor(shifted), kernels, padding=1)).numpy()
pool, pool_s = (F.max_pool2d(tn.tensor(m), 2).numpy() for m in (maps, maps_s))
active, active_p = maps > 1e-6, pool > 1e-6
same_before = float((np.isclose(maps, maps_s, atol=1e-5) & active).sum() / active.sum())
same_after = float((np.isclose(pool, pool_s, atol=1e-5) & active_p).sum() / active_p.sum())
print(f"  active values unchanged by the shift: {same_before:.1%} before pooling, {same_after:.1%} after")
check("pooling quarters the map (28×28 → 14×14)", pool.shape[2:] == (14, 14) and pool[0, 0].size * 4 == maps[0, 0].size)
check("more values survive a 1-pixel shift after pooling", same_after > same_before)


@claim("A81")
def _():
    return (dict(size_ratio=pool[0, 0].size / maps[0, 0].size, same_before=same_before, same_after=same_after),
            f"2×2/2 pool: 28×28 → 14×14 (¼ of the values); under a 1-px shift {same_after:.0%} of active pooled values "
            f"are unchanged vs {same_before:.0%} before pooling (some local shift tolerance, not invariance)")


# %% [markdown]
# ## 5. How much of the digit does one unit see?

# %%
say("""
    5. The receptive field: the input pixels one unit depends on. Layer by layer
       r ← r + (k − 1)·j and j ← j·s (j: the distance in input pixels between neighbouring
       units). We also measure it: the gradient of one centre unit with respect to the input
       is non-zero exactly on its receptive field (all-ones weights, average pooling so every
       pixel of a window counts).
""")


def receptive_field(layers):
    r, j, sizes = 1, 1, []
    for kind, k, s in layers:
        r, j = r + (k - 1) * j, j * s
        sizes.append((kind, r))
    return sizes


def measured(layers, size=28):
    x = tn.tensor(np.ones((1, 1, size, size)), requires_grad=True)
    h = x
    for kind, k, s in layers:
        h = F.conv2d(h, tn.tensor(np.ones((1, 1, k, k))), padding=0) if kind == "conv" else F.avg_pool2d(h, k, s)
    c = h.shape[2] // 2
    h[:, :, c, c].sum().backward()
    rows, cols = np.nonzero(x.grad[0, 0])
    return rows.max() - rows.min() + 1, x.grad[0, 0] != 0


lenet = [("conv", 5, 1), ("pool", 2, 2), ("conv", 5, 1), ("pool", 2, 2)]
cnn = [("conv", 3, 1), ("pool", 2, 2), ("conv", 3, 1), ("pool", 2, 2)]
rf_lenet, rf_cnn = receptive_field(lenet), receptive_field(cnn)
m_lenet, mask_lenet = measured(lenet)
m_cnn, mask_cnn = measured(cnn)
print("  LeNet-style (000/003):  " + " → ".join(f"{k} {r}px" for k, r in rf_lenet) + f";  measured {m_lenet}px")
print("  padded CNN (003/004):   " + " → ".join(f"{k} {r}px" for k, r in rf_cnn) + f";  measured {m_cnn}px")
check("measured receptive fields match the formula", (m_lenet, m_cnn) == (rf_lenet[-1][1], rf_cnn[-1][1]))


@claim("A84")
def _():
    return {}, (f"each unit sees a local window: LeNet 5→6→14→{rf_lenet[-1][1]} px, padded CNN "
                f"3→4→8→{rf_cnn[-1][1]} px of the 28 (measured by backward: {m_lenet}, {m_cnn})")


# %%
import matplotlib.pyplot as plt  # noqa: E402

fig, axes = plt.subplots(1, 4, figsize=(13, 3.4), layout="constrained")
panels = [("a feature map Y₂: ReLU(conv), 26×26", Y2), ("Y₂ max-pooled 2×2: 13×13\n(same picture, half the side)", pooled),
          ("the digit, article 002's formula read\nliterally (window moves 1 px): 27×27", literal),
          ("the digit, max_pool2d(2)\n(window moves 2 px): 14×14", engine)]
for k, (ax, (t, im)) in enumerate(zip(axes, panels)):
    shown = ax.imshow(im, cmap="magma", vmin=0, vmax=(Y2.max() if k < 2 else 1))
    ax.set_title(t, fontsize=9), ax.set_axis_off()
    if k in (1, 3):                             # one colour bar per pair: the pair shares its scale
        fig.colorbar(shown, ax=list(axes[k - 1:k + 1]), shrink=0.8, label="activation" if k == 1 else "ink (0–1)")
fig.suptitle("max pooling keeps the largest value of each 2×2 window: the map shrinks, its bright parts stay")
savefig(fig, "pooling")

fig, axes = plt.subplots(1, 2, figsize=(6.4, 3.6))
for ax, (name, mask) in zip(axes, [(f"LeNet: {m_lenet}×{m_lenet}", mask_lenet), (f"padded CNN: {m_cnn}×{m_cnn}", mask_cnn)]):
    ax.imshow(X, cmap="gray"), ax.imshow(np.ma.masked_where(~mask, mask), cmap="autumn", alpha=0.5)
    ax.set_title(f"receptive field, {name} pixels", fontsize=9), ax.set_axis_off()
fig.suptitle("red: the input pixels the centre unit after the\nsecond pooling can see (found by backward)", fontsize=10)
savefig(fig, "receptive_fields")

# %%
finish()
