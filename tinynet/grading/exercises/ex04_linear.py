"""Exercise 04 · the fully connected layer (lessons/exercises/ex04_linear.py).

y = x Wᵀ + b;   ∂L/∂x = gy W,   ∂L/∂W = gyᵀ x,   ∂L/∂b = Σₙ gyₙ.
"""
from types import SimpleNamespace

from ... import functional as F
from ...tensor import Tensor
from ..compare import judge_finite_differences
from ..own import all_ops
from ..probes import fd_inputs, finite_differences, get, grads
from ..registry import exercise

ex = exercise(4, "linear", "the fully connected layer, forward and backward",
              reference=lambda: SimpleNamespace(linear=F.linear), forbidden=all_ops)
HINT = ("Each gradient has the shape of its input. Write yₙₒ = Σᵢ xₙᵢ Wₒᵢ + bₒ and differentiate with "
        "respect to xₙᵢ, Wₒᵢ and bₒ: which index is summed over in each case?")


def layer(n, i, o):
    """Inputs x (n, i), W (o, i), b (o,) and an upstream gradient gy (n, o)."""
    return lambda rng: {"arrays": [rng.standard_normal(s) for s in ((n, i), (o, i), (o,))],
                        "gy": rng.standard_normal((n, o))}


@ex.part("forward: y = x Wᵀ + b", "W has shape (out, in): x (N, in) is multiplied by Wᵀ (in, out).",
         inputs=layer(5, 4, 3), uses=["Linear.forward"])
def forward(mod, inp):
    return {"y": get(mod, "linear")(*[Tensor(a) for a in inp["arrays"]])}


def _backward(mod, inp):
    got = grads(get(mod, "linear"), inp["arrays"], inp["gy"])[1]
    return dict(zip(("∂L/∂x", "∂L/∂W", "∂L/∂b"), got))


ex.part("backward with in ≠ out (5 samples, 4 → 3)", HINT, inputs=layer(5, 4, 3),
        uses=["Linear.forward", "Linear.backward"])(_backward)
ex.part("backward with a square weight (4 → 4)", HINT, inputs=layer(6, 4, 4),
        uses=["Linear.forward", "Linear.backward"])(_backward)


@ex.part("gradient check with finite differences", HINT, uses=["Linear.forward", "Linear.backward"],
         inputs=lambda rng: fd_inputs(rng, layer(3, 4, 2)(rng)["arrays"], (3, 2)), judge=judge_finite_differences)
def gradient_check(mod, inp):
    return finite_differences(get(mod, "linear"), inp)
