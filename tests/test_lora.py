"""LoRALinear / LoRAConv2d: identity at initialisation, the forward formula, gradients, merging."""
import math

import numpy as np
import pytest

import tinynet as tn
import tinynet.nn as nn
from tinynet import finetune, optim
from tinynet.nn import StateDictError


def _double(layer):
    for p in layer.parameters():
        p.data = p.data.astype("float64")
    return layer


def _randomize_b(lora, seed=1):
    rng = np.random.default_rng(seed)
    lora.lora_B.data[...] = rng.standard_normal(lora.lora_B.shape)


def _dense(shape, dtype="float64", seed=0):
    return tn.Tensor(np.random.default_rng(seed).standard_normal(shape).astype(dtype))


# --- construction ---------------------------------------------------------------------------------

def test_linear_shapes_init_and_parameter_count():
    tn.manual_seed(0)
    lora = nn.LoRALinear(nn.Linear(20, 7), rank=3, alpha=6)
    assert lora.lora_A.shape == (3, 20) and lora.lora_B.shape == (7, 3)
    assert lora.scaling == 2.0
    assert not lora.lora_B.data.any()                                        # B starts at zero
    a = lora.lora_A.numpy()
    assert np.abs(a).max() <= 1 / math.sqrt(20) and a.std() > 0.5 / math.sqrt(20) / math.sqrt(3)
    assert lora.num_lora_parameters() == 3 * (20 + 7)
    assert not lora.base.weight.requires_grad and not lora.base.bias.requires_grad
    assert lora.lora_A.requires_grad and lora.lora_B.requires_grad
    assert lora.num_parameters(trainable_only=True) == 3 * 27


def test_conv_shapes_and_parameter_count():
    lora = nn.LoRAConv2d(nn.Conv2d(3, 8, (3, 5), padding=1), rank=2)
    assert lora.lora_A.shape == (2, 3 * 3 * 5) and lora.lora_B.shape == (8, 2)
    assert lora.delta_weight().shape == (8, 3, 3, 5)
    assert lora.num_lora_parameters() == 2 * (45 + 8)
    assert np.abs(lora.lora_A.numpy()).max() <= 1 / math.sqrt(45)
    assert lora.alpha == 2 and lora.scaling == 1.0                           # alpha defaults to rank


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_identity_at_init_bit_for_bit(dtype):
    lin = nn.Linear(12, 5)
    conv = nn.Conv2d(2, 4, 3, stride=2, padding=1)
    if dtype == "float64":
        _double(lin), _double(conv)
    x1, x2 = _dense((6, 12), dtype), _dense((3, 2, 9, 9), dtype)
    y1, y2 = lin(x1).numpy(), conv(x2).numpy()
    l1, l2 = nn.LoRALinear(lin, rank=4, alpha=16), nn.LoRAConv2d(conv, rank=2, alpha=8)
    assert l1.lora_A.dtype == dtype
    out1, out2 = l1(x1).numpy(), l2(x2).numpy()
    assert out1.dtype == dtype and np.array_equal(out1, y1)
    assert out2.dtype == dtype and np.array_equal(out2, y2)


def test_rejects_wrong_layer_and_rank():
    with pytest.raises(TypeError, match="wraps an nn.Linear, got Conv2d"):
        nn.LoRALinear(nn.Conv2d(1, 2, 3), 2)
    with pytest.raises(TypeError, match="wraps an nn.Conv2d, got Linear"):
        nn.LoRAConv2d(nn.Linear(3, 2), 2)
    with pytest.raises(ValueError, match="rank must be a positive int"):
        nn.LoRALinear(nn.Linear(3, 2), 0)
    with pytest.raises(ValueError, match="alpha must be > 0"):
        nn.LoRALinear(nn.Linear(3, 2), 1, alpha=0)


def test_conv_shape_error_names_the_layer():
    model = nn.Sequential(nn.LoRAConv2d(nn.Conv2d(3, 4, 3), 2))
    with pytest.raises(nn.ShapeError, match=r"LoRAConv2d.*0.*\(N, 3, H, W\).*\(2, 1, 8, 8\)"):
        model(tn.zeros(2, 1, 8, 8))


# --- the function computed ------------------------------------------------------------------------

def test_linear_forward_is_w_plus_scaled_ba():
    lin = _double(nn.Linear(6, 4))
    lora = nn.LoRALinear(lin, rank=2, alpha=3)
    _randomize_b(lora)
    x = _dense((5, 6))
    w = lin.weight.numpy() + 1.5 * lora.lora_B.numpy() @ lora.lora_A.numpy()
    np.testing.assert_allclose(lora(x).numpy(), x.numpy() @ w.T + lin.bias.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(lora.delta_weight(), w - lin.weight.numpy(), rtol=1e-12, atol=1e-14)


def test_conv_forward_is_conv_with_w_plus_scaled_ba():
    conv = _double(nn.Conv2d(2, 3, 3, stride=2, padding=1))
    lora = nn.LoRAConv2d(conv, rank=2, alpha=4)
    _randomize_b(lora)
    x = _dense((2, 2, 7, 7))
    w = conv.weight.numpy() + 2.0 * (lora.lora_B.numpy() @ lora.lora_A.numpy()).reshape(3, 2, 3, 3)
    ref = tn.functional.conv2d(x, tn.Tensor(w), conv.bias, 2, 1).numpy()
    np.testing.assert_allclose(lora(x).numpy(), ref, rtol=1e-12, atol=1e-12)


def _with_ab(lora):
    """lora as a function of (x, A, B): gradcheck perturbs copies of its inputs, so plug them in."""
    def f(x, a, b):
        lora._parameters["lora_A"], lora._parameters["lora_B"] = a, b
        return lora(x)
    return f


def test_gradcheck_linear_float64():
    lora = nn.LoRALinear(_double(nn.Linear(5, 3)), rank=2, alpha=5)
    _randomize_b(lora)
    x = _dense((4, 5)).requires_grad_()
    assert tn.gradcheck(_with_ab(lora), x, lora.lora_A, lora.lora_B)


def test_gradcheck_conv_float64():
    lora = nn.LoRAConv2d(_double(nn.Conv2d(2, 3, 3, stride=2, padding=1)), rank=2, alpha=3)
    _randomize_b(lora)
    x = _dense((2, 2, 5, 5)).requires_grad_()
    assert tn.gradcheck(_with_ab(lora), x, lora.lora_A, lora.lora_B)


def test_gradcheck_inputs_reach_the_layer():
    """The checks above are not vacuous: the copies gradcheck makes of A and B get gradients."""
    lora = nn.LoRALinear(_double(nn.Linear(5, 3)), rank=2)
    _randomize_b(lora)
    a = tn.Tensor(lora.lora_A.data.copy(), requires_grad=True)
    b = tn.Tensor(lora.lora_B.data.copy(), requires_grad=True)
    _with_ab(lora)(_dense((4, 5)), a, b).sum().backward()
    assert a.grad is not None and a.grad.any() and b.grad is not None and b.grad.any()


def test_gradients_at_init_b_nonzero_a_zero():
    """With B = 0: dL/dA = 0 exactly and dL/dB = s · dyᵀ (x Aᵀ) ≠ 0 — training starts through B."""
    lora = nn.LoRALinear(_double(nn.Linear(4, 3)), rank=2, alpha=2)
    x = _dense((5, 4))
    lora(x).sum().backward()
    assert not lora.lora_A.grad.any()
    expected = np.ones((5, 3)).T @ (x.numpy() @ lora.lora_A.numpy().T)
    np.testing.assert_allclose(lora.lora_B.grad, expected, rtol=1e-12)


@pytest.mark.parametrize("make", [lambda: nn.LoRALinear(nn.Linear(8, 3), 2),
                                  lambda: nn.LoRAConv2d(nn.Conv2d(2, 3, 3, padding=1), 2)])
def test_training_moves_only_a_and_b(make):
    lora = make()
    x = tn.randn(4, 8) if isinstance(lora, nn.LoRALinear) else tn.randn(4, 2, 6, 6)
    w0, b0 = lora.base.weight.numpy().copy(), lora.base.bias.numpy().copy()
    a0 = lora.lora_A.numpy().copy()
    opt = optim.Adam(lora.parameters(), lr=1e-2, weight_decay=0.1)
    for _ in range(3):
        opt.zero_grad()
        (lora(x) ** 2).mean().backward()
        assert lora.base.weight.grad is None and lora.base.bias.grad is None
        opt.step()
    assert np.array_equal(lora.base.weight.numpy(), w0) and np.array_equal(lora.base.bias.numpy(), b0)
    assert not np.array_equal(lora.lora_A.numpy(), a0) and lora.lora_B.data.any()


# --- merging and state dicts ----------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["linear", "conv"])
def test_merge_equivalence_float64(kind):
    if kind == "linear":
        lora, x = nn.LoRALinear(_double(nn.Linear(10, 6)), 3, alpha=7), _dense((4, 10))
    else:
        lora, x = nn.LoRAConv2d(_double(nn.Conv2d(3, 5, 3, padding=1)), 3, alpha=7), _dense((2, 3, 6, 6))
    _randomize_b(lora)
    y = lora(x).numpy()
    merged = lora.merge()
    assert type(merged) in (nn.Linear, nn.Conv2d) and merged.weight.requires_grad
    np.testing.assert_allclose(merged(x).numpy(), y, rtol=1e-12, atol=1e-12)


def _small_cnn():
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(4, 6, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(6 * 2 * 2, 8), nn.ReLU(), nn.Linear(8, 3))


def test_apply_and_merge_lora_on_a_model_float64():
    model = _double(_small_cnn())
    x = _dense((3, 1, 8, 8))
    y0 = model(x).numpy()
    names = finetune.apply_lora(model, rank=2, alpha=4, targets=[nn.Conv2d, "7"])
    assert names == ["0", "3", "7"]
    assert isinstance(model[0], nn.LoRAConv2d) and isinstance(model[7], nn.LoRALinear)
    assert isinstance(model[9], nn.Linear)
    assert np.array_equal(model(x).numpy(), y0)                          # identity at init
    assert finetune.lora_parameter_count(model) == 2 * (9 + 4) + 2 * (36 + 6) + 2 * (24 + 8)
    for i in (0, 3, 7):
        _randomize_b(model[i], seed=i)
    y = model(x).numpy()
    assert not np.allclose(y, y0)
    finetune.merge_lora(model)
    assert [type(m).__name__ for m in model] == [type(m).__name__ for m in _small_cnn()]
    assert list(model.state_dict()) == list(_small_cnn().state_dict())
    np.testing.assert_allclose(model(x).numpy(), y, rtol=1e-12, atol=1e-12)


def test_lora_state_dict_keys_and_round_trip(tmp_path):
    model = _small_cnn()
    finetune.apply_lora(model, rank=2, targets="7")
    keys = list(model.state_dict())
    assert {"7.lora_A", "7.lora_B", "7.base.weight", "7.base.bias"} <= set(keys)
    assert "7.weight" not in keys
    _randomize_b(model[7])
    tn.save(model.state_dict(), tmp_path / "lora.npz")
    other = _small_cnn()
    finetune.apply_lora(other, rank=2, targets="7")
    other.load_state_dict(tn.load(tmp_path / "lora.npz"))
    x = tn.randn(2, 1, 8, 8)
    assert np.array_equal(other(x).numpy(), model(x).numpy())
    with pytest.raises(StateDictError, match="'7.lora_A'"):          # a plain model has no LoRA keys
        _small_cnn().load_state_dict(tn.load(tmp_path / "lora.npz"))


def test_apply_lora_target_errors_and_no_double_wrapping():
    model = _small_cnn()
    with pytest.raises(ValueError, match=r"no Linear or Conv2d layer is named '5'.*candidates: 0, 3, 7, 9"):
        finetune.apply_lora(model, 2, targets=["5"])
    assert finetune.apply_lora(model, 2, targets=nn.Linear) == ["7", "9"]
    assert finetune.apply_lora(model, 2, targets=[nn.Linear, nn.Conv2d]) == ["0", "3"]   # bases skipped
    with pytest.raises(ValueError, match="no layer of Sequential matches"):
        finetune.apply_lora(model, 2, targets=nn.Linear)


def test_lora_on_every_backend(backend):
    """A, B live on the base layer's backend; forward, backward, a step and merging stay there."""
    model = _small_cnn()
    finetune.freeze(model)
    finetune.apply_lora(model, rank=2, targets=["3", "7"])
    finetune.unfreeze(model, "9")
    assert model[3].lora_A.backend == backend and model[7].lora_B.backend == backend
    x = tn.randn(2, 1, 8, 8)
    y = tn.Tensor(tn.backend.to_backend(np.array([0, 2]), backend))
    opt = optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    opt.zero_grad()
    tn.functional.cross_entropy(model(x), y).backward()
    opt.step()
    assert model[3].base.weight.grad is None and model[7].lora_B.grad is not None
    with tn.no_grad():
        before = model(x).numpy()
    finetune.merge_lora(model)
    with tn.no_grad():
        np.testing.assert_allclose(model(x).numpy(), before, rtol=1e-5, atol=1e-6)
    assert model[3].weight.backend == backend


def test_a_rank_above_a_layers_smaller_side_is_refused_before_any_allocation():
    import pytest
    from tinynet import finetune, models
    model = models.mlp()
    with pytest.raises(ValueError, match="rank 100000 is larger than layer"):
        finetune.apply_lora(model, rank=100000)
