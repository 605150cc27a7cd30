"""Prompt tuning and prefix tuning from scratch, checked against peft (the invariants every method
shares are in test_peft_common.py)."""

import pytest
import torch

from genai_lab.models import tiny_llama
from genai_lab.peft.common import count_parameters
from genai_lab.peft.prompts import PrefixTuning, PromptTuning

IDS = torch.tensor([[5, 17, 33, 2, 90, 11], [7, 7, 64, 120, 3, 9]])
MASK = torch.tensor([[0, 0, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1]])


def test_zero_virtual_tokens_is_a_clear_error():
    for cls in (PromptTuning, PrefixTuning):
        with pytest.raises(ValueError, match="num_virtual_tokens must be at least 1, got 0"):
            cls(tiny_llama(), num_virtual_tokens=0)


def test_prompt_exact_parameter_count():
    model = PromptTuning(tiny_llama(hidden_size=36), num_virtual_tokens=5)
    assert count_parameters(model, trainable_only=True) == 5 * 36


def test_prompt_init_from_text_copies_word_embeddings():
    class Tok:  # the only tokenizer call PromptTuning makes
        def __call__(self, text, add_special_tokens=False):
            return {"input_ids": [4, 8, 15]}

    base = tiny_llama()
    model = PromptTuning(base, num_virtual_tokens=5, init_text="x", tokenizer=Tok())
    emb = base.get_input_embeddings().weight
    torch.testing.assert_close(model.prompt.data, emb[[4, 8, 15, 4, 8]])
    with pytest.raises(ValueError, match="needs the tokenizer"):
        PromptTuning(base, num_virtual_tokens=2, init_text="x")


def test_prompt_equals_peft_given_same_prompt():
    from peft import PromptTuningConfig, get_peft_model

    ours = PromptTuning(tiny_llama(), num_virtual_tokens=4)
    theirs = get_peft_model(tiny_llama(), PromptTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=4))
    with torch.no_grad():
        theirs.prompt_encoder["default"].embedding.weight.copy_(ours.prompt)
    torch.testing.assert_close(ours(IDS, attention_mask=MASK).logits, theirs(input_ids=IDS, attention_mask=MASK).logits)
    assert count_parameters(ours, trainable_only=True) == count_parameters(theirs, trainable_only=True)


@pytest.mark.parametrize("projection", [None, 24])
def test_prefix_equals_peft_given_same_weights(projection):
    from peft import PrefixTuningConfig, get_peft_model

    torch.manual_seed(0)
    ours = PrefixTuning(tiny_llama(), num_virtual_tokens=3, projection_hidden=projection)
    config = PrefixTuningConfig(
        task_type="CAUSAL_LM",
        num_virtual_tokens=3,
        prefix_projection=projection is not None,
        encoder_hidden_size=projection or 1,
    )
    theirs = get_peft_model(tiny_llama(), config)
    theirs.prompt_encoder["default"].load_state_dict(ours.encoder.state_dict(), strict=False)
    with torch.no_grad():  # peft's encoder holds the same tensors under the same names
        for name, p in ours.encoder.named_parameters():
            theirs.prompt_encoder["default"].get_parameter(name).copy_(p)
    torch.testing.assert_close(
        ours(IDS, attention_mask=MASK).logits, theirs(input_ids=IDS, attention_mask=MASK).logits
    )
    assert count_parameters(ours, trainable_only=True) == count_parameters(theirs, trainable_only=True)


def test_prefix_exact_parameter_count():
    # tiny_llama: 2 layers, 1 KV head of width 12 -> token_dim 12, per token 2 * 2 * 12 = 48 numbers
    direct = PrefixTuning(tiny_llama(), num_virtual_tokens=3, projection_hidden=None)
    assert count_parameters(direct, trainable_only=True) == 3 * 48
    mlp = PrefixTuning(tiny_llama(), num_virtual_tokens=3, projection_hidden=10)
    assert count_parameters(mlp, trainable_only=True) == 3 * 12 + (12 * 10 + 10) + (10 * 48 + 48)


def test_prefix_reaches_every_layer():
    model = PrefixTuning(tiny_llama(), num_virtual_tokens=3, projection_hidden=8)
    cache = model.prefix_cache(batch=2)
    assert len(cache.layers) == 2 and cache.get_seq_length() == 3
