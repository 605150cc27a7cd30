"""How much memory fine-tuning needs: the arithmetic behind "why PEFT".

Full fine-tuning with Adam keeps, for every parameter, the weight, its gradient and two optimizer
moments. Parameter-efficient methods keep the frozen weights (no gradient, no optimizer state) and pay
gradients and optimizer state only for their few trainable parameters. Activations are the same for
both, because the backward pass still runs through the frozen network.

:func:`training_memory` does the sum; :data:`GPT3_175B` and :func:`lora_param_count` let the notebook
check it against the LoRA paper (Hu et al. 2021): training memory 1.2 TB -> 350 GB, checkpoint
350 GB -> 35 MB with r=4 on the query and value projections.
"""

from __future__ import annotations

from dataclasses import dataclass

BYTES_PER_PARAM = {"fp32": 4.0, "fp16": 2.0, "bf16": 2.0, "int8": 1.0, "int4": 0.5}


def bytes_per(precision: str) -> float:
    """Bytes per number for ``precision`` (``fp32``, ``fp16``, ``bf16``, ``int8``, ``int4``)."""
    try:
        return BYTES_PER_PARAM[precision]
    except KeyError:
        raise ValueError(
            f"Unknown precision {precision!r}; use one of {sorted(BYTES_PER_PARAM)}."
        ) from None


@dataclass(frozen=True)
class ModelShape:
    """The few numbers of a decoder-only transformer that the arithmetic needs."""

    name: str
    n_params: float
    n_layers: int
    d_model: int
    n_heads: int


GPT3_175B = ModelShape("GPT-3 175B", n_params=175e9, n_layers=96, d_model=12288, n_heads=96)
SMOLLM2_135M = ModelShape("SmolLM2-135M", n_params=134.5e6, n_layers=30, d_model=576, n_heads=9)


@dataclass(frozen=True)
class MemoryBreakdown:
    """Training memory in bytes, by kind."""

    weights: float
    gradients: float
    optimizer: float
    activations: float = 0.0

    @property
    def total(self) -> float:
        return self.weights + self.gradients + self.optimizer + self.activations

    def as_gb(self) -> dict[str, float]:
        """Each part and the total in GB (10^9 bytes, as the LoRA paper counts)."""
        parts = {
            "weights": self.weights,
            "gradients": self.gradients,
            "optimizer": self.optimizer,
            "activations": self.activations,
            "total": self.total,
        }
        return {k: v / 1e9 for k, v in parts.items()}


def training_memory(
    n_params: float,
    n_trainable: float | None = None,
    weight_precision: str = "fp16",
    grad_precision: str | None = None,
    optimizer_precision: str | None = None,
    optimizer_states: int = 2,
    master_weights: bool = False,
    activations: float = 0.0,
) -> MemoryBreakdown:
    """Bytes to train a model with ``n_params`` weights of which ``n_trainable`` are trained.

    ``n_trainable=None`` means full fine-tuning. Gradients and the optimizer's ``optimizer_states``
    moments (2 for Adam, 0 for SGD) exist only for the trainable parameters; ``master_weights`` adds an
    fp32 copy of them (mixed-precision training). Frozen weights cost only their storage.
    """
    if n_params <= 0:
        raise ValueError(f"n_params must be positive, got {n_params}.")
    n_trainable = n_params if n_trainable is None else n_trainable
    if not 0 <= n_trainable <= n_params:
        raise ValueError(f"n_trainable ({n_trainable}) must lie between 0 and n_params ({n_params}).")
    w = bytes_per(weight_precision)
    g = bytes_per(grad_precision or weight_precision)
    o = bytes_per(optimizer_precision or weight_precision)
    weights = n_params * w + (n_trainable * 4.0 if master_weights else 0.0)
    return MemoryBreakdown(
        weights=weights,
        gradients=n_trainable * g,
        optimizer=n_trainable * optimizer_states * o,
        activations=activations,
    )


def activation_bytes(
    shape: ModelShape, batch: int, seq_len: int, precision: str = "fp16"
) -> float:
    """Activations kept for the backward pass, by the estimate of Korthikanti et al. (2022):
    ``seq * batch * d * (34 + 5 * heads * seq / d)`` bytes per layer in 16-bit, without recomputation."""
    per_layer = seq_len * batch * shape.d_model * (34 + 5 * shape.n_heads * seq_len / shape.d_model)
    return shape.n_layers * per_layer * bytes_per(precision) / 2.0


def lora_param_count(
    d_in: int, d_out: int, r: int, n_matrices: int = 1
) -> int:
    """Trainable parameters of LoRA on ``n_matrices`` weight matrices of shape ``d_out x d_in``:
    ``A`` is ``r x d_in`` and ``B`` is ``d_out x r``."""
    return n_matrices * r * (d_in + d_out)


def gpt3_lora_checkpoint_bytes(r: int = 4, precision: str = "fp16") -> float:
    """The LoRA paper's GPT-3 checkpoint: ``r`` on W_q and W_v of all 96 layers (d = 12288)."""
    s = GPT3_175B
    return lora_param_count(s.d_model, s.d_model, r, n_matrices=2 * s.n_layers) * bytes_per(precision)
