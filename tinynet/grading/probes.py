"""Helpers for a part's ``run``: they call the exercise file's code and collect plain values.

``run`` executes in the child on the student's module and in the parent on the reference, so these
helpers compute nothing that decides a grade: they only call, and hand back what came out.
"""
import numpy as np

from ..tensor import Tensor, no_grad
from .compare import Failed


def get(mod, name):
    """``mod.name``, or a failure that says the file lacks it."""
    try:
        return getattr(mod, name)
    except AttributeError:
        raise Failed(f"the file defines no `{name}` (the exercise's name for it); did you rename it?") from None


def grads(fn, arrays, gy=None):
    """Call ``fn`` on fresh Tensors that require grad, then ``backward(gy)``: (output, [∂L/∂input])."""
    ts = [Tensor(a.copy(), requires_grad=True) for a in arrays]
    out = fn(*ts)
    if not isinstance(out, Tensor):
        raise Failed(f"the function returned {type(out).__name__}, not a Tensor.")
    out.backward(None if gy is None else np.asarray(gy, dtype=out.dtype))
    return out, [t.grad for t in ts]


def finite_differences(fn, inputs):
    """What the parent needs for a gradient check of f(x…) = Σ w ⊙ fn(x…):

    the analytic gradients (``fn``'s backward, given w as the output's gradient) and, for every
    element i of every input k, f with that element moved by +ε and by −ε (``fn``'s forward).
    ``inputs``: ``arrays`` (float64), ``weights`` w (shaped like fn's output), ``eps``.
    """
    arrays, w, eps = inputs["arrays"], inputs["weights"], inputs["eps"]
    _, analytic = grads(fn, arrays, w)
    values = {f"analytic {k}": g for k, g in enumerate(analytic)}
    with no_grad():
        for k, a in enumerate(arrays):
            for sign, key in ((1, f"plus {k}"), (-1, f"minus {k}")):
                values[key] = []
                for i in range(a.size):
                    xs = [b.copy() for b in arrays]
                    xs[k].reshape(-1)[i] += sign * eps
                    y = fn(*[Tensor(b) for b in xs])
                    if not isinstance(y, Tensor) or y.shape != w.shape:
                        raise Failed(f"the function returned {type(y).__name__} {getattr(y, 'shape', '')}, "
                                     f"expected a Tensor of shape {w.shape}.")
                    values[key].append(float((np.asarray(y.data, dtype="float64") * w).sum()))
    return values


def fd_inputs(rng, arrays, output_shape, eps=1e-6):
    """The inputs of a gradient-check part: float64 arrays, random output weights, ε."""
    return {"arrays": [np.asarray(a, dtype="float64") for a in arrays],
            "weights": rng.standard_normal(output_shape), "eps": eps}
