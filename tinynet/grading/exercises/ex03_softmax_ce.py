"""Exercise 03 · softmax cross-entropy (lessons/exercises/ex03_softmax_ce.py).

L = (1/N) Σₙ ℓₙ,  ℓₙ = −log softmax(zₙ)[tₙ];   ∂L/∂zₙ = (softmax(zₙ) − onehot(tₙ)) / N.
"""
from types import SimpleNamespace

import numpy as np

from ... import functional as F
from ...tensor import Tensor
from ..compare import judge_finite_differences, with_tolerance
from ..own import all_ops
from ..probes import fd_inputs, finite_differences, get, grads
from ..registry import exercise

ex = exercise(3, "softmax_ce", "softmax cross-entropy, forward and backward",
              reference=lambda: SimpleNamespace(cross_entropy=F.cross_entropy), forbidden=all_ops)
BACK_HINT = ("For one sample ∂ℓₙ/∂zₙ = softmax(zₙ) − onehot(tₙ). L = (1/N) Σₙ ℓₙ is a mean, and its "
             "factor stays in the gradient; backward must also multiply by the gy it receives.")
USES = ["SoftmaxCrossEntropy.forward", "SoftmaxCrossEntropy.backward"]


def logits(n=6, c=5, scale=1.0):
    return lambda rng: {"z": rng.standard_normal((n, c)) * scale, "t": rng.integers(0, c, n)}


@ex.part("forward: L = mean over the batch of −log softmax(z)[n, tₙ]",
         "ℓₙ = −log softmax(zₙ)[tₙ] = −zₙ,tₙ + log Σₖ e^{zₙ,ₖ}, and L is the mean of ℓₙ over the N samples.",
         inputs=logits(), uses=USES[:1])
def forward(mod, inp):
    return {"the loss": get(mod, "cross_entropy")(Tensor(inp["z"]), inp["t"])}


@ex.part("stable for logits of size 1000",
         "e^1000 overflows: subtract each row's maximum before exponentiating; log Σ e^z = m + log Σ e^(z − m).",
         inputs=logits(scale=1000.0), uses=USES[:1], judge=with_tolerance(1e-6, rtol=1e-6))
def stable(mod, inp):
    with np.errstate(all="ignore"):
        return {"the loss for large logits": get(mod, "cross_entropy")(Tensor(inp["z"]), inp["t"])}


@ex.part("backward: ∂L/∂z equals tinynet's", BACK_HINT, inputs=logits(n=7, c=4), uses=USES)
def backward(mod, inp):
    ce = get(mod, "cross_entropy")
    return {"∂(2.5·L)/∂z": grads(lambda z: ce(z, inp["t"]), [inp["z"]], 2.5)[1][0]}


def _gradcheck_inputs(rng):
    inp = logits()(rng)
    return {**fd_inputs(rng, [inp["z"]], ()), "t": inp["t"]}


@ex.part("gradient check with finite differences", BACK_HINT, inputs=_gradcheck_inputs, uses=USES,
         judge=judge_finite_differences)
def gradient_check(mod, inp):
    ce = get(mod, "cross_entropy")
    return finite_differences(lambda z: ce(z, inp["t"]), inp)
