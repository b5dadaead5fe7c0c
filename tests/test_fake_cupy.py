"""The stand-in is held to CuPy's real API: the manifest matches the installed CuPy (when there is
one), and the stand-in allows nothing the manifest lacks. Each check states something true of CuPy."""
import importlib.util
import os

import numpy as np
import pytest

import fake_cupy
from fake_cupy import MANIFEST, FakeArray, xp

HAVE_CUPY = importlib.util.find_spec("cupy") is not None
needs_cupy = pytest.mark.skipif(not HAVE_CUPY, reason="CuPy is not installed (pip install cupy-cuda12x)")


def fa(a):
    return fake_cupy.from_numpy(np.asarray(a))


# ================================ the manifest is CuPy's ========================================
@needs_cupy
def test_manifest_matches_the_installed_cupy():
    import sys
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "cupy_api"))
    import make_manifest
    fresh = make_manifest.make_manifest()
    if fresh["cupy_version"] != MANIFEST["cupy_version"]:
        pytest.skip(f"installed CuPy {fresh['cupy_version']} is not the manifest's {MANIFEST['cupy_version']}: "
                    f"regenerate with tests/cupy_api/make_manifest.py")
    for section in ("namespace", "ndarray", "random", "random_generator", "linalg", "fft", "cupyx", "ufuncs"):
        assert fresh[section] == MANIFEST[section], section


@needs_cupy
def test_every_name_the_stand_in_allows_exists_in_the_installed_cupy():
    """Version-independent: what the stand-in provides, the installed CuPy has."""
    import cupy
    fake_members = {n for n in dir(FakeArray) if not n.startswith("_")}
    assert fake_members <= set(dir(cupy.ndarray)), fake_members - set(dir(cupy.ndarray))
    for name in MANIFEST["namespace"]:
        assert hasattr(cupy, name), name
    for name in MANIFEST["random_generator"]:
        assert hasattr(cupy.random.Generator, name), name
    for name, u in MANIFEST["ufuncs"].items():
        if "at" in u["methods"]:
            assert getattr(cupy, name)._scatter_op is not None, name


def test_the_manifest_says_what_cupy_is_known_to_have():
    """Facts from CuPy's source and docs, independent of the generator."""
    ns = MANIFEST["namespace"]
    assert {"asnumpy", "get_array_module", "add", "exp", "take_along_axis", "ascontiguousarray"} <= set(ns)
    assert not {"errstate", "insert", "nditer"} & set(ns)
    with_at = {n for n, u in MANIFEST["ufuncs"].items() if "at" in u["methods"]}
    assert with_at == {"add", "subtract", "maximum", "minimum", "bitwise_and", "bitwise_or", "bitwise_xor"}
    assert not {"normal", "permutation", "choice", "shuffle"} & set(MANIFEST["random_generator"])
    assert {"standard_normal", "random", "integers", "uniform"} <= set(MANIFEST["random_generator"])
    assert "scatter_add" in MANIFEST["cupyx"]
    assert {"get", "set", "data", "device"} <= set(MANIFEST["ndarray"])
    assert MANIFEST["ndarray"]["sum"]["kwargs"] == ["axis", "dtype", "out", "keepdims"]


# ================================ the stand-in allows only the manifest =========================
@pytest.mark.parametrize("name", ["errstate", "insert", "nditer", "geomspace", "bogus_name"])
def test_a_name_cupy_lacks_is_an_attribute_error(name):
    assert name not in MANIFEST["namespace"]
    with pytest.raises(AttributeError):
        getattr(xp, name)


def test_every_numpy_name_missing_from_the_manifest_is_refused():
    missing = [n for n in dir(np) if not n.startswith("_") and n not in MANIFEST["namespace"]]
    assert len(missing) > 10
    for name in missing:
        assert not hasattr(xp, name), name


@pytest.mark.parametrize("name", ["normal", "permutation", "choice", "shuffle", "bytes"])
def test_generator_methods_cupy_lacks_are_refused(name):
    g = xp.random.default_rng(0)
    with pytest.raises(AttributeError):
        getattr(g, name)


def test_array_members_are_cupys():
    x = fa([1.0, 2.0])
    public = {n for n in dir(FakeArray) if not n.startswith("_")}
    assert public <= set(MANIFEST["ndarray"]), public - set(MANIFEST["ndarray"])
    specials = {n for n in vars(FakeArray) if n.startswith("__") and n.endswith("__")}
    assert specials - {"__module__", "__doc__", "__dict__", "__weakref__", "__init__"} <= set(MANIFEST["ndarray_special"])
    for absent in ("__index__", "__imatmul__", "ptp_", "at"):
        assert not hasattr(x, absent)


@pytest.mark.parametrize("name", sorted(MANIFEST["ufuncs"]))
def test_ufunc_methods_are_supported_exactly_where_cupys_are(name):
    u = getattr(xp, name)
    supported = MANIFEST["ufuncs"][name]["methods"]
    for method in ("at", "reduce", "accumulate", "reduceat"):
        if method not in supported:
            with pytest.raises(NotImplementedError, match=f"{u.name}.{method}"):
                getattr(u, method)(fa([1, 2]), fa([0]))


def test_add_at_and_its_dtypes():
    t = xp.zeros(4)
    xp.add.at(t, fa([1, 1, 3]), fa([1.0, 2.0, 5.0]))                   # repeats add up
    assert t.get().tolist() == [0, 3, 0, 5]
    with pytest.raises(TypeError, match="only supports"):                # int64 has no atomicAdd kernel
        xp.add.at(xp.zeros(4, dtype="int64"), fa([1]), 1)
    fake_cupy.cupyx.scatter_add(t, fa([0]), 1.0)
    assert t.get().tolist() == [1, 3, 0, 5]


def test_unknown_keyword_arguments_are_refused():
    x = fa([[1.0, 2.0]])
    for call in (lambda: xp.sum(x, axes=0), lambda: x.sum(axes=0), lambda: xp.zeros(2, like=x),
                 lambda: xp.random.default_rng(0).standard_normal(2, method="x"),
                 lambda: xp.concatenate([x, x], axes=0)):
        with pytest.raises(TypeError, match="unexpected keyword"):
            call()
    with pytest.raises(TypeError, match="Wrong arguments"):
        xp.exp(x, where=x > 0)                                           # CuPy's ufuncs take no where=
    assert xp.asarray(np.ones(2), blocking=True).shape == (2,)          # a CuPy-only keyword is fine


def test_data_is_a_memory_pointer_not_the_array():
    x = fa([1.0, 2.0])
    assert not isinstance(x.data, (FakeArray, np.ndarray)) and isinstance(x.data.ptr, int)
    assert x.data.device_id == 0 and x.device.id == 0
    from tinynet import backend
    assert not backend.is_array(getattr(x, "data", x))     # why getattr(x, "data", x) is a bug on CuPy


def test_first_layer_filters_takes_a_raw_device_array(tmp_path, backend):
    from tinynet import plots, backend as B
    import tinynet as tn
    w = np.random.default_rng(0).standard_normal((4, 1, 3, 3))
    for weight in (B.to_backend(w, backend), tn.Tensor(B.to_backend(w, backend))):
        assert os.path.getsize(plots.first_layer_filters(weight, str(tmp_path / "f.png"))) > 0


def test_transfers_are_counted():
    x = fa([1.0, 2.0])
    with fake_cupy.count_transfers() as c:
        x.get(), float(x.sum()), xp.asnumpy(x), repr(x), x.tolist()
        xp.asarray(np.ones(2))
    assert c["to_host"] == 5 and c["to_device"] == 1


def test_set_and_get_follow_cupys_rules():
    x = xp.zeros((2,), dtype="float32")
    x.set(np.array([1.0, 2.0], dtype="float32"))
    assert x.get().tolist() == [1.0, 2.0]
    with pytest.raises(TypeError):
        x.set(np.array([1.0, 2.0]))                      # float64 into float32
    with pytest.raises(ValueError):
        x.set(np.ones(3, dtype="float32"))
    out = np.empty(2, dtype="float32")
    assert x.get(out=out) is out and out.tolist() == [1.0, 2.0]
