"""The SST-2 sentiment adapter's trainer on a tiny random Llama: the label-word-only loss mask, the
lecture's LoRA configuration, the step and time budgets, and a portable saved folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from genai_lab.peft.data import Example
from genai_lab.peft.sst2_adapter import (
    CONFIG_FILE,
    Sst2AdapterConfig,
    _LastPositionLogits,
    adapter_dir,
    dev_accuracy,
    main,
    prompt_text,
    save_adapter,
    tokenize,
    train_adapter,
)
from genai_lab.reader.data import IGNORE_INDEX


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    from genai_lab.models import prepare_smollm2

    return AutoTokenizer.from_pretrained(prepare_smollm2())


def examples(n: int = 8) -> list[Example]:
    return [Example(f"a {'great' if i % 2 else 'dull'} film" + " really" * i, i % 2) for i in range(n)]


def tiny_lora(tokenizer):
    from peft import get_peft_model

    from genai_lab.models import tiny_llama
    from genai_lab.reader.train import seed_lora_config

    return get_peft_model(tiny_llama(vocab_size=len(tokenizer), max_position_embeddings=512), seed_lora_config())


def test_the_loss_is_on_the_label_word_and_end_of_turn_only(tokenizer) -> None:
    for example, word in [(Example("a dull film", 0), "negative"), (Example("a great film", 1), "positive")]:
        item = tokenize(tokenizer, example)
        labelled = [i for i, label in enumerate(item.labels) if label != IGNORE_INDEX]
        assert tokenizer.decode([item.labels[i] for i in labelled]) == word + "<|im_end|>"
        assert labelled == list(range(labelled[0], len(item)))  # the answer ends the sequence
        prompt = tokenizer.decode(item.input_ids[: labelled[0]])
        assert prompt == prompt_text(tokenizer, example.text) and prompt.endswith("<|im_start|>assistant\n")
        assert example.text in prompt and "positive or negative" in prompt
    with pytest.raises(ValueError, match="not 0"):
        tokenize(tokenizer, Example("odd", 2))


def test_training_changes_only_the_lora_weights(tokenizer) -> None:
    model = tiny_lora(tokenizer)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    curve = train_adapter(model, tokenizer, examples(), Sst2AdapterConfig(steps=3, batch_size=4, lr=1e-2,
                                                                          warmup_steps=0), progress=False)
    assert curve.steps == 3 and curve.stopped_by == "max_steps"
    per_example = sorted(tokenize(tokenizer, e).answer_tokens for e in examples())
    assert all(4 * per_example[0] <= t <= 4 * per_example[-1] for t in curve.answer_tokens)
    for name, p in model.named_parameters():
        if "lora_" not in name:
            assert torch.equal(p, before[name]), f"{name} changed: the base model must stay frozen"
    assert any(not torch.equal(p, before[n]) for n, p in model.named_parameters() if "lora_B" in n)


def test_the_time_budget_and_the_length_limit(tokenizer) -> None:
    curve = train_adapter(tiny_lora(tokenizer), tokenizer, examples(), Sst2AdapterConfig(max_seconds=0, batch_size=4),
                          progress=False)
    assert curve.steps == 0 and curve.stopped_by == "max_seconds"
    with pytest.raises(ValueError, match="batch_size"):
        train_adapter(tiny_lora(tokenizer), tokenizer, examples(), Sst2AdapterConfig(max_length=10, batch_size=4),
                      progress=False)


def test_the_saved_folder_is_the_lectures_lora_on_the_hub_base(tokenizer, tmp_path: Path) -> None:
    model = tiny_lora(tokenizer)
    curve = train_adapter(model, tokenizer, examples(), Sst2AdapterConfig(steps=1, batch_size=4), progress=False)
    out = save_adapter(model, curve, tmp_path / "sst2", {"train_data": "test", "steps": curve.steps})
    saved = json.loads((out / "adapter_config.json").read_text())
    assert (saved["r"], saved["lora_alpha"], saved["lora_dropout"], saved["task_type"]) == (8, 32, 0.1, "CAUSAL_LM")
    assert saved["base_model_name_or_path"] == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert json.loads((out / CONFIG_FILE).read_text()) == {"train_data": "test", "steps": 1}
    assert (out / "adapter_model.safetensors").is_file() and (out / "train_curve.json").is_file()
    for name in ("adapter_config.json", "README.md"):
        text = (out / name).read_text()
        assert str(tmp_path) not in text and "/root/" not in text and "More Information Needed" not in text


def test_scoring_reads_the_last_position_as_the_full_pass_does(tokenizer) -> None:
    from genai_lab.peft.train import zero_shot_accuracy

    model = tiny_lora(tokenizer).eval()
    ids = torch.tensor([tokenize(tokenizer, e).input_ids[:12] for e in examples(3)])
    with torch.inference_mode():
        last = _LastPositionLogits(model).eval()(input_ids=ids).logits
        full = model(input_ids=ids).logits
    assert last.shape[1] == 1
    torch.testing.assert_close(last[:, -1], full[:, -1])
    assert dev_accuracy(model, tokenizer, examples()) == zero_shot_accuracy(model, tokenizer, examples())


def test_the_default_folder_and_bad_flags() -> None:
    assert adapter_dir().parts[-3:] == ("data", "adapters", "sst2_sentiment")
    with pytest.raises(SystemExit):
        main(["--steps", "0"])
