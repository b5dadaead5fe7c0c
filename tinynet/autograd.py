"""``tinynet.autograd``, named as in PyTorch: ``tinynet.autograd.grad(output, inputs)`` returns
gradients without accumulating them into any ``.grad`` (the walk itself is in ``tensor.py``)."""
from .tensor import grad, no_grad, enable_grad, is_grad_enabled

__all__ = ["grad", "no_grad", "enable_grad", "is_grad_enabled"]
