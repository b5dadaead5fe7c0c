"""Load on ``tinynet serve``: N concurrent clients sending a fixed number of predict requests.

    .venv/bin/python benchmarks/bench_serve.py [CKPT] [--clients 8] [--requests 400]

1. **One prediction, in this process**: ``api.predict`` (preprocessing, probabilities, feature
   maps, saliency, PNG encoding: everything a request computes) on MNIST test digits drawn as
   280×280 PNGs like the page's canvas; median and p95 ms over ``--single`` calls, and the parts.
2. **Load**: the server is started as its own process (``tinynet serve CKPT --port 0``), so its
   memory is its own; ``--clients`` threads each open a connection per request (HTTP/1.0) and
   POST those PNGs until ``--requests`` have been sent in all. Printed: requests/s, latency
   p50/p95/max, errors (anything but a 200, must be 0), how many answers were the digit's label,
   and the server's resident memory (VmRSS) before and after, and its peak (VmHWM).

CKPT: default the newest ``runs/*/checkpoint.npz`` (``make train`` writes runs/cnn).
``--blas-threads N``: NumPy's BLAS (OpenBLAS) threads, here and in the server process
(OPENBLAS_NUM_THREADS); default: as BLAS chooses (one per core). On a shared, loaded machine one
thread per request is much faster: the BLAS threads of concurrent requests otherwise fight.
"""
import argparse
import http.client
import io
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))                                # run from a checkout

from common import blas_threads, set_blas_threads           # noqa: E402
from data_tools.mnist import load_mnist                      # noqa: E402
from tinynet import viz                                      # noqa: E402
from tinynet.cli.common import int_between                   # noqa: E402
from tinynet.predictor import Predictor, newest_checkpoint   # noqa: E402
from tinynet.serve import api                                # noqa: E402


def canvas_pngs(count):
    """``count`` MNIST test digits as 280×280 PNGs (each pixel 10×10, as thick as the page's strokes), and labels."""
    from PIL import Image
    images, labels = load_mnist("test")
    pngs = []
    for digit in images[:count]:
        buffer = io.BytesIO()
        Image.fromarray(np.kron(digit, np.ones((10, 10), np.uint8)), "L").save(buffer, "PNG")
        pngs.append(buffer.getvalue())
    return pngs, [int(v) for v in labels[:count]]


def ms(seconds):
    return f"{1000 * seconds:.1f} ms"


def percentile(values, q):
    return float(np.percentile(np.asarray(values), q))


def single(checkpoint, pngs, repeats):
    """Time api.predict (everything one request computes) and its parts, in this process."""
    predictor = Predictor.load(checkpoint)
    greys = [api.read_png(p) for p in pngs[:repeats]]
    api.predict(predictor, greys[0])                           # warm-up
    whole, parts = [], {"decode PNG": [], "prepare": [], "probabilities": [], "feature maps": [], "saliency": []}
    for png, grey in zip(pngs[:repeats], greys):
        t0 = time.perf_counter()
        api.predict(predictor, api.read_png(png))
        whole.append(time.perf_counter() - t0)
        t = [time.perf_counter()]
        api.read_png(png)
        t.append(time.perf_counter())
        _, x = predictor.prepare(grey)
        t.append(time.perf_counter())
        predictor.probabilities(x)
        t.append(time.perf_counter())
        viz.feature_maps(predictor.model, x)
        t.append(time.perf_counter())
        viz.saliency(predictor.model, x)
        t.append(time.perf_counter())
        for name, a, b in zip(parts, t, t[1:]):
            parts[name].append(b - a)
    print(f"one prediction with feature maps and saliency ({predictor.name}, {len(whole)} digits, PNG 280×280 in, "
          f"JSON dict out): median {ms(statistics.median(whole))}, p95 {ms(percentile(whole, 95))}")
    print("  parts (medians): " + ", ".join(f"{k} {ms(statistics.median(v))}" for k, v in parts.items()))


def memory(pid):
    """(VmRSS, VmHWM) of process ``pid`` in MiB, from /proc (Linux)."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return tuple(int(fields[k].split()[0]) / 1024 for k in ("VmRSS", "VmHWM"))


def load(checkpoint, pngs, labels, clients, total, threads):
    env = dict(os.environ, **({"OPENBLAS_NUM_THREADS": str(threads)} if threads else {}))
    server = subprocess.Popen([sys.executable, "-m", "tinynet.cli", "serve", str(checkpoint), "--port", "0"],
                              stdout=subprocess.PIPE, text=True, cwd=ROOT, env=env)
    try:
        line = server.stdout.readline()
        if "http://" not in line:
            raise SystemExit(f"the server did not start: {line!r}")
        host, port = line.split("http://", 1)[1].split("/", 1)[0].rsplit(":", 1)
        port = int(port)
        before = memory(server.pid)
        latencies, errors, correct = [], [], [0]
        lock, counter = threading.Lock(), iter(range(total))

        def client():
            while True:
                with lock:
                    k = next(counter, None)
                if k is None:
                    return
                i = k % len(pngs)
                t0 = time.perf_counter()
                try:
                    c = http.client.HTTPConnection(host, port, timeout=60)
                    c.request("POST", "/api/predict", pngs[i], {"Content-Type": "image/png"})
                    r = c.getresponse()
                    body = r.read()
                    c.close()
                except OSError as e:
                    with lock:
                        errors.append(repr(e))
                    continue
                elapsed = time.perf_counter() - t0
                with lock:
                    latencies.append(elapsed)
                    if r.status != 200:
                        errors.append(f"HTTP {r.status}: {body[:100]!r}")
                    elif b'"top":{"index":%d,' % labels[i] in body:
                        correct[0] += 1

        threads = [threading.Thread(target=client) for _ in range(clients)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        after = memory(server.pid)
    finally:
        server.terminate()
        server.wait(10)
    print(f"load: {clients} clients, {total} requests (a new connection each) in {wall:.1f} s: "
          f"{total / wall:.1f} requests/s; latency p50 {ms(percentile(latencies, 50))}, "
          f"p95 {ms(percentile(latencies, 95))}, max {ms(max(latencies))}; errors {len(errors)}; "
          f"label on top {correct[0]}/{total - len(errors)}")
    print(f"server memory: {before[0]:.0f} MiB before, {after[0]:.0f} MiB after (peak {after[1]:.0f} MiB)")
    for e in errors[:5]:
        print("  error:", e)
    return len(errors)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("checkpoint", nargs="?", help="default: the newest runs/*/checkpoint.npz")
    p.add_argument("--clients", type=int_between(1, 256, 8), default=8)
    p.add_argument("--requests", type=int_between(1), default=400)
    p.add_argument("--single", type=int_between(1), default=50, help="digits for the one-prediction timing")
    p.add_argument("--blas-threads", type=int_between(1, 256, 2), help="NumPy's BLAS threads here and in the server (default: BLAS's choice)")
    args = p.parse_args()
    if args.blas_threads:
        set_blas_threads(args.blas_threads)
    print(f"BLAS threads: {blas_threads()} (of {os.cpu_count()} cores); load average {os.getloadavg()[0]:.1f}")
    checkpoint = args.checkpoint or newest_checkpoint(ROOT / "runs")
    if checkpoint is None:
        raise SystemExit("no checkpoint: run `make train` first, or name one")
    try:    # the file is checked here, once, before a server is started on it
        Predictor.load(checkpoint)
    except (OSError, ValueError) as e:
        p.error(f"checkpoint: {e}")
    pngs, labels = canvas_pngs(max(args.single, 100))
    single(checkpoint, pngs, args.single)
    return 1 if load(checkpoint, pngs, labels, args.clients, args.requests, args.blas_threads) else 0


if __name__ == "__main__":
    sys.exit(main())
