"""tinynet.models: the articles' models have the audit's parameter counts and shapes, PyTorch's keys."""
import numpy as np
import pytest

import tinynet as tn
from tinynet import models, nn
from tinynet.recipes import RECIPES

# from the audit (/work/shared/research/article_claims.md, "Models in the articles")
PARAMS = {"lenet": 21_840, "cnn": 421_642, "cnn_dropout": 225_034, "keras_cnn": 225_034, "mlp": 235_146}
FEATURES = {"lenet": (20, 4, 4), "cnn": (64, 7, 7), "cnn_dropout": (64, 5, 5), "keras_cnn": (64, 5, 5)}


@pytest.mark.parametrize("name", list(models.MODELS))
def test_parameter_counts_match_the_audit(name):
    assert models.build(name).num_parameters() == PARAMS[name]


@pytest.mark.parametrize("name", list(models.MODELS))
def test_forward_gives_ten_logits(name):
    tn.manual_seed(0)
    out = models.build(name)(tn.randn(3, 1, 28, 28))
    assert out.shape == (3, 10) and out.dtype == np.float32


@pytest.mark.parametrize("name", list(FEATURES))
def test_shape_before_flatten(name):
    rows = models.summary(models.build(name))
    flatten = next(i for i, (_, layer, _, _) in enumerate(rows) if layer == "Flatten")
    assert rows[flatten - 1][2] == FEATURES[name]
    assert rows[flatten][2] == (int(np.prod(FEATURES[name])),)


def test_summary_rows_for_cnn():
    rows = models.summary(models.cnn())
    assert [r[2] for r in rows] == [(32, 28, 28), (32, 28, 28), (32, 14, 14), (64, 14, 14), (64, 14, 14),
                                    (64, 7, 7), (3136,), (128,), (128,), (10,)]
    assert [r[3] for r in rows] == [320, 0, 0, 18_496, 0, 0, 0, 401_536, 0, 1_290]
    text = models.format_summary(models.cnn(), "cnn")
    assert "Conv2d 1→32 3×3 pad 1" in text and "total parameters: 421,642" in text


def test_article_001_as_declared_cannot_run():
    """001 declares fc1 = Linear(64*7*7, 128) on unpadded convs: 421,642 parameters, and a shape error."""
    model = models.cnn_dropout()
    model[7] = nn.Linear(64 * 7 * 7, 128)
    assert model.num_parameters() == 421_642
    with pytest.raises(nn.ShapeError, match="1600"):
        model(tn.randn(2, 1, 28, 28))


def test_keys_are_pytorch_sequential_keys():
    assert list(models.lenet().state_dict()) == ["0.weight", "0.bias", "3.weight", "3.bias", "7.weight",
                                                 "7.bias", "9.weight", "9.bias"]
    assert "10.weight" in models.cnn_dropout().state_dict()


def test_keras_cnn_uses_glorot_uniform_and_zero_bias():
    tn.manual_seed(0)
    model = models.keras_cnn()
    w = model[7].weight.numpy()
    bound = np.sqrt(6 / (1600 + 128))
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound
    assert all(not layer.bias.numpy().any() for layer in model if isinstance(layer, (nn.Conv2d, nn.Linear)))
    conv_bound = np.sqrt(6 / (32 * 9 + 64 * 9))
    assert np.abs(model[3].weight.numpy()).max() <= conv_bound


def test_build_rejects_unknown_names():
    with pytest.raises(ValueError, match="choose one of: lenet, cnn"):
        models.build("resnet")


def test_recipes_name_known_models():
    for name, recipe in RECIPES.items():
        assert recipe["model"] in models.MODELS and "article" in recipe["source"]


@pytest.mark.parametrize("name", list(models.MODELS))
def test_same_outputs_as_pytorch_with_the_same_weights(name):
    torch = pytest.importorskip("torch")
    tn.manual_seed(0)
    model = models.build(name).eval()
    t = torch.nn.Sequential(*[_torch_layer(torch, layer) for layer in model]).eval()
    t.load_state_dict({k: torch.from_numpy(v.numpy()) for k, v in model.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((4, 1, 28, 28)).astype(np.float32)
    with torch.no_grad():
        expected = t(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(model(tn.tensor(x)).numpy(), expected, rtol=1e-4, atol=1e-5)


def _torch_layer(torch, layer):
    if isinstance(layer, nn.Conv2d):
        return torch.nn.Conv2d(layer.in_channels, layer.out_channels, layer.kernel_size, layer.stride, layer.padding)
    if isinstance(layer, nn.Linear):
        return torch.nn.Linear(layer.in_features, layer.out_features)
    if isinstance(layer, nn.MaxPool2d):
        return torch.nn.MaxPool2d(layer.kernel_size)
    if isinstance(layer, nn.Dropout):
        return torch.nn.Dropout(layer.p)
    return {"ReLU": torch.nn.ReLU, "Flatten": torch.nn.Flatten}[type(layer).__name__]()
