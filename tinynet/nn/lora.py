"""LoRA: fine-tune a frozen layer through a trainable low-rank update (Hu et al. 2021).

A pre-trained weight W (out, in) stays frozen; the layer learns ΔW = (alpha / r) · B A of rank
at most r, with A (r, in) and B (out, r), so it trains r·(in + out) numbers instead of out·in:

    y = x Wᵀ + b + (alpha / r) · (x Aᵀ) Bᵀ

A starts Kaiming-uniform (as PyTorch's ``nn.Linear`` and peft's LoRA: U(-1/√in, 1/√in)) and B
starts at zero, so at the start ΔW = 0 and the wrapped layer gives *exactly* the outputs of the
layer it wraps. ``merge()`` folds ΔW into W and returns a plain layer for deployment.

The update is computed as two thin products, x Aᵀ (N, r) then (…) Bᵀ (N, out): N·r·(in + out)
multiply-adds instead of out·in for forming W + BA, and the backward pass needs only the small
dA and dB (plus dx), never an out×in weight gradient.

state_dict keys of a wrapped layer registered as ``"3"``: ``3.base.weight``, ``3.base.bias``
(the frozen pre-trained layer), ``3.lora_A``, ``3.lora_B``. Load a plain checkpoint *before*
wrapping (its keys are ``3.weight``), or load a LoRA checkpoint into a model wrapped the same way.
"""
from .. import backend, functional as F
from . import init
from .layers import Conv2d, Linear
from .module import Module, Parameter

__all__ = ["LoRALinear", "LoRAConv2d"]


def _check(base, kind, rank, alpha):
    if not isinstance(base, kind):
        raise TypeError(f"LoRA{kind.__name__} wraps an nn.{kind.__name__}, got {type(base).__name__}")
    if not isinstance(rank, int) or rank < 1:
        raise ValueError(f"LoRA{kind.__name__}: rank must be a positive int, got {rank!r}")
    alpha = rank if alpha is None else alpha
    if alpha <= 0:
        raise ValueError(f"LoRA{kind.__name__}: alpha must be > 0, got {alpha!r}")
    return alpha


def _lora_params(base, rank, fan_in, out):
    """A (rank, fan_in) ~ U(-1/√fan_in, 1/√fan_in) and B (out, rank) = 0, on base's backend and dtype."""
    w = base.weight.data
    a = init.kaiming_uniform((rank, fan_in), fan_in, dtype=w.dtype)
    b = backend.array_module(w).zeros((out, rank), dtype=w.dtype)
    return Parameter(backend.to_backend(a, backend.backend_name(w))), Parameter(b)


class _LoRA(Module):
    """What both LoRA layers share: freezing the base, the scaling, counting, merging."""

    def __init__(self, base, rank, alpha):
        super().__init__()
        self.rank, self.alpha = rank, alpha
        self.scaling = alpha / rank
        base.freeze()
        self.base = base

    def delta_weight(self):
        """ΔW = (alpha / r) · B A, shaped like ``base.weight`` (a new array; for merging and tests)."""
        d = self.scaling * (self.lora_B.data @ self.lora_A.data)
        return d.reshape(self.base.weight.shape).astype(self.base.weight.dtype)

    def num_lora_parameters(self):
        return self.lora_A.numel() + self.lora_B.numel()

    def merge(self):
        """The base layer with W ← W + (alpha / r)·B A folded in: a plain, trainable layer
        computing the same function (up to round-off). This wrapper's base is changed in place."""
        base = self.base
        base.weight.data += self.delta_weight()
        base.unfreeze()
        object.__setattr__(base, "_name", self._name)
        return base

    def extra_repr(self):
        return f"rank={self.rank}, alpha={self.alpha}"


class LoRALinear(_LoRA):
    """``LoRALinear(base: nn.Linear, rank, alpha=rank)``: y = base(x) + (alpha/r)·(x Aᵀ) Bᵀ.

    x (…, in) → (…, out).  ``lora_A`` (rank, in), ``lora_B`` (out, rank); the base is frozen.
    """

    def __init__(self, base, rank=4, alpha=None):
        alpha = _check(base, Linear, rank, alpha)
        super().__init__(base, rank, alpha)
        self.in_features, self.out_features = base.in_features, base.out_features
        self.lora_A, self.lora_B = _lora_params(base, rank, base.in_features, base.out_features)

    def forward(self, x):
        h = F.linear(x, self.lora_A) * self.scaling          # (…, r): scale the thin tensor
        return self.base(x) + F.linear(h, self.lora_B)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, " + super().extra_repr()


class LoRAConv2d(_LoRA):
    """``LoRAConv2d(base: nn.Conv2d, rank, alpha=rank)``: the kernel becomes W + (alpha/r)·B A.

    Shapes (glossary in ``tinynet.im2col``): W (OC, C, KH, KW); ``lora_A`` (rank, C·KH·KW),
    ``lora_B`` (OC, rank); ΔW = (alpha/r)·(B A).reshape(OC, C, KH, KW). x (N, C, H, W) → (N, OC, OH, OW).

    Computed with one convolution by the merged kernel, rebuilt from A and B at every call:
        y = conv2d(x, W + (alpha/r)·(B A).reshape(OC, C, KH, KW), b, stride, padding)
    Backward: the conv gives dW' (OC, C·KH·KW); then dB = (alpha/r)·dW' Aᵀ and dA = (alpha/r)·Bᵀ dW'
    (W itself is frozen and gets no gradient). The alternative, two thin convolutions
    base(x) + (alpha/r)·conv1x1(conv(x, A), B), has fewer multiply-adds when r is small, but in an
    im2col engine a convolution's cost is mostly the im2col copy and, in backward, the col2im
    scatter, and two convolutions do both twice. Measured on the cnn's layers (batch 64, rank 4,
    benchmarks/bench_lora_conv.py) the merged kernel took 0.5–0.8× the time of two convolutions.
    """

    def __init__(self, base, rank=4, alpha=None):
        alpha = _check(base, Conv2d, rank, alpha)
        super().__init__(base, rank, alpha)
        self.in_channels, self.out_channels = base.in_channels, base.out_channels
        KH, KW = base.kernel_size
        self.lora_A, self.lora_B = _lora_params(base, rank, base.in_channels * KH * KW, base.out_channels)

    def forward(self, x):
        base = self.base
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise self._shape_error(f"of shape (N, {self.in_channels}, H, W)", x)
        delta = (self.lora_B @ self.lora_A) * self.scaling                 # (OC, C·KH·KW)
        weight = base.weight + delta.reshape(base.weight.shape)           # a non-leaf: W stays frozen
        return F.conv2d(x, weight, base.bias, base.stride, base.padding)

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.base.kernel_size}, "
                + super().extra_repr())
