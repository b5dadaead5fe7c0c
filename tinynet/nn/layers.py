"""Layers: thin Modules over ``tinynet.functional`` that own their weights and check shapes."""
import math

from .. import functional as F
from . import init
from .module import Module, Parameter

__all__ = ["Linear", "Conv2d", "MaxPool2d", "AvgPool2d", "ReLU", "Sigmoid", "Tanh", "Dropout",
           "Flatten", "Identity", "BatchNorm1d", "BatchNorm2d", "LayerNorm"]


def _pair(v):
    return (v, v) if hasattr(v, "__index__") else tuple(v)


def _check_sizes(layer, minimum=1, **sizes):
    """Each size a whole number (or pair of them) at least ``minimum``, else TypeError/ValueError
    naming the layer and the argument: ``Linear(-1, 3)`` fails here, not in some later product."""
    for name, value in sizes.items():
        values = value if isinstance(value, (tuple, list)) else (value,)
        if not values or not all(hasattr(v, "__index__") and not isinstance(v, bool) for v in values):
            raise TypeError(f"{layer}: {name} must be a whole number, got {value!r}")
        if min(values) < minimum:
            raise ValueError(f"{layer}: {name} must be at least {minimum}, got {value!r}")


class Linear(Module):
    """y = x Wᵀ + b,  W (out_features, in_features), b (out_features,); x (…, in) → (…, out)."""

    def __init__(self, in_features, out_features, bias=True):
        _check_sizes("Linear", in_features=in_features, out_features=out_features)
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        bound = 1 / math.sqrt(in_features)
        self.weight = Parameter(init.kaiming_uniform((out_features, in_features), in_features))
        self.bias = Parameter(init.uniform((out_features,), bound)) if bias else None

    def forward(self, x):
        if x.ndim < 1 or x.shape[-1] != self.in_features:
            got = x.shape[-1] if x.ndim else 0
            hint = (f"The layer before gives {got} features per sample; make this layer "
                    f"Linear({got}, {self.out_features}) or fix the layers before it")
            if x.ndim >= 3:                   # images, or feature maps, fed to a Linear: flatten them
                flat = math.prod(x.shape[1:])
                hint = (f"It looks like images or feature maps: put nn.Flatten() before this layer, which makes "
                        f"{tuple(x.shape)} into ({x.shape[0]}, {flat})"
                        + ("" if flat == self.in_features else f", and make this layer Linear({flat}, "
                                                                 f"{self.out_features})"))
            raise self._shape_error(f"with {self.in_features} features in its last dimension", x, hint)
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Conv2d(Module):
    """2-D convolution (cross-correlation). weight (out_channels, in_channels, KH, KW), bias (out,).

    x (N, in_channels, H, W) → (N, out_channels, OH, OW), OH = (H + 2·PH - KH) // SH + 1.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True):
        _check_sizes("Conv2d", in_channels=in_channels, out_channels=out_channels, kernel_size=kernel_size,
                     stride=stride)
        _check_sizes("Conv2d", minimum=0, padding=padding)
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding = _pair(kernel_size), _pair(stride), _pair(padding)
        fan_in = in_channels * self.kernel_size[0] * self.kernel_size[1]
        self.weight = Parameter(init.kaiming_uniform((out_channels, in_channels) + self.kernel_size, fan_in))
        self.bias = Parameter(init.uniform((out_channels,), 1 / math.sqrt(fan_in))) if bias else None

    def forward(self, x):
        if x.ndim != 4:
            hint = "Give images a channel axis: (N, H, W) → x.reshape(N, 1, H, W)" if x.ndim == 3 else ""
            raise self._shape_error(f"of shape (N, {self.in_channels}, H, W)", x, hint)
        if x.shape[1] != self.in_channels:
            got = x.shape[1]
            hint = (f"The input has {got} channels, this layer expects {self.in_channels}; make this layer "
                    f"Conv2d({got}, {self.out_channels}, ...) or fix the layers before it")
            raise self._shape_error(f"of shape (N, {self.in_channels}, H, W)", x, hint)
        (KH, KW), (PH, PW) = self.kernel_size, self.padding
        if x.shape[2] + 2 * PH < KH or x.shape[3] + 2 * PW < KW:
            raise self._shape_error(f"at least {KH - 2 * PH}x{KW - 2 * PW} pixels", x,
                                    "The image has become smaller than the kernel")
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding)

    def extra_repr(self):
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        return s + (f", padding={self.padding}" if self.padding != (0, 0) else "") + \
            ("" if self.bias is not None else ", bias=False")


class _Pool(Module):
    def __init__(self, kernel_size, stride=None, padding=0):
        layer = type(self).__name__
        _check_sizes(layer, kernel_size=kernel_size, **({} if stride is None else {"stride": stride}))
        _check_sizes(layer, minimum=0, padding=padding)
        if any(2 * p > k for p, k in zip(_pair(padding), _pair(kernel_size))):
            raise ValueError(f"{layer}: padding must be at most half of kernel_size, got padding={padding!r} "
                             f"and kernel_size={kernel_size!r}")
        super().__init__()
        self.kernel_size, self.padding = kernel_size, padding
        self.stride = kernel_size if stride is None else stride

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"

    def _check(self, x):
        if x.ndim != 4:
            raise self._shape_error("of shape (N, C, H, W)", x)
        (KH, KW), (PH, PW) = _pair(self.kernel_size), _pair(self.padding)
        if x.shape[2] + 2 * PH < KH or x.shape[3] + 2 * PW < KW:
            raise self._shape_error(f"at least {KH - 2 * PH}x{KW - 2 * PW} pixels", x,
                                    "The image has become smaller than the pooling window")


class MaxPool2d(_Pool):
    """Max over kernel_size windows (stride defaults to kernel_size)."""

    def forward(self, x):
        self._check(x)
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding)


class AvgPool2d(_Pool):
    """Mean over kernel_size windows (stride defaults to kernel_size)."""

    def forward(self, x):
        self._check(x)
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding)


class ReLU(Module):
    def forward(self, x):
        return F.relu(x)


class Sigmoid(Module):
    def forward(self, x):
        return F.sigmoid(x)


class Tanh(Module):
    def forward(self, x):
        return F.tanh(x)


class Identity(Module):
    def forward(self, x):
        return x


class Dropout(Module):
    """Inverted dropout with probability p in training mode; the identity in eval mode."""

    def __init__(self, p=0.5):
        super().__init__()
        if not 0 <= p <= 1:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p

    def forward(self, x):
        return F.dropout(x, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}"


class Flatten(Module):
    """(N, d1, d2, …) → (N, d1·d2·…): keeps the batch axis (``start_dim=1``), as PyTorch."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        return F.flatten(x, self.start_dim, self.end_dim)


class _BatchNorm(Module):
    """Per-channel normalisation over every axis but the channel axis 1, then y = γ·x̂ + β.

    Training mode uses the batch's statistics and updates ``running_mean`` / ``running_var``
    (running ← (1 − momentum)·running + momentum·batch, unbiased variance; ``momentum=None``
    gives the plain average of all batches so far); eval mode uses the running statistics.
    """
    _dims = ()   # the accepted input ranks

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True):
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.track_running_stats = track_running_stats
        self.weight = Parameter(init.ones((num_features,))) if affine else None
        self.bias = Parameter(init.zeros((num_features,))) if affine else None
        track = track_running_stats
        self.register_buffer("running_mean", init.zeros((num_features,)) if track else None)
        self.register_buffer("running_var", init.ones((num_features,)) if track else None)
        self.register_buffer("num_batches_tracked", init.zeros((), dtype="int64") if track else None)

    def forward(self, x):
        if x.ndim not in self._dims or x.shape[1] != self.num_features:
            raise self._shape_error(self._expected, x)
        momentum = self.momentum
        if self.training and self.running_mean is not None:
            self.num_batches_tracked.data += 1
            if momentum is None:                 # cumulative moving average
                momentum = 1.0 / int(self.num_batches_tracked.item())
        # without running statistics, the batch's are used in eval mode too
        use_batch = self.training or self.running_mean is None
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                            use_batch, momentum, self.eps)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.weight is not None}"
                + ("" if self.track_running_stats else ", track_running_stats=False"))


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of x (N, C) or (N, C, L) per channel C."""
    _dims = (2, 3)

    @property
    def _expected(self):
        return f"of shape (N, {self.num_features}) or (N, {self.num_features}, L)"


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of x (N, C, H, W) per channel C, over (N, H, W)."""
    _dims = (4,)

    @property
    def _expected(self):
        return f"of shape (N, {self.num_features}, H, W)"


class LayerNorm(Module):
    """y = (x - mean) / √(var + ε) · γ + β over the last axis (biased variance)."""

    def __init__(self, normalized_shape, eps=1e-5):
        super().__init__()
        self.normalized_shape, self.eps = normalized_shape, eps
        self.weight = Parameter(init.ones((normalized_shape,)))
        self.bias = Parameter(init.zeros((normalized_shape,)))

    def forward(self, x):
        if x.shape[-1] != self.normalized_shape:
            raise self._shape_error(f"with {self.normalized_shape} features in its last dimension", x)
        mu = x.mean(axis=-1, keepdims=True)
        d = x - mu
        var = (d * d).mean(axis=-1, keepdims=True)
        return d / (var + self.eps).sqrt() * self.weight + self.bias

    def extra_repr(self):
        return f"({self.normalized_shape},), eps={self.eps}"
