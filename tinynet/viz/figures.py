"""``explain``: one figure of how a model reads one picture of a digit.

    from tinynet import data, viz
    viz.explain(model, "my_seven.png", "explained.png", normalize=data.Normalize(0.1307, 0.3081))

Top row, left to right: the picture as given; what the model saw (the 28×28 MNIST-style image
``data.mnist_style`` makes of it, enlarged with nearest-neighbour so each pixel is a square); the
saliency map |∂ logit_predicted / ∂ pixel| (``saliency``) with its colour bar and the digit's
outline; the probabilities of every class (softmax of the logits), the prediction highlighted.
Bottom: the first convolution layer's feature maps (``feature_maps``), on one diverging colour
scale centred on zero, with its colour bar. ``tinynet predict CKPT IMAGE --explain out.png`` is
this one call.
"""
import math
import os

from .. import backend, data
from ..tensor import Tensor, no_grad
from .files import check_out_path, write_atomic
from .maps import _eval_mode, feature_maps, saliency

__all__ = ["explain", "explain_figure", "FORMATS"]

FORMATS = (".png", ".svg", ".pdf")


def _prepare(image, normalize, style="mnist"):
    """(grey picture (H, W), the 28×28 picture the model sees (``data.STYLES[style]``), the
    model's input (1, 1, 28, 28) float32)."""
    np = backend.get_module("numpy")
    grey = data.read_image(image) if isinstance(image, (str, os.PathLike)) else np.asarray(image, dtype=np.float32)
    digit = data.STYLES[style](grey)
    x = digit[None, None].astype(np.float32)
    return grey, digit, (normalize(x) if normalize else x).astype(np.float32)


def _probabilities(model, x):
    with no_grad(), _eval_mode(model):
        logits = model(Tensor(backend.to_backend(x, backend.get_backend())))
    if logits.ndim != 2 or logits.shape[0] != 1:
        raise ValueError(f"the model should give logits of shape (1, classes), got {logits.shape}")
    return backend.to_numpy(logits.softmax(axis=1).data)[0].astype("float64")


def _picture(ax, image, title, **kw):
    ax.imshow(image, cmap="gray", vmin=0, vmax=1, **kw)
    ax.set_title(title, fontsize=9)
    ax.set_xticks([]), ax.set_yticks([])


def _bars(ax, p, classes, best):
    order = list(range(len(p)))[::-1]                  # class 0 at the top
    colours = ["#d62728" if k == best else "#9ecae1" for k in order]
    ax.barh(range(len(p)), [p[k] for k in order], color=colours)
    ax.set_yticks(range(len(p)), [classes[k] for k in order], fontsize=8)
    ax.set_xlim(0, 1.18), ax.set_xlabel("probability", fontsize=8)
    for i, k in enumerate(order):
        ax.text(p[k] + 0.02, i, f"{p[k]:.2f}" if p[k] >= 0.005 else "", va="center", fontsize=7)
    ax.set_title("probabilities\n(softmax of the model's scores)", fontsize=9)
    ax.tick_params(axis="x", labelsize=7)


def explain_figure(model, image, classes=None, normalize=None, source=None, style="mnist"):
    """The figure (a matplotlib Figure) for ``model`` and one ``image``: a file name, or grey
    levels (H, W) in [0, 1] as ``data.read_image`` gives (any size, dark on light or light on
    dark). ``normalize``: the training normalisation (``data.Normalize``; None for pixels in
    [0, 1]); ``classes``: the class names (default "0", "1", …); ``source``: the name shown in
    the title (default the file name); ``style``: how the picture is prepared, "mnist" (a digit)
    or "fashion" (``data.STYLES``)."""
    import matplotlib.pyplot as plt
    np = backend.get_module("numpy")
    if style not in data.STYLES:
        raise ValueError(f"explain: style must be one of {', '.join(map(repr, data.STYLES))}, got {style!r}")
    grey, digit, x = _prepare(image, normalize, style)
    p = _probabilities(model, x)
    classes = [str(k) for k in range(len(p))] if classes is None else [str(c) for c in classes]
    if len(classes) != len(p):
        raise ValueError(f"{len(classes)} class names for a model with {len(p)} outputs")
    best = int(p.argmax())
    sal = saliency(model, x[0], best)
    maps = feature_maps(model, x[0])
    source = source or (os.path.basename(image) if isinstance(image, (str, os.PathLike)) else "the image")

    fig = plt.figure(figsize=(13, 9))       # positions by hand: a layout engine took seconds here
    fig.suptitle(f"tinynet reads {source} as '{classes[best]}' (probability {p[best]:.2f})", fontsize=13, y=0.985)
    a = [fig.add_axes(box) for box in ([0.01, 0.53, 0.2, 0.36], [0.23, 0.53, 0.2, 0.36],
                                      [0.45, 0.53, 0.2, 0.36], [0.78, 0.53, 0.2, 0.36])]
    h, w = grey.shape
    _picture(a[0], grey, f"your image ({w}×{h} pixels)")
    _picture(a[1], digit, "what the model saw: 28×28\n(ink made white, cropped, centred)", interpolation="nearest")
    im = a[2].imshow(sal, cmap="magma", vmin=0, interpolation="nearest")
    a[2].contour(digit, levels=[0.5], colors="cyan", linewidths=0.8)
    a[2].set_xticks([]), a[2].set_yticks([])
    a[2].set_title(f"saliency: pixels whose change moves the\nscore of '{classes[best]}' most (cyan: the digit)", fontsize=9)
    _colour_bar(fig, im, [0.66, 0.56, 0.012, 0.3], f"|∂ score('{classes[best]}') / ∂ pixel|")
    _bars(a[3], p, classes, best)

    if not maps:
        fig.text(0.5, 0.25, "this model has no convolution layer, so it has no feature maps to show",
                 ha="center", va="center", fontsize=11)
        return fig
    name, first = maps[0]
    cols = min(len(first), 8 if len(first) <= 32 else 16)
    rows = math.ceil(len(first) / cols)
    grid = fig.add_gridspec(rows, cols, left=0.1, right=0.86, bottom=0.01, top=0.38, wspace=0.08, hspace=0.22)
    limit = float(np.abs(first).max()) or 1.0
    for k in range(len(first)):
        ax = fig.add_subplot(grid[k // cols, k % cols])
        shown = ax.imshow(first[k], cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
        ax.set_xticks([]), ax.set_yticks([])
        ax.set_title(str(k), fontsize=7, pad=2)
    _colour_bar(fig, shown, [0.88, 0.04, 0.012, 0.32], "response (0 = white)")
    fig.text(0.5, 0.47, f"first layer ({name}): its {len(first)} feature maps, one per filter (numbered), the layer's "
             "own output before any ReLU\nred: the filter's pattern is there · blue: its opposite is · "
             "blank paper is tinted too: each filter answers it with its bias", ha="center", va="top", fontsize=10)
    return fig


def _colour_bar(fig, image, box, label):
    cb = fig.colorbar(image, cax=fig.add_axes(box))
    cb.set_label(label, fontsize=8)
    cb.ax.tick_params(labelsize=7)


def explain(model, image, path, classes=None, normalize=None, source=None, style="mnist"):
    """Write ``explain_figure(model, image, …)`` to ``path`` (.png, .svg or .pdf), atomically;
    returns the Path. The path is checked before any work (one ValueError line per problem)."""
    import matplotlib.pyplot as plt
    path = check_out_path(path, FORMATS, "explain")
    fig = explain_figure(model, image, classes, normalize, source, style)
    try:
        write_atomic(path, lambda f: fig.savefig(f, format=path.suffix.lower()[1:], dpi=100), "explain")
    finally:
        plt.close(fig)
    return path
