"""What a model does with one image: its feature maps and its saliency map.

Both take a model (a ``Sequential``, as every model in ``tinynet.models`` and every fine-tuned
one) and one image ``x``: an array or Tensor of shape (C, H, W) or (1, C, H, W), already
prepared as the model expects (``data.mnist_style``, or ``data.fashion_style`` for a Fashion-MNIST
model, and the checkpoint's normalisation).

Neither writes anything into the model (no ``.grad``, no hooks, no mode change when it is in
eval mode already), so a server may call them from several threads on one shared model. A model
left in training mode is put in eval mode for the call and back after (dropout off, BatchNorm
on its running statistics), since a picture of one image should not depend on a random mask.
"""
import contextlib

from .. import backend, nn
from ..tensor import Tensor, grad, no_grad

__all__ = ["feature_maps", "saliency"]

SHOWN = (nn.Conv2d, nn.LoRAConv2d, nn.MaxPool2d, nn.AvgPool2d)   # the layers feature_maps reports


def _one_image(x):
    """``x`` as a (1, C, H, W) array on the model's backend, from (C, H, W) or (1, C, H, W)."""
    data = x.data if isinstance(x, Tensor) else x
    if not backend.is_array(data):
        data = backend.get_module("numpy").asarray(data, dtype="float32")
    if data.ndim == 3:
        data = data[None]
    if data.ndim != 4 or data.shape[0] != 1:
        raise ValueError(f"expected one image of shape (C, H, W) or (1, C, H, W), got shape {tuple(data.shape)}")
    return data


def _layers(model):
    if not isinstance(model, nn.Sequential):
        raise TypeError(f"feature_maps and saliency walk a Sequential model layer by layer; got {type(model).__name__}")
    return list(model._modules.items())


@contextlib.contextmanager
def _eval_mode(model):
    was_training = model.training
    if was_training:
        model.eval()
    try:
        yield
    finally:
        if was_training:
            model.train()


def feature_maps(model, x):
    """Every convolution and pooling layer's output for one image, in order.

    Returns a list of ``(name, maps)``: ``name`` is the layer's key and class ("0 Conv2d"),
    ``maps`` a host NumPy float32 array of shape (C_out, H_out, W_out) — the output of that
    layer itself (before the ReLU that may follow it).
    """
    layers = _layers(model)
    h = Tensor(_one_image(x))
    out = []
    with no_grad(), _eval_mode(model):
        for key, layer in layers:
            h = layer(h)
            if isinstance(layer, SHOWN):
                out.append((f"{key} {type(layer).__name__}", backend.to_numpy(h.data[0]).astype("float32")))
    return out


def saliency(model, x, target=None):
    """|∂ logit_target / ∂ x| for one image: which pixels would move the target's logit most.

    ``target`` is a class index (default: the predicted class). Computed by tinynet's own
    backward through ``tinynet.autograd.grad``, which leaves the parameters' ``.grad`` alone.
    Returns a host NumPy array (H, W) of ``x``'s float dtype: the largest |gradient| over the
    input channels.
    """
    _layers(model)
    data = _one_image(x)
    x = Tensor(data if data.dtype.kind == "f" else data.astype("float32"), requires_grad=True)
    with _eval_mode(model):
        logits = model(x)
        if logits.ndim != 2 or logits.shape[0] != 1:
            raise ValueError(f"the model should give logits of shape (1, classes), got {logits.shape}")
        n = logits.shape[1]
        if target is None:
            target = int(backend.to_numpy(logits.data).argmax())
        if not isinstance(target, int) or isinstance(target, bool) or not 0 <= target < n:
            raise ValueError(f"target must be a class index in 0..{n - 1}, got {target!r}")
        one_hot = backend.array_module(logits.data).zeros(logits.shape, dtype=logits.data.dtype)
        one_hot[0, target] = 1
        g = grad(logits, x, grad_output=one_hot)
    return abs(backend.to_numpy(g.data[0])).max(axis=0)
