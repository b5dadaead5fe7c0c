"""Differentiable operations: one ``Function`` subclass each, plus a lowercase wrapper."""
from .elementwise import add, sub, mul, div, neg, pow, exp, log, sqrt, abs  # noqa: A004
from .reduce import sum, mean, max  # noqa: A004
from .shape import reshape, permute, transpose, flatten, getitem, concatenate, cat, stack
from .matmul import matmul
from .activation import relu, sigmoid, tanh, softmax, log_softmax
from .linear import linear
from .conv import conv2d
from .pool import max_pool2d, avg_pool2d
from .dropout import dropout
from .loss import cross_entropy, nll_loss, mse_loss
