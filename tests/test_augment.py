"""tinynet.augment: the batched affine warp (identity, rotation, translation, scaling) and RandomAffine."""

import numpy as np
import pytest

import tinynet as tn
from tinynet import augment, data


def one_pixel(h, w, row, col):
    img = np.zeros((1, h, w), np.float32)
    img[0, row, col] = 1.0
    return img


def warp(images, angle=0.0, scale=1.0, tx=0.0, ty=0.0):
    n, h, w = images.shape[0], images.shape[-2], images.shape[-1]
    m = augment.affine_matrices(np.full(n, angle), np.full(n, scale), np.full(n, tx), np.full(n, ty), h, w)
    return augment.warp_affine(images, m)


def test_identity_parameters_give_the_identity():
    x = np.random.default_rng(0).random((4, 2, 28, 28), dtype=np.float32)
    np.testing.assert_array_equal(warp(x), x)


def test_rotation_by_90_degrees_is_counter_clockwise():
    # top-right corner → top-left corner (counter-clockwise on screen, as torchvision)
    out = warp(one_pixel(5, 5, 0, 4), angle=90)
    np.testing.assert_allclose(out, one_pixel(5, 5, 0, 0), atol=1e-5)
    out = warp(one_pixel(5, 5, 1, 3), angle=-90)           # clockwise: (1, 3) → (3, 3)
    np.testing.assert_allclose(out, one_pixel(5, 5, 3, 3), atol=1e-5)
    x = np.random.default_rng(1).random((3, 6, 6), dtype=np.float32)
    np.testing.assert_allclose(warp(x, angle=90), np.rot90(x, 1, axes=(1, 2)), atol=1e-5)


@pytest.mark.parametrize("tx, ty", [(2, 0), (0, -3), (-1, 4), (5, 5)])
def test_translation_by_whole_pixels_equals_roll_of_a_padded_image(tx, ty):
    x = np.random.default_rng(2).random((2, 1, 10, 12), dtype=np.float32)
    pad = 6
    padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    expected = np.roll(padded, (ty, tx), axis=(2, 3))[:, :, pad:-pad, pad:-pad]
    np.testing.assert_array_equal(warp(x, tx=tx, ty=ty), expected)


def test_half_pixel_translation_averages_neighbours():
    out = warp(one_pixel(5, 5, 2, 2), tx=0.5)
    assert out[0, 2, 2] == pytest.approx(0.5) and out[0, 2, 3] == pytest.approx(0.5)
    assert out.sum() == pytest.approx(1.0)


def test_scaling_about_the_centre():
    # scale 2 about the centre (2, 2) of a 5×5 image: the pixel at (2, 3) moves to (2, 4)
    out = warp(one_pixel(5, 5, 2, 3), scale=2.0)
    assert out[0, 2, 4] == pytest.approx(1.0) and out[0, 2, 2] == 0
    np.testing.assert_array_equal(warp(one_pixel(5, 5, 2, 2), scale=0.5), one_pixel(5, 5, 2, 2))


def test_everything_moved_outside_becomes_fill():
    x = np.ones((1, 1, 6, 6), np.float32)
    assert warp(x, tx=100).sum() == 0
    m = augment.affine_matrices(0, 1, 100, 0, 6, 6)
    assert (augment.warp_affine(x, m, fill=0.25) == 0.25).all()


def test_each_image_gets_its_own_transform():
    x = np.stack([one_pixel(5, 5, 0, 4)[0]] * 2)
    m = augment.affine_matrices([90, 0], [1, 1], [0, 0], [0, 0], 5, 5)
    out = augment.warp_affine(x, m)
    assert out[0, 0, 0] == pytest.approx(1, abs=1e-5) and out[1, 0, 4] == 1


def test_warp_runs_on_another_backend(backend):
    x = tn.backend.to_backend(np.random.default_rng(3).random((2, 1, 8, 8), dtype=np.float32), backend)
    m = augment.affine_matrices([10, -5], [1.1, 0.9], [1, 0], [0, -1], 8, 8)
    out = augment.warp_affine(x, m)
    assert tn.backend.backend_name(out) == backend
    np.testing.assert_allclose(tn.backend.to_numpy(out), augment.warp_affine(tn.backend.to_numpy(x), m), atol=1e-6)


def test_random_affine_is_seeded_bounded_and_keeps_mass_roughly():
    x = (data.mnist("test", limit=64)[np.arange(64)][0])
    tn.manual_seed(0)
    a = augment.RandomAffine()(x)
    tn.manual_seed(0)
    np.testing.assert_array_equal(augment.RandomAffine()(x), a)
    assert a.shape == x.shape and a.dtype == np.float32 and a.min() >= 0 and a.max() <= 1 + 1e-6
    assert not np.array_equal(a, x)
    ratio = a.sum(axis=(1, 2, 3)) / x.sum(axis=(1, 2, 3))    # scale 0.9..1.1 changes ink area by s²
    assert ratio.min() > 0.7 and ratio.max() < 1.35
    with pytest.raises(ValueError, match="RandomAffine"):
        augment.RandomAffine(degrees=-1)
