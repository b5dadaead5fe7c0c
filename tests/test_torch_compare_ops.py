"""PyTorch as an oracle: every op's forward value and input gradients against torch's, in float64.

Random inputs (two seeds per case), a random upstream gradient, and agreement to ~1e-10.
Runs on every backend (the ``backend`` fixture); skipped when torch is not installed.
"""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as TF  # noqa: E402

import tinynet as tn  # noqa: E402
import tinynet.functional as F  # noqa: E402
from strategies import host, tensor  # noqa: E402

RTOL, ATOL = 1e-10, 1e-12


def R(*shape):
    return ("normal", shape)


def P(*shape):
    """Positive values (log, sqrt, fractional powers)."""
    return ("positive", shape)


def A(*shape):
    """Values away from zero (abs, relu, division)."""
    return ("away", shape)


def D(*shape):
    """Distinct values (max, max pooling)."""
    return ("distinct", shape)


def _draw(kind, shape, rng):
    if kind == "normal":
        return rng.normal(size=shape)
    if kind == "positive":
        return rng.uniform(0.2, 3.0, size=shape)
    if kind == "away":
        a = rng.uniform(0.2, 2.0, size=shape)
        return a * rng.choice([-1.0, 1.0], size=shape)
    n = int(np.prod(shape))
    return (rng.permutation(n) * 0.31 - 1.0 + rng.uniform(0, 0.1)).reshape(shape)


I3 = np.array([2, 0, 2, 1])                   # repeated indices
T3 = np.array([2, 0, 3])                      # class targets for 3 rows, 4 classes
MASK = np.array([[True, False, True, True], [False, False, True, False], [True, True, False, True]])

# name: (tinynet fn, torch fn, inputs)
CASES = {
    "add": (lambda x, y: x + y, lambda x, y: x + y, [R(2, 3, 4), R(3, 1)]),
    "sub": (lambda x, y: x - y, lambda x, y: x - y, [R(3, 1), R(2, 3, 4)]),
    "mul": (lambda x, y: x * y, lambda x, y: x * y, [R(2, 3, 4), R(1, 4)]),
    "div": (lambda x, y: x / y, lambda x, y: x / y, [R(2, 3, 4), A(3, 1)]),
    "neg": (lambda x: -x, lambda x: -x, [R(2, 3)]),
    "radd": (lambda x: 1.5 + x, lambda x: 1.5 + x, [R(2, 3)]),
    "rsub": (lambda x: 1.5 - x, lambda x: 1.5 - x, [R(2, 3)]),
    "rmul": (lambda x: 2.5 * x, lambda x: 2.5 * x, [R(2, 3)]),
    "rdiv": (lambda x: 2.5 / x, lambda x: 2.5 / x, [A(2, 3)]),
    "pow2": (lambda x: x ** 2, lambda x: x ** 2, [R(2, 3)]),
    "pow3": (lambda x: x ** 3, lambda x: x ** 3, [R(2, 3)]),
    "pow-1.5": (lambda x: x ** -1.5, lambda x: x ** -1.5, [P(2, 3)]),
    "pow0.5": (lambda x: x ** 0.5, lambda x: x ** 0.5, [P(2, 3)]),
    "exp": (lambda x: x.exp(), torch.exp, [R(2, 3)]),
    "log": (lambda x: x.log(), torch.log, [P(2, 3)]),
    "sqrt": (lambda x: x.sqrt(), torch.sqrt, [P(2, 3)]),
    "abs": (lambda x: x.abs(), torch.abs, [A(2, 3)]),
    "matmul": (lambda x, y: x @ y, lambda x, y: x @ y, [R(2, 3), R(3, 4)]),
    "matmul-batched": (lambda x, y: x @ y, lambda x, y: x @ y, [R(2, 3, 4), R(2, 4, 5)]),
    "matmul-broadcast": (lambda x, y: tn.matmul(x, y), torch.matmul, [R(2, 1, 3, 4), R(3, 4, 2)]),
    "matmul-1d-left": (lambda x, y: x @ y, lambda x, y: x @ y, [R(3), R(2, 3, 4)]),
    "matmul-1d-right": (lambda x, y: x @ y, lambda x, y: x @ y, [R(2, 5, 3), R(3)]),
    "matmul-1d-both": (lambda x, y: x @ y, lambda x, y: x @ y, [R(3), R(3)]),
    "sum": (lambda x: x.sum(), lambda x: x.sum(), [R(2, 3, 4)]),
    "sum-axis": (lambda x: x.sum(axis=1), lambda x: x.sum(dim=1), [R(2, 3, 4)]),
    "sum-tuple-keep": (lambda x: x.sum(axis=(0, 2), keepdims=True), lambda x: x.sum(dim=(0, 2), keepdim=True),
                       [R(2, 3, 4)]),
    "mean": (lambda x: x.mean(), lambda x: x.mean(), [R(2, 3, 4)]),
    "mean-axis-neg": (lambda x: x.mean(axis=-1), lambda x: x.mean(dim=-1), [R(2, 3, 4)]),
    "mean-tuple": (lambda x: tn.mean(x, (0, 1)), lambda x: x.mean(dim=(0, 1)), [R(2, 3, 4)]),
    "max": (lambda x: x.max(), lambda x: x.max(), [D(2, 3, 4)]),
    "max-axis": (lambda x: x.max(axis=1), lambda x: x.max(dim=1).values, [D(2, 3, 4)]),
    "max-axis-keep": (lambda x: x.max(axis=0, keepdims=True), lambda x: x.max(dim=0, keepdim=True).values,
                      [D(3, 4)]),
    "max-tuple": (lambda x: tn.max(x, (0, 2)), lambda x: torch.amax(x, dim=(0, 2)), [D(2, 3, 4)]),
    "reshape": (lambda x: x.reshape(4, -1), lambda x: x.reshape(4, -1), [R(2, 3, 4)]),
    "transpose": (lambda x: x.transpose(0, 2), lambda x: x.transpose(0, 2), [R(2, 3, 4)]),
    "permute": (lambda x: x.permute(2, 0, 1), lambda x: x.permute(2, 0, 1), [R(2, 3, 4)]),
    "T": (lambda x: x.T, lambda x: x.T, [R(2, 3)]),
    "flatten": (lambda x: x.flatten(1), lambda x: x.flatten(1), [R(2, 3, 4)]),
    "index-slices": (lambda x: x[1:, ::-2], lambda x: x.flip(1)[1:, ::2], [R(3, 5)]),
    "index-repeats": (lambda x: x[I3], lambda x: x[torch.as_tensor(I3)], [R(3, 5)]),
    "index-pairs": (lambda x: x[I3, I3 + 1], lambda x: x[torch.as_tensor(I3), torch.as_tensor(I3 + 1)], [R(3, 5)]),
    "index-mask": (lambda x: x[MASK], lambda x: x[torch.as_tensor(MASK)], [R(3, 4)]),
    "concatenate": (lambda x, y: tn.concatenate([x, y], axis=1), lambda x, y: torch.cat([x, y], dim=1),
                    [R(2, 3), R(2, 5)]),
    "stack": (lambda x, y: tn.stack([x, y], axis=1), lambda x, y: torch.stack([x, y], dim=1), [R(2, 3), R(2, 3)]),
    "relu": (lambda x: x.relu(), torch.relu, [A(3, 4)]),
    "sigmoid": (lambda x: x.sigmoid(), torch.sigmoid, [R(3, 4)]),
    "tanh": (lambda x: x.tanh(), torch.tanh, [R(3, 4)]),
    "softmax": (lambda x: F.softmax(x, axis=1), lambda x: torch.softmax(x, dim=1), [R(3, 4)]),
    "softmax-0": (lambda x: x.softmax(0), lambda x: torch.softmax(x, dim=0), [R(3, 4, 2)]),
    "log_softmax": (lambda x: F.log_softmax(x), lambda x: torch.log_softmax(x, dim=-1), [R(3, 4)]),
    "log_softmax-1": (lambda x: x.log_softmax(1), lambda x: torch.log_softmax(x, dim=1), [R(2, 3, 4)]),
    "linear": (F.linear, TF.linear, [R(4, 3), R(5, 3), R(5)]),
    "conv2d": (lambda x, w, b: F.conv2d(x, w, b, stride=(2, 1), padding=1),
               lambda x, w, b: TF.conv2d(x, w, b, stride=(2, 1), padding=1), [R(2, 2, 5, 4), R(3, 2, 3, 2), R(3)]),
    "conv2d-same-bigK": (lambda x, w, b: F.conv2d(x, w, b, padding=1), lambda x, w, b: TF.conv2d(x, w, b, padding=1),
                         [R(2, 4, 5, 6), R(3, 4, 3, 3), R(3)]),
    "conv2d-same-smallK": (lambda x, w: F.conv2d(x, w, padding=1), lambda x, w: TF.conv2d(x, w, padding=1),
                           [R(2, 1, 5, 6), R(2, 1, 3, 3)]),
    "conv2d-valid": (lambda x, w: F.conv2d(x, w), lambda x, w: TF.conv2d(x, w), [R(2, 3, 5, 4), R(2, 3, 2, 3)]),
    "max_pool2d": (lambda x: F.max_pool2d(x, 2), lambda x: TF.max_pool2d(x, 2), [D(2, 2, 4, 6)]),
    "max_pool2d-overlap": (lambda x: F.max_pool2d(x, 3, stride=1, padding=1),
                           lambda x: TF.max_pool2d(x, 3, stride=1, padding=1), [D(1, 2, 4, 5)]),
    "avg_pool2d": (lambda x: F.avg_pool2d(x, 2, stride=1), lambda x: TF.avg_pool2d(x, 2, stride=1), [R(2, 2, 4, 5)]),
    "cross_entropy": (lambda z: F.cross_entropy(z, T3), lambda z: TF.cross_entropy(z, torch.as_tensor(T3)),
                      [R(3, 4)]),
    "cross_entropy-smooth-sum": (
        lambda z: F.cross_entropy(z, T3, reduction="sum", label_smoothing=0.2),
        lambda z: TF.cross_entropy(z, torch.as_tensor(T3), reduction="sum", label_smoothing=0.2), [R(3, 4)]),
    "nll_loss": (lambda z: F.nll_loss(z, T3), lambda z: TF.nll_loss(z, torch.as_tensor(T3)), [R(3, 4)]),
    "mse_loss": (F.mse_loss, TF.mse_loss, [R(3, 4), R(3, 4)]),
}


def _inputs(specs, seed):
    rng = np.random.default_rng(seed)
    return [_draw(kind, shape, rng) for kind, shape in specs]


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("name", list(CASES))
def test_forward_and_gradients_match_torch(backend, name, seed):
    ours, theirs, specs = CASES[name]
    arrays = _inputs(specs, seed * 1000 + sum(map(ord, name)))
    xs = [tensor(a) for a in arrays]
    ts = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    y, ty = ours(*xs), theirs(*ts)
    assert y.shape == tuple(ty.shape), name
    assert y.dtype == "float64"
    np.testing.assert_allclose(host(y), ty.detach().numpy(), rtol=RTOL, atol=ATOL, err_msg=f"{name}: forward")
    g = np.random.default_rng(seed + 99).normal(size=tuple(ty.shape))
    y.backward(tensor(g, requires_grad=False))
    ty.backward(torch.tensor(g))
    for i, (x, t) in enumerate(zip(xs, ts)):
        np.testing.assert_allclose(host(x.grad), t.grad.numpy(), rtol=RTOL, atol=ATOL,
                                   err_msg=f"{name}: gradient of input {i}")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_large_logit_stability_matches_torch(backend, dtype):
    z = np.array([[1e4, 0.0, -1e4, 5.0], [-1e4, -1e4, -1e4 + 3, -1e4 + 1]])
    tdt = getattr(torch, dtype)
    tol = dict(rtol=1e-6, atol=1e-6) if dtype == "float32" else dict(rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(host(tensor(z, dtype=dtype).softmax()),
                               torch.softmax(torch.tensor(z, dtype=tdt), -1).numpy(), **tol)
    np.testing.assert_allclose(host(tensor(z, dtype=dtype).log_softmax()),
                               torch.log_softmax(torch.tensor(z, dtype=tdt), -1).numpy(), **tol)
    x = np.array([-1000.0, -30.0, 0.0, 30.0, 1000.0])
    np.testing.assert_allclose(host(tensor(x, dtype=dtype).sigmoid()),
                               torch.sigmoid(torch.tensor(x, dtype=tdt)).numpy(), **tol)
    np.testing.assert_allclose(host(tensor(x, dtype=dtype).tanh()),
                               torch.tanh(torch.tensor(x, dtype=tdt)).numpy(), **tol)
