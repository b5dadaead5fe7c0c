"""Fully connected layer as one fused op: y = x Wᵀ + b."""
from ..tensor import Function


class Linear(Function):
    """y = x @ Wᵀ + b.   x (…, in), W (out, in) as in PyTorch, b (out,) → y (…, out).

    dx = dy @ W;   dW = dyᵀ @ x (summed over all leading axes);   db = Σ dy over leading axes.
    A frozen W (no gradient wanted) skips the dW product entirely.
    """
    def forward(self, x, w, b=None):
        self.x, self.w = x, w
        y = x @ w.T
        if b is not None:
            y += b
        return y

    def backward(self, gy):
        gx = gy @ self.w if self.needs_input_grad[0] else None
        g2, x2 = gy.reshape(-1, gy.shape[-1]), self.x.reshape(-1, self.x.shape[-1])
        gw = g2.T @ x2 if self.needs_input_grad[1] else None
        gb = g2.sum(axis=0) if len(self.needs_input_grad) > 2 and self.needs_input_grad[2] else None
        return gx, gw, gb


def linear(x, weight, bias=None):
    """y = x @ weightᵀ + bias with weight (out_features, in_features)."""
    if weight.ndim != 2:
        raise ValueError(f"linear: weight must have shape (out_features, in_features), got {weight.shape}")
    if x.ndim < 1 or x.shape[-1] != weight.shape[1]:
        raise ValueError(f"linear: input of shape {x.shape} has {x.shape[-1] if x.ndim else 0} features in its last "
                         f"dimension, but the weight {weight.shape} expects {weight.shape[1]}")
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ValueError(f"linear: bias must have shape ({weight.shape[0]},), got {bias.shape}")
    return Linear()(x, weight) if bias is None else Linear()(x, weight, bias)
