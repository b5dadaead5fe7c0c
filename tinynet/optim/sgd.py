"""Stochastic gradient descent with momentum, Nesterov momentum and weight decay."""
import math
import numbers

from .optimizer import Optimizer


def check_number(what, value, below_one=False):
    """A setting that is a finite number >= 0 (and < 1 if ``below_one``), else TypeError/ValueError
    with PyTorch's message: ``Invalid learning rate: nan``."""
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise TypeError(f"Invalid {what}: expected a number, got {value!r}")
    if not (0 <= value < (1 if below_one else math.inf)):
        raise ValueError(f"Invalid {what}: {value}" + (" (must be in [0, 1))" if below_one else ""))


class SGD(Optimizer):
    """PyTorch's update rule, for each parameter p with gradient g:

        g ← g + weight_decay · p
        b ← g                                   (first step)
        b ← momentum · b + (1 − dampening) · g  (later steps)
        g ← g + momentum · b   if nesterov,   else  g ← b        (only when momentum ≠ 0)
        p ← p − lr · g
    """

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0):
        check_number("learning rate", lr)
        check_number("momentum value", momentum, below_one=True)
        check_number("dampening value", dampening)
        check_number("weight_decay value", weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      nesterov=nesterov, weight_decay=weight_decay))

    def _update(self, p, g, state, group):
        if group["weight_decay"]:
            g = g + group["weight_decay"] * p.data
        mu = group["momentum"]
        if mu:
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = g.copy()
            else:
                b = state["momentum_buffer"]
                b *= mu
                b += (1 - group["dampening"]) * g if group["dampening"] else g
            b = state["momentum_buffer"]
            g = g + mu * b if group["nesterov"] else b
        p.data -= group["lr"] * g
