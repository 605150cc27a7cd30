"""The scheduler: which sequences run this step (vLLM's ``v1/core/sched/scheduler.py``, in small).

At every step:

1. every running sequence needs slots for its new token(s); when the block pool cannot supply them,
   the most recently admitted sequence is *preempted*: its blocks are freed and it goes back to the
   head of the queue, to be recomputed later (prompt + what it generated so far) -- nothing is
   lost, and greedy outputs are unchanged;
2. if nothing was preempted, waiting requests are admitted first-come first-served while there are
   seats (``max_num_seqs``), free blocks for their prompt, and room in the step's token budget
   (``max_num_batched_tokens``); with prefix caching, cached full blocks of the prompt are reused
   and only the rest is computed.
"""

from __future__ import annotations

from collections import deque

from genai_lab.serving.engine.outputs import EngineStats
from genai_lab.serving.engine.request import Request, Seq
from genai_lab.serving.paged import BlockAllocator


class Scheduler:
    """Holds the waiting queue and the running batch, and reserves KV slots for each step."""

    def __init__(
        self,
        allocator: BlockAllocator,
        max_num_seqs: int,
        max_num_batched_tokens: int,
        enable_prefix_caching: bool,
        stats: EngineStats,
    ) -> None:
        self.allocator = allocator
        self.max_num_seqs = max_num_seqs
        self.max_num_batched_tokens = max_num_batched_tokens
        self.enable_prefix_caching = enable_prefix_caching
        self.stats = stats
        self.waiting: deque[Seq] = deque()
        self.running: list[Seq] = []

    def add(self, seq: Seq) -> None:
        """Queue a new sequence at the back."""
        self.waiting.append(seq)

    def _preempt(self, seq: Seq) -> None:
        """Preemption by recomputation: drop the sequence's KV and queue it at the front."""
        seq.table.free()
        seq.num_computed = 0
        seq.request.num_preemptions += 1
        self.stats.preemptions += 1
        self.waiting.appendleft(seq)

    def schedule(self) -> tuple[list[Seq], list[tuple[int, int]]]:
        """Decide this step's sequences and reserve their slots; returns them and the block copies.

        Running sequences first (oldest first; the newest is preempted when blocks run out), then,
        if nobody was preempted, waiting ones first-come first-served.
        """
        scheduled: list[Seq] = []
        copies: list[tuple[int, int]] = []
        queue = deque(self.running)
        preempted = False
        while queue:
            seq = queue.popleft()
            new_tokens = seq.token_ids[seq.num_computed :]
            while seq.table.blocks_needed(len(new_tokens)) > self.allocator.num_free:
                victim = queue.pop() if queue else seq
                self._preempt(victim)
                preempted = True
                if victim is seq:
                    break
            else:
                copies += seq.table.append_tokens(new_tokens)
                scheduled.append(seq)
        self.running = list(scheduled)

        budget = self.max_num_batched_tokens - len(scheduled)
        seats = self.max_num_seqs - len(self.running)
        while self.waiting and not preempted:
            seq = self.waiting[0]
            if seq.request.seats > seats:
                break
            cached = seq.table.reuse_prefix(seq.token_ids) if self.enable_prefix_caching else 0
            new_tokens = seq.token_ids[cached:]
            if len(new_tokens) > budget or seq.table.blocks_needed(len(new_tokens)) > self.allocator.num_free:
                seq.table.free()  # give the revived prefix blocks back; try again next step
                break
            copies += seq.table.append_tokens(new_tokens)
            seq.num_computed = cached
            if not seq.output_ids:
                seq.request.num_cached_tokens = cached
            self.stats.cached_prompt_tokens += cached
            self.waiting.popleft()
            self.running.append(seq)
            scheduled.append(seq)
            budget -= len(new_tokens)
            seats -= seq.request.seats
        return scheduled, copies

    def finish(self, seqs: list[Seq]) -> None:
        """Take finished sequences out of the running batch and free their blocks."""
        gone = {id(s) for s in seqs}
        self.running = [s for s in self.running if id(s) not in gone]
        for s in seqs:
            s.table.free()

    def remove_request(self, request: Request) -> None:
        """Take every sequence of ``request`` out of the queue and the batch, freeing its blocks."""
        mine = {id(s) for s in request.seqs}
        self.running = [s for s in self.running if id(s) not in mine]
        self.waiting = deque(s for s in self.waiting if id(s) not in mine)
        for s in request.seqs:
            s.table.free()
