"""The Houlsby bottleneck adapter."""

import pytest
import torch

from genai_lab.models import tiny_llama
from genai_lab.peft.adapters import (
    BottleneckAdapter,
    adapter_param_count,
    adapters,
    adapters_disabled,
    add_adapters,
)
from genai_lab.peft.common import count_parameters, load_trainable, save_trainable

IDS = torch.tensor([[5, 17, 33, 2, 90, 11], [7, 7, 64, 120, 3, 9]])


def perturb(model, seed=1):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for a in adapters(model):
            for p in a.parameters():
                p.add_(torch.randn(p.shape, generator=g) * 0.1)


def test_near_identity_at_init():
    adapter = BottleneckAdapter(36, bottleneck=4)
    h = torch.randn(2, 5, 36)
    assert (adapter(h) - h).abs().max() < 1e-3


def test_placed_after_attention_and_mlp():
    model = tiny_llama(num_layers=3)
    names = add_adapters(model, bottleneck=4)
    assert len(names) == 6
    assert sum(n.endswith("self_attn.o_proj") for n in names) == 3
    assert sum(n.endswith("mlp.down_proj") for n in names) == 3


def test_model_close_to_base_at_init():
    model = tiny_llama()
    base = model(IDS).logits
    add_adapters(model, bottleneck=4)
    torch.testing.assert_close(model(IDS).logits, base, rtol=0, atol=1e-2)


def test_exact_parameter_count():
    model = tiny_llama(num_layers=2, hidden_size=36)
    add_adapters(model, bottleneck=4)
    assert count_parameters(model, trainable_only=True) == adapter_param_count(36, 4, n_adapters=4)
    assert adapter_param_count(36, 4, 4) == 4 * (2 * 36 * 4 + 4 + 36)


def test_only_adapter_params_get_gradients():
    model = tiny_llama()
    add_adapters(model, bottleneck=4)
    perturb(model)
    model(IDS, labels=IDS).loss.backward()
    for name, p in model.named_parameters():
        if ".adapter." in name:
            assert p.grad is not None and p.grad.abs().sum() > 0, name
        else:
            assert p.grad is None, name


def test_disabled_restores_base_exactly():
    model = tiny_llama()
    base = model(IDS).logits
    add_adapters(model, bottleneck=4)
    perturb(model)
    adapted = model(IDS).logits
    assert not torch.allclose(adapted, base, atol=1e-3)
    with adapters_disabled(model):
        torch.testing.assert_close(model(IDS).logits, base, rtol=0, atol=0)
    torch.testing.assert_close(model(IDS).logits, adapted, rtol=0, atol=0)


def test_save_load_identical_outputs(tmp_path):
    model = tiny_llama()
    add_adapters(model, bottleneck=4)
    perturb(model)
    expected = model(IDS).logits
    save_trainable(model, tmp_path / "adapter.safetensors")
    fresh = tiny_llama()
    add_adapters(fresh, bottleneck=4)
    load_trainable(fresh, tmp_path / "adapter.safetensors")
    torch.testing.assert_close(fresh(IDS).logits, expected, rtol=0, atol=0)


def test_loading_into_a_different_model_names_the_fix(tmp_path):
    model = tiny_llama()
    add_adapters(model, bottleneck=4)
    save_trainable(model, tmp_path / "adapter.safetensors")
    with pytest.raises(KeyError, match="prepare the model with the same method"):
        load_trainable(tiny_llama(), tmp_path / "adapter.safetensors")


def test_bad_settings():
    with pytest.raises(ValueError, match="bottleneck must be at least 1"):
        BottleneckAdapter(36, bottleneck=0)
    with pytest.raises(ValueError, match=r"Unknown adapter place\(s\) \['ffn'\]"):
        add_adapters(tiny_llama(), places=("ffn",))
