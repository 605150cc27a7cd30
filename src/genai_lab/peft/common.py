"""Small helpers every method shares: freezing, counting, saving and loading trainable weights."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from torch import nn


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (each shared tensor counted once)."""
    seen: set[int] = set()
    total = 0
    for p in model.parameters():
        if id(p) in seen or (trainable_only and not p.requires_grad):
            continue
        seen.add(id(p))
        total += p.numel()
    return total


def freeze_except(model: nn.Module, keep: Iterable[str] = ()) -> list[str]:
    """Freeze every parameter whose name contains none of the substrings in ``keep``.
    Returns the names left trainable."""
    keep = tuple(keep)
    trainable = []
    for name, p in model.named_parameters():
        p.requires_grad_(any(k in name for k in keep))
        if p.requires_grad:
            trainable.append(name)
    return trainable


def trainable_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """The trainable parameters only: what an adapter checkpoint holds."""
    return {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}


def save_trainable(model: nn.Module, path: str | Path) -> int:
    """Save the trainable parameters as safetensors; returns the file size in bytes."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.contiguous() for k, v in trainable_state_dict(model).items()}
    save_file(tensors, str(path))
    return path.stat().st_size


def load_trainable(model: nn.Module, path: str | Path) -> None:
    """Load weights saved by :func:`save_trainable` into a model prepared the same way.
    Raises ``KeyError`` naming any tensor the model does not have."""
    import torch
    from safetensors.torch import load_file

    tensors = load_file(str(path))
    params = dict(model.named_parameters())
    missing = [k for k in tensors if k not in params]
    if missing:
        raise KeyError(
            f"{path} holds {missing[:5]} which this model lacks; prepare the model with the same "
            "method and settings (target modules, rank, bottleneck) before loading."
        )
    with torch.no_grad():
        for k, v in tensors.items():
            params[k].copy_(v)


def folder_bytes(path: str | Path) -> int:
    """Total size of the files under ``path`` (an adapter folder written by ``save_pretrained``)."""
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
