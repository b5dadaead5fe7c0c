"""tinynet against PyTorch, number for number, in float64: functional ops and losses (forward and
backward), state-dict keys, loading PyTorch's weights, batch-norm running statistics, and
20-step training trajectories of a small CNN with every optimizer and scheduler.

Skipped when torch is not installed (``pip install 'tinynet[compare]'``).
"""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import tinynet as tn
import tinynet.functional as F
from tinynet import nn, optim
from tinynet.optim import lr_scheduler
from strategies import arrays, host, tensor

torch = pytest.importorskip("torch")
TF = torch.nn.functional
torch.set_num_threads(1)

RTOL = 1e-12        # float64 round-off, with room for different summation orders


def tt(a, requires_grad=True):
    return torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=requires_grad)


def close(tiny, ref, rtol=RTOL, atol=1e-13, what=""):
    ref = ref.detach().numpy() if isinstance(ref, torch.Tensor) else ref
    np.testing.assert_allclose(host(tiny), ref, rtol=rtol, atol=atol, err_msg=what)


def both_backward(tiny_out, torch_out, seed=0):
    """Backpropagate the same random weighting of the outputs through both frameworks."""
    w = np.random.default_rng(seed).standard_normal(torch_out.shape)
    (tiny_out * tensor(w, requires_grad=False)).sum().backward()
    (torch_out * torch.from_numpy(w)).sum().backward()


# --- functional ops and losses -------------------------------------------------------------------
@st.composite
def linear_case(draw):
    lead = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=3)))
    fin, fout = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    return draw(arrays(lead + (fin,))), draw(arrays((fout, fin))), draw(st.none() | arrays((fout,)))


@settings(max_examples=25)
@given(case=linear_case())
def test_linear_matches_torch(case):
    x, w, b = case
    tx, tw = tensor(x), tensor(w)
    rx, rw = tt(x), tt(w)
    tb, rb = (None, None) if b is None else (tensor(b), tt(b))
    y, r = F.linear(tx, tw, tb), TF.linear(rx, rw, rb)
    close(y, r)
    both_backward(y, r)
    close(tx.grad, rx.grad)
    close(tw.grad, rw.grad)
    if b is not None:
        close(tb.grad, rb.grad)


@st.composite
def ce_case(draw):
    n, c = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    z = draw(arrays((n, c), -10.0, 10.0))
    t = np.asarray(draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)), dtype=np.int64)
    return z, t


@settings(max_examples=40)
@given(case=ce_case(), reduction=st.sampled_from(["mean", "sum", "none"]),
       eps=st.sampled_from([0.0, 0.05, 0.3, 1.0]))
def test_cross_entropy_matches_torch(case, reduction, eps):
    z, t = case
    tz, rz = tensor(z), tt(z)
    y = F.cross_entropy(tz, t, reduction=reduction, label_smoothing=eps)
    r = TF.cross_entropy(rz, torch.from_numpy(t), reduction=reduction, label_smoothing=eps)
    close(y, r)
    both_backward(y, r)
    close(tz.grad, rz.grad)


@settings(max_examples=25)
@given(case=ce_case(), reduction=st.sampled_from(["mean", "sum", "none"]))
def test_nll_loss_and_log_softmax_match_torch(case, reduction):
    z, t = case
    tz, rz = tensor(z), tt(z)
    y = F.nll_loss(F.log_softmax(tz, axis=1), t, reduction=reduction)
    r = TF.nll_loss(TF.log_softmax(rz, dim=1), torch.from_numpy(t), reduction=reduction)
    close(y, r)
    both_backward(y, r)
    close(tz.grad, rz.grad)


@settings(max_examples=20)
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple), reduction=st.sampled_from(["mean", "sum", "none"]),
       data=st.data())
def test_mse_loss_matches_torch(shape, reduction, data):
    a, b = data.draw(arrays(shape)), data.draw(arrays(shape))
    ta, tb, ra, rb = tensor(a), tensor(b), tt(a), tt(b)
    y, r = F.mse_loss(ta, tb, reduction=reduction), TF.mse_loss(ra, rb, reduction=reduction)
    close(y, r)
    both_backward(y, r)
    close(ta.grad, ra.grad)
    close(tb.grad, rb.grad)


@settings(max_examples=20)
@given(x=arrays(st.lists(st.integers(1, 4), min_size=2, max_size=4).map(tuple)), data=st.data())
def test_relu_and_flatten_match_torch(x, data):
    start = data.draw(st.integers(0, x.ndim - 1))
    end = data.draw(st.integers(start, x.ndim - 1))
    tx, rx = tensor(x), tt(x)
    y, r = F.flatten(F.relu(tx), start, end), torch.flatten(TF.relu(rx), start, end)
    assert y.shape == tuple(r.shape)
    close(y, r, rtol=0, atol=0)
    both_backward(y, r)
    close(tx.grad, rx.grad, rtol=0, atol=0)


@settings(max_examples=20)
@given(n=st.integers(2, 4), c=st.integers(1, 3), spatial=st.lists(st.integers(1, 3), max_size=2).map(tuple),
       training=st.booleans(), momentum=st.sampled_from([0.1, 0.5]), seed=st.integers(0, 1000))
def test_batch_norm_matches_torch(n, c, spatial, training, momentum, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c) + spatial) * 2 + 1
    w, b = rng.uniform(0.5, 2, c), rng.standard_normal(c)
    rm, rv = rng.standard_normal(c), rng.uniform(0.5, 2, c)
    tx, tw, tb = tensor(x), tensor(w), tensor(b)
    rx, rw, rb = tt(x), tt(w), tt(b)
    trm, trv = tensor(rm, requires_grad=False), tensor(rv, requires_grad=False)
    rrm, rrv = tt(rm, False), tt(rv, False)
    y = F.batch_norm(tx, trm, trv, tw, tb, training=training, momentum=momentum, eps=1e-5)
    r = TF.batch_norm(rx, rrm, rrv, rw, rb, training=training, momentum=momentum, eps=1e-5)
    close(y, r, rtol=1e-10, atol=1e-12)
    close(trm, rrm)
    close(trv, rrv)
    both_backward(y, r)
    for a, ref, name in ((tx, rx, "x"), (tw, rw, "weight"), (tb, rb, "bias")):
        close(a.grad, ref.grad, rtol=1e-9, atol=1e-11, what=name)


# --- modules: keys, loading PyTorch weights, batch norm over several steps ------------------------
def tiny_model():
    return nn.Sequential(
        nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2)),
        nn.Conv2d(4, 6, 3, stride=2, bias=False), nn.ReLU(), nn.Flatten(),
        nn.Linear(6 * 2 * 2, 10), nn.Dropout(0.5), nn.Linear(10, 3))


def torch_model():
    tnn = torch.nn
    return tnn.Sequential(
        tnn.Sequential(tnn.Conv2d(1, 4, 3, padding=1), tnn.BatchNorm2d(4), tnn.ReLU(), tnn.MaxPool2d(2)),
        tnn.Conv2d(4, 6, 3, stride=2, bias=False), tnn.ReLU(), tnn.Flatten(),
        tnn.Linear(6 * 2 * 2, 10), tnn.Dropout(0.5), tnn.Linear(10, 3))


def test_state_dict_keys_and_shapes_are_pytorchs():
    ours, theirs = tiny_model().state_dict(), torch_model().state_dict()
    assert list(ours) == list(theirs)
    assert [v.shape for v in ours.values()] == [tuple(v.shape) for v in theirs.values()]
    assert [n for n, _ in tiny_model().named_parameters()] == [n for n, _ in torch_model().named_parameters()]
    assert [n for n, _ in tiny_model().named_modules()] == [n for n, _ in torch_model().named_modules()]


def test_custom_module_keys_are_pytorchs():
    class Tiny(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 2, 3)
            self.bn = nn.BatchNorm2d(2)
            self.head = nn.Sequential(nn.Flatten(), nn.Linear(8, 2))

    class Torch(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(1, 2, 3)
            self.bn = torch.nn.BatchNorm2d(2)
            self.head = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(8, 2))
    assert list(Tiny().state_dict()) == list(Torch().state_dict())


def test_loading_torch_weights_gives_torchs_outputs():
    torch.manual_seed(0)
    ref = torch_model().double()
    rng = np.random.default_rng(0)
    ref.train()
    for _ in range(2):                                         # non-trivial running statistics
        ref(torch.from_numpy(rng.standard_normal((4, 1, 10, 10))))
    model = tiny_model().double()
    result = model.load_state_dict({k: v.numpy() for k, v in ref.state_dict().items()})
    assert result == ([], [])
    x = rng.standard_normal((5, 1, 10, 10))
    ref.eval()
    model.eval()
    tx, rx = tensor(x), tt(x)
    y, r = model(tx), ref(rx)
    close(y, r, rtol=1e-11)
    both_backward(y, r)
    close(tx.grad, rx.grad, rtol=1e-10, atol=1e-13)
    for (name, p), (_, q) in zip(model.named_parameters(), ref.named_parameters()):
        close(p.grad, q.grad, rtol=1e-10, atol=1e-13, what=name)


def test_batchnorm2d_running_statistics_match_torch_over_steps():
    rng = np.random.default_rng(1)
    ours = nn.BatchNorm2d(3, momentum=0.2).double()
    ref = torch.nn.BatchNorm2d(3, momentum=0.2).double()
    ref.weight.data = torch.from_numpy(rng.uniform(0.5, 2, 3))
    ours.load_state_dict({k: v.numpy() for k, v in ref.state_dict().items()})
    for step in range(5):
        x = rng.standard_normal((4, 3, 5, 5)) * (step + 1) + step
        tx, rx = tensor(x), tt(x)
        y, r = ours(tx), ref(rx)
        close(y, r, rtol=1e-10, atol=1e-12, what=f"step {step}")
        both_backward(y, r, seed=step)
        close(tx.grad, rx.grad, rtol=1e-9, atol=1e-11)
    for k, v in ref.state_dict().items():
        close(ours.state_dict()[k], v, what=k)
    ours.eval()
    ref.eval()
    x = rng.standard_normal((2, 3, 4, 4))
    close(ours(tensor(x)), ref(tt(x)), rtol=1e-11, what="eval")


def test_default_init_bounds_are_torchs():
    torch.manual_seed(0)
    tn.manual_seed(0)
    for ours, theirs, fan_in in ((nn.Linear(500, 300), torch.nn.Linear(500, 300), 500),
                                 (nn.Conv2d(8, 16, 5), torch.nn.Conv2d(8, 16, 5), 200)):
        for name in ("weight", "bias"):
            a, b = host(getattr(ours, name)), getattr(theirs, name).detach().numpy()
            assert np.abs(a).max() <= 1 / math.sqrt(fan_in) and np.abs(b).max() <= 1 / math.sqrt(fan_in)
        a, b = host(ours.weight), theirs.weight.detach().numpy()
        assert a.std() == pytest.approx(b.std(), rel=0.03)


# --- 20-step training trajectories --------------------------------------------------------------------
def cnn_pair(batchnorm=False):
    """conv → (batchnorm) → relu → maxpool → flatten → linear, in both frameworks, tinynet's weights.

    Before a batch norm the conv has no bias, as usual: its gradient would be zero up to round-off,
    and Adam would turn that round-off noise into full-size steps.
    """
    tn.manual_seed(0)
    mid = [nn.BatchNorm2d(4)] if batchnorm else []
    ours = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1, bias=not batchnorm), *mid, nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(4 * 4 * 4, 5)).double()
    tmid = [torch.nn.BatchNorm2d(4)] if batchnorm else []
    ref = torch.nn.Sequential(torch.nn.Conv2d(2, 4, 3, padding=1, bias=not batchnorm), *tmid, torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                              torch.nn.Flatten(), torch.nn.Linear(4 * 4 * 4, 5)).double()
    ref.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in ours.state_dict().items()})
    return ours, ref


BATCHES = [(np.random.default_rng(i).standard_normal((6, 2, 8, 8)), np.random.default_rng(100 + i).integers(0, 5, 6))
           for i in range(20)]


def train_both(ours, ref, opt, ropt, steps=20, scheds=None):
    for x, t in BATCHES[:steps]:
        opt.zero_grad()
        ropt.zero_grad()
        loss = F.cross_entropy(ours(tensor(x, requires_grad=False)), t)
        loss.backward()
        opt.step()
        rloss = TF.cross_entropy(ref(torch.from_numpy(x)), torch.from_numpy(t))
        rloss.backward()
        ropt.step()
        if scheds:
            scheds[0].step()
            scheds[1].step()
    return loss.item(), rloss.item()


def assert_same_weights(ours, ref, rtol=1e-12):
    theirs = ref.state_dict()
    for k, v in ours.state_dict().items():
        r = theirs[k].numpy()
        scale = max(np.abs(r).max(), 1e-300)
        err = np.abs(host(v) - r).max() / scale
        assert err <= rtol, f"{k}: relative difference {err:.3g} from PyTorch"


OPTIMIZERS = {
    "sgd": (lambda ps: optim.SGD(ps, lr=0.1), lambda ps: torch.optim.SGD(ps, lr=0.1)),
    "sgd-momentum": (lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9),
                     lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9)),
    "sgd-dampening-decay": (lambda ps: optim.SGD(ps, lr=0.05, momentum=0.8, dampening=0.3, weight_decay=0.01),
                            lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.8, dampening=0.3, weight_decay=0.01)),
    "sgd-nesterov-decay": (lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3),
                           lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3)),
    "adam": (lambda ps: optim.Adam(ps, lr=0.01), lambda ps: torch.optim.Adam(ps, lr=0.01)),
    "adam-decay": (lambda ps: optim.Adam(ps, lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.05),
                   lambda ps: torch.optim.Adam(ps, lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.05)),
    "adamw": (lambda ps: optim.AdamW(ps, lr=0.01, weight_decay=0.1),
              lambda ps: torch.optim.AdamW(ps, lr=0.01, weight_decay=0.1)),
}


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_twenty_step_trajectory_matches_torch(name):
    make, make_ref = OPTIMIZERS[name]
    ours, ref = cnn_pair()
    loss, rloss = train_both(ours, ref, make(ours.parameters()), make_ref(ref.parameters()))
    assert loss == pytest.approx(rloss, rel=1e-10)
    assert_same_weights(ours, ref)
    start, _ = cnn_pair()                                    # and the weights really moved
    assert not np.allclose(host(ours[0].weight), host(start[0].weight), atol=1e-3)


def test_trajectory_with_batchnorm_and_parameter_groups_matches_torch():
    ours, ref = cnn_pair(batchnorm=True)

    def groups(m):
        return [{"params": list(m[0].parameters()) + list(m[1].parameters()), "lr": 0.003},
                {"params": list(m[5].parameters())}]
    opt = optim.AdamW(groups(ours), lr=0.02, weight_decay=0.05)
    ropt = torch.optim.AdamW(groups(ref), lr=0.02, weight_decay=0.05)
    train_both(ours, ref, opt, ropt)
    assert_same_weights(ours, ref, rtol=1e-10)              # running statistics included
    x = BATCHES[0][0]
    close(ours.eval()(tensor(x)), ref.eval()(torch.from_numpy(x)), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("kind", ["step", "cosine"])
def test_schedulers_match_torch(kind):
    ours, ref = cnn_pair()
    opt = optim.SGD([{"params": ours[0].parameters()}, {"params": ours[4].parameters(), "lr": 0.02}],
                    lr=0.1, momentum=0.9)
    ropt = torch.optim.SGD([{"params": ref[0].parameters()}, {"params": ref[4].parameters(), "lr": 0.02}],
                           lr=0.1, momentum=0.9)
    if kind == "step":
        s, rs = lr_scheduler.StepLR(opt, step_size=3, gamma=0.5), torch.optim.lr_scheduler.StepLR(ropt, 3, 0.5)
    else:
        s = lr_scheduler.CosineAnnealingLR(opt, T_max=6, eta_min=0.001)
        rs = torch.optim.lr_scheduler.CosineAnnealingLR(ropt, T_max=6, eta_min=0.001)
    lrs, rlrs = [], []
    for x, t in BATCHES:                                     # 20 epochs: past T_max, the cosine turns back up
        lrs.append(s.get_last_lr())
        rlrs.append(rs.get_last_lr())
        train_both(ours, ref, opt, ropt, steps=1)
        s.step()
        rs.step()
    np.testing.assert_allclose(lrs, rlrs, rtol=1e-12, atol=1e-15)
    assert_same_weights(ours, ref, rtol=1e-9)


def test_trajectory_from_torch_weights_loaded_into_a_default_model():
    """The plain route: torch's float64 weights loaded into a tinynet model made float64 with
    ``.double()`` (as torch's was), so training follows torch to round-off."""
    torch.manual_seed(1)
    ref = torch.nn.Sequential(torch.nn.Conv2d(2, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                              torch.nn.Flatten(), torch.nn.Linear(64, 5)).double()
    ours = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(64, 5)).double()
    ours.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})
    assert {p.dtype for p in ours.parameters()} == {np.dtype("float64")}
    opt = optim.Adam(ours.parameters(), lr=0.01, weight_decay=0.01)
    ropt = torch.optim.Adam(ref.parameters(), lr=0.01, weight_decay=0.01)
    for x, t in BATCHES:
        opt.zero_grad()
        F.cross_entropy(ours(tn.tensor(x)), tn.tensor(t)).backward()
        opt.step()
        ropt.zero_grad()
        TF.cross_entropy(ref(torch.from_numpy(x)), torch.from_numpy(t)).backward()
        ropt.step()
    assert_same_weights(ours, ref)


def test_init_gains_and_spreads_are_torchs():
    for nl, param in [("linear", None), ("sigmoid", None), ("tanh", None), ("relu", None), ("leaky_relu", None),
                      ("leaky_relu", 0.2), ("leaky_relu", math.sqrt(5)), ("selu", None), ("conv2d", None)]:
        assert nn.init.calculate_gain(nl, param) == pytest.approx(torch.nn.init.calculate_gain(nl, param), rel=1e-15)
    shape = (64, 32, 3, 3)
    torch.manual_seed(0)
    tn.manual_seed(0)
    for name, kwargs in [("kaiming_uniform_", {"a": math.sqrt(5)}), ("kaiming_normal_", {"mode": "fan_out"}),
                         ("xavier_uniform_", {"gain": 1.5}), ("xavier_normal_", {})]:
        ours = getattr(nn.init, name)(tn.zeros(shape), **kwargs)
        theirs = getattr(torch.nn.init, name)(torch.zeros(shape), **kwargs)
        assert host(ours).std() == pytest.approx(theirs.std().item(), rel=0.03), name
        if "uniform" in name:
            assert np.abs(host(ours)).max() == pytest.approx(theirs.abs().max().item(), rel=0.01), name


@pytest.mark.parametrize("kwargs", [dict(momentum=None), dict(track_running_stats=False), dict(affine=False)])
def test_batchnorm_options_match_torch(kwargs):
    rng = np.random.default_rng(2)
    ours, ref = nn.BatchNorm2d(3, **kwargs).double(), torch.nn.BatchNorm2d(3, **kwargs).double()
    assert list(ours.state_dict()) == list(ref.state_dict())
    for step in range(3):
        x = rng.standard_normal((4, 3, 2, 3)) + step
        close(ours(tensor(x)), ref(tt(x)), rtol=1e-10, atol=1e-12)
    for k, v in ref.state_dict().items():
        close(ours.state_dict()[k], v, what=k)
    x = rng.standard_normal((2, 3, 2, 2))
    close(ours.eval()(tensor(x)), ref.eval()(tt(x)), rtol=1e-10, atol=1e-12)
    ours1d, ref1d = nn.BatchNorm1d(3, **kwargs).double(), torch.nn.BatchNorm1d(3, **kwargs).double()
    for shape in ((5, 3), (4, 3, 6)):
        x = rng.standard_normal(shape)
        close(ours1d(tensor(x)), ref1d(tt(x)), rtol=1e-10, atol=1e-12)


def test_loading_float32_torch_weights_into_a_default_model():
    """The everyday route, float32 throughout: same outputs to float32 round-off, dtypes kept."""
    torch.manual_seed(3)
    ref = torch_model().eval()
    model = tiny_model().eval()
    model.load_state_dict({k: v.numpy() for k, v in ref.state_dict().items()})
    assert {p.dtype for p in model.parameters()} == {np.dtype("float32")}
    x = np.random.default_rng(3).standard_normal((4, 1, 10, 10)).astype(np.float32)
    with torch.no_grad():
        expected = ref(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(host(model(tn.tensor(x))), expected, rtol=1e-5, atol=1e-6)
