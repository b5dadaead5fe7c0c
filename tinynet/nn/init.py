"""Weight initialisation, as PyTorch does it.

Defaults of ``Linear`` and ``Conv2d``: Kaiming-uniform with a = √5. With fan_in = in_features
(or C·KH·KW), gain = √(2 / (1 + a²)) = √(1/3) and bound = gain·√(3 / fan_in) = 1/√fan_in, so
    weight ~ U(-1/√fan_in, 1/√fan_in),   bias ~ U(-1/√fan_in, 1/√fan_in).

The functions ending in ``_`` fill an existing Tensor in place, under PyTorch's names
(``nn.init.zeros_(layer.bias)``, ``nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")``);
every draw comes from tinynet's generator, so ``tinynet.manual_seed`` makes them repeatable.
"""
import math

from .. import backend, random
from ..tensor import no_grad

__all__ = ["uniform", "kaiming_uniform", "zeros", "ones", "calculate_gain", "uniform_", "normal_", "constant_",
           "zeros_", "ones_", "kaiming_uniform_", "kaiming_normal_", "xavier_uniform_", "xavier_normal_"]


# --- new arrays, for the layers' constructors ----------------------------------------------------
def uniform(shape, bound, dtype="float32"):
    """U(-bound, bound) on the default backend, drawn from tinynet's seeded generator."""
    return backend.to_backend(random.uniform(shape, -bound, bound, dtype=dtype), backend.get_backend())


def kaiming_uniform(shape, fan_in, a=math.sqrt(5), dtype="float32"):
    gain = math.sqrt(2.0 / (1 + a * a))
    return uniform(shape, gain * math.sqrt(3.0 / fan_in), dtype)


def zeros(shape, dtype="float32"):
    return backend.get_module().zeros(shape, dtype=dtype)


def ones(shape, dtype="float32"):
    return backend.get_module().ones(shape, dtype=dtype)


# --- filling existing tensors in place (torch.nn.init) ---------------------------------------------
def calculate_gain(nonlinearity, param=None):
    """The gain that keeps activations' variance steady through a layer followed by ``nonlinearity``:
    1 for linear/sigmoid, 5/3 for tanh, √2 for relu, √(2 / (1 + slope²)) for leaky_relu."""
    if nonlinearity in ("linear", "identity", "conv1d", "conv2d", "conv3d", "sigmoid"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def _fans(t):
    """(fan_in, fan_out) of a weight: (in, out) for (out, in); times KH·KW for a conv (OC, C, KH, KW)."""
    if t.ndim < 2:
        raise ValueError(f"fan in and fan out need a weight with at least 2 dimensions, got shape {t.shape}")
    receptive = 1
    for n in t.shape[2:]:
        receptive *= n
    return t.shape[1] * receptive, t.shape[0] * receptive


def _fill(t, host_array):
    with no_grad():
        t.data[...] = backend.to_backend(host_array.astype(t.dtype), t.backend)
    return t


def uniform_(t, a=0.0, b=1.0):
    """Fill ``t`` with draws from U(a, b)."""
    return _fill(t, random.uniform(t.shape, a, b, dtype="float64"))


def normal_(t, mean=0.0, std=1.0):
    """Fill ``t`` with draws from N(mean, std²)."""
    return _fill(t, random.normal(t.shape, mean, std, dtype="float64"))


def constant_(t, val):
    with no_grad():
        t.data[...] = val
    return t


def zeros_(t):
    return constant_(t, 0)


def ones_(t):
    return constant_(t, 1)


def _kaiming_std(t, a, mode, nonlinearity):
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan = _fans(t)[0 if mode == "fan_in" else 1]
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(t, a=0.0, mode="fan_in", nonlinearity="leaky_relu"):
    """U(-bound, bound) with bound = gain·√(3 / fan) (He et al. 2015)."""
    bound = math.sqrt(3.0) * _kaiming_std(t, a, mode, nonlinearity)
    return uniform_(t, -bound, bound)


def kaiming_normal_(t, a=0.0, mode="fan_in", nonlinearity="leaky_relu"):
    """N(0, std²) with std = gain / √fan (He et al. 2015)."""
    return normal_(t, 0.0, _kaiming_std(t, a, mode, nonlinearity))


def xavier_uniform_(t, gain=1.0):
    """U(-bound, bound) with bound = gain·√(6 / (fan_in + fan_out)) (Glorot & Bengio 2010)."""
    fan_in, fan_out = _fans(t)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(t, -bound, bound)


def xavier_normal_(t, gain=1.0):
    """N(0, std²) with std = gain·√(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _fans(t)
    return normal_(t, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)))
