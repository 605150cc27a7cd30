"""Paged attention equals torch's scaled_dot_product_attention on contiguous tensors."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from genai_lab.serving.paged_attention import gather_kv, paged_attention


def _scatter_into_pool(keys, values, block_size, num_blocks, generator):
    """Write each sequence's contiguous K/V into randomly chosen physical blocks."""
    kv_heads, head_dim = keys[0].shape[1:]
    k_cache = torch.randn(
        num_blocks, block_size, kv_heads, head_dim, generator=generator
    )  # garbage
    v_cache = torch.randn(num_blocks, block_size, kv_heads, head_dim, generator=generator)
    perm = torch.randperm(num_blocks, generator=generator).tolist()
    tables = []
    for k, v in zip(keys, values, strict=True):
        n_blocks = -(-k.shape[0] // block_size)
        ids = [perm.pop() for _ in range(n_blocks)]
        for j in range(k.shape[0]):
            k_cache[ids[j // block_size], j % block_size] = k[j]
            v_cache[ids[j // block_size], j % block_size] = v[j]
        tables.append(ids)
    width = max(len(t) for t in tables)
    block_tables = torch.tensor([t + [0] * (width - len(t)) for t in tables])
    return k_cache, v_cache, block_tables


def _reference(q, k, v, query_len):
    """SDPA on one sequence's contiguous tensors; the last query_len tokens are the queries."""
    ctx = k.shape[0]
    mask = torch.arange(ctx)[None, :] <= torch.arange(ctx - query_len, ctx)[:, None]
    return F.scaled_dot_product_attention(
        q[None], k.transpose(0, 1)[None], v.transpose(0, 1)[None], attn_mask=mask, enable_gqa=True
    )[0]


@settings(max_examples=40, deadline=None)
@given(
    lengths=st.lists(st.integers(1, 70), min_size=1, max_size=5),
    block_size=st.sampled_from([1, 2, 4, 8, 16, 32]),
    heads=st.sampled_from([(9, 3), (4, 4), (6, 1), (8, 2)]),
    decode=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_paged_attention_equals_sdpa_on_contiguous_tensors(
    lengths, block_size, heads, decode, seed
):
    num_heads, kv_heads = heads
    head_dim = 16
    g = torch.Generator().manual_seed(seed)
    keys = [torch.randn(n, kv_heads, head_dim, generator=g) for n in lengths]
    values = [torch.randn(n, kv_heads, head_dim, generator=g) for n in lengths]
    query_lens = [1 if decode else int(torch.randint(1, n + 1, (1,), generator=g)) for n in lengths]
    num_blocks = sum(-(-n // block_size) for n in lengths) + 3
    k_cache, v_cache, tables = _scatter_into_pool(keys, values, block_size, num_blocks, g)

    q_width = max(query_lens)
    query = torch.randn(len(lengths), num_heads, q_width, head_dim, generator=g)
    out = paged_attention(
        query, k_cache, v_cache, tables, torch.tensor(lengths), torch.tensor(query_lens)
    )
    for b, (k, v, ql) in enumerate(zip(keys, values, query_lens, strict=True)):
        ref = _reference(query[b, :, :ql], k, v, ql)
        torch.testing.assert_close(out[b, :, :ql], ref, atol=1e-5, rtol=0)
        assert torch.all(out[b, :, ql:] == 0)  # padded queries are zeroed


def test_gather_kv_follows_the_table():
    cache = torch.arange(4 * 2).float().reshape(4, 2, 1, 1)  # block b holds 2b, 2b+1
    got = gather_kv(cache, torch.tensor([[3, 1], [0, 0]]), torch.tensor([3, 1]))
    assert got[0].flatten().tolist() == [6, 7, 2]
    assert got[1, :1].flatten().tolist() == [0]


def test_shape_errors_name_the_fix():
    k = torch.zeros(4, 4, 2, 8)
    with pytest.raises(ValueError, match="multiple of the cache's kv_heads"):
        paged_attention(
            torch.zeros(1, 3, 1, 8), k, k, torch.zeros(1, 1, dtype=torch.long), torch.tensor([1])
        )
    with pytest.raises(ValueError, match="block tables have only 1 columns"):
        paged_attention(
            torch.zeros(1, 4, 1, 8), k, k, torch.zeros(1, 1, dtype=torch.long), torch.tensor([9])
        )
