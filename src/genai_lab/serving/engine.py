"""A small continuous-batching engine with a paged KV cache, driving a real Llama-style model.

It is vLLM's core in a few hundred lines: the weights and modules come from a ``transformers``
``LlamaForCausalLM`` (SmolLM2, or :func:`genai_lab.models.tiny_llama` in tests), and the forward
pass is written here so that keys and values go to, and come from, the paged cache.

API::

    from genai_lab.serving.engine import Engine, SamplingParams

    engine = Engine(model, tokenizer, num_blocks=1024, block_size=16, max_num_seqs=32,
                    max_model_len=2048)
    outputs = engine.generate([prompt_ids_1, prompt_ids_2], SamplingParams(max_tokens=64))
    outputs[0].token_ids          # generated token ids (outputs[0].outputs[i] for n > 1)
    outputs[0].ttft, outputs[0].latency   # seconds; arrival_time, first_token_time, finish_time

    # or drive it yourself: requests may arrive between steps
    request_id = engine.add_request(prompt_ids, SamplingParams(max_tokens=32, temperature=0.8, seed=1))
    while engine.has_unfinished_requests():
        for finished in engine.step():
            print(finished.request_id, finished.token_ids)

What happens at every :meth:`Engine.step` (the scheduler):

1. every running sequence needs a slot for its newest token; when the block pool cannot supply one,
   the most recently admitted sequence is *preempted*: its blocks are freed and it goes back to
   the head of the queue, to be recomputed later (prompt + what it generated so far) -- nothing
   is lost, and greedy outputs are unchanged;
2. if nothing was preempted, waiting requests are admitted first-come first-served while there are
   seats (``max_num_seqs``), free blocks for their prompt, and room in the step's token budget
   (``max_num_batched_tokens``); with prefix caching, cached full blocks of the prompt are reused
   and only the rest is computed;
3. one forward pass over all scheduled tokens: the prompts of new sequences (prefill) and one token
   of every running sequence (decode), flattened into one stream for the linear layers; attention
   reads each sequence's keys and values through its block table
   (:func:`genai_lab.serving.paged_attention.paged_attention`);
4. one token is sampled per sequence; finished sequences leave at once and free their blocks, so
   waiting requests can join at the next step.

Parallel sampling (``SamplingParams(n=4)``) forks the sequence after its prompt: the children share
the prompt's blocks and copy a block only when they write into a shared one (copy-on-write).

The module also holds the two baselines the benchmark compares against:
:func:`hf_generate_sequential` (one request at a time) and :func:`hf_generate_static` (static batches,
padded, each batch running as long as its longest request), both with ``transformers`` ``generate``.
"""

from __future__ import annotations

import itertools
import math
import time
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from genai_lab.serving.paged import BlockAllocator, BlockTable, check_block_size

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase


# ---------------------------------------------------------------------------------------------
# Requests and outputs
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SamplingParams:
    """How to decode one request (a subset of vLLM's ``SamplingParams``).

    ``temperature=0`` is greedy decoding; otherwise tokens are drawn from the softmax of
    ``logits / temperature``, restricted to the ``top_k`` most likely tokens (0: all) and to the
    smallest set whose probability reaches ``top_p``. ``n`` completions share the prompt's KV blocks.
    ``ignore_eos`` keeps generating past the end-of-sequence token (benchmarks use it to fix output
    lengths).
    """

    max_tokens: int = 16
    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0
    n: int = 1
    seed: int | None = None
    ignore_eos: bool = False
    stop_token_ids: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        def is_int(x: Any) -> bool:
            return isinstance(x, int) and not isinstance(x, bool)

        if not is_int(self.max_tokens) or self.max_tokens < 1:
            raise ValueError(f"max_tokens must be an integer >= 1, got {self.max_tokens!r}.")
        if (
            not isinstance(self.temperature, int | float)
            or not math.isfinite(self.temperature)
            or self.temperature < 0
        ):
            raise ValueError(
                f"temperature must be a finite number >= 0 (0 means greedy), got {self.temperature!r}."
            )
        if not isinstance(self.top_p, int | float) or not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p!r}; use 1.0 to disable it.")
        if not is_int(self.top_k) or self.top_k < 0:
            raise ValueError(
                f"top_k must be an integer >= 0, got {self.top_k!r}; use 0 to disable it."
            )
        if not is_int(self.n) or self.n < 1:
            raise ValueError(f"n (completions per prompt) must be an integer >= 1, got {self.n!r}.")
        if self.seed is not None and not is_int(self.seed):
            raise ValueError(f"seed must be an integer or None, got {self.seed!r}.")
        if not all(is_int(t) and t >= 0 for t in self.stop_token_ids):
            raise ValueError(
                f"stop_token_ids must be non-negative integers, got {self.stop_token_ids!r}."
            )


@dataclass
class CompletionOutput:
    """One completion of a request."""

    index: int
    token_ids: list[int]
    finish_reason: str | None  # "stop" (EOS or a stop token), "length", or None while running
    text: str | None = None


@dataclass
class RequestOutput:
    """A finished request: its completions and timings (``time.perf_counter`` seconds)."""

    request_id: int
    prompt_token_ids: list[int]
    outputs: list[CompletionOutput]
    arrival_time: float
    first_token_time: float
    finish_time: float
    num_cached_tokens: int = 0
    num_preemptions: int = 0

    @property
    def token_ids(self) -> list[int]:
        """The first completion's token ids."""
        return self.outputs[0].token_ids

    @property
    def ttft(self) -> float:
        """Time to first token."""
        return self.first_token_time - self.arrival_time

    @property
    def latency(self) -> float:
        """Arrival to last token."""
        return self.finish_time - self.arrival_time


@dataclass
class _Request:
    request_id: int
    prompt: list[int]
    params: SamplingParams
    arrival_time: float
    generator: Any
    seqs: list[_Sequence] = field(default_factory=list)
    forked: bool = False
    first_token_time: float | None = None
    num_cached_tokens: int = 0
    num_preemptions: int = 0


@dataclass(eq=False)
class _Sequence:
    seq_id: int
    request: _Request
    index: int  # which completion of its request
    token_ids: list[int]  # prompt + generated
    table: BlockTable
    num_computed: int = 0  # tokens whose K/V are in the cache
    finish_reason: str | None = None

    @property
    def output_ids(self) -> list[int]:
        return self.token_ids[len(self.request.prompt) :]


@dataclass
class EngineStats:
    """Counters since the engine was built."""

    steps: int = 0
    prefill_tokens: int = 0  # prompt tokens computed (recomputation included)
    cached_prompt_tokens: int = 0  # prompt tokens skipped thanks to the prefix cache
    decode_tokens: int = 0
    preemptions: int = 0
    cow_copies: int = 0
    peak_blocks_used: int = 0


# ---------------------------------------------------------------------------------------------
# The model with a paged KV cache
# ---------------------------------------------------------------------------------------------
@dataclass
class AttentionGroup:
    """Sequences whose attention runs as one padded batch.

    ``rows[b, i]`` is the position in the flat token stream of sequence ``b``'s ``i``-th new token
    (padding where ``valid`` is False); the rest is :func:`paged_attention`'s arguments.
    """

    rows: torch.Tensor  # [n_seqs, q_len] long
    valid: torch.Tensor  # [n_seqs, q_len] bool
    block_tables: torch.Tensor  # [n_seqs, max_blocks] long
    context_lens: torch.Tensor  # [n_seqs] long
    query_lens: torch.Tensor  # [n_seqs] long

    @classmethod
    def build(
        cls,
        starts: list[int],
        query_lens: list[int],
        tables: list[list[int]],
        context_lens: list[int],
    ) -> AttentionGroup:
        import torch

        q_len = max(query_lens)
        width = max(len(t) for t in tables)
        idx = torch.arange(q_len)
        lens = torch.tensor(query_lens)
        valid = idx[None, :] < lens[:, None]
        rows = torch.where(valid, torch.tensor(starts)[:, None] + idx[None, :], 0)
        padded = torch.tensor([t + [0] * (width - len(t)) for t in tables], dtype=torch.long)
        return cls(rows, valid, padded, torch.tensor(context_lens), lens)


# ---------------------------------------------------------------------------------------------
# ---------------------------------------------------------------------------------------------
class PagedLlama:
    """The forward pass of a ``LlamaForCausalLM`` written against a paged KV cache.

    The cache is one tensor ``[layers, 2 (K, V), num_blocks, block_size, kv_heads, head_dim]``.
    :meth:`forward` takes a flat stream of tokens from several sequences, writes each token's K and
    V to its slot, and runs attention per group (all decoding sequences at once; each prefill alone).
    """

    def __init__(self, model: PreTrainedModel, num_blocks: int, block_size: int) -> None:
        import torch

        inner = getattr(model, "model", None)
        needed = ("embed_tokens", "layers", "norm", "rotary_emb")
        if (
            inner is None
            or not all(hasattr(inner, a) for a in needed)
            or not hasattr(model, "lm_head")
        ):
            raise TypeError(
                f"{type(model).__name__} is not a Llama-style causal LM (model.model.embed_tokens, "
                ".layers, .norm, .rotary_emb and model.lm_head); load it with AutoModelForCausalLM."
            )
        cfg = model.config
        self.model = model
        self.config = cfg
        self.num_heads = cfg.num_attention_heads
        self.num_kv_heads = getattr(cfg, "num_key_value_heads", None) or self.num_heads
        self.head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // self.num_heads
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

    def forward(
        self,
        input_ids: torch.Tensor,
        positions: torch.Tensor,
        slot_mapping: torch.Tensor,
        groups: list[AttentionGroup],
        logits_rows: torch.Tensor,
    ) -> torch.Tensor:
        """Logits ``[len(logits_rows), vocab]`` for a flat batch of ``T`` tokens.

        Args:
            input_ids, positions, slot_mapping: ``[T]`` token ids, positions in their sequence and
                cache slots (``block_id * block_size + offset``).
            groups: sequences whose attention runs as one padded batch (the decoding ones, with one
                query each; the prefilling ones, with several).
            logits_rows: which of the ``T`` positions need logits (each sequence's last token).
        """
        from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

        from genai_lab.serving.paged_attention import paged_attention

        inner = self.model.model
        n_tokens = input_ids.shape[0]
        hidden = inner.embed_tokens(input_ids)[None]  # [1, T, hidden]
        cos, sin = inner.rotary_emb(hidden, positions[None])
        scale = self.head_dim**-0.5
        for layer_idx, layer in enumerate(inner.layers):
            attn = layer.self_attn
            x = layer.input_layernorm(hidden)
            q = attn.q_proj(x).view(1, n_tokens, self.num_heads, self.head_dim).transpose(1, 2)
            k = attn.k_proj(x).view(1, n_tokens, self.num_kv_heads, self.head_dim).transpose(1, 2)
            v = attn.v_proj(x).view(1, n_tokens, self.num_kv_heads, self.head_dim)
            q, k = apply_rotary_pos_emb(q, k, cos, sin)
            q = q[0]  # [heads, T, d]
            k_cache, v_cache = self.kv_cache[layer_idx, 0], self.kv_cache[layer_idx, 1]
            flat_shape = (-1, self.num_kv_heads, self.head_dim)
            k_cache.view(flat_shape)[slot_mapping] = k[0].transpose(0, 1)
            v_cache.view(flat_shape)[slot_mapping] = v[0]

            out = q.new_empty(self.num_heads, n_tokens, self.head_dim)
            for g in groups:
                qg = q[:, g.rows].transpose(0, 1)  # [n_seqs, heads, q_len, d]
                o = paged_attention(
                    qg, k_cache, v_cache, g.block_tables, g.context_lens, g.query_lens, scale
                )
                out[:, g.rows[g.valid]] = o.transpose(0, 1)[:, g.valid]
            attn_out = attn.o_proj(out.transpose(0, 1).reshape(1, n_tokens, -1))
            hidden = hidden + attn_out
            hidden = hidden + layer.mlp(layer.post_attention_layernorm(hidden))
        last = inner.norm(hidden[0, logits_rows])
        return self.model.lm_head(last).float()


# ---------------------------------------------------------------------------------------------
# The engine
# ---------------------------------------------------------------------------------------------
class Engine:
    """Continuous batching over a paged KV cache (see the module docstring for the API).

    Args:
        model: a ``LlamaForCausalLM`` (its weights and modules are used as they are).
        tokenizer: optional; supplies the EOS token and decodes ``CompletionOutput.text``.
        num_blocks: physical KV blocks in the pool (memory = num_blocks x block_size x bytes/token).
        block_size: token slots per block, a power of two.
        max_num_seqs: most sequences running at once (the decode batch size).
        max_model_len: longest prompt + output; default the model's context or the pool, if smaller.
        max_num_batched_tokens: most tokens in one forward pass (bounds prefill work per step).
        enable_prefix_caching: reuse cached full blocks of prompts seen before.
    """

    def __init__(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase | None = None,
        num_blocks: int = 512,
        block_size: int = 16,
        max_num_seqs: int = 32,
        max_model_len: int | None = None,
        max_num_batched_tokens: int | None = None,
        enable_prefix_caching: bool = True,
    ) -> None:
        check_block_size(block_size)
        if isinstance(num_blocks, bool) or not isinstance(num_blocks, int) or num_blocks < 1:
            raise ValueError(f"num_blocks must be a positive integer, got {num_blocks!r}.")
        if isinstance(max_num_seqs, bool) or not isinstance(max_num_seqs, int) or max_num_seqs < 1:
            raise ValueError(f"max_num_seqs must be a positive integer, got {max_num_seqs!r}.")
        context = int(getattr(model.config, "max_position_embeddings", 2048))
        if max_model_len is None:
            max_model_len = min(context, num_blocks * block_size)
        if not isinstance(max_model_len, int) or not 1 <= max_model_len <= context:
            raise ValueError(
                f"max_model_len must be an integer in [1, {context}] (the model's context length), "
                f"got {max_model_len!r}."
            )
        if max_num_batched_tokens is None:
            max_num_batched_tokens = max(2048, max_model_len)
        if max_num_batched_tokens < max_model_len:
            raise ValueError(
                f"max_num_batched_tokens ({max_num_batched_tokens}) must be >= max_model_len "
                f"({max_model_len}) so that any prompt fits in one step."
            )
        self.runner = PagedLlama(model, num_blocks, block_size)
        self.tokenizer = tokenizer
        self.block_size = block_size
        self.num_blocks = num_blocks
        self.max_num_seqs = max_num_seqs
        self.max_model_len = max_model_len
        self.max_num_batched_tokens = max_num_batched_tokens
        self.enable_prefix_caching = enable_prefix_caching
        self.allocator = BlockAllocator(num_blocks, block_size)
        self.vocab_size = int(model.config.vocab_size)
        eos = model.config.eos_token_id if tokenizer is None else tokenizer.eos_token_id
        self.eos_token_ids: set[int] = set(
            eos if isinstance(eos, list) else [] if eos is None else [eos]
        )
        self.waiting: deque[_Sequence] = deque()
        self.running: list[_Sequence] = []
        self.stats = EngineStats()
        self._request_ids = itertools.count()
        self._seq_ids = itertools.count()
        self._requests: dict[int, _Request] = {}

    # -- requests --------------------------------------------------------------------------------
    def add_request(
        self,
        prompt_token_ids: Sequence[int],
        params: SamplingParams | None = None,
        arrival_time: float | None = None,
    ) -> int:
        """Queue a request and return its id. Raises ``ValueError`` for a request that can never
        run: an empty or too long prompt, unknown token ids, or more KV blocks than the pool holds."""
        import torch

        params = params or SamplingParams()
        if not isinstance(params, SamplingParams):
            raise TypeError(f"params must be a SamplingParams, got {type(params).__name__}.")
        prompt = [int(t) for t in prompt_token_ids]
        if not prompt:
            raise ValueError("The prompt is empty; pass at least one token id.")
        if min(prompt) < 0 or max(prompt) >= self.vocab_size:
            raise ValueError(
                f"Prompt token ids must lie in [0, {self.vocab_size}); tokenize with the model's tokenizer."
            )
        if len(prompt) > self.max_model_len:
            raise ValueError(
                f"The prompt has {len(prompt)} tokens, more than max_model_len={self.max_model_len}. "
                "Shorten the prompt or build the Engine with a larger max_model_len."
            )
        longest = min(len(prompt) + params.max_tokens, self.max_model_len)
        blocks = -(-longest // self.block_size)
        if blocks > self.num_blocks:
            raise ValueError(
                f"The request may grow to {longest} tokens = {blocks} KV blocks, but the pool holds "
                f"{self.num_blocks}. Lower max_tokens or build the Engine with more num_blocks."
            )
        if params.n > self.max_num_seqs:
            raise ValueError(
                f"n={params.n} exceeds max_num_seqs={self.max_num_seqs}; raise max_num_seqs."
            )
        request_id = next(self._request_ids)
        generator = torch.Generator(device="cpu")
        generator.manual_seed(params.seed if params.seed is not None else request_id)
        request = _Request(
            request_id,
            prompt,
            params,
            time.perf_counter() if arrival_time is None else arrival_time,
            generator,
        )
        seq = _Sequence(next(self._seq_ids), request, 0, list(prompt), BlockTable(self.allocator))
        request.seqs.append(seq)
        self._requests[request_id] = request
        self.waiting.append(seq)
        return request_id

    def has_unfinished_requests(self) -> bool:
        return bool(self._requests)

    @property
    def num_free_blocks(self) -> int:
        return self.allocator.num_free

    # -- scheduling ------------------------------------------------------------------------------
    def _preempt(self, seq: _Sequence) -> None:
        """Preemption by recomputation: drop the sequence's KV and queue it at the front."""
        seq.table.free()
        seq.num_computed = 0
        seq.request.num_preemptions += 1
        self.stats.preemptions += 1
        self.waiting.appendleft(seq)

    def _seats(self, seq: _Sequence) -> int:
        request = seq.request
        return request.params.n if (request.params.n > 1 and not request.forked) else 1

    def schedule(self) -> tuple[list[_Sequence], list[tuple[int, int]]]:
        """Decide this step's sequences and reserve their slots; returns them and the block copies.

        Running sequences first (oldest first; the newest is preempted when blocks run out), then,
        if nobody was preempted, waiting ones first-come first-served.
        """
        scheduled: list[_Sequence] = []
        copies: list[tuple[int, int]] = []
        queue = list(self.running)
        kept: list[_Sequence] = []
        preempted = False
        while queue:
            seq = queue.pop(0)
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
                kept.append(seq)
        self.running = kept

        budget = self.max_num_batched_tokens - len(scheduled)
        seats = self.max_num_seqs - len(self.running)
        while self.waiting and not preempted:
            seq = self.waiting[0]
            if self._seats(seq) > seats:
                break
            cached = seq.table.reuse_prefix(seq.token_ids) if self.enable_prefix_caching else 0
            new_tokens = seq.token_ids[cached:]
            if (
                len(new_tokens) > budget
                or seq.table.blocks_needed(len(new_tokens)) > self.allocator.num_free
            ):
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
            seats -= self._seats(seq)
        return scheduled, copies

    # -- one step --------------------------------------------------------------------------------
    def step(self) -> list[RequestOutput]:
        """Schedule, run one forward pass, sample; returns the requests that finished."""
        import torch

        scheduled, copies = self.schedule()
        if not scheduled:
            return []
        self.stats.steps += 1
        self.stats.cow_copies += len(copies)
        self.stats.peak_blocks_used = max(self.stats.peak_blocks_used, self.allocator.num_used)
        self.runner.copy_blocks(copies)

        ids: list[int] = []
        positions: list[int] = []
        slots: list[int] = []
        logits_rows: list[int] = []
        decode: tuple[list, list, list, list] = (
            [],
            [],
            [],
            [],
        )  # starts, query lens, tables, contexts
        prefill: tuple[list, list, list, list] = ([], [], [], [])
        for seq in scheduled:
            start, stop = seq.num_computed, len(seq.token_ids)
            group = decode if stop - start == 1 else prefill
            for column, value in zip(
                group, (len(ids), stop - start, seq.table.block_ids, stop), strict=True
            ):
                column.append(value)
            ids += seq.token_ids[start:stop]
            positions += range(start, stop)
            slots += seq.table.slots(start, stop)
            logits_rows.append(len(ids) - 1)
        self.stats.decode_tokens += len(decode[0])
        self.stats.prefill_tokens += sum(prefill[1])
        groups = [AttentionGroup.build(*g) for g in (decode, prefill) if g[0]]
        with torch.inference_mode():
            logits = self.runner.forward(
                torch.tensor(ids),
                torch.tensor(positions),
                torch.tensor(slots),
                groups,
                torch.tensor(logits_rows),
            )
        now = time.perf_counter()
        return self._process(scheduled, logits, now)

    def _process(
        self, scheduled: list[_Sequence], logits: torch.Tensor, now: float
    ) -> list[RequestOutput]:
        greedy = logits.argmax(dim=-1).tolist()
        finished_requests: list[RequestOutput] = []
        for i, seq in enumerate(scheduled):
            request = seq.request
            seq.num_computed = len(seq.token_ids)
            if self.enable_prefix_caching:
                seq.table.seal(seq.num_computed)
            group = [seq]
            if (
                request.params.n > 1 and not request.forked
            ):  # parallel sampling: fork after the prompt
                request.forked = True
                for index in range(1, request.params.n):
                    child = _Sequence(
                        next(self._seq_ids),
                        request,
                        index,
                        list(seq.token_ids),
                        seq.table.fork(),
                        seq.num_computed,
                    )
                    request.seqs.append(child)
                    self.running.append(child)
                    group.append(child)
            for s in group:
                token = (
                    greedy[i]
                    if request.params.temperature == 0
                    else self._sample(logits[i], request)
                )
                s.token_ids.append(token)
                s.finish_reason = self._finish_reason(s, token)
            if request.first_token_time is None:
                request.first_token_time = now
        done = [s for s in self.running if s.finish_reason is not None]
        if done:
            self.running = [s for s in self.running if s.finish_reason is None]
            for s in done:
                s.table.free()
            for request in {s.request.request_id: s.request for s in done}.values():
                if all(s.finish_reason is not None for s in request.seqs):
                    finished_requests.append(self._output(request, now))
                    del self._requests[request.request_id]
        return finished_requests

    def _finish_reason(self, seq: _Sequence, token: int) -> str | None:
        params = seq.request.params
        if token in params.stop_token_ids or (
            token in self.eos_token_ids and not params.ignore_eos
        ):
            return "stop"
        if len(seq.output_ids) >= params.max_tokens or len(seq.token_ids) >= self.max_model_len:
            return "length"
        return None

    def _sample(self, logits: torch.Tensor, request: _Request) -> int:
        import torch

        params = request.params
        logits = logits / params.temperature
        if params.top_k:
            kth = torch.topk(logits, min(params.top_k, logits.shape[-1])).values[-1]
            logits = logits.masked_fill(logits < kth, float("-inf"))
        probs = torch.softmax(logits, dim=-1)
        if params.top_p < 1.0:
            sorted_probs, order = torch.sort(probs, descending=True)
            keep = torch.cumsum(sorted_probs, dim=-1) - sorted_probs < params.top_p
            probs = torch.zeros_like(probs).scatter(0, order[keep], sorted_probs[keep])
        return int(torch.multinomial(probs, 1, generator=request.generator))

    def _output(self, request: _Request, now: float) -> RequestOutput:
        completions = []
        for s in sorted(request.seqs, key=lambda s: s.index):
            text = (
                self.tokenizer.decode(s.output_ids, skip_special_tokens=True)
                if self.tokenizer
                else None
            )
            completions.append(CompletionOutput(s.index, list(s.output_ids), s.finish_reason, text))
        return RequestOutput(
            request.request_id,
            list(request.prompt),
            completions,
            request.arrival_time,
            request.first_token_time if request.first_token_time is not None else now,
            now,
            request.num_cached_tokens,
            request.num_preemptions,
        )

    # -- offline batch ---------------------------------------------------------------------------
    def generate(
        self,
        prompts: Sequence[Sequence[int]],
        params: SamplingParams | Sequence[SamplingParams] | None = None,
        progress: bool = False,
    ) -> list[RequestOutput]:
        """Run every prompt to completion (all arrive now) and return outputs in prompt order."""
        if params is None or isinstance(params, SamplingParams):
            params_list = [params or SamplingParams()] * len(prompts)
        else:
            params_list = list(params)
            if len(params_list) != len(prompts):
                raise ValueError(
                    f"Got {len(params_list)} SamplingParams for {len(prompts)} prompts."
                )
        arrival = time.perf_counter()
        ids = [
            self.add_request(p, sp, arrival_time=arrival)
            for p, sp in zip(prompts, params_list, strict=True)
        ]
        results: dict[int, RequestOutput] = {}
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(ids), desc="engine")
        while len(results) < len(ids):
            for out in self.step():
                results[out.request_id] = out
                if bar is not None:
                    bar.update(1)
        if bar is not None:
            bar.close()
        return [results[i] for i in ids]


# ---------------------------------------------------------------------------------------------
# Baselines for the benchmark: transformers generate, one at a time and in static batches
# ---------------------------------------------------------------------------------------------
def _timing_criteria(batch: int, stamps: list[float]) -> Any:
    """A stopping criterion that never stops but timestamps every decoding step."""
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList

    class _Stamp(StoppingCriteria):
        def __call__(
            self, input_ids: torch.Tensor, scores: torch.Tensor, **kwargs: Any
        ) -> torch.Tensor:
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
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}.")
    outputs: list[RequestOutput] = []
    arrival = time.perf_counter()
    starts = range(0, len(prompts), batch_size)
    if progress:
        from tqdm.auto import tqdm

        starts = tqdm(starts, desc=f"generate (batch {batch_size})")
    for start in starts:
        batch = [list(p) for p in prompts[start : start + batch_size]]
        wants = list(max_tokens[start : start + batch_size])
        width = max(len(p) for p in batch)
        input_ids = torch.tensor([[pad_token_id] * (width - len(p)) + p for p in batch])
        mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in batch])
        longest = max(wants)
        stamps: list[float] = []
        with torch.inference_mode():
            out = model.generate(
                input_ids=input_ids.to(model.device),
                attention_mask=mask.to(model.device),
                max_new_tokens=longest,
                min_new_tokens=longest,
                do_sample=False,
                pad_token_id=pad_token_id,
                stopping_criteria=_timing_criteria(len(batch), stamps),
            )
        finish = time.perf_counter()
        first = stamps[0] if stamps else finish
        for i, (p, want) in enumerate(zip(batch, wants, strict=True)):
            tokens = out[i, width : width + want].tolist()
            outputs.append(
                RequestOutput(
                    start + i, p, [CompletionOutput(0, tokens, "length")], arrival, first, finish
                )
            )
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


def summarize(outputs: Sequence[RequestOutput]) -> dict[str, float]:
    """Throughput and latency figures of a finished run (all requests arriving together)."""
    import numpy as np

    start = min(o.arrival_time for o in outputs)
    end = max(o.finish_time for o in outputs)
    tokens = sum(len(c.token_ids) for o in outputs for c in o.outputs)
    latency = np.array([o.latency for o in outputs])
    ttft = np.array([o.ttft for o in outputs])
    return {
        "requests": len(outputs),
        "output_tokens": tokens,
        "seconds": end - start,
        "tok_s": tokens / (end - start),
        "latency_mean_s": float(latency.mean()),
        "latency_p50_s": float(np.percentile(latency, 50)),
        "latency_p99_s": float(np.percentile(latency, 99)),
        "ttft_mean_s": float(ttft.mean()),
        "ttft_p50_s": float(np.percentile(ttft, 50)),
    }
