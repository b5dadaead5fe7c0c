"""tinynet.nn: Module bookkeeping, Sequential, state dicts, initialisation, dropout, batch norm,
and the shape errors a student meets (article 001's 1600-vs-3136 bug).

(Gradient checks of the layers are in test_layers_grad.py; PyTorch comparisons in
test_torch_compare_nn.py.)
"""
from collections import OrderedDict

import numpy as np
import pytest

import tinynet as tn
import tinynet.functional as F
from tinynet import backend as B, nn
from strategies import host, tensor


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU())
        self.fc = nn.Linear(2, 3)
        self.scale = nn.Parameter(tn.ones(1))
        self.not_a_weight = tn.zeros(2)          # a plain Tensor: not registered
        self.head = nn.Linear(3, 2, bias=False)

    def forward(self, x):
        x = self.features(x).mean(axis=(2, 3))
        return self.head(self.fc(x) * self.scale)


# --- parameters, modules, registration ------------------------------------------------------------
def test_parameters_are_found_from_attributes_in_order():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == ["scale", "features.0.weight", "features.0.bias", "features.1.weight", "features.1.bias",
                     "fc.weight", "fc.bias", "head.weight"]
    assert [id(p) for p in net.parameters()] == [id(p) for _, p in net.named_parameters()]
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in net.parameters())
    assert [n for n, _ in net.named_parameters(recurse=False)] == ["scale"]
    assert net.head.bias is None and net.not_a_weight.shape == (2,)


def test_children_and_named_modules():
    net = Net()
    assert [type(m).__name__ for m in net.children()] == ["Sequential", "Linear", "Linear"]
    assert [n for n, _ in net.named_modules()] == ["", "features", "features.0", "features.1", "features.2",
                                                   "fc", "head"]
    assert [n for n, _ in net.named_buffers()] == ["features.1.running_mean", "features.1.running_var",
                                                   "features.1.num_batches_tracked"]


def test_a_shared_parameter_is_listed_once():
    m = nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 3))
    m[1].weight = m[0].weight
    assert len(list(m.parameters())) == 3


def test_assignments_keep_their_kind():
    lin = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="parameter 'weight'"):
        lin.weight = tn.zeros(2, 2)               # a plain Tensor would silently stop training
    lin.bias = None                               # allowed: the layer now has no bias
    assert [n for n, _ in lin.named_parameters()] == ["weight"]
    bn = nn.BatchNorm2d(2)
    bn.running_mean = np.full(2, 5.0, dtype=np.float32)          # a buffer stays a buffer
    assert "running_mean" in bn.state_dict() and host(bn.state_dict()["running_mean"]).tolist() == [5, 5]

    class Early(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(1, 1)
    with pytest.raises(AttributeError, match=r"super\(\).__init__\(\)"):
        Early()


def test_train_and_eval_reach_every_submodule():
    net = Net()
    assert all(m.training for m in net.modules())
    assert net.eval() is net and not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())


def test_zero_grad_and_freezing():
    net = Net()
    net(tn.randn(2, 1, 5, 5)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    net.features.requires_grad_(False)
    net(tn.randn(2, 1, 5, 5)).sum().backward()
    assert all(p.grad is None for p in net.features.parameters())
    assert net.fc.weight.grad is not None


def test_to_backend_moves_parameters_and_buffers():
    tn.manual_seed(0)
    net = Net()
    x = np.random.default_rng(0).standard_normal((2, 1, 5, 5)).astype(np.float32)
    expected = host(net(tn.tensor(x)))
    assert net.to("fakecupy") is net
    assert {p.backend for p in net.parameters()} == {"fakecupy"}
    assert {b.backend for b in net.buffers()} == {"fakecupy"}
    y = net(tn.Tensor(B.to_backend(x, "fakecupy")))
    assert y.backend == "fakecupy"
    np.testing.assert_allclose(host(y), expected, rtol=1e-6)
    net.to("numpy")
    assert {p.backend for p in net.parameters()} | {b.backend for b in net.buffers()} == {"numpy"}


def test_to_dtype_casts_floats_and_keeps_integer_buffers():
    net = Net()
    assert net.double() is net
    assert {p.dtype for p in net.parameters()} == {np.dtype("float64")}
    assert net.features[1].running_mean.dtype == np.float64
    assert net.features[1].num_batches_tracked.dtype == np.int64
    net.to("float32")
    assert {p.dtype for p in net.parameters()} == {np.dtype("float32")}
    net.to(np.float64)
    assert net.fc.weight.dtype == np.float64


# --- state dicts -----------------------------------------------------------------------------------
def test_state_dict_keys_shapes_and_shared_data():
    net = Net()
    sd = net.state_dict()
    assert list(sd) == ["scale", "features.0.weight", "features.0.bias", "features.1.weight", "features.1.bias",
                        "features.1.running_mean", "features.1.running_var", "features.1.num_batches_tracked",
                        "fc.weight", "fc.bias", "head.weight"]
    assert sd["features.0.weight"].shape == (2, 1, 3, 3) and sd["features.1.num_batches_tracked"].shape == ()
    assert sd["fc.weight"].data is net.fc.weight.data            # no copy, as PyTorch
    assert not sd["fc.weight"].requires_grad


def test_load_state_dict_round_trip():
    tn.manual_seed(1)
    a = Net()
    a.train()(tn.randn(4, 1, 5, 5))                              # moves the running statistics
    tn.manual_seed(2)
    b = Net()
    result = b.load_state_dict({k: v.numpy().copy() for k, v in a.state_dict().items()})
    assert result.missing_keys == [] and result.unexpected_keys == []
    for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values()):
        np.testing.assert_array_equal(host(va), host(vb), err_msg=k)
    x = tn.randn(3, 1, 5, 5)
    np.testing.assert_array_equal(host(a.eval()(x)), host(b.eval()(x)))
    assert b.fc.weight.data is not a.fc.weight.data              # copied in, not aliased


def test_load_state_dict_refuses_and_names_bad_keys():
    net = Net()
    good = {k: v.numpy().copy() for k, v in net.state_dict().items()}
    before = {k: v.copy() for k, v in good.items()}

    missing = dict(good)
    del missing["fc.bias"]
    with pytest.raises(nn.StateDictError, match=r"missing key\(s\): 'fc.bias'"):
        net.load_state_dict(missing)
    extra = dict(good, **{"fc.gamma": np.zeros(3)})
    with pytest.raises(nn.StateDictError, match=r"unexpected key\(s\): 'fc.gamma'"):
        net.load_state_dict(extra)
    with pytest.raises(KeyError):                                 # also a KeyError, as it is about keys
        net.load_state_dict(missing)

    shaped = {k: (v + 1 if k != "fc.weight" else np.zeros((4, 2))) for k, v in good.items()}
    with pytest.raises(nn.ShapeError, match=r"'fc.weight'.*\(4, 2\).*\(3, 2\)"):
        net.load_state_dict(shaped)
    for k, v in net.state_dict().items():                          # nothing was half-loaded
        np.testing.assert_array_equal(host(v), before[k], err_msg=k)
    with pytest.raises(nn.ShapeError, match="fc.weight"):
        net.load_state_dict(shaped, strict=False)                  # shapes are checked even then


def test_load_state_dict_not_strict_returns_the_differences():
    net = Net()
    sd = {k: v.numpy() + 1 for k, v in net.state_dict().items() if not k.startswith("head")}
    sd["extra.weight"] = np.zeros(3)
    missing, unexpected = net.load_state_dict(sd, strict=False)
    assert missing == ["head.weight"] and unexpected == ["extra.weight"]
    np.testing.assert_array_equal(host(net.fc.bias), sd["fc.bias"])


def test_load_state_dict_moves_to_the_model_backend_and_casts_to_its_dtype():
    lin = nn.Linear(2, 2).to("fakecupy")
    w = np.eye(2) / 3                                           # float64
    lin.load_state_dict({"weight": w, "bias": np.array([1.0, 2.0], dtype=np.float16)})
    assert lin.weight.backend == lin.bias.backend == "fakecupy"
    assert lin.weight.dtype == np.float32                       # a float32 model stays float32 (as PyTorch)
    assert lin.bias.dtype == np.float32
    np.testing.assert_array_equal(host(lin.weight), w.astype(np.float32))
    np.testing.assert_array_equal(host(lin.bias), [1, 2])
    w[0, 0] = 5.0
    assert host(lin.weight)[0, 0] != 5.0                        # a copy, not the caller's array
    bn = nn.BatchNorm2d(2)
    bn.load_state_dict({k: v.numpy().astype(np.float64) for k, v in bn.state_dict().items()})
    assert bn.num_batches_tracked.dtype == np.int64 and bn.running_mean.dtype == np.float32
    lin.double().load_state_dict({"weight": np.eye(2) / 3, "bias": np.zeros(2)})
    np.testing.assert_array_equal(host(lin.weight), np.eye(2) / 3)      # a float64 model: full precision


# --- Sequential ----------------------------------------------------------------------------------
def test_sequential_indexing_slicing_and_assignment():
    layers = [nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 3)]
    m = nn.Sequential(*layers)
    assert len(m) == 5 and list(m) == layers
    assert m[0] is layers[0] and m[-1] is layers[4] and m[-5] is layers[0]
    with pytest.raises(IndexError, match="out of range"):
        m[5]
    head = m[2:]
    assert isinstance(head, nn.Sequential) and list(head) == layers[2:]
    assert list(head.state_dict()) == ["2.weight", "2.bias", "4.weight", "4.bias"]    # keys kept, as PyTorch
    assert head[0] is layers[2]                                                     # shared, not copied
    assert m[:2](tn.randn(2, 4)).shape == (2, 8)
    m[-1] = nn.Linear(8, 5)                                                         # replace the head
    assert m(tn.randn(2, 4)).shape == (2, 5)
    assert list(m.state_dict())[-2:] == ["4.weight", "4.bias"] and m[4].weight.shape == (5, 8)
    del m[1]
    assert len(m) == 4


def test_sequential_nested_and_named():
    m = nn.Sequential(nn.Sequential(nn.Linear(2, 3), nn.ReLU()), nn.Linear(3, 1))
    assert list(m.state_dict()) == ["0.0.weight", "0.0.bias", "1.weight", "1.bias"]
    named = nn.Sequential(OrderedDict(fc1=nn.Linear(2, 3), act=nn.ReLU(), fc2=nn.Linear(3, 1)))
    assert list(named.state_dict()) == ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
    assert named[-1] is named.fc2
    assert "(fc1): Linear(in_features=2, out_features=3, bias=True)" in repr(named)


# --- the errors a student meets --------------------------------------------------------------------
def test_article_001_flatten_size_bug_names_the_layer_and_both_sizes():
    """64·5·5 = 1600 features reach Linear(3136, 128): the message must say so in plain words."""
    model = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(3136, 128))
    with pytest.raises(nn.ShapeError) as e:
        model(tn.zeros(2, 1, 28, 28))
    msg = str(e.value)
    assert "Linear" in msg and "index 7" in msg
    assert "3136" in msg and "1600" in msg
    assert "Linear(1600, 128)" in msg                   # and what to write instead
    assert isinstance(e.value, ValueError) and isinstance(e.value, RuntimeError)   # RuntimeError as in PyTorch


def test_conv_channel_mismatch_names_the_layer_and_both_counts():
    model = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.Conv2d(16, 64, 3))
    with pytest.raises(nn.ShapeError) as e:
        model(tn.zeros(2, 1, 28, 28))
    msg = str(e.value)
    assert "Conv2d at index 2" in msg and "32 channels" in msg and "expects 16" in msg
    assert "(2, 32, 26, 26)" in msg
    with pytest.raises(nn.ShapeError, match=r"reshape\(N, 1, H, W\)"):
        nn.Conv2d(1, 4, 3)(tn.zeros(2, 28, 28))        # forgot the channel axis


def test_named_layer_errors_use_the_attribute_name():
    net = Net()
    with pytest.raises(nn.ShapeError, match=r"Linear 'fc'.*with 2 features.*\(4, 3\)"):
        net.fc(tn.zeros(4, 3))
    with pytest.raises(nn.ShapeError, match=r"BatchNorm2d.*\(N, 2, H, W\)"):
        nn.BatchNorm2d(2)(tn.zeros(4, 3, 2, 2))


# --- initialisation ------------------------------------------------------------------------------
@pytest.mark.parametrize("make, fan_in", [(lambda: nn.Linear(300, 200), 300),
                                          (lambda: nn.Conv2d(16, 64, 5), 16 * 25)])
def test_default_init_is_pytorchs_kaiming_uniform(make, fan_in):
    """weight, bias ~ U(−1/√fan_in, 1/√fan_in): within the bound, mean 0, variance bound²/3, flat."""
    tn.manual_seed(0)
    layer = make()
    bound = 1 / np.sqrt(fan_in)
    w, b = host(layer.weight).ravel(), host(layer.bias)
    assert layer.weight.dtype == np.float32
    for a in (w, b):
        assert np.abs(a).max() <= bound and np.abs(a).max() > 0.9 * bound
    assert abs(w.mean()) < 0.01 * bound
    assert w.var() == pytest.approx(bound ** 2 / 3, rel=0.02)
    counts, _ = np.histogram(w, bins=10, range=(-bound, bound))
    np.testing.assert_allclose(counts, w.size / 10, rtol=0.08)           # every tenth equally full


def test_init_is_reproducible_with_manual_seed():
    def make():
        return nn.Sequential(nn.Conv2d(1, 4, 3), nn.Linear(8, 2))
    tn.manual_seed(123)
    a = make()
    tn.manual_seed(123)
    b = make()
    c = make()
    for (k, va), vb, vc in zip(a.state_dict().items(), b.state_dict().values(), c.state_dict().values()):
        np.testing.assert_array_equal(host(va), host(vb), err_msg=k)
        assert not np.array_equal(host(va), host(vc)), k


# --- dropout -------------------------------------------------------------------------------------
def test_dropout_statistics_preserve_the_mean():
    tn.manual_seed(0)
    x = tn.ones(200_000)
    for p in (0.1, 0.5, 0.8):
        y = host(F.dropout(x, p, training=True))
        values = np.unique(y)
        assert len(values) == 2 and values[0] == 0 and values[1] == pytest.approx(1 / (1 - p), rel=1e-6)
        assert (y == 0).mean() == pytest.approx(p, abs=0.005)
        assert y.mean() == pytest.approx(1.0, abs=0.015)


def test_dropout_training_flag_seed_and_edges(backend):
    x = tn.randn(50, 40)
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x
    assert (host(F.dropout(x, 1.0)) == 0).all()
    tn.manual_seed(5)
    a = host(F.dropout(x, 0.5))
    tn.manual_seed(5)
    b = host(F.dropout(x, 0.5))
    c = host(F.dropout(x, 0.5))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.dropout(x, 1.5)
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout(-0.1)
    layer = nn.Dropout(0.5)
    assert (host(layer(x)) == 0).any()
    np.testing.assert_array_equal(host(layer.eval()(x)), host(x))


# --- batch norm ----------------------------------------------------------------------------------
def test_batchnorm2d_running_statistics_by_hand():
    rng = np.random.default_rng(0)
    bn = nn.BatchNorm2d(3).double()
    rm, rv = np.zeros(3), np.ones(3)
    for _ in range(3):
        x = rng.standard_normal((5, 3, 4, 4)) * [[[[2.0]], [[0.5]], [[1.0]]]] + [[[[1.0]], [[-2.0]], [[0.0]]]]
        y = host(bn(tensor(x, requires_grad=False)))
        mu, var = x.mean(axis=(0, 2, 3)), x.var(axis=(0, 2, 3))
        rm = 0.9 * rm + 0.1 * mu
        rv = 0.9 * rv + 0.1 * var * 80 / 79
        np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0, atol=1e-12)
        np.testing.assert_allclose(y.var(axis=(0, 2, 3)), var / (var + 1e-5), rtol=1e-10)
    np.testing.assert_allclose(host(bn.running_mean), rm, rtol=1e-12)
    np.testing.assert_allclose(host(bn.running_var), rv, rtol=1e-12)
    assert int(bn.num_batches_tracked.item()) == 3
    bn.eval()
    y = host(bn(tensor(x, requires_grad=False)))
    np.testing.assert_allclose(y, (x - rm.reshape(1, 3, 1, 1)) / np.sqrt(rv.reshape(1, 3, 1, 1) + 1e-5), rtol=1e-12)
    assert int(bn.num_batches_tracked.item()) == 3                    # eval does not count


def test_batchnorm_momentum_none_is_the_plain_average():
    rng = np.random.default_rng(1)
    bn = nn.BatchNorm1d(2, momentum=None).double()
    batches = [rng.standard_normal((6, 2)) + i for i in range(4)]
    for x in batches:
        bn(tensor(x, requires_grad=False))
    np.testing.assert_allclose(host(bn.running_mean), np.mean([x.mean(axis=0) for x in batches], axis=0), rtol=1e-12)


def test_module_repr():
    m = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Dropout(0.25))
    text = repr(m)
    assert text.startswith("Sequential(") and "(0): Conv2d(1, 8, kernel_size=(3, 3)" in text
    assert "(2): Dropout(p=0.25)" in text


def test_pool_on_a_too_small_image_names_the_layer():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.MaxPool2d(2), nn.MaxPool2d(2), nn.MaxPool2d(2), nn.MaxPool2d(2))
    with pytest.raises(nn.ShapeError, match=r"MaxPool2d at index 4.*\(1, 2, 1, 1\).*smaller than the pooling window"):
        model(tn.zeros(1, 1, 12, 12))
    assert nn.MaxPool2d(2, stride=1)(tn.zeros(1, 1, 4, 4)).shape == (1, 1, 3, 3)


def test_init_functions_fill_in_place(backend):
    tn.manual_seed(0)
    w = nn.Parameter(tn.zeros(200, 100, 3, 3))                # fan_in 900, fan_out 1800
    data = w.data
    for fill, std in [(lambda t: nn.init.kaiming_uniform_(t, nonlinearity="relu"), np.sqrt(2 / 900)),
                      (lambda t: nn.init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu"), np.sqrt(2 / 1800)),
                      (lambda t: nn.init.xavier_uniform_(t), np.sqrt(2 / 2700)),
                      (lambda t: nn.init.xavier_normal_(t, gain=2.0), 2 * np.sqrt(2 / 2700)),
                      (lambda t: nn.init.normal_(t, 0.0, 0.5), 0.5)]:
        assert fill(w) is w and w.data is data and w.dtype == np.float32 and w.backend == backend
        assert host(w).std() == pytest.approx(std, rel=0.01)
        assert abs(host(w).mean()) < 0.01 * std
    nn.init.kaiming_uniform_(w, a=np.sqrt(5))                  # the default of Linear and Conv2d
    assert np.abs(host(w)).max() <= 1 / np.sqrt(900)
    nn.init.uniform_(w, 2.0, 3.0)
    assert host(w).min() >= 2.0 and host(w).max() < 3.0
    assert (host(nn.init.zeros_(w)) == 0).all() and (host(nn.init.constant_(w, 0.25)) == 0.25).all()
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        nn.init.xavier_uniform_(tn.zeros(5))
    with pytest.raises(ValueError, match="unsupported nonlinearity"):
        nn.init.calculate_gain("swish")


# --- constructor arguments are checked at once -------------------------------------------------

@pytest.mark.parametrize("make, error, message", [
    (lambda: nn.Conv2d(0, 4, 3), ValueError, "Conv2d: in_channels must be at least 1, got 0"),
    (lambda: nn.Conv2d(1, -4, 3), ValueError, "out_channels must be at least 1, got -4"),
    (lambda: nn.Conv2d(1, 4, (3, 0)), ValueError, r"kernel_size must be at least 1, got \(3, 0\)"),
    (lambda: nn.Conv2d(1, 4, 3, stride=0), ValueError, "stride must be at least 1"),
    (lambda: nn.Conv2d(1, 4, 3, padding=-1), ValueError, "padding must be at least 0"),
    (lambda: nn.Conv2d(1, 4, 2.5), TypeError, "kernel_size must be a whole number, got 2.5"),
    (lambda: nn.Linear(-1, 3), ValueError, "Linear: in_features must be at least 1, got -1"),
    (lambda: nn.Linear(3, 0), ValueError, "out_features must be at least 1, got 0"),
    (lambda: nn.Linear("784", 10), TypeError, "in_features must be a whole number, got '784'"),
    (lambda: nn.Linear(True, 10), TypeError, "whole number, got True"),
])
def test_bad_layer_sizes_fail_at_construction(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_layer_sizes_may_be_numpy_integers():
    assert nn.Linear(np.int64(4), 2).weight.shape == (2, 4)
    assert nn.Conv2d(np.int32(1), 2, (np.int64(3), 3), padding=np.int64(0)).weight.shape == (2, 1, 3, 3)


def test_linear_fed_images_suggests_flatten():
    with pytest.raises(nn.ShapeError, match=r"put nn.Flatten\(\) before this layer, which makes "
                                            r"\(5, 1, 28, 28\) into \(5, 784\)$"):
        nn.Linear(784, 10)(tn.zeros(5, 1, 28, 28))
    with pytest.raises(nn.ShapeError, match=r"into \(5, 1600\), and make this layer Linear\(1600, 10\)"):
        nn.Linear(3136, 10)(tn.zeros(5, 64, 5, 5))
    with pytest.raises(nn.ShapeError, match=r"make this layer Linear\(20, 10\)"):      # rows: no Flatten hint
        nn.Linear(784, 10)(tn.zeros(5, 20))


def test_load_state_dict_refuses_values_that_are_not_real_numbers():
    import numpy as np
    import pytest
    from tinynet import nn
    layer = nn.Linear(2, 2)
    for bad in (np.array([[None, None], [None, None]], dtype=object), np.ones((2, 2), dtype=complex)):
        with pytest.raises(TypeError, match="not real numbers"):
            layer.load_state_dict({"weight": bad, "bias": np.zeros(2, np.float32)})
