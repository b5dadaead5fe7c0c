"""``tinynet.functional`` (import as ``F``): the ops under PyTorch's names.

Every function takes and returns Tensors; each is a ``Function`` in ``tinynet.ops`` with its
forward and backward side by side, and a docstring with the formula and the shapes.
"""
from .ops import (  # noqa: F401
    relu, sigmoid, tanh, softmax, log_softmax, linear, conv2d, max_pool2d, avg_pool2d, dropout,
    cross_entropy, nll_loss, mse_loss, flatten,
)
from .ops.batchnorm import batch_norm  # noqa: F401
