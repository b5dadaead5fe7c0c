"""Pictures of a training run. Each comes as two functions: ``*_figure(...)`` returns a matplotlib
``Figure`` (built without pyplot: no display, no global backend switch, so it also behaves in a
notebook), and the plain name writes that figure as a PNG and returns the path:

    loss_curves(history, "curves.png", dropout=False, augment=False)   loss and accuracy per epoch
    confusion_heatmap(cm, "confusion.png")              the confusion matrix as a heat map
    misclassified_grid(images, y, pred, "wrong.png")    the wrong digits, titled "true → pred"
    first_layer_filters(weight, "filters.png", next_weight=None)   the first convolution's kernels
                                                        (and how the second one uses them)

Every heat map has a colour bar; weights use a diverging map centred on zero (red +, blue −, white 0).
"""
import textwrap

from . import backend
from .tensor import Tensor

np = backend.get_module("numpy")

__all__ = ["loss_curves", "loss_curves_figure", "loss_gap_note", "confusion_heatmap", "confusion_figure",
           "misclassified_grid", "misclassified_figure", "first_layer_filters", "filters_figure"]


def _figure(**kwargs):
    from matplotlib.figure import Figure
    return Figure(**kwargs)


def _save(fig, path):
    fig.savefig(path, dpi=100)
    return path


# --- loss and accuracy per epoch -----------------------------------------------------------------

def loss_gap_note(history, dropout=False, augment=False):
    """A sentence saying in which epochs the test loss is below the training loss and why, or ""
    when it never is. The reasons given are the ones this run had: the training loss is always the
    mean over the epoch's batches (measured while the weights still improved); ``dropout`` (the model
    has dropout layers, on in training only) and ``augment`` (training images were transformed) add theirs.
    """
    below = [r["epoch"] for r in history if "test_loss" in r and r["test_loss"] < r["train_loss"]]
    if not below:
        return ""
    why = ["the training loss is the mean over the epoch's batches, measured while the weights were "
           "still improving, and the test loss is measured after the epoch with its final weights"]
    if dropout:
        why.append("dropout switches off part of the network while training and never while testing")
    if augment:
        why.append("the training images are augmented (turned, shifted, scaled), the test images are not")
    return (f"Test loss below training loss in epoch{'s' if len(below) > 1 else ''} "
            f"{', '.join(map(str, below))}: expected, not a bug: " + "; ".join(why) + ".")


def loss_curves_figure(history, title="", dropout=False, augment=False):
    """Two panels: training loss (mean over each epoch's batches) and test loss per epoch; training
    and test accuracy per epoch; below them, ``loss_gap_note`` when it has something to say."""
    note = loss_gap_note(history, dropout, augment)
    lines = textwrap.wrap(note, 120)
    fig = _figure(figsize=(10, 4 + 0.2 * len(lines)))
    ax_loss, ax_acc = fig.subplots(1, 2)
    epochs = [r["epoch"] for r in history]
    ax_loss.plot(epochs, [r["train_loss"] for r in history], "o-", label="train (mean over the epoch)")
    ax_acc.plot(epochs, [100 * r["train_accuracy"] for r in history], "o-", label="train (mean over the epoch)")
    if history and "test_loss" in history[0]:
        ax_loss.plot(epochs, [r["test_loss"] for r in history], "s-", label="test (after the epoch)")
        ax_acc.plot(epochs, [100 * r["test_accuracy"] for r in history], "s-", label="test (after the epoch)")
    for ax, name in ((ax_loss, "cross-entropy loss"), (ax_acc, "accuracy (%)")):
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.set_xticks(epochs)
        ax.grid(alpha=0.3)
        ax.legend()
    ax_loss.set_title("loss (lower is better)")
    ax_acc.set_title("accuracy (higher is better)")
    if title:
        fig.suptitle(title)
    bottom = 0.0
    if lines:
        bottom = (0.25 + 0.2 * len(lines)) / fig.get_figheight()
        fig.text(0.01, 0.02, "\n".join(lines), fontsize=9, va="bottom", color="dimgray")
    fig.tight_layout(rect=(0, bottom, 1, 1))
    return fig


def loss_curves(history, path, title="", dropout=False, augment=False):
    """``loss_curves_figure`` written to ``path`` (PNG); returns the path."""
    return _save(loss_curves_figure(history, title, dropout, augment), path)


# --- confusion matrix ----------------------------------------------------------------------------

def confusion_figure(cm, class_names=None, title="confusion matrix"):
    """Heat map of ``cm`` (rows true, columns predicted) with the counts written in the cells.
    The colour scale is logarithmic, so the few mistakes stay visible next to the large diagonal."""
    from matplotlib.colors import LogNorm
    cm = np.asarray(cm)
    k = len(cm)
    names = [str(c) for c in (class_names or range(k))]
    fig = _figure(figsize=(1 + 0.6 * k, 0.6 * k + 0.5))
    ax = fig.subplots()
    im = ax.imshow(np.maximum(cm, 0.5), cmap="Blues", norm=LogNorm(vmin=0.5, vmax=max(cm.max(), 1)))
    for t in range(k):
        for p in range(k):
            if cm[t, p]:
                dark = cm[t, p] > np.sqrt(max(cm.max(), 1))
                ax.text(p, t, str(cm[t, p]), ha="center", va="center", fontsize=8,
                        color="white" if dark else "black")
    ax.set_xticks(range(k), names)
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class (the diagonal: correct)")
    ax.set_title(title)
    from matplotlib.ticker import FuncFormatter
    fig.colorbar(im, ax=ax, fraction=0.046, label="images (log scale)", format=FuncFormatter(lambda v, _: f"{v:g}"))
    fig.tight_layout()
    return fig


def confusion_heatmap(cm, path, class_names=None, title="confusion matrix"):
    """``confusion_figure`` written to ``path`` (PNG); returns the path."""
    return _save(confusion_figure(cm, class_names, title), path)


# --- misclassified digits ------------------------------------------------------------------------

def misclassified_figure(images, labels, predictions, max_images=36, columns=9):
    """The first ``max_images`` samples whose prediction is wrong, each titled ``true → predicted``.

    ``images`` (N, 28, 28) or (N, 1, 28, 28) in any range (uint8 or normalised floats).
    """
    images = np.asarray(images).reshape(len(images), *np.asarray(images).shape[-2:])
    labels, predictions = np.asarray(labels), np.asarray(predictions)
    wrong = np.flatnonzero(labels != predictions)[:max_images]
    rows = max(1, -(-len(wrong) // columns))
    fig = _figure(figsize=(1.2 * columns, 1.35 * rows + 0.4))
    axes = fig.subplots(rows, columns, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, i in zip(axes.flat, wrong):
        ax.imshow(images[i], cmap="gray_r")
        ax.set_title(f"{labels[i]} → {predictions[i]}", fontsize=9, color="darkred")
    fig.suptitle(f"misclassified: {int((labels != predictions).sum())} of {len(labels)} "
                 f"(first {len(wrong)} shown; true → predicted)", fontsize=10)
    fig.tight_layout()
    return fig


def misclassified_grid(images, labels, predictions, path, max_images=36, columns=9):
    """``misclassified_figure`` written to ``path`` (PNG); returns the path."""
    return _save(misclassified_figure(images, labels, predictions, max_images, columns), path)


# --- convolution filters -------------------------------------------------------------------------

def _host(weight):
    """A Tensor's or a backend array's values as a host NumPy array. (Not ``getattr(x, "data", x)``:
    a CuPy array's ``.data`` is a memory pointer, not its values.)"""
    return backend.to_numpy(weight.data if isinstance(weight, Tensor) else weight)


def filters_figure(weight, next_weight=None, columns=8):
    """The kernels of a first convolution ``weight`` (OC, C, KH, KW), input channel 0, all on one
    colour scale centred on zero (red positive, blue negative, white 0) with a colour bar.

    With ``next_weight`` (OC2, OC, KH2, KW2), the weight of the convolution that reads these OC
    maps, a second panel summarises it as an OC2 × OC heat map of kernel norms
    ``‖next_weight[o, c]‖₂`` (sequential colours, colour bar): row o is a second-layer filter,
    column c the first-layer filter whose map it reads, so a dark column is a first-layer filter the
    second layer hardly uses. (A mean over input channels would let signs cancel; norms do not.)
    """
    w = _host(weight)
    if w.ndim != 4:
        raise ValueError(f"filters_figure: weight must be (OC, C, KH, KW), got shape {w.shape}")
    if w.size == 0:
        raise ValueError(f"filters_figure: weight {w.shape} has no kernels to draw")
    w2 = None if next_weight is None else _host(next_weight)
    if w2 is not None and (w2.ndim != 4 or w2.shape[1] != w.shape[0]):
        raise ValueError(f"filters_figure: next_weight must be (OC2, {w.shape[0]}, KH, KW), got shape {w2.shape}")
    kernels = w[:, 0]
    columns = min(columns, len(kernels))
    rows = -(-len(kernels) // columns)
    width = 1.1 * columns + 1.2
    fig = _figure(figsize=(width + (5.5 if w2 is not None else 0), max(1.1 * rows + 1.2, 4 if w2 is not None else 0)),
                  layout="constrained")
    left, right = fig.subfigures(1, 2, width_ratios=[width, 5.5]) if w2 is not None else (fig, None)
    axes = left.subplots(rows, columns, squeeze=False)
    limit = max(float(np.abs(kernels).max()), 1e-12)
    for ax in axes.flat:
        ax.axis("off")
    for k, (ax, kernel) in enumerate(zip(axes.flat, kernels)):
        im = ax.imshow(kernel, cmap="RdBu_r", vmin=-limit, vmax=limit)
        ax.set_title(f"#{k}", fontsize=8)
    channel = f", input channel 0 of {w.shape[1]}" if w.shape[1] > 1 else ""
    left.suptitle(f"first convolution: its {len(kernels)} filters of {w.shape[2]}×{w.shape[3]} weights{channel}\n"
                  f"(one colour scale for all: red positive, blue negative, white 0)", fontsize=10)
    left.colorbar(im, ax=axes, shrink=0.8, label="weight")
    if w2 is not None:
        norms = np.sqrt((w2.astype(np.float64) ** 2).sum(axis=(2, 3)))
        ax = right.subplots()
        im2 = ax.imshow(norms, cmap="viridis", aspect="auto", vmin=0, interpolation="nearest")
        ax.set_xlabel("first-layer filter # (as on the left)")
        ax.set_ylabel("second-layer filter #")
        ax.set_title(f"second convolution ({w2.shape[0]} filters): how strongly\n"
                     f"each one reads each first-layer filter's map", fontsize=10)
        right.colorbar(im2, ax=ax, label=f"norm of the {w2.shape[2]}×{w2.shape[3]} kernel")
    return fig


def first_layer_filters(weight, path, next_weight=None, columns=8):
    """``filters_figure`` written to ``path`` (PNG); returns the path."""
    return _save(filters_figure(weight, next_weight, columns), path)
