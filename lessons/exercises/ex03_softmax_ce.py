"""Exercise 03 · Softmax cross-entropy, forward and backward             (lesson 07)

Logits z (N, C) — one row of C class scores per sample — and integer targets t (N,).

    softmax(z)ₙ,c = e^{zₙ,c} / Σ_k e^{zₙ,k}
    ℓₙ = −log softmax(z)ₙ,tₙ = −zₙ,tₙ + log Σ_k e^{zₙ,k}            (the loss of sample n)
    L  = (1/N) Σₙ ℓₙ                                                (the batch loss: a mean)

Stability: e^z overflows for z ≈ 1000. Subtracting each row's maximum m first changes nothing
(log Σ e^{z} = m + log Σ e^{z−m}) and keeps every exponent ≤ 0.

Backward: for one sample, ∂ℓₙ/∂zₙ,c = softmax(z)ₙ,c − 1[c = tₙ]. Work out what the mean does to
it, and remember ``backward`` receives gy = ∂(final loss)/∂L, a scalar that need not be 1.

Fill in each ``# TODO`` and remove the ``raise NotImplementedError`` under it. Check your work:

    tinynet check lessons/exercises/ex03_softmax_ce.py
"""
import numpy as np

import tinynet as tn

EXERCISE = "softmax_ce"


class SoftmaxCrossEntropy(tn.Function):
    def __init__(self, target):
        self.target = target                      # integer array (N,)

    def forward(self, z):
        # TODO: return L, the mean over the batch of −log softmax(z)[n, t_n], as a 0-d array;
        #       save on self what backward needs
        raise NotImplementedError

    def backward(self, gy):
        # TODO: return ∂L/∂z, shape (N, C), times gy
        raise NotImplementedError


def cross_entropy(logits, target):
    """Mean softmax cross-entropy of logits (N, C) against class indices target (N,)."""
    return SoftmaxCrossEntropy(np.asarray(target))(logits)


if __name__ == "__main__":
    from tinynet.check import main
    raise SystemExit(main([__file__]))
