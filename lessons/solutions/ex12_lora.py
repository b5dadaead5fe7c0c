"""Exercise 12 · LoRA: fine-tuning with a low-rank update                 (lesson 14)

LoRA (Hu et al., 2021) fine-tunes a big frozen layer y = x Wᵀ + b by learning only a small
correction of rank r:

    W' = W + (α / r) · B A        A (r, in),  B (out, r),  r ≪ min(in, out)
    y  = x Wᵀ + b + (α / r) · (x Aᵀ) Bᵀ

W and b stay frozen; only A and B train: r·(in + out) numbers instead of in·out. B starts at
zero, so at the start the wrapped layer computes exactly what the base layer did; A starts
random (here normal with std 1/√in). After training, the update can be folded into one plain
weight W' (``merged_weight``), so inference costs nothing extra.

Use tinynet operations on Tensors in ``forward`` (``@``, ``.T``, ``+``, ``*``) so that backward
reaches A and B.

Fill in each ``# TODO`` and remove the ``raise NotImplementedError`` under it. Check your work:

    tinynet check lessons/exercises/ex12_lora.py
"""
import math

import tinynet as tn
import tinynet.nn as nn

EXERCISE = "lora"


class LoRALinear(nn.Module):
    def __init__(self, base, rank=4, alpha=8.0):
        super().__init__()
        self.base, self.rank, self.scale = base, rank, alpha / rank
        # TODO: freeze the base layer; create self.lora_A (rank, in) and self.lora_B (out, rank)
        #       as nn.Parameter, A normal with std 1/√in, B zeros
        ### BEGIN SOLUTION
        base.requires_grad_(False)
        self.lora_A = nn.Parameter(tn.randn(rank, base.in_features) * (1 / math.sqrt(base.in_features)))
        self.lora_B = nn.Parameter(tn.zeros(base.out_features, rank))
        ### END SOLUTION

    def forward(self, x):
        # TODO: the base layer's output plus the scaled low-rank correction
        ### BEGIN SOLUTION
        return self.base(x) + self.scale * ((x @ self.lora_A.T) @ self.lora_B.T)
        ### END SOLUTION

    def merged_weight(self):
        """W + (α / r) · B A as an array of W's shape."""
        # TODO
        ### BEGIN SOLUTION
        return self.base.weight.data + self.scale * (self.lora_B.data @ self.lora_A.data)
        ### END SOLUTION


if __name__ == "__main__":
    from tinynet.check import main
    raise SystemExit(main([__file__]))
