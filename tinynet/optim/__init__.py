"""``tinynet.optim``: optimizers and learning-rate schedules, with PyTorch's update rules."""
from .optimizer import Optimizer
from .sgd import SGD
from .adam import Adam, AdamW
from . import lr_scheduler  # noqa: F401
