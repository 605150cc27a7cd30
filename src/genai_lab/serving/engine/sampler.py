"""The sampler: one token per sequence, vectorised over the batch (vLLM's ``v1/sample/sampler.py``).

Greedy rows take the argmax. Sampled rows are divided by their temperature, cut to their ``top_k``
and ``top_p`` (:func:`apply_top_k_top_p`, vLLM's algorithm: one sort for the whole batch), and drawn
with the *exponential race*: ``argmax(probs / q)`` with ``q ~ Exponential(1)`` picks token ``i`` with
probability ``probs[i]``, and lets every request draw its ``q`` from its own seeded generator
without a per-row ``multinomial`` call or a host sync.

:func:`sample` returns tensors; the engine moves them to the host once per step.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from genai_lab.serving.engine.params import SamplingParams

if TYPE_CHECKING:  # pragma: no cover
    import torch


def apply_top_k_top_p(logits: torch.Tensor, top_k: torch.Tensor | None, top_p: torch.Tensor | None) -> torch.Tensor:
    """Mask (to ``-inf``) every logit outside its row's ``top_k`` largest (``top_k[b]`` in
    ``1..vocab``) and outside the smallest set whose probability reaches ``top_p[b]``. ``None``
    skips a filter. Ties at the k-th value are kept."""
    import torch

    if top_k is None and top_p is None:
        return logits
    logits_sort, logits_idx = logits.sort(dim=-1, descending=False)
    if top_k is not None:
        kth = logits_sort.gather(1, (logits_sort.shape[1] - top_k).unsqueeze(1))  # k-th largest
        logits_sort.masked_fill_(logits_sort < kth, float("-inf"))
    if top_p is not None:
        probs_sum = torch.cumsum(logits_sort.softmax(dim=-1), dim=-1)
        drop = probs_sum <= 1 - top_p.unsqueeze(1)
        drop[:, -1] = False  # always keep the most likely token
        logits_sort.masked_fill_(drop, float("-inf"))
    return logits_sort.scatter(-1, logits_idx, logits_sort)


def sample(
    logits: torch.Tensor,
    params: Sequence[SamplingParams],
    generators: Sequence[torch.Generator],
) -> tuple[torch.Tensor, torch.Tensor]:
    """One token per row of ``logits`` (``[n, vocab]``) under ``params[i]``, drawing from
    ``generators[i]``. Returns ``(tokens, ok)``: ``ok[i]`` is False where row ``i``'s logits hold NaN
    or +inf, or nothing is left to sample from (its token is meaningless; the engine fails that
    request alone)."""
    import torch

    logits = logits.float()
    tokens = logits.argmax(dim=-1)
    # argmax propagates NaN and +inf, so checking the chosen logit flags a broken row without
    # scanning all of it (a row of -inf only gives an -inf pick: flagged too)
    ok = torch.isfinite(logits.gather(1, tokens.unsqueeze(1)).squeeze(1))
    rows = [i for i, p in enumerate(params) if not p.greedy]
    if not rows:
        return tokens, ok
    index = torch.tensor(rows, device=logits.device)
    chosen = [params[i] for i in rows]
    temperature = torch.tensor([p.temperature for p in chosen], device=logits.device)
    vocab = logits.shape[-1]
    top_k = (
        torch.tensor([min(p.top_k, vocab) if p.top_k else vocab for p in chosen], device=logits.device)
        if any(p.top_k for p in chosen)
        else None
    )
    top_p = torch.tensor([p.top_p for p in chosen], device=logits.device) if any(p.top_p < 1 for p in chosen) else None
    scaled = apply_top_k_top_p(logits[index] / temperature.unsqueeze(1), top_k, top_p)
    probs = torch.softmax(scaled, dim=-1)
    race = torch.empty_like(probs)
    for j, i in enumerate(rows):
        race[j].exponential_(generator=generators[i])
    drawn = probs.div(race).argmax(dim=-1)
    tokens[index] = drawn
    picked = probs.gather(1, drawn.unsqueeze(1)).squeeze(1)
    ok[index] &= torch.isfinite(picked) & (picked > 0)
    return tokens, ok
