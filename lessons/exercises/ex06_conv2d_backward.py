"""Exercise 06 · The backward pass of a convolution                      (lesson 04)

Stride 1, no padding. x (N, C, H, W), w (OC, C, KH, KW), b (OC,). The forward pass is written
for you with im2col (exercise 05): for each image n,

    colₙ = im2col(xₙ)                (C·KH·KW, L)      L = OH·OW output positions
    yₙ   = W2 @ colₙ + b             (OC, L)           W2 = w.reshape(OC, C·KH·KW)

Backward receives gy (N, OC, OH, OW) and must return (∂L/∂x, ∂L/∂w, ∂L/∂b), each shaped like
its input; it is written for you and calls one method per gradient, which you write (and the
checker grades one by one). Per image this is the fully connected layer of exercise 04 with colₙ as the input;
the bias and the weights are shared by all N images and all L positions, so their gradients
add up over both. ∂L/∂colₙ goes back to the pixels with ``col2im`` (given): every pixel
collects the gradient of every window it was copied into.

Fill in each ``# TODO`` and remove the ``raise NotImplementedError`` under it. Check your work:

    tinynet check lessons/exercises/ex06_conv2d_backward.py
"""
import numpy as np

import tinynet as tn

EXERCISE = "conv2d_backward"


def im2col(x, KH, KW):
    """x (N, C, H, W) → (N, C·KH·KW, OH·OW), stride 1, no padding."""
    N, C, H, W = x.shape
    OH, OW = H - KH + 1, W - KW + 1
    col = np.empty((N, C, KH, KW, OH, OW), dtype=x.dtype)
    for i in range(KH):
        for j in range(KW):
            col[:, :, i, j] = x[:, :, i:i + OH, j:j + OW]
    return col.reshape(N, C * KH * KW, OH * OW)


def col2im(col, x_shape, KH, KW):
    """The adjoint of im2col: (N, C·KH·KW, OH·OW) → (N, C, H, W), overlapping windows add up."""
    N, C, H, W = x_shape
    OH, OW = H - KH + 1, W - KW + 1
    col = col.reshape(N, C, KH, KW, OH, OW)
    x = np.zeros(x_shape, dtype=col.dtype)
    for i in range(KH):
        for j in range(KW):
            x[:, :, i:i + OH, j:j + OW] += col[:, :, i, j]
    return x


class Conv2d(tn.Function):
    def forward(self, x, w, b):
        N, C, H, W = x.shape
        OC, _, KH, KW = w.shape
        self.x_shape, self.w_shape = x.shape, w.shape
        self.col = im2col(x, KH, KW)                          # (N, C·KH·KW, L)
        self.w2 = w.reshape(OC, -1)                           # (OC, C·KH·KW)
        y = self.w2 @ self.col + b.reshape(1, OC, 1)          # (N, OC, L)
        return y.reshape(N, OC, H - KH + 1, W - KW + 1)

    def backward(self, gy):
        N, OC = gy.shape[:2]
        gy = gy.reshape(N, OC, -1)                            # (N, OC, L)
        return self.grad_input(gy), self.grad_weight(gy), self.grad_bias(gy)

    def grad_bias(self, gy):
        """gy (N, OC, L) → ∂L/∂b, shape (OC,)."""
        # TODO: ∂L/∂b
        raise NotImplementedError

    def grad_weight(self, gy):
        """gy (N, OC, L) → ∂L/∂w, shape (OC, C, KH, KW)."""
        # TODO: ∂L/∂w
        raise NotImplementedError

    def grad_input(self, gy):
        """gy (N, OC, L) → ∂L/∂x, shape (N, C, H, W), through col2im."""
        KH, KW = self.w_shape[2:]
        # TODO: ∂L/∂x
        raise NotImplementedError


def conv2d(x, weight, bias):
    return Conv2d()(x, weight, bias)


if __name__ == "__main__":
    from tinynet.check import main
    raise SystemExit(main([__file__]))
