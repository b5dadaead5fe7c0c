"""Exercise 06 · the backward pass of a convolution (lessons/exercises/ex06_conv2d_backward.py).

Per image, y = W2 @ col + b with W2 = w.reshape(OC, C·KH·KW):
∂L/∂b = Σₙ,ₗ gy,   ∂L/∂W2 = Σₙ gyₙ colₙᵀ,   ∂L/∂x = col2im(W2ᵀ gyₙ).
"""
from types import SimpleNamespace

import numpy as np

from ... import functional as F
from ... import im2col as tinynet_im2col
from ..compare import Failed, as_array, compare_all, judge_finite_differences
from ..own import all_ops, defined_in
from ..probes import fd_inputs, finite_differences, get, grads
from ..registry import exercise


class ReferenceConv2d:
    """The exercise's ``Conv2d`` API (forward, then grad_input/grad_weight/grad_bias of gy (N, OC, L)),
    answered by tinynet's conv2d and its backward."""

    def forward(self, x, w, b):
        self.arrays = (x, w, b)

    def _grad(self, gy, k):
        x, w, b = self.arrays
        OH, OW = x.shape[2] - w.shape[2] + 1, x.shape[3] - w.shape[3] + 1
        return grads(F.conv2d, self.arrays, gy.reshape(gy.shape[0], gy.shape[1], OH, OW))[1][k]

    def grad_input(self, gy):
        return self._grad(gy, 0)

    def grad_weight(self, gy):
        return self._grad(gy, 1)

    def grad_bias(self, gy):
        return self._grad(gy, 2)


ex = exercise(6, "conv2d_backward", "the backward pass of a convolution",
              reference=lambda: SimpleNamespace(Conv2d=ReferenceConv2d, conv2d=F.conv2d),
              forbidden=lambda: all_ops() + defined_in(tinynet_im2col))


def _inputs(rng):
    return {"arrays": [rng.standard_normal((2, 3, 6, 5)), rng.standard_normal((4, 3, 3, 2)), rng.standard_normal(4)],
            "gy": rng.standard_normal((2, 4, 16))}


def _grad(method):
    """A part's run: the student's Conv2d().forward(x, w, b), then one of its grad_* methods."""
    def run(mod, inp):
        fn = get(mod, "Conv2d")()
        fn.forward(*[a.copy() for a in inp["arrays"]])
        return {method: get(fn, method)(inp["gy"].copy())}
    return run


def _judge_weight(got, ref, inputs):
    g, want = as_array(got.get("grad_weight"), "grad_weight's result"), ref["grad_weight"]
    w2 = want.reshape(want.shape[0], -1)
    if g.size == w2.size and np.allclose(g.reshape(-1), w2.T.reshape(-1)):
        raise Failed("∂L/∂w holds the right numbers in the wrong places: they are laid out as (C·KH·KW, OC), the "
                     "transpose of W2's (OC, C·KH·KW). Check the order of the factors in your product.")
    compare_all({"∂L/∂w": g}, {"∂L/∂w": want}, inputs)


def _rename(label):
    def judge(got, ref, inputs):
        (key, want), = ref.items()
        compare_all({label: got.get(key)}, {label: want}, inputs)
    return judge


USES = ["Conv2d.forward"]
ex.part("∂L/∂b (grad_bias)", "b[o] is added at every output position of every image, so its gradient collects gy "
        "over the images and the positions.", inputs=_inputs, uses=USES + ["Conv2d.grad_bias"],
        judge=_rename("∂L/∂b"))(_grad("grad_bias"))
ex.part("∂L/∂w (grad_weight)", "Per image, yₙ = W2 @ colₙ + b is exercise 04's layer with colₙ as its input; "
        "∂L/∂W2 has W2's shape (OC, C·KH·KW) and adds up the contributions of all N images.", inputs=_inputs,
        uses=USES + ["Conv2d.grad_weight"], judge=_judge_weight)(_grad("grad_weight"))
ex.part("∂L/∂x (grad_input)", "Per image, ∂L/∂colₙ follows from exercise 04's rule for ∂L/∂x applied to "
        "yₙ = W2 @ colₙ; col2im then adds every column entry back to the pixel it was copied from.",
        inputs=_inputs, uses=USES + ["Conv2d.grad_input", "col2im"], judge=_rename("∂L/∂x"))(_grad("grad_input"))


@ex.part("gradient check with finite differences", "Check each of the three gradients against its part above.",
         inputs=lambda rng: fd_inputs(rng, [rng.standard_normal((1, 2, 5, 4)), rng.standard_normal((3, 2, 2, 3)),
                                            rng.standard_normal(3)], (1, 3, 4, 2)),
         uses=USES + ["Conv2d.backward", "Conv2d.grad_bias", "Conv2d.grad_weight", "Conv2d.grad_input"],
         judge=judge_finite_differences)
def gradient_check(mod, inp):
    return finite_differences(get(mod, "conv2d"), inp)
