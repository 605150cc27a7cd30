"""The vectorised sampler: greedy rows, top-k / top-p filtering, the seeded exponential race."""

from __future__ import annotations

import pytest
import torch

from genai_lab.serving.engine import SamplingParams, apply_top_k_top_p, sample


def _gens(n, seed=0):
    return [torch.Generator().manual_seed(seed + i) for i in range(n)]


def test_top_k_and_top_p_keep_the_expected_tokens():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05], [0.1, 0.2, 0.3, 0.4]]))
    kept = apply_top_k_top_p(logits.clone(), torch.tensor([2, 4]), None).isfinite()
    assert kept.tolist() == [[True, True, False, False], [True, True, True, True]]
    kept = apply_top_k_top_p(logits.clone(), None, torch.tensor([0.7, 0.5])).isfinite()
    # smallest sets reaching 0.7 (0.5 + 0.3) and 0.5 (0.4 + 0.3)
    assert kept.tolist() == [[True, True, False, False], [False, False, True, True]]
    assert apply_top_k_top_p(logits, None, None) is logits


def test_greedy_rows_take_the_argmax_beside_sampled_rows():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(6, 50, generator=g)
    params = [SamplingParams(), SamplingParams(temperature=1.0)] * 3
    tokens, ok = sample(logits, params, _gens(6))
    assert ok.all()
    assert tokens[0::2].tolist() == logits[0::2].argmax(-1).tolist()
    top1 = [SamplingParams(temperature=2.0, top_k=1)] * 6  # top_k=1 is greedy whatever the temperature
    assert sample(logits, top1, _gens(6))[0].tolist() == logits.argmax(-1).tolist()


def test_sampling_follows_the_distribution_and_the_seed():
    probs = torch.tensor([0.1, 0.2, 0.3, 0.4])
    logits = probs.log().repeat(4000, 1)
    params = [SamplingParams(temperature=1.0)] * 4000
    gen = torch.Generator().manual_seed(0)
    tokens, _ = sample(logits, params, [gen] * 4000)
    freq = torch.bincount(tokens, minlength=4).float() / 4000
    assert torch.allclose(freq, probs, atol=0.03)
    again, _ = sample(logits, params, [torch.Generator().manual_seed(0)] * 4000)
    assert again.tolist() == tokens.tolist()
    cold, _ = sample(logits[:200], [SamplingParams(temperature=0.05)] * 200, [gen] * 200)
    assert (cold == 3).float().mean() > 0.95  # a low temperature concentrates on the mode


def test_non_finite_rows_are_flagged_not_raised():
    logits = torch.zeros(3, 8)
    logits[1, 2] = float("nan")
    tokens, ok = sample(logits, [SamplingParams(), SamplingParams(), SamplingParams(temperature=1.0)], _gens(3))
    assert ok.tolist() == [True, False, True]
    logits[2] = float("-inf")  # nothing left to sample from
    assert sample(logits, [SamplingParams(temperature=1.0)] * 3, _gens(3))[1].tolist() == [True, False, False]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"temperature": 1e-40}, "temperature"),  # passed before, then every step hit inf/NaN
        ({"temperature": 1e-6}, "temperature"),
        ({"temperature": float("inf")}, "temperature"),
        ({"temperature": True}, "temperature"),
        ({"max_tokens": True}, "max_tokens"),
        ({"max_tokens": 2.0}, "max_tokens"),
        ({"top_k": 2.0}, "top_k"),
        ({"top_p": True}, "top_p"),
        ({"top_p": float("nan")}, "top_p"),
        ({"n": True}, "n \\(completions"),
        ({"seed": -1}, "seed"),
        ({"seed": 2**64}, "seed"),
        ({"ignore_eos": 1}, "ignore_eos"),
        ({"stop_token_ids": 5}, "stop_token_ids"),
        ({"stop_token_ids": (1.5,)}, "stop_token_ids"),
    ],
)
def test_sampling_params_beyond_numerical_limits_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SamplingParams(**kwargs)


def test_sampling_params_at_the_limits_are_accepted():
    assert SamplingParams(temperature=1e-5).temperature == 1e-5
    assert SamplingParams(temperature=0).greedy
    assert SamplingParams(top_p=1, stop_token_ids=[2, 3]).stop_token_ids == (2, 3)


def test_a_masked_logit_is_not_an_error_but_inf_is():
    logits = torch.zeros(3, 8)
    logits[0, 5] = float("-inf")  # a legitimately masked token
    logits[1, 5] = float("inf")
    logits[2, 0] = 1.0
    tokens, ok = sample(logits, [SamplingParams(), SamplingParams(), SamplingParams(temperature=0.5)], _gens(3))
    assert ok.tolist() == [True, False, True] and tokens[1] == 5
