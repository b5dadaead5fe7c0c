"""Check analytic gradients against central finite differences.

    ∂f/∂xᵢ ≈ (f(x + ε·eᵢ) − f(x − ε·eᵢ)) / (2ε)          error O(ε²)

``fn`` maps tensors to a tensor; a non-scalar output is reduced to the scalar Σ w ⊙ fn(…) with
fixed random weights w, so every output element takes part in the check.
"""
from . import backend
from .tensor import Tensor, no_grad

__all__ = ["GradcheckError", "numerical_grad", "gradcheck"]


class GradcheckError(AssertionError):
    """An analytic gradient disagrees with the finite-difference one."""


def _float64_copy(a):
    """A C-contiguous float64 copy of array ``a``: its ``reshape(-1)`` is a view, so writing
    into the flat array perturbs the copy (for a transposed ``a``, ``astype`` alone keeps the
    strides and ``reshape(-1)`` would silently copy)."""
    return a.astype("float64", order="C")


def _as_float64(t):
    return Tensor(_float64_copy(t.data), requires_grad=t.requires_grad) \
        if isinstance(t, Tensor) and t.dtype.kind == "f" else t


def numerical_grad(fn, x, eps=1e-6):
    """Central-difference gradient of the scalar ``fn(x)`` with respect to every element of ``x``.

    ``x`` is a Tensor; during the call its data is a float64 copy (ε = 1e-6 would drown in
    float32's 7 digits) that is perturbed one element at a time, and the original data is put
    back afterwards. A non-scalar ``fn(x)`` is summed. Returns a float64 array shaped like ``x``.
    One pair of evaluations of ``fn`` per element: for lessons and small inputs.
    """
    xp = backend.array_module(x.data)
    original = x.data
    work = _float64_copy(original)
    flat = work.reshape(-1)            # a view of work
    grad = xp.zeros(flat.shape, dtype="float64")
    x.data = work
    try:
        with no_grad():
            for i in range(flat.size):
                old = flat[i].item()
                flat[i] = old + eps
                fp = float(fn(x).data.sum())
                flat[i] = old - eps
                fm = float(fn(x).data.sum())
                flat[i] = old
                grad[i] = (fp - fm) / (2 * eps)
    finally:
        x.data = original
    return grad.reshape(x.shape)


def gradcheck(fn, *inputs, eps=1e-6, atol=1e-5, rtol=1e-4, directions=None, seed=0):
    """Compare ``fn``'s backward with central differences for every input that requires grad.

    Inputs are cast to float64 first. By default every element is perturbed in turn; with
    ``directions=k`` (for large inputs) the check is made along k random unit directions d
    instead: (f(x + εd) − f(x − εd)) / 2ε must equal ⟨∇f, d⟩.
    Passes when |analytic − numeric| ≤ atol + rtol·|numeric| everywhere; returns True, or raises
    ``GradcheckError`` naming the input, the worst element's index and both values.
    """
    inputs = [_as_float64(t) for t in inputs]
    np = backend.get_module("numpy")
    rng = np.random.default_rng(seed)
    with no_grad():
        out = fn(*inputs)
    weights = backend.to_backend(rng.standard_normal(out.shape), out.backend) if out.numel() != 1 else None

    def scalar(*xs):
        y = fn(*xs)
        return y if weights is None else (y * Tensor(weights)).sum()

    for t in inputs:
        if isinstance(t, Tensor):
            t.grad = None
    loss = scalar(*inputs)
    if loss.requires_grad:
        loss.backward()
    for k, t in enumerate(inputs):
        if not (isinstance(t, Tensor) and t.requires_grad):
            continue
        analytic = backend.to_numpy(t.grad) if t.grad is not None else np.zeros(t.shape)
        flat = t.data.reshape(-1)

        def f_at(delta):
            old = flat.copy()
            flat[...] = old + delta
            with no_grad():
                v = float(backend.to_numpy(scalar(*inputs).data).sum())   # shape () or (1, …)
            flat[...] = old
            return v

        if directions is None:
            numeric = np.zeros(t.numel())
            for i in range(t.numel()):
                e = np.zeros(t.numel())
                e[i] = eps
                numeric[i] = (f_at(backend.to_backend(e, t.backend)) - f_at(backend.to_backend(-e, t.backend))) / (2 * eps)
            numeric = numeric.reshape(t.shape)
            err = np.abs(analytic - numeric)
            bad = err > atol + rtol * np.abs(numeric)
            if bad.any():
                i = np.unravel_index(np.argmax(err - rtol * np.abs(numeric)), t.shape)
                rel = err[i] / max(abs(numeric[i]), 1e-12)
                raise GradcheckError(
                    f"gradcheck failed for input {k} (shape {t.shape}) at index {tuple(int(j) for j in i)}: "
                    f"analytic {analytic[i]:.8g}, numerical {numeric[i]:.8g}, relative error {rel:.3g} "
                    f"({int(bad.sum())} of {t.numel()} elements out of tolerance)")
        else:
            for r in range(directions):
                d = rng.standard_normal(t.shape)
                d /= np.linalg.norm(d) or 1.0
                numeric = (f_at(backend.to_backend(eps * d.reshape(-1), t.backend)) -
                           f_at(backend.to_backend(-eps * d.reshape(-1), t.backend))) / (2 * eps)
                exact = float((analytic * d).sum())
                if abs(exact - numeric) > atol + rtol * abs(numeric):
                    raise GradcheckError(
                        f"gradcheck failed for input {k} (shape {t.shape}) along random direction {r}: "
                        f"analytic {exact:.8g}, numerical {numeric:.8g}, relative error "
                        f"{abs(exact - numeric) / max(abs(numeric), 1e-12):.3g}")
    return True
