"""A trained model ready to classify one picture of a digit: ``Predictor``.

    from tinynet.predictor import Predictor
    p = Predictor.load("runs/cnn/checkpoint.npz")
    digit, x = p.prepare(grey)        # grey: (H, W) in [0, 1], any size, dark on light or light on dark
    probs = p.probabilities(x)        # (classes,) host float32, summing to 1; p.class_names[k] names class k

``prepare`` is the whole preprocessing of ``tinynet predict`` (and of ``tinynet serve``): the
picture made to look like a sample of the data the model learnt from — an MNIST digit
(``data.mnist_style``: inverted if the paper is light, cropped, 20×20 in a 28×28 frame, centred by
mass), or for a model fine-tuned on Fashion-MNIST a piece of clothing (``data.fashion_style``:
inverted, trimmed, filling the 28×28 frame) — then the checkpoint's normalisation
((x − mean) / std). ``digit`` (28, 28) is what the network sees (0 = background, 1 = ink) and
``x`` (1, 1, 28, 28) float32 is what goes into it.

The model is in eval mode and a Predictor never changes it: ``probabilities`` runs under
``no_grad``, so several threads may share one Predictor (grad mode is per thread).
"""
import os

from . import backend, data, models
from .runs import make_normalize
from .tasks import image_style
from .tensor import Tensor, no_grad

__all__ = ["Predictor", "newest_checkpoint"]

np = backend.get_module("numpy")


class Predictor:
    """``model`` (eval mode), its ``class_names`` and its ``normalize`` setting ("mnist", "half",
    "none" or "MEAN,STD", as a checkpoint's settings store it); ``name`` is what a user calls it;
    ``style``: how ``prepare`` makes a picture look like the training data (a key of
    ``data.STYLES``: "mnist" or "fashion")."""

    def __init__(self, model, class_names=None, normalize="mnist", name=None, style="mnist"):
        if style not in data.STYLES:
            raise ValueError(f"Predictor: style must be one of {', '.join(map(repr, data.STYLES))}, got {style!r}")
        self.style = style
        self.model = model.eval()
        self.class_names = list(class_names) if class_names is not None else [str(d) for d in range(10)]
        self.normalize = make_normalize(normalize)
        self.name = name or type(model).__name__

    @classmethod
    def load(cls, path, name=None):
        """The Predictor of the checkpoint at ``path`` (read and checked by ``train.load_model``:
        FileNotFoundError, or a CheckpointError naming the file)."""
        from .train import load_model
        model, ckpt = load_model(path)
        return cls(model, ckpt["extra"].get("class_names"), ckpt["args"].get("normalize", "mnist"),
                   name or ckpt["model_name"], image_style(ckpt["extra"].get("task")))

    def prepare(self, grey):
        """``(digit, x)``: the 28×28 float32 picture the network sees (``data.STYLES[self.style]``
        of ``grey``), and the (1, 1, 28, 28) float32 model input (it normalised). ValueError for a
        blank, empty or non-finite image."""
        digit = data.STYLES[self.style](grey)
        x = digit[None, None]
        x = self.normalize(x) if self.normalize else x
        return digit, np.ascontiguousarray(x, dtype=np.float32)

    def logits(self, x):
        """The model's (1, classes) logits Tensor for the prepared input ``x``, without a graph."""
        with no_grad():
            return self.model(Tensor(backend.to_backend(x, backend.backend_name(self._some_weight()))))

    def probabilities(self, x):
        """softmax(logits) of the prepared input ``x``: a host float32 array (classes,)."""
        return backend.to_numpy(self.logits(x).softmax(axis=1).data)[0].astype(np.float32)

    def _some_weight(self):
        return next(iter(self.model.parameters())).data

    def describe(self):
        """``{"name", "parameters", "classes", "layers": [[index, layer, output shape], …]}``."""
        rows = models.summary(self.model)       # leaves the model in eval mode, as it found it
        return {"name": self.name, "parameters": self.model.num_parameters(), "classes": self.class_names,
                "layers": [[index, layer, list(shape)] for index, layer, shape, _ in rows]}


def newest_checkpoint(runs="runs"):
    """The most recently written ``RUN/checkpoint.npz`` in the folder ``runs``, or None."""
    try:
        folders = [os.path.join(runs, d) for d in os.listdir(runs)]
    except OSError:                   # no such folder, not a folder, not readable
        return None
    found = [os.path.join(f, "checkpoint.npz") for f in folders if os.path.isfile(os.path.join(f, "checkpoint.npz"))]
    return max(found, key=os.path.getmtime, default=None)
