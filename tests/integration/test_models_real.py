import json
import time

import pytest

from genai_lab import models


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


