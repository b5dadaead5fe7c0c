"""Pictures of a training run, as PNG files (matplotlib, imported here only, with the Agg backend
so no display is needed):

    loss_curves(history, "curves.png")                  train/test loss and accuracy per epoch
    confusion_heatmap(cm, "confusion.png")              the confusion matrix as a heat map
    misclassified_grid(images, y, pred, "wrong.png")    the wrong digits, titled "true → pred"
    first_layer_filters(weight, "filters.png")          the first convolution's kernels

Each function writes the file, closes its figure and returns the path.
"""
from . import backend
from .tensor import Tensor

np = backend.get_module("numpy")

__all__ = ["loss_curves", "confusion_heatmap", "misclassified_grid", "first_layer_filters"]


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _save(fig, path):
    plt = _pyplot()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def loss_curves(history, path, title=""):
    """Two panels: mean training loss and test loss per epoch; training and test accuracy per epoch."""
    plt = _pyplot()
    epochs = [r["epoch"] for r in history]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    ax_loss.plot(epochs, [r["train_loss"] for r in history], "o-", label="train")
    ax_acc.plot(epochs, [100 * r["train_accuracy"] for r in history], "o-", label="train")
    if history and "test_loss" in history[0]:
        ax_loss.plot(epochs, [r["test_loss"] for r in history], "s-", label="test")
        ax_acc.plot(epochs, [100 * r["test_accuracy"] for r in history], "s-", label="test")
    for ax, name in ((ax_loss, "cross-entropy loss"), (ax_acc, "accuracy (%)")):
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.set_xticks(epochs)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def confusion_heatmap(cm, path, class_names=None, title="confusion matrix"):
    """Heat map of ``cm`` (rows true, columns predicted) with the counts written in the cells.
    The colour scale is logarithmic, so the few mistakes stay visible next to the large diagonal."""
    plt = _pyplot()
    from matplotlib.colors import LogNorm
    cm = np.asarray(cm)
    k = len(cm)
    names = [str(c) for c in (class_names or range(k))]
    fig, ax = plt.subplots(figsize=(1 + 0.6 * k, 0.6 * k + 0.5))
    im = ax.imshow(np.maximum(cm, 0.5), cmap="Blues", norm=LogNorm(vmin=0.5, vmax=max(cm.max(), 1)))
    for t in range(k):
        for p in range(k):
            if cm[t, p]:
                dark = cm[t, p] > np.sqrt(max(cm.max(), 1))
                ax.text(p, t, str(cm[t, p]), ha="center", va="center", fontsize=8,
                        color="white" if dark else "black")
    ax.set_xticks(range(k), names)
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.colorbar(im, ax=ax, fraction=0.046)
    return _save(fig, path)


def misclassified_grid(images, labels, predictions, path, max_images=36, columns=9):
    """The first ``max_images`` samples whose prediction is wrong, each titled ``true → predicted``.

    ``images`` (N, 28, 28) or (N, 1, 28, 28) in any range (uint8 or normalised floats).
    """
    plt = _pyplot()
    images = np.asarray(images).reshape(len(images), *np.asarray(images).shape[-2:])
    labels, predictions = np.asarray(labels), np.asarray(predictions)
    wrong = np.flatnonzero(labels != predictions)[:max_images]
    rows = max(1, -(-len(wrong) // columns))
    fig, axes = plt.subplots(rows, columns, figsize=(1.2 * columns, 1.35 * rows + 0.4), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, i in zip(axes.flat, wrong):
        ax.imshow(images[i], cmap="gray_r")
        ax.set_title(f"{labels[i]} → {predictions[i]}", fontsize=9, color="darkred")
    fig.suptitle(f"misclassified: {int((labels != predictions).sum())} of {len(labels)} "
                 f"(first {len(wrong)} shown; true → predicted)", fontsize=10)
    return _save(fig, path)


def first_layer_filters(weight, path, columns=8):
    """The kernels of a first convolution ``weight`` (OC, C, KH, KW) (channel 0), each scaled to
    its own range: red positive, blue negative."""
    plt = _pyplot()
    w = backend.to_numpy(weight.data if isinstance(weight, Tensor) else weight)[:, 0]   # (a CuPy array's .data is a pointer)
    rows = -(-len(w) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(1.1 * columns, 1.1 * rows + 0.4), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for k, (ax, kernel) in enumerate(zip(axes.flat, w)):
        limit = max(float(np.abs(kernel).max()), 1e-12)
        ax.imshow(kernel, cmap="bwr", vmin=-limit, vmax=limit)
        ax.set_title(str(k), fontsize=8)
    fig.suptitle(f"first-layer filters ({w.shape[0]} of {w.shape[1]}×{w.shape[2]})", fontsize=10)
    return _save(fig, path)
