"""The engine on the real SmolLM2: greedy outputs token-exact against ``generate``, with and without
preemption, and a mixed greedy/sampled batch that leaves the greedy outputs unchanged."""

from __future__ import annotations

import pytest
import torch

from genai_lab.numeric import cdiv

QUESTIONS = ["What is photosynthesis?", "Explain gravity to a child.", "Give three facts about bees.",
             "Why does inflation matter?", "What is DNA?", "Explain volcanoes to a child."]  # fmt: skip
MAX_TOKENS = 32


@pytest.fixture(scope="module")
def smollm2():
    from genai_lab.models import load_smollm2

    return load_smollm2()


@pytest.fixture(scope="module")
def prompts_and_reference(smollm2):
    model, tokenizer = smollm2
    prompts = [
        list(
            tokenizer.apply_chat_template(
                [{"role": "user", "content": q}], add_generation_prompt=True, return_dict=True
            )["input_ids"]
        )
        for q in QUESTIONS
    ]
    reference = []
    with torch.inference_mode():
        for p in prompts:
            out = model.generate(
                torch.tensor([p]), max_new_tokens=MAX_TOKENS, do_sample=False, pad_token_id=tokenizer.eos_token_id
            )
            reference.append(out[0, len(p) :].tolist())
    return prompts, reference


@pytest.mark.real_model
@pytest.mark.parametrize("tight", [False, True])
def test_engine_equals_generate_on_smollm2(smollm2, prompts_and_reference, tight):
    from genai_lab.serving.engine import Engine, SamplingParams

    model, tokenizer = smollm2
    prompts, reference = prompts_and_reference
    blocks = cdiv(max(map(len, prompts)) + MAX_TOKENS, 16) + 2 if tight else 256
    engine = Engine(model, tokenizer, num_blocks=blocks, block_size=16, max_num_seqs=8)
    outs = engine.generate(prompts, SamplingParams(max_tokens=MAX_TOKENS))
    assert [o.token_ids for o in outs] == reference
    assert (engine.stats.preemptions > 0) == tight
    assert engine.num_free_blocks == blocks


@pytest.mark.real_model
def test_sampled_neighbours_leave_greedy_outputs_unchanged(smollm2, prompts_and_reference):
    from genai_lab.serving.engine import Engine, SamplingParams

    model, tokenizer = smollm2
    prompts, reference = prompts_and_reference
    params = [
        SamplingParams(max_tokens=MAX_TOKENS)
        if i % 2 == 0
        else SamplingParams(max_tokens=MAX_TOKENS, temperature=0.8, top_p=0.9, top_k=50, seed=i, n=2)
        for i in range(len(prompts))
    ]
    outs = Engine(model, tokenizer, num_blocks=256, block_size=16, max_num_seqs=16).generate(prompts, params)
    assert [outs[i].token_ids for i in range(0, len(prompts), 2)] == reference[::2]
    assert all(len(outs[i].outputs) == 2 and outs[i].finished_ok for i in range(1, len(prompts), 2))
