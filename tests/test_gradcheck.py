"""``tinynet.gradcheck`` and ``tinynet.numerical_grad`` themselves, on every backend."""
import numpy as np
import pytest

import tinynet as tn
from strategies import host, tensor
from tinynet import Function, GradcheckError


class Square(Function):
    """y = x², with a correct backward."""
    def forward(self, x):
        self.x = x
        return x * x

    def backward(self, gy):
        return 2 * self.x * gy


class BadSquare(Square):
    """y = x², with a backward that is wrong at one element only, (1, 2)."""
    def backward(self, gy):
        g = 2 * self.x * gy
        g[1, 2] += 1.0
        return g


class ForgetfulMul(Function):
    """z = x * y whose backward forgets y's gradient."""
    def forward(self, x, y):
        self.x, self.y = x, y
        return x * y

    def backward(self, gz):
        return gz * self.y, None


def _b():
    return np.array([[0.5, -1.0, 2.0], [1.25, -0.75, 1.5]])


def test_passes_on_right_gradients(backend):
    a = tensor(np.array([[1.0, 2.0, -3.0], [0.5, -1.5, 2.5]]))
    assert tn.gradcheck(lambda t: Square()(t), a) is True
    assert tn.gradcheck(lambda t, u: (t * u).exp().sum(), a, tensor(_b())) is True
    assert tn.gradcheck(lambda t: t.softmax() @ tensor(np.ones((3, 2)), requires_grad=False), a) is True


def test_wrong_gradient_raises_naming_input_index_values_and_relative_error(backend):
    a, b = tensor(np.ones((2, 3))), tensor(_b())
    with pytest.raises(GradcheckError) as e:
        tn.gradcheck(lambda s, t: (s * s).sum() + BadSquare()(t).sum(), a, b)
    msg = str(e.value)
    assert "input 1" in msg                       # the second input; the first one is right
    assert "(1, 2)" in msg                        # the element that is wrong
    assert "analytic 4" in msg and "numerical 3" in msg   # 2·1.5 + 1 against 2·1.5
    assert "relative error 0.333" in msg
    assert isinstance(e.value, AssertionError)    # so pytest shows it as a failed check


def test_wrong_gradient_of_non_scalar_output_is_caught(backend):
    b = tensor(_b())
    with pytest.raises(GradcheckError, match=r"input 0 .*\(1, 2\)"):
        tn.gradcheck(lambda t: BadSquare()(t), b)


def test_missing_gradient_is_caught(backend):
    x, y = tensor(np.array([1.0, 2.0])), tensor(np.array([3.0, -4.0]))
    assert tn.gradcheck(lambda s, t: ForgetfulMul()(s, t), x, tensor(np.array([3.0, -4.0]), requires_grad=False))
    with pytest.raises(GradcheckError, match="input 1"):
        tn.gradcheck(lambda s, t: ForgetfulMul()(s, t), x, y)


def test_random_direction_mode(backend):
    x = tensor(np.random.default_rng(0).normal(size=(6, 7)))
    assert tn.gradcheck(lambda t: (t.tanh() * t).sum(axis=0), x, directions=4) is True
    with pytest.raises(GradcheckError, match="random direction"):
        tn.gradcheck(lambda t: BadSquare()(t), tensor(_b()), directions=3)


def test_inputs_are_cast_to_float64_and_left_untouched(backend):
    x = tensor(np.array([[0.3, -1.2, 2.0]]), dtype="float32")
    before = host(x).copy()
    # float32 central differences with eps = 1e-6 would be far off; float64 ones pass tightly
    assert tn.gradcheck(lambda t: t.exp().sum(), x, atol=1e-8, rtol=1e-7)
    assert x.dtype == "float32" and x.grad is None
    np.testing.assert_array_equal(host(x), before)


def test_non_contiguous_inputs(backend):
    x = tensor(np.arange(6.0).reshape(2, 3)) .T.detach().requires_grad_()   # a transposed view
    assert tn.gradcheck(lambda t: (t * t * tensor(np.arange(6.0).reshape(3, 2), False)).sum(), x)


def test_outputs_of_one_or_no_elements(backend):
    x = tensor(np.array([[1.0, 2.0]]))
    assert tn.gradcheck(lambda t: (t * t).sum(axis=1), x)                 # shape (1,)
    assert tn.gradcheck(lambda t: t[t > 5.0], x)                          # shape (0,)


def test_integer_and_frozen_inputs_are_skipped(backend):
    x = tensor(np.array([1.0, 2.0, 3.0]))
    idx = tensor(np.array([2, 0, 2]), requires_grad=False)
    frozen = tensor(np.array([1.0, -1.0, 0.5]), requires_grad=False)
    assert tn.gradcheck(lambda t, i, f: t[i] * f, x, idx, frozen)


def test_numerical_grad_of_square_is_twice_x(backend):
    for dtype in ("float64", "float32"):
        x = tensor(np.array([[1.0, -2.0, 3.5], [0.0, 0.25, -7.0]]), dtype=dtype)
        data = x.data
        g = tn.numerical_grad(lambda t: (t * t).sum(), x)
        np.testing.assert_allclose(host(g), 2 * host(x).astype("float64"), rtol=1e-8, atol=1e-8)
        assert x.data is data and x.dtype == dtype                      # restored afterwards
        np.testing.assert_array_equal(host(x), np.array([[1.0, -2.0, 3.5], [0.0, 0.25, -7.0]], dtype=dtype))


def test_numerical_grad_of_cube_at_two_is_twelve(backend):
    g = tn.numerical_grad(lambda t: t ** 3, tn.tensor([2.0]))
    assert host(g) == pytest.approx([12.0], rel=1e-8)


def test_numerical_grad_of_non_contiguous_input(backend):
    x = tensor(np.arange(6.0).reshape(2, 3)).T.detach()
    w = tensor(np.arange(6.0).reshape(3, 2) + 1, requires_grad=False)
    np.testing.assert_allclose(host(tn.numerical_grad(lambda t: (t * w).sum(), x)), host(w), rtol=1e-8)
