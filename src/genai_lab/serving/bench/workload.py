"""Workloads: the requests a benchmark sends.

- :func:`random_requests`: prompts of random tokens with set input and output lengths, like vLLM's
  ``random`` dataset; sent with ``ignore_eos`` so that every request produces exactly
  ``expected_output_len`` tokens and every backend does the same work;
- :func:`sharegpt_like_requests`: the same random-token prompts, with heavy-tailed lengths drawn from
  :func:`genai_lab.serving.kv_cache.sharegpt_like_lengths`, the package's one ShareGPT-like length
  distribution (the statistics the vLLM paper quotes; ShareGPT itself cannot be downloaded offline).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    from transformers import PreTrainedTokenizerBase


@dataclass(frozen=True)
class SampleRequest:
    """One request of a workload: the prompt, its length in tokens and how many tokens to ask for."""

    prompt: str
    prompt_len: int
    expected_output_len: int


def _prompt_of_length(
    tokenizer: PreTrainedTokenizerBase, token_ids: Sequence[int], length: int
) -> tuple[str, int]:
    """Decode ``token_ids`` and re-encode, trimming until the text is ``length`` tokens or fewer
    (decoding then encoding is not always the identity)."""
    text = str(tokenizer.decode(list(token_ids), skip_special_tokens=True))  # one sequence: a str
    encoded = tokenizer(text, add_special_tokens=False).input_ids
    if len(encoded) > length:
        text = str(tokenizer.decode(encoded[:length], skip_special_tokens=True))
        encoded = tokenizer(text, add_special_tokens=False).input_ids
    return text, len(encoded)


def _ordinary_token_ids(tokenizer: PreTrainedTokenizerBase) -> np.ndarray:
    """Every token id of the vocabulary except the special ones (BOS, EOS, padding, chat markers)."""
    import numpy as np

    special = set(tokenizer.all_special_ids)
    return np.array([i for i in range(len(tokenizer)) if i not in special])


def _build(
    tokenizer: PreTrainedTokenizerBase,
    rng: np.random.Generator,
    input_lens: Sequence[int],
    output_lens: Sequence[int],
) -> list[SampleRequest]:
    allowed = _ordinary_token_ids(tokenizer)
    out = []
    for n_in, n_out in zip(input_lens, output_lens, strict=True):
        ids = rng.choice(allowed, size=int(n_in)).tolist()
        text, real_len = _prompt_of_length(tokenizer, ids, int(n_in))
        out.append(SampleRequest(text, real_len, int(n_out)))
    return out


def random_requests(
    tokenizer: PreTrainedTokenizerBase,
    num_requests: int,
    input_len: int,
    output_len: int,
    seed: int = 0,
    range_ratio: float = 0.0,
) -> list[SampleRequest]:
    """Prompts of random tokens with set lengths, like vLLM's ``random`` dataset.

    With ``range_ratio`` r > 0 each length is drawn uniformly from ``[len * (1 - r), len * (1 + r)]``.
    Send them with ``ignore_eos=True`` so that each request really produces ``output_len`` tokens.
    """
    import numpy as np

    if num_requests < 1 or input_len < 1 or output_len < 1:
        raise ValueError(
            f"num_requests, input_len and output_len must be positive (got {num_requests}, "
            f"{input_len}, {output_len})."
        )
    if not 0.0 <= range_ratio < 1.0:
        raise ValueError(f"range_ratio={range_ratio} must be in [0, 1).")
    rng = np.random.default_rng(seed)

    def lengths(mean: int) -> list[int]:
        low, high = max(1, math.floor(mean * (1 - range_ratio))), math.ceil(mean * (1 + range_ratio))
        return rng.integers(low, high + 1, size=num_requests).tolist()

    in_lens, out_lens = lengths(input_len), lengths(output_len)
    return _build(tokenizer, rng, in_lens, out_lens)


def sharegpt_like_requests(
    tokenizer: PreTrainedTokenizerBase,
    num_requests: int,
    seed: int = 0,
    max_len: int = 1024,
) -> list[SampleRequest]:
    """Random-token prompts whose (input, output) lengths follow
    :func:`genai_lab.serving.kv_cache.sharegpt_like_lengths` (means 161 and 338 tokens, long right
    tails), each pair cut to fit ``max_len`` tokens together: give the server's ``max_model_len``."""
    import numpy as np

    from genai_lab.serving.kv_cache import sharegpt_like_lengths

    if max_len < 2:
        raise ValueError(f"max_len={max_len}: a request needs at least 2 tokens (give the server's max_model_len).")
    prompt_lens, output_lens = sharegpt_like_lengths(num_requests, seed=seed, max_len=max_len)
    return _build(tokenizer, np.random.default_rng(seed + 1), prompt_lens.tolist(), output_lens.tolist())
