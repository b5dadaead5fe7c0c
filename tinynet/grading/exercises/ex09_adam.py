"""Exercise 09 · Adam (lessons/exercises/ex09_adam.py), Kingma & Ba's Algorithm 1:

m ← β₁m + (1 − β₁)g,  v ← β₂v + (1 − β₂)g²,  m̂ = m / (1 − β₁ᵗ),  v̂ = v / (1 − β₂ᵗ),  p ← p − lr·m̂ / (√v̂ + ε).
"""
from types import SimpleNamespace

import numpy as np

from ... import nn, optim
from ...optim import adam
from ..compare import with_tolerance
from ..own import defined_in
from ..probes import get
from ..registry import exercise
from .ex08_sgd_momentum import judge_left_alone, left_alone, run_steps, steps

ex = exercise(9, "adam", "Adam", reference=lambda: SimpleNamespace(Adam=optim.Adam),
              forbidden=lambda: defined_in(adam))
HINT = ("Follow Algorithm 1 line by line: t counts this parameter's steps; m and v start at 0, and the "
        "bias corrections m̂ = m / (1 − β₁ᵗ), v̂ = v / (1 − β₂ᵗ) undo that zero start.")
USES = ["Adam.__init__", "Adam.step"]
FIRST_GRADIENT = [1e-3, -0.5, 2.0, -30.0, 1e3]


@ex.part("first step: every parameter moves by lr · g / (|g| + ε) ≈ lr·sign(g)",
         "After one step m̂ = g and v̂ = g² exactly, whatever the size of g: that is what the bias corrections are for.",
         inputs=lambda rng: {"g": np.array(FIRST_GRADIENT) * rng.uniform(0.5, 2.0)}, uses=USES)
def first_step(mod, inp):
    p = nn.Parameter(np.zeros(len(inp["g"])))
    p.grad = inp["g"].copy()
    get(mod, "Adam")([p], lr=0.01).step()
    return {"the first step": p}


ex.part("10 steps match tinynet.optim.Adam", HINT, inputs=steps(10, lr=0.01), uses=USES,
        judge=with_tolerance(1e-9, 1e-7))(run_steps("Adam"))
ex.part("lr, betas and eps are the ones given", HINT + " Use self.lr, self.beta1, self.beta2 and self.eps, not the "
        "default values.", inputs=steps(5, lr=0.05, betas=(0.8, 0.99), eps=1e-3), uses=USES,
        judge=with_tolerance(1e-9, 1e-7))(run_steps("Adam"))

inputs, run = left_alone("Adam")
ex.part("parameters without a gradient, or frozen, are left alone",
        "Skip a parameter when p.grad is None or it is frozen.", inputs=inputs, uses=USES, judge=judge_left_alone)(run)
