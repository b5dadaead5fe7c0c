"""Exercise 12 · LoRA (lessons/exercises/ex12_lora.py):  y = x Wᵀ + b + (α/r)·(x Aᵀ) Bᵀ,
W, b frozen; A (r, in) random, B (out, r) zero at the start; merged weight W + (α/r) B A.
"""
from types import SimpleNamespace

import numpy as np

from ... import finetune
from ... import functional as F
from ... import nn
from ...nn import lora
from ...tensor import Tensor
from ..compare import Failed, expect_close
from ..own import defined_in
from ..probes import get
from ..registry import exercise


class ReferenceLoRALinear(lora.LoRALinear):
    """tinynet's LoRALinear under the exercise's names."""

    def merged_weight(self):
        return self.base.weight.data + self.delta_weight()


ex = exercise(12, "lora", "LoRA", reference=lambda: SimpleNamespace(LoRALinear=ReferenceLoRALinear),
              forbidden=lambda: defined_in(lora) + [finetune.apply_lora, finetune.merge_lora])
HINT = "y = x Wᵀ + b + (α/r)·(x Aᵀ) Bᵀ with W, b frozen and A (r, in) and B (out, r) trainable."
IN, OUT, RANK, ALPHA = 6, 5, 2, 3.0
SCALE = ALPHA / RANK


def layer_inputs(rng):
    """The base layer's weights, a B to set after construction, an input and an upstream gradient."""
    return {"w": rng.standard_normal((OUT, IN)).astype("float32"), "b": rng.standard_normal(OUT).astype("float32"),
            "B": rng.standard_normal((OUT, RANK)).astype("float32"), "x": rng.standard_normal((4, IN)).astype("float32"),
            "gy": rng.standard_normal((4, OUT)).astype("float32")}


def build(mod, inp, set_b=True):
    """The base nn.Linear(6, 5) with the given weights, wrapped by the file's LoRALinear(rank 2, α 3)."""
    base = nn.Linear(IN, OUT)
    base.weight.data[...], base.bias.data[...] = inp["w"], inp["b"]
    layer = get(mod, "LoRALinear")(base, rank=RANK, alpha=ALPHA)
    if set_b:
        get(layer, "lora_B").data[...] = inp["B"]
    return layer, base


def _judge_structure(got, ref, inputs):
    if got.get("base requires grad") != [False, False]:
        raise Failed("the base layer's weight or bias still requires gradients.")
    if got.get("A shape") != ref["A shape"] or got.get("B shape") != ref["B shape"]:
        raise Failed(f"lora_A {tuple(got.get('A shape') or ())} and lora_B {tuple(got.get('B shape') or ())}, expected "
                     f"{tuple(ref['A shape'])} and {tuple(ref['B shape'])} for Linear({IN}, {OUT}) with r = {RANK}.")
    if got.get("trainable") != ref["trainable"]:
        raise Failed(f"{got.get('trainable')} trainable numbers, expected r·(in + out) = {ref['trainable']}.")


@ex.part("only lora_A (r, in) and lora_B (out, r) train; the base layer is frozen",
         "Freeze the base layer (requires_grad off for its weight and bias) and create A and B as nn.Parameter.",
         inputs=layer_inputs, uses=["LoRALinear.__init__"], judge=_judge_structure)
def structure(mod, inp):
    layer, base = build(mod, inp, set_b=False)
    return {"base requires grad": [base.weight.requires_grad, base.bias.requires_grad],
            "A shape": list(get(layer, "lora_A").shape), "B shape": list(get(layer, "lora_B").shape),
            "trainable": sum(p.numel() for p in layer.parameters() if p.requires_grad)}


def _judge_start(got, ref, inputs):
    if got.get("A non-zero") is not True or got.get("B zero") is not True:
        raise Failed("expected lora_A random (non-zero) and lora_B all zeros at the start.")
    if got.get("same output") is not True:
        raise Failed("at the start the output differs from the base layer's.")


@ex.part("A starts random, B at zero: the output starts equal to the base layer's",
         "With B = 0 the correction is exactly 0; A must not be 0 too, or neither A nor B would ever get a gradient.",
         inputs=layer_inputs, uses=["LoRALinear.__init__", "LoRALinear.forward"], judge=_judge_start)
def start(mod, inp):
    layer, base = build(mod, inp, set_b=False)
    x = Tensor(inp["x"])
    return {"A non-zero": bool(np.any(layer.lora_A.data)), "B zero": not np.any(layer.lora_B.data),
            "same output": bool(np.array_equal(layer(x).numpy(), base(x).numpy()))}


def _expected_y(inputs, A):
    return inputs["x"] @ (inputs["w"] + SCALE * inputs["B"] @ A).T + inputs["b"]


def _judge_forward(got, ref, inputs):
    A = got.get("A")
    expect_close("y", got.get("y"), _expected_y(inputs, A if isinstance(A, np.ndarray) else ref["A"]), atol=1e-5)


@ex.part("forward: y = x (W + (α/r) B A)ᵀ + b", HINT, inputs=layer_inputs,
         uses=["LoRALinear.__init__", "LoRALinear.forward"], judge=_judge_forward)
def forward(mod, inp):
    layer, _ = build(mod, inp)
    return {"y": layer(Tensor(inp["x"])), "A": layer.lora_A}


def _judge_backward(got, ref, inputs):
    if got.get("connected") is False:
        raise Failed("the output is not connected to lora_A and lora_B in the graph (it has no grad_fn), so "
                     "backward cannot reach them.")
    if got.get("base weight grad") is not False:
        raise Failed("the frozen base weight received a gradient.")
    A = got.get("A") if isinstance(got.get("A"), np.ndarray) else ref["A"]
    a, b = Tensor(A.astype("float32"), requires_grad=True), Tensor(inputs["B"].copy(), requires_grad=True)
    x = Tensor(inputs["x"])
    (F.linear(x, Tensor(inputs["w"]), Tensor(inputs["b"])) + SCALE * ((x @ a.T) @ b.T)).backward(inputs["gy"])
    expect_close("∂L/∂A", got.get("∂L/∂A"), a.grad, atol=1e-5)
    expect_close("∂L/∂B", got.get("∂L/∂B"), b.grad, atol=1e-5)


@ex.part("backward reaches A and B, and not the frozen W", "Use tinynet operations on Tensors in forward "
         "(@, .T, +, *) — not .data or NumPy — so that the graph reaches lora_A and lora_B.", inputs=layer_inputs,
         uses=["LoRALinear.__init__", "LoRALinear.forward"], judge=_judge_backward)
def backward(mod, inp):
    layer, base = build(mod, inp)
    y = layer(Tensor(inp["x"]))
    if not y.requires_grad:
        return {"connected": False}
    y.backward(inp["gy"])
    return {"connected": True, "base weight grad": base.weight.grad is not None, "A": layer.lora_A,
            "∂L/∂A": layer.lora_A.grad, "∂L/∂B": layer.lora_B.grad}


def _judge_merged(got, ref, inputs):
    A = got.get("A") if isinstance(got.get("A"), np.ndarray) else ref["A"]
    expect_close("merged_weight()", got.get("merged"), inputs["w"] + SCALE * inputs["B"] @ A, atol=1e-6)
    merged = got["merged"]
    expect_close("x merged_weightᵀ + b", inputs["x"] @ merged.T + inputs["b"], got.get("y"), atol=1e-5)


@ex.part("merged_weight() = W + (α/r) B A gives the same outputs", "Fold the correction into one weight of W's shape.",
         inputs=layer_inputs, uses=["LoRALinear.__init__", "LoRALinear.merged_weight"], judge=_judge_merged)
def merged(mod, inp):
    layer, _ = build(mod, inp)
    return {"merged": layer.merged_weight(), "A": layer.lora_A, "y": layer(Tensor(inp["x"]))}
