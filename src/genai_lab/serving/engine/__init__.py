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

    # or drive it yourself: requests may arrive between steps, and leave early
    request_id = engine.add_request(prompt_ids, SamplingParams(max_tokens=32, temperature=0.8, seed=1))
    while engine.has_unfinished_requests():
        for finished in engine.step():
            print(finished.request_id, finished.token_ids)
    engine.abort(other_id)        # frees its KV blocks; its output ends with finish_reason "abort"

The modules, after vLLM's layout:

==============  ===================================================================================
``params``      :class:`SamplingParams`, validated against the sampler's numerical limits
``outputs``     :class:`CompletionOutput`, :class:`RequestOutput`, :class:`EngineStats`
``request``     the engine's internal request and sequence state
``scheduler``   :class:`Scheduler`: decode slots, preemption by recomputation, admission by free blocks
``runner``      :class:`PagedLlama`: the batch's flat inputs and the forward pass over the paged cache
``sampler``     greedy / temperature / top-k / top-p sampling, vectorised over the batch
``core``        :class:`Engine`: add_request, step, abort, generate
``baselines``   :func:`hf_generate_sequential`, :func:`hf_generate_static`, :func:`left_pad_batch`
``summary``     :func:`summarize`, :func:`summary_table`
==============  ===================================================================================

What happens at every :meth:`Engine.step`: the scheduler reserves KV slots (preempting the newest
sequence when the pool runs dry, then admitting waiting requests); one forward pass runs over all
scheduled tokens -- the prompts of new sequences (prefill) and one token of every running sequence
(decode), flattened into one stream for the linear layers, with attention reading each sequence's
keys and values through its block table; one token is sampled per sequence, with one device-to-host
transfer for the whole batch; finished sequences leave at once and free their blocks. A request that
fails inside a step finishes alone, with ``RequestOutput.error`` set.

Parallel sampling (``SamplingParams(n=4)``) forks the sequence after its prompt: the children share
the prompt's blocks and copy a block only when they write into a shared one (copy-on-write).
"""

from __future__ import annotations

from genai_lab.serving.engine.baselines import hf_generate_sequential, hf_generate_static, left_pad_batch
from genai_lab.serving.engine.core import Engine
from genai_lab.serving.engine.outputs import CompletionOutput, EngineStats, RequestOutput
from genai_lab.serving.engine.params import MIN_TEMPERATURE, SamplingParams
from genai_lab.serving.engine.runner import AttentionGroup, PagedLlama, StepBatch, prepare_batch
from genai_lab.serving.engine.sampler import apply_top_k_top_p, sample
from genai_lab.serving.engine.scheduler import Scheduler
from genai_lab.serving.engine.summary import summarize, summary_table

__all__ = [
    "MIN_TEMPERATURE",
    "AttentionGroup",
    "CompletionOutput",
    "Engine",
    "EngineStats",
    "PagedLlama",
    "RequestOutput",
    "SamplingParams",
    "Scheduler",
    "StepBatch",
    "apply_top_k_top_p",
    "hf_generate_sequential",
    "hf_generate_static",
    "left_pad_batch",
    "prepare_batch",
    "sample",
    "summarize",
    "summary_table",
]
