"""Exercise 07 · The backward pass of max pooling                        (lesson 05)

x (N, C, H, W), a K×K window moved by stride S, no padding:

    y[n, c, oh, ow] = max_{0≤i,j<K} x[n, c, oh·S + i, ow·S + j]

Each output is a copy of one input — the winner of its window. So the gradient of each
output goes to that one position, and nowhere else. Two things to get right:
- ties: after a ReLU whole windows are 0. The output still came from one input, so only one
  position may receive the gradient; take the first in row-major order, as PyTorch does;
- overlapping windows (S < K): a pixel can win several windows and collects all their gradients.

The forward pass is written for you. Loops over the output positions are fine here.

Fill in each ``# TODO`` and remove the ``raise NotImplementedError`` under it. Check your work:

    tinynet check lessons/exercises/ex07_maxpool_backward.py
"""
import numpy as np

import tinynet as tn

EXERCISE = "maxpool_backward"


class MaxPool2d(tn.Function):
    def __init__(self, kernel_size, stride):
        self.K, self.S = kernel_size, stride

    def forward(self, x):
        K, S = self.K, self.S
        N, C, H, W = x.shape
        OH, OW = (H - K) // S + 1, (W - K) // S + 1
        y = np.empty((N, C, OH, OW), dtype=x.dtype)
        for oh in range(OH):
            for ow in range(OW):
                y[:, :, oh, ow] = x[:, :, oh * S:oh * S + K, ow * S:ow * S + K].max(axis=(2, 3))
        self.x = x
        return y

    def backward(self, gy):
        K, S, x = self.K, self.S, self.x
        N, C, OH, OW = gy.shape
        gx = np.zeros_like(x)
        # TODO: route each gy[n, c, oh, ow] to the first maximum of its window, adding up
        ### BEGIN SOLUTION
        for oh in range(OH):
            for ow in range(OW):
                window = x[:, :, oh * S:oh * S + K, ow * S:ow * S + K].reshape(N, C, K * K)
                first = window.argmax(axis=2)                       # argmax returns the first maximum
                i, j = np.divmod(first, K)
                n, c = np.meshgrid(np.arange(N), np.arange(C), indexing="ij")
                np.add.at(gx, (n, c, oh * S + i, ow * S + j), gy[:, :, oh, ow])
        ### END SOLUTION
        return gx


def max_pool2d(x, kernel_size, stride=None):
    return MaxPool2d(kernel_size, stride or kernel_size)(x)


if __name__ == "__main__":
    from tinynet.check import main
    raise SystemExit(main([__file__]))
