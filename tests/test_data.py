"""tinynet.data: datasets, the batch loader (coverage, seeding, drop_last), transforms, mnist()."""
import numpy as np
import pytest

import tinynet as tn
from tinynet import backend, data


def ids_dataset(n):
    """Sample i is the input [i] with label i, so batches tell which samples were served."""
    return data.TensorDataset(np.arange(n, dtype=np.float32)[:, None], np.arange(n))


def served(loader):
    return [y.numpy().tolist() for _, y in loader]


@pytest.mark.parametrize("n, batch", [(10, 3), (12, 4), (7, 10), (1, 1)])
@pytest.mark.parametrize("shuffle", [False, True])
def test_every_sample_exactly_once_per_epoch(n, batch, shuffle):
    loader = data.DataLoader(ids_dataset(n), batch, shuffle=shuffle, seed=3)
    for _ in range(3):                                       # several epochs
        batches = served(loader)
        assert len(batches) == len(loader) == -(-n // batch)
        assert sorted(sum(batches, [])) == list(range(n))
        assert all(len(b) == batch for b in batches[:-1])


def test_unshuffled_order_is_the_dataset_order():
    assert sum(served(data.DataLoader(ids_dataset(10), 4)), []) == list(range(10))


def test_drop_last_drops_only_the_short_final_batch():
    loader = data.DataLoader(ids_dataset(10), 4, shuffle=True, drop_last=True, seed=0)
    batches = served(loader)
    assert len(loader) == len(batches) == 2 and all(len(b) == 4 for b in batches)
    assert len(set(sum(batches, []))) == 8
    assert len(data.DataLoader(ids_dataset(12), 4, drop_last=True)) == 3


def test_seeded_shuffling_repeats_across_runs_and_differs_across_epochs():
    a = data.DataLoader(ids_dataset(50), 50, shuffle=True, seed=7)
    b = data.DataLoader(ids_dataset(50), 50, shuffle=True, seed=7)
    first_a, second_a = served(a), served(a)
    assert served(b) == first_a                              # same seed, same first epoch
    assert first_a != second_a                               # a new order each epoch
    assert served(data.DataLoader(ids_dataset(50), 50, shuffle=True, seed=8)) != first_a
    b.set_epoch(1)                                           # resuming at epoch 1 gives epoch 1's order
    assert served(b) == second_a


def test_unseeded_shuffling_follows_manual_seed():
    tn.manual_seed(5)
    first = served(data.DataLoader(ids_dataset(30), 30, shuffle=True))
    tn.manual_seed(5)
    assert served(data.DataLoader(ids_dataset(30), 30, shuffle=True)) == first


def test_batches_are_float32_and_int64_tensors_on_the_requested_backend(backend):
    ds = data.TensorDataset(np.zeros((5, 1, 2, 2), np.float64), np.arange(5, dtype=np.uint8))
    x, y = next(iter(data.DataLoader(ds, 5)))
    assert isinstance(x, tn.Tensor) and x.dtype == np.float32 and y.dtype == np.int64
    assert x.backend == y.backend == backend


def test_dataset_indexing_by_array_applies_the_transform_to_inputs_only():
    ds = data.TensorDataset(np.arange(6.0)[:, None], np.arange(6), transform=lambda x: x * 10)
    x, y = ds[np.array([4, 1])]
    assert x[:, 0].tolist() == [40.0, 10.0] and y.tolist() == [4, 1]


def test_dataset_and_loader_reject_bad_arguments():
    with pytest.raises(ValueError, match="different lengths"):
        data.TensorDataset(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="batch_size"):
        data.DataLoader(ids_dataset(3), 0)


def test_normalize_scalar_and_per_channel():
    x = np.array([[[[0.5]], [[1.0]]]], np.float32)            # (1, 2, 1, 1)
    assert data.Normalize(0.5, 0.25)(x).ravel().tolist() == [0.0, 2.0]
    assert data.Normalize((0.5, 1.0), (0.5, 2.0))(x).ravel().tolist() == [0.0, 0.0]
    with pytest.raises(ValueError, match="positive"):
        data.Normalize(0.0, 0.0)


def test_mnist_dataset_scales_then_transforms():
    ds = data.mnist("test", limit=100)
    x, y = ds[np.arange(100)]
    assert x.shape == (100, 1, 28, 28) and x.dtype == np.float32 and y.dtype == np.int64
    assert x.min() == 0.0 and x.max() == 1.0
    xn, _ = data.mnist("test", data.Normalize(0.1307, 0.3081), limit=100)[np.arange(100)]
    np.testing.assert_allclose(xn, (x - 0.1307) / 0.3081, rtol=1e-6, atol=1e-6)
    assert round(float(xn.min()), 4) == -0.4242                 # the audit's range [-0.4242, 2.8215]


def test_mnist_style_undoes_inversion_scaling_and_offset():
    """A real test digit, enlarged 5×, inverted and put off-centre on a big page, comes back close
    to the original 28×28 digit."""
    from data_tools.mnist import load_mnist
    images, _ = load_mnist("test")
    digit = images[3] / 255.0
    page = np.ones((200, 260), np.float32)
    page[20:160, 100:240] = 1 - np.kron(digit, np.ones((5, 5)))
    out = data.mnist_style(page)
    assert out.shape == (28, 28) and out.dtype == np.float32 and 0 <= out.min() and out.max() <= 1
    assert np.corrcoef(out.ravel(), digit.ravel())[0, 1] > 0.9
    rows = np.arange(28) @ out.sum(1) / out.sum()
    cols = np.arange(28) @ out.sum(0) / out.sum()
    assert abs(rows - 14) <= 0.5 and abs(cols - 14) <= 0.5


def test_mnist_style_rejects_a_blank_image():
    with pytest.raises(ValueError, match="blank"):
        data.mnist_style(np.ones((30, 30)))


def test_resize_matrix_rows_sum_to_one_and_preserve_constants():
    for src, dst in [(100, 20), (20, 20), (7, 20), (1, 20), (21, 20)]:
        m = data._resize_matrix(src, dst)
        assert m.shape == (dst, src)
        np.testing.assert_allclose(m.sum(axis=1), 1, rtol=1e-6)
    assert backend.get_module("numpy") is np


# --- images from users: checked before they are decoded ---------------------------------------

def png_header_only(path, width, height):
    """A PNG that declares ``width`` x ``height`` grey pixels and holds one row of them: what a
    small file claiming a huge image looks like (the decoder would allocate the declared size)."""
    import struct
    import zlib

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(bytes(1 + min(width, 1000)))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    return path


@pytest.mark.parametrize("width, height, message", [
    (20000, 20000, "more than 16,777,216 pixels, the most tinynet reads"),   # Pillow's bomb check answers first
    (8000, 8000, "8000x8000 = 64,000,000 pixels; tinynet reads at most 16,777,216 pixels"),
    (4097, 4096, "4097x4096"),
    (20000, 1, "20000x1 = 20,000 pixels; tinynet reads at most 16,777,216 pixels and 16,384 on a side"),
    (2 ** 31 - 1, 2 ** 31 - 1, "more than 16,777,216 pixels"),
])
def test_too_large_images_are_refused_from_their_header(tmp_path, width, height, message):
    import time
    path = png_header_only(tmp_path / "big.png", width, height)
    start = time.perf_counter()
    with pytest.raises(data.ImageError, match=str(path) + ".*" + message.replace("(", r"\(")):
        data.read_image(path)
    assert time.perf_counter() - start < 1


@pytest.mark.parametrize("content, message", [
    (b"", "cannot read .* as an image"),
    (b"not an image", "cannot read .* as an image"),
    (b"\x89PNG\r\n\x1a\n" + b"\0" * 30, "cannot read .* as an image"),
])
def test_unreadable_images_are_image_errors(tmp_path, content, message):
    path = tmp_path / "x.png"
    path.write_bytes(content)
    with pytest.raises(data.ImageError, match=message):
        data.read_image(path)
    with pytest.raises(data.ImageError, match="is a folder"):
        data.read_image(tmp_path)


def test_missing_pillow_is_one_clear_error(tmp_path, monkeypatch):
    import sys
    path = png_header_only(tmp_path / "ok.png", 28, 28)
    monkeypatch.setitem(sys.modules, "PIL", None)             # import PIL now raises ImportError
    with pytest.raises(data.ImageError, match="reading images needs Pillow, which is not installed"):
        data.read_image(path)


def test_a_long_thin_stroke_is_resized_without_building_its_square():
    """The square of side 16384 would be 1 GiB of float32; the resize touches only the stroke."""
    import resource
    line = np.zeros((3, 16384), np.float32)
    line[1] = 1.0
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    digit = data.mnist_style(line)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50_000        # KiB
    assert digit.shape == (28, 28) and digit[:, 4:24].max() > 0 and digit.sum() > 0


def test_the_square_free_resize_equals_the_padded_square():
    rng = np.random.default_rng(0)
    a = (rng.random((13, 40)) > 0.5).astype(np.float32)
    a[0], a[-1], a[:, 0], a[:, -1] = 0, 0, 0, 0               # a dark background
    a[1:-1, 1], a[1:-1, -2], a[1, 1:-1], a[-2, 1:-1] = 1, 1, 1, 1   # ink to the crop's edges
    side, box = 38, 20
    square = np.zeros((side, side), np.float32)
    square[(side - 11) // 2:(side - 11) // 2 + 11] = a[1:-1, 1:-1]
    m = data._resize_matrix(side, box)
    expected = np.clip(m @ square @ m.T, 0, 1)
    got = data.mnist_style(a)
    assert np.isclose(got.sum(), expected.sum(), rtol=1e-5)


def test_dataloader_can_start_an_epoch_at_a_batch_without_reading_the_ones_before():
    read = []
    ds = data.TensorDataset(np.arange(10, dtype=np.float32)[:, None], np.arange(10),
                            transform=lambda x: read.append(len(x)) or x)
    loader = data.DataLoader(ds, 3, shuffle=True, seed=4)
    loader.set_epoch(2)
    whole = [y.numpy().tolist() for _, y in loader]
    loader.set_epoch(2, start_batch=2)
    read.clear()
    rest = [y.numpy().tolist() for _, y in loader]
    assert rest == whole[2:] and read == [3, 1]                 # only the served batches were transformed
    assert [y.numpy().tolist() for _, y in loader] != [] and loader.start_batch == 0   # the next epoch is whole
