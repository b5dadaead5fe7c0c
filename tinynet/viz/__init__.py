"""``tinynet.viz``: pictures of the engine itself — what a model does with one image.

- ``to_dot(output, params)`` / ``draw_graph(output, path, params)``: the autograd graph behind a
  tensor, as Graphviz DOT text or drawn to SVG/PNG.
- ``feature_maps(model, x)``: every convolution and pooling layer's output for one image.
- ``saliency(model, x, target)``: |∂ logit_target / ∂ input|, by tinynet's own backward.
"""
from .draw import draw_graph
from .graph import to_dot, graph_nodes
from .maps import feature_maps, saliency

__all__ = ["to_dot", "graph_nodes", "draw_graph", "feature_maps", "saliency"]
