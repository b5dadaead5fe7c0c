"""Batch normalisation, composed from differentiable ops (so its backward is derived, not written)."""
from ..tensor import Tensor, no_grad
from . import elementwise as E, reduce as R


def _array(a):
    return a.data if isinstance(a, Tensor) else a


def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """y = (x - μ) / √(σ² + ε) · γ + β per channel, over the batch and spatial axes of x
    (N, C, H, W), or over the batch of x (N, C).  γ = ``weight`` (C,), β = ``bias`` (C,).

    Training: μ, σ² are the batch's (biased σ²). The running statistics (Tensors or arrays of
    shape (C,), updated in place; None to keep none) move towards them,
        running ← (1 - momentum)·running + momentum·batch,
    with the unbiased variance σ²·m/(m-1), m = N·H·W, as in PyTorch.
    Eval: the running statistics are used instead of the batch's.
    """
    if x.ndim < 2:
        raise ValueError(f"batch_norm: expected input of shape (N, C) or (N, C, H, W), got {x.shape}")
    C = x.shape[1]
    for name, a in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        if a is not None and tuple(a.shape) != (C,):
            raise ValueError(f"batch_norm: {name} must have shape ({C},) for input {x.shape}, got {tuple(a.shape)}")
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, C) + (1,) * (x.ndim - 2)
    m = x.numel() // C
    if training:
        if m < 2:
            raise ValueError(f"batch_norm: expected more than 1 value per channel when training, "
                             f"got input of shape {x.shape}")
        mu = R.mean(x, axis=axes, keepdims=True)
        d = E.sub(x, mu)
        var = R.mean(E.mul(d, d), axis=axes, keepdims=True)
        with no_grad():
            if running_mean is not None:
                rm = _array(running_mean)
                rm *= 1 - momentum
                rm += momentum * mu.data.reshape(-1)
            if running_var is not None:
                rv = _array(running_var)
                rv *= 1 - momentum
                rv += momentum * var.data.reshape(-1) * (m / (m - 1))
        y = E.div(d, E.sqrt(E.add(var, eps)))
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm: running_mean and running_var are needed when not training")
        rm, rv = _array(running_mean), _array(running_var)
        y = E.div(E.sub(x, rm.reshape(shape).astype(x.dtype)), ((rv + eps) ** 0.5).reshape(shape).astype(x.dtype))
    if weight is not None:
        y = E.mul(y, weight.reshape(shape))
    if bias is not None:
        y = E.add(y, bias.reshape(shape))
    return y
