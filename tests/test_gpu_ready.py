"""Ready for a real GPU: the first use of "cupy" runs a self-test that names a missing CUDA library,
``tinynet doctor`` says what works, the ``gpu`` extra brings CuPy's CUDA libraries, and an optimizer
refuses to step with state left on another backend."""
import os
import sys

import numpy as np
import pytest

import tinynet as tn
from cli_run import run
from tinynet import backend, doctor, nn, optim

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_set_backend_cupy_runs_the_self_test_on_the_stand_in(fake_cupy_as_cupy):
    with fake_cupy_as_cupy.count_transfers() as c:
        tn.set_backend("cupy")
    assert tn.get_backend() == "cupy" and c["to_host"] == 1          # the self-test's copy to the host


@pytest.mark.parametrize("where, message, library", [
    ("kernel", "CompileException: libnvrtc.so.12: cannot open shared object file", "NVRTC"),
    ("matmul", "CUBLASError: CUBLAS_STATUS_NOT_INITIALIZED", "cuBLAS"),
    ("matmul", "RuntimeError: CuPy failed to load libcublas.so.12", "cuBLAS"),
    ("copy", "CUDARuntimeError: cudaErrorIllegalAddress", None),
])
def test_a_failing_first_operation_is_backend_unavailable_naming_the_library(
        fake_cupy_as_cupy, monkeypatch, where, message, library):
    def fail(*a, **k):
        raise RuntimeError(message)
    fc = fake_cupy_as_cupy
    target = {"kernel": (fc.FakeArray, "__mul__"), "matmul": (fc.FakeArray, "__matmul__"),
              "copy": (fc.xp, "asnumpy")}[where]
    monkeypatch.setattr(*target, fail)
    with pytest.raises(tn.BackendUnavailable) as e:
        tn.set_backend("cupy")
    text = str(e.value)
    assert "\n" not in text and "tinynet[gpu]" in text and message[:20] in text
    assert (library in text) if library else "missing or broken" not in text
    assert tn.get_backend() == "numpy"


def test_a_wrong_self_test_result_is_refused(fake_cupy_as_cupy, monkeypatch):
    monkeypatch.setattr(fake_cupy_as_cupy.FakeArray, "__matmul__", lambda a, b: a.sum(axis=1))
    with pytest.raises(tn.BackendUnavailable, match="self-test computed"):
        tn.set_backend("cupy")


def test_doctor_with_a_working_gpu(fake_cupy_as_cupy, capsys):
    r = doctor.report()
    assert r["gpu"]["works"] and r["gpu"]["cupy"] == fake_cupy_as_cupy.MANIFEST["cupy_version"]
    assert r["numpy"]["version"] == np.__version__ and r["threads"]["cpus"] >= 1
    code, out, _ = run(capsys, "doctor")
    assert code == 0 and "gpu      works" in out and "backends numpy (always), cupy" in out


def test_doctor_without_cupy(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "cupy", None)                   # import cupy -> ImportError
    monkeypatch.delitem(backend._backends, "cupy", raising=False)
    code, out, _ = run(capsys, "doctor")
    assert code == 0 and "cupy     not installed" in out and "does not work" in out
    code, out, _ = run(capsys, "doctor", "--json")
    assert code == 0 and '"works": false' in out


def test_the_gpu_extra_brings_cupys_cuda_libraries():
    import tomllib
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        gpu = tomllib.load(f)["project"]["optional-dependencies"]["gpu"]
    assert any(req.startswith("cupy-cuda12x[ctk]") for req in gpu), gpu


def test_an_optimizer_refuses_state_left_on_another_backend(backend):
    if backend == "numpy":
        pytest.skip("needs a second backend")
    tn.set_backend("numpy")
    net = nn.Linear(2, 1)
    opt = optim.Adam(net.parameters(), lr=0.1)
    x = tn.Tensor(np.ones((1, 2)))
    net(x).sum().backward()
    opt.step()
    net.to(backend)
    opt.zero_grad()
    xb = x.to(backend)
    net(xb).sum().backward()
    with pytest.raises(tn.backend.BackendError, match="load_state_dict"):
        opt.step()
    opt.load_state_dict(opt.state_dict())                            # moves the state
    opt.step()
    assert {backend_name for s in opt.state.values() for backend_name in
            [tn.backend.backend_name(v) for v in s.values() if tn.backend.is_array(v)]} == {backend}


@pytest.mark.parametrize("model_name", ["mlp", "cnn_dropout"])
def test_device_to_host_copies_per_training_step(fake_cupy_as_cupy, model_name):
    """On CuPy a training step copies to the host twice: the loss value (for the divergence check
    and the running mean) and the targets' bounds (one copy of [min, max]: CuPy would wrap a bad
    class index silently). Accuracy is counted on the device and copied once per epoch."""
    from tinynet import data, functional as F, models, train
    tn.set_backend("cupy")
    tn.manual_seed(0)
    model = models.build(model_name).to("cupy")
    opt = optim.Adam(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(0)
    ds = data.TensorDataset(rng.standard_normal((64, 1, 28, 28)).astype("float32"), rng.integers(0, 10, 64))
    loader = data.DataLoader(ds, batch_size=16, backend="cupy")
    steps = len(loader)
    with fake_cupy_as_cupy.count_transfers() as c:
        result = train.train_epoch(model, opt, loader, F.cross_entropy)
    assert steps == 4 and result["samples"] == 64
    assert c["to_host"] == 2 * steps + 1


def test_dropout_masks_are_made_on_the_device(fake_cupy_as_cupy):
    """No array crosses to the device for a mask; the mask is a function of tinynet's seed alone,
    the same whichever array module computes it, and keeps about 1 - p of the elements."""
    from tinynet import functional as F, random
    x = tn.Tensor(backend.to_backend(np.ones((64, 500), dtype="float32"), "cupy"))
    tn.manual_seed(7)
    with fake_cupy_as_cupy.count_transfers() as c:
        y = F.dropout(x, p=0.25, training=True)
    assert c["to_device"] == 0 and backend.backend_name(y.data) == "cupy"
    kept = y.numpy() != 0
    assert abs(kept.mean() - 0.75) < 0.01 and np.allclose(y.numpy()[kept], 1 / 0.75)
    tn.manual_seed(7)
    seed = int(random.generator().integers(0, 2 ** 63))
    expected = random.counter_uniform(np, (64, 500), seed) >= 0.25            # the same draw on NumPy
    assert (kept == expected).all()
    tn.manual_seed(7)
    assert (F.dropout(x, p=0.25, training=True).numpy() == y.numpy()).all()


def test_gpu_benchmark_skips_in_one_line_without_a_gpu(monkeypatch):
    import subprocess
    monkeypatch.delitem(backend._backends, "cupy", raising=False)
    try:
        backend.get_module("cupy")
        pytest.skip("a GPU works here")
    except backend.BackendUnavailable:
        pass
    r = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "bench_cnn_step_gpu.py")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stderr == "" and len(r.stdout.splitlines()) == 1
    assert r.stdout.startswith("bench_cnn_step_gpu: skipped, no GPU works here: backend 'cupy'")


def test_gpu_benchmark_runs_on_the_stand_in(fake_cupy_as_cupy, monkeypatch, capsys):
    monkeypatch.syspath_prepend(os.path.join(ROOT, "benchmarks"))
    import bench_cnn_step_gpu
    monkeypatch.setattr(bench_cnn_step_gpu, "import_torch", lambda: None)     # tinynet alone
    assert bench_cnn_step_gpu.main(["--rounds", "1", "--per-round", "2", "--warmup", "1", "--batch", "8",
                                    "--no-inference"]) == 0
    out = capsys.readouterr().out
    assert "device fakecupy CPU stand-in" in out and "tinynet  median" in out and tn.get_backend() == "numpy"
