"""The fine-tuning tasks: which images and labels each one trains and tests on.

    train_set, test_set = task_data("digits5-9", k=100, seed=0, normalize=data.Normalize(0.1307, 0.3081))

    digits0-4   MNIST images of the digits 0–4         (5 classes; for pre-training)
    digits5-9   MNIST images of the digits 5–9         (5 classes)
    mnist       all of MNIST                           (10 classes; for pre-training)
    fashion     Fashion-MNIST (not bundled: ``data_dir`` or $TINYNET_DATA, see README "Data")

Labels are renumbered from 0 (digits 5–9 get a 5-way head). ``k`` labels per class are drawn with
``seed`` alone, so every method is compared on the same images.
"""
from . import backend, data

__all__ = ["TASKS", "class_names", "image_style", "labels_per_class", "task_split", "task_data"]

TASKS = {   # name -> (data set, the original labels used, class names)
    "digits0-4": ("mnist", range(0, 5), [str(d) for d in range(0, 5)]),
    "digits5-9": ("mnist", range(5, 10), [str(d) for d in range(5, 10)]),
    "mnist": ("mnist", range(10), [str(d) for d in range(10)]),
    "fashion": ("fashion", range(10), None),
}


def _load(dataset, split, data_dir):
    """``(images, labels)`` of one split of ``"mnist"`` (bundled) or ``"fashion"`` (from ``data_dir``)."""
    if dataset == "mnist":
        from data_tools.mnist import load_mnist
        return load_mnist(split)
    from data_tools.mnist import load_fashion_mnist
    return load_fashion_mnist(split, data_dir)


def image_style(task):
    """How a picture is prepared for a model of ``task``: ``"fashion"`` (``data.fashion_style``) for
    Fashion-MNIST, else ``"mnist"`` (``data.mnist_style``; also for no task or an unknown one)."""
    return TASKS[task][0] if isinstance(task, str) and task in TASKS else "mnist"


def class_names(task):
    """The names of a task's classes, in label order (``"5"``…``"9"``, or ``"T-shirt/top"``…)."""
    names = TASKS[task][2]
    if names is None:
        from data_tools.mnist import FASHION_MNIST_CLASSES
        names = list(FASHION_MNIST_CLASSES)
    return names


def labels_per_class(labels, k, seed, names=None):
    """Indices of ``k`` samples of each label in ``labels`` (sorted), drawn without replacement
    by a generator seeded with ``seed`` alone; ``k=None`` keeps every index. A ``k`` larger than
    the smallest class is an error naming that class (``names[c]`` when given) and the largest
    ``k`` that works."""
    np = backend.get_module("numpy")
    if k is None:
        return np.arange(len(labels))
    classes, counts = np.unique(labels, return_counts=True)
    if k > counts.min():
        c, n = classes[counts.argmin()], int(counts.min())
        label = f"{c} ({names[c]!r})" if names is not None else f"{c}"
        raise ValueError(f"--labels-per-class {k}: class {label} has only {n:,} training images; "
                         f"use at most {n:,}, or 'all'")
    rng = np.random.default_rng(seed)
    chosen = []
    for c in classes:
        idx = np.flatnonzero(labels == c)
        chosen.append(rng.choice(idx, size=k, replace=False))
    return np.sort(np.concatenate(chosen))


def task_split(task, split, normalize=None, data_dir=None, limit=None, k=None, seed=0):
    """The ``split`` ("train" or "test") of ``task`` as a TensorDataset, labels renumbered 0…C-1:
    ``k`` labels per class drawn with ``seed`` (None: all), then the first ``limit`` images (None:
    all). Images become float32 in [0, 1], then ``normalize``."""
    np = backend.get_module("numpy")
    dataset, keep, _ = TASKS[task]
    images, labels = _load(dataset, split, data_dir)
    mask = np.isin(labels, list(keep))
    images, labels = images[mask], labels[mask].astype(np.int64) - keep.start
    idx = labels_per_class(labels, k, seed, class_names(task))
    images, labels = images[idx][:limit], labels[idx][:limit]
    return data.TensorDataset(images[:, None], labels, transform=data.Compose([data.ToFloat(), normalize]))


def task_data(task, k=None, seed=0, normalize=None, data_dir=None, test_limit=None):
    """``(train, test)`` TensorDatasets of ``task`` (see ``task_split``): ``k`` labels per class in
    train (None: all); the first ``test_limit`` test images (None: all)."""
    return (task_split(task, "train", normalize, data_dir, k=k, seed=seed),
            task_split(task, "test", normalize, data_dir, limit=test_limit))
