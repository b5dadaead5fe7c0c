"""Losses: softmax cross-entropy (fused), negative log-likelihood, mean squared error.

``reduction`` is ``"mean"`` (default, over the batch), ``"sum"`` or ``"none"``, as in PyTorch.
"""
from .. import backend
from ..tensor import Function, Tensor
from .activation import _log_softmax
from . import elementwise, reduce


def _check_targets(logits, target, name):
    if logits.ndim != 2:
        raise ValueError(f"{name}: expected input of shape (N, C) = (batch, classes), got {tuple(logits.shape)}")
    if target.ndim != 1 or target.shape[0] != logits.shape[0]:
        raise ValueError(f"{name}: expected target of shape ({logits.shape[0]},) (one class index per "
                         f"row of the input {tuple(logits.shape)}), got {tuple(target.shape)}")
    if target.dtype.kind not in "iu":
        raise TypeError(f"{name}: target must hold integer class indices, got dtype {target.dtype}")
    n_classes = logits.shape[1]
    if target.size:          # one copy to the host for both bounds (a GPU would wrap a bad index silently)
        xp = backend.array_module(target)
        lo, hi = backend.to_numpy(xp.stack([target.min(), target.max()])).tolist()
        if lo < 0 or hi >= n_classes:
            raise IndexError(f"{name}: target holds class {hi if hi >= n_classes else lo}"
                             f", outside 0..{n_classes - 1} for input with {n_classes} classes")


def _check_reduction(reduction):
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _reduce(per_sample, reduction):
    if reduction == "mean":
        return per_sample.mean()
    if reduction == "sum":
        return per_sample.sum()
    return per_sample


class CrossEntropy(Function):
    """Softmax cross-entropy with integer targets, fused and stable.

    logits z (N, C), target t (N,) in 0..C-1, smoothing ε:
        q = (1-ε)·onehot(t) + ε/C,   ℓₙ = -Σ_c q_c · log softmax(zₙ)_c  (log-sum-exp, never overflows)
        loss = mean ℓₙ  (or sum, or the vector ℓ).
    dℓₙ/dzₙ = softmax(zₙ) - qₙ;  with the mean, each row's gradient is divided by N.
    """
    def __init__(self, target, label_smoothing, reduction):
        self.target, self.eps, self.reduction = target, label_smoothing, reduction

    def forward(self, z):
        xp = backend.array_module(z)
        n, c = z.shape
        logp = _log_softmax(z, axis=1)
        self.logp = logp
        loss = -logp[xp.arange(n), self.target]
        if self.eps:
            loss = (1 - self.eps) * loss - self.eps * logp.mean(axis=1)
        return _reduce(loss, self.reduction)

    def backward(self, gy):
        xp = backend.array_module(gy)
        n, c = self.logp.shape
        g = xp.exp(self.logp)                      # softmax
        g[xp.arange(n), self.target] -= 1 - self.eps
        if self.eps:
            g -= self.eps / c
        if self.reduction == "mean":
            return g * (gy / n)
        if self.reduction == "sum":
            return g * gy
        return g * gy[:, None]


def _as_tensor(x):
    return x if isinstance(x, Tensor) else Tensor(x)


def _target_array(target, like):
    """Class indices as an array on the backend of ``like`` (from a Tensor, an array or a list)."""
    t = target.data if isinstance(target, Tensor) else target
    if not backend.is_array(t):
        t = backend.get_module("numpy").asarray(t)
    return backend.to_backend(t, backend.backend_name(like))


def cross_entropy(input, target, reduction="mean", label_smoothing=0.0):
    """Softmax cross-entropy of logits ``input`` (N, C) against class indices ``target`` (N,)."""
    input = _as_tensor(input)
    t = _target_array(target, input.data)
    _check_targets(input.data, t, "cross_entropy")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    _check_reduction(reduction)
    return CrossEntropy(t, float(label_smoothing), reduction)(input)


class NLLLoss(Function):
    """Negative log-likelihood of log-probabilities x (N, C): ℓₙ = -x[n, tₙ].  dℓₙ/dx[n, tₙ] = -1."""
    def __init__(self, target, reduction):
        self.target, self.reduction = target, reduction

    def forward(self, x):
        xp = backend.array_module(x)
        self.shape = x.shape
        return _reduce(-x[xp.arange(x.shape[0]), self.target], self.reduction)

    def backward(self, gy):
        xp = backend.array_module(gy)
        n = self.shape[0]
        g = xp.zeros(self.shape, dtype=gy.dtype)
        scale = {"mean": gy / n, "sum": gy}.get(self.reduction, gy)
        g[xp.arange(n), self.target] = -scale
        return g


def nll_loss(input, target, reduction="mean"):
    """``input`` holds log-probabilities (N, C), e.g. from ``log_softmax``; ``target`` (N,)."""
    input = _as_tensor(input)
    t = _target_array(target, input.data)
    _check_targets(input.data, t, "nll_loss")
    _check_reduction(reduction)
    return NLLLoss(t, reduction)(input)


def mse_loss(input, target, reduction="mean"):
    """mean((input - target)²), built from differentiable ops (gradients flow to both)."""
    if isinstance(target, Tensor) and target.shape != input.shape or \
            not isinstance(target, Tensor) and hasattr(target, "shape") and tuple(target.shape) != input.shape:
        raise ValueError(f"mse_loss: input shape {input.shape} and target shape {tuple(target.shape)} differ")
    _check_reduction(reduction)
    d = elementwise.sub(input, target)
    sq = elementwise.mul(d, d)
    if reduction == "mean":
        return reduce.mean(sq)
    if reduction == "sum":
        return reduce.sum(sq)
    return sq
