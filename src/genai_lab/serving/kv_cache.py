"""KV-cache arithmetic and the memory study behind Figure 2 of the vLLM paper.

Bytes per token
    Every layer caches one key and one value vector per KV head for every token:
    ``2 x layers x kv_heads x head_dim x bytes_per_element``. SmolLM2-135M (30 layers, 3 KV heads of
    64 dimensions) in bfloat16 needs 22.5 KiB per token; OPT-13B (40 layers, 40 heads of 128), the
    paper's example, needs 800 KiB.

The memory study
    A request with a prompt of ``p`` tokens and ``o`` output tokens holds ``p + t`` tokens at decoding
    step ``t = 1..o``. A *reservation policy* decides how many token slots it occupies meanwhile:

    ==============  ===============================================================================
    ``max_reserve`` a contiguous chunk for the model's maximum length, for the request's lifetime
    ``oracle``      a contiguous chunk of exactly ``p + o`` (an oracle knows the output length)
    ``pow2``        ``p + o`` rounded up to a power of two (a buddy allocator; over-reserves < 2x)
    ``paged_B``     blocks of ``B`` slots allocated as the sequence grows: ``ceil((p + t) / B) * B``
    ==============  ===============================================================================

    Waste is the share of reserved slot-steps that hold no token (reserved-but-unused slots plus
    internal fragmentation), integrated over every request's lifetime: ``1 - sum(used)/sum(reserved)``.
    External fragmentation (holes between contiguous chunks) comes on top for the contiguous
    policies and is not counted here, so their figures are lower bounds.

The length distribution (:func:`sharegpt_like_lengths`)
    The vLLM paper (Kwon et al., SOSP 2023, Section 6.1 and Figure 11a) reports that ShareGPT
    conversations average 161.31 input and 337.99 output tokens, with long right tails, and that
    requests are capped at OPT's 2048-token context. We draw log-normal lengths with those means and a
    log-space spread ``sigma`` (1.0 for inputs, 0.9 for outputs: our choice, to give the long-tailed
    histograms of Figure 11a), clipped to at least 1 token each and to ``max_len`` together.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from genai_lab.numeric import cdiv
from genai_lab.serving.paged import check_block_size

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

KIB = 1024

#: ShareGPT statistics quoted in the vLLM paper (Section 6.1, Figure 11a).
SHAREGPT_MEAN_INPUT = 161.31
SHAREGPT_MEAN_OUTPUT = 337.99
#: OPT's context length, the cap the paper's traces respect.
PAPER_MAX_LEN = 2048

POLICIES = ("max_reserve", "oracle", "pow2", "paged_8", "paged_16", "paged_32", "paged_128")


def kv_bytes_per_token(
    num_layers: int, num_kv_heads: int, head_dim: int, bytes_per_element: int
) -> int:
    """``2 x layers x kv_heads x head_dim x bytes``: one key and one value per layer and KV head."""
    for name, value in (
        ("num_layers", num_layers),
        ("num_kv_heads", num_kv_heads),
        ("head_dim", head_dim),
        ("bytes_per_element", bytes_per_element),
    ):
        if not isinstance(value, int) or value <= 0:
            raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    return 2 * num_layers * num_kv_heads * head_dim * bytes_per_element


@dataclass(frozen=True)
class AttentionShape:
    """The attention geometry of a transformers config: query heads, KV heads, head dimension."""

    num_heads: int
    num_kv_heads: int
    head_dim: int


def attention_shape(config: object) -> AttentionShape:
    """Heads, KV heads and head dimension of a Llama-style transformers config.

    ``head_dim`` is the config's own when it declares one, else ``hidden_size // num_attention_heads``;
    ``num_key_value_heads`` defaults to the number of heads (no grouped-query attention). This is the
    one place the package derives them.
    """
    heads = getattr(config, "num_attention_heads", None)
    if not isinstance(heads, int) or heads <= 0:
        raise ValueError(
            f"{type(config).__name__} has no positive num_attention_heads; pass a transformers model config."
        )
    kv_heads = getattr(config, "num_key_value_heads", None) or heads
    head_dim = getattr(config, "head_dim", None) or int(getattr(config, "hidden_size", 0)) // heads
    if head_dim <= 0:
        raise ValueError(f"{type(config).__name__} declares neither head_dim nor hidden_size.")
    return AttentionShape(heads, int(kv_heads), int(head_dim))


def kv_bytes_per_token_of(config: object, bytes_per_element: int = 2) -> int:
    """Bytes per token for a transformers config (Llama-style: ``head_dim`` or hidden/heads)."""
    shape = attention_shape(config)
    layers = getattr(config, "num_hidden_layers", None)
    if not isinstance(layers, int):
        raise ValueError(f"{type(config).__name__} has no num_hidden_layers.")
    return kv_bytes_per_token(layers, shape.num_kv_heads, shape.head_dim, bytes_per_element)


def sharegpt_like_lengths(
    n: int,
    seed: int = 0,
    mean_input: float = SHAREGPT_MEAN_INPUT,
    mean_output: float = SHAREGPT_MEAN_OUTPUT,
    sigma_input: float = 1.0,
    sigma_output: float = 0.9,
    max_len: int = PAPER_MAX_LEN,
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` (prompt, output) lengths from log-normals with the given means (see the module doc).

    A log-normal with spread ``sigma`` has mean ``exp(mu + sigma^2 / 2)``, so ``mu = log(mean) -
    sigma^2 / 2``. Pairs longer than ``max_len`` are clipped: the prompt first keeps at most
    ``max_len - 1`` tokens, then the output is cut to fit.
    """
    import numpy as np

    if n <= 0:
        raise ValueError(f"n must be positive, got {n}.")
    rng = np.random.default_rng(seed)
    prompt = rng.lognormal(math.log(mean_input) - sigma_input**2 / 2, sigma_input, n)
    output = rng.lognormal(math.log(mean_output) - sigma_output**2 / 2, sigma_output, n)
    prompt = np.clip(np.rint(prompt), 1, max_len - 1).astype(np.int64)
    output = np.clip(np.rint(output), 1, None).astype(np.int64)
    output = np.minimum(output, max_len - prompt)
    return prompt, output


def _next_pow2(x: int) -> int:
    return 1 << (int(x) - 1).bit_length()


def reserved_slots(policy: str, prompt_len: int, output_len: int, step: int, max_len: int) -> int:
    """Token slots a request occupies at decoding step ``step`` (1-based) under ``policy``."""
    total = prompt_len + output_len
    if policy == "max_reserve":
        return max_len
    if policy == "oracle":
        return total
    if policy == "pow2":
        return min(_next_pow2(total), max_len)
    if policy.startswith("paged_"):
        block = check_block_size(int(policy.removeprefix("paged_")))
        return cdiv(prompt_len + step, block) * block
    raise ValueError(f"Unknown policy {policy!r}; use one of {', '.join(POLICIES)} (or paged_<B>).")


@dataclass(frozen=True)
class PolicyReport:
    """One policy's figures over a set of requests."""

    policy: str
    used_slot_steps: int
    reserved_slot_steps: int
    mean_reserved_tokens: float  # reserved slots averaged over every request's every step

    @property
    def waste(self) -> float:
        """Share of reserved KV memory not holding a token."""
        return 1.0 - self.used_slot_steps / self.reserved_slot_steps

    @property
    def utilization(self) -> float:
        return 1.0 - self.waste

    def batch_size_in(self, budget_tokens: int) -> int:
        """How many such requests fit side by side in a budget of ``budget_tokens`` slots."""
        return int(budget_tokens // self.mean_reserved_tokens)


def policy_report(
    policy: str, prompt_lens: np.ndarray, output_lens: np.ndarray, max_len: int = PAPER_MAX_LEN
) -> PolicyReport:
    """Integrate used and reserved slots over every decoding step of every request (vectorised)."""
    import numpy as np

    prompt = np.asarray(prompt_lens, dtype=np.int64)
    output = np.asarray(output_lens, dtype=np.int64)
    if prompt.shape != output.shape or prompt.size == 0:
        raise ValueError("prompt_lens and output_lens must be equal-length, non-empty arrays.")
    if (prompt < 1).any() or (output < 1).any() or (prompt + output > max_len).any():
        raise ValueError(
            f"Every request needs prompt >= 1, output >= 1 and prompt + output <= {max_len}."
        )
    # used at step t is p + t, for t = 1..o: sum = o*p + o(o+1)/2
    used = int((output * prompt + output * (output + 1) // 2).sum())
    if policy.startswith("paged_"):
        block = check_block_size(int(policy.removeprefix("paged_")))
        reserved = 0
        for p, o in zip(prompt.tolist(), output.tolist(), strict=True):
            lengths = np.arange(p + 1, p + o + 1)
            reserved += int((-(-lengths // block) * block).sum())
    else:
        per_request = np.array(
            [reserved_slots(policy, p, o, 1, max_len) for p, o in zip(prompt, output, strict=True)]
        )
        reserved = int((per_request * output).sum())
    steps = int(output.sum())
    return PolicyReport(policy, used, reserved, reserved / steps)


def memory_study(
    prompt_lens: np.ndarray,
    output_lens: np.ndarray,
    policies: tuple[str, ...] = POLICIES,
    max_len: int = PAPER_MAX_LEN,
) -> dict[str, PolicyReport]:
    """:func:`policy_report` for every policy, on the same requests."""
    return {p: policy_report(p, prompt_lens, output_lens, max_len) for p in policies}
