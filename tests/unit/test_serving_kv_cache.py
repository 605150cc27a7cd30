"""KV-cache arithmetic and the reservation-policy memory study."""

from __future__ import annotations

import numpy as np
import pytest

from genai_lab.models import tiny_llama
from genai_lab.serving.kv_cache import (
    POLICIES,
    SHAREGPT_MEAN_INPUT,
    SHAREGPT_MEAN_OUTPUT,
    kv_bytes_per_token,
    kv_bytes_per_token_of,
    memory_study,
    policy_report,
    reserved_slots,
    sharegpt_like_lengths,
)


def test_bytes_per_token_matches_the_papers_figures():
    assert kv_bytes_per_token(30, 3, 64, 2) == 22.5 * 1024  # SmolLM2-135M, bf16
    assert kv_bytes_per_token(40, 40, 128, 2) == 800 * 1024  # OPT-13B, fp16
    model = tiny_llama()  # 2 layers, 1 KV head of 12 dims
    assert kv_bytes_per_token_of(model.config, 4) == 2 * 2 * 1 * 12 * 4


def test_bytes_per_token_refuses_nonsense():
    with pytest.raises(ValueError, match="num_kv_heads must be a positive integer"):
        kv_bytes_per_token(30, 0, 64, 2)


def test_hand_computed_waste():
    # one request: prompt 3, output 2 -> holds 4 then 5 tokens (9 slot-steps)
    p, o = np.array([3]), np.array([2])
    assert policy_report("oracle", p, o, max_len=16).reserved_slot_steps == 5 * 2
    assert policy_report("max_reserve", p, o, max_len=16).reserved_slot_steps == 16 * 2
    assert policy_report("pow2", p, o, max_len=16).reserved_slot_steps == 8 * 2
    assert policy_report("paged_4", p, o, max_len=16).reserved_slot_steps == 4 + 8
    assert policy_report("paged_4", p, o, max_len=16).waste == pytest.approx(1 - 9 / 12)
    assert reserved_slots("paged_1", 3, 2, 2, 16) == 5


def test_sharegpt_like_lengths_have_the_papers_means_and_respect_the_cap():
    prompt, output = sharegpt_like_lengths(200_000, seed=0)
    assert prompt.min() >= 1 and output.min() >= 1 and (prompt + output).max() <= 2048
    assert prompt.mean() == pytest.approx(SHAREGPT_MEAN_INPUT, rel=0.03)
    assert output.mean() == pytest.approx(SHAREGPT_MEAN_OUTPUT, rel=0.03)


def test_paged_wastes_least_and_waste_grows_with_block_size():
    prompt, output = sharegpt_like_lengths(2000, seed=1)
    study = memory_study(prompt, output)
    assert list(study) == list(POLICIES)
    waste = {k: r.waste for k, r in study.items()}
    assert waste["paged_16"] < 0.04
    assert waste["paged_8"] < waste["paged_16"] < waste["paged_32"] < waste["paged_128"]
    assert waste["oracle"] < waste["pow2"] < waste["max_reserve"]
    assert study["paged_16"].batch_size_in(10_000) > study["max_reserve"].batch_size_in(10_000)


def test_bad_policies_and_lengths_are_refused():
    with pytest.raises(ValueError, match="Unknown policy"):
        policy_report("first_fit", np.array([1]), np.array([1]))
    with pytest.raises(ValueError, match="power of two"):
        policy_report("paged_12", np.array([1]), np.array([1]))
    with pytest.raises(ValueError, match="prompt \\+ output <= 16"):
        policy_report("oracle", np.array([10]), np.array([10]), max_len=16)
