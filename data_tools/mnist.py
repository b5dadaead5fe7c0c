"""MNIST (bundled with the project) and Fashion-MNIST (found on disk), checked by MD5.

Both data sets are four IDX files with the same names and layout::

    train-images-idx3-ubyte   uint8 (60000, 28, 28)   pixels, 0 = background, 255 = ink
    train-labels-idx1-ubyte   uint8 (60000,)          class 0..9
    t10k-images-idx3-ubyte    uint8 (10000, 28, 28)
    t10k-labels-idx1-ubyte    uint8 (10000,)

each either gzipped (``NAME.gz``) or raw (``NAME``).  The MD5s below are of the *decompressed*
bytes, as published; gzip wrappers differ between copies, the IDX bytes inside do not.

MNIST ships in ``data_tools/data/mnist/`` so nothing needs the network.  Fashion-MNIST is
looked for in the ``data_dir`` argument (and its ``fashion-mnist`` subfolder) when one is given,
and only there: a mistyped folder is an error, never a silent read of another copy. Without
``data_dir``, in order: ``$TINYNET_DATA``, ``$TINYNET_DATA/fashion-mnist`` and
``/usr/share/datasets/fashion-mnist/`` (where Debian's package ``dataset-fashion-mnist`` puts it).

Loaded arrays are cached and returned read-only, so no caller can corrupt another's copy;
take ``.copy()`` (or convert to float, which copies anyway) to modify them.
"""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path

import numpy as np

from data_tools.idx import idx_bytes, read_idx

MNIST_DIR = Path(__file__).resolve().parent / "data" / "mnist"
FASHION_SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")

# mean and standard deviation of MNIST's training pixels / 255: the constants the articles use
MNIST_MEAN = 0.1307
MNIST_STD = 0.3081

FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

FILES = {  # split -> (images, labels)
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

MD5 = {  # data set -> file name -> MD5 of the decompressed file
    "mnist": {
        "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
        "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
        "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
        "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
        "train-labels-idx1-ubyte": "9018921c3c673c538a1fc5bad174d6f9",
        "t10k-images-idx3-ubyte": "8181f5470baa50b63fa0f6fddb340f0a",
        "t10k-labels-idx1-ubyte": "15d484375f8d13e6eb1aabb0c3f46965",
    },
}


class ChecksumError(ValueError):
    """A data file whose decompressed bytes do not have the published MD5."""


class DatasetNotFoundError(FileNotFoundError):
    """The data set's files are in none of the places searched."""


def load_mnist(split: str, data_dir=None):
    """MNIST ``(images uint8 (N, 28, 28), labels uint8 (N,))``; N = 60000 train, 10000 test.

    Reads the bundled copy unless ``data_dir`` names another folder holding the files.
    Raises ChecksumError if a file is not byte for byte the published one.
    """
    folder = Path(data_dir) if data_dir is not None else MNIST_DIR
    found = _find_split(folder, split)
    if found is None:
        raise DatasetNotFoundError(
            f"MNIST {split} files {' and '.join(FILES[split])} (.gz or raw) not found in {folder}"
        )
    return _load_checked(*found, "mnist")


def load_fashion_mnist(split: str, data_dir=None):
    """Fashion-MNIST ``(images uint8 (N, 28, 28), labels uint8 (N,))`` from the search path.

    Class names are in FASHION_MNIST_CLASSES.  Raises DatasetNotFoundError (a
    FileNotFoundError) listing every folder searched when the files are nowhere.
    """
    searched = fashion_search_path(data_dir)
    for folder in searched:
        found = _find_split(folder, split)
        if found is not None:
            return _load_checked(*found, "fashion-mnist")
    places = "\n".join(f"  {p}" for p in searched)
    raise DatasetNotFoundError(
        f"Fashion-MNIST {split} files ({' and '.join(FILES[split])}, .gz or raw) were not found.\n"
        f"Looked in, in order:\n{places}\n"
        "Get them with one of:\n"
        "  python -m data_tools download fashion-mnist --dest DIR   "
        "(then pass data_dir=DIR or set TINYNET_DATA=DIR)\n"
        "  sudo apt install dataset-fashion-mnist                   "
        f"(Debian; installs into {FASHION_SYSTEM_DIR})"
    )


def fashion_search_path(data_dir=None) -> list[Path]:
    """The folders searched for Fashion-MNIST, in order: ``data_dir`` and its ``fashion-mnist``
    subfolder alone when it is given; else ``$TINYNET_DATA`` (and its subfolder), then the system copy."""
    if data_dir is not None:
        return [Path(data_dir), Path(data_dir) / "fashion-mnist"]
    places = []
    env = os.environ.get("TINYNET_DATA")
    if env:
        places += [Path(env), Path(env) / "fashion-mnist"]
    places.append(FASHION_SYSTEM_DIR)
    return places


def _find_split(folder: Path, split: str):
    """Paths of the split's (images, labels) files in folder, or None if either is missing."""
    if split not in FILES:
        raise ValueError(f"split must be 'train' or 'test', not {split!r}")
    paths = []
    for name in FILES[split]:
        for candidate in (folder / (name + ".gz"), folder / name):
            if candidate.is_file():
                paths.append(candidate)
                break
        else:
            return None
    return tuple(paths)


@functools.lru_cache(maxsize=8)
def _load_checked(images_path: Path, labels_path: Path, dataset: str):
    images = _read_checked(images_path, dataset)
    labels = _read_checked(labels_path, dataset)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise ValueError(f"{images_path} {images.shape} and {labels_path} {labels.shape} do not match")
    return images, labels


def _read_checked(path: Path, dataset: str) -> np.ndarray:
    """Read one IDX file and compare the MD5 of its decompressed bytes with the published one."""
    array = read_idx(path)
    name = path.name.removesuffix(".gz")
    expected = MD5[dataset][name]
    got = hashlib.md5(idx_bytes(array)).hexdigest()  # = MD5 of the decompressed file: see idx.py
    if got != expected:
        raise ChecksumError(
            f"{path}: MD5 of the decompressed bytes is {got}, expected {expected} "
            f"(the published {dataset} {name}); the file is damaged or is not {dataset}"
        )
    array.flags.writeable = False
    return array
