"""``tinynet.viz``: pictures of the engine itself — what a model does with one image.

- ``feature_maps(model, x)``: every convolution and pooling layer's output for one image.
- ``saliency(model, x, target)``: |∂ logit_target / ∂ input|, by tinynet's own backward.
"""
from .maps import feature_maps, saliency

__all__ = ["feature_maps", "saliency"]
