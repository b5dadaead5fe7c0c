"""PyTorch spellings on Tensor: ``size()``/``size(d)`` and ``numel()``, ``view``, ``argmax``, and the
device names ``"cpu"``/``"cuda"`` for the backends (``Tensor.to``, ``set_backend``, ``Module.to``)."""
import numpy as np
import pytest

import tinynet as tn
from strategies import host, tensor
from tinynet import backend as B, nn


def test_size_is_the_shape_and_size_of_a_dim_its_length(backend):
    x = tensor(np.zeros((2, 3, 4)))
    assert x.size() == (2, 3, 4) == x.shape and isinstance(x.size(), tuple)
    assert (x.size(0), x.size(1), x.size(-1), x.size(-3)) == (2, 3, 4, 2)
    assert isinstance(x.size(0), int)
    assert x.numel() == 24 and isinstance(x.numel(), int)
    s = tensor(np.array(1.5))
    assert s.size() == () and s.numel() == 1
    for bad in (3, -4):
        with pytest.raises(IndexError, match="out of range"):
            x.size(bad)
    with pytest.raises(IndexError):
        s.size(0)


def test_element_counts_use_numel():
    """The callers that counted elements with ``.size`` (now a method) count with ``numel()``."""
    model = nn.Linear(3, 2)
    assert model.num_parameters() == 3 * 2 + 2
    model.weight.requires_grad = False
    assert model.num_parameters(trainable_only=True) == 2
    x = tensor(np.random.default_rng(0).normal(size=(4, 3, 2, 2)))
    y = tn.functional.batch_norm(x, None, None, training=True)        # m = numel / C per channel
    np.testing.assert_allclose(host(y).mean(axis=(0, 2, 3)), 0, atol=1e-12)
    np.testing.assert_allclose(host(y).var(axis=(0, 2, 3)), 1, rtol=1e-4)


def test_view_is_reshape(backend):
    x = tensor(np.arange(6.0))
    y = x.view(2, 3)
    assert y.shape == (2, 3) and x.view((3, 2)).shape == (3, 2) and x.view(-1, 2).shape == (3, 2)
    (y * tensor(np.arange(6.0).reshape(2, 3), requires_grad=False)).sum().backward()
    assert host(x.grad).tolist() == [0, 1, 2, 3, 4, 5]


def test_argmax_gives_a_plain_integer_array_like_comparisons(backend):
    a = np.array([[1.0, 7.0, 7.0, 2.0], [9.0, 0.0, 3.0, 9.0], [-1.0, -2.0, -0.5, -3.0]])
    x = tensor(a)
    array_type = B._get(backend).array_type
    for r, want in [(x.argmax(), 4), (x.argmax(1), [1, 0, 2]), (x.argmax(dim=0), [1, 0, 0, 1]),
                    (x.argmax(axis=-1), [1, 0, 2])]:
        assert isinstance(r, array_type) and not isinstance(r, tn.Tensor)
        assert r.dtype.kind == "i"
        assert B.to_numpy(r).tolist() == want                        # ties: the first maximum
    assert x.argmax(1, keepdim=True).shape == (3, 1) and B.to_numpy(x.argmax(1, True)).ravel().tolist() == [1, 0, 2]
    assert x.argmax(keepdim=True).shape == (1, 1)
    assert B.to_numpy(x.argmax(keepdim=True)).item() == 4
    labels = tensor(np.array([2, 3, 2]), requires_grad=False)
    assert float((x.argmax(1) == labels.data).mean()) == pytest.approx(1 / 3)   # accuracy, as in a loop


def test_cpu_and_cuda_are_the_numpy_and_cupy_backends():
    x = tn.tensor([[1.0, 2.0]], requires_grad=True)
    assert x.to("cpu") is x                                  # already there: nothing moves
    y = x.to("fakecupy").to("cpu")
    assert y.backend == "numpy" and isinstance(y.data, np.ndarray) and y.tolist() == [[1.0, 2.0]]
    tn.set_backend("cpu")
    assert tn.get_backend() == "numpy" and tn.tensor([1.0]).backend == "numpy"
    assert B.canonical_name("cpu") == "numpy" and B.canonical_name("cuda") == "cupy"
    assert B.canonical_name("fakecupy") == "fakecupy"
    assert B.get_module("cpu") is np
    model = nn.Linear(2, 3).to("fakecupy").to("cpu")
    assert all(isinstance(p.data, np.ndarray) for p in model.parameters())
    assert isinstance(model(tn.tensor([[1.0, 2.0]])).data, np.ndarray)


def test_cuda_without_cupy_or_gpu_is_the_cupy_error():
    try:
        B.get_module("cupy")
        pytest.skip("CuPy and a GPU are present")
    except tn.BackendUnavailable as e:
        expected = str(e)
    for attempt in (lambda: tn.tensor([1.0]).to("cuda"), lambda: tn.set_backend("cuda"),
                    lambda: nn.Linear(2, 2).to("cuda")):
        with pytest.raises(tn.BackendUnavailable) as e:
            attempt()
        assert str(e.value) == expected and "cupy" in str(e.value)
    assert tn.get_backend() == "numpy"


def test_unknown_backend_lists_the_aliases_too():
    with pytest.raises(tn.BackendUnavailable, match="'cpu' for 'numpy'.*'cuda' for 'cupy'"):
        tn.tensor([1.0]).to("tpu")
    with pytest.raises(tn.BackendUnavailable, match="fakecupy"):
        tn.set_backend("gpu")                 # the stand-in registered by conftest is listed
