"""Exercise 02 · Sigmoid, stable forward and backward                    (lesson 03)

σ(x) = 1 / (1 + e^−x).   Its derivative is written with the output itself:  dσ/dx = σ(x)·(1 − σ(x)).

Computed naively, e^−x overflows for x = −1000 (e^1000 is inf in floating point). A stable form
uses e = e^−|x|, which is never larger than 1:

    σ(x) = 1 / (1 + e)   for x ≥ 0,        σ(x) = e / (1 + e)   for x < 0.

Fill in each ``# TODO`` and remove the ``raise NotImplementedError`` under it. Check your work:

    tinynet check lessons/exercises/ex02_sigmoid.py
"""
import numpy as np

import tinynet as tn

EXERCISE = "sigmoid"


class Sigmoid(tn.Function):
    def forward(self, x):
        # TODO: return σ(x) without overflow for any x; save on self what backward needs
        ### BEGIN SOLUTION
        e = np.exp(-np.abs(x))
        self.y = np.where(x >= 0, 1, e) / (1 + e)
        return self.y.astype(x.dtype)
        ### END SOLUTION

    def backward(self, gy):
        # TODO: return ∂L/∂x from gy = ∂L/∂y
        ### BEGIN SOLUTION
        return gy * self.y * (1 - self.y)
        ### END SOLUTION


def sigmoid(x):
    return Sigmoid()(x)


if __name__ == "__main__":
    from tinynet.check import main
    raise SystemExit(main([__file__]))
