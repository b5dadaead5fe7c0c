"""What the ``tinynet serve`` tests share: a small trained checkpoint, PNG bytes of an array, a
running server on an ephemeral port, and requests to it."""
import http.client
import io
import json
import threading

import numpy as np

from tinynet import cli
from tinynet.serve import DigitServer, load_predictors


def train_lenet(out):
    """LeNet trained by the CLI on 3,000 images for 1 epoch (about 90 % on MNIST's test images)."""
    code = cli.main(["train", "--model", "lenet", "--epochs", "1", "--lr", "3e-3", "--batch-size", "32",
                     "--limit", "3000", "--seed", "0", "--out", str(out), "--no-plots"])
    assert code == 0
    return out / "checkpoint.npz"


def png_bytes(grey):
    """The PNG file of a grey image (H, W) in [0, 1], 0 = black."""
    from PIL import Image
    buffer = io.BytesIO()
    Image.fromarray(np.rint(np.asarray(grey) * 255).astype(np.uint8), "L").save(buffer, "PNG")
    return buffer.getvalue()


def decode_png(data_url):
    """A data URL of a PNG (as the API answers) as a NumPy uint8 array."""
    import base64
    from PIL import Image
    assert data_url.startswith("data:image/png;base64,")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data_url.split(",", 1)[1]))))


class Running:
    """A DigitServer serving in a thread, for a ``with`` block; ``url``, ``host``, ``port``."""

    def __init__(self, paths, **options):
        self.server = DigitServer(("127.0.0.1", 0), load_predictors(paths), **options)
        self.host, self.port = self.server.server_address[:2]
        self.url = self.server.url

    def __enter__(self):
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)

    def request(self, method, path, body=None, headers=None, timeout=60):
        """``(status, headers, JSON or text)`` of one request through http.client."""
        connection = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            raw = response.read()
        finally:
            connection.close()
        kind = response.getheader("Content-Type", "")
        return response.status, response, (json.loads(raw) if kind == "application/json" else raw)

    def predict(self, png=None, pixels=None, model=None, arrays=False):
        if png is not None:
            return self.request("POST", "/api/predict" + (f"?model={model}" if model else ""), png,
                                {"Content-Type": "image/png"})
        body = {"pixels": pixels, "arrays": arrays} | ({"model": model} if model else {})
        return self.request("POST", "/api/predict", json.dumps(body), {"Content-Type": "application/json"})
