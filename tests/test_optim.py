"""tinynet.optim: SGD, Adam, AdamW and the schedulers against values computed by hand here;
parameter groups, skipping frozen or grad-less parameters, and resuming from a state dict.

(20-step trajectories against PyTorch are in test_torch_compare_nn.py.)
"""
import math

import numpy as np
import pytest

import tinynet as tn
import tinynet.functional as F
from tinynet import backend as B, nn, optim
from tinynet.optim import lr_scheduler
from strategies import host, tensor


def param(values):
    return nn.Parameter(tensor(np.asarray(values, dtype=np.float64)))


def set_grad(p, g):
    p.grad = B.to_backend(np.asarray(g, dtype=np.float64), p.backend)


# --- SGD by hand -----------------------------------------------------------------------------------
def test_sgd_plain_step(backend):
    p = param([1.0, 2.0])
    opt = optim.SGD([p], lr=0.1)
    set_grad(p, [0.5, -1.0])
    opt.step()
    np.testing.assert_allclose(host(p), [0.95, 2.1], rtol=1e-15)


def test_sgd_momentum_two_steps_by_hand(backend):
    p = param([1.0, -1.0])
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    g1, g2 = np.array([1.0, 2.0]), np.array([-0.5, 1.0])
    set_grad(p, g1)
    opt.step()                                   # b = g1 (first step: no damping, no decay of 0)
    np.testing.assert_allclose(host(p), [1 - 0.1, -1 - 0.2], rtol=1e-15)
    set_grad(p, g2)
    opt.step()                                   # b = 0.9·g1 + g2 = [0.4, 2.8]
    np.testing.assert_allclose(host(p), [0.9 - 0.04, -1.2 - 0.28], rtol=1e-14)
    np.testing.assert_allclose(host(opt.state[p]["momentum_buffer"]), [0.4, 2.8], rtol=1e-14)


def test_sgd_dampening_nesterov_and_weight_decay_by_hand():
    g1, g2 = np.array([1.0, 2.0]), np.array([-0.5, 1.0])
    # dampening 0.5: b1 = g1, b2 = 0.9·b1 + 0.5·g2
    p = param([0.0, 0.0])
    opt = optim.SGD([p], lr=1.0, momentum=0.9, dampening=0.5)
    for g in (g1, g2):
        set_grad(p, g)
        opt.step()
    np.testing.assert_allclose(host(p), -(g1 + (0.9 * g1 + 0.5 * g2)), rtol=1e-15)
    # nesterov: step with g + μ·b
    p = param([0.0, 0.0])
    opt = optim.SGD([p], lr=1.0, momentum=0.9, nesterov=True)
    set_grad(p, g1)
    opt.step()
    np.testing.assert_allclose(host(p), -(g1 + 0.9 * g1), rtol=1e-15)
    set_grad(p, g2)
    opt.step()
    b2 = 0.9 * g1 + g2
    np.testing.assert_allclose(host(p), -(g1 + 0.9 * g1) - (g2 + 0.9 * b2), rtol=1e-15)
    # weight decay: g ← g + λ·p
    p = param([2.0, -4.0])
    opt = optim.SGD([p], lr=0.1, weight_decay=0.5)
    set_grad(p, [0.0, 1.0])
    opt.step()
    np.testing.assert_allclose(host(p), [2 - 0.1 * 1.0, -4 - 0.1 * (1 - 2)], rtol=1e-15)


# --- Adam by hand ----------------------------------------------------------------------------------
def adam_reference(p, grads, lr, b1, b2, eps, wd=0.0, decoupled=False):
    """Adam/AdamW written out with explicit bias corrections m̂ = m/(1−β₁ᵗ), v̂ = v/(1−β₂ᵗ)."""
    p = np.array(p, dtype=np.float64)
    m = v = np.zeros_like(p)
    for t, g in enumerate(grads, start=1):
        g = np.asarray(g, dtype=np.float64)
        if decoupled:
            p = p * (1 - lr * wd)
        else:
            g = g + wd * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat, v_hat = m / (1 - b1 ** t), v / (1 - b2 ** t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
    return p


def test_adam_first_step_is_lr_times_sign(backend):
    """After one step m̂ = g and v̂ = g²: the update is lr·g/(|g| + ε), whatever the scale of g."""
    p = param([1.0, 1.0, 1.0])
    opt = optim.Adam([p], lr=0.01)
    set_grad(p, [1e-3, -50.0, 2.0])
    opt.step()
    g = np.array([1e-3, -50.0, 2.0])
    np.testing.assert_allclose(host(p), 1 - 0.01 * g / (np.abs(g) + 1e-8), rtol=1e-14)
    np.testing.assert_allclose(host(p)[1:], [1.01, 0.99], rtol=1e-9)
    assert opt.state[p]["step"] == 1


@pytest.mark.parametrize("cls, wd", [(optim.Adam, 0.0), (optim.Adam, 0.1), (optim.AdamW, 0.1)])
def test_adam_three_steps_with_bias_correction(backend, cls, wd):
    grads = [[0.5, -1.0], [0.3, 0.2], [-0.1, 0.4]]
    p = param([1.0, -2.0])
    opt = cls([p], lr=0.05, betas=(0.8, 0.9), eps=1e-6, weight_decay=wd)
    for g in grads:
        set_grad(p, g)
        opt.step()
    expected = adam_reference([1.0, -2.0], grads, 0.05, 0.8, 0.9, 1e-6, wd, decoupled=cls is optim.AdamW)
    np.testing.assert_allclose(host(p), expected, rtol=1e-14)


def test_adamw_default_weight_decay_is_pytorchs():
    assert optim.AdamW([param([1.0])]).param_groups[0]["weight_decay"] == 0.01
    assert optim.Adam([param([1.0])]).param_groups[0]["weight_decay"] == 0.0


# --- groups, skipping, zero_grad ---------------------------------------------------------------------
def test_parameter_groups_have_their_own_lr():
    a, b = param([1.0]), param([1.0])
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.01}], lr=0.1, momentum=0.5)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.01]
    assert opt.param_groups[1]["momentum"] == 0.5                      # defaults fill the rest
    set_grad(a, [1.0])
    set_grad(b, [1.0])
    opt.step()
    np.testing.assert_allclose([host(a)[0], host(b)[0]], [0.9, 0.99], rtol=1e-15)
    c = param([0.0])
    opt.add_param_group({"params": [c], "lr": 1.0})
    assert len(opt.param_groups) == 3


def test_bad_groups_and_settings_are_refused():
    a = param([1.0])
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.SGD([{"params": [a]}, {"params": [a]}], lr=0.1)
    with pytest.raises(ValueError, match="unknown setting"):
        optim.SGD([{"params": [a], "betas": (0.9, 0.99)}], lr=0.1)
    with pytest.raises(ValueError, match="Nesterov"):
        optim.SGD([a], lr=0.1, nesterov=True)
    with pytest.raises(ValueError):
        optim.SGD([a], lr=-1.0)
    with pytest.raises(ValueError):
        optim.Adam([a], betas=(0.9, 1.0))


def test_frozen_and_gradless_parameters_are_skipped(backend):
    tn.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    model[0].requires_grad_(False)
    unused = nn.Parameter(tn.ones(2))                                  # never gets a gradient
    before = {k: host(v).copy() for k, v in model.state_dict().items()}
    for opt in (optim.SGD(list(model.parameters()) + [unused], lr=0.1, momentum=0.9, weight_decay=0.1),
                optim.Adam(list(model.parameters()) + [unused], lr=0.1, weight_decay=0.1),
                optim.AdamW(list(model.parameters()) + [unused], lr=0.1)):
        opt.zero_grad()
        F.cross_entropy(model(tn.randn(5, 3)), [0, 1, 0, 1, 1]).backward()
        model[0].weight.grad = model[0].weight.data.copy()             # a stale grad on a frozen param
        opt.step()
        assert model[0].weight not in opt.state and unused not in opt.state
        np.testing.assert_array_equal(host(model[0].weight), before["0.weight"])
        np.testing.assert_array_equal(host(unused), [1, 1])
        assert not np.array_equal(host(model[2].weight), before["2.weight"])


def test_zero_grad():
    p = param([1.0, 2.0])
    opt = optim.SGD([p], lr=0.1)
    set_grad(p, [1.0, 1.0])
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(host(p.grad), [0, 0])
    opt.zero_grad()
    assert p.grad is None


def test_step_with_closure_returns_the_loss():
    p = param([3.0])
    opt = optim.SGD([p], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss
    assert opt.step(closure).item() == 9.0
    np.testing.assert_allclose(host(p), [1.5])


# --- resuming --------------------------------------------------------------------------------------
def _train(model, opt, batches):
    for x, t in batches:
        opt.zero_grad()
        F.cross_entropy(model(x), t).backward()
        opt.step()


def _setup(make_opt):
    tn.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 3)).double()
    return model, make_opt(model.parameters())


@pytest.mark.parametrize("make_opt", [
    lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3),
    lambda ps: optim.Adam(ps, lr=0.01, weight_decay=1e-3),
    lambda ps: optim.AdamW(ps, lr=0.01),
], ids=["SGD", "Adam", "AdamW"])
@pytest.mark.parametrize("via_file", [False, True], ids=["memory", "file"])
def test_resuming_gives_the_identical_trajectory(make_opt, via_file, tmp_path):
    rng = np.random.default_rng(0)
    batches = [(tensor(rng.standard_normal((5, 4)), requires_grad=False), rng.integers(0, 3, 5)) for _ in range(8)]
    model, opt = _setup(make_opt)
    _train(model, opt, batches)                                         # 8 steps straight through

    first, opt1 = _setup(make_opt)
    _train(first, opt1, batches[:4])
    checkpoint = {"model": first.state_dict(), "optimizer": opt1.state_dict(), "epoch": 4}
    if via_file:
        tn.save(checkpoint, tmp_path / "ckpt.npz")
        checkpoint = tn.load(tmp_path / "ckpt.npz")
    tn.manual_seed(99)                                                  # different initial weights
    resumed = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 3)).double()
    opt2 = make_opt(resumed.parameters())
    resumed.load_state_dict(checkpoint["model"])
    opt2.load_state_dict(checkpoint["optimizer"])
    assert checkpoint["epoch"] == 4
    _train(first, opt1, batches[4:])                                    # the original keeps going, and
    _train(resumed, opt2, batches[4:])                                  # must not share state with the copy
    for (k, v), v2, v1 in zip(model.state_dict().items(), resumed.state_dict().values(), first.state_dict().values()):
        np.testing.assert_array_equal(host(v2), host(v), err_msg=k)
        np.testing.assert_array_equal(host(v1), host(v), err_msg=k)


def test_optimizer_state_dict_layout_and_mismatch():
    a, b = param([1.0, 2.0]), param([3.0])
    opt = optim.Adam([{"params": [a]}, {"params": [b], "lr": 0.1}])
    set_grad(a, [1.0, 1.0])
    opt.step()
    sd = opt.state_dict()
    assert list(sd["state"]) == [0] and set(sd["state"][0]) == {"step", "exp_avg", "exp_avg_sq"}
    assert [g["params"] for g in sd["param_groups"]] == [[0], [1]]
    assert sd["param_groups"][1]["lr"] == 0.1 and sd["param_groups"][0]["betas"] == (0.9, 0.999)
    with pytest.raises(ValueError, match="parameter groups"):
        optim.Adam([a, b]).load_state_dict(sd)
    other = optim.Adam([{"params": [param([0.0])]}, {"params": [b]}])
    with pytest.raises(ValueError, match=r"shape \(2,\).*\(1,\)"):
        other.load_state_dict(sd)


def test_optimizer_state_moves_to_the_parameter_backend():
    p = param([1.0, 2.0])
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    set_grad(p, [1.0, 1.0])
    opt.step()
    q = nn.Parameter(tn.Tensor(B.to_backend(np.array([1.0, 2.0]), "fakecupy")))
    opt2 = optim.SGD([q], lr=0.1, momentum=0.9)
    opt2.load_state_dict(opt.state_dict())
    assert B.backend_name(opt2.state[q]["momentum_buffer"]) == "fakecupy"


# --- schedulers ------------------------------------------------------------------------------------
def test_step_lr_by_hand():
    opt = optim.SGD([{"params": [param([1.0])]}, {"params": [param([1.0])], "lr": 0.01}], lr=1.0)
    sched = lr_scheduler.StepLR(opt, step_size=3, gamma=0.5)
    lrs = []
    for _ in range(8):
        lrs.append(sched.get_last_lr())
        opt.step()
        sched.step()
    expected = [1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25]
    np.testing.assert_allclose([a for a, _ in lrs], expected, rtol=1e-15)
    np.testing.assert_allclose([b for _, b in lrs], np.array(expected) * 0.01, rtol=1e-15)


def test_cosine_annealing_by_hand():
    opt = optim.SGD([param([1.0])], lr=0.1)
    sched = lr_scheduler.CosineAnnealingLR(opt, T_max=4, eta_min=0.001)
    lrs = [opt.param_groups[0]["lr"]]
    for _ in range(4):
        sched.step()
        lrs.append(opt.param_groups[0]["lr"])
    expected = [0.001 + 0.099 * (1 + math.cos(math.pi * e / 4)) / 2 for e in range(5)]
    np.testing.assert_allclose(lrs, expected, rtol=1e-14)
    assert lrs[-1] == pytest.approx(0.001) and lrs[2] == pytest.approx(0.0505)


def test_scheduler_state_dict_resumes():
    opt = optim.SGD([param([1.0])], lr=0.1)
    sched = lr_scheduler.StepLR(opt, step_size=2, gamma=0.1)
    for _ in range(3):
        sched.step()
    opt2 = optim.SGD([param([1.0])], lr=0.1)
    sched2 = lr_scheduler.StepLR(opt2, step_size=2, gamma=0.1)
    sched2.load_state_dict(sched.state_dict())
    sched.step()
    sched2.step()
    assert sched2.get_last_lr() == sched.get_last_lr()
    assert sched.get_last_lr() == pytest.approx([0.001], rel=1e-12)


def test_optimizer_repr_lists_groups():
    text = repr(optim.SGD([param([1.0])], lr=0.5, momentum=0.9))
    assert "SGD (" in text and "Parameter Group 0" in text and "lr: 0.5" in text and "momentum: 0.9" in text


def test_scheduler_resumes_from_last_epoch_and_reports_get_lr():
    opt = optim.SGD([param([1.0])], lr=0.1)
    sched = lr_scheduler.CosineAnnealingLR(opt, T_max=10)
    for _ in range(4):
        sched.step()
    assert sched.get_lr() == sched.get_last_lr()
    opt2 = optim.SGD([param([1.0])], lr=0.1)
    opt2.load_state_dict(opt.state_dict())                  # carries initial_lr = 0.1
    sched2 = lr_scheduler.CosineAnnealingLR(opt2, T_max=10, last_epoch=3)
    assert sched2.last_epoch == 4 and sched2.get_last_lr() == pytest.approx(sched.get_last_lr(), rel=1e-15)
    with pytest.raises(KeyError, match="initial_lr"):
        lr_scheduler.StepLR(optim.SGD([param([1.0])], lr=0.1), step_size=2, last_epoch=3)
    with pytest.raises(ValueError, match="step_size"):
        lr_scheduler.StepLR(opt, step_size=0)


def test_optimizer_refuses_what_it_cannot_optimize():
    p = param([1.0])
    with pytest.raises(TypeError, match="iterable of Parameters"):
        optim.SGD(p, lr=0.1)                                 # forgot the list / .parameters()
    with pytest.raises(TypeError, match="only optimize Tensors"):
        optim.SGD([np.ones(2)], lr=0.1)
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([p * 2], lr=0.1)
