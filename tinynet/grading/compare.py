"""Judging in the grader: compare the values a student's code produced with the reference's.

Every function here runs in the parent on plain values decoded from the child's report (NumPy
arrays, numbers, strings; ``Opaque`` for anything else). A failure raises ``Failed`` with one
sentence that says what differed, where and by how much, and recognises the common slips: a
constant factor, a transpose, a sign.
"""
import numpy as np

from .protocol import Opaque


class Failed(AssertionError):
    """A part failed: ``problem`` says what differed; ``hint``, if given, replaces the part's."""

    def __init__(self, problem, hint=None):
        super().__init__(problem)
        self.problem, self.hint = problem, hint


def as_array(v, what):
    """``v`` as a float64 array, or ``Failed`` saying what it is instead."""
    if v is None:
        raise Failed(f"{what} is None: nothing was returned.")
    if isinstance(v, Opaque):
        article = "an" if v.type_name[:1].lower() in "aeiou" else "a"
        raise Failed(f"{what} is {article} {v.type_name}, not an array or a Tensor.")
    try:
        a = np.asarray(v, dtype="float64")
    except (TypeError, ValueError):
        raise Failed(f"{what} is {type(v).__name__} {str(v)[:60]!r}, not an array of numbers.") from None
    return a


def diagnose(got, want):
    """Name a common slip: a constant factor, a transpose, a sign."""
    if got.shape == want.shape and got.ndim >= 2 and got.shape[-1] == got.shape[-2] and \
            np.allclose(np.swapaxes(got, -1, -2), want, rtol=1e-4, atol=1e-7):
        return " It equals the expected array transposed."
    if np.allclose(got, -want, rtol=1e-4, atol=1e-7):
        return " It is the expected array with the opposite sign."
    big = np.abs(want) > 1e-6 * max(np.abs(want).max(initial=0), 1e-30)
    if big.sum() >= 2:
        r = got[big] / want[big]
        if np.all(np.abs(r - r.mean()) <= 1e-3 * abs(r.mean())) and abs(r.mean() - 1) > 1e-2:
            return f" Every value is {r.mean():.4g} × the expected one."
    return ""


def expect_close(what, got, want, atol=1e-6, rtol=1e-5):
    """Fail with a clear message unless ``got`` ≈ ``want`` (same shape, every element)."""
    got, want = as_array(got, what), as_array(want, "the reference")
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
                     + diagnose(got, want))


def compare_all(got, ref, inputs, atol=1e-6, rtol=1e-5):
    """The default judge: every value the reference produced, in order, ≈ the student's."""
    for what, want in ref.items():
        expect_close(what, got.get(what), want, atol=atol, rtol=rtol)


def with_tolerance(atol, rtol=1e-5):
    """``compare_all`` with other tolerances."""
    return lambda got, ref, inputs: compare_all(got, ref, inputs, atol=atol, rtol=rtol)


def judge_finite_differences(got, ref, inputs, atol=1e-5, rtol=1e-4):
    """The gradient check, decided here: ∂f/∂xᵢ ≈ (f(x + ε·eᵢ) − f(x − ε·eᵢ)) / (2ε).

    The child sent the analytic gradients of f = Σ w ⊙ fn(x) (from the student's backward) and
    the values f(x ± ε·eᵢ) (from the student's forward); the differences are taken here.
    """
    eps = inputs["eps"]
    for k, x in enumerate(inputs["arrays"]):
        plus, minus = as_array(got.get(f"plus {k}"), "f(x + ε)"), as_array(got.get(f"minus {k}"), "f(x − ε)")
        analytic = as_array(got.get(f"analytic {k}"), f"the gradient of input {k}")
        if plus.size != x.size or minus.size != x.size or analytic.shape != x.shape:
            raise Failed(f"the gradient of input {k} has shape {analytic.shape}, expected {x.shape}.")
        numeric = ((plus - minus) / (2 * eps)).reshape(x.shape)
        bad = ~(np.abs(analytic - numeric) <= atol + rtol * np.abs(numeric))
        if bad.any():
            i = tuple(int(j) for j in np.argwhere(bad)[0])
            raise Failed(f"finite differences disagree with your backward: input {k} at index {i}: "
                         f"backward gives {analytic[i]:.6g}, (f(x+ε) − f(x−ε)) / 2ε gives {numeric[i]:.6g} "
                         f"({int(bad.sum())} of {x.size} values differ)."
                         + diagnose(analytic, numeric))
