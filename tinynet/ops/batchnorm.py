"""Batch normalisation, composed from differentiable ops (so its backward is derived, not written)."""
from ..tensor import no_grad
from . import elementwise as E, reduce as R


def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """y = (x - μ) / √(σ² + ε) · γ + β over the batch and spatial axes of x (N, C, H, W) or (N, C).

    Training: μ, σ² are the batch's (biased σ²); the running statistics (arrays, updated in
    place) move towards them, running ← (1 - momentum)·running + momentum·batch, with the
    unbiased variance, as in PyTorch. Eval: the running statistics are used instead.
    """
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    if training:
        mu = R.mean(x, axis=axes, keepdims=True)
        d = E.sub(x, mu)
        var = R.mean(E.mul(d, d), axis=axes, keepdims=True)
        m = x.size // x.shape[1]
        with no_grad():
            running_mean *= 1 - momentum
            running_mean += momentum * mu.data.reshape(-1)
            running_var *= 1 - momentum
            running_var += momentum * var.data.reshape(-1) * (m / max(m - 1, 1))
    else:
        d = E.sub(x, running_mean.reshape(shape))
        var = running_var.reshape(shape)
    y = E.div(d, E.sqrt(E.add(var, eps)) if training else (var + eps) ** 0.5)
    if weight is not None:
        y = E.mul(y, weight.reshape(shape))
    if bias is not None:
        y = E.add(y, bias.reshape(shape))
    return y
