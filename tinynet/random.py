"""The one random number generator of tinynet, seeded by ``tinynet.manual_seed``.

Parameter initialisation, dropout masks, data shuffling and augmentation all draw from here,
so one seed makes a whole run repeatable.
"""
from . import backend

_np = backend.get_module("numpy")
_generator = _np.random.default_rng(0)


def manual_seed(seed):
    """Seed every random draw tinynet makes (as ``torch.manual_seed``)."""
    global _generator
    _generator = _np.random.default_rng(seed)
    try:
        xp = backend.get_module("cupy") if "cupy" in backend._backends else None
        if xp is not None:
            xp.random.seed(seed)
    except backend.BackendUnavailable:
        pass
    return _generator


def generator():
    """The NumPy ``Generator`` behind tinynet's host-side draws."""
    return _generator


def uniform(shape, low=0.0, high=1.0, dtype="float32", like=None):
    """Uniform draws in [low, high) as an array on ``like``'s backend (default: NumPy)."""
    a = _generator.uniform(low, high, size=shape).astype(dtype)
    return a if like is None else backend.to_backend(a, backend.backend_name(like))


def normal(shape, mean=0.0, std=1.0, dtype="float32", like=None):
    a = _generator.normal(mean, std, size=shape).astype(dtype)
    return a if like is None else backend.to_backend(a, backend.backend_name(like))


def permutation(n):
    """A random permutation of 0..n-1 (a NumPy array: indices for the host-side data loader)."""
    return _generator.permutation(n)
