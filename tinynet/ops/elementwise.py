"""Elementwise arithmetic: + - * / ** and unary functions, with NumPy broadcasting.

Broadcasting is undone in backward by ``sum_to`` (a gradient is summed over the axes an input
was stretched along), so each op below states only its local derivative.
"""
import numbers

from .. import backend
from ..tensor import Function, sum_to


class Add(Function):
    """z = x + y.   dz/dx = 1,  dz/dy = 1."""
    def forward(self, x, y):
        self.shapes = x.shape, y.shape
        return x + y

    def backward(self, gz):
        return sum_to(gz, self.shapes[0]), sum_to(gz, self.shapes[1])


class Sub(Function):
    """z = x - y.   dz/dx = 1,  dz/dy = -1."""
    def forward(self, x, y):
        self.shapes = x.shape, y.shape
        return x - y

    def backward(self, gz):
        return sum_to(gz, self.shapes[0]), sum_to(-gz, self.shapes[1])


class Mul(Function):
    """z = x * y.   dz/dx = y,  dz/dy = x."""
    def forward(self, x, y):
        self.x, self.y = x, y
        return x * y

    def backward(self, gz):
        gx = sum_to(gz * self.y, self.x.shape) if self.needs_input_grad[0] else None
        gy = sum_to(gz * self.x, self.y.shape) if self.needs_input_grad[1] else None
        return gx, gy


class Div(Function):
    """z = x / y.   dz/dx = 1/y,  dz/dy = -x/y²."""
    def forward(self, x, y):
        self.x, self.y = x, y
        return x / y

    def backward(self, gz):
        gx = sum_to(gz / self.y, self.x.shape) if self.needs_input_grad[0] else None
        gy = sum_to(-gz * self.x / (self.y * self.y), self.y.shape) if self.needs_input_grad[1] else None
        return gx, gy


class Neg(Function):
    """z = -x.   dz/dx = -1."""
    def forward(self, x):
        return -x

    def backward(self, gz):
        return -gz


class Pow(Function):
    """z = x ** p for a constant scalar p.   dz/dx = p · x^(p-1)."""
    def __init__(self, p):
        self.p = p

    def forward(self, x):
        self.x = x
        return x ** self.p

    def backward(self, gz):
        p = self.p
        if p == 0:                      # d/dx x⁰ = 0, also at x = 0 (not 0 · 0⁻¹ = nan)
            return gz * 0
        return gz * p * self.x ** (p - 1)


class Exp(Function):
    """z = eˣ.   dz/dx = eˣ = z."""
    def forward(self, x):
        self.z = backend.array_module(x).exp(x)
        return self.z

    def backward(self, gz):
        return gz * self.z


class Log(Function):
    """z = ln x.   dz/dx = 1/x."""
    def forward(self, x):
        self.x = x
        return backend.array_module(x).log(x)

    def backward(self, gz):
        return gz / self.x


class Sqrt(Function):
    """z = √x.   dz/dx = 1 / (2√x) = 1 / (2z)."""
    def forward(self, x):
        self.z = backend.array_module(x).sqrt(x)
        return self.z

    def backward(self, gz):
        return gz / (2 * self.z)


class Abs(Function):
    """z = |x|.   dz/dx = sign(x)  (0 at x = 0, as in PyTorch)."""
    def forward(self, x):
        self.x = x
        return backend.array_module(x).abs(x)

    def backward(self, gz):
        return gz * backend.array_module(gz).sign(self.x)


def add(x, y): return Add()(x, y)
def sub(x, y): return Sub()(x, y)
def mul(x, y): return Mul()(x, y)
def div(x, y): return Div()(x, y)
def neg(x): return Neg()(x)
def exp(x): return Exp()(x)
def log(x): return Log()(x)
def sqrt(x): return Sqrt()(x)
def abs(x): return Abs()(x)   # noqa: A001  (the PyTorch name)


def pow(x, p):  # noqa: A001
    """x ** p with a constant (Python number) exponent."""
    if not isinstance(p, numbers.Real):
        raise TypeError(f"pow: only a constant Python number is supported as exponent, got {type(p).__name__}")
    # a NumPy scalar (numpy.float64 is a float) would upcast float32 data: use the Python number
    return Pow(int(p) if isinstance(p, numbers.Integral) else float(p))(x)
