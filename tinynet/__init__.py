"""tinynet: a from-scratch deep-learning engine on NumPy (and CuPy), written to be read.

    import tinynet as tn
    import tinynet.functional as F
    x = tn.tensor([[1.0, 2.0]], requires_grad=True)
"""
from . import malloc as _malloc
_malloc.keep_freed_memory()     # fewer page faults per training step (see tinynet/malloc.py)

from .backend import set_backend, get_backend, BackendError, BackendUnavailable
from .tensor import Tensor, Function, tensor, no_grad, enable_grad, is_grad_enabled
from . import autograd
from .random import manual_seed
from .ops import (  # noqa: A004
    add, sub, mul, div, neg, pow, exp, log, sqrt, abs, sum, mean, max, reshape, permute, transpose,
    flatten, concatenate, cat, stack, matmul, relu, sigmoid, tanh, softmax, log_softmax,
)
from .gradcheck import gradcheck, numerical_grad, GradcheckError
from . import functional, nn, optim
from .serialization import save, load

__version__ = "0.1.0"


def zeros(*shape, dtype="float32", requires_grad=False):
    from . import backend
    shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
    return Tensor(backend.get_module().zeros(shape, dtype=dtype), requires_grad=requires_grad)


def ones(*shape, dtype="float32", requires_grad=False):
    from . import backend
    shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
    return Tensor(backend.get_module().ones(shape, dtype=dtype), requires_grad=requires_grad)


def randn(*shape, dtype="float32", requires_grad=False):
    from . import backend, random
    shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
    a = random.normal(shape, dtype=dtype)
    return Tensor(backend.to_backend(a, backend.get_backend()), requires_grad=requires_grad)
