# %% [markdown]
# # Lesson 06 · The articles' models: shapes and parameter counts
# The five articles use four CNNs (see `tinynet.models`): a LeNet-style net (000, 003 §3.2),
# the padded 32/64 CNN (003 §5.2, 004 §5.2), article 001's `CNNModel` and article 002's Keras
# model. We trace an image through each, count the weights by hand and by the engine, and
# find the bug in article 001's model.

# %%
from _common import lesson, say, check, claim, savefig, finish   # first: paths, and one BLAS thread
import numpy as np

import tinynet as tn
import tinynet.nn as nn
from tinynet import models
from data_tools.mnist import load_mnist

args = lesson(6, "The articles' models: shapes and parameter counts")
tn.manual_seed(0)
zoo = {name: models.build(name) for name in ("lenet", "cnn", "cnn_dropout", "keras_cnn", "mlp")}

# %% [markdown]
# ## 1. Shape traces and parameter counts

# %%
say("""
    1. Each model's layers with the shape of one image after each, and the weights per layer.
       By hand: a conv layer has C_out·C_in·k² + C_out weights, a linear layer in·out + out.
""")


def by_hand(model):
    total = 0
    for layer in model:
        if isinstance(layer, nn.Conv2d):
            (k, _), ci, co = layer.kernel_size, layer.in_channels, layer.out_channels
            total += co * ci * k * k + co
        elif isinstance(layer, nn.Linear):
            total += layer.in_features * layer.out_features + layer.out_features
    return total


counts = {}
for name, model in zoo.items():
    print(models.format_summary(model, name))
    counts[name] = model.num_parameters()
    check(f"{name}: the engine's count equals the formula", counts[name] == by_hand(model), f"{counts[name]:,}")
    print()


def trace(model):
    return [(layer, shape) for _, layer, shape, _ in models.summary(model)]


def features_by_formula(stack, side=28):
    """Features per image after the articles' conv/pool stack, by ⌊(H + 2p − k) / s⌋ + 1 in plain
    Python: the verdicts on the models' shapes use this, not the engine (checked against it below).
    stack: [("conv", k, padding, out_channels) or ("pool", k)]."""
    channels = 1
    for kind, k, *rest in stack:
        pad, channels = (rest[0], rest[1]) if kind == "conv" else (0, channels)
        side = (side + 2 * pad - k) // (1 if kind == "conv" else k) + 1
    return channels * side * side


STACKS = {"lenet": [("conv", 5, 0, 10), ("pool", 2), ("conv", 5, 0, 20), ("pool", 2)],          # 003 §3.2.2
          "keras_cnn": [("conv", 3, 0, 32), ("pool", 2), ("conv", 3, 0, 64), ("pool", 2)],      # 002 §5.2
          "cnn_001": [("conv", 3, 0, 32), ("pool", 2), ("conv", 3, 0, 64), ("pool", 2)],        # 001 §5.2
          "cnn": [("conv", 3, 1, 32), ("pool", 2), ("conv", 3, 1, 64), ("pool", 2)]}            # 003 §4.3, 004 §5.2
flat = {name: features_by_formula(stack) for name, stack in STACKS.items()}
engine_flat = {name: next(s for layer, s in trace(zoo[name]) if layer == "Flatten")[0] for name in ("lenet", "keras_cnn", "cnn")}
check("the engine's flattened sizes equal the output-size formula", all(engine_flat[n] == flat[n] for n in engine_flat),
      ", ".join(f"{n} {v:,}" for n, v in engine_flat.items()))


@claim("A38")
def _():
    shapes = [s for _, s in trace(zoo["lenet"])]
    return dict(features=flat["lenet"]), (f"28→{shapes[0][1]}→{shapes[1][1]}→{shapes[3][1]}→{shapes[4][1]}, "
                                 f"20·4·4 = {flat['lenet']} by ⌊(H + 2p − k)/s⌋ + 1; {counts['lenet']:,} parameters")


@claim("A40")
def _():
    s = [shape for _, shape in trace(zoo["keras_cnn"])]
    return dict(features=flat["keras_cnn"]), (f"runs: 26→{s[2][1]}→{s[3][1]}→{s[5][1]} (11//2 = 5 drops row and column 10) → "
                                    f"{s[6][0]:,} → 128 → 10; {counts['keras_cnn']:,} parameters")


@claim("A42")
def _():
    fc1 = zoo["cnn"][7].num_parameters()
    return dict(features=flat["cnn"]), (f"28→28→14→14→7, 64·7·7 = {flat['cnn']:,}; {counts['cnn']:,} parameters, "
                                        f"{fc1 / counts['cnn']:.1%} of them in fc1")


# %% [markdown]
# ## 2. Pooling 11×11 drops a row and a column

# %%
say("""
    2. In the unpadded models the second conv gives 11×11; a 2×2 pool gives ⌊11/2⌋ = 5, so row
       and column 10 are never looked at. Changing them changes nothing downstream.
""")
m = np.random.default_rng(0).standard_normal((1, 1, 11, 11))
m2 = m.copy()
m2[..., 10, :] += 100
m2[..., :, 10] -= 100
pool = nn.MaxPool2d(2)
same = np.array_equal(pool(tn.tensor(m)).numpy(), pool(tn.tensor(m2)).numpy())
check("max_pool2d(11×11) is 5×5 and ignores row 10 and column 10", same and pool(tn.tensor(m)).shape[2:] == (5, 5))

# %% [markdown]
# ## 3. Article 001's model as written

# %%
say("""
    3. Article 001's CNNModel: Conv2d(1, 32, 3) and Conv2d(32, 64, 3) without padding, then
       x.view(-1, 64*7*7) into fc1 = Linear(3136, 128). We build exactly that and feed it a batch of
       100 (its batch size).
""")


class CNNModel001(nn.Module):
    """Article 001 §5.2, line for line (the flatten size is its bug)."""

    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(1, 32, 3), nn.Conv2d(32, 64, 3)
        self.fc1, self.fc2 = nn.Linear(64 * 7 * 7, 128), nn.Linear(128, 10)
        self.dropout, self.relu, self.maxpool = nn.Dropout(0.5), nn.ReLU(), nn.MaxPool2d(2)

    def features(self, x):
        x = self.maxpool(self.relu(self.conv1(x)))
        return self.maxpool(self.relu(self.conv2(x)))

    def forward(self, x):
        x = self.features(x).view(-1, 64 * 7 * 7)
        return self.fc2(self.dropout(self.relu(self.fc1(x))))


images, labels = load_mnist("test")
net001 = CNNModel001()
batch = tn.tensor(images[:100, None].astype(np.float32) / 255)
feat = net001.features(batch)
print(f"  features of 100 images: {feat.shape} = {feat.numel():,} numbers; 160,000 / 3136 = {feat.numel() / 3136:.2f}")
try:
    net001(batch)
    error = "no error"
except Exception as e:             # tinynet's reshape refuses, as PyTorch's view does
    error = f"{type(e).__name__}: {e}"
print(f"  model(batch of 100) → {error}")
check("the article's model fails on a batch of 100", error != "no error")
feat49 = net001.features(batch[:49])
mixed = feat49.view(-1, 3136)
print(f"  a batch of 49 gives {feat49.numel():,} = {mixed.shape[0]} × 3136 numbers: view succeeds silently, "
      f"and row 1 holds the end of image 0 and the start of image 1")
check("with 49 images the view 'works' but each of the 25 rows mixes 1.96 images", mixed.shape == (25, 3136))
declared = CNNModel001().num_parameters()


@claim("A41")
def _():
    per_image = flat["cnn_001"]
    return dict(features=per_image), (f"without padding one image gives 64×5×5 = {per_image:,} features, not 3,136: batch 100 → "
                                      f"{feat.numel():,}/3136 = {feat.numel() / 3136:.2f} rows, {error.split(':')[0]} (PyTorch: "
                                      f"RuntimeError); a batch of 49 gives {49 * per_image / 3136:g} rows, so the loss then "
                                      f"fails on {49 * per_image // 3136} outputs against 49 labels. "
                                      f"Params as declared {declared:,}; fixed (fc1 in = 1600) {counts['cnn_dropout']:,}")


say("""
    The fix tinynet.models.cnn_dropout uses: fc1 = Linear(1600, 128) (the size the layers really
    produce). Adding padding=1 instead would give the padded CNN of articles 003/004.
""")
out = zoo["cnn_dropout"].eval()(batch)
check("the fixed model runs on the batch of 100", out.shape == (100, 10), f"logits {out.shape}")

# %% [markdown]
# ## 4. The articles' descriptions of their models

# %%
say("""
    4. Article 004 §4.3's toy example: 28×28 → 3×3 conv (one filter) → 26×26 → pool 13×13 → flatten
       169 → 10 classes. Article 003 says fully connected layers map "low-dimensional features
       to a high-dimensional space". The articles also list their models' layers in words.
""")
toy = nn.Sequential(nn.Conv2d(1, 1, 3), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(169, 10))
toy32 = nn.Sequential(nn.Conv2d(1, 32, 3), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(32 * 13 * 13, 10))
print(f"  one filter: {toy.num_parameters():,} parameters; 32 filters: flatten {32 * 13 * 13:,}, "
      f"{toy32.num_parameters():,} parameters; the article's own code flattens 3,136 into 128 units")
check("the toy net runs: (2, 1, 28, 28) → (2, 10)", toy(tn.tensor(np.zeros((2, 1, 28, 28), np.float32))).shape == (2, 10))


@claim("A45")
def _():
    map_hw = tuple(toy[:2](tn.tensor(np.zeros((1, 1, 28, 28), np.float32))).shape[2:])
    fc = next(layer for layer in zoo["cnn"] if isinstance(layer, nn.Linear))
    return dict(map_hw=map_hw, code_fc=(fc.in_features, fc.out_features)), (
        f"true for a one-filter toy net (169 → 10, {toy.num_parameters():,} parameters); with 32 filters it is "
        f"{32 * 13 * 13:,} → 10; the article's code flattens {fc.in_features:,} → {fc.out_features} → 10")


linears = [(name, layer.in_features, layer.out_features) for name, model in zoo.items() if name != "mlp"
           for layer in model if isinstance(layer, nn.Linear)]
print("  every Linear layer (in → out): " + ", ".join(f"{n} {i}→{o}" for n, i, o in linears))
check("every fully connected layer maps to fewer dimensions", all(i > o for _, i, o in linears))


@claim("A46")
def _():
    up = [(n, i, o) for n, i, o in linears if o > i]
    chains = {}
    for name, i, o in linears:                          # each model's Linear layers in order: lenet 320→50→10
        chains.setdefault(name, [i]).append(o)
    return dict(n_up=len(up)), ("every FC layer in the articles' models reduces: "
                                + ", ".join(f"{name} {'→'.join(map(str, dims))}" for name, dims in chains.items()))


def kinds(model):
    names = [type(layer).__name__ for layer in model]
    return {k: names.count(k) for k in ("Conv2d", "MaxPool2d", "Linear", "Dropout")}


k_cnn, k_001 = kinds(zoo["cnn"]), kinds(zoo["cnn_dropout"])
print(f"  padded CNN: {k_cnn};  article 001's model: {k_001}")


@claim("A47")
def _():
    return (dict(counts=tuple(k_cnn[k] for k in ("Conv2d", "MaxPool2d", "Linear", "Dropout")), dropout_001=k_001["Dropout"]),
            f"modules counted: padded CNN {k_cnn}; 001's model adds Dropout ×{k_001['Dropout']}")


# %% [markdown]
# ## 5. "Large models"

# %%
say("""
    5. Article 004 defines large models as having "millions to billions of parameters"; article 000
       calls them language models; 002 lists CNNs, RNNs and Transformers as large models.
""")
for name in ("lenet", "keras_cnn", "cnn"):
    print(f"  {name:10s} {counts[name]:>9,} parameters  ({counts[name] / 1e6:.3f} million)")
check("every article model is below one million parameters", max(counts.values()) < 1_000_000)


@claim("A48")
def _():
    return {}, (f"by this definition none of the articles' models is large: "
                f"{counts['lenet']:,} / {counts['keras_cnn']:,} / {counts['cnn']:,} parameters, all < 1 M")


@claim("A85")
def _():
    return {}, (f"'large' is about scale, not modality: the same series calls CNNs of "
                f"{counts['lenet']:,}–{counts['cnn']:,} parameters 'large models' while 000 says language models")


# %% [markdown]
# ## 6. The channel axis, and half precision

# %%
say("""
    6. Article 002 feeds x_train of shape (60000, 28, 28) to Conv2D(input_shape=(28, 28, 1)) without
       adding the channel axis. tinynet (like PyTorch) wants (N, C, H, W) and says so.
""")
conv = nn.Conv2d(1, 32, 3)
try:
    conv(tn.tensor(np.zeros((4, 28, 28), np.float32)))
    no_channel = "accepted"
except Exception as e:
    no_channel = f"{type(e).__name__}: {e}"
print(f"  Conv2d on (4, 28, 28) → {no_channel}")
ok_shape = conv(tn.tensor(np.zeros((4, 1, 28, 28), np.float32))).shape
check("(N, 28, 28) is refused with a message naming the expected shape; (N, 1, 28, 28) works",
      no_channel != "accepted" and ok_shape == (4, 32, 26, 26), f"{ok_shape}")


@claim("A62")
def _():
    return {}, (f"tinynet, like Keras 2, refuses (N, 28, 28): {no_channel.split(':')[0]}; adding the channel axis "
                "(x[..., None] in Keras, x[:, None] here) works in every version. The listing is cut off at validation_split")


say("""
    Article 003 recommends mixed precision "to reduce computational cost". Half precision
    (float16) halves the memory of weights and activations; how much does it change the output?
""")
x32 = tn.tensor(images[:64, None].astype(np.float32) / 255)
model32 = zoo["cnn"].eval()
bytes32 = sum(p.data.nbytes for p in model32.parameters())
logits32 = model32(x32).numpy()
model16 = models.cnn()
model16.load_state_dict(model32.state_dict())
for p in model16.parameters():
    p.data = p.data.astype(np.float16)
x16 = tn.tensor(x32.numpy().astype(np.float16))
bytes16 = sum(p.data.nbytes for p in model16.parameters())
act32, act16 = model32[0](x32).data.nbytes, model16[0](x16).data.nbytes
logits16 = model16(x16).numpy().astype(np.float32)
rel = np.abs(logits16 - logits32).max() / np.abs(logits32).max()
agree = (logits16.argmax(1) == logits32.argmax(1)).mean()
print(f"  weights: {bytes32 / 1e6:.2f} MB in float32, {bytes16 / 1e6:.2f} MB in float16; "
      f"first activation {act32 / 1e6:.1f} MB → {act16 / 1e6:.1f} MB")
print(f"  largest logit difference {rel:.1e} of the logit range; same predicted class for {agree:.1%} of 64 images")
check("float16 halves the memory and keeps the predictions", 2 * bytes16 == bytes32 and 2 * act16 == act32 and agree > 0.98)


@claim("A87")
def _():
    return {}, (f"measured here: float16 storage halves memory (cnn weights {bytes32 / 1e6:.2f} → {bytes16 / 1e6:.2f} MB, "
                f"first activation of 64 images {act32 / 1e6:.1f} → {act16 / 1e6:.1f} MB) with logits within {rel:.0e} "
                f"(relative) and {agree:.0%} identical predictions. Mixed-precision training keeps a float32 master copy "
                "of the weights, so it saves activation and gradient memory and bandwidth; its speed-up needs float16 "
                "hardware (not on this CPU, not measured)")


# %%
import matplotlib.pyplot as plt  # noqa: E402

fig, ax = plt.subplots(figsize=(8, 3.2))
for k, name in enumerate(("lenet", "keras_cnn", "cnn")):
    rows = [(layer, p) for _, layer, _, p in models.summary(zoo[name]) if p]
    ax.barh([f"{name}: {layer}" for layer, _ in rows], [p for _, p in rows], color=f"C{k}")
ax.set_xscale("log"), ax.set_xlabel("parameters (log scale)"), ax.invert_yaxis()
ax.set_title("where the weights are: the first fully connected layer dominates")
savefig(fig, "parameters_per_layer")

fig, axes = plt.subplots(1, 2, figsize=(12, 2.8), layout="constrained")
im = axes[0].imshow(feat49.numpy().reshape(49, 1600)[:6], aspect="auto", cmap="viridis", interpolation="nearest")
axes[0].set_title("correct: view(-1, 1600), one row per image", fontsize=9)
axes[0].set_xlabel("feature (64 channels × 5×5)"), axes[0].set_ylabel("image")
fig.colorbar(im, ax=axes[0], label="feature value")
owner = np.repeat(np.arange(49), 1600).reshape(25, 3136)[:6]      # the image each value of rows 0–5 came from
im = axes[1].imshow(owner, aspect="auto", cmap="tab20", vmin=-0.5, vmax=19.5, interpolation="nearest")
for r in range(6):                              # write the image's number on each stretch of a row
    for image in np.unique(owner[r]):
        cols = np.flatnonzero(owner[r] == image)
        axes[1].text(cols.mean(), r, f"image {image}" if len(cols) > 400 else str(image), ha="center", va="center",
                     fontsize=8)
axes[1].set_title("the article's view(-1, 3136): every row mixes images\n(colour and label: the image a value came from)",
                  fontsize=9)
axes[1].set_xlabel("position in the row (3136 values)"), axes[1].set_ylabel("row (= 'one image')")
for a in axes:
    a.set_yticks(range(6))
savefig(fig, "view_mixes_images")

# %%
finish()
