"""Weight initialisation, as PyTorch does it by default.

``Linear`` and ``Conv2d`` use Kaiming-uniform with a = √5: with fan_in = in_features (or
C·KH·KW), gain = √(2 / (1 + a²)) = √(1/3) and bound = gain·√(3 / fan_in) = 1/√fan_in, so
    weight ~ U(-1/√fan_in, 1/√fan_in),   bias ~ U(-1/√fan_in, 1/√fan_in).
"""
import math

from .. import backend, random


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
