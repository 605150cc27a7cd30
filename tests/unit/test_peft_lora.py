"""LoRA from scratch, in the style of peft's own tests (tests/test_custom_models.py)."""

import copy

import pytest
import torch
from torch import nn

from genai_lab.models import tiny_llama
from genai_lab.peft.common import count_parameters, load_trainable, save_trainable
from genai_lab.peft.lora import (
    LoRALinear,
    inject_lora,
    lora_disabled,
    lora_layers,
    merge_lora,
    unmerge_lora,
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


def test_starts_as_base_model(model):
    base = model(IDS).logits
    inject_lora(model, ["q_proj", "v_proj"], r=4, alpha=8)
    torch.testing.assert_close(model(IDS).logits, base, rtol=0, atol=0)


def test_merged_equals_unmerged(model):
    inject_lora(model, ["q_proj", "k_proj", "v_proj", "o_proj"], r=4, alpha=8)
    randomise_b(model)
    unmerged = model(IDS).logits
    merge_lora(model)
    assert all(layer.merged for layer in lora_layers(model))
    torch.testing.assert_close(model(IDS).logits, unmerged, rtol=1e-5, atol=1e-5)
    unmerge_lora(model)
    torch.testing.assert_close(model(IDS).logits, unmerged, rtol=1e-5, atol=1e-5)


def test_merge_is_idempotent():
    layer = LoRALinear(nn.Linear(8, 6), r=2, alpha=4)
    nn.init.normal_(layer.lora_B)
    x = torch.randn(3, 8)
    expected = layer(x)
    layer.merge()
    layer.merge()
    torch.testing.assert_close(layer(x), expected)
    layer.unmerge()
    layer.unmerge()
    torch.testing.assert_close(layer(x), expected)


def test_disabled_adapter_restores_base_exactly(model):
    base = model(IDS).logits
    inject_lora(model, ["q_proj", "v_proj"], r=4, alpha=8)
    randomise_b(model)
    adapted = model(IDS).logits
    assert not torch.allclose(adapted, base)
    with lora_disabled(model):
        torch.testing.assert_close(model(IDS).logits, base, rtol=0, atol=0)
    torch.testing.assert_close(model(IDS).logits, adapted, rtol=0, atol=0)


def test_disabled_after_merge_unmerges(model):
    base = model(IDS).logits
    inject_lora(model, ["q_proj", "v_proj"], r=4, alpha=8)
    randomise_b(model)
    merge_lora(model)
    with lora_disabled(model):
        torch.testing.assert_close(model(IDS).logits, base, rtol=1e-5, atol=1e-5)


def test_only_lora_params_get_gradients(model):
    inject_lora(model, ["q_proj", "v_proj"], r=4, alpha=8)
    randomise_b(model)
    model(IDS, labels=IDS).loss.backward()
    for name, p in model.named_parameters():
        if "lora_" in name:
            assert p.grad is not None and p.grad.abs().sum() > 0, name
        else:
            assert p.grad is None and not p.requires_grad, name


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


def test_save_load_identical_outputs(model, tmp_path):
    inject_lora(model, ["q_proj", "v_proj"], r=4, alpha=8)
    randomise_b(model)
    nn.init.normal_(lora_layers(model)[0].lora_A)
    expected = model(IDS).logits
    size = save_trainable(model, tmp_path / "lora.safetensors")
    assert size > count_parameters(model, trainable_only=True) * 4  # float32 plus a small header

    fresh = tiny_llama()
    inject_lora(fresh, ["q_proj", "v_proj"], r=4, alpha=8)
    assert not torch.allclose(fresh(IDS).logits, expected)
    load_trainable(fresh, tmp_path / "lora.safetensors")
    torch.testing.assert_close(fresh(IDS).logits, expected, rtol=0, atol=0)


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
