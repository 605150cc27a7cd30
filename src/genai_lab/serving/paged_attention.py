"""Paged attention: attention whose keys and values are read through block tables.

The KV cache of one layer is a pool of blocks, ``cache[num_blocks, block_size, kv_heads, head_dim]``.
Sequence ``b`` owns the blocks listed in row ``b`` of ``block_tables``; its token ``j`` lives in
block ``block_tables[b, j // block_size]`` at offset ``j % block_size``. Attention for a batch of
sequences of different lengths is then

1. gather each sequence's keys and values through its block table into a padded
   ``[batch, max_len, kv_heads, head_dim]`` tensor (:func:`gather_kv`);
2. ordinary scaled dot-product attention, with a mask that hides the padding and (for several
   queries per sequence, as in prefill) future positions;
3. grouped-query attention: each of the ``kv_heads`` key/value heads serves
   ``num_heads // kv_heads`` query heads (SmolLM2: 9 query heads share 3 KV heads).

Steps 2 and 3 are what ``torch.nn.functional.scaled_dot_product_attention`` does with a boolean
mask and ``enable_gqa=True``, so after the gather we call it (one fused kernel).

vLLM's CUDA kernel does the same without materialising the gathered tensor; here clarity wins.
What does not depend on the layer (which slots to gather, the mask) is an :class:`AttentionPlan`,
built once per engine step by :func:`plan_attention` and reused by every layer's :func:`attend`;
:func:`paged_attention` is the two together.
The result equals ``torch.nn.functional.scaled_dot_product_attention`` on contiguous tensors
(see ``tests/unit/test_serving_attention.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from genai_lab.numeric import cdiv

if TYPE_CHECKING:  # pragma: no cover
    import torch


@dataclass(frozen=True)
class AttentionPlan:
    """The layer-independent part of paged attention for one batch of sequences.

    ``slots[b, j]`` is the flat cache slot of sequence ``b``'s token ``j`` (``[batch, max_len]``);
    ``bias`` is the additive attention mask: 0 where query ``i`` of sequence ``b`` may see key ``j``
    (causal, within the context), ``-inf`` elsewhere (``[batch, 1, q_len, max_len]``, broadcast over
    heads; built once, so no layer converts a boolean mask again); ``valid_query`` marks the real
    queries (``[batch, q_len]``).
    """

    slots: torch.Tensor
    bias: torch.Tensor
    valid_query: torch.Tensor

    @property
    def max_len(self) -> int:
        return int(self.slots.shape[1])


def _gather_slots(block_tables: torch.Tensor, max_len: int, block_size: int) -> torch.Tensor:
    import torch

    if max_len > block_tables.shape[1] * block_size:
        raise ValueError(
            f"A context of {max_len} tokens needs {cdiv(max_len, block_size)} blocks, but the block "
            f"tables have only {block_tables.shape[1]} columns."
        )
    positions = torch.arange(max_len, device=block_tables.device)
    blocks = block_tables[:, positions // block_size]  # [batch, max_len] physical block ids
    return blocks * block_size + positions % block_size  # [batch, max_len] flat slot ids


def plan_attention(
    block_tables: torch.Tensor,
    context_lens: torch.Tensor,
    query_lens: torch.Tensor,
    q_len: int,
    block_size: int,
    max_len: int | None = None,
    dtype: torch.dtype | None = None,
) -> AttentionPlan:
    """Precompute the gather slots and the causal/padding mask (``max_len``: the longest context,
    computed from ``context_lens`` when not given -- passing it avoids a device-to-host sync). The mask
    is built in ``dtype``, the queries' (default float32)."""
    import torch

    if max_len is None:
        max_len = int(context_lens.max()) if context_lens.numel() else 0
    slots = _gather_slots(block_tables, max_len, block_size)
    # Query i of sequence b sits at position context_len - query_len + i and sees keys 0..itself.
    key_pos = torch.arange(max_len, device=block_tables.device)
    q_idx = torch.arange(q_len, device=block_tables.device)
    q_pos = (context_lens - query_lens)[:, None] + q_idx[None, :]  # [B, q_len]
    valid_query = q_idx[None, :] < query_lens[:, None]  # [B, q_len]
    allowed = key_pos[None, None, :] <= q_pos[:, :, None]  # causal and within the context
    allowed = allowed | ~valid_query[:, :, None]  # padded queries see everything (then zeroed)
    bias = torch.zeros(allowed.shape, dtype=dtype or torch.float32, device=allowed.device)
    return AttentionPlan(slots, bias.masked_fill_(~allowed, float("-inf"))[:, None], valid_query)


def gather_kv(
    cache: torch.Tensor, block_tables: torch.Tensor, context_lens: torch.Tensor
) -> torch.Tensor:
    """Gather each sequence's cached vectors into ``[batch, max(context_lens), kv_heads, head_dim]``.

    ``cache`` is ``[num_blocks, block_size, kv_heads, head_dim]``; ``block_tables`` is a
    ``[batch, max_blocks]`` integer tensor (rows padded with any valid block id); positions past a
    sequence's length hold whatever the padding block holds and must be masked by the caller.
    """
    max_len = int(context_lens.max()) if context_lens.numel() else 0
    slots = _gather_slots(block_tables, max_len, cache.shape[1])
    return _gather(cache, slots)


def _gather(cache: torch.Tensor, slots: torch.Tensor) -> torch.Tensor:
    flat = cache.reshape(cache.shape[0] * cache.shape[1], *cache.shape[2:])
    return flat.index_select(0, slots.reshape(-1)).view(*slots.shape, *cache.shape[2:])


def attend(
    query: torch.Tensor,
    k_cache: torch.Tensor,
    v_cache: torch.Tensor,
    plan: AttentionPlan,
    scale: float,
) -> torch.Tensor:
    """Attention of ``query`` (``[batch, num_heads, q_len, head_dim]``) over the cached keys and
    values that ``plan`` points at; rows of padded queries are zero. No validation, no host sync:
    this is the per-layer inner loop (see :func:`paged_attention` for the arguments).

    After the gather it is ordinary masked attention, so it runs as one fused
    ``torch.nn.functional.scaled_dot_product_attention`` call (``enable_gqa``: each KV head serves
    ``num_heads // kv_heads`` query heads) rather than a chain of matmul, mask and softmax.
    """
    import torch.nn.functional as F

    keys = _gather(k_cache, plan.slots).transpose(1, 2)  # [B, kvh, L, d] (a strided view)
    values = _gather(v_cache, plan.slots).transpose(1, 2)
    out = F.scaled_dot_product_attention(query, keys, values, attn_mask=plan.bias, scale=scale, enable_gqa=True)
    if query.shape[2] > 1:
        out = out * plan.valid_query[:, None, :, None].to(out.dtype)
    return out


def paged_attention(
    query: torch.Tensor,
    k_cache: torch.Tensor,
    v_cache: torch.Tensor,
    block_tables: torch.Tensor,
    context_lens: torch.Tensor,
    query_lens: torch.Tensor | None = None,
    scale: float | None = None,
) -> torch.Tensor:
    """Causal attention for a batch of sequences whose K/V live in a paged cache.

    Args:
        query: ``[batch, num_heads, q_len, head_dim]``; sequence ``b``'s queries are its *last*
            ``query_lens[b]`` tokens (default: all ``q_len``), left-aligned, padded at the end.
            Decoding passes ``q_len = 1``; prefill passes the prompt's new tokens.
        k_cache, v_cache: ``[num_blocks, block_size, kv_heads, head_dim]``, already holding the
            keys and values of every token up to ``context_lens[b]`` (the queries' own included).
        block_tables: ``[batch, max_blocks]`` physical block ids.
        context_lens: ``[batch]`` number of cached tokens each sequence attends to.
        scale: softmax scale, default ``head_dim ** -0.5``.

    Returns ``[batch, num_heads, q_len, head_dim]``; rows of padded queries are zero.
    """
    import torch

    _, num_heads, q_len, head_dim = query.shape
    kv_heads = k_cache.shape[2]
    if num_heads % kv_heads:
        raise ValueError(
            f"num_heads ({num_heads}) must be a multiple of the cache's kv_heads ({kv_heads}) for "
            "grouped-query attention."
        )
    if k_cache.shape != v_cache.shape or k_cache.shape[3] != head_dim:
        raise ValueError(
            f"k_cache {tuple(k_cache.shape)} and v_cache {tuple(v_cache.shape)} must match, with "
            f"head_dim {head_dim} last."
        )
    if query_lens is None:
        query_lens = torch.full_like(context_lens, q_len)
    if bool((query_lens > context_lens).any()):
        raise ValueError(
            "Every query must be among its sequence's cached tokens (query_lens <= context_lens)."
        )
    plan = plan_attention(block_tables, context_lens, query_lens, q_len, k_cache.shape[1], dtype=query.dtype)
    return attend(query, k_cache, v_cache, plan, head_dim**-0.5 if scale is None else scale)
