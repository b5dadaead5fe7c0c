"""The random number generator of tinynet, seeded by ``tinynet.manual_seed``.

Parameter initialisation, dropout masks, data shuffling and augmentation all draw from here,
so one seed makes a whole run repeatable.

One generator shared by several threads would hand out its numbers in whichever order the
threads happen to ask, so a run would no longer repeat. A thread can therefore draw from a
generator of its own: inside ``with thread_generator(g):`` every draw *that thread* makes comes
from ``g``; other threads still use the shared one. ``tinynet.parallel`` gives each worker such a
generator, seeded from the shared one, so dropout in N workers repeats for a given seed and N.
"""
import contextlib
import threading

from . import backend

_np = backend.get_module("numpy")
_generator = _np.random.default_rng(0)
_own = threading.local()          # _own.generator: this thread's generator, when it has one


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
    """The NumPy ``Generator`` behind this thread's host-side draws: its own inside
    ``thread_generator``, else the shared one ``manual_seed`` seeds."""
    return getattr(_own, "generator", None) or _generator


@contextlib.contextmanager
def thread_generator(g):
    """Inside, the calling thread draws from ``g`` (a NumPy ``Generator``); on leaving, from
    whatever it drew from before. Other threads are not affected."""
    before = getattr(_own, "generator", None)
    _own.generator = g
    try:
        yield g
    finally:
        _own.generator = before


def uniform(shape, low=0.0, high=1.0, dtype="float32", like=None):
    """Uniform draws in [low, high) as an array on ``like``'s backend (default: NumPy).

    On a device backend (CuPy) the numbers are made there (``counter_uniform``) from one seed drawn
    on the host: no array crosses to the device, and the host generator -- saved in checkpoints --
    still decides every draw, so a resumed run repeats the uninterrupted one.
    """
    if like is not None and backend.backend_name(like) != "numpy":
        seed = int(generator().integers(0, 2 ** 63))
        u = counter_uniform(backend.array_module(like), shape, seed)
        return (u * (high - low) + low).astype(dtype) if (low, high) != (0.0, 1.0) else u.astype(dtype)
    a = generator().uniform(low, high, size=shape).astype(dtype)
    return a if like is None else backend.to_backend(a, backend.backend_name(like))


def counter_uniform(xp, shape, seed):
    """float32 uniforms in [0, 1) computed elementwise by array module ``xp``: element i is
    ``splitmix64(seed + i·γ)`` (Steele, Lea & Flood 2014; γ = 0x9E3779B97F4A7C15) cut to its top 24
    bits and scaled by 2⁻²⁴. A hash of a counter: any backend gives the same numbers for a seed."""
    u64 = xp.uint64
    n = 1
    for d in shape:
        n *= int(d)
    z = xp.arange(n, dtype=u64) * u64(0x9E3779B97F4A7C15) + u64(seed)
    z = (z ^ (z >> u64(30))) * u64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> u64(27))) * u64(0x94D049BB133111EB)
    z = z ^ (z >> u64(31))
    return ((z >> u64(40)).astype(xp.float32) * xp.float32(2.0 ** -24)).reshape(tuple(shape))


def normal(shape, mean=0.0, std=1.0, dtype="float32", like=None):
    a = generator().normal(mean, std, size=shape).astype(dtype)
    return a if like is None else backend.to_backend(a, backend.backend_name(like))


def permutation(n):
    """A random permutation of 0..n-1 (a NumPy array: indices for the host-side data loader)."""
    return generator().permutation(n)
