"""Matrix product with NumPy's ``matmul`` rules: batched over leading axes, which broadcast."""
from ..tensor import Function, sum_to


def _mT(a):
    return a.swapaxes(-1, -2)


class MatMul(Function):
    """Z = X @ Y,  X (…, n, k), Y (…, k, m) → Z (…, n, m).

    dX = dZ @ Yᵀ,  dY = Xᵀ @ dZ, then summed over any batch axes that were broadcast.
    A 1-D X is a row (1, k) and a 1-D Y a column (k, 1), as in NumPy.
    """
    def forward(self, x, y):
        if x.ndim == 0 or y.ndim == 0 or x.shape[-1] != y.shape[-2 if y.ndim > 1 else 0]:
            raise ValueError(f"matmul: shapes {tuple(x.shape)} and {tuple(y.shape)} cannot be multiplied "
                             f"(the last axis of the first must equal the "
                             f"{'second-to-last' if y.ndim > 1 else 'only'} axis of the second)")
        self.x, self.y = x, y
        return x @ y

    def backward(self, gz):
        x, y = self.x, self.y
        x2 = x.reshape(1, -1) if x.ndim == 1 else x
        y2 = y.reshape(-1, 1) if y.ndim == 1 else y
        # put back the axes that matmul removed for 1-D operands
        if x.ndim == 1:
            gz = gz.reshape(gz.shape[:-1] + (1,) + gz.shape[-1:]) if y.ndim > 1 else gz.reshape(1, 1)
        if y.ndim == 1:
            gz = gz.reshape(gz.shape + (1,))
        gx = sum_to(gz @ _mT(y2), x2.shape).reshape(x.shape) if self.needs_input_grad[0] else None
        gy = sum_to(_mT(x2) @ gz, y2.shape).reshape(y.shape) if self.needs_input_grad[1] else None
        return gx, gy


def matmul(x, y):
    return MatMul()(x, y)
