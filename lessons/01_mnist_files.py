# %% [markdown]
# # Lesson 01 · The MNIST files, from bytes to arrays
# Every article starts with "MNIST has N images of 28×28 pixels". Here we open the files
# ourselves, read their headers byte by byte, and count. Articles: 000 §1.3/§2.3, 001 §2.3,
# 002 §1, 004 §2.4. Run: `python lessons/01_mnist_files.py [--quick]`.

# %%
from _common import lesson, say, check, claim, savefig, finish   # first: paths, and one BLAS thread
import gzip

import numpy as np

from data_tools.idx import read_idx
from data_tools.mnist import MNIST_DIR, load_mnist

args = lesson(1, "The MNIST files, from bytes to arrays")

# %% [markdown]
# ## 1. The first bytes of a file
# MNIST is published as four gzip-compressed IDX files. IDX is a tiny binary format: two zero
# bytes, a type code (0x08 = unsigned byte), the number of dimensions, then each dimension as a
# 4-byte big-endian integer, then the raw values.

# %%
say("""
    1. What is inside the training-image file? We decompress it and look at the raw bytes.
""")
path = MNIST_DIR / "train-images-idx3-ubyte.gz"
compressed_head = path.read_bytes()[:4]
raw = gzip.open(path).read()
print(f"  file on disk : {path.name}, starts {compressed_head[:2].hex(' ')} (the gzip signature 1f 8b)")
print(f"  decompressed : {len(raw):,} bytes, first 16: {raw[:16].hex(' ')}")

magic = raw[:4]
type_code, ndim = raw[2], raw[3]
dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
print(f"  magic {magic.hex(' ')} → type 0x{type_code:02x} (uint8), {ndim} dimensions: {dims}")
header = 4 + 4 * ndim
check("the header is 16 bytes and the file is header + 60000·28·28 bytes",
      header == 16 and len(raw) == 16 + int(np.prod(dims)), f"{len(raw):,} = 16 + {np.prod(dims):,}")

# the same, done by hand and by the project's strict reader
images_by_hand = np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)
images_reader = read_idx(path)
check("our 3-line parse equals data_tools.idx.read_idx", np.array_equal(images_by_hand, images_reader),
      f"shape {images_by_hand.shape}")
record0 = raw[16:16 + 784]
check("one image is exactly 784 consecutive bytes (no strokes, no timing, nothing else)",
      bytes(images_by_hand[0].tobytes()) == record0, "bytes 16…799 are image 0, row by row")

PNG_SIGNATURE = bytes([0x89, 0x50, 0x4E, 0x47])


@claim("A4")
def _():
    is_png = raw[:4] == PNG_SIGNATURE or compressed_head == PNG_SIGNATURE
    return dict(png=is_png), (f"files start {compressed_head[:2].hex(' ')} (gzip), inside {raw[:4].hex(' ')} (IDX uint8, 3-D), "
                              f"not the PNG signature {PNG_SIGNATURE.hex(' ')}; a loader must parse the header and reshape")


# %% [markdown]
# ## 2. How many images?

# %%
say("""
    2. Counting: the header dimensions of the four files, through data_tools.mnist.load_mnist
       (which also checks each file's MD5 against the published one).
""")
x_train, y_train = load_mnist("train")
x_test, y_test = load_mnist("test")
n_train, n_test = len(x_train), len(x_test)
print(f"  train {x_train.shape} {x_train.dtype}, labels {y_train.shape};  test {x_test.shape}, labels {y_test.shape}")
check("60,000 training and 10,000 test images", (n_train, n_test) == (60000, 10000),
      f"{n_train:,} + {n_test:,} = {n_train + n_test:,}")
check("labels are exactly the digits 0..9", set(np.unique(y_train)) == set(range(10)) == set(np.unique(y_test)))


@claim("A1")
def _():
    labels = tuple(int(v) for v in np.unique(y_train))
    return (dict(n_train=n_train, n_test=n_test, hw=tuple(x_train.shape[1:]), labels=labels),
            f"headers: train {list(x_train.shape)}, test {list(x_test.shape)}; labels {labels[0]}…{labels[-1]}")


@claim("A2")
def _():
    return (dict(n_train=n_train, n_test=n_test),
            f"{n_train:,} train, {n_test:,} test (the name: Modified National Institute of Standards and Technology)")


@claim("A3")
def _():
    return dict(n_train=n_train), f"n_train = {n_train:,} (right value); 70,000 = {n_train:,} train + {n_test:,} test in total"


@claim("A6")
def _():
    return dict(n_train=n_train, n_test=n_test), (f"{n_train + n_test:,} images in total: 60,000 is the training split only "
                                                  f"({n_train:,} + {n_test:,}), and the same article tests on the {n_test:,}")


@claim("A5")
def _():
    return {}, ("not computable: MNIST was assembled by LeCun, Cortes and Burges by re-mixing "
                "NIST Special Databases 1 and 3; NIST supplied the source images, not MNIST")


# %% [markdown]
# ## 3. What the pixels and labels look like

# %%
say("""
    3. Pixel values and class balance. Pixels are uint8: 0 is background, 255 full ink.
""")
zeros = float((x_train == 0).mean())
print(f"  dtype {x_train.dtype}, min {x_train.min()}, max {x_train.max()}, "
      f"{zeros:.2%} of the {x_train.size:,} training pixels are exactly 0")
counts_train = np.bincount(y_train, minlength=10)
counts_test = np.bincount(y_test, minlength=10)
print("  training images per digit:", " ".join(f"{d}:{c}" for d, c in enumerate(counts_train)))
print("  test images per digit:    ", " ".join(f"{d}:{c}" for d, c in enumerate(counts_test)))
check("class counts add up to the split sizes", counts_train.sum() == n_train and counts_test.sum() == n_test)
check("classes are roughly balanced (smallest ≥ 80 % of largest)",
      counts_train.min() >= 0.8 * counts_train.max(), f"{counts_train.min()} (digit {counts_train.argmin()}) "
      f"to {counts_train.max()} (digit {counts_train.argmax()})")


@claim("A7")
def _():
    return (dict(dtype=str(x_train.dtype), lo=int(x_train.min()), hi=int(x_train.max())),
            f"{x_train.dtype}, min {x_train.min()}, max {x_train.max()}, {zeros:.2%} of pixels are 0")


# %%
import matplotlib.pyplot as plt  # noqa: E402

fig, axes = plt.subplots(3, 10, figsize=(10, 3.4))
for d in range(10):
    for r, i in enumerate(np.flatnonzero(y_train == d)[:3]):
        axes[r, d].imshow(x_train[i], cmap="gray_r")
        axes[r, d].set_axis_off()
    axes[0, d].set_title(str(d))
fig.suptitle("MNIST training images, three per digit")
savefig(fig, "digits")

fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3))
a.bar(range(10), counts_train, label="train")
a.bar(range(10), counts_test, label="test")
a.set_xticks(range(10)), a.set_xlabel("digit"), a.set_ylabel("images"), a.legend(ncols=2, loc="upper center")
a.set_ylim(0, 1.25 * counts_train.max())                       # room for the legend above the bars
a.set_title("images per class")
b.hist(x_train[:2000].ravel(), bins=64, log=True)
b.set_xlabel("pixel value (0 = paper, 255 = full ink)"), b.set_ylabel("pixels (log scale)")
b.set_title("pixel values (2,000 images)")
savefig(fig, "counts_and_pixels")

# %%
finish()
