"""Grade one exercise file:  ``tinynet check FILE``  or  ``python -m tinynet.check FILE``.

An exercise file (``lessons/exercises/``, or a student's copy anywhere) says which exercise it
is with ``EXERCISE = "softmax_ce"``. Each exercise has parts; a part runs the student's code
on random inputs and compares the result with tinynet's own implementation and with finite
differences (``tinynet.gradcheck``). Each part prints PASS or FAIL. A failure says what
differed, where and by how much, recognises common slips (a constant factor, a transpose, a
sign), and gives a hint that points at the formula to look at — never at the code.
The exit status is 0 only when every part passes.
"""
import contextlib
import importlib.util
import signal
import sys
import threading
import traceback
from pathlib import Path

from . import backend
from . import functional as F
from . import nn, optim
from .gradcheck import GradcheckError, gradcheck
from .tensor import Tensor

np = backend.get_module("numpy")      # host-side test inputs, as in gradcheck

EXERCISES = {}                        # name -> (title, [(part title, hint, function)])


class Failed(AssertionError):
    """A part failed: ``problem`` says what differed; ``hint``, if given, replaces the part's."""

    def __init__(self, problem, hint=None):
        super().__init__(problem)
        self.problem, self.hint = problem, hint


def exercise(name, title):
    EXERCISES[name] = (title, [])


def part(name, title, hint):
    def register(fn):
        EXERCISES[name][1].append((title, hint, fn))
        return fn
    return register


# --- comparing arrays ------------------------------------------------------------------------
def _array(v, what):
    if v is None:
        raise Failed(f"{what} is None: nothing was returned")
    if isinstance(v, Tensor):
        v = v.data
    return np.asarray(backend.to_numpy(v) if backend.is_array(v) else v, dtype="float64")


def _diagnose(got, want):
    """Name a common slip: a constant factor, a transpose, a sign."""
    if got.shape == want.shape and got.ndim >= 2 and got.shape[-1] == got.shape[-2] and \
            np.allclose(np.swapaxes(got, -1, -2), want, rtol=1e-4, atol=1e-7):
        return " It equals the expected array transposed."
    if np.allclose(got, -want, rtol=1e-4, atol=1e-7):
        return " It is the expected array with the opposite sign."
    big = np.abs(want) > 1e-6 * max(np.abs(want).max(), 1e-30)
    if big.sum() >= 2:
        r = got[big] / want[big]
        if np.all(np.abs(r - r.mean()) <= 1e-3 * abs(r.mean())) and abs(r.mean() - 1) > 1e-2:
            return f" Every value is {r.mean():.4g} × the expected one."
    return ""


def expect_close(what, got, want, atol=1e-6, rtol=1e-5):
    """Fail with a clear message unless ``got`` ≈ ``want`` (same shape, every element)."""
    got, want = _array(got, what), _array(want, "the reference")
    if got.shape != want.shape:
        extra = " (the transpose of the expected shape)" if got.shape == want.shape[::-1] and got.ndim > 1 else ""
        raise Failed(f"{what} has shape {got.shape}, expected {want.shape}{extra}.")
    if not np.all(np.isfinite(got)):
        raise Failed(f"{what} contains {'nan' if np.isnan(got).any() else 'inf'} values.")
    err = np.abs(got - want)
    bad = err > atol + rtol * np.abs(want)
    if bad.any():
        i = np.unravel_index(np.argmax(err - rtol * np.abs(want)), got.shape)
        where = f" at index {tuple(int(k) for k in i)}" if got.ndim else ""
        raise Failed(f"{what}: got {got[i]:.6g}{where}, expected {want[i]:.6g} "
                     f"({int(bad.sum())} of {got.size} values differ; largest difference {err.max():.3g})."
                     + _diagnose(got, want))


def _grads(fn, arrays, gy=None):
    """Run fn on fresh tensors that require grad, then backward(gy); return (output, [grads])."""
    ts = [Tensor(a.copy(), requires_grad=True) for a in arrays]
    out = fn(*ts)
    if not isinstance(out, Tensor):
        raise Failed(f"the function returned {type(out).__name__}, not a Tensor.")
    out.backward(None if gy is None else np.asarray(gy, dtype=out.dtype))
    return out, [t.grad for t in ts]


def _get(mod, name):
    if not hasattr(mod, name):
        raise Failed(f"the file defines no `{name}` (the exercise's name for it); did you rename it?")
    return getattr(mod, name)


def _gradcheck(fn, *arrays):
    try:
        gradcheck(fn, *[Tensor(a.astype("float64"), requires_grad=True) for a in arrays])
    except GradcheckError as e:
        raise Failed(f"finite differences disagree with your backward: {e}.") from None


# --- 01 ReLU -----------------------------------------------------------------------------------
exercise("relu", "ReLU, forward and backward")
_RELU_HINT = ("ReLU's derivative is 1 where x > 0 and 0 where x < 0 (use 0 at x = 0); by the chain rule "
              "∂L/∂x = ∂L/∂y · ∂y/∂x, so backward multiplies the incoming gy by it.")


@part("relu", "forward: relu(x) = max(0, x)", "ReLU keeps the positive values and replaces the others by 0.")
def _(mod):
    x = np.random.default_rng(1).standard_normal((3, 4, 5)).astype("float32")
    expect_close("relu(x)", _get(mod, "relu")(Tensor(x)), F.relu(Tensor(x)))


@part("relu", "backward: ∂L/∂x equals tinynet's (zeros included)", _RELU_HINT)
def _(mod):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4, 6)).astype("float32")
    x[0, :3] = 0.0
    gy = rng.standard_normal((4, 6)).astype("float32")
    _, (got,) = _grads(_get(mod, "relu"), [x], gy)
    _, (want,) = _grads(F.relu, [x], gy)
    expect_close("∂L/∂x", got, want)


@part("relu", "gradient check with finite differences", _RELU_HINT)
def _(mod):
    x = np.random.default_rng(3).standard_normal((3, 5))
    x[np.abs(x) < 0.05] = 0.5                       # away from the kink
    _gradcheck(_get(mod, "relu"), x)


# --- 02 sigmoid --------------------------------------------------------------------------------
exercise("sigmoid", "sigmoid, stable forward and backward")
_SIG_HINT = "dσ/dx = σ(x)(1 − σ(x)); backward multiplies the incoming gy by it."


@part("sigmoid", "forward: σ(x) = 1 / (1 + e^−x)", "σ(x) = 1 / (1 + e^−x), element by element.")
def _(mod):
    x = np.random.default_rng(4).standard_normal((5, 7)).astype("float32") * 3
    expect_close("sigmoid(x)", _get(mod, "sigmoid")(Tensor(x)), F.sigmoid(Tensor(x)))


@part("sigmoid", "no overflow for x = ±1000", "e^−x overflows when x is large and negative; the docstring's form "
      "with e = e^−|x| ≤ 1 never does.")
def _(mod):
    x = np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0])
    try:
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            y = _get(mod, "sigmoid")(Tensor(x))
    except FloatingPointError as e:
        raise Failed(f"computing σ of {x.tolist()} overflowed ({e}).") from None
    expect_close("sigmoid([-1000, -50, 0, 50, 1000])", y, F.sigmoid(Tensor(x)), atol=1e-12)


@part("sigmoid", "backward: ∂L/∂x equals tinynet's", _SIG_HINT)
def _(mod):
    rng = np.random.default_rng(5)
    x, gy = rng.standard_normal((4, 6)) * 3, rng.standard_normal((4, 6))
    expect_close("∂L/∂x", _grads(_get(mod, "sigmoid"), [x], gy)[1][0], _grads(F.sigmoid, [x], gy)[1][0])


@part("sigmoid", "gradient check with finite differences", _SIG_HINT)
def _(mod):
    _gradcheck(_get(mod, "sigmoid"), np.random.default_rng(6).standard_normal((3, 4)) * 2)


# --- 03 softmax cross-entropy ----------------------------------------------------------------
exercise("softmax_ce", "softmax cross-entropy, forward and backward")
_CE_BACK_HINT = ("For one sample ∂ℓₙ/∂zₙ = softmax(zₙ) − onehot(tₙ). L = (1/N) Σₙ ℓₙ is a mean, and its "
                 "factor stays in the gradient; backward must also multiply by the gy it receives.")


def _ce_inputs(seed, n=6, c=5, scale=1.0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, c)) * scale, rng.integers(0, c, n)


@part("softmax_ce", "forward: L = mean over the batch of −log softmax(z)[n, tₙ]",
      "ℓₙ = −log softmax(zₙ)[tₙ] = −zₙ,tₙ + log Σₖ e^{zₙ,ₖ}, and L is the mean of ℓₙ over the N samples.")
def _(mod):
    z, t = _ce_inputs(7)
    got = _get(mod, "cross_entropy")(Tensor(z), t)
    expect_close("the loss", got, F.cross_entropy(Tensor(z), t))


@part("softmax_ce", "stable for logits of size 1000",
      "e^1000 overflows: subtract each row's maximum before exponentiating; log Σ e^z = m + log Σ e^(z − m).")
def _(mod):
    z, t = _ce_inputs(8, scale=1000.0)
    with np.errstate(all="ignore"):
        got = _get(mod, "cross_entropy")(Tensor(z), t)
    expect_close("the loss for large logits", got, F.cross_entropy(Tensor(z), t), rtol=1e-6)


@part("softmax_ce", "backward: ∂L/∂z equals tinynet's", _CE_BACK_HINT)
def _(mod):
    z, t = _ce_inputs(9, n=7, c=4)
    got = _grads(lambda a: _get(mod, "cross_entropy")(a, t) * 2.5, [z])[1][0]
    want = _grads(lambda a: F.cross_entropy(a, t) * 2.5, [z])[1][0]
    expect_close("∂(2.5·L)/∂z", got, want)


@part("softmax_ce", "gradient check with finite differences", _CE_BACK_HINT)
def _(mod):
    z, t = _ce_inputs(10)
    _gradcheck(lambda a: _get(mod, "cross_entropy")(a, t), z)


# --- 04 linear -------------------------------------------------------------------------------
exercise("linear", "the fully connected layer, forward and backward")
_LIN_HINT = ("Each gradient has the shape of its input. Write yₙₒ = Σᵢ xₙᵢ Wₒᵢ + bₒ and differentiate with "
             "respect to xₙᵢ, Wₒᵢ and bₒ: which index is summed over in each case?")


def _lin_inputs(seed, n, i, o):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s) for s in ((n, i), (o, i), (o,))] + [rng.standard_normal((n, o))]


@part("linear", "forward: y = x Wᵀ + b", "W has shape (out, in): x (N, in) is multiplied by Wᵀ (in, out).")
def _(mod):
    x, w, b, _ = _lin_inputs(11, 5, 4, 3)
    expect_close("y", _get(mod, "linear")(Tensor(x), Tensor(w), Tensor(b)), F.linear(Tensor(x), Tensor(w), Tensor(b)))


def _linear_grads(mod, seed, n, i, o):
    x, w, b, gy = _lin_inputs(seed, n, i, o)
    _, got = _grads(_get(mod, "linear"), [x, w, b], gy)
    _, want = _grads(F.linear, [x, w, b], gy)
    for name, g, r in zip(("∂L/∂x", "∂L/∂W", "∂L/∂b"), got, want):
        expect_close(name, g, r)


@part("linear", "backward with in ≠ out (5 samples, 4 → 3)", _LIN_HINT)
def _(mod):
    _linear_grads(mod, 12, 5, 4, 3)


@part("linear", "backward with a square weight (4 → 4)", _LIN_HINT)
def _(mod):
    _linear_grads(mod, 13, 6, 4, 4)


@part("linear", "gradient check with finite differences", _LIN_HINT)
def _(mod):
    x, w, b, _ = _lin_inputs(14, 3, 4, 2)
    _gradcheck(_get(mod, "linear"), x, w, b)


# --- 05 im2col -------------------------------------------------------------------------------
exercise("im2col", "im2col")
_IM2COL_CASES = [((2, 3, 5, 6), 3, 1, 0), ((1, 2, 7, 7), (2, 3), 2, 1), ((3, 1, 6, 5), 3, (2, 1), (1, 0))]


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def _im2col_reference(x, k, s, p):
    """im2col through tinynet's conv2d: one one-hot kernel per (c, i, j) copies that window entry."""
    (KH, KW), C = _pair(k), x.shape[1]
    eye = np.eye(C * KH * KW).reshape(C * KH * KW, C, KH, KW)
    y = F.conv2d(Tensor(x), Tensor(eye), stride=_pair(s), padding=_pair(p)).numpy()
    return y.reshape(y.shape[0], y.shape[1], -1)


@part("im2col", "output shape (N, C·KH·KW, OH·OW)",
      "OH = (H + 2·PH − KH) // SH + 1 and OW likewise; one row per (c, i, j), one column per (oh, ow).")
def _(mod):
    for shape, k, s, p in _IM2COL_CASES:
        got = _array(_get(mod, "im2col")(np.zeros(shape), k, s, p), "im2col's result")
        want = _im2col_reference(np.zeros(shape), k, s, p).shape
        if got.shape != want:
            raise Failed(f"for x {shape}, kernel {k}, stride {s}, padding {p}: shape {got.shape}, expected {want}.")


@part("im2col", "values: stride 1, no padding",
      "col[n, (c, i, j), (oh, ow)] = x_padded[n, c, oh·SH + i, ow·SW + j]: rows in (c, i, j) order, columns in (oh, ow) order.")
def _(mod):
    shape, k, s, p = _IM2COL_CASES[0]
    x = np.random.default_rng(15).standard_normal(shape)
    expect_close(f"im2col(x {shape}, {k})", _get(mod, "im2col")(x, k, s, p), _im2col_reference(x, k, s, p))


@part("im2col", "values: strides, padding and a non-square kernel",
      "Padding adds PH zero rows above and below and PW zero columns left and right; the window of output (oh, ow) "
      "starts at row oh·SH and column ow·SW of the padded image.")
def _(mod):
    for seed, (shape, k, s, p) in enumerate(_IM2COL_CASES[1:]):
        x = np.random.default_rng(16 + seed).standard_normal(shape)
        expect_close(f"im2col(x {shape}, kernel {k}, stride {s}, padding {p})", _get(mod, "im2col")(x, k, s, p),
                     _im2col_reference(x, k, s, p))


@part("im2col", "a convolution through your im2col equals tinynet's conv2d",
      "With w (OC, C, KH, KW), conv2d = w.reshape(OC, −1) @ col, reshaped to (N, OC, OH, OW).")
def _(mod):
    rng = np.random.default_rng(18)
    x, w = rng.standard_normal((2, 3, 8, 7)), rng.standard_normal((4, 3, 3, 3))
    col = _array(_get(mod, "im2col")(x, 3, 2, 1), "im2col's result")
    got = (w.reshape(4, -1) @ col).reshape(2, 4, 4, 4)
    expect_close("conv2d via your im2col", got, F.conv2d(Tensor(x), Tensor(w), stride=2, padding=1))


# --- 06 conv2d backward -----------------------------------------------------------------------
exercise("conv2d_backward", "the backward pass of a convolution")


def _conv_part(mod, seed, k):
    """One gradient (0 input, 1 weight, 2 bias) from the student's grad_* method, and tinynet's."""
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal((2, 3, 6, 5)), rng.standard_normal((4, 3, 3, 2)), rng.standard_normal(4)]
    gy = rng.standard_normal((2, 4, 4, 4))
    fn = _get(mod, "Conv2d")()
    fn.forward(*[a.copy() for a in arrays])
    method = ("grad_input", "grad_weight", "grad_bias")[k]
    got = _get(fn, method)(gy.reshape(2, 4, -1))
    return _array(got, f"{method}'s result"), _grads(F.conv2d, arrays, gy)[1][k]


@part("conv2d_backward", "∂L/∂b (grad_bias)", "b[o] is added at every output position of every image, so its "
      "gradient collects gy over the images and the positions.")
def _(mod):
    got, want = _conv_part(mod, 19, 2)
    expect_close("∂L/∂b", got, want)


@part("conv2d_backward", "∂L/∂w (grad_weight)", "Per image, yₙ = W2 @ colₙ + b is exercise 04's layer with colₙ "
      "as its input; ∂L/∂W2 has W2's shape (OC, C·KH·KW) and adds up the contributions of all N images.")
def _(mod):
    g, want = _conv_part(mod, 20, 1)
    w2 = want.reshape(want.shape[0], -1)
    if g.size == w2.size and np.allclose(g.reshape(-1), w2.T.reshape(-1)):
        raise Failed("∂L/∂w holds the right numbers in the wrong places: they are laid out as (C·KH·KW, OC), the "
                     "transpose of W2's (OC, C·KH·KW). Check the order of the factors in your product.")
    expect_close("∂L/∂w", g, want)


@part("conv2d_backward", "∂L/∂x (grad_input)", "Per image, ∂L/∂colₙ follows from exercise 04's rule for ∂L/∂x "
      "applied to yₙ = W2 @ colₙ; col2im then adds every column entry back to the pixel it was copied from.")
def _(mod):
    got, want = _conv_part(mod, 21, 0)
    expect_close("∂L/∂x", got, want)


@part("conv2d_backward", "gradient check with finite differences",
      "Check each of the three gradients against its part above.")
def _(mod):
    rng = np.random.default_rng(22)
    _gradcheck(_get(mod, "conv2d"), rng.standard_normal((1, 2, 5, 4)), rng.standard_normal((3, 2, 2, 3)),
               rng.standard_normal(3))


# --- 07 max-pool backward ----------------------------------------------------------------------
exercise("maxpool_backward", "the backward pass of max pooling")


def _pool_case(mod, x, k, s, seed):
    gy_shape = (x.shape[0], x.shape[1], (x.shape[2] - k) // s + 1, (x.shape[3] - k) // s + 1)
    gy = np.random.default_rng(seed).standard_normal(gy_shape)
    got = _grads(lambda t: _get(mod, "max_pool2d")(t, k, s), [x], gy)[1][0]
    want = _grads(lambda t: F.max_pool2d(t, k, s), [x], gy)[1][0]
    expect_close(f"∂L/∂x ({k}×{k} windows, stride {s})", got, want)


@part("maxpool_backward", "2×2 windows, stride 2", "Each output is a copy of one input, the maximum of its "
      "window; its gradient goes to that position and the others get 0.")
def _(mod):
    _pool_case(mod, np.random.default_rng(23).standard_normal((2, 3, 6, 8)), 2, 2, 24)


@part("maxpool_backward", "ties: windows of equal values (zeros after a ReLU)",
      "When several inputs tie for the maximum, the output still came from one of them: only one position "
      "(the first in row-major order) may receive the gradient, otherwise it is counted several times.")
def _(mod):
    x = np.maximum(0, np.random.default_rng(25).standard_normal((2, 2, 6, 6)) - 0.8)
    x[0, 0, :2, :2] = 0.0
    x[1, 1, 2:4, 2:4] = 1.5
    _pool_case(mod, x, 2, 2, 26)


@part("maxpool_backward", "overlapping windows: 3×3, stride 2",
      "With stride < window a pixel can be the maximum of several windows: it collects the sum of their gradients.")
def _(mod):
    _pool_case(mod, np.random.default_rng(27).standard_normal((2, 2, 7, 9)), 3, 2, 28)


@part("maxpool_backward", "gradient check with finite differences", "See the parts above.")
def _(mod):
    x = np.random.default_rng(29).permutation(2 * 2 * 7 * 7).reshape(2, 2, 7, 7) / 10.0   # distinct values
    _gradcheck(lambda t: _get(mod, "max_pool2d")(t, 3, 2), x)


# --- 08 SGD with momentum ---------------------------------------------------------------------
exercise("sgd_momentum", "SGD with momentum")
_SGD_HINT = ("PyTorch's rule: on a parameter's first step b = g, later b = momentum·b + g (no (1 − momentum) "
             "factor), then p ← p − lr·b; one buffer b per parameter.")


def _params(seed, shapes=((3, 4), (5,))):
    rng = np.random.default_rng(seed)
    return [nn.Parameter(rng.standard_normal(s)) for s in shapes]


def _run_side_by_side(mine, ref, ps, qs, steps, seed):
    """Give both optimizers the same gradients for ``steps`` steps; compare after each."""
    rng = np.random.default_rng(seed)
    for step in range(1, steps + 1):
        for p, q in zip(ps, qs):
            g = rng.standard_normal(p.shape) * 10 ** rng.uniform(-2, 1)
            p.grad, q.grad = g.copy(), g.copy()
        mine.step()
        ref.step()
        for k, (p, q) in enumerate(zip(ps, qs)):
            expect_close(f"parameter {k} after step {step}", p, q, atol=1e-9, rtol=1e-7)


@part("sgd_momentum", "plain SGD (momentum 0): p ← p − lr·g", "Without momentum, p ← p − lr·g, in place.")
def _(mod):
    ps, qs = _params(30), _params(30)
    _run_side_by_side(_get(mod, "SGD")(ps, lr=0.1), optim.SGD(qs, lr=0.1), ps, qs, 2, 31)


@part("sgd_momentum", "momentum 0.9 over 6 steps (as tinynet.optim.SGD)", _SGD_HINT)
def _(mod):
    ps, qs = _params(32), _params(32)
    _run_side_by_side(_get(mod, "SGD")(ps, lr=0.05, momentum=0.9), optim.SGD(qs, lr=0.05, momentum=0.9), ps, qs, 6, 33)


@part("sgd_momentum", "parameters without a gradient, or frozen, are left alone",
      "Skip a parameter when p.grad is None or p.requires_grad is False.")
def _(mod):
    ps = _params(34, ((2, 2), (3,), (4,)))
    before = [p.data.copy() for p in ps]
    ps[0].grad = np.ones((2, 2))
    ps[2].grad = np.ones(4)
    ps[2].requires_grad = False
    _get(mod, "SGD")(ps, lr=0.1, momentum=0.9).step()
    if not np.array_equal(ps[1].data, before[1]):
        raise Failed("a parameter whose .grad is None was changed.")
    if not np.array_equal(ps[2].data, before[2]):
        raise Failed("a frozen parameter (requires_grad False) was changed.")
    expect_close("the parameter with a gradient", ps[0], before[0] - 0.1)


@part("sgd_momentum", "training a Linear layer with autograd (as tinynet.optim.SGD)", _SGD_HINT)
def _(mod):
    rng = np.random.default_rng(35)
    x, y = Tensor(rng.standard_normal((16, 3))), Tensor(rng.standard_normal((16, 2)))
    a, b = nn.Linear(3, 2), nn.Linear(3, 2)
    b.load_state_dict(a.state_dict())
    mine, ref = _get(mod, "SGD")(a.parameters(), lr=0.1, momentum=0.9), optim.SGD(b.parameters(), lr=0.1, momentum=0.9)
    for model, opt in ((a, mine), (b, ref)):
        for _ in range(5):
            opt.zero_grad()
            F.mse_loss(model(x), y).backward()
            opt.step()
    expect_close("the weight after 5 steps", a.weight, b.weight, atol=1e-6)


# --- 09 Adam -----------------------------------------------------------------------------------
exercise("adam", "Adam")
_ADAM_HINT = ("Follow Algorithm 1 line by line: t counts this parameter's steps; m and v start at 0, and the "
              "bias corrections m̂ = m / (1 − β₁ᵗ), v̂ = v / (1 − β₂ᵗ) undo that zero start.")


@part("adam", "first step: every parameter moves by lr · g / (|g| + ε) ≈ lr·sign(g)",
      "After one step m̂ = g and v̂ = g² exactly, whatever the size of g: that is what the bias corrections are for.")
def _(mod):
    g = np.array([1e-3, -0.5, 2.0, -30.0, 1e3])
    p = nn.Parameter(np.zeros(5))
    p.grad = g.copy()
    _get(mod, "Adam")([p], lr=0.01).step()
    expect_close("the first step", p, -0.01 * g / (np.abs(g) + 1e-8))


@part("adam", "10 steps match tinynet.optim.Adam", _ADAM_HINT)
def _(mod):
    ps, qs = _params(36), _params(36)
    _run_side_by_side(_get(mod, "Adam")(ps, lr=0.01), optim.Adam(qs, lr=0.01), ps, qs, 10, 37)


@part("adam", "lr, betas and eps are the ones given", _ADAM_HINT + " Use self.lr, self.beta1, self.beta2 and "
      "self.eps, not the default values.")
def _(mod):
    ps, qs = _params(38), _params(38)
    kw = dict(lr=0.05, betas=(0.8, 0.99), eps=1e-3)
    _run_side_by_side(_get(mod, "Adam")(ps, **kw), optim.Adam(qs, **kw), ps, qs, 5, 39)


@part("adam", "parameters without a gradient are left alone", "Skip a parameter when p.grad is None or it is frozen.")
def _(mod):
    ps = _params(40)
    before = ps[1].data.copy()
    ps[0].grad = np.ones(ps[0].shape)
    _get(mod, "Adam")(ps).step()
    if not np.array_equal(ps[1].data, before):
        raise Failed("a parameter whose .grad is None was changed.")


# --- 10 IDX header -----------------------------------------------------------------------------
exercise("idx_header", "reading an IDX file")
_IDX_HINT = ("Sizes and values are big-endian (most significant byte first); the header is 4 + 4·ndim bytes; "
             "the values' dtype comes from the type code (DTYPES).")


@part("idx_header", "MNIST's training-image header: (0x08, [60000, 28, 28], 16)", _IDX_HINT)
def _(mod):
    import gzip
    from data_tools.mnist import MNIST_DIR
    with gzip.open(MNIST_DIR / "train-images-idx3-ubyte.gz") as f:
        head = f.read(16)
    got = _get(mod, "parse_header")(head)
    if tuple(got[:1]) + (list(got[1]), got[2]) != (0x08, [60000, 28, 28], 16):
        raise Failed(f"parse_header(first 16 bytes) returned {got}, expected (8, [60000, 28, 28], 16).")


@part("idx_header", "all six value types, 1 to 4 dimensions", _IDX_HINT)
def _(mod):
    from data_tools.idx import idx_bytes
    rng = np.random.default_rng(41)
    for dtype in ("uint8", "int8", "int16", "int32", "float32", "float64"):
        shape = tuple(int(d) for d in rng.integers(1, 6, rng.integers(1, 5)))
        a = (rng.standard_normal(shape) * 100).astype(dtype)
        data = idx_bytes(a)
        code, dims, length = _get(mod, "parse_header")(data)
        if (list(dims), length) != (list(shape), 4 + 4 * len(shape)):
            raise Failed(f"for a {dtype} array of shape {shape}: parse_header gave dims {dims}, header length {length}.")
        got = _get(mod, "read_idx_bytes")(data)
        if np.dtype(got.dtype).kind != a.dtype.kind or np.dtype(got.dtype).itemsize != a.dtype.itemsize:
            raise Failed(f"for {dtype} values read_idx_bytes returned dtype {got.dtype}.")
        if got.shape != shape or not np.array_equal(got, a):
            raise Failed(f"for a {dtype} array of shape {shape}: read_idx_bytes returned shape {got.shape} "
                         f"and {'equal' if got.shape == shape and np.array_equal(got, a) else 'different'} values "
                         f"(first: {got.reshape(-1)[:3].tolist()}, expected {a.reshape(-1)[:3].tolist()}).")


@part("idx_header", "invalid bytes raise ValueError", "Check before you index: the two zero bytes, a known type "
      "code, enough bytes for the header, and exactly as many value bytes as the header announces.")
def _(mod):
    good = bytes([0, 0, 0x08, 2, 0, 0, 0, 2, 0, 0, 0, 3]) + bytes(range(6))
    cases = {"a PNG file": b"\x89PNG\r\n\x1a\n" + bytes(20), "type code 0x07": good[:2] + b"\x07" + good[3:],
             "only 2 bytes": b"\x00\x00", "a header cut short": good[:9], "one value byte missing": good[:-1],
             "one byte too many": good + b"\x00"}
    for what, data in cases.items():
        try:
            _get(mod, "read_idx_bytes")(data)
        except ValueError:
            continue
        except NotImplementedError:
            raise
        except Exception as e:
            raise Failed(f"for {what}: raised {type(e).__name__} ({e}), expected ValueError.") from None
        raise Failed(f"for {what}: no error was raised.")


@part("idx_header", "reads the real MNIST test labels", _IDX_HINT)
def _(mod):
    import gzip
    from data_tools.mnist import MNIST_DIR, load_mnist
    with gzip.open(MNIST_DIR / "t10k-labels-idx1-ubyte.gz") as f:
        got = _get(mod, "read_idx_bytes")(f.read())
    if not np.array_equal(got, load_mnist("test")[1]):
        raise Failed("the 10,000 test labels differ from data_tools.mnist.load_mnist('test').")


# --- 11 freezing -------------------------------------------------------------------------------
exercise("freezing", "freezing layers")
_FREEZE_HINT = ("A parameter is frozen when its requires_grad is False; count with p.numel(); an optimizer must be "
                "given only the parameters that still require gradients.")


class _ArticleCNN(nn.Module):
    """Articles 003/004's padded CNN (421,642 parameters)."""

    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(1, 32, 3, padding=1), nn.Conv2d(32, 64, 3, padding=1)
        self.fc1, self.fc2 = nn.Linear(64 * 7 * 7, 128), nn.Linear(128, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc2(F.relu(self.fc1(x.flatten(1))))


@part("freezing", "matches(): whole name components", "Compare whole dot-separated components: "
      "'fc1' is a prefix of 'fc10.weight' as a string, but not as a name.")
def _(mod):
    cases = [("fc1.weight", "fc1", True), ("fc10.weight", "fc1", False), ("1.weight", "1", True),
             ("10.bias", "1", False), ("features.0.weight", "features", True), ("features.0.weight", "features.0", True),
             ("features.01.weight", "features.0", False), ("fc1", "fc1", True)]
    for name, prefix, want in cases:
        if bool(_get(mod, "matches")(name, prefix)) != want:
            raise Failed(f"matches({name!r}, {prefix!r}) returned {not want}, expected {want}.")


@part("freezing", "the articles' CNN: 421,642 weights; 402,826 trainable with conv1 and conv2 frozen", _FREEZE_HINT)
def _(mod):
    model = _ArticleCNN()
    count = _get(mod, "count_parameters")
    if count(model) != 421642:
        raise Failed(f"count_parameters(model) = {count(model)}, expected 421,642.")
    _get(mod, "freeze")(model, ["conv1", "conv2"])
    if count(model, trainable_only=True) != model.num_parameters(trainable_only=True) or \
            count(model, trainable_only=True) != 402826:
        raise Failed(f"after freeze(['conv1', 'conv2']): {count(model, trainable_only=True)} trainable, expected 402,826.")


@part("freezing", "freeze() in a Sequential: '1' freezes layer 1, not 10 or 11", _FREEZE_HINT)
def _(mod):
    model = nn.Sequential(*[nn.Linear(2, 2) for _ in range(12)])
    _get(mod, "freeze")(model, ["1", "3"])
    frozen = sorted(n for n, p in model.named_parameters() if not p.requires_grad)
    if frozen != ["1.bias", "1.weight", "3.bias", "3.weight"]:
        raise Failed(f"frozen parameters: {frozen}, expected 1.weight, 1.bias, 3.weight, 3.bias.")


@part("freezing", "training: frozen weights stay bit-identical and get no gradient", _FREEZE_HINT)
def _(mod):
    rng = np.random.default_rng(42)
    model = _ArticleCNN()
    _get(mod, "freeze")(model, ["conv1", "conv2"])
    frozen = {n: p.data.copy() for n, p in model.named_parameters() if n.startswith("conv")}
    head = {n: p.data.copy() for n, p in model.named_parameters() if n.startswith("fc")}
    opt = optim.SGD(_get(mod, "trainable_parameters")(model), lr=0.1, momentum=0.9)
    x, t = Tensor(rng.standard_normal((4, 1, 28, 28)).astype("float32")), rng.integers(0, 10, 4)
    for _ in range(2):
        opt.zero_grad()
        F.cross_entropy(model(x), t).backward()
        opt.step()
    params = dict(model.named_parameters())
    for n, before in frozen.items():
        if params[n].grad is not None or not np.array_equal(params[n].data, before):
            raise Failed(f"the frozen {n} {'got a gradient' if params[n].grad is not None else 'changed'}.")
    if all(np.array_equal(params[n].data, before) for n, before in head.items()):
        raise Failed("fc1 and fc2 did not change: the optimizer got no trainable parameters.")


# --- 12 LoRA -----------------------------------------------------------------------------------
exercise("lora", "LoRA")
_LORA_HINT = "y = x Wᵀ + b + (α/r)·(x Aᵀ) Bᵀ with W, b frozen and A (r, in), B (out, r) trainable."


def _lora(mod, seed, i=6, o=5, r=2, alpha=3.0):
    from .random import manual_seed
    manual_seed(seed)
    base = nn.Linear(i, o)
    w, b = base.weight.data.copy(), base.bias.data.copy()
    return _get(mod, "LoRALinear")(base, rank=r, alpha=alpha), base, w, b


@part("lora", "only lora_A (r, in) and lora_B (out, r) train; the base layer is frozen",
      "Freeze the base layer (requires_grad off for its weight and bias) and create A and B as nn.Parameter.")
def _(mod):
    layer, base, _, _ = _lora(mod, 43)
    if base.weight.requires_grad or base.bias.requires_grad:
        raise Failed("the base layer's weight or bias still requires gradients.")
    a, b = _get(layer, "lora_A"), _get(layer, "lora_B")
    if a.shape != (2, 6) or b.shape != (5, 2):
        raise Failed(f"lora_A {a.shape} and lora_B {b.shape}, expected (2, 6) and (5, 2) for Linear(6, 5) with r = 2.")
    trainable = sum(p.numel() for p in layer.parameters() if p.requires_grad)
    if trainable != 2 * (6 + 5):
        raise Failed(f"{trainable} trainable numbers, expected r·(in + out) = 22.")


@part("lora", "A starts random, B at zero: the output starts equal to the base layer's",
      "With B = 0 the correction is exactly 0; A must not be 0 too, or neither A nor B would ever get a gradient.")
def _(mod):
    layer, base, _, _ = _lora(mod, 44)
    x = Tensor(np.random.default_rng(45).standard_normal((3, 6)).astype("float32"))
    if not np.any(layer.lora_A.data) or np.any(layer.lora_B.data):
        raise Failed("expected lora_A random (non-zero) and lora_B all zeros at the start.")
    if not np.array_equal(layer(x).numpy(), base(x).numpy()):
        raise Failed("at the start the output differs from the base layer's.")


@part("lora", "forward: y = x (W + (α/r) B A)ᵀ + b", _LORA_HINT)
def _(mod):
    layer, _, w, b = _lora(mod, 46)
    layer.lora_B.data[...] = np.random.default_rng(47).standard_normal(layer.lora_B.shape)
    x = np.random.default_rng(48).standard_normal((3, 6)).astype("float32")
    want = x @ (w + 1.5 * layer.lora_B.data @ layer.lora_A.data).T + b
    expect_close("y", layer(Tensor(x)), want, atol=1e-5)


@part("lora", "backward reaches A and B, and not the frozen W", "Use tinynet operations on Tensors in forward "
      "(@, .T, +, *) — not .data or NumPy — so that the graph reaches lora_A and lora_B.")
def _(mod):
    layer, base, w, b = _lora(mod, 49)
    rng = np.random.default_rng(50)
    layer.lora_B.data[...] = rng.standard_normal(layer.lora_B.shape)
    x, gy = rng.standard_normal((4, 6)).astype("float32"), rng.standard_normal((4, 5)).astype("float32")
    y = layer(Tensor(x))
    if not y.requires_grad:
        raise Failed("the output is not connected to lora_A and lora_B in the graph (it has no grad_fn), so "
                     "backward cannot reach them.")
    y.backward(gy)
    a, bb = Tensor(layer.lora_A.data.copy(), requires_grad=True), Tensor(layer.lora_B.data.copy(), requires_grad=True)
    (F.linear(Tensor(x), Tensor(w), Tensor(b)) + 1.5 * ((Tensor(x) @ a.T) @ bb.T)).backward(gy)
    if base.weight.grad is not None:
        raise Failed("the frozen base weight received a gradient.")
    expect_close("∂L/∂A", layer.lora_A.grad, a.grad, atol=1e-5)
    expect_close("∂L/∂B", layer.lora_B.grad, bb.grad, atol=1e-5)


@part("lora", "merged_weight() = W + (α/r) B A gives the same outputs", "Fold the correction into one weight of W's shape.")
def _(mod):
    layer, _, w, b = _lora(mod, 51)
    layer.lora_B.data[...] = np.random.default_rng(52).standard_normal(layer.lora_B.shape)
    x = np.random.default_rng(53).standard_normal((3, 6)).astype("float32")
    merged = _array(layer.merged_weight(), "merged_weight()")
    expect_close("merged_weight()", merged, w + 1.5 * layer.lora_B.data @ layer.lora_A.data, atol=1e-6)
    expect_close("x merged_weightᵀ + b", x @ merged.T + b, layer(Tensor(x)), atol=1e-5)


# --- running ---------------------------------------------------------------------------------
def load(path):
    """Import a Python file by its path, under a name of its own."""
    path = Path(path).resolve()
    spec = importlib.util.spec_from_file_location(f"_tinynet_exercise_{abs(hash(str(path)))}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _where(exc, path):
    """The line of the student's file where the exception was raised (and the TODO above it)."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename).resolve() == Path(path).resolve()]
    if not frames:
        return ""
    f = frames[-1]
    lines = Path(path).read_text().splitlines()
    todo = next((lines[k].strip() for k in range(f.lineno - 2, max(f.lineno - 6, -1), -1)
                 if k < len(lines) and lines[k].strip().startswith("# TODO")), "")
    return f"line {f.lineno}" + (f", under “{todo}”" if todo else f": {f.line}")


PART_SECONDS = 120          # a part that takes longer has an endless loop, most likely


@contextlib.contextmanager
def _time_limit(seconds):
    """Stop a part after ``seconds`` (on systems with SIGALRM, in the main thread; else no limit)."""
    def stop(signum, frame):
        raise Failed(f"this part took more than {seconds} s: is there a loop that never ends?",
                     "Check the loop conditions; the inputs here are small (a few hundred numbers).")
    usable = hasattr(signal, "SIGALRM") and threading.current_thread() is threading.main_thread()
    if usable:
        old = signal.signal(signal.SIGALRM, stop)
        signal.alarm(seconds)
    try:
        yield
    finally:
        if usable:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, old)


def check_file(path, out=None):
    """Grade the exercise file at ``path``; print a report; return a list of (part, status)."""
    out = out or sys.stdout
    path = Path(path)
    print(f"Checking {path}", file=out)
    try:
        module = load(path)
    except Exception as e:
        where = _where(e, path)
        print(f"  ✗ FAIL  the file does not run: {type(e).__name__}: {e}" + (f" ({where})" if where else ""), file=out)
        return [("import", "fail")]
    name = getattr(module, "EXERCISE", None)
    if name not in EXERCISES:
        known = ", ".join(EXERCISES)
        print(f"  ✗ FAIL  the file sets EXERCISE = {name!r}; expected one of: {known}", file=out)
        return [("EXERCISE", "fail")]
    title, parts = EXERCISES[name]
    print(f"Exercise: {title} ({len(parts)} parts)", file=out)
    results, last_todo = [], None
    for part_title, hint, fn in parts:
        try:
            with np.errstate(all="ignore"), _time_limit(PART_SECONDS):
                fn(module)
        except NotImplementedError as e:
            where = _where(e, path)
            shown = "the same TODO" if where == last_todo else where
            last_todo = where
            print(f"  · TODO  {part_title}\n          not written yet" + (f" ({shown})" if shown else ""), file=out)
            results.append((part_title, "todo"))
            continue
        except Failed as e:
            problem, hint = e.problem, e.hint or hint
        except Exception as e:
            where = _where(e, path)
            problem = f"{type(e).__name__}: {e}" + (f" (raised at {where} of your file)" if where else "")
        else:
            print(f"  ✓ PASS  {part_title}", file=out)
            results.append((part_title, "pass"))
            continue
        print(f"  ✗ FAIL  {part_title}\n          {problem}\n          hint: {hint}", file=out)
        results.append((part_title, "fail"))
    passed = sum(s == "pass" for _, s in results)
    print(f"{passed} of {len(results)} parts passed." + (" Well done!" if passed == len(results) else ""), file=out)
    return results


def main(argv=None):
    """``tinynet check FILE``: exit status 0 only if every part passes."""
    import argparse
    p = argparse.ArgumentParser(prog="tinynet check", description="Grade an exercise file (lessons/exercises/).")
    p.add_argument("file", type=Path, help="the exercise file, e.g. lessons/exercises/ex03_softmax_ce.py")
    args = p.parse_args(argv)
    if not args.file.is_file():
        print(f"tinynet check: no such file: {args.file}", file=sys.stderr)
        return 2
    results = check_file(args.file)
    return 0 if results and all(s == "pass" for _, s in results) else 1


if __name__ == "__main__":
    sys.exit(main())
