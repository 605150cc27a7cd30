"""The engine: requests in, one scheduled forward pass and one sampled token per step, outputs out
(vLLM's ``LLMEngine`` / ``EngineCore`` loop). See :mod:`genai_lab.serving.engine` for the API."""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from genai_lab.numeric import cdiv
from genai_lab.serving.engine.outputs import CompletionOutput, EngineStats, RequestOutput
from genai_lab.serving.engine.params import SamplingParams
from genai_lab.serving.engine.request import Request, Seq
from genai_lab.serving.engine.runner import PagedLlama, prepare_batch
from genai_lab.serving.engine.sampler import sample
from genai_lab.serving.engine.scheduler import Scheduler
from genai_lab.serving.paged import BlockAllocator, BlockTable, check_block_size, token_ids

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    return value


class Engine:
    """Continuous batching over a paged KV cache.

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
        _positive_int("num_blocks", num_blocks)
        _positive_int("max_num_seqs", max_num_seqs)
        context = int(getattr(model.config, "max_position_embeddings", 2048))
        if max_model_len is None:
            max_model_len = min(context, num_blocks * block_size)
        if isinstance(max_model_len, bool) or not isinstance(max_model_len, int) or not 1 <= max_model_len <= context:
            raise ValueError(
                f"max_model_len must be an integer in [1, {context}] (the model's context length), "
                f"got {max_model_len!r}."
            )
        if max_num_batched_tokens is None:
            max_num_batched_tokens = max(2048, max_model_len)
        if _positive_int("max_num_batched_tokens", max_num_batched_tokens) < max_model_len:
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
        self.eos_token_ids: frozenset[int] = frozenset(eos if isinstance(eos, list) else [] if eos is None else [eos])
        self.stats = EngineStats()
        self.scheduler = Scheduler(
            self.allocator, max_num_seqs, max_num_batched_tokens, enable_prefix_caching, self.stats
        )
        self._request_ids = itertools.count()
        self._seq_ids = itertools.count()
        self._requests: dict[int, Request] = {}

    @property
    def running(self) -> list[Seq]:
        """The sequences in the running batch (each has ``.table``, its block table)."""
        return self.scheduler.running

    @property
    def waiting(self) -> Sequence[Seq]:
        """The sequences waiting for admission, first in line first."""
        return self.scheduler.waiting

    @property
    def num_free_blocks(self) -> int:
        return self.allocator.num_free

    def has_unfinished_requests(self) -> bool:
        return bool(self._requests)

    # -- requests --------------------------------------------------------------------------------
    def add_request(
        self,
        prompt_token_ids: Sequence[int],
        params: SamplingParams | None = None,
        arrival_time: float | None = None,
    ) -> int:
        """Queue a request and return its id. Raises ``ValueError``/``TypeError`` for a request that
        can never run: an empty or too long prompt, token ids that are not integers of the
        vocabulary, or more KV blocks than the pool holds."""
        import torch

        params = params or SamplingParams()
        if not isinstance(params, SamplingParams):
            raise TypeError(f"params must be a SamplingParams, got {type(params).__name__}.")
        prompt = token_ids(prompt_token_ids)
        if not prompt:
            raise ValueError("The prompt is empty; pass at least one token id.")
        if max(prompt) >= self.vocab_size:
            raise ValueError(
                f"Prompt token ids must lie in [0, {self.vocab_size}); tokenize with the model's tokenizer."
            )
        if len(prompt) > self.max_model_len:
            raise ValueError(
                f"The prompt has {len(prompt)} tokens, more than max_model_len={self.max_model_len}. "
                "Shorten the prompt or build the Engine with a larger max_model_len."
            )
        longest = min(len(prompt) + params.max_tokens, self.max_model_len)
        blocks = cdiv(longest, self.block_size)
        if blocks > self.num_blocks:
            raise ValueError(
                f"The request may grow to {longest} tokens = {blocks} KV blocks, but the pool holds "
                f"{self.num_blocks}. Lower max_tokens or build the Engine with more num_blocks."
            )
        if params.n > self.max_num_seqs:
            raise ValueError(f"n={params.n} exceeds max_num_seqs={self.max_num_seqs}; raise max_num_seqs.")
        request_id = next(self._request_ids)
        generator = torch.Generator(device=self.runner.device)
        generator.manual_seed(params.seed if params.seed is not None else request_id)
        arrival = time.perf_counter() if arrival_time is None else arrival_time
        request = Request(request_id, prompt, params, arrival, generator)
        seq = Seq(next(self._seq_ids), request, 0, list(prompt), BlockTable(self.allocator))
        request.seqs.append(seq)
        self._requests[request_id] = request
        self.scheduler.add(seq)
        return request_id

    def abort(self, request_id: int) -> RequestOutput:
        """Stop a queued or running request now: its blocks go back to the pool and its output (the
        tokens so far, ``finish_reason="abort"``) is returned. Unknown or finished ids raise
        ``KeyError``."""
        request = self._requests.pop(request_id, None)
        if request is None:
            raise KeyError(f"No unfinished request {request_id!r}; it finished already or was never added.")
        self.scheduler.remove_request(request)
        for s in request.seqs:
            s.finish_reason = s.finish_reason or "abort"
        self.stats.aborted_requests += 1
        return self._output(request, time.perf_counter())

    # -- one step --------------------------------------------------------------------------------
    def step(self) -> list[RequestOutput]:
        """Schedule, run one forward pass, sample; returns the requests that finished (a request
        that fails inside the step finishes alone, with ``error`` set)."""
        import torch

        scheduled, copies = self.scheduler.schedule()
        if not scheduled:
            return []
        self.stats.steps += 1
        self.stats.cow_copies += len(copies)
        self.stats.peak_blocks_used = max(self.stats.peak_blocks_used, self.allocator.num_used)
        self.runner.copy_blocks(copies)
        for seq in scheduled:
            if seq.num_new_tokens == 1:
                self.stats.decode_tokens += 1
            else:
                self.stats.prefill_tokens += seq.num_new_tokens
        logits, errors = self._execute(scheduled)
        # One row per scheduled sequence, plus one per extra child of a request forking now
        # (parallel sampling): the children draw their first token from their parent's logits.
        rows = list(range(len(scheduled)))
        for i, seq in enumerate(scheduled):
            if i not in errors and seq.request.params.n > 1 and not seq.request.forked:
                rows += [i] * (seq.request.params.n - 1)
        seqs = [scheduled[r] for r in rows]
        tokens: list[int] = []
        try:
            token_t, ok_t = sample(
                logits[rows] if len(rows) > len(scheduled) else logits,
                [s.request.params for s in seqs],
                [s.request.generator for s in seqs],
            )
            tokens, flags = torch.stack([token_t, ok_t.long()]).tolist()  # the step's one host transfer
            ok = [bool(f) for f in flags]
        except Exception as err:  # noqa: BLE001 - a sampling failure fails the step's requests, not the engine
            message = f"sampling failed: {type(err).__name__}: {err}"
            errors.update({i: errors.get(i, message) for i in range(len(scheduled))})
            tokens, ok = [0] * len(rows), [False] * len(rows)
        for j, i in enumerate(rows):
            if i not in errors and not ok[j]:
                errors[i] = "the model produced non-finite logits (inf or NaN) for this request"
        return self._process(scheduled, rows, tokens, errors, time.perf_counter())

    def _forward(self, seqs: list[Seq]) -> torch.Tensor:
        import torch

        batch = prepare_batch(
            [s.token_ids[s.num_computed :] for s in seqs],
            [s.num_computed for s in seqs],
            [s.table.block_ids for s in seqs],
            self.block_size,
            self.runner.device,
            self.runner.kv_cache.dtype,
        )
        with torch.inference_mode():
            return self.runner.forward(batch)

    def _execute(self, scheduled: list[Seq]) -> tuple[torch.Tensor, dict[int, str]]:
        """The batch's logits; if the batched pass raises, each sequence runs alone so that only the
        ones that fail again are marked (their rows are NaN, their errors keyed by position)."""
        import torch

        try:
            return self._forward(scheduled), {}
        except Exception:  # noqa: BLE001 - isolate the failing request(s) below
            pass
        rows: list[torch.Tensor | None] = []
        errors: dict[int, str] = {}
        for i, seq in enumerate(scheduled):
            try:
                rows.append(self._forward([seq])[0])
            except Exception as err:  # noqa: BLE001
                rows.append(None)
                errors[i] = f"forward pass failed: {type(err).__name__}: {err}"
        good = next((r for r in rows if r is not None), None)
        width = self.vocab_size if good is None else good.shape[-1]
        nan = torch.full((width,), float("nan"), device=self.runner.device)
        return torch.stack([nan if r is None else r for r in rows]), errors

    def _process(
        self, scheduled: list[Seq], rows: list[int], tokens: list[int], errors: dict[int, str], now: float
    ) -> list[RequestOutput]:
        failed: dict[int, Request] = {}
        # the first tokens of the children of each forking sequence, in row order (see step)
        children: dict[int, list[int]] = {}
        for r, token in zip(rows[len(scheduled) :], tokens[len(scheduled) :], strict=True):
            children.setdefault(r, []).append(token)
        for i, seq in enumerate(scheduled):
            request = seq.request
            if i in errors:
                request.error = request.error or errors[i]
                failed[request.request_id] = request
                continue
            seq.num_computed = len(seq.token_ids)
            if self.scheduler.enable_prefix_caching:
                seq.table.seal(seq.num_computed)
            group = [seq]
            if request.params.n > 1 and not request.forked:  # parallel sampling: fork after the prompt
                request.forked = True
                for index in range(1, request.params.n):
                    child = Seq(
                        next(self._seq_ids), request, index, list(seq.token_ids), seq.table.fork(), seq.num_computed
                    )
                    request.seqs.append(child)
                    self.scheduler.running.append(child)
                    group.append(child)
            for s in group:
                token = tokens[i] if s is seq else children[i][s.index - 1]
                s.token_ids.append(token)
                s.finish_reason = self._finish_reason(s, token)
            if request.first_token_time is None:
                request.first_token_time = now
        finished: list[RequestOutput] = []
        for request in failed.values():
            self.scheduler.remove_request(request)
            for s in request.seqs:
                s.finish_reason = "error"
            self.stats.failed_requests += 1
            del self._requests[request.request_id]
            finished.append(self._output(request, now))
        done = [s for s in self.scheduler.running if s.finish_reason is not None]
        if done:
            self.scheduler.finish(done)
            for request in {s.request.request_id: s.request for s in done}.values():
                if all(s.finish_reason is not None for s in request.seqs):
                    finished.append(self._output(request, now))
                    del self._requests[request.request_id]
        return finished

    def _finish_reason(self, seq: Seq, token: int) -> str | None:
        params = seq.request.params
        if token in params.stop_token_ids or (token in self.eos_token_ids and not params.ignore_eos):
            return "stop"
        if seq.num_output_tokens >= params.max_tokens or len(seq.token_ids) >= self.max_model_len:
            return "length"
        return None

    def _output(self, request: Request, now: float) -> RequestOutput:
        completions = []
        for s in sorted(request.seqs, key=lambda s: s.index):
            text = str(self.tokenizer.decode(s.output_ids, skip_special_tokens=True)) if self.tokenizer else None
            completions.append(CompletionOutput(s.index, list(s.output_ids), s.finish_reason, text))
        first = request.first_token_time if request.first_token_time is not None else now
        return RequestOutput(
            request.request_id, list(request.prompt), completions, request.arrival_time, first, now,
            request.num_cached_tokens, request.num_preemptions, request.error,
        )  # fmt: skip

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
                raise ValueError(f"Got {len(params_list)} SamplingParams for {len(prompts)} prompts.")
        arrival = time.perf_counter()
        ids = [self.add_request(p, sp, arrival_time=arrival) for p, sp in zip(prompts, params_list, strict=True)]
        results: dict[int, RequestOutput] = {}
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(ids), desc="engine")
        while len(results) < len(ids) and self.has_unfinished_requests():
            for out in self.step():
                results[out.request_id] = out
                if bar is not None:
                    bar.update(1)
        if bar is not None:
            bar.close()
        return [results[i] for i in ids]
