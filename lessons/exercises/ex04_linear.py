"""Exercise 04 · The fully connected layer, forward and backward          (lesson 03)

A batch of N row vectors x (N, in), weight W (out, in) — PyTorch's layout — and bias b (out,):

    y = x Wᵀ + b                                         y has shape (N, out)

Backward gets gy = ∂L/∂y (N, out) and returns one gradient per input, each with the shape of
that input: ∂L/∂x (N, in), ∂L/∂W (out, in), ∂L/∂b (out,). Write y element by element,
yₙ,ₒ = Σᵢ xₙ,ᵢ Wₒ,ᵢ + bₒ, and differentiate; then turn the sums back into matrix products.

Fill in each ``# TODO`` and remove the ``raise NotImplementedError`` under it. Check your work:

    tinynet check lessons/exercises/ex04_linear.py
"""
import tinynet as tn

EXERCISE = "linear"


class Linear(tn.Function):
    def forward(self, x, w, b):
        # TODO: return x Wᵀ + b; save on self what backward needs
        raise NotImplementedError

    def backward(self, gy):
        # TODO: return the tuple (∂L/∂x, ∂L/∂W, ∂L/∂b)
        raise NotImplementedError


def linear(x, weight, bias):
    return Linear()(x, weight, bias)


if __name__ == "__main__":
    from tinynet.check import main
    raise SystemExit(main([__file__]))
