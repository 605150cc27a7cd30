"""LoRA from scratch (Hu et al. 2021): ``W x + (alpha / r) * B A dropout(x)`` beside a frozen ``W``.

``A`` (``r x d_in``) starts random and ``B`` (``d_out x r``) starts at zero, so the adapted model
equals the base model before training. :meth:`LoRALinear.merge` folds ``(alpha / r) B A`` into ``W``
for zero extra inference latency; :meth:`LoRALinear.unmerge` takes it out again. The layout and the
initialisation follow ``peft``'s ``lora.Linear``, so the same ``A`` and ``B`` give the same outputs.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import torch
from torch import nn

from genai_lab.peft.common import freeze_except

if TYPE_CHECKING:  # pragma: no cover
    pass


class LoRALinear(nn.Module):
    """A frozen ``nn.Linear`` plus a trainable low-rank update."""

    def __init__(self, base: nn.Linear, r: int = 8, alpha: float = 16, dropout: float = 0.0) -> None:
        super().__init__()
        if not isinstance(base, nn.Linear):
            raise TypeError(f"LoRALinear wraps an nn.Linear, got {type(base).__name__}.")
        d_in, d_out = base.in_features, base.out_features
        if r < 1 or r > min(d_in, d_out):
            raise ValueError(
                f"LoRA rank r={r} does not fit a {d_out}x{d_in} layer: choose 1 <= r <= "
                f"{min(d_in, d_out)} (a rank above min(d_in, d_out) adds parameters but no expressiveness)."
            )
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}.")
        self.base = base
        for p in base.parameters():
            p.requires_grad_(False)
        self.r, self.alpha = r, alpha
        self.scaling = alpha / r
        self.lora_A = nn.Parameter(torch.empty(r, d_in, dtype=base.weight.dtype, device=base.weight.device))
        self.lora_B = nn.Parameter(torch.zeros(d_out, r, dtype=base.weight.dtype, device=base.weight.device))
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))  # as nn.Linear and peft do
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.merged = False
        self.disabled = False

    @property
    def in_features(self) -> int:
        return self.base.in_features

    @property
    def out_features(self) -> int:
        return self.base.out_features

    def delta_weight(self) -> torch.Tensor:
        """The update ``(alpha / r) B A``, shaped like the base weight."""
        return (self.lora_B @ self.lora_A) * self.scaling

    def merge(self) -> None:
        """Fold the update into the base weight (idempotent)."""
        if not self.merged:
            with torch.no_grad():
                self.base.weight += self.delta_weight()
            self.merged = True

    def unmerge(self) -> None:
        """Take the update out of the base weight again (idempotent)."""
        if self.merged:
            with torch.no_grad():
                self.base.weight -= self.delta_weight()
            self.merged = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.disabled:
            self.unmerge()
            return self.base(x)
        if self.merged:
            return self.base(x)
        return self.base(x) + (self.dropout(x) @ self.lora_A.T @ self.lora_B.T) * self.scaling

    def extra_repr(self) -> str:
        return f"r={self.r}, alpha={self.alpha}, merged={self.merged}"


def linear_module_names(model: nn.Module) -> list[str]:
    """The distinct last name parts of every ``nn.Linear`` in ``model`` (what ``target_modules``
    can name): for a Llama model ``q_proj``, ``k_proj``, ..., ``down_proj``."""
    return sorted({name.rsplit(".", 1)[-1] for name, m in model.named_modules() if isinstance(m, nn.Linear)})


def inject_lora(
    model: nn.Module,
    target_modules: Iterable[str] = ("q_proj", "v_proj"),
    r: int = 8,
    alpha: float = 16,
    dropout: float = 0.0,
    trainable: Iterable[str] = (),
) -> list[str]:
    """Replace every ``nn.Linear`` whose name ends with one of ``target_modules`` by a
    :class:`LoRALinear`, then freeze everything except the LoRA weights and the parameters whose
    names contain one of ``trainable`` (e.g. ``("score",)`` for a classification head).

    Returns the full names of the replaced modules. Raises ``ValueError`` listing the linear layers
    that exist when a target matches none.
    """
    targets = list(target_modules)
    if not targets:
        raise ValueError("target_modules is empty; name at least one linear layer, e.g. ['q_proj', 'v_proj'].")
    found: dict[str, list[str]] = {t: [] for t in targets}
    for name, module in list(model.named_modules()):
        last = name.rsplit(".", 1)[-1]
        if last in found and isinstance(module, nn.Linear):
            found[last].append(name)
    missing = [t for t, names in found.items() if not names]
    if missing:
        raise ValueError(
            f"Target module(s) {missing} not found among the model's linear layers. "
            f"Choose from: {linear_module_names(model)}."
        )
    replaced = []
    for names in found.values():
        for name in names:
            parent_name, _, child = name.rpartition(".")
            parent = model.get_submodule(parent_name) if parent_name else model
            setattr(parent, child, LoRALinear(getattr(parent, child), r=r, alpha=alpha, dropout=dropout))
            replaced.append(name)
    freeze_except(model, ("lora_A", "lora_B", *trainable))
    return sorted(replaced)


def lora_layers(model: nn.Module) -> list[LoRALinear]:
    return [m for m in model.modules() if isinstance(m, LoRALinear)]


def merge_lora(model: nn.Module) -> None:
    """Merge every LoRA update into its base weight."""
    for layer in lora_layers(model):
        layer.merge()


def unmerge_lora(model: nn.Module) -> None:
    for layer in lora_layers(model):
        layer.unmerge()


@contextmanager
def lora_disabled(model: nn.Module) -> Iterator[None]:
    """Run the base model: inside the block every LoRA layer is switched off (and unmerged)."""
    layers = lora_layers(model)
    for layer in layers:
        layer.disabled = True
    try:
        yield
    finally:
        for layer in layers:
            layer.disabled = False
