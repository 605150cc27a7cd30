"""The block allocator and block tables: property tests over random operation sequences."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genai_lab.serving.paged import BlockAllocator, BlockTable, PoolExhausted, check_block_size


@pytest.mark.parametrize("bad", [0, -16, 3, 12, 1.5, "16", True, None])
def test_block_size_must_be_a_positive_power_of_two(bad):
    with pytest.raises(ValueError, match="positive power of two"):
        check_block_size(bad)
    with pytest.raises(ValueError, match="power of two"):
        BlockAllocator(8, bad)


@pytest.mark.parametrize("good", [1, 2, 8, 16, 128])
def test_powers_of_two_are_accepted(good):
    assert check_block_size(good) == good


def test_exhausted_pool_raises_a_clear_error_and_leaves_the_table_unchanged():
    alloc = BlockAllocator(num_blocks=2, block_size=4)
    table = BlockTable(alloc)
    table.append_tokens(range(8))
    with pytest.raises(PoolExhausted, match="only 0 of 2 are free"):
        table.append_tokens([9])
    assert table.num_tokens == 8 and len(table) == 2
    with pytest.raises(PoolExhausted, match="All 2 KV blocks are in use"):
        alloc.allocate()


def test_double_free_is_refused():
    alloc = BlockAllocator(4, 4)
    b = alloc.allocate()
    alloc.free(b)
    with pytest.raises(ValueError, match="Double free"):
        alloc.free(b)


def test_slots_follow_the_block_table():
    alloc = BlockAllocator(8, 4)
    other = BlockTable(alloc)
    other.append_tokens([0])  # takes block 0, so the next table starts elsewhere
    table = BlockTable(alloc)
    table.append_tokens(range(6))
    assert table.block_ids == [1, 2]
    assert table.slots(0, 6) == [4, 5, 6, 7, 8, 9]


def test_fork_then_write_copies_exactly_once():
    alloc = BlockAllocator(8, 4)
    parent = BlockTable(alloc)
    parent.append_tokens([1, 2, 3, 4, 5, 6])  # one full block and a half-full one
    child = parent.fork()
    assert [alloc.ref_count(b) for b in parent.block_ids] == [2, 2]
    copies = child.append_tokens([7])
    assert copies == [(parent.block_ids[1], child.block_ids[1])]
    assert child.block_ids[0] == parent.block_ids[0]  # the full block stays shared
    assert parent.append_tokens([8]) == []  # the parent now owns its block alone: no second copy
    assert [alloc.ref_count(b) for b in parent.block_ids] == [2, 1]
    child.free()
    parent.free()
    assert alloc.num_free == 8


def test_prefix_cache_reuses_full_blocks_but_never_the_last_token():
    alloc = BlockAllocator(16, 4)
    prompt = list(range(10, 20))  # 10 tokens: two full blocks and a partial one
    first = BlockTable(alloc)
    first.append_tokens(prompt)
    first.seal(len(prompt))
    second = BlockTable(alloc)
    assert second.reuse_prefix(prompt + [99]) == 8
    assert second.block_ids == first.block_ids[:2]
    assert BlockTable(alloc).reuse_prefix(prompt[:8]) == 4  # the 8th token must be computed
    different = BlockTable(alloc)
    assert different.reuse_prefix([0] + prompt) == 0  # a different prefix changes every hash


def test_freed_blocks_stay_cached_until_reallocated():
    alloc = BlockAllocator(2, 4)
    table = BlockTable(alloc)
    table.append_tokens([1, 2, 3, 4, 5])
    table.seal(5)
    table.free()
    assert alloc.num_free == 2
    again = BlockTable(alloc)
    assert again.reuse_prefix([1, 2, 3, 4, 5]) == 4  # revived from the free list
    again.free()
    BlockTable(alloc).append_tokens(range(100, 108))  # reuses both blocks: the hash is evicted
    assert BlockTable(alloc).reuse_prefix([1, 2, 3, 4, 5]) == 0


OPS = st.lists(
    st.tuples(
        st.sampled_from(["new", "append", "fork", "free", "seal"]),
        st.integers(0, 50),
        st.integers(1, 9),
    ),
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(ops=OPS, block_size=st.sampled_from([1, 2, 4, 8]), num_blocks=st.integers(1, 24))
def test_random_operations_never_leak_or_double_free(ops, block_size, num_blocks):
    alloc = BlockAllocator(num_blocks, block_size)
    tables: list[BlockTable] = []
    copies_made = 0
    for op, pick, n in ops:
        if op == "new" or not tables:
            table = BlockTable(alloc)
            if n % 2:
                table.reuse_prefix([pick % 3] * n)  # small alphabet: prefix hits happen
            tables.append(table)
            continue
        table = tables[pick % len(tables)]
        if op == "append":
            shared_tail = (
                table.num_tokens % block_size
                and len(table)
                and alloc.ref_count(table.block_ids[-1]) > 1
            )
            before = alloc.num_free
            try:
                copies = table.append_tokens([pick % 3] * n)
            except PoolExhausted:
                assert alloc.num_free == before
                continue
            assert len(copies) == (1 if shared_tail else 0)  # copy-on-write copies exactly once
            copies_made += len(copies)
        elif op == "fork":
            tables.append(table.fork())
        elif op == "free":
            table.free()
            tables.remove(table)
        else:
            table.seal(table.num_tokens)
        alloc.check_invariants()
        # every reference is held by exactly one table slot
        held = [0] * num_blocks
        for t in tables:
            for b in t.block_ids:
                held[b] += 1
        assert held == alloc.ref_counts
    for t in tables:
        t.free()
    assert alloc.ref_counts == [0] * num_blocks
    assert alloc.num_free == num_blocks
    alloc.check_invariants()


# -- hardening: ids out of range, token ids, the prefix-cache key --------------------------------
@pytest.mark.parametrize("bad", [-1, 4, 100, True, 1.0, "0"])
def test_free_and_incref_refuse_ids_outside_the_pool(bad):
    alloc = BlockAllocator(4, 4)
    for _ in range(4):
        alloc.allocate()
    with pytest.raises(ValueError, match="not a block of this pool"):
        alloc.free(bad)
    with pytest.raises(ValueError, match="not a block of this pool"):
        alloc.incref(bad)
    assert alloc.ref_counts == [1, 1, 1, 1]  # nothing changed: free(-1) used to free block 3
    alloc.check_invariants()


def test_free_of_a_never_allocated_block_is_refused():
    alloc = BlockAllocator(4, 4)
    with pytest.raises(ValueError, match="not allocated"):
        alloc.free(2)
    assert alloc.num_free == 4


@pytest.mark.parametrize("bad", [5.7, 5.0, "5", None, True])
def test_block_tables_refuse_tokens_that_are_not_integer_ids(bad):
    table = BlockTable(BlockAllocator(4, 4))
    with pytest.raises(TypeError, match="Token ids must be integers"):
        table.append_tokens([1, bad])
    assert table.num_tokens == 0 and len(table) == 0


def test_token_ids_accept_numpy_and_tensor_integers():
    import numpy as np
    import torch

    from genai_lab.serving.paged import token_ids

    assert token_ids([np.int64(3), torch.tensor(4), 5]) == [3, 4, 5]
    with pytest.raises(ValueError, match=">= 0"):
        token_ids([-1])


def test_block_hash_is_a_chained_sha256_with_a_seeded_root():
    import hashlib
    from array import array

    from genai_lab.serving.paged import ROOT_HASH, block_hash

    first = block_hash(None, [1, 2, 3, 4])
    assert isinstance(first, bytes) and len(first) == 32  # was Python's 64-bit, per-process hash()
    assert first == hashlib.sha256(ROOT_HASH + array("q", [1, 2, 3, 4]).tobytes()).digest()
    second = block_hash(first, [5, 6, 7, 8])
    assert second == hashlib.sha256(first + array("q", [5, 6, 7, 8]).tobytes()).digest()
    assert block_hash(None, [5, 6, 7, 8]) != second  # the same tokens after another prefix differ
    assert block_hash(None, [1, 2, 3, 4]) == first  # deterministic


def test_sealing_hashes_only_the_newly_filled_blocks(monkeypatch):
    from genai_lab.serving import paged

    calls = []
    real = paged.block_hash
    monkeypatch.setattr(paged, "block_hash", lambda p, t: calls.append(list(t)) or real(p, t))
    table = BlockTable(BlockAllocator(16, 4))
    for token in range(20):  # decode one token at a time, sealing after each
        table.append_tokens([token])
        table.seal(table.num_tokens)
    assert len(calls) == 5  # one hash per full block, not one per block per step
    assert calls[-1] == [16, 17, 18, 19]


ALLOC_OPS = st.lists(
    st.tuples(st.sampled_from(["alloc", "free", "fork", "bad_free"]), st.integers(-3, 40)), max_size=80
)


@settings(max_examples=60, deadline=None)
@given(ops=ALLOC_OPS, num_blocks=st.integers(1, 12))
def test_allocator_random_alloc_free_fork_never_leaks_or_double_frees(ops, num_blocks):
    """Random allocate / free / fork (incref) sequences against a model of who holds what."""
    alloc = BlockAllocator(num_blocks, 4)
    held: list[int] = []  # one entry per reference we hold
    for op, pick in ops:
        if op == "alloc":
            if alloc.num_free == 0:
                with pytest.raises(PoolExhausted):
                    alloc.allocate()
            else:
                b = alloc.allocate()
                assert 0 <= b < num_blocks and b not in held  # a fresh, valid, unused block
                held.append(b)
        elif op == "fork" and held:
            b = held[pick % len(held)]
            alloc.incref(b)
            held.append(b)
        elif op == "free" and held:
            alloc.free(held.pop(pick % len(held)))
        elif op == "bad_free":
            before = list(alloc.ref_counts)
            if 0 <= pick < num_blocks and pick in held:
                continue
            with pytest.raises(ValueError):
                alloc.free(pick)  # out of range, or not allocated: refused
            assert alloc.ref_counts == before
        alloc.check_invariants()
        assert alloc.ref_counts == [held.count(b) for b in range(num_blocks)]
        assert alloc.num_free == num_blocks - len(set(held))
    for b in held:
        alloc.free(b)
    assert alloc.num_free == num_blocks
