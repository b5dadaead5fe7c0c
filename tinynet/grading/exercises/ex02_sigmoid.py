"""Exercise 02 · sigmoid (lessons/exercises/ex02_sigmoid.py): σ(x) = 1 / (1 + e^−x); σ' = σ(1 − σ)."""
from types import SimpleNamespace

import numpy as np

from ... import functional as F
from ...tensor import Tensor
from ..compare import Failed, compare_all, judge_finite_differences
from ..own import all_ops
from ..probes import fd_inputs, finite_differences, get, grads
from ..registry import exercise

ex = exercise(2, "sigmoid", "sigmoid, stable forward and backward",
              reference=lambda: SimpleNamespace(sigmoid=F.sigmoid), forbidden=all_ops)
HINT = "dσ/dx = σ(x)(1 − σ(x)); backward multiplies the incoming gy by it."


def _extremes(rng):
    """Large logits of both signs (drawn anew each run): σ of −1000 must not overflow e^1000.
    At least 750: float64's e^x overflows only above x ≈ 709.78, so a draw of 700–709 would let a
    naive 1 / (1 + e^−x) through on some seeds."""
    big, mid = rng.uniform(750, 1000), rng.uniform(30, 60)
    return {"x": np.array([-big, -mid, 0.0, mid, big])}


@ex.part("forward: σ(x) = 1 / (1 + e^−x)", "σ(x) = 1 / (1 + e^−x), element by element.",
         inputs=lambda rng: {"x": rng.standard_normal((5, 7)).astype("float32") * 3}, uses=["Sigmoid.forward"])
def forward(mod, inp):
    return {"sigmoid(x)": get(mod, "sigmoid")(Tensor(inp["x"]))}


def _judge_no_overflow(got, ref, inputs):
    if got.get("overflow"):
        shown = ", ".join(f"{v:.4g}" for v in inputs["x"])
        raise Failed(f"computing σ of [{shown}] overflowed ({got['overflow']}).")
    compare_all(got, ref, inputs, atol=1e-12)


@ex.part("no overflow for x = ±1000", "e^−x overflows when x is large and negative; the docstring's form "
         "with e = e^−|x| ≤ 1 never does.", inputs=_extremes,
         uses=["Sigmoid.forward"], judge=_judge_no_overflow)
def no_overflow(mod, inp):
    try:
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            y = get(mod, "sigmoid")(Tensor(inp["x"]))
    except FloatingPointError as e:
        return {"overflow": str(e)}
    return {"σ of large logits (±750 to ±1000)": y}


@ex.part("backward: ∂L/∂x equals tinynet's", HINT, uses=["Sigmoid.forward", "Sigmoid.backward"],
         inputs=lambda rng: {"x": rng.standard_normal((4, 6)) * 3, "gy": rng.standard_normal((4, 6))})
def backward(mod, inp):
    return {"∂L/∂x": grads(get(mod, "sigmoid"), [inp["x"]], inp["gy"])[1][0]}


@ex.part("gradient check with finite differences", HINT, uses=["Sigmoid.forward", "Sigmoid.backward"],
         inputs=lambda rng: fd_inputs(rng, [rng.standard_normal((3, 4)) * 2], (3, 4)), judge=judge_finite_differences)
def gradient_check(mod, inp):
    return finite_differences(get(mod, "sigmoid"), inp)
