"""``tinynet.nn``: Module, Parameter and the layers, under PyTorch's names."""
from .module import Module, Parameter, ShapeError, StateDictError
from .containers import Sequential, ModuleList
from .layers import (Linear, Conv2d, MaxPool2d, AvgPool2d, ReLU, Sigmoid, Tanh, Dropout, Flatten,
                     Identity, BatchNorm1d, BatchNorm2d, LayerNorm)
from .lora import LoRALinear, LoRAConv2d
from . import init, functional  # noqa: F401
