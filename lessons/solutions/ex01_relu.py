"""Exercise 01 · ReLU, forward and backward                              (lesson 03)

ReLU(x) = max(0, x), element by element.

A tinynet operation is a ``Function`` with two methods that work on plain arrays:
``forward(x)`` returns y and saves on ``self`` what the backward pass will need;
``backward(gy)`` receives gy = ∂L/∂y (same shape as y) and returns ∂L/∂x, by the chain rule

    ∂L/∂x = ∂L/∂y · ∂y/∂x,   where ∂y/∂x = 1 if x > 0 and 0 if x < 0.

At exactly x = 0 the derivative does not exist; use 0 there, as PyTorch and tinynet do.

Fill in each ``# TODO`` and remove the ``raise NotImplementedError`` under it. Check your work:

    tinynet check lessons/exercises/ex01_relu.py      (or: python -m tinynet.check FILE)
"""
import tinynet as tn

EXERCISE = "relu"


class ReLU(tn.Function):
    def forward(self, x):
        # TODO: return max(0, x) with x's shape and dtype; save on self what backward needs
        ### BEGIN SOLUTION
        self.mask = x > 0
        return x * self.mask
        ### END SOLUTION

    def backward(self, gy):
        # TODO: return ∂L/∂x, an array shaped like x
        ### BEGIN SOLUTION
        return gy * self.mask
        ### END SOLUTION


def relu(x):
    """ReLU of a Tensor, recorded in the graph so that backward() reaches x."""
    return ReLU()(x)


if __name__ == "__main__":
    from tinynet.check import main
    raise SystemExit(main([__file__]))
