# %% [markdown]
# # Lesson 12 · Data augmentation, and what a CNN is (not) invariant to
# Article 000 recommends "random rotation, translation and scaling" to improve generalisation;
# article 004 claims CNNs are "fairly robust to rotation and scaling" by themselves. We turn
# test digits and see what a trained CNN makes of them, then train with and without augmentation.

# %%
from _common import ROOT, WORKERS, lesson, say, check, claim, savefig, trained_model, finish   # first: paths, one BLAS thread
import numpy as np

import tinynet as tn
from tinynet import data, models, optim
from tinynet.augment import RandomAffine, affine_matrices, warp_affine
from tinynet.train import evaluate, fit

args = lesson(12, "Data augmentation, and what a CNN is (not) invariant to")
QUICK = args.quick
test = data.mnist("test", limit=500 if QUICK else None)
x_test, y_test = test.arrays[0].astype(np.float32) / 255, test.arrays[1]

# %% [markdown]
# ## 1. Rotating, shifting and scaling a batch

# %%
say("""
    1. tinynet.augment warps a whole batch at once: each output pixel looks up where it came from
       (the inverse affine map) and interpolates bilinearly. Sanity checks first.
""")


def warp(x, angle=0.0, scale=1.0, tx=0.0, ty=0.0):
    """Every image of x (N, 1, 28, 28) moved the same way."""
    return warp_affine(x, np.repeat(affine_matrices(angle, scale, tx, ty, 28, 28), len(x), axis=0))


digits = x_test[:8]
check("angle 0, scale 1, shift 0 is the identity", np.allclose(warp(digits), digits, atol=1e-6))
check("a 2-pixel shift moves the ink by 2 pixels", np.allclose(warp(digits, tx=2)[..., 2:], digits[..., :-2], atol=1e-6))
four = digits
for _ in range(4):
    four = warp(four, angle=90)
check("four 90° turns give the digit back", np.allclose(four, digits, atol=1e-5))
six = x_test[np.flatnonzero(y_test == 6)[0]][None]
print("  a 6 turned by 180° is drawn like a 9: rotations must stay small (±10–15°), and flips are never valid")

# %% [markdown]
# ## 2. How robust is a CNN trained without augmentation?

# %%
say("""
    2. The padded CNN trained by article 004's recipe (saved by lesson 10's full run, or trained here:
       quick 1 epoch on 2,000 images, full 2 epochs on 60,000). Its test accuracy when every test
       digit is rotated, scaled or shifted.
""")


def train_plain(model):
    loader = data.DataLoader(data.mnist("train", limit=2000 if QUICK else None), 64, shuffle=True, seed=0)
    fit(model, optim.Adam(model.parameters(), lr=1e-3), loader, epochs=1 if QUICK else 2, progress=False,
        workers=WORKERS)


tn.manual_seed(0)
cnn, _ = trained_model(ROOT / "lessons" / "out" / "10" / "cnn_r5.npz", models.cnn, train_plain)
CHANGES = [("none", {}), ("rotate 15°", dict(angle=15)), ("rotate 30°", dict(angle=30)), ("rotate 45°", dict(angle=45)),
           ("rotate 90°", dict(angle=90)), ("scale 0.7", dict(scale=0.7)), ("scale 1.3", dict(scale=1.3)),
           ("shift 2 px", dict(tx=2)), ("shift 4 px", dict(tx=4))]


def accuracy(model, images, labels, transform=None):
    x = images if transform is None else transform(images)
    ds = data.TensorDataset(x, labels.astype(np.int64))
    return evaluate(model, data.DataLoader(ds, 500), workers=WORKERS)["accuracy"]


robust = {name: accuracy(cnn, warp(x_test, **kw), y_test) for name, kw in CHANGES}
for name, acc in robust.items():
    print(f"  {name:12s} {acc:7.2%}  {'█' * int(40 * acc)}")
check("rotating by 45° costs far more than shifting by 2 pixels",
      robust["none"] - robust["rotate 45°"] > 3 * (robust["none"] - robust["shift 2 px"]))


def than(a, b):
    """How drop a compares with drop b, in words, to the 0.1 point the text prints."""
    a, b = round(100 * a, 1), round(100 * b, 1)
    return "more than" if a > b else ("less than" if a < b else "as much as")


@claim("A80")
def _():
    drop = {name: robust["none"] - acc for name, acc in robust.items()}
    moderate = max(drop["rotate 15°"], drop["scale 0.7"], drop["scale 1.3"])
    text = ", ".join(f"{k} {v:.1%}" for k, v in robust.items())
    if QUICK:
        return None, f"quick run (1 epoch on 2,000 images): {text}"
    return dict(moderate_drop=moderate, shift_drop=drop["shift 4 px"], large_drop=drop["rotate 45°"]), (
        f"trained without augmentation: {text}. Moderate turns and scalings (±15°, ×0.7, ×1.3) cost at most "
        f"{100 * moderate:.1f} points: {than(moderate, drop['shift 2 px'])} a 2-px shift ({100 * drop['shift 2 px']:.1f}), "
        f"{than(moderate, drop['shift 4 px'])} a 4-px shift ({100 * drop['shift 4 px']:.1f}, the shift of comparable "
        f"size). Tolerant of small changes only: it fades with size (30° {100 * drop['rotate 30°']:.1f}, "
        f"45° {100 * drop['rotate 45°']:.1f} points)")


# %% [markdown]
# ## 3. Training with augmentation

# %%
n_train, epochs = (1000, 6) if QUICK else (2000, 20)
say(f"""
    3. Article 000's advice, tested: LeNet on {n_train:,} training images for {epochs} epochs, with and
       without RandomAffine(±12°, ±8 % shift, scale 0.9–1.1) before Normalize. Same seed, same
       steps. Accuracy on the plain test set and on randomly turned/shifted/scaled test digits.
""")
tn.manual_seed(123)
jitter = RandomAffine(degrees=12, translate=0.08, scale=(0.9, 1.1))
x_jittered = jitter(x_test)                      # one fixed random distortion per test digit
norm = data.Normalize(0.1307, 0.3081)
results = {}
for name, transform in [("without augmentation", norm), ("with augmentation", data.Compose([jitter, norm]))]:
    tn.manual_seed(0)
    model = models.lenet()
    loader = data.DataLoader(data.mnist("train", transform=transform, limit=n_train), 64, shuffle=True, seed=0)
    fit(model, optim.Adam(model.parameters(), lr=1e-3), loader, epochs=epochs, progress=False, log=None,
        workers=WORKERS)
    results[name] = (accuracy(model, norm(x_test), y_test), accuracy(model, norm(x_jittered), y_test))
    print(f"  {name:22s} plain test {results[name][0]:.2%}   distorted test {results[name][1]:.2%}")
gain_plain = results["with augmentation"][0] - results["without augmentation"][0]
gain_dist = results["with augmentation"][1] - results["without augmentation"][1]
check("augmentation helps on distorted digits", gain_dist > 0, f"{100 * gain_dist:+.1f} points")


@claim("A79")
def _():
    text = (f"LeNet, {n_train:,} images, {epochs} epochs: plain test {results['without augmentation'][0]:.2%} → "
            f"{results['with augmentation'][0]:.2%}, distorted test {results['without augmentation'][1]:.2%} → "
            f"{results['with augmentation'][1]:.2%}. It adds variety on the fly, not stored images; keep angles small")
    if QUICK:
        return None, "quick run: " + text
    return dict(gain_plain=gain_plain, gain_distorted=gain_dist), text


# %%
import matplotlib.pyplot as plt  # noqa: E402

fig, axes = plt.subplots(3, 9, figsize=(11, 4.4), layout="constrained")
for col, (name, kw) in enumerate(CHANGES):
    for row in range(3):
        axes[row, col].imshow(warp(x_test[row:row + 1], **kw)[0, 0], cmap="gray_r"), axes[row, col].set_axis_off()
    axes[0, col].set_title(f"{'unchanged' if name == 'none' else name}\n{robust[name]:.1%}", fontsize=8)
fig.suptitle("test digits transformed (columns), and under each: the trained CNN's accuracy on the whole test set "
             "transformed that way", fontsize=10)
savefig(fig, "transformed_test_accuracy")

fig, axes = plt.subplots(2, 8, figsize=(10, 2.8))
tn.manual_seed(7)
samples = RandomAffine(12, 0.08, (0.9, 1.1))(np.repeat(x_test[:2], 8, axis=0))
for k, ax in enumerate(axes.flat):
    ax.imshow(samples[k, 0], cmap="gray_r"), ax.set_axis_off()
fig.suptitle("RandomAffine(±12°, ±8 %, 0.9–1.1): what the augmented model sees")
savefig(fig, "augmented_samples")

fig, axes = plt.subplots(1, 2, figsize=(3.5, 1.9))
axes[0].imshow(six[0, 0], cmap="gray_r"), axes[0].set_title("a 6", fontsize=9)
axes[1].imshow(warp(six, angle=180)[0, 0], cmap="gray_r"), axes[1].set_title("turned 180°", fontsize=9)
for a in axes:
    a.set_axis_off()
savefig(fig, "six_or_nine")

# %%
finish()
