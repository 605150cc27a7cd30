"""The multi-LoRA benchmark against a real vLLM server: both course adapters as LoRA modules of ONE
server, a tiny run of the one-adapter and mixed-adapter cases through the command line (one server
start, about a minute on two idle cores), and the merge that the ``merged`` case serves.

The ``merged`` case needs a second server start and is left to the full benchmark
(``python -m genai_lab.serving.bench multi-lora``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from genai_lab.serving.bench import multi_lora as ml


def _log_tail(log: Path) -> str:
    from genai_lab.serving.process import tail

    return "\n--- server log ---\n" + tail(log, 40)


def _need_adapters() -> dict[str, Path]:
    try:
        return ml.check_adapters(ml.default_adapters())
    except FileNotFoundError as exc:  # a clean clone has both committed; say which is missing
        pytest.fail(str(exc))


@pytest.mark.real_model
def test_one_server_serves_one_and_mixed_adapters_and_records(tmp_path: Path) -> None:
    _need_adapters()
    record = tmp_path / "22_vllm_serving.json"
    record.write_text(json.dumps({"serving.vllm.kept": 1.0}))
    command = [sys.executable, "-m", "genai_lab.serving.bench", "multi-lora",
               "--cases", "one_adapter", "mixed_adapters",
               "--num-prompts", "4", "--input-len", "16", "--output-len", "4", "--max-concurrency", "2",
               "--kv-cache-mib", "128", "--log-dir", str(tmp_path / "logs"), "--record", str(record),
               "--result-path", str(tmp_path / "result.json")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
    log = tmp_path / "logs" / "lora_server.log"
    assert done.returncode == 0, done.stderr[-3000:] + _log_tail(log)
    assert "| one_adapter" in done.stdout and "| mixed_adapters" in done.stdout and "mixed_vs_one" in done.stdout
    result = json.loads((tmp_path / "result.json").read_text())
    for case in ("one_adapter", "mixed_adapters"):
        metrics = result["cases"][case]
        assert (metrics["completed"], metrics["failed"], metrics["total_output_tokens"]) == (4, 0, 16), metrics
        assert result["tok_s"][case] > 0
    assert result["settings"]["max_loras"] == 2 and set(result["settings"]["adapters"]) == {"reader", "sst2"}
    recorded = json.loads(record.read_text())
    assert recorded["serving.vllm.kept"] == 1.0
    assert recorded["serving.multi_lora.tok_s.one_adapter"] == round(result["tok_s"]["one_adapter"], 3)
    assert "serving.multi_lora.tok_s.merged" not in recorded
    assert not (tmp_path / "logs" / "merged_server.log").exists()


@pytest.mark.real_model
def test_the_merged_model_computes_what_the_adapter_does(tmp_path: Path) -> None:
    """merge_and_unload folds B A into the weights: the saved HF folder gives the PeftModel's logits."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from genai_lab.models import prepare_smollm2

    adapters = _need_adapters()
    out = ml.merge_adapter(adapters["sst2"], tmp_path / "merged")
    assert (out / "config.json").is_file() and (out / "tokenizer.json").is_file()
    tokenizer = AutoTokenizer.from_pretrained(out)
    ids = tokenizer("Is this review positive or negative? A moving, funny film.", return_tensors="pt").input_ids
    base = AutoModelForCausalLM.from_pretrained(prepare_smollm2(), dtype=torch.float32)
    with torch.inference_mode():
        plain = base(ids).logits
        adapted = PeftModel.from_pretrained(base, str(adapters["sst2"])).eval()(ids).logits
        merged = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32).eval()(ids).logits
    assert not torch.allclose(adapted, plain, atol=1e-3), "the adapter changes nothing: was it trained?"
    torch.testing.assert_close(merged, adapted, atol=2e-4, rtol=1e-4)
