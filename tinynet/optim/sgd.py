"""Stochastic gradient descent with momentum, Nesterov momentum and weight decay."""
from .optimizer import Optimizer


class SGD(Optimizer):
    """PyTorch's update rule, for each parameter p with gradient g:

        g ← g + weight_decay · p
        b ← g                                   (first step)
        b ← momentum · b + (1 − dampening) · g  (later steps)
        g ← g + momentum · b   if nesterov,   else  g ← b        (only when momentum ≠ 0)
        p ← p − lr · g
    """

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0):
        if lr < 0 or momentum < 0 or weight_decay < 0:
            raise ValueError(f"SGD: lr, momentum and weight_decay must be >= 0, got {lr}, {momentum}, {weight_decay}")
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
