"""Adam and AdamW: adaptive moment estimation (Kingma & Ba 2015; Loshchilov & Hutter 2019)."""
import math

from .. import backend
from .optimizer import Optimizer
from .sgd import check_number


class Adam(Optimizer):
    """PyTorch's update rule, for each parameter p with gradient g, at step t = 1, 2, …:

        g ← g + weight_decay · p                    (Adam: L2 penalty added to the gradient)
        m ← β₁ m + (1 − β₁) g                       (first moment)
        v ← β₂ v + (1 − β₂) g²                      (second moment)
        p ← p − lr / (1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + ε)      (bias-corrected)
    """
    decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        check_number("learning rate", lr)
        check_number("epsilon value", eps)
        check_number("weight_decay value", weight_decay)
        if not (isinstance(betas, (tuple, list)) and len(betas) == 2):
            raise TypeError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        for i, beta in enumerate(betas):
            check_number(f"beta parameter at index {i}", beta, below_one=True)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay))

    def _update(self, p, g, state, group):
        xp = backend.array_module(p.data)
        lr, (b1, b2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        if not state:
            state["step"] = 0
            state["exp_avg"] = xp.zeros_like(p.data)
            state["exp_avg_sq"] = xp.zeros_like(p.data)
        if wd and self.decoupled:
            p.data *= 1 - lr * wd
        elif wd:
            g = g + wd * p.data
        state["step"] += 1
        t, m, v = state["step"], state["exp_avg"], state["exp_avg_sq"]
        # The same arithmetic as the formulas above, in place, with two scratch arrays.
        tmp = g - m
        tmp *= 1 - b1
        m += tmp                                 # m + (1 − β₁)(g − m) = β₁ m + (1 − β₁) g (PyTorch's lerp)
        v *= b2
        sq = g * g
        sq *= 1 - b2
        v += sq                                  # β₂ v + (1 − β₂) g²
        denom = xp.sqrt(v, out=sq)
        denom /= math.sqrt(1 - b2 ** t)
        denom += eps                             # √v / √(1 − β₂ᵗ) + ε
        update = xp.divide(m, denom, out=tmp)
        update *= lr / (1 - b1 ** t)
        p.data -= update


class AdamW(Adam):
    """Adam with decoupled weight decay: p ← p · (1 − lr · weight_decay) before the Adam step
    (default weight_decay 0.01, as PyTorch)."""
    decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
        super().__init__(params, lr, betas, eps, weight_decay)
