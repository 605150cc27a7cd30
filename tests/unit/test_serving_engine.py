"""The continuous-batching engine: token-exact against transformers generate, on a tiny model."""

from __future__ import annotations

import pytest
import torch

from genai_lab.serving.engine import Engine, SamplingParams, hf_generate_static, summarize

MAX_TOKENS = 12


@pytest.fixture(scope="module")
def model(varied_tiny_llama):
    return varied_tiny_llama  # tests/unit/conftest.py


@pytest.fixture(scope="module")
def prompts():
    g = torch.Generator().manual_seed(0)
    lengths = torch.randint(1, 25, (10,), generator=g).tolist()
    return [torch.randint(3, 128, (n,), generator=g).tolist() for n in lengths]


@pytest.fixture(scope="module")
def reference(model, prompts):
    out = []
    for p in prompts:
        ids = model.generate(
            torch.tensor([p]), max_new_tokens=MAX_TOKENS, do_sample=False, pad_token_id=2
        )
        out.append(ids[0, len(p) :].tolist())
    return out


@pytest.mark.parametrize(
    ("num_blocks", "block_size", "max_num_seqs"),
    [
        (64, 16, 4),  # plenty of memory
        (40, 4, 10),  # everybody at once
        (9, 4, 5),  # a tight pool: sequences are preempted and recomputed
        (40, 1, 3),
    ],
)
def test_greedy_outputs_equal_generate(
    model, prompts, reference, num_blocks, block_size, max_num_seqs
):
    engine = Engine(
        model,
        num_blocks=num_blocks,
        block_size=block_size,
        max_num_seqs=max_num_seqs,
        max_model_len=36,
    )
    outs = engine.generate(prompts, SamplingParams(max_tokens=MAX_TOKENS))
    assert [o.token_ids for o in outs] == reference
    assert engine.allocator.num_free == num_blocks  # every block came back
    engine.allocator.check_invariants()
    if num_blocks == 9:
        assert engine.stats.preemptions > 0
        assert sum(o.num_preemptions for o in outs) == engine.stats.preemptions
    for o in outs:
        assert o.arrival_time <= o.first_token_time <= o.finish_time


def test_requests_join_between_steps(model, prompts, reference):
    engine = Engine(model, num_blocks=64, block_size=4, max_num_seqs=3)
    ids = [engine.add_request(prompts[0], SamplingParams(max_tokens=MAX_TOKENS))]
    finished = {}
    for step in range(200):
        if len(ids) < len(prompts) and step % 2 == 0:
            ids.append(engine.add_request(prompts[len(ids)], SamplingParams(max_tokens=MAX_TOKENS)))
        for out in engine.step():
            finished[out.request_id] = out.token_ids
        assert len(engine.running) <= 3
        if len(finished) == len(prompts):
            break
    assert [finished[i] for i in ids] == reference


def test_prefix_caching_skips_the_shared_prefix_and_keeps_outputs(model):
    system = list(range(3, 35))  # 32 tokens = 8 blocks of 4
    prompts = [system + [40 + i, 50 + i] for i in range(4)]
    results = {}
    for caching in (False, True):
        engine = Engine(
            model, num_blocks=64, block_size=4, max_num_seqs=1, enable_prefix_caching=caching
        )
        outs = engine.generate(prompts, SamplingParams(max_tokens=5))
        results[caching] = ([o.token_ids for o in outs], [o.num_cached_tokens for o in outs])
    assert results[True][0] == results[False][0]
    assert results[False][1] == [0, 0, 0, 0]
    assert results[True][1] == [0, 32, 32, 32]


def test_parallel_sampling_shares_the_prompt_blocks(model):
    prompt = list(range(3, 21))  # 18 tokens: 4 full blocks of 4 and a half-full one
    engine = Engine(model, num_blocks=64, block_size=4, max_num_seqs=8)
    params = SamplingParams(max_tokens=6, n=4, temperature=1.0, seed=0, ignore_eos=True)
    engine.add_request(prompt, params)
    engine.step()  # prefill, then fork into 4 sequences
    assert len(engine.running) == 4
    assert engine.allocator.num_used == 5  # the children share the prompt's blocks
    outs = []
    while engine.has_unfinished_requests():
        outs += engine.step()
    assert engine.stats.cow_copies == 3  # the shared partial block is copied once per extra child
    assert len(outs[0].outputs) == 4 and all(len(c.token_ids) == 6 for c in outs[0].outputs)
    again = Engine(model, num_blocks=64, block_size=4).generate([prompt], params)[0]
    assert [c.token_ids for c in again.outputs] == [c.token_ids for c in outs[0].outputs]  # seeded


def test_eos_stops_unless_ignored(model, prompts, reference):
    # pick a prompt whose greedy continuation contains a token, and call that token a stop token
    stop = reference[0][3]
    out = Engine(model, num_blocks=64, block_size=4).generate(
        [prompts[0]], SamplingParams(max_tokens=MAX_TOKENS, stop_token_ids=(stop,))
    )[0]
    assert out.token_ids == reference[0][: reference[0].index(stop) + 1]
    assert out.outputs[0].finish_reason == "stop"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"max_tokens": 0}, "max_tokens"),
        ({"temperature": -0.1}, "temperature"),
        ({"temperature": float("nan")}, "temperature"),
        ({"top_p": 0.0}, "top_p"),
        ({"top_p": 1.5}, "top_p"),
        ({"top_k": -1}, "top_k"),
        ({"n": 0}, "n \\(completions"),
        ({"seed": 1.5}, "seed"),
        ({"stop_token_ids": (-1,)}, "stop_token_ids"),
    ],
)
def test_sampling_params_out_of_range_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SamplingParams(**kwargs)


def test_bad_requests_get_clear_errors(model):
    engine = Engine(model, num_blocks=8, block_size=4, max_model_len=24)
    with pytest.raises(ValueError, match="more than max_model_len=24. Shorten the prompt"):
        engine.add_request(list(range(3, 30)))
    with pytest.raises(
        ValueError, match="the pool holds 4. Lower max_tokens or .* more num_blocks"
    ):
        Engine(model, num_blocks=4, block_size=4, max_model_len=24).add_request(
            [5] * 10, SamplingParams(max_tokens=12)
        )
    with pytest.raises(ValueError, match="empty"):
        engine.add_request([])
    with pytest.raises(ValueError, match="token ids must lie in"):
        engine.add_request([5, 500])
    with pytest.raises(ValueError, match="positive power of two"):
        Engine(model, num_blocks=8, block_size=6)
    with pytest.raises(ValueError, match="max_model_len must be an integer in"):
        Engine(model, num_blocks=8, block_size=4, max_model_len=10_000)
    assert not engine.has_unfinished_requests()  # refused requests never entered the queue


def test_static_baseline_cuts_each_request_to_its_length(model, prompts, reference):
    outs = hf_generate_static(model, prompts[:3], [3, 12, 5], batch_size=2, pad_token_id=2)
    assert [len(o.token_ids) for o in outs] == [3, 12, 5]
    # batch size 1 is plain greedy generate, so the tokens match the reference where EOS is absent
    single = hf_generate_static(model, prompts[:1], [4], batch_size=1, pad_token_id=2)
    assert single[0].token_ids == reference[0][:4]
    stats = summarize(outs)
    assert stats["output_tokens"] == 20 and stats["tok_s"] > 0
