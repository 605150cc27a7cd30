"""Weight-only int8 with one scale per output channel: the quantization that works on SmolLM2.

Per-tensor int8 (``torch.ao``'s dynamic quantization in :mod:`genai_lab.serving.quantize`) gives a whole
weight matrix one scale, set by its largest value; one row of large weights then rounds every other row
to a handful of levels. Here each output channel (each row of ``W``) gets its own scale::

    scale[j] = max_i |W[j, i]| / 127          q[j, i] = round(W[j, i] / scale[j])  in [-127, 127]

and the activations stay in floating point. The product multiplies by the int8 weights converted to the
activations' dtype and scales each output column afterwards, ``(x @ q.T) * scale``, which is exactly
``x @ (q * scale[:, None]).T`` and is what ``torchao``'s ``Int8WeightOnlyConfig`` does for per-row
scales. The saving is memory: 1 byte per weight plus one scale per row, against 4 in float32. Speed
depends on the hardware: each product converts the weights first, but decoding one token reads every
weight once, so reading a quarter of the bytes can outweigh the conversion (notebook 23 measures it);
GPU kernels fuse the conversion into the product. PyTorch's fused CPU kernel
``aten._weight_int8pack_mm`` was far slower than both paths in this build, so it is not used.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


def quantize_rows(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric int8 per output channel: ``(q, scale)`` with ``q`` int8 in [-127, 127], shape of
    ``weight``, and ``scale`` float32 of shape ``[out_features]``, so ``q * scale[:, None] ≈ weight``."""
    if weight.dim() != 2:
        raise ValueError(f"Expected a 2-D weight [out_features, in_features], got shape {tuple(weight.shape)}.")
    w = weight.detach().float()
    scale = w.abs().amax(dim=1).clamp(min=1e-12) / 127.0  # an all-zero row keeps a tiny scale, not 0
    q = torch.round(w / scale[:, None]).clamp(-127, 127).to(torch.int8)
    return q, scale


class Int8WeightOnlyLinear(nn.Module):
    """A drop-in for ``nn.Linear`` holding int8 weights and per-row scales (buffers, so they are saved
    with the state dict at their real size)."""

    weight_int8: torch.Tensor
    scale: torch.Tensor
    bias: torch.Tensor | None

    def __init__(self, linear: nn.Linear) -> None:
        super().__init__()
        q, scale = quantize_rows(linear.weight)
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.register_buffer("weight_int8", q)
        self.register_buffer("scale", scale)
        self.register_buffer("bias", None if linear.bias is None else linear.bias.detach().float().clone())

    def dequantized(self) -> torch.Tensor:
        """The float32 weight this layer computes with."""
        return self.weight_int8.float() * self.scale[:, None]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.reshape(-1, self.in_features)
        out = (flat @ self.weight_int8.t().to(flat.dtype)) * self.scale.to(flat.dtype)
        if self.bias is not None:
            out = out + self.bias.to(out.dtype)
        return out.reshape(*x.shape[:-1], self.out_features)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, int8 per-channel"


def quantize_int8_weight_only(model: nn.Module, skip: tuple[str, ...] = ("lm_head",)) -> nn.Module:
    """A copy of ``model`` with every ``nn.Linear`` except those named in ``skip`` replaced by an
    :class:`Int8WeightOnlyLinear` (``model`` itself is unchanged). The output head is skipped because
    SmolLM2 ties it to the embedding table, which stays float32."""
    quantized = copy.deepcopy(model)
    targets = [
        name for name, module in quantized.named_modules() if isinstance(module, nn.Linear) and name not in skip
    ]
    if not targets:
        raise ValueError("The model has no nn.Linear layer to quantize (outside of skip); nothing would change.")
    for name in targets:
        parent_name, _, child = name.rpartition(".")
        parent = quantized.get_submodule(parent_name) if parent_name else quantized
        setattr(parent, child, Int8WeightOnlyLinear(getattr(parent, child)))
    return quantized
