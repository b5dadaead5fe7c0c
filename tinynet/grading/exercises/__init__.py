"""The twelve exercises, one file each, in the order of their numbers (``lessons/exercises/exNN_*.py``)."""
from . import (  # noqa: F401
    ex01_relu, ex02_sigmoid, ex03_softmax_ce, ex04_linear, ex05_im2col, ex06_conv2d_backward,
    ex07_maxpool_backward, ex08_sgd_momentum, ex09_adam, ex10_idx_header, ex11_freezing, ex12_lora,
)
from ..registry import EXERCISES  # noqa: E402,F401
