"""benchmarks/bench_prefetch.py: the prefetching reader serves exactly the loader's batches, in
order, and the benchmark runs end to end (tiny settings; its timings are not checked)."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_prefetch import prefetched  # noqa: E402
from tinynet import data  # noqa: E402


def test_prefetched_serves_the_loaders_batches_in_order():
    ds = data.TensorDataset(np.arange(50, dtype=np.float32).reshape(50, 1), np.arange(50) % 10)
    direct = [(x.numpy().copy(), y.numpy().copy()) for x, y in data.DataLoader(ds, 8, shuffle=True, seed=3)]
    ahead = [(x.numpy().copy(), y.numpy().copy()) for x, y in prefetched(data.DataLoader(ds, 8, shuffle=True, seed=3))]
    assert len(direct) == len(ahead) == 7
    assert all(np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]) for a, b in zip(direct, ahead))


def test_prefetch_benchmark_runs_and_prints_both_loaders():
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_prefetch.py"), "--steps", "2", "--rounds", "2",
                        "--workers", "1"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "plain " in r.stdout and "augmented " in r.stdout and "saving" in r.stdout


@pytest.mark.parametrize("bad", [["--workers", "0"], ["--workers", "65"], ["--steps", "0"], ["--steps", "-3"],
                                 ["--rounds", "0"], ["--workers", "abc"]])
def test_a_bad_option_is_one_line(bad):
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_prefetch.py"), *bad],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "Traceback" not in r.stderr and "error:" in r.stderr.splitlines()[-1], r.stderr
