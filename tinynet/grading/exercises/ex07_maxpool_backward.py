"""Exercise 07 · the backward pass of max pooling (lessons/exercises/ex07_maxpool_backward.py).

Each output is one input, the maximum of its window; ∂L/∂x is gy routed back to that position
(the first maximum of a tie), summed where windows overlap.
"""
from types import SimpleNamespace

import numpy as np

from ... import functional as F
from ..compare import judge_finite_differences
from ..own import all_ops
from ..probes import fd_inputs, finite_differences, get, grads
from ..registry import exercise

ex = exercise(7, "maxpool_backward", "the backward pass of max pooling",
              reference=lambda: SimpleNamespace(max_pool2d=F.max_pool2d), forbidden=all_ops)
USES = ["MaxPool2d.forward", "MaxPool2d.backward"]


def _out_shape(x, k, s):
    return (x.shape[0], x.shape[1], (x.shape[2] - k) // s + 1, (x.shape[3] - k) // s + 1)


def case(make_x, k, s):
    def inputs(rng):
        x = make_x(rng)
        return {"x": x, "k": k, "s": s, "gy": rng.standard_normal(_out_shape(x, k, s))}
    return inputs


def _ties(rng):
    x = np.maximum(0, rng.standard_normal((2, 2, 6, 6)) - 0.8)     # many zeros, as after a ReLU
    x[0, 0, :2, :2] = 0.0
    x[1, 1, 2:4, 2:4] = 1.5
    return x


def _run(mod, inp):
    pool, k, s = get(mod, "max_pool2d"), inp["k"], inp["s"]
    return {f"∂L/∂x ({k}×{k} windows, stride {s})": grads(lambda t: pool(t, k, s), [inp["x"]], inp["gy"])[1][0]}


ex.part("2×2 windows, stride 2", "Each output is a copy of one input, the maximum of its window; its gradient goes "
        "to that position and the others get 0.", inputs=case(lambda rng: rng.standard_normal((2, 3, 6, 8)), 2, 2),
        uses=USES)(_run)
ex.part("ties: windows of equal values (zeros after a ReLU)",
        "When several inputs tie for the maximum, the output still came from one of them: only one position "
        "(the first in row-major order) may receive the gradient, otherwise it is counted several times.",
        inputs=case(_ties, 2, 2), uses=USES)(_run)
ex.part("overlapping windows: 3×3, stride 2",
        "With stride < window a pixel can be the maximum of several windows: it collects the sum of their gradients.",
        inputs=case(lambda rng: rng.standard_normal((2, 2, 7, 9)), 3, 2), uses=USES)(_run)


def _gradcheck_inputs(rng):
    x = rng.permutation(2 * 2 * 7 * 7).reshape(2, 2, 7, 7) / 10.0          # distinct values, 0.1 apart
    return fd_inputs(rng, [x], _out_shape(x, 3, 2))


@ex.part("gradient check with finite differences", "See the parts above.", inputs=_gradcheck_inputs, uses=USES,
         judge=judge_finite_differences)
def gradient_check(mod, inp):
    pool = get(mod, "max_pool2d")
    return finite_differences(lambda t: pool(t, 3, 2), inp)
