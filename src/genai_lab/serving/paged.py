"""PagedAttention's memory manager: a block allocator and per-sequence block tables.

The KV cache is cut into fixed-size *blocks* of ``block_size`` token slots, like pages of virtual
memory. A sequence owns a :class:`BlockTable`, a list mapping its *logical* blocks (tokens 0-15,
16-31, ...) to *physical* blocks in one shared pool. The :class:`BlockAllocator` manages the pool:

- a fixed number of blocks and a free list; :class:`PoolExhausted` when none is left;
- a reference count per block, so that several sequences can share one block: a fork (parallel
  sampling, beam search) shares every block and copies a shared block only when one of the
  sequences writes into it (*copy-on-write*);
- prefix caching: a *full* block is identified by a chained SHA-256 of its parent block's hash and
  its token ids (:func:`block_hash`, as vLLM's ``kv_cache_utils.hash_block_tokens``), so that a
  prompt prefix that was already computed (a shared system prompt) is found and reused, and its
  prefill is skipped. A freed block keeps its hash until the allocator hands it out again, so a
  recently finished request's prefix can still be revived. A cryptographic hash matters here: two
  different prefixes with the same key would silently reuse a wrong KV block (Python's ``hash()`` of
  a tuple is 64 bits, salted per process, and not collision resistant).

Pure Python, no torch: the tables hold block ids; the engine (:mod:`genai_lab.serving.engine`) owns
the tensors and performs the copies this module asks for.

    alloc = BlockAllocator(num_blocks=8, block_size=4)
    a = BlockTable(alloc)
    a.append_tokens([1, 2, 3, 4, 5])      # 2 blocks: [1 2 3 4] [5 _ _ _]
    b = a.fork()                           # shares both blocks, ref counts 2
    copies = b.append_tokens([6])          # b writes into the shared last block -> one copy
"""

from __future__ import annotations

import hashlib
import operator
from array import array
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import NewType, SupportsIndex, cast

from genai_lab.numeric import cdiv

#: A prefix-cache key: the SHA-256 digest of (parent key, token ids).
BlockHash = NewType("BlockHash", bytes)

#: The parent key of a sequence's first block: a fixed seed, so keys are reproducible across runs.
ROOT_HASH = BlockHash(hashlib.sha256(b"genai_lab.serving.paged prefix cache v1").digest())


class PoolExhausted(RuntimeError):
    """The block pool has no free block left."""


def check_block_size(block_size: int) -> int:
    """Return ``block_size`` if it is a positive power of two, else raise a ``ValueError``."""
    if (
        isinstance(block_size, bool)
        or not isinstance(block_size, int)
        or block_size <= 0
        or block_size & (block_size - 1)
    ):
        raise ValueError(
            f"block_size must be a positive power of two (1, 2, 4, 8, 16, ...), got {block_size!r}; "
            "vLLM uses 16."
        )
    return block_size


def token_id(value: object) -> int:
    """``value`` as a token id: an integer >= 0 (Python or numpy int, 0-d integer tensor).

    Floats and booleans are refused rather than truncated: ``5.7`` is not a token.
    """
    if isinstance(value, bool):
        raise TypeError(f"Token ids must be integers, got the boolean {value!r}.")
    try:
        tid = operator.index(cast("SupportsIndex", value))  # ints, numpy ints, integer tensors
    except TypeError:
        raise TypeError(
            f"Token ids must be integers, got {value!r} ({type(value).__name__}); tokenize text with "
            "the model's tokenizer and pass its integer ids."
        ) from None
    if tid < 0:
        raise ValueError(f"Token ids must be >= 0, got {tid}.")
    return tid


def token_ids(values: Iterable[object]) -> list[int]:
    """Every element of ``values`` checked by :func:`token_id`."""
    return [v if type(v) is int and v >= 0 else token_id(v) for v in values]  # fast path: plain ints


def block_hash(parent_hash: BlockHash | None, tokens: Sequence[int]) -> BlockHash:
    """The prefix-cache key of a full block: SHA-256 over the parent block's key (``None``: the
    first block, chained to :data:`ROOT_HASH`) and the block's token ids as 64-bit integers. It
    depends on the block's tokens *and* on every token before it, so equal keys mean equal KV."""
    digest = hashlib.sha256(ROOT_HASH if parent_hash is None else parent_hash)
    digest.update(array("q", tokens).tobytes())
    return BlockHash(digest.digest())


class BlockAllocator:
    """A fixed pool of ``num_blocks`` physical blocks with reference counts and a prefix cache.

    ``allocate()`` takes a block from the free list (evicting the oldest freed block's cached hash),
    ``incref``/``free`` move reference counts, and a block returns to the free list when its count
    reaches zero. ``lookup(h)`` revives a cached full block by its hash.
    """

    def __init__(self, num_blocks: int, block_size: int) -> None:
        if isinstance(num_blocks, bool) or not isinstance(num_blocks, int) or num_blocks <= 0:
            raise ValueError(f"num_blocks must be a positive integer, got {num_blocks!r}.")
        self.num_blocks = num_blocks
        self.block_size = check_block_size(block_size)
        self.ref_counts = [0] * num_blocks
        # Free blocks in the order they were freed: the oldest is reused (and its hash evicted) first.
        self._free: OrderedDict[int, None] = OrderedDict((i, None) for i in range(num_blocks))
        self._hash_of: dict[int, BlockHash] = {}  # block id -> hash, full blocks whose KV is computed
        self._block_of: dict[BlockHash, int] = {}  # hash -> block id (the prefix cache)

    # -- counting ------------------------------------------------------------------------------
    @property
    def num_free(self) -> int:
        """Blocks that can be allocated now (cached-but-free blocks count as free)."""
        return len(self._free)

    @property
    def num_used(self) -> int:
        return self.num_blocks - len(self._free)

    def ref_count(self, block_id: int) -> int:
        """How many block tables point at ``block_id``."""
        return self.ref_counts[self._check_id(block_id)]

    def _check_id(self, block_id: int) -> int:
        if isinstance(block_id, bool) or not isinstance(block_id, int) or not 0 <= block_id < self.num_blocks:
            raise ValueError(
                f"Block id {block_id!r} is not a block of this pool (valid ids: 0..{self.num_blocks - 1})."
            )
        return block_id

    # -- allocation ----------------------------------------------------------------------------
    def allocate(self) -> int:
        """A fresh block with reference count 1; raises :class:`PoolExhausted` when none is free."""
        if not self._free:
            raise PoolExhausted(
                f"All {self.num_blocks} KV blocks are in use. Free finished sequences, preempt one, "
                "or create the allocator with more blocks."
            )
        block_id, _ = self._free.popitem(last=False)
        old = self._hash_of.pop(block_id, None)  # evict: its contents are about to be overwritten
        if old is not None:
            del self._block_of[old]
        self.ref_counts[block_id] = 1
        return block_id

    def incref(self, block_id: int) -> None:
        """One more sequence points at ``block_id`` (it must be in use)."""
        if self.ref_counts[self._check_id(block_id)] <= 0:
            raise ValueError(f"Block {block_id} is free; only blocks in use can be shared.")
        self.ref_counts[block_id] += 1

    def free(self, block_id: int) -> None:
        """Drop one reference; at zero the block goes back to the free list (keeping its hash).

        Raises ``ValueError`` for an id outside the pool or a block that is not allocated (a double
        free), leaving the pool unchanged.
        """
        if self.ref_counts[self._check_id(block_id)] <= 0:
            raise ValueError(f"Double free: block {block_id} is not allocated (already free).")
        self.ref_counts[block_id] -= 1
        if self.ref_counts[block_id] == 0:
            self._free[block_id] = None

    # -- prefix cache --------------------------------------------------------------------------
    def register(self, block_id: int, h: BlockHash) -> None:
        """Record that ``block_id`` holds the full block with hash ``h`` (first writer wins)."""
        if self.ref_counts[self._check_id(block_id)] <= 0:
            raise ValueError(f"Block {block_id} is free; only a block in use can be registered.")
        if h in self._block_of or block_id in self._hash_of:
            return
        self._block_of[h] = block_id
        self._hash_of[block_id] = h

    def lookup(self, h: BlockHash) -> int | None:
        """The block cached under ``h`` with one more reference, or ``None`` on a miss."""
        block_id = self._block_of.get(h)
        if block_id is None:
            return None
        if self.ref_counts[block_id] == 0:  # cached but free: take it off the free list
            del self._free[block_id]
        self.ref_counts[block_id] += 1
        return block_id

    def check_invariants(self) -> None:
        """Assert the bookkeeping is consistent (used by the property tests)."""
        for b, count in enumerate(self.ref_counts):
            assert count >= 0, f"block {b} has a negative reference count"
            assert (count == 0) == (b in self._free), f"block {b}: count {count} vs free list"
        assert len(self._hash_of) == len(self._block_of), "the prefix cache maps are not one-to-one"
        for h, b in self._block_of.items():
            assert self._hash_of[b] == h


class BlockTable:
    """One sequence's logical-to-physical block map, with the tokens it holds.

    ``append_tokens`` reserves slots for new tokens (allocating blocks as needed, copying a shared
    last block before writing into it) and returns the copies the engine must perform;
    ``slot(i)`` is where token ``i``'s K and V live in the flat pool (``block_id * block_size +
    offset``).
    """

    def __init__(self, allocator: BlockAllocator) -> None:
        self.allocator = allocator
        self.block_size = allocator.block_size
        self.block_ids: list[int] = []
        self.token_ids: list[int] = []
        self._hashes: list[BlockHash] = []  # hashes of the leading full blocks already registered

    @property
    def num_tokens(self) -> int:
        return len(self.token_ids)

    def __len__(self) -> int:
        return len(self.block_ids)

    def blocks_needed(self, num_new_tokens: int) -> int:
        """Blocks that appending ``num_new_tokens`` would allocate (copy-on-write included)."""
        free_slots = len(self.block_ids) * self.block_size - len(self.token_ids)
        new = cdiv(num_new_tokens - free_slots, self.block_size) if num_new_tokens > free_slots else 0
        if num_new_tokens > 0 and free_slots > 0 and self._last_block_shared():
            new += 1
        return new

    def _last_block_shared(self) -> bool:
        return bool(self.block_ids) and self.allocator.ref_counts[self.block_ids[-1]] > 1

    def append_tokens(self, tokens: Iterable[object]) -> list[tuple[int, int]]:
        """Reserve slots for ``tokens`` and return ``[(src_block, dst_block), ...]`` copies.

        A shared, partly filled last block is copied once before the first write into it
        (copy-on-write); the sequence then owns the copy and the original loses one reference.
        If the pool runs out, the table is left unchanged and :class:`PoolExhausted` propagates;
        a token that is not an integer id raises before anything changes.
        """
        new = token_ids(tokens)
        if not new:
            return []
        needed = self.blocks_needed(len(new))
        if self.allocator.num_free < needed:
            raise PoolExhausted(
                f"Appending {len(new)} tokens needs {needed} blocks, "
                f"but only {self.allocator.num_free} of {self.allocator.num_blocks} are free."
            )
        copies: list[tuple[int, int]] = []
        if self.num_tokens % self.block_size and self._last_block_shared():
            src = self.block_ids[-1]
            dst = self.allocator.allocate()
            self.allocator.free(src)
            self.block_ids[-1] = dst
            copies.append((src, dst))
        for _ in range(cdiv(self.num_tokens + len(new), self.block_size) - len(self.block_ids)):
            self.block_ids.append(self.allocator.allocate())
        self.token_ids += new
        return copies

    def slot(self, position: int) -> int:
        """The flat slot index of token ``position``."""
        return self.block_ids[position // self.block_size] * self.block_size + position % self.block_size

    def slots(self, start: int, stop: int) -> list[int]:
        """The flat slot indices of tokens ``start..stop-1``."""
        return [self.slot(p) for p in range(start, stop)]

    # -- prefix caching ------------------------------------------------------------------------
    def reuse_prefix(self, tokens: Sequence[int]) -> int:
        """On an empty table, adopt the cached full blocks that start ``tokens``; return how many
        tokens are covered. The last token is never covered: its logits are still needed."""
        if self.block_ids:
            raise ValueError("reuse_prefix only works on an empty block table.")
        usable = token_ids(tokens[: max(len(tokens) - 1, 0)])
        for h in full_block_hashes(usable, self.block_size):
            block_id = self.allocator.lookup(h)
            if block_id is None:
                break
            self.block_ids.append(block_id)
            self._hashes.append(h)
        n = len(self.block_ids) * self.block_size
        self.token_ids = usable[:n]
        return n

    def seal(self, num_computed: int) -> None:
        """Register every full block among the first ``num_computed`` tokens (their KV is now
        written) in the prefix cache. Only blocks not sealed before are hashed, so sealing after
        every decoding step costs one hash per newly filled block."""
        done = len(self._hashes)
        parent = self._hashes[-1] if self._hashes else None
        start = done * self.block_size
        new = full_block_hashes(self.token_ids[start:num_computed], self.block_size, parent)
        for i, h in enumerate(new, start=done):
            self.allocator.register(self.block_ids[i], h)
            self._hashes.append(h)

    # -- sharing and freeing -------------------------------------------------------------------
    def fork(self) -> BlockTable:
        """A child table sharing every block (reference counts go up; nothing is copied yet)."""
        child = BlockTable(self.allocator)
        for b in self.block_ids:
            self.allocator.incref(b)
        child.block_ids = list(self.block_ids)
        child.token_ids = list(self.token_ids)
        child._hashes = list(self._hashes)
        return child

    def free(self) -> None:
        """Release every block (shared blocks just lose a reference). The table ends empty."""
        for b in reversed(self.block_ids):  # prefix blocks join the free list last: evicted last
            self.allocator.free(b)
        self.block_ids = []
        self.token_ids = []
        self._hashes = []


def full_block_hashes(
    tokens: Sequence[int], block_size: int, parent: BlockHash | None = None
) -> list[BlockHash]:
    """The chained keys of every full block of ``tokens`` (a trailing partial block has none),
    starting from ``parent`` (``None``: the sequence's first block)."""
    hashes: list[BlockHash] = []
    for start in range(0, len(tokens) - block_size + 1, block_size):
        parent = block_hash(parent, tokens[start : start + block_size])
        hashes.append(parent)
    return hashes
