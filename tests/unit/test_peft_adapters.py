"""The Houlsby bottleneck adapter (the invariants every method shares are in test_peft_common.py)."""

import pytest
import torch

from genai_lab.models import tiny_llama
from genai_lab.peft.adapters import (
    BottleneckAdapter,
    adapter_param_count,
    add_adapters,
)
from genai_lab.peft.common import count_parameters, load_trainable, save_trainable


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



def test_exact_parameter_count():
    model = tiny_llama(num_layers=2, hidden_size=36)
    add_adapters(model, bottleneck=4)
    assert count_parameters(model, trainable_only=True) == adapter_param_count(36, 4, n_adapters=4)
    assert adapter_param_count(36, 4, 4) == 4 * (2 * 36 * 4 + 4 + 36)





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
