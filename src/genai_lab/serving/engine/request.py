"""The engine's internal view of a request and of its sequences (one per completion)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from genai_lab.serving.engine.params import SamplingParams
from genai_lab.serving.paged import BlockTable

if TYPE_CHECKING:  # pragma: no cover
    import torch


@dataclass
class Request:
    """A queued or running request: its prompt, parameters, sequences and timings."""

    request_id: int
    prompt: list[int]
    params: SamplingParams
    arrival_time: float
    generator: torch.Generator
    seqs: list[Seq] = field(default_factory=list)
    forked: bool = False
    first_token_time: float | None = None
    num_cached_tokens: int = 0
    num_preemptions: int = 0
    error: str | None = None

    @property
    def seats(self) -> int:
        """Seats in the running batch the request takes once admitted (``n`` before its fork)."""
        return self.params.n if (self.params.n > 1 and not self.forked) else 1


@dataclass(eq=False)
class Seq:
    """One completion being generated: prompt + output tokens and the block table holding its KV."""

    seq_id: int
    request: Request
    index: int  # which completion of its request
    token_ids: list[int]  # prompt + generated
    table: BlockTable
    num_computed: int = 0  # tokens whose K/V are in the cache
    finish_reason: str | None = None

    @property
    def output_ids(self) -> list[int]:
        return self.token_ids[len(self.request.prompt) :]

    @property
    def num_output_tokens(self) -> int:
        return len(self.token_ids) - len(self.request.prompt)

    @property
    def num_new_tokens(self) -> int:
        """Tokens this step must compute (the whole prompt at prefill, one when decoding)."""
        return len(self.token_ids) - self.num_computed
