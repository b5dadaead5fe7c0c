"""``tinynet.viz``: pictures of the engine itself — what a model does with one image.

- ``to_dot(output, params)`` / ``draw_graph(output, path, params)``: the autograd graph behind a
  tensor, as Graphviz DOT text or drawn to SVG/PNG.
- ``explain(model, image, path)``: one figure of how a model reads one picture of a digit (the
  picture, what the model saw, the probabilities, the saliency map, the first layer's feature maps).
- ``feature_maps(model, x)``: every convolution and pooling layer's output for one image.
- ``saliency(model, x, target)``: |∂ logit_target / ∂ input|, by tinynet's own backward.
"""
from .draw import draw_graph
from .figures import explain, explain_figure
from .graph import to_dot, graph_nodes
from .maps import feature_maps, saliency

__all__ = ["to_dot", "graph_nodes", "draw_graph", "explain", "explain_figure", "feature_maps", "saliency"]
