"""Exercise 08 · SGD with momentum (lessons/exercises/ex08_sgd_momentum.py).

PyTorch's rule: b₁ = g₁, bₜ = μ·bₜ₋₁ + gₜ;  p ← p − lr·bₜ  (μ = 0: p ← p − lr·g).
"""
from types import SimpleNamespace

import numpy as np

from ... import functional as F
from ... import nn, optim
from ...optim import sgd
from ...tensor import Tensor
from ..compare import Failed, expect_close, with_tolerance
from ..own import defined_in
from ..probes import get
from ..registry import exercise

ex = exercise(8, "sgd_momentum", "SGD with momentum", reference=lambda: SimpleNamespace(SGD=optim.SGD),
              forbidden=lambda: defined_in(sgd))
HINT = ("PyTorch's rule: on a parameter's first step b = g, later b = momentum·b + g (no (1 − momentum) "
        "factor), then p ← p − lr·b; one buffer b per parameter.")


def steps(n, shapes=((3, 4), (5,)), **settings):
    """Inputs for running an optimizer ``n`` steps: initial parameters and each step's gradients."""
    def inputs(rng):
        return {"params": [rng.standard_normal(s) for s in shapes], "settings": settings,
                "grads": [[rng.standard_normal(s) * 10 ** rng.uniform(-2, 1) for s in shapes] for _ in range(n)]}
    return inputs


def run_steps(cls_name):
    """A part's run: the file's optimizer class given the same gradients step after step."""
    def run(mod, inp):
        ps = [nn.Parameter(a.copy()) for a in inp["params"]]
        opt = get(mod, cls_name)(ps, **inp["settings"])
        values = {}
        for step, gs in enumerate(inp["grads"], 1):
            for p, g in zip(ps, gs):
                p.grad = g.copy()
            opt.step()
            values.update({f"parameter {k} after step {step}": p.data.copy() for k, p in enumerate(ps)})
        return values
    return run


ex.part("plain SGD (momentum 0): p ← p − lr·g", "Without momentum, p ← p − lr·g, in place.",
        inputs=steps(2, lr=0.1), uses=["SGD.__init__", "SGD.step"], judge=with_tolerance(1e-9, 1e-7))(run_steps("SGD"))
ex.part("momentum 0.9 over 6 steps (as tinynet.optim.SGD)", HINT, inputs=steps(6, lr=0.05, momentum=0.9),
        uses=["SGD.__init__", "SGD.step"], judge=with_tolerance(1e-9, 1e-7))(run_steps("SGD"))


def left_alone(cls_name, **settings):
    """Inputs and run of the part "parameters without a gradient, or frozen, are left alone"."""
    def inputs(rng):
        return {"params": [rng.standard_normal(s) for s in ((2, 2), (3,), (4,))]}

    def run(mod, inp):
        ps = [nn.Parameter(a.copy()) for a in inp["params"]]
        ps[0].grad, ps[2].grad = np.ones((2, 2)), np.ones(4)
        ps[2].requires_grad = False
        get(mod, cls_name)(ps, **settings).step()
        return {"with a gradient": ps[0].data, "without": ps[1].data, "frozen": ps[2].data}
    return inputs, run


def judge_left_alone(got, ref, inputs):
    before = inputs["params"]
    for key, problem in (("without", "a parameter whose .grad is None was changed."),
                         ("frozen", "a frozen parameter (requires_grad False) was changed.")):
        value = got.get(key)
        if not (isinstance(value, np.ndarray) and np.array_equal(value, before[1 if key == "without" else 2])):
            raise Failed(problem)
    expect_close("the parameter with a gradient", got.get("with a gradient"), ref["with a gradient"])


inputs, run = left_alone("SGD", lr=0.1, momentum=0.9)
ex.part("parameters without a gradient, or frozen, are left alone",
        "Skip a parameter when p.grad is None or p.requires_grad is False.", inputs=inputs,
        uses=["SGD.__init__", "SGD.step"], judge=judge_left_alone)(run)


def _training_inputs(rng):
    return {"x": rng.standard_normal((16, 3)).astype("float32"), "y": rng.standard_normal((16, 2)).astype("float32"),
            "weight": rng.standard_normal((2, 3)).astype("float32"), "bias": rng.standard_normal(2).astype("float32")}


@ex.part("training a Linear layer with autograd (as tinynet.optim.SGD)", HINT, inputs=_training_inputs,
         uses=["SGD.__init__", "SGD.zero_grad", "SGD.step"], judge=with_tolerance(1e-5))
def training(mod, inp):
    model = nn.Linear(3, 2)
    model.weight.data[...], model.bias.data[...] = inp["weight"], inp["bias"]
    opt = get(mod, "SGD")(model.parameters(), lr=0.1, momentum=0.9)
    for _ in range(5):
        opt.zero_grad()
        F.mse_loss(model(Tensor(inp["x"])), Tensor(inp["y"])).backward()
        opt.step()
    return {"the weight after 5 steps": model.weight}
