# %% [markdown]
# # Lesson 02 · Scaling, standardising, one-hot labels
# Before a network sees a digit, its uint8 pixels become floats. The articles use three
# different recipes: x/255 (000, 002, 004), `Normalize((0.5,), (0.5,))` (001) and
# `Normalize((0.1307,), (0.3081,))` (003). What does each one really produce?

# %%
from _common import ROOT, lesson, say, check, claim, savefig, finish   # first: paths, and one BLAS thread
import numpy as np

from data_tools.mnist import load_mnist

args = lesson(2, "Scaling, standardising, one-hot labels")
x_train, y_train = load_mnist("train")
x_test, y_test = load_mnist("test")

# %% [markdown]
# ## 1. Scaling to [0, 1]: x / 255

# %%
say("""
    1. Dividing by 255 maps the pixel range 0..255 onto 0..1 (what ToTensor() and the Keras
       article's x / 255.0 do). float32 keeps it exact enough: 1/255 needs only 8 bits.
""")
x01 = x_train.astype(np.float32) / 255.0
print(f"  x/255: dtype {x01.dtype}, min {x01.min()}, max {x01.max()}")
check("x/255 lies in [0, 1] and reaches both ends", x01.min() == 0.0 and x01.max() == 1.0)


@claim("A8")
def _():
    return dict(lo=float(x01.min()), hi=float(x01.max())), f"after x/255 (float32): min {x01.min():g}, max {x01.max():g}"


# %% [markdown]
# ## 2. The mean and standard deviation of the training pixels
# Computed exactly from integer sums, over all 60,000 × 784 = 47,040,000 pixels.

# %%
say("""
    2. The mean and standard deviation of all training pixels (/255), from exact integer sums.
""")


def pixel_stats(x):
    """Mean and population std of x/255, from exact integer sums."""
    n = x.size
    s = x.sum(dtype=np.int64)
    s2 = (x.astype(np.int64) ** 2).sum()
    mean = s / n / 255
    return mean, np.sqrt(s2 / n / 255**2 - mean**2)


mean_tr, std_tr = pixel_stats(x_train)
mean_te, std_te = pixel_stats(x_test)
print(f"  train pixels/255: mean {mean_tr:.6f}, std {std_tr:.6f}")
print(f"  test  pixels/255: mean {mean_te:.6f}, std {std_te:.6f}")
print(f"  check with float64 NumPy on 1,000 images: {x_train[:1000].mean() / 255:.6f} vs "
      f"{pixel_stats(x_train[:1000])[0]:.6f}")
check("the integer-sum mean equals NumPy's float64 mean",
      abs(x_train[:1000].mean() / 255 - pixel_stats(x_train[:1000])[0]) < 1e-12)

# %% [markdown]
# ## 3. Two Normalize transforms: (x − m) / s
# torchvision's `Normalize(mean, std)` computes (x − mean) / std on the [0, 1] tensor.

# %%
def normalize(x, m, s):
    return (x - np.float32(m)) / np.float32(s)


say("""
    3a. Article 001: Normalize((0.5,), (0.5,)) — while its text says it "scales to [0, 1]".
""")
xh = normalize(x01, 0.5, 0.5)
h_mean, h_std = float(xh.mean(dtype=np.float64)), float(xh.std(dtype=np.float64))
print(f"  range [{xh.min():g}, {xh.max():g}], mean {h_mean:.4f}, std {h_std:.4f}")
check("(x−0.5)/0.5 maps [0,1] onto [−1, 1]", xh.min() == -1 and xh.max() == 1)


@claim("A9")
def _():
    return dict(lo=float(xh.min()), hi=float(xh.max())), (f"the code's ToTensor() then Normalize((0.5,),(0.5,)) gives range "
                                                          f"[{xh.min():g}, {xh.max():g}], mean {h_mean:.4f}, std {h_std:.4f}: "
                                                          f"not the [0, 1] the text says, nor standardised")


say("""
    3b. Article 003: Normalize((0.1307,), (0.3081,)), the training set's own mean and std.
""")
xs = normalize(x01, 0.1307, 0.3081)
s_mean, s_std = float(xs.mean(dtype=np.float64)), float(xs.std(dtype=np.float64))
xs_test = normalize(x_test.astype(np.float32) / 255, 0.1307, 0.3081)
print(f"  train: range [{xs.min():.4f}, {xs.max():.4f}], mean {s_mean:.4f}, std {s_std:.4f}")
print(f"  test (same constants): mean {xs_test.mean(dtype=np.float64):.4f}, std {xs_test.std(dtype=np.float64):.4f}")
check("after standardising, the training mean ≈ 0 and std ≈ 1", abs(s_mean) < 1e-3 and abs(s_std - 1) < 1e-3,
      f"{s_mean:+.5f}, {s_std:.5f}")


@claim("A10")
def _():
    return dict(mean=mean_tr, std=std_tr), (f"training pixels/255: mean {mean_tr:.6f}, std {std_tr:.6f} (test {mean_te:.4f}/{std_te:.4f}); "
                                            f"standardised range [{xs.min():.4f}, {xs.max():.4f}]")


try:                                   # the same transform from tinynet's data pipeline
    from tinynet.data import Normalize
    ours = Normalize(0.1307, 0.3081)(x01[:100])
    ours = getattr(ours, "numpy", lambda: np.asarray(ours))()
    check("tinynet.data.Normalize gives the same numbers", np.allclose(ours, xs[:100], atol=1e-6))
except ImportError:
    pass

# %%
import matplotlib.pyplot as plt  # noqa: E402

fig, axes = plt.subplots(1, 3, figsize=(12, 3.4), layout="constrained", sharey=True)
sample = slice(0, 2000)
for ax, (name, v) in zip(axes, [("x / 255", x01), ("Normalize(0.5, 0.5)", xh), ("Normalize(0.1307, 0.3081)", xs)]):
    ax.hist(v[sample].ravel(), bins=60, log=True)
    ax.axvline(v[sample].mean(), color="k", ls="--", lw=1)
    ax.set_title(f"{name}\nrange [{v.min():.2f}, {v.max():.2f}], mean {v.mean(dtype=np.float64):.3f}", fontsize=10)
    ax.set_xlabel("pixel value after the recipe")
axes[0].set_ylabel("pixels (log scale)")
fig.suptitle("the same pixels (2,000 images) under the articles' three recipes: only the axis moves "
             "(dashed: the mean; tall bars: paper and full ink)")
savefig(fig, "three_scalings")

# %% [markdown]
# ## 4. One-hot labels (article 002's `to_categorical`)

# %%
say("""
    4. One-hot encoding: label 3 becomes [0 0 0 1 0 0 0 0 0 0]. PyTorch's cross-entropy takes the
       integer labels directly; Keras's categorical_crossentropy wants this matrix.
""")
onehot = np.eye(10, dtype=np.float32)[y_train]
print(f"  shape {onehot.shape}; first label {y_train[0]} → {onehot[0].astype(int)}")


@claim("A12")
def _():
    good = (onehot.sum(1) == 1) & (onehot.max(1) == 1) & (onehot.argmax(1) == y_train)
    return (dict(width=onehot.shape[1], one_hot_rows=float(good.mean())),
            f"shape {onehot.shape}, {good.mean():.0%} of rows one-hot with argmax = label ({len(y_train):,} rows)")


# %% [markdown]
# ## 5. What article 002's "preprocessing" really does

# %%
say("""
    5. Article 002 §3.1 says preprocessing "includes data cleaning, augmentation and
       standardisation". We search its code (lessons/article_code/002_*.py.txt) for any of them.
""")
code_002 = "\n".join(p.read_text() for p in sorted((ROOT / "lessons" / "article_code").glob("002_*.py.txt")))
looked_for = ["ImageDataGenerator", "RandomRotation", "rotation", "augment", "flip", "mean", "std",
              "Normalization", "StandardScaler", "dropna", "clean"]
found = [w for w in looked_for if w.lower() in code_002.lower()]
scaling = [line.strip() for line in code_002.splitlines() if "/ 255" in line]
print(f"  searched for {', '.join(looked_for)}: found {found or 'nothing'}")
print(f"  what is there: {scaling}")


@claim("A14")
def _():
    kinds = {"cleaning": ("dropna", "clean"), "augmentation": ("ImageDataGenerator", "RandomRotation", "rotation", "augment", "flip"),
             "standardisation": ("mean", "std", "Normalization", "StandardScaler")}
    present = [k for k, words in kinds.items() if any(w in found for w in words)]
    return dict(kinds_found=len(present)), (f"found in the code: {', '.join(present) or 'none of the three'}; it only scales "
                                            f"({len(scaling)} lines of x/255) and one-hot encodes (standardisation: lesson 02; augmentation: "
                                            f"lesson 12; cleaning: none)")


# %%
finish()
