"""Raw data for tinynet: the IDX format, MNIST and Fashion-MNIST, and a downloader.

Nothing here imports tinynet; numpy is the only dependency (matplotlib only for ``show --out``).

    idx.py       read_idx / write_idx / IDXError — the format, strictly
    mnist.py     load_mnist, load_fashion_mnist, checksums, the search path
    download.py  mirrors, progress, MD5, atomic writes
    atomic.py    write a file completely or not at all
    __main__.py  ``python -m data_tools info|show|download``
"""

from data_tools.idx import IDXError, read_idx, write_idx
from data_tools.mnist import (
    FASHION_MNIST_CLASSES,
    MNIST_MEAN,
    MNIST_STD,
    ChecksumError,
    DatasetNotFoundError,
    load_fashion_mnist,
    load_mnist,
)

__all__ = [
    "IDXError",
    "read_idx",
    "write_idx",
    "load_mnist",
    "load_fashion_mnist",
    "ChecksumError",
    "DatasetNotFoundError",
    "MNIST_MEAN",
    "MNIST_STD",
    "FASHION_MNIST_CLASSES",
]
