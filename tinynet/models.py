"""The models of the MNIST articles (``/work/shared/articles``), as ``nn.Sequential``.

Each builder returns a fresh model whose parameter names are PyTorch's for the same
``nn.Sequential`` (``"0.weight"``, ``"3.bias"``, …), so weights move between the two.

    name          article, lines                       parameters   notes
    lenet         003 §3.2.2 L90–104 (000 L104–110)        21,840   conv5 → pool → relu, twice
    cnn           003 §5.2 L284–300, 004 §5.2 L140–159    421,642   padded 3×3 convs 32/64, 95 % in fc1
    cnn_dropout   001 §5.2 L230–247                       225,034   001's model, flatten fixed to 1600
    keras_cnn     002 §5.2 L139–147                       225,034   unpadded, Keras (Glorot) init
    mlp           (baseline, in no article)               235,146   784 → 256 → 128 → 10

Article 001 declares ``fc1 = nn.Linear(64 * 7 * 7, 128)`` and flattens with
``x.view(-1, 64 * 7 * 7)`` (L235, L244), but its convolutions are *unpadded*: 28 → 26 → pool 13 →
11 → pool 5, so an image gives 64·5·5 = 1,600 features, not 3,136. In PyTorch the ``view`` then
silently regroups the batch (100 images × 1600 = 160,000 = 51.02 × 3136) and fails with a
RuntimeError. ``cnn_dropout`` uses the size the layers really produce, 1600.

``summary(model)`` lists each layer's output shape and parameter count (``tinynet summary NAME``).
"""
import math

from . import backend, nn, random
from .tensor import Tensor, no_grad

__all__ = ["lenet", "cnn", "cnn_dropout", "keras_cnn", "mlp", "MODELS", "build", "summary", "describe",
           "format_summary"]


def lenet():
    """M-A, article 003 §3.2.2 (L90–104): conv(1→10, 5×5) → max-pool 2 → ReLU → conv(10→20, 5×5)
    → max-pool 2 → ReLU → 320 → 50 → ReLU → 10. (The article pools before the ReLU; the two
    orders give the same result, since max and ReLU commute.)"""
    return nn.Sequential(
        nn.Conv2d(1, 10, 5), nn.MaxPool2d(2), nn.ReLU(),           # 10×24×24 → 10×12×12
        nn.Conv2d(10, 20, 5), nn.MaxPool2d(2), nn.ReLU(),          # 20×8×8 → 20×4×4
        nn.Flatten(), nn.Linear(320, 50), nn.ReLU(), nn.Linear(50, 10))


def cnn():
    """M-D, article 003 §5.2 (L284–300) and 004 §5.2 (L140–159): two padded 3×3 convolutions
    (32 and 64 channels) each followed by ReLU and 2×2 max-pooling, then 3136 → 128 → 10."""
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),     # 32×28×28 → 32×14×14
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),    # 64×14×14 → 64×7×7
        nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10))


def cnn_dropout(p=0.5):
    """M-C, article 001 §5.2 (L230–247): unpadded 3×3 convolutions 32/64 with ReLU and pooling,
    1600 → 128 → ReLU → Dropout(0.5) → 10. The article's 64·7·7 = 3136 is a bug (see above)."""
    return nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),            # 32×26×26 → 32×13×13
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),           # 64×11×11 → 64×5×5 (floor)
        nn.Flatten(), nn.Linear(64 * 5 * 5, 128), nn.ReLU(), nn.Dropout(p), nn.Linear(128, 10))


def keras_cnn():
    """M-B, article 002 §5.2 (L139–147): Keras ``Conv2D(32, 3, relu)`` → ``MaxPooling2D(2)`` →
    ``Conv2D(64, 3, relu)`` → ``MaxPooling2D(2)`` → ``Flatten`` → ``Dense(128, relu)`` →
    ``Dense(10, softmax)``. Same layers as ``cnn_dropout`` without dropout; initialised as Keras
    does (Glorot-uniform weights, zero biases). The softmax is left to the loss (cross-entropy on
    logits), which is the same function as Keras's softmax + categorical cross-entropy."""
    model = nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 5 * 5, 128), nn.ReLU(), nn.Linear(128, 10))
    for layer in model:
        if isinstance(layer, (nn.Conv2d, nn.Linear)):
            _glorot_uniform_(layer)
    return model


def _glorot_uniform_(layer):
    """Keras's default: W ~ U(-b, b), b = √(6 / (fan_in + fan_out)), receptive field included; bias 0."""
    w = layer.weight.data
    receptive = math.prod(w.shape[2:]) if w.ndim > 2 else 1
    fan_in, fan_out = w.shape[1] * receptive, w.shape[0] * receptive
    bound = math.sqrt(6.0 / (fan_in + fan_out))
    layer.weight.data[...] = backend.to_backend(random.uniform(w.shape, -bound, bound), backend.backend_name(w))
    layer.bias.data[...] = 0


def mlp(hidden=(256, 128)):
    """A baseline with no convolution: 784 → 256 → ReLU → 128 → ReLU → 10 (235,146 parameters,
    about as many as ``keras_cnn``, to show what convolutions buy)."""
    layers, width = [nn.Flatten()], 28 * 28
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU()]
        width = h
    return nn.Sequential(*layers, nn.Linear(width, 10))


MODELS = {"lenet": lenet, "cnn": cnn, "cnn_dropout": cnn_dropout, "keras_cnn": keras_cnn, "mlp": mlp}


def build(name):
    """The model called ``name`` (one of ``MODELS``), freshly initialised from tinynet's generator."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of: {', '.join(MODELS)}")
    return MODELS[name]()


def summary(model, input_shape=(1, 28, 28)):
    """Rows ``(index, layer, output shape (C, H, W) or (F,), parameters)`` of a Sequential model,
    computed by running one zero image through it."""
    xp = backend.get_module()
    x, rows = Tensor(xp.zeros((1,) + tuple(input_shape), dtype=xp.float32)), []
    was_training = model.training
    model.eval()
    with no_grad():
        for i, layer in enumerate(model):
            x = layer(x)
            rows.append((str(i), describe(layer), x.shape[1:], layer.num_parameters()))
    model.train(was_training)
    return rows


def describe(layer):
    """A short name for a layer: ``Conv2d 1→32 3×3 pad 1``, ``MaxPool2d 2``, ``Linear 3136→128``."""
    kind = type(layer).__name__
    if isinstance(layer, nn.Conv2d):
        (kh, kw), pad = layer.kernel_size, layer.padding
        text = f"{kind} {layer.in_channels}→{layer.out_channels} {kh}×{kw}"
        text += f" stride {layer.stride[0]}" if layer.stride != (1, 1) else ""
        return text + (f" pad {pad[0]}" if pad != (0, 0) else "")
    if isinstance(layer, nn.Linear):
        return f"{kind} {layer.in_features}→{layer.out_features}"
    if isinstance(layer, (nn.MaxPool2d, nn.AvgPool2d)):
        return f"{kind} {layer.kernel_size}"
    if isinstance(layer, nn.Dropout):
        return f"{kind} p={layer.p}"
    return kind


def format_summary(model, name="", input_shape=(1, 28, 28)):
    """``summary`` as a text table, with the total and trainable parameter counts."""
    rows = summary(model, input_shape)
    shape = lambda s: "×".join(map(str, s))  # noqa: E731
    lines = [f"{name or type(model).__name__}: input {shape(input_shape)}",
             f"{'#':>3}  {'layer':<26} {'output':>10} {'params':>9}"]
    lines += [f"{i:>3}  {layer:<26} {shape(out):>10} {p:>9,}" for i, layer, out, p in rows]
    lines.append(f"total parameters: {model.num_parameters():,} "
                 f"(trainable {model.num_parameters(trainable_only=True):,})")
    return "\n".join(lines)

