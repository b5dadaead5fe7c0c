"""Exercise 05 · im2col (lessons/exercises/ex05_im2col.py).

col[n, (c, i, j), (oh, ow)] = x_padded[n, c, oh·SH + i, ow·SW + j]   →   (N, C·KH·KW, OH·OW)
"""
from types import SimpleNamespace

import numpy as np

from ... import functional as F
from ... import im2col as tinynet_im2col
from ...tensor import Tensor
from ..compare import Failed, as_array, compare_all, expect_close
from ..own import all_ops, defined_in
from ..probes import get
from ..registry import exercise

CASES = [((2, 3, 5, 6), 3, 1, 0), ((1, 2, 7, 7), (2, 3), 2, 1), ((3, 1, 6, 5), 3, (2, 1), (1, 0))]


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def reference_im2col(x, k, s=1, p=0):
    """im2col through tinynet's conv2d: one one-hot kernel per (c, i, j) copies that window entry."""
    (KH, KW), C = _pair(k), x.shape[1]
    eye = np.eye(C * KH * KW).reshape(C * KH * KW, C, KH, KW)
    y = F.conv2d(Tensor(np.asarray(x, dtype="float64")), Tensor(eye), stride=_pair(s), padding=_pair(p)).numpy()
    return y.reshape(y.shape[0], y.shape[1], -1)


ex = exercise(5, "im2col", "im2col", reference=lambda: SimpleNamespace(im2col=reference_im2col),
              forbidden=lambda: all_ops() + defined_in(tinynet_im2col))


def _case_inputs(cases):
    return lambda rng: {"cases": [(rng.standard_normal(shape), k, s, p) for shape, k, s, p in cases]}


def _run_cases(mod, inp):
    im2col = get(mod, "im2col")
    return {f"im2col(x {x.shape}, kernel {k}, stride {s}, padding {p})": im2col(x, k, s, p) for x, k, s, p in inp["cases"]}


def _judge_shapes(got, ref, inputs):
    for what, want in ref.items():
        shape = as_array(got.get(what), f"{what}'s result").shape
        if shape != want.shape:
            raise Failed(f"for {what.replace('im2col(', '').rstrip(')')}: shape {shape}, expected {want.shape}.")


ex.part("output shape (N, C·KH·KW, OH·OW)",
        "OH = (H + 2·PH − KH) // SH + 1 and OW likewise; one row per (c, i, j), one column per (oh, ow).",
        inputs=_case_inputs(CASES), uses=["im2col"], judge=_judge_shapes)(_run_cases)
ex.part("values: stride 1, no padding",
        "col[n, (c, i, j), (oh, ow)] = x_padded[n, c, oh·SH + i, ow·SW + j]: rows in (c, i, j) order, columns in "
        "(oh, ow) order.", inputs=_case_inputs(CASES[:1]), uses=["im2col"])(_run_cases)
ex.part("values: strides, padding and a non-square kernel",
        "Padding adds PH zero rows above and below and PW zero columns left and right; the window of output (oh, ow) "
        "starts at row oh·SH and column ow·SW of the padded image.", inputs=_case_inputs(CASES[1:]),
        uses=["im2col"])(_run_cases)


def _judge_conv(got, ref, inputs):
    w = inputs["w"]
    col = as_array(got.get("col"), "im2col's result")
    if col.shape != ref["col"].shape:
        raise Failed(f"im2col(x {inputs['x'].shape}, 3, 2, 1) has shape {col.shape}, expected {ref['col'].shape}.")
    conv = F.conv2d(Tensor(inputs["x"]), Tensor(w), stride=2, padding=1).numpy()
    expect_close("conv2d via your im2col", (w.reshape(4, -1) @ col).reshape(conv.shape), conv)
    compare_all(got, ref, inputs)


@ex.part("a convolution through your im2col equals tinynet's conv2d",
         "With w (OC, C, KH, KW), conv2d = w.reshape(OC, −1) @ col, reshaped to (N, OC, OH, OW).",
         inputs=lambda rng: {"x": rng.standard_normal((2, 3, 8, 7)), "w": rng.standard_normal((4, 3, 3, 3))},
         uses=["im2col"], judge=_judge_conv)
def convolution(mod, inp):
    return {"col": get(mod, "im2col")(inp["x"], 3, 2, 1)}
