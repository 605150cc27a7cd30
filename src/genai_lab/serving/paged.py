"""PagedAttention's memory manager: a block allocator and per-sequence block tables.

The KV cache is cut into fixed-size *blocks* of ``block_size`` token slots, like pages of virtual
memory. A sequence owns a :class:`BlockTable`, a list mapping its *logical* blocks (tokens 0-15,
16-31, ...) to *physical* blocks in one shared pool. The :class:`BlockAllocator` manages the pool:

- a fixed number of blocks and a free list; :class:`PoolExhausted` when none is left;
- a reference count per block, so that several sequences can share one block: a fork (parallel
  sampling, beam search) shares every block and copies a shared block only when one of the
  sequences writes into it (*copy-on-write*);
- prefix caching: a *full* block is identified by ``hash((parent_hash, token_ids))``, so that a
  prompt prefix that was already computed (a shared system prompt) is found and reused, and its
  prefill is skipped. A freed block keeps its hash until the allocator hands it out again, so a
  recently finished request's prefix can still be revived.

Pure Python, no torch: the tables hold block ids; the engine (:mod:`genai_lab.serving.engine`) owns
the tensors and performs the copies this module asks for.

    alloc = BlockAllocator(num_blocks=8, block_size=4)
    a = BlockTable(alloc)
    a.append_tokens([1, 2, 3, 4, 5])      # 2 blocks: [1 2 3 4] [5 _ _ _]
    b = a.fork()                           # shares both blocks, ref counts 2
    copies = b.append_tokens([6])          # b writes into the shared last block -> one copy
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

NO_HASH = None


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


def block_hash(parent_hash: int | None, token_ids: Sequence[int]) -> int:
    """The prefix-cache key of a full block: it depends on the block's tokens *and* on every token
    before it (through the parent block's hash), so equal keys mean equal KV contents."""
    return hash((parent_hash, tuple(int(t) for t in token_ids)))


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
        self._hash_of: dict[int, int] = {}  # block id -> hash, for full blocks whose KV is computed
        self._block_of: dict[int, int] = {}  # hash -> block id (the prefix cache)

    # -- counting ------------------------------------------------------------------------------
    @property
    def num_free(self) -> int:
        """Blocks that can be allocated now (cached-but-free blocks count as free)."""
        return len(self._free)

    @property
    def num_used(self) -> int:
        return self.num_blocks - len(self._free)

    def ref_count(self, block_id: int) -> int:
        return self.ref_counts[block_id]

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
        if self.ref_counts[block_id] <= 0:
            raise ValueError(f"Block {block_id} is free; only blocks in use can be shared.")
        self.ref_counts[block_id] += 1

    def free(self, block_id: int) -> None:
        """Drop one reference; at zero the block goes back to the free list (keeping its hash)."""
        if self.ref_counts[block_id] <= 0:
            raise ValueError(f"Double free: block {block_id} is already free.")
        self.ref_counts[block_id] -= 1
        if self.ref_counts[block_id] == 0:
            self._free[block_id] = None

    # -- prefix cache --------------------------------------------------------------------------
    def register(self, block_id: int, h: int) -> None:
        """Record that ``block_id`` holds the full block with hash ``h`` (first writer wins)."""
        if h in self._block_of or block_id in self._hash_of:
            return
        self._block_of[h] = block_id
        self._hash_of[block_id] = h

    def lookup(self, h: int) -> int | None:
        """The block cached under ``h`` with one more reference, or ``None`` on a miss."""
        block_id = self._block_of.get(h)
        if block_id is None:
            return None
        if self.ref_counts[block_id] == 0:  # cached but free: take it off the free list
            del self._free[block_id]
        self.ref_counts[block_id] += 1
        return block_id

    def is_cached(self, h: int) -> bool:
        return h in self._block_of

    def check_invariants(self) -> None:
        """Assert the bookkeeping is consistent (used by the property tests)."""
        for b, count in enumerate(self.ref_counts):
            assert count >= 0, f"block {b} has a negative reference count"
            assert (count == 0) == (b in self._free), f"block {b}: count {count} vs free list"
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
        self._hashes: list[int] = []  # hashes of the leading full blocks already registered

    @property
    def num_tokens(self) -> int:
        return len(self.token_ids)

    def __len__(self) -> int:
        return len(self.block_ids)

    def blocks_needed(self, num_new_tokens: int) -> int:
        """Blocks that appending ``num_new_tokens`` would allocate (copy-on-write included)."""
        free_slots = len(self.block_ids) * self.block_size - self.num_tokens
        new = -(-max(num_new_tokens - free_slots, 0) // self.block_size)
        if num_new_tokens > 0 and free_slots > 0 and self._last_block_shared():
            new += 1
        return new

    def _last_block_shared(self) -> bool:
        return bool(self.block_ids) and self.allocator.ref_count(self.block_ids[-1]) > 1

    def append_tokens(self, token_ids: Sequence[int]) -> list[tuple[int, int]]:
        """Reserve slots for ``token_ids`` and return ``[(src_block, dst_block), ...]`` copies.

        A shared, partly filled last block is copied once before the first write into it
        (copy-on-write); the sequence then owns the copy and the original loses one reference.
        If the pool runs out, the table is left unchanged and :class:`PoolExhausted` propagates.
        """
        if not token_ids:
            return []
        if self.allocator.num_free < self.blocks_needed(len(token_ids)):
            raise PoolExhausted(
                f"Appending {len(token_ids)} tokens needs {self.blocks_needed(len(token_ids))} blocks, "
                f"but only {self.allocator.num_free} of {self.allocator.num_blocks} are free."
            )
        copies: list[tuple[int, int]] = []
        if self.num_tokens % self.block_size and self._last_block_shared():
            src = self.block_ids[-1]
            dst = self.allocator.allocate()
            self.allocator.free(src)
            self.block_ids[-1] = dst
            copies.append((src, dst))
        for token in token_ids:
            if self.num_tokens == len(self.block_ids) * self.block_size:
                self.block_ids.append(self.allocator.allocate())
            self.token_ids.append(int(token))
        return copies

    def slot(self, position: int) -> int:
        """The flat slot index of token ``position``."""
        return (
            self.block_ids[position // self.block_size] * self.block_size
            + position % self.block_size
        )

    def slots(self, start: int, stop: int) -> list[int]:
        return [self.slot(p) for p in range(start, stop)]

    # -- prefix caching ------------------------------------------------------------------------
    def full_block_hashes(self, token_ids: Sequence[int] | None = None) -> list[int]:
        """Hashes of every full block of ``token_ids`` (default: this table's tokens)."""
        tokens = self.token_ids if token_ids is None else list(token_ids)
        hashes: list[int] = []
        parent: int | None = NO_HASH
        for start in range(0, len(tokens) - self.block_size + 1, self.block_size):
            parent = block_hash(parent, tokens[start : start + self.block_size])
            hashes.append(parent)
        return hashes

    def reuse_prefix(self, token_ids: Sequence[int]) -> int:
        """On an empty table, adopt the cached full blocks that start ``token_ids``; return how many
        tokens are covered. The last token is never covered: its logits are still needed."""
        if self.block_ids:
            raise ValueError("reuse_prefix only works on an empty block table.")
        usable = list(token_ids[: max(len(token_ids) - 1, 0)])
        for h in self.full_block_hashes(usable):
            block_id = self.allocator.lookup(h)
            if block_id is None:
                break
            self.block_ids.append(block_id)
            self._hashes.append(h)
        n = len(self.block_ids) * self.block_size
        self.token_ids = [int(t) for t in token_ids[:n]]
        return n

    def seal(self, num_computed: int) -> None:
        """Register every full block among the first ``num_computed`` tokens (their KV is now
        written) in the prefix cache."""
        hashes = self.full_block_hashes(self.token_ids[:num_computed])
        for i in range(len(self._hashes), len(hashes)):
            self.allocator.register(self.block_ids[i], hashes[i])
            self._hashes.append(hashes[i])

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
