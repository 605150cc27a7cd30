"""The reader's training loop on a tiny random Llama: the seed LoRA configuration as written, a training
curve per step, the time budget, and save_pretrained."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from langchain_core.documents import Document

from genai_lab.models import tiny_llama
from genai_lab.reader.data import ReaderExample, tokenize_example
from genai_lab.reader.train import (
    CURVE_FILE,
    ReaderTrainConfig,
    add_seed_lora,
    save_reader,
    seed_lora_config,
    tokenize_all,
    train_reader,
)


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    from genai_lab.models import prepare_smollm2

    return AutoTokenizer.from_pretrained(prepare_smollm2())


def tiny_reader(tokenizer):
    from genai_lab.models import tiny_llama

    return add_seed_lora(tiny_llama(vocab_size=len(tokenizer), max_position_embeddings=1024))


def examples(n: int = 8) -> list[ReaderExample]:
    out = []
    for i in range(n):
        text = f"Device {i} links {10 + i} sensors." + " filler" * i
        docs = [Document(page_content=text, metadata={"source": "m.pdf"})]
        out.append(ReaderExample(f"e{i}", f"How many sensors does device {i} link?", docs, f"{10 + i} sensors [1]",
                                 "grounded", golds=[str(10 + i)], cite=[1]))
    return out


def test_the_seed_configuration_is_exactly_as_written() -> None:
    config = seed_lora_config()
    assert (config.task_type, config.r, config.lora_alpha, config.lora_dropout) == ("CAUSAL_LM", 8, 32, 0.1)
    assert config.target_modules is None  # peft's defaults for the model (q_proj, v_proj for Llama)


def test_the_all_linear_ablation_changes_only_the_targets(tokenizer) -> None:
    seed = seed_lora_config()
    ablation = seed_lora_config("all-linear")
    assert ablation.target_modules == "all-linear"
    assert (ablation.task_type, ablation.r, ablation.lora_alpha, ablation.lora_dropout) == (
        seed.task_type, seed.r, seed.lora_alpha, seed.lora_dropout)
    wrapped = {n.split(".")[-4] for n, _ in add_seed_lora(
        tiny_llama(vocab_size=len(tokenizer), max_position_embeddings=1024), "all-linear").named_parameters()
        if "lora_A" in n}  # fmt: skip
    assert {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"} <= wrapped
    seed_wrapped = {n.split(".")[-4] for n, _ in tiny_reader(tokenizer).named_parameters() if "lora_A" in n}
    assert seed_wrapped == {"q_proj", "v_proj"}


def test_the_ablation_refuses_to_overwrite_the_course_reader(capsys) -> None:
    from genai_lab.reader.cli import train_main

    with pytest.raises(SystemExit) as stop:
        train_main(["--target-modules", "all-linear"])
    assert stop.value.code == 2 and "--out" in capsys.readouterr().err


@pytest.fixture(scope="module")
def trained(tokenizer):
    """A tiny reader trained for 3 steps, with its weights before training."""
    model = tiny_reader(tokenizer)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    config = ReaderTrainConfig(max_steps=3, batch_size=4, lr=1e-2, warmup_steps=0)
    curve = train_reader(model, tokenizer, examples(), config, progress=False)
    return model, before, curve, config


def test_training_records_a_curve_and_changes_only_the_adapter(tokenizer, trained) -> None:
    model, before, curve, config = trained
    assert all("lora_" in n for n, p in model.named_parameters() if p.requires_grad)
    assert curve.steps == 3 and curve.stopped_by == "max_steps" and len(curve.seconds) == 3
    assert all(loss > 0 for loss in curve.loss)
    items, _ = tokenize_all(tokenizer, examples(), config.max_length)
    answers = sorted(x.answer_tokens for x in items)
    assert all(sum(answers[:4]) <= t <= sum(answers[-4:]) for t in curve.answer_tokens)
    assert all(t >= 4 * min(len(x) for x in items) for t in curve.tokens)
    for name, p in model.named_parameters():
        if "lora_" not in name:
            assert torch.equal(p, before[name]), f"{name} changed: the base model must stay frozen"
    assert any(not torch.equal(p, before[n]) for n, p in model.named_parameters() if "lora_B" in n)


def test_the_time_budget_stops_training(tokenizer) -> None:
    curve = train_reader(tiny_reader(tokenizer), tokenizer, examples(), ReaderTrainConfig(max_seconds=0, batch_size=4),
                         progress=False)
    assert curve.steps == 0 and curve.stopped_by == "max_seconds"


def test_too_long_examples_are_left_out_not_truncated(tokenizer) -> None:
    short = min(len(tokenize_example(tokenizer, e)) for e in examples())
    kept, dropped = tokenize_all(tokenizer, examples(), short)
    assert len(kept) == 1 and dropped == 7
    with pytest.raises(ValueError, match="batch_size"):
        train_reader(tiny_reader(tokenizer), tokenizer, examples(), ReaderTrainConfig(max_length=short, batch_size=4),
                     progress=False)


def test_save_writes_the_adapter_and_the_curve(trained, tmp_path: Path) -> None:
    model, _, curve, config = trained
    stale = tmp_path / "adapter" / "reader_decoding.json"  # a bias tuned for an earlier adapter in this folder
    stale.parent.mkdir()
    stale.write_text('{"abstain_bias": 2.0, "token_id": 57}')
    out = save_reader(model, curve, tmp_path / "adapter", config)
    assert not stale.exists(), "a new adapter must not inherit the old one's abstention bias"
    saved = json.loads((out / "adapter_config.json").read_text())
    assert (saved["r"], saved["lora_alpha"], saved["lora_dropout"], saved["task_type"]) == (8, 32, 0.1, "CAUSAL_LM")
    assert sorted(saved["target_modules"]) == ["q_proj", "v_proj"]
    recorded = json.loads((out / CURVE_FILE).read_text())
    assert len(recorded["loss"]) == 3 and recorded["summary"]["steps"] == 3
    assert (out / "adapter_model.safetensors").is_file()
    # Portable: no path of this machine in the folder, the base named by its hub id, a real model card.
    assert saved["base_model_name_or_path"] == "HuggingFaceTB/SmolLM2-135M-Instruct"
    for text in [(out / name).read_text() for name in ("adapter_config.json", "README.md")]:
        assert str(tmp_path) not in text and "/root/" not in text and "More Information Needed" not in text


def test_rebalance_cuts_abstentions_to_the_share_and_keeps_every_answer() -> None:
    from genai_lab.reader.data import ABSTENTION, ReaderExample
    from genai_lab.reader.train import rebalance

    answers = [ReaderExample(f"a{i}", "q", [], f"x{i} [1]", "grounded", cite=[1]) for i in range(65)]
    abstain = [ReaderExample(f"n{i}", "q", [], ABSTENTION, "abstain_missing") for i in range(100)]
    mix = rebalance(answers + abstain, 0.35, seed=0)
    assert [e.id for e in mix if e.target != ABSTENTION] == [e.id for e in answers]
    assert sum(e.target == ABSTENTION for e in mix) == 35
    assert rebalance(answers + abstain, 0.35, seed=0) == mix  # seeded
    assert len(rebalance(answers + abstain[:10], 0.35)) == 75  # fewer than the share: all kept
    with pytest.raises(ValueError, match="abstain_share"):
        rebalance(mix, 1.0)
