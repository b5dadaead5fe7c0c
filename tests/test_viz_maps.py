"""tinynet.viz.feature_maps and saliency: shapes, finite differences, and no writes into the model."""
import threading

import numpy as np
import pytest

import tinynet as tn
from tinynet import models, nn
from tinynet.viz import feature_maps, saliency


def small_model():
    tn.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(3 * 3 * 3, 4))


def test_feature_maps_of_the_cnn_are_every_conv_and_pool_output():
    tn.manual_seed(0)
    model = models.cnn()
    x = np.random.default_rng(0).random((1, 28, 28), dtype=np.float32)
    maps = feature_maps(model, x)
    assert [(name, m.shape) for name, m in maps] == [
        ("0 Conv2d", (32, 28, 28)), ("2 MaxPool2d", (32, 14, 14)),
        ("3 Conv2d", (64, 14, 14)), ("5 MaxPool2d", (64, 7, 7))]
    first = model[0](tn.Tensor(x[None]))
    np.testing.assert_array_equal(maps[0][1], first.data[0])
    assert all(m.dtype == np.float32 and isinstance(m, np.ndarray) for _, m in maps)


def test_saliency_matches_central_differences_in_float64():
    model = small_model().double()
    x = np.random.default_rng(1).normal(size=(1, 1, 8, 8))
    for target in range(4):
        got = saliency(model, x, target)

        def logit(z):
            return float(model(tn.Tensor(z)).data[0, target])
        want = np.zeros((8, 8))
        for i in range(8):
            for j in range(8):
                up, down = x.copy(), x.copy()
                up[0, 0, i, j] += 1e-6
                down[0, 0, i, j] -= 1e-6
                want[i, j] = abs(logit(up) - logit(down)) / 2e-6
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)


def test_saliency_default_target_is_the_prediction_and_bad_targets_are_refused():
    model = small_model()
    x = np.random.default_rng(2).random((1, 8, 8), dtype=np.float32)
    predicted = int(model(tn.Tensor(x[None])).data.argmax())
    np.testing.assert_array_equal(saliency(model, x), saliency(model, x, predicted))
    for bad in (4, -1, 1.5, True, "3"):
        with pytest.raises(ValueError, match="target must be a class index in 0..3"):
            saliency(model, x, bad)
    with pytest.raises(ValueError, match="one image"):
        saliency(model, np.zeros((2, 1, 8, 8), np.float32))
    with pytest.raises(TypeError, match="Sequential"):
        feature_maps(nn.Linear(3, 3), x)


def test_nothing_is_written_into_the_model_and_a_training_model_is_put_back():
    model = small_model()
    x = np.random.default_rng(3).random((1, 8, 8), dtype=np.float32)
    saliency(model, x)
    feature_maps(model, x)
    assert all(p.grad is None for p in model.parameters()) and model.training
    model.eval()
    saliency(model, x)
    assert not model.training


def test_threads_sharing_one_model_each_get_their_own_answer():
    model = small_model().eval()
    rng = np.random.default_rng(4)
    images = [rng.random((1, 8, 8), dtype=np.float32) for _ in range(8)]
    alone = [saliency(model, im) for im in images]
    together = [None] * len(images)

    def work(i):
        for _ in range(20):
            together[i] = saliency(model, images[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(images))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for a, b in zip(alone, together):
        np.testing.assert_array_equal(a, b)
