"""How to decode one request: :class:`SamplingParams` (a subset of vLLM's ``vllm/sampling_params.py``).

Every field is checked against the numerical limits the sampler works within, so a request that
would make every step fail (``temperature=1e-40`` overflows ``logits / temperature`` to inf and the
softmax to NaN) is refused when it is built, with an error that names the fix.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

#: The smallest temperature accepted above 0 (greedy). Below it ``logits / temperature`` leaves
#: float32's range for ordinary logits; vLLM clamps small temperatures to 1e-2 for the same reason.
MIN_TEMPERATURE = 1e-5
#: Seeds go to ``torch.Generator.manual_seed``, which takes 64-bit values.
MAX_SEED = 2**64 - 1


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_real(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


@dataclass(frozen=True)
class SamplingParams:
    """How to decode one request.

    ``temperature=0`` is greedy decoding; otherwise (``temperature >= MIN_TEMPERATURE``) tokens are
    drawn from the softmax of ``logits / temperature``, restricted to the ``top_k`` most likely tokens
    (0: all) and to the smallest set whose probability reaches ``top_p``. ``n`` completions share the
    prompt's KV blocks. ``ignore_eos`` keeps generating past the end-of-sequence token (benchmarks use
    it to fix output lengths). ``stop_token_ids`` end a completion like EOS does.
    """

    max_tokens: int = 16
    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0
    n: int = 1
    seed: int | None = None
    ignore_eos: bool = False
    stop_token_ids: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if not _is_int(self.max_tokens) or self.max_tokens < 1:
            raise ValueError(f"max_tokens must be an integer >= 1, got {self.max_tokens!r}.")
        t = self.temperature
        if not _is_real(t) or not math.isfinite(t) or t < 0 or 0 < t < MIN_TEMPERATURE:
            raise ValueError(
                f"temperature must be 0 (greedy) or a finite number >= {MIN_TEMPERATURE:g}, got {t!r}; "
                "use temperature=0 for deterministic decoding."
            )
        if not _is_real(self.top_p) or not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be a number in (0, 1], got {self.top_p!r}; use 1.0 to disable it.")
        if not _is_int(self.top_k) or self.top_k < 0:
            raise ValueError(f"top_k must be an integer >= 0, got {self.top_k!r}; use 0 to disable it.")
        if not _is_int(self.n) or self.n < 1:
            raise ValueError(f"n (completions per prompt) must be an integer >= 1, got {self.n!r}.")
        if self.seed is not None and (not _is_int(self.seed) or not 0 <= self.seed <= MAX_SEED):
            raise ValueError(f"seed must be None or an integer in [0, 2**64), got {self.seed!r}.")
        if not isinstance(self.ignore_eos, bool):
            raise ValueError(f"ignore_eos must be True or False, got {self.ignore_eos!r}.")
        stops = self.stop_token_ids
        if isinstance(stops, str | bytes) or not isinstance(stops, Iterable):
            raise ValueError(f"stop_token_ids must be a sequence of token ids, got {stops!r}.")
        stops = tuple(stops)
        if not all(_is_int(s) and s >= 0 for s in stops):
            raise ValueError(f"stop_token_ids must be non-negative integers, got {self.stop_token_ids!r}.")
        object.__setattr__(self, "stop_token_ids", stops)

    @property
    def greedy(self) -> bool:
        """True for greedy decoding (``temperature == 0``)."""
        return self.temperature == 0
