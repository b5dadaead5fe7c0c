"""Exercise 09 · Adam                                                      (lesson 08)

Adam (Kingma & Ba, 2015, Algorithm 1) keeps, per parameter, running means of the gradient
and of its square, and a step count t:

    t ← t + 1
    m ← β₁ m + (1 − β₁) g                 m and v start at 0
    v ← β₂ v + (1 − β₂) g²
    m̂ = m / (1 − β₁ᵗ)                     bias correction: undoes the pull towards the zero start
    v̂ = v / (1 − β₂ᵗ)
    p ← p − lr · m̂ / (√v̂ + ε)

Defaults as in PyTorch: lr = 1e-3, β₁ = 0.9, β₂ = 0.999, ε = 1e-8. Skip parameters with no
gradient or ``requires_grad`` off; keep each parameter's t, m and v in ``self.state[p]``.

Fill in each ``# TODO`` and remove the ``raise NotImplementedError`` under it. Check your work:

    tinynet check lessons/exercises/ex09_adam.py
"""
import numpy as np

EXERCISE = "adam"


class Adam:
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        self.params = list(params)
        self.lr, (self.beta1, self.beta2), self.eps = lr, betas, eps
        self.state = {}                    # parameter → {"t": int, "m": array, "v": array}

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    def step(self):
        # TODO: one Adam update of every parameter that has a gradient, in place
        raise NotImplementedError


if __name__ == "__main__":
    from tinynet.check import main
    raise SystemExit(main([__file__]))
