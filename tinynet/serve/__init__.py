"""``tinynet.serve``: the local draw-a-digit page (``tinynet serve``), its JSON API and its server.

    from tinynet.serve import make_server
    server = make_server(["runs/cnn/checkpoint.npz", "runs/lenet/checkpoint.npz"])   # 127.0.0.1:8000
    print(server.url); server.serve_forever()

- ``api.py``: a request body → the JSON answer (probabilities, the input the network sees, feature
  maps, saliency), documented there; no HTTP.
- ``server.py``: ``DigitServer``, the standard library's ThreadingHTTPServer with exact routes,
  size caps, timeouts and a bounded number of threads.
- ``page.html``: the page, one self-contained file shipped as package data.
"""
import os

from ..predictor import Predictor
from .server import DigitServer

__all__ = ["make_server", "load_predictors", "model_names", "DigitServer"]


def model_names(paths):
    """A short, distinct name per checkpoint path: its run folder's name for ``RUN/checkpoint.npz``
    (``runs/cnn/checkpoint.npz`` → ``cnn``), else the file name without ``.npz``; ``-2``, ``-3``… for repeats."""
    names = []
    for path in paths:
        stem = os.path.splitext(os.path.basename(path))[0]
        if stem == "checkpoint":
            stem = os.path.basename(os.path.dirname(os.path.abspath(path))) or stem
        name, k = stem, 2
        while name in names:
            name, k = f"{stem}-{k}", k + 1
        names.append(name)
    return names


def load_predictors(paths):
    """``{name: Predictor}`` for checkpoint ``paths`` (``Predictor.load``; its errors name the file)."""
    return {name: Predictor.load(path, name) for name, path in zip(model_names(paths), paths)}


def make_server(paths, host="127.0.0.1", port=8000, **options):
    """A ``DigitServer`` on ``host:port`` (port 0: any free one) for the checkpoints at ``paths``;
    ``options`` go to DigitServer (``max_connections``, ``max_working``, ``timeout``, ``deadline``, ``verbose``)."""
    return DigitServer((host, port), load_predictors(paths), **options)
