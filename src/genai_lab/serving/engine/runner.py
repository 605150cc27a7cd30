"""The model runner: a Llama-style forward pass written against the paged KV cache.

:func:`prepare_batch` turns one step's scheduled sequences into flat tensors (token ids, positions,
cache slots) and :class:`AttentionGroup` s, vectorised over the batch: the block tables are gathered
into one padded tensor once, and the slot of every token, the attention gather slots and the masks
are computed from it with tensor operations, once per step rather than once per layer.
:class:`PagedLlama` then runs every layer on that flat stream (vLLM's ``gpu_model_runner`` and
``attention metadata``, in miniature).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from genai_lab.numeric import cdiv
from genai_lab.serving.kv_cache import attention_shape
from genai_lab.serving.paged_attention import AttentionPlan, attend, plan_attention

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from transformers import PreTrainedModel


@dataclass
class AttentionGroup:
    """Sequences whose attention runs as one padded batch.

    ``rows[b, i]`` is the position in the flat token stream of sequence ``b``'s ``i``-th new token
    (0 where ``valid`` is False); ``plan`` is the gather slots and mask of
    :func:`~genai_lab.serving.paged_attention.attend`. ``src`` picks the valid queries out of the
    flattened ``[n_seqs * q_len]`` result (``None``: all are valid) and ``dst`` is where they go in
    the stream.
    """

    rows: torch.Tensor  # [n_seqs, q_len] long
    valid: torch.Tensor  # [n_seqs, q_len] bool
    plan: AttentionPlan
    src: torch.Tensor | None
    dst: torch.Tensor


@dataclass
class StepBatch:
    """The model inputs of one step: ``T`` tokens from several sequences, flattened."""

    input_ids: torch.Tensor  # [T]
    positions: torch.Tensor  # [T] position of each token in its sequence
    slot_mapping: torch.Tensor  # [T] cache slot (block_id * block_size + offset) of each token
    groups: list[AttentionGroup]
    logits_rows: torch.Tensor  # [n_seqs] each sequence's last token in the stream
    num_tokens: int

    def to(self, device: torch.device | str) -> StepBatch:
        """The same batch with every tensor on ``device``."""

        def move(t: torch.Tensor | None) -> torch.Tensor | None:
            return None if t is None else t.to(device, non_blocking=True)

        groups = [
            AttentionGroup(
                g.rows.to(device),
                g.valid.to(device),
                AttentionPlan(g.plan.slots.to(device), g.plan.bias.to(device), g.plan.valid_query.to(device)),
                move(g.src),
                g.dst.to(device),
            )
            for g in self.groups
        ]
        return StepBatch(
            self.input_ids.to(device),
            self.positions.to(device),
            self.slot_mapping.to(device),
            groups,
            self.logits_rows.to(device),
            self.num_tokens,
        )


def prepare_batch(
    chunks: Sequence[Sequence[int]],
    starts: Sequence[int],
    tables: Sequence[Sequence[int]],
    block_size: int,
    device: torch.device | str = "cpu",
    dtype: torch.dtype | None = None,
) -> StepBatch:
    """Flatten one step: sequence ``i`` computes tokens ``chunks[i]`` at positions ``starts[i]...``,
    and its KV blocks are ``tables[i]``. Sequences with one new token (decoding) attend as one
    group, the others (prefill) as another. Built on the CPU from Python lists, then moved to
    ``device`` in one go; ``dtype`` is the model's (for the attention mask, default float32)."""
    import torch

    n = len(chunks)
    query_lens = [len(c) for c in chunks]
    contexts = [s + q for s, q in zip(starts, query_lens, strict=True)]
    if n == 0 or min(query_lens) < 1:
        raise ValueError("Every scheduled sequence needs at least one new token.")
    total = sum(query_lens)
    width = max(len(t) for t in tables)
    block_tables = torch.tensor([list(t) + [0] * (width - len(t)) for t in tables], dtype=torch.long)
    qlens = torch.tensor(query_lens)
    context_lens = torch.tensor(contexts)
    offsets = torch.cumsum(qlens, 0) - qlens  # where each sequence starts in the stream
    seq_of_token = torch.repeat_interleave(torch.arange(n), qlens)
    positions = torch.tensor(starts)[seq_of_token] + torch.arange(total) - offsets[seq_of_token]
    slot_mapping = block_tables[seq_of_token, positions // block_size] * block_size + positions % block_size

    groups = []
    decode = [i for i in range(n) if query_lens[i] == 1]
    prefill = [i for i in range(n) if query_lens[i] > 1]
    for members in (decode, prefill):
        if not members:
            continue
        q_len = max(query_lens[i] for i in members)
        max_len = max(contexts[i] for i in members)
        sel = torch.tensor(members)
        idx = torch.arange(q_len)
        valid = idx[None, :] < qlens[sel][:, None]
        rows = torch.where(valid, offsets[sel][:, None] + idx[None, :], 0)
        plan = plan_attention(
            block_tables[sel, : cdiv(max_len, block_size)], context_lens[sel], qlens[sel], q_len, block_size, max_len,
            dtype,
        )  # fmt: skip
        if q_len == 1:
            src, dst = None, rows[:, 0]
        else:
            src = valid.reshape(-1).nonzero().squeeze(1)
            dst = rows.reshape(-1)[src]
        groups.append(AttentionGroup(rows, valid, plan, src, dst))
    ids = torch.tensor(list(itertools.chain.from_iterable(chunks)), dtype=torch.long)
    batch = StepBatch(ids, positions, slot_mapping, groups, offsets + qlens - 1, total)
    return batch if torch.device(device).type == "cpu" else batch.to(device)


class PagedLlama:
    """The forward pass of a ``LlamaForCausalLM`` written against a paged KV cache.

    The cache is one tensor ``[layers, 2 (K, V), num_blocks, block_size, kv_heads, head_dim]``.
    :meth:`forward` takes a :class:`StepBatch`, writes each token's K and V to its slot, and runs
    attention per group (all decoding sequences at once; the prefilling ones as another batch).
    """

    def __init__(self, model: PreTrainedModel, num_blocks: int, block_size: int) -> None:
        import torch

        inner = getattr(model, "model", None)
        needed = ("embed_tokens", "layers", "norm", "rotary_emb")
        if inner is None or not all(hasattr(inner, a) for a in needed) or not hasattr(model, "lm_head"):
            raise TypeError(
                f"{type(model).__name__} is not a Llama-style causal LM (model.model.embed_tokens, "
                ".layers, .norm, .rotary_emb and model.lm_head); load it with AutoModelForCausalLM."
            )
        shape = attention_shape(model.config)
        self.model = model
        self.config = model.config
        self.num_heads = shape.num_heads
        self.num_kv_heads = shape.num_kv_heads
        self.head_dim = shape.head_dim
        self.block_size = block_size
        self.num_blocks = num_blocks
        param = next(model.parameters())
        self.kv_cache = torch.zeros(
            len(inner.layers), 2, num_blocks, block_size, self.num_kv_heads, self.head_dim,
            dtype=param.dtype, device=param.device,
        )  # fmt: skip

    @property
    def device(self) -> torch.device:
        return self.kv_cache.device

    def copy_blocks(self, copies: Iterable[tuple[int, int]]) -> None:
        """Copy-on-write: duplicate whole blocks (every layer, K and V)."""
        for src, dst in copies:
            self.kv_cache[:, :, dst] = self.kv_cache[:, :, src]

    def forward(self, batch: StepBatch) -> torch.Tensor:
        """Float32 logits ``[n_seqs, vocab]`` of each sequence's last token in ``batch``."""
        from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

        inner = self.model.model
        n_tokens = batch.num_tokens
        heads, kv_heads, head_dim = self.num_heads, self.num_kv_heads, self.head_dim
        slot_mapping = batch.slot_mapping
        groups = batch.groups
        decode_only = len(groups) == 1 and groups[0].src is None  # one query per sequence, in order
        hidden = inner.embed_tokens(batch.input_ids)[None]  # [1, T, hidden]
        cos, sin = inner.rotary_emb(hidden, batch.positions[None])
        scale = head_dim**-0.5
        for layer_idx, layer in enumerate(inner.layers):
            attn = layer.self_attn
            x = layer.input_layernorm(hidden)
            # token-major [1, T, heads, d] throughout: no transposes; rotary broadcasts over heads
            q = attn.q_proj(x).view(1, n_tokens, heads, head_dim)
            k = attn.k_proj(x).view(1, n_tokens, kv_heads, head_dim)
            v = attn.v_proj(x).view(n_tokens, kv_heads, head_dim)
            q, k = apply_rotary_pos_emb(q, k, cos, sin, unsqueeze_dim=2)
            k_cache, v_cache = self.kv_cache[layer_idx, 0], self.kv_cache[layer_idx, 1]
            k_cache.view(-1, kv_heads, head_dim).index_copy_(0, slot_mapping, k[0])
            v_cache.view(-1, kv_heads, head_dim).index_copy_(0, slot_mapping, v)
            if decode_only:  # sequence i is token i: [T, heads, 1, d] is a view
                g = groups[0]
                out = attend(q[0].unsqueeze(2), k_cache, v_cache, g.plan, scale)  # [T, heads, 1, d]
                attn_in = out.reshape(1, n_tokens, heads * head_dim)
            else:
                flat = q.new_empty(n_tokens, heads, head_dim)
                for g in groups:
                    o = attend(q[0][g.rows].transpose(1, 2), k_cache, v_cache, g.plan, scale)  # [B, h, q, d]
                    o = o.transpose(1, 2).reshape(-1, heads, head_dim)  # [B * q_len, heads, d]
                    flat.index_copy_(0, g.dst, o if g.src is None else o.index_select(0, g.src))
                attn_in = flat.view(1, n_tokens, heads * head_dim)
            hidden = hidden + attn.o_proj(attn_in)
            hidden = hidden + layer.mlp(layer.post_attention_layernorm(hidden))
        last = inner.norm(hidden[0, batch.logits_rows])
        return self.model.lm_head(last).float()
