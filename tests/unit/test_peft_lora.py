"""LoRA from scratch, in the style of peft's own tests (tests/test_custom_models.py); the invariants every
method shares (starts as the base, disabling, merging, save/load, what trains) are in test_peft_common.py."""

import copy

import pytest
import torch
from torch import nn

from genai_lab.models import tiny_llama
from genai_lab.peft.common import count_parameters
from genai_lab.peft.lora import (
    LoRALinear,
    inject_lora,
    lora_disabled,
    lora_layers,
    merge_lora,
)
from genai_lab.peft.memory import lora_param_count

IDS = torch.tensor([[5, 17, 33, 2, 90, 11], [7, 7, 64, 120, 3, 9]])


def randomise_b(model, seed=1):
    """B starts at zero (so LoRA starts as the identity); give it values so the tests mean something."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for layer in lora_layers(model):
            layer.lora_B.copy_(torch.randn(layer.lora_B.shape, generator=g) * 0.1)


@pytest.fixture
def model():
    return tiny_llama()




def test_disabled_after_merge_unmerges(model):
    base = model(IDS).logits
    inject_lora(model, ["q_proj", "v_proj"], r=4, alpha=8)
    randomise_b(model)
    merge_lora(model)
    with lora_disabled(model):
        torch.testing.assert_close(model(IDS).logits, base, rtol=1e-5, atol=1e-5)



def test_extra_trainable_modules(model):
    inject_lora(model, ["q_proj"], r=2, trainable=("lm_head", "embed_tokens"))
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    assert "model.embed_tokens.weight" in names


def test_exact_parameter_count(model):
    cfg = model.config
    kv = cfg.num_key_value_heads * cfg.hidden_size // cfg.num_attention_heads
    replaced = inject_lora(model, ["q_proj", "v_proj"], r=4, alpha=8)
    assert len(replaced) == 2 * cfg.num_hidden_layers
    expected = cfg.num_hidden_layers * (
        lora_param_count(cfg.hidden_size, cfg.hidden_size, 4) + lora_param_count(cfg.hidden_size, kv, 4)
    )
    assert count_parameters(model, trainable_only=True) == expected



def test_equals_peft_given_same_a_and_b(model):
    from peft import LoraConfig, get_peft_model

    ours = copy.deepcopy(model)
    theirs = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"]))
    inject_lora(ours, ["q_proj", "v_proj"], r=4, alpha=8)
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for name, module in ours.named_modules():
            if isinstance(module, LoRALinear):
                peft_layer = theirs.base_model.model.get_submodule(name)
                module.lora_B.copy_(torch.randn(module.lora_B.shape, generator=g))
                peft_layer.lora_A["default"].weight.copy_(module.lora_A)
                peft_layer.lora_B["default"].weight.copy_(module.lora_B)
    torch.testing.assert_close(ours(IDS).logits, theirs(IDS).logits, rtol=1e-5, atol=1e-5)
    assert count_parameters(ours, trainable_only=True) == count_parameters(theirs, trainable_only=True)


def test_scaling_is_alpha_over_r():
    layer = LoRALinear(nn.Linear(8, 8), r=2, alpha=32)
    assert layer.scaling == 16


def test_rank_too_large_is_a_clear_error():
    with pytest.raises(ValueError, match=r"r=10 does not fit a 6x8 layer: choose 1 <= r <= 6"):
        LoRALinear(nn.Linear(8, 6), r=10)
    with pytest.raises(ValueError, match="choose 1 <= r"):
        LoRALinear(nn.Linear(8, 6), r=0)


def test_unknown_target_lists_existing_modules(model):
    with pytest.raises(ValueError) as info:
        inject_lora(model, ["q_proj", "query"])
    message = str(info.value)
    assert "['query']" in message
    for name in ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"):
        assert name in message


def test_wraps_only_linear():
    with pytest.raises(TypeError, match="nn.Linear"):
        LoRALinear(nn.Embedding(4, 4))
