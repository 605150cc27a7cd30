"""The baselines the benchmark compares the engine against: ``transformers`` ``generate`` one
request at a time (:func:`hf_generate_sequential`) and in static, left-padded batches
(:func:`hf_generate_static`), each batch running as long as its longest request."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from genai_lab.serving.engine.outputs import CompletionOutput, RequestOutput

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from transformers import PreTrainedModel


def left_pad_batch(prompts: Sequence[Sequence[int]], pad_token_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(input_ids, attention_mask)`` for a batch of token-id prompts, left-padded with
    ``pad_token_id`` to the longest (decoder-only models generate from the right edge, so padding
    goes on the left and the mask hides it). Both are ``[len(prompts), longest]`` long tensors."""
    import torch

    if not prompts:
        raise ValueError("left_pad_batch needs at least one prompt.")
    rows = [list(p) for p in prompts]
    if not all(rows):
        raise ValueError("Every prompt needs at least one token id.")
    width = max(len(p) for p in rows)
    input_ids = torch.tensor([[pad_token_id] * (width - len(p)) + p for p in rows], dtype=torch.long)
    mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in rows], dtype=torch.long)
    return input_ids, mask


def _timing_criteria(stamps: list[float]) -> Any:
    """A stopping criterion that never stops but timestamps every decoding step."""
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList

    class _Stamp(StoppingCriteria):
        def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **kwargs: Any) -> torch.Tensor:
            stamps.append(time.perf_counter())
            return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)

    return StoppingCriteriaList([_Stamp()])


def hf_generate_static(
    model: PreTrainedModel,
    prompts: Sequence[Sequence[int]],
    max_tokens: Sequence[int],
    batch_size: int,
    pad_token_id: int,
    progress: bool = False,
) -> list[RequestOutput]:
    """Static batching with ``generate``: batches of ``batch_size`` in arrival order, left-padded,
    each running greedily for its longest request's ``max_tokens`` (EOS ignored, as in the engine
    with ``ignore_eos``); shorter requests are cut to their own length afterwards. ``batch_size=1``
    is sequential generation. All requests arrive at the start."""
    import torch

    if len(prompts) != len(max_tokens):
        raise ValueError("prompts and max_tokens must have the same length.")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}.")
    generate: Any = model.generate  # GenerationMixin's; PreTrainedModel's type does not declare it
    outputs: list[RequestOutput] = []
    arrival = time.perf_counter()
    starts: Any = range(0, len(prompts), batch_size)
    if progress:
        from tqdm.auto import tqdm

        starts = tqdm(starts, desc=f"generate (batch {batch_size})")
    for start in starts:
        batch = [list(p) for p in prompts[start : start + batch_size]]
        wants = list(max_tokens[start : start + batch_size])
        input_ids, mask = left_pad_batch(batch, pad_token_id)
        width = input_ids.shape[1]
        longest = max(wants)
        stamps: list[float] = []
        with torch.inference_mode():
            out = generate(
                input_ids=input_ids.to(model.device),
                attention_mask=mask.to(model.device),
                max_new_tokens=longest,
                min_new_tokens=longest,
                do_sample=False,
                pad_token_id=pad_token_id,
                stopping_criteria=_timing_criteria(stamps),
            )
        finish = time.perf_counter()
        first = stamps[0] if stamps else finish
        for i, (p, want) in enumerate(zip(batch, wants, strict=True)):
            tokens = out[i, width : width + want].tolist()
            outputs.append(RequestOutput(start + i, p, [CompletionOutput(0, tokens, "length")], arrival, first, finish))
    return outputs


def hf_generate_sequential(
    model: PreTrainedModel,
    prompts: Sequence[Sequence[int]],
    max_tokens: Sequence[int],
    pad_token_id: int,
    progress: bool = False,
) -> list[RequestOutput]:
    """One request at a time with ``generate`` (static batching with batch size 1)."""
    return hf_generate_static(model, prompts, max_tokens, 1, pad_token_id, progress)
