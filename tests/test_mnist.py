"""data_tools.mnist: the bundled MNIST against its published facts, Fashion-MNIST's search path."""

import gzip
import os
from pathlib import Path

import numpy as np
import pytest

from data_tools import mnist
from data_tools.idx import write_idx
from data_tools.mnist import (
    FASHION_MNIST_CLASSES,
    MNIST_MEAN,
    MNIST_STD,
    ChecksumError,
    DatasetNotFoundError,
    load_fashion_mnist,
    load_mnist,
)

# The one place a test looks outside the project: the shared copy of Fashion-MNIST, if present.
SHARED_FASHION = Path(__file__).resolve().parents[2] / "shared" / "data" / "fashion-mnist"

TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.mark.parametrize("split, n, counts", [("train", 60000, TRAIN_COUNTS), ("test", 10000, TEST_COUNTS)])
def test_mnist_shapes_and_label_histogram(split, n, counts):
    images, labels = load_mnist(split)
    assert images.shape == (n, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (n,) and labels.dtype == np.uint8
    assert np.bincount(labels, minlength=10).tolist() == counts
    assert images.min() == 0 and images.max() == 255


def pixel_mean_std(images):
    """Mean and std of images / 255 in float64, from the 256-bin histogram (exact and cheap)."""
    counts = sum(np.bincount(chunk.ravel(), minlength=256) for chunk in np.array_split(images, 60))
    counts = counts.astype(np.float64)
    values = np.arange(256) / 255
    mean = (counts * values).sum() / counts.sum()
    return mean, np.sqrt((counts * (values - mean) ** 2).sum() / counts.sum())


def test_mnist_train_pixel_statistics():
    images, _ = load_mnist("train")
    mean, std = pixel_mean_std(images)
    assert mean == pytest.approx(0.13066, abs=1e-5)
    assert std == pytest.approx(0.30811, abs=1e-5)
    assert MNIST_MEAN == pytest.approx(mean, abs=1e-4)
    assert MNIST_STD == pytest.approx(std, abs=1e-4)


def test_loaded_arrays_are_read_only_and_cached():
    images, labels = load_mnist("test")
    with pytest.raises(ValueError):
        images[0, 0, 0] = 1
    with pytest.raises(ValueError):
        labels[0] = 1
    again, _ = load_mnist("test")
    assert again is images
    images.copy()[0, 0, 0] = 1  # a copy is the caller's to change


def test_published_md5s_are_the_readme_ones():
    assert mnist.MD5["mnist"]["train-images-idx3-ubyte"] == "6bbc9ace898e44ae57da46a324031adb"
    assert mnist.MD5["mnist"]["t10k-labels-idx1-ubyte"] == "27ae3e4e09519cfbb04c329615203637"
    assert mnist.MD5["fashion-mnist"]["train-images-idx3-ubyte"] == "f4a8712d7a061bf5bd6d2ca38dc4d50a"
    assert len(FASHION_MNIST_CLASSES) == 10 and FASHION_MNIST_CLASSES[9] == "Ankle boot"


def test_bundled_files_are_in_the_package():
    names = sorted(p.name for p in mnist.MNIST_DIR.iterdir())
    assert names == sorted(n + ".gz" for split in mnist.FILES.values() for n in split)


def test_uncompressed_files_are_accepted(tmp_path):
    for name in mnist.FILES["test"]:
        raw = gzip.decompress((mnist.MNIST_DIR / (name + ".gz")).read_bytes())
        (tmp_path / name).write_bytes(raw)
    images, labels = load_mnist("test", data_dir=tmp_path)
    bundled_images, bundled_labels = load_mnist("test")
    assert np.array_equal(images, bundled_images) and np.array_equal(labels, bundled_labels)


def _fake_split(folder, split, n=5):
    images_name, labels_name = mnist.FILES[split]
    write_idx(folder / (images_name + ".gz"), np.ones((n, 28, 28), dtype=np.uint8))
    write_idx(folder / (labels_name + ".gz"), np.zeros(n, dtype=np.uint8))


def test_checksum_mismatch_names_file_expected_and_got(tmp_path):
    _fake_split(tmp_path, "test")
    with pytest.raises(ChecksumError) as info:
        load_mnist("test", data_dir=tmp_path)
    message = str(info.value)
    assert str(tmp_path / "t10k-images-idx3-ubyte.gz") in message
    assert mnist.MD5["mnist"]["t10k-images-idx3-ubyte"] in message  # expected
    assert "MD5" in message and "expected" in message


def test_fashion_checksum_mismatch(tmp_path, monkeypatch):
    monkeypatch.delenv("TINYNET_DATA", raising=False)
    _fake_split(tmp_path, "train")
    with pytest.raises(ChecksumError, match=mnist.MD5["fashion-mnist"]["train-images-idx3-ubyte"]):
        load_fashion_mnist("train", data_dir=tmp_path)


def test_bad_split():
    with pytest.raises(ValueError, match="split"):
        load_mnist("validation")
    with pytest.raises(ValueError, match="split"):
        load_fashion_mnist("dev")


def test_missing_mnist_dir(tmp_path):
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        load_mnist("train", data_dir=tmp_path)


def test_fashion_search_path_order(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYNET_DATA", str(tmp_path / "env"))
    assert mnist.fashion_search_path() == [
        tmp_path / "env",
        tmp_path / "env" / "fashion-mnist",
        Path("/usr/share/datasets/fashion-mnist"),
    ]
    # a folder given explicitly is the only place looked in
    assert mnist.fashion_search_path(tmp_path / "arg") == [tmp_path / "arg", tmp_path / "arg" / "fashion-mnist"]
    monkeypatch.delenv("TINYNET_DATA")
    assert mnist.fashion_search_path() == [Path("/usr/share/datasets/fashion-mnist")]


def test_a_mistyped_data_dir_is_an_error_not_another_copy(tmp_path, monkeypatch):
    """With Fashion-MNIST in $TINYNET_DATA and the system folder, a data_dir without it is not
    quietly replaced by one of them."""
    (tmp_path / "env").mkdir()
    _fake_split(tmp_path / "env", "test")
    monkeypatch.setenv("TINYNET_DATA", str(tmp_path / "env"))
    monkeypatch.setattr(mnist, "FASHION_SYSTEM_DIR", tmp_path / "env")
    with pytest.raises(DatasetNotFoundError) as info:
        load_fashion_mnist("test", data_dir=tmp_path / "typo")
    looked = str(info.value).split("Looked in, in order:\n")[1].split("Get them")[0].split()
    assert looked == [str(tmp_path / "typo"), str(tmp_path / "typo" / "fashion-mnist")]


def test_fashion_absent_error_lists_places_and_remedies(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYNET_DATA", str(tmp_path / "env"))
    monkeypatch.setattr(mnist, "FASHION_SYSTEM_DIR", tmp_path / "system")
    with pytest.raises(DatasetNotFoundError) as info:
        load_fashion_mnist("test")
    assert isinstance(info.value, FileNotFoundError)
    message = str(info.value)
    for place in ["env", os.path.join("env", "fashion-mnist"), "system"]:
        assert str(tmp_path / place) in message
    assert "python -m data_tools download fashion-mnist --dest" in message
    assert "apt install dataset-fashion-mnist" in message


def test_fashion_half_present_split_is_not_found(tmp_path, monkeypatch):
    monkeypatch.delenv("TINYNET_DATA", raising=False)
    monkeypatch.setattr(mnist, "FASHION_SYSTEM_DIR", tmp_path / "system")
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", np.ones((2, 28, 28), dtype=np.uint8))
    with pytest.raises(DatasetNotFoundError, match="t10k-labels-idx1-ubyte"):
        load_fashion_mnist("test", data_dir=tmp_path)


needs_fashion = pytest.mark.skipif(
    not SHARED_FASHION.is_dir(), reason=f"Fashion-MNIST not available at {SHARED_FASHION}"
)


@needs_fashion
@pytest.mark.parametrize("split, n", [("train", 60000), ("test", 10000)])
def test_fashion_mnist_facts(split, n):
    images, labels = load_fashion_mnist(split, data_dir=SHARED_FASHION)
    assert images.shape == (n, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (n,) and labels.dtype == np.uint8
    assert np.bincount(labels, minlength=10).tolist() == [n // 10] * 10
    if split == "train":
        mean, std = pixel_mean_std(images)
        assert mean == pytest.approx(0.28604, abs=1e-5)
        assert std == pytest.approx(0.35302, abs=1e-5)


@needs_fashion
def test_fashion_found_through_environment(monkeypatch):
    monkeypatch.setenv("TINYNET_DATA", str(SHARED_FASHION.parent))  # .../data, holding fashion-mnist/
    images, labels = load_fashion_mnist("test")
    assert images.shape == (10000, 28, 28)
