"""Exercise 01 · ReLU (lessons/exercises/ex01_relu.py): y = max(0, x); ∂L/∂x = gy · [x > 0]."""
from types import SimpleNamespace

from ... import functional as F
from ...tensor import Tensor
from ..compare import judge_finite_differences
from ..own import all_ops
from ..probes import fd_inputs, finite_differences, get, grads
from ..registry import exercise

ex = exercise(1, "relu", "ReLU, forward and backward",
              reference=lambda: SimpleNamespace(relu=F.relu), forbidden=all_ops)
HINT = ("ReLU's derivative is 1 where x > 0 and 0 where x < 0 (use 0 at x = 0); by the chain rule "
        "∂L/∂x = ∂L/∂y · ∂y/∂x, so backward multiplies the incoming gy by it.")


def _backward_inputs(rng):
    x = rng.standard_normal((4, 6)).astype("float32")
    x[0, :3] = 0.0                                   # the kink: the gradient there is 0
    return {"x": x, "gy": rng.standard_normal((4, 6)).astype("float32")}


def _gradcheck_inputs(rng):
    x = rng.standard_normal((3, 5))
    x[abs(x) < 0.05] = 0.5                           # away from the kink
    return fd_inputs(rng, [x], (3, 5))


@ex.part("forward: relu(x) = max(0, x)", "ReLU keeps the positive values and replaces the others by 0.",
         inputs=lambda rng: {"x": rng.standard_normal((3, 4, 5)).astype("float32")}, uses=["ReLU.forward"])
def forward(mod, inp):
    return {"relu(x)": get(mod, "relu")(Tensor(inp["x"]))}


@ex.part("backward: ∂L/∂x equals tinynet's (zeros included)", HINT, inputs=_backward_inputs,
         uses=["ReLU.forward", "ReLU.backward"])
def backward(mod, inp):
    return {"∂L/∂x": grads(get(mod, "relu"), [inp["x"]], inp["gy"])[1][0]}


@ex.part("gradient check with finite differences", HINT, inputs=_gradcheck_inputs,
         uses=["ReLU.forward", "ReLU.backward"], judge=judge_finite_differences)
def gradient_check(mod, inp):
    return finite_differences(get(mod, "relu"), inp)
