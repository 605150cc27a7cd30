"""What the engine hands back: completions, finished requests, and the engine's counters."""

from __future__ import annotations

from dataclasses import dataclass

#: ``CompletionOutput.finish_reason`` values: "stop" (EOS or a stop token), "length" (max_tokens or
#: max_model_len), "abort" (:meth:`Engine.abort`), "error" (the request failed inside a step; see
#: ``RequestOutput.error``); ``None`` while running.
FINISH_REASONS = ("stop", "length", "abort", "error")


@dataclass
class CompletionOutput:
    """One completion of a request."""

    index: int
    token_ids: list[int]
    finish_reason: str | None
    text: str | None = None


@dataclass
class RequestOutput:
    """A finished request: its completions and timings (``time.perf_counter`` seconds).

    ``error`` is ``None`` unless the request failed inside a step (its completions then finish with
    ``finish_reason == "error"``; the other requests of the batch are not affected).
    """

    request_id: int
    prompt_token_ids: list[int]
    outputs: list[CompletionOutput]
    arrival_time: float
    first_token_time: float
    finish_time: float
    num_cached_tokens: int = 0
    num_preemptions: int = 0
    error: str | None = None

    @property
    def token_ids(self) -> list[int]:
        """The first completion's token ids."""
        return self.outputs[0].token_ids

    @property
    def finished_ok(self) -> bool:
        """True when no completion was aborted or failed."""
        return self.error is None and all(c.finish_reason in ("stop", "length") for c in self.outputs)

    @property
    def ttft(self) -> float:
        """Time to first token."""
        return self.first_token_time - self.arrival_time

    @property
    def latency(self) -> float:
        """Arrival to last token."""
        return self.finish_time - self.arrival_time


@dataclass
class EngineStats:
    """Counters since the engine was built."""

    steps: int = 0
    prefill_tokens: int = 0  # prompt tokens computed (recomputation included)
    cached_prompt_tokens: int = 0  # prompt tokens skipped thanks to the prefix cache
    decode_tokens: int = 0
    preemptions: int = 0
    cow_copies: int = 0
    peak_blocks_used: int = 0
    failed_requests: int = 0
    aborted_requests: int = 0
