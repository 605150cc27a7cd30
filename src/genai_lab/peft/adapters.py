"""The Houlsby bottleneck adapter (Houlsby et al. 2019), from scratch.

Each adapter maps a sub-layer's output ``h`` to ``h + up(act(down(h)))`` with a small bottleneck.
The projections start near zero, so an adapted model starts near the base model. Two adapters sit
in every decoder layer: after the attention output projection and after the MLP, before each
residual addition, as in the paper. ``peft`` has no such adapter (and AdapterHub's ``adapters`` pins
an older transformers), so this is our own.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from genai_lab.peft.common import freeze_except

#: The sub-layers an adapter follows in a Llama-style decoder layer.
PLACES = {"attn": "self_attn.o_proj", "mlp": "mlp.down_proj"}


class BottleneckAdapter(nn.Module):
    """``h + up(act(down(h)))``: down-projection, nonlinearity, up-projection, residual."""

    def __init__(self, hidden_size: int, bottleneck: int = 16, init_std: float = 1e-3) -> None:
        super().__init__()
        if bottleneck < 1:
            raise ValueError(f"bottleneck must be at least 1, got {bottleneck}.")
        self.down = nn.Linear(hidden_size, bottleneck)
        self.act = nn.GELU()
        self.up = nn.Linear(bottleneck, hidden_size)
        for layer in (self.down, self.up):  # near-identity: tiny weights, zero biases
            nn.init.normal_(layer.weight, std=init_std)
            nn.init.zeros_(layer.bias)
        self.enabled = True

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        if not self.enabled:
            return h
        return h + self.up(self.act(self.down(h)))


class Adapted(nn.Module):
    """A frozen sub-layer followed by an adapter."""

    def __init__(self, base: nn.Module, adapter: BottleneckAdapter) -> None:
        super().__init__()
        self.base = base
        self.adapter = adapter

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.adapter(self.base(x))


def adapter_param_count(hidden_size: int, bottleneck: int, n_adapters: int) -> int:
    """Weights and biases of ``n_adapters`` adapters: ``2 h b + b + h`` each."""
    return n_adapters * (2 * hidden_size * bottleneck + bottleneck + hidden_size)


def add_adapters(
    model: nn.Module,
    bottleneck: int = 16,
    places: tuple[str, ...] = ("attn", "mlp"),
    trainable: tuple[str, ...] = (),
    init_std: float = 1e-3,
) -> list[str]:
    """Put a :class:`BottleneckAdapter` after the chosen sub-layers (``attn``, ``mlp``) of every
    decoder layer, freeze everything but the adapters (and ``trainable`` name parts, e.g. the
    classification head), and return the names of the wrapped sub-layers."""
    unknown = [p for p in places if p not in PLACES]
    if unknown:
        raise ValueError(f"Unknown adapter place(s) {unknown}; choose from {sorted(PLACES)}.")
    suffixes = tuple(PLACES[p] for p in places)
    names = [n for n, _ in model.named_modules() if n.endswith(suffixes)]
    if not names:
        raise ValueError(
            f"No sub-layer ending with {suffixes} found: add_adapters expects a Llama-style decoder "
            "(self_attn.o_proj and mlp.down_proj in every layer)."
        )
    for name in names:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name)
        base = getattr(parent, child)
        adapter = BottleneckAdapter(base.out_features, bottleneck, init_std).to(
            device=base.weight.device, dtype=base.weight.dtype
        )
        setattr(parent, child, Adapted(base, adapter))
    freeze_except(model, (".adapter.", *trainable))
    return names


def adapters(model: nn.Module) -> list[BottleneckAdapter]:
    return [m for m in model.modules() if isinstance(m, BottleneckAdapter)]


@contextmanager
def adapters_disabled(model: nn.Module) -> Iterator[None]:
    """Inside the block every adapter is the identity, so the model is exactly the base model."""
    layers = adapters(model)
    for a in layers:
        a.enabled = False
    try:
        yield
    finally:
        for a in layers:
            a.enabled = True
