"""The memory calculator, checked against the LoRA paper's GPT-3 175B figures."""

import pytest

from genai_lab.peft.memory import (
    GPT3_175B,
    activation_bytes,
    gpt3_lora_checkpoint_bytes,
    lora_param_count,
    training_memory,
)


def test_full_finetune_gpt3_is_terabytes():
    # Everything in 16-bit, Adam's two moments included: 8 bytes per parameter.
    full = training_memory(GPT3_175B.n_params, weight_precision="fp16")
    assert full.total == pytest.approx(175e9 * 8)
    # The LoRA paper reports 1.2 TB; the arithmetic lands within 20 % of it.
    assert full.total / 1e12 == pytest.approx(1.2, rel=0.2)


def test_lora_gpt3_training_falls_to_350_gb():
    n_lora = lora_param_count(12288, 12288, r=4, n_matrices=2 * 96)
    lora = training_memory(GPT3_175B.n_params, n_trainable=n_lora, weight_precision="fp16")
    assert lora.weights / 1e9 == pytest.approx(350)
    assert lora.total / 1e9 == pytest.approx(350, rel=0.01)


def test_gpt3_checkpoint_350_gb_to_35_mb():
    assert GPT3_175B.n_params * 2 / 1e9 == pytest.approx(350)
    assert gpt3_lora_checkpoint_bytes(r=4) / 1e6 == pytest.approx(35, rel=0.1)
    assert GPT3_175B.n_params * 2 / gpt3_lora_checkpoint_bytes(r=4) == pytest.approx(10_000, rel=0.1)


def test_mixed_precision_full_finetune_is_16_bytes_per_param():
    m = training_memory(1e9, weight_precision="fp16", optimizer_precision="fp32", master_weights=True)
    assert m.total == pytest.approx(16e9)


def test_frozen_weights_pay_no_gradient_or_optimizer_state():
    m = training_memory(1000, n_trainable=10, weight_precision="fp32")
    assert (m.weights, m.gradients, m.optimizer) == (4000, 40, 80)


def test_activations_grow_with_batch_and_are_added():
    a1 = activation_bytes(GPT3_175B, batch=1, seq_len=2048)
    assert activation_bytes(GPT3_175B, batch=2, seq_len=2048) == pytest.approx(2 * a1)
    assert training_memory(10, activations=a1).total == pytest.approx(10 * 8 + a1)


def test_bad_input():
    with pytest.raises(ValueError, match="Unknown precision 'fp64'"):
        training_memory(10, weight_precision="fp64")
    with pytest.raises(ValueError, match="must lie between 0 and n_params"):
        training_memory(10, n_trainable=20)
