"""Shared test setup: hypothesis profiles and the ``backend`` fixture.

``backend`` runs a test once per array backend: ``"numpy"``, ``"fakecupy"`` (the CPU stand-in for
CuPy in ``tests/fake_cupy.py``, held to CuPy's real API by tests/cupy_api/cupy_manifest.json)
and ``"cupy"`` (skipped unless CuPy imports and a GPU works). It makes that backend the
default for new tensors during the test and restores ``"numpy"`` afterwards. ``fake_cupy_as_cupy``
makes ``import cupy`` give the stand-in, so ``--backend cupy`` runs on it.

``FAKECUPY_STRICT=1 .venv/bin/python -m pytest`` runs the stand-in in its strict lint mode: any
NumPy function called on device data fails, even one CuPy would dispatch to itself.

Hypothesis: the ``ci`` profile (chosen when the ``CI`` environment variable is set) is
derandomized, so CI runs the same examples every time; ``dev`` (the default) explores.
"""
import os

import pytest
from hypothesis import HealthCheck, settings

import fake_cupy

try:
    import tinynet
    from tinynet import backend as _backend
except ImportError:     # a broken tinynet must not take the data_tools tests down with it;
    tinynet = None      # the tinynet tests still fail, loudly, on their own imports

# --- hypothesis ----------------------------------------------------------------------------------
_common = dict(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
settings.register_profile("dev", **_common)
settings.register_profile("ci", derandomize=True, database=None, print_blob=True, **_common)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev"))

# --- backends ------------------------------------------------------------------------------------
if tinynet is not None:
    fake_cupy.register()


def _cupy_skip_reason():
    """None if the real CuPy backend can run here, else why not (CuPy missing / no GPU)."""
    if tinynet is None:
        return "tinynet does not import"
    try:
        _backend.get_module("cupy")
    except _backend.BackendUnavailable as e:
        return str(e)
    return None


_CUPY_SKIP = _cupy_skip_reason()

BACKENDS = [
    pytest.param("numpy", id="numpy"),
    pytest.param("fakecupy", id="fakecupy"),
    pytest.param("cupy", id="cupy", marks=pytest.mark.skipif(_CUPY_SKIP is not None, reason=str(_CUPY_SKIP))),
]


@pytest.fixture(params=BACKENDS)
def backend(request):
    """The name of the backend under test, made the default for new tensors."""
    tinynet.set_backend(request.param)
    try:
        yield request.param
    finally:
        tinynet.set_backend("numpy")


@pytest.fixture
def fake_cupy_as_cupy(monkeypatch):
    """``import cupy`` gives the stand-in during the test, so ``--backend cupy`` runs on it."""
    fake_cupy.install_as_cupy(monkeypatch)
    yield fake_cupy
    from tinynet import backend
    backend._backends.pop("cupy", None)


@pytest.fixture(autouse=True)
def _numpy_backend_by_default():
    """Every test starts (and ends) on the numpy backend."""
    if tinynet is None:
        yield
        return
    tinynet.set_backend("numpy")
    yield
    tinynet.set_backend("numpy")
