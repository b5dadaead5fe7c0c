"""The JSON API of ``tinynet serve``: a request body in, a JSON-ready dict out (no HTTP here).

``POST /api/predict`` takes one of

- an image file as the body (``Content-Type: image/png``, or any image/* Pillow reads: JPEG, …),
  any size up to ``MAX_PIXELS`` pixels, dark on light or light on dark; the model is chosen with
  the query ``?model=NAME`` (default: the first one);
- ``Content-Type: application/json`` and ``{"pixels": P, "model": NAME, "arrays": false}``:
  ``P`` a 28×28 list of lists of grey levels in [0, 1] (0 = black), which goes through the same
  preprocessing as an image; ``model`` and ``arrays`` are optional.

and answers (200)::

    {"model": "cnn",                          # the model that answered
     "classes": ["0", …, "9"],                # class names, in the model's output order
     "probabilities": [p0, …, p9],            # softmax of the logits, summing to 1
     "top": {"index": 7, "class": "7", "probability": 0.98},
     "input": "data:image/png;base64,…",      # the 28×28 digit the network sees (white ink on black)
     "saliency": "data:image/png;base64,…",   # 28×28 RGBA: red, opacity ∝ |∂ logit_top / ∂ input|
     "feature_maps": [                        # every convolution and pooling layer, in order
        {"layer": "0 Conv2d", "shape": [32, 28, 28],
         "channels": [{"index": 5, "strength": 0.41, "png": "data:image/png;base64,…"}, …]}, …],
     "arrays": {"input": 28×28, "saliency": 28×28, "feature_maps": {"0 Conv2d": C×H×W}}}   # only with "arrays": true

``channels`` holds the ``STRONGEST`` channels of the layer, strongest first (strength: the mean
of the channel's positive part); every PNG of one layer shares one grey scale, 0 → black, the
layer's largest value → white, so channels can be compared. ``GET /api/models`` answers
``{"models": [{"name", "parameters", "classes", "layers": [[index, layer, output shape], …]}, …]}``.

A request that cannot be used raises ``ApiError(status, message)``: 400 for a body that is not
an image or a valid array, an unknown model or option; 413 for an image of too many pixels.
"""
import io
import json
import warnings

from .. import backend, data, viz
from .png import png_data_url

__all__ = ["ApiError", "MAX_PIXELS", "MAX_SIDE", "STRONGEST", "read_png", "read_pixels", "read_json", "predict", "choose", "answer_predict"]

np = backend.get_module("numpy")

MAX_PIXELS = 2048 * 2048    # an uploaded image may have at most this many pixels (checked before decoding)
MAX_SIDE = 8192             # and at most this many on a side
STRONGEST = 8               # feature-map channels shown per layer
SIDE = 28                   # the JSON array's side


class ApiError(Exception):
    """A request the API refuses: ``status`` (400, 413; the server adds 404, 405, 408, 411) and a one-line ``message``."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status, self.message = status, message


class _Upload(io.BytesIO):
    """The request body as a file, which error messages call "the uploaded image"."""

    def __str__(self):
        return "the uploaded image"

    __repr__ = __str__


def read_png(body):
    """The uploaded image as grey levels (H, W) in [0, 1]: its size checked from the header before
    any pixel is decoded (``data.image_size``), then decoded by ``data.read_image``."""
    if not body:
        raise ApiError(400, "the request body is empty: send a PNG image, or JSON {\"pixels\": 28×28 array}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            upload = _Upload(body)
            width, height = data.image_size(upload)
            if width * height > MAX_PIXELS or max(width, height) > MAX_SIDE:
                raise ApiError(413, f"the image is {width}x{height} = {width * height:,} pixels; the server reads "
                                    f"at most {MAX_PIXELS:,} pixels and {MAX_SIDE:,} on a side")
            return data.read_image(upload)
    except data.ImageError as e:
        raise ApiError(413 if isinstance(e, data.ImageTooLargeError) else 400, str(e)) from None


def read_pixels(value):
    """A JSON ``pixels`` value as a (28, 28) float32 array: 28 rows of 28 numbers in [0, 1]."""
    if not (isinstance(value, list) and len(value) == SIDE
            and all(isinstance(row, list) and len(row) == SIDE for row in value)):
        raise ApiError(400, f"\"pixels\" must be {SIDE} rows of {SIDE} numbers (grey levels in [0, 1])")
    if not all(type(v) in (int, float) for row in value for v in row):    # no bools, strings, nulls
        raise ApiError(400, "\"pixels\" must hold numbers only (grey levels in [0, 1])")
    a = np.array(value, dtype=np.float64)
    if not (np.isfinite(a).all() and (a >= 0).all() and (a <= 1).all()):
        raise ApiError(400, "\"pixels\" must be grey levels in [0, 1] (0 = black); some are outside or not finite")
    return a.astype(np.float32)


def read_json(body):
    """``(grey image, model name or None, arrays wanted)`` from a JSON request body."""
    try:
        request = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        reason = "nested too deeply" if isinstance(e, RecursionError) else str(e).splitlines()[0][:120]
        raise ApiError(400, f"the body is not valid JSON ({reason})") from None
    if not isinstance(request, dict) or "pixels" not in request:
        raise ApiError(400, "expected a JSON object {\"pixels\": 28×28 array, \"model\": name, \"arrays\": false}")
    unknown = sorted(set(request) - {"pixels", "model", "arrays"})
    if unknown:
        raise ApiError(400, f"unknown key(s) {', '.join(map(repr, unknown))[:200]}; known: pixels, model, arrays")
    model, arrays = request.get("model"), request.get("arrays", False)
    if model is not None and not isinstance(model, str):
        raise ApiError(400, "\"model\" must be a model name (a string)")
    if not isinstance(arrays, bool):
        raise ApiError(400, "\"arrays\" must be true or false")
    return read_pixels(request["pixels"]), model, arrays


def _grey(a, top):
    """``a`` / ``top`` as uint8 grey levels, clipped to [0, 255] (``top`` ≤ 0: all black)."""
    scale = 255.0 / top if top > 0 else 0.0
    return np.clip(np.rint(a * scale), 0, 255).astype(np.uint8)


def explain_layer(name, maps):
    """The JSON of one layer's feature maps (C, H, W): its ``STRONGEST`` channels as PNGs on one scale."""
    positive = np.maximum(maps, 0)
    strength = positive.mean(axis=(1, 2))
    order = np.argsort(-strength, kind="stable")[:STRONGEST]
    top = float(positive.max())
    return {"layer": name, "shape": list(maps.shape),
            "channels": [{"index": int(c), "strength": round(float(strength[c]), 6), "png": png_data_url(_grey(positive[c], top))}
                         for c in order]}


def saliency_overlay(s):
    """(H, W) |gradient| → an RGBA uint8 picture: pure red whose opacity is the gradient over its maximum."""
    rgba = np.zeros(s.shape + (4,), np.uint8)
    rgba[..., 0] = 255
    rgba[..., 3] = _grey(s, float(s.max()))
    return rgba


def predict(predictor, grey, arrays=False):
    """The answer to one picture ``grey`` (H, W) in [0, 1] by ``predictor`` (see the module docstring)."""
    try:
        digit, x = predictor.prepare(grey)
    except ValueError as e:                 # blank, or not a usable image
        raise ApiError(400, f"cannot use the image: {e}") from None
    p = predictor.probabilities(x)
    top = int(np.argmax(p))
    maps = viz.feature_maps(predictor.model, x)
    s = viz.saliency(predictor.model, x, target=top).astype(np.float32)
    answer = {"model": predictor.name, "classes": predictor.class_names,
              "probabilities": [round(float(v), 6) for v in p],
              "top": {"index": top, "class": predictor.class_names[top], "probability": round(float(p[top]), 6)},
              "input": png_data_url(_grey(digit, 1.0)), "saliency": png_data_url(saliency_overlay(s)),
              "feature_maps": [explain_layer(name, m) for name, m in maps]}
    if arrays:
        answer["arrays"] = {"input": _rounded(digit), "saliency": _rounded(s),
                            "feature_maps": {name: _rounded(m) for name, m in maps}}
    return answer


def _rounded(a):
    return np.round(a.astype(np.float64), 6).tolist()


def choose(predictors, name):
    """The predictor called ``name`` (None: the first); ApiError 400 naming the known ones."""
    if name is None:
        return next(iter(predictors.values()))
    if name not in predictors:
        raise ApiError(400, f"unknown model {name[:80]!r}; known: {', '.join(predictors)}")
    return predictors[name]


def answer_predict(predictors, body, content_type, query_model=None):
    """The whole of ``POST /api/predict``: ``body`` (bytes) of ``content_type`` → the answer dict."""
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind == "application/json" or (not kind and body.lstrip()[:1] == b"{"):
        grey, name, arrays = read_json(body)
        if query_model is not None and name is not None and name != query_model:
            raise ApiError(400, "the model is named twice, differently (?model= and \"model\")")
        return predict(choose(predictors, name if name is not None else query_model), grey, arrays)
    if not kind or kind.startswith("image/") or kind == "application/octet-stream":
        predictor = choose(predictors, query_model)          # before any decoding
        return predict(predictor, read_png(body))
    raise ApiError(400, f"Content-Type {kind[:60]!r} is not accepted: send image/png or application/json")
