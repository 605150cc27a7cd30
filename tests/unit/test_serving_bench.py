"""The benchmark client's arithmetic on synthetic request records, checked against vLLM's own
``calculate_metrics`` where it is importable. Offline, milliseconds."""

from __future__ import annotations

import math

import numpy as np
import pytest

from genai_lab.serving.bench import (
    RequestRecord,
    arrival_times,
    compute_metrics,
    format_table,
    random_requests,
    record_from_timestamps,
    sharegpt_like_lengths,
    sharegpt_like_requests,
)


def make_records() -> list[RequestRecord]:
    return [
        # start 0: first token at 0.1 s, then 3 more every 0.05 s: latency 0.25, TPOT 0.05
        record_from_timestamps(0.0, [0.1, 0.15, 0.2, 0.25], prompt_len=10),
        # start 1: one token only (no TPOT)
        record_from_timestamps(1.0, [1.4], prompt_len=20),
        # start 2: usage reports 5 tokens in 3 chunks (a chunk may carry several tokens)
        record_from_timestamps(2.0, [2.2, 2.3, 2.6], prompt_len=30, output_tokens=5),
        RequestRecord(prompt_len=40, error="HTTP 500"),  # failed
    ]


def test_record_from_timestamps() -> None:
    r = record_from_timestamps(1.0, [1.5, 1.75, 2.0])
    assert r.success and r.output_tokens == 3
    assert r.ttft == pytest.approx(0.5) and r.latency == pytest.approx(1.0)
    assert r.itl == pytest.approx([0.25, 0.25])
    assert not record_from_timestamps(0.0, []).success


def test_metric_arithmetic() -> None:
    m = compute_metrics(make_records(), duration_s=4.0, percentiles=(50, 99))
    assert (m["completed"], m["failed"]) == (3, 1)
    assert m["total_input_tokens"] == 60  # failed requests count nothing
    assert m["total_output_tokens"] == 4 + 1 + 5
    assert m["request_throughput"] == pytest.approx(3 / 4)
    assert m["output_throughput"] == pytest.approx(10 / 4)
    assert m["total_token_throughput"] == pytest.approx(70 / 4)
    assert m["mean_ttft_ms"] == pytest.approx(np.mean([100, 400, 200]))
    # TPOT = (latency - TTFT) / (output tokens - 1), only for requests with > 1 token
    tpots = [(0.25 - 0.1) / 3 * 1000, (0.6 - 0.2) / 4 * 1000]
    assert m["mean_tpot_ms"] == pytest.approx(np.mean(tpots))
    assert m["median_tpot_ms"] == pytest.approx(np.median(tpots))
    assert m["p99_tpot_ms"] == pytest.approx(np.percentile(tpots, 99))
    itls = [50, 50, 50, 100, 300]  # pooled over requests
    assert m["mean_itl_ms"] == pytest.approx(np.mean(itls))
    assert m["p50_itl_ms"] == pytest.approx(50)
    assert m["mean_e2el_ms"] == pytest.approx(np.mean([250, 400, 600]))
    assert m["request_goodput"] is None


def test_goodput() -> None:
    records = make_records()
    # TTFT <= 250 ms: requests 1 and 3; their TPOTs (50, 100 ms) are under 120 ms.
    m = compute_metrics(records, 4.0, goodput_slo_ms={"ttft": 250, "tpot": 120})
    assert m["request_goodput"] == pytest.approx(2 / 4)
    m = compute_metrics(records, 4.0, goodput_slo_ms={"tpot": 60})  # the 1-token request counts TPOT 0
    assert m["request_goodput"] == pytest.approx(2 / 4)
    with pytest.raises(ValueError, match="ttft, tpot"):
        compute_metrics(records, 4.0, goodput_slo_ms={"latency": 1})


def test_all_failed_gives_zeros() -> None:
    m = compute_metrics([RequestRecord(error="x")], 1.0)
    assert m["completed"] == 0 and m["mean_ttft_ms"] == 0.0 and m["output_throughput"] == 0.0


def test_arrivals() -> None:
    assert arrival_times(5, math.inf) == [0.0] * 5
    times = arrival_times(1000, request_rate=10.0, seed=1)
    assert times == sorted(times) and times[-1] == pytest.approx(100.0)  # n / rate, as vLLM scales
    gaps = np.diff([0.0, *times])
    assert np.mean(gaps) == pytest.approx(0.1, rel=1e-6)
    assert np.std(gaps) / np.mean(gaps) == pytest.approx(1.0, abs=0.1)  # exponential: CV = 1
    bursty = np.diff([0.0, *arrival_times(1000, 10.0, burstiness=0.25, seed=1)])
    assert np.std(bursty) / np.mean(bursty) == pytest.approx(2.0, abs=0.25)  # gamma: CV = 1/sqrt(k)
    regular = np.diff([0.0, *arrival_times(10, 2.0, burstiness=math.inf)])
    assert regular == pytest.approx([0.5] * 10)
    assert arrival_times(10, 3.0, seed=7) == arrival_times(10, 3.0, seed=7)
    with pytest.raises(ValueError, match="burstiness"):
        arrival_times(3, 1.0, burstiness=0)
    with pytest.raises(ValueError, match="request_rate"):
        arrival_times(3, 0.0)


def test_random_requests_have_set_lengths(tiny_tokenizer) -> None:
    reqs = random_requests(tiny_tokenizer, 8, input_len=32, output_len=16, seed=0)
    assert len(reqs) == 8 and all(r.expected_output_len == 16 for r in reqs)
    for r in reqs:
        n = len(tiny_tokenizer(r.prompt, add_special_tokens=False).input_ids)
        assert n == r.prompt_len and 28 <= n <= 32
    assert reqs == random_requests(tiny_tokenizer, 8, input_len=32, output_len=16, seed=0)
    with pytest.raises(ValueError, match="positive"):
        random_requests(tiny_tokenizer, 0, 32, 16)


def test_sharegpt_like_requests_follow_the_one_length_distribution(tiny_tokenizer) -> None:
    # bench re-exports kv_cache's sampler: one ShareGPT-like distribution in the package, not two.
    from genai_lab.serving import kv_cache

    assert sharegpt_like_lengths is kv_cache.sharegpt_like_lengths
    reqs = sharegpt_like_requests(tiny_tokenizer, 40, seed=3, max_len=256)
    prompt_lens, output_lens = kv_cache.sharegpt_like_lengths(40, seed=3, max_len=256)
    assert [r.expected_output_len for r in reqs] == output_lens.tolist()
    for r, want in zip(reqs, prompt_lens.tolist(), strict=True):
        assert r.prompt_len == len(tiny_tokenizer(r.prompt, add_special_tokens=False).input_ids)
        assert want - 4 <= r.prompt_len <= want  # re-encoding may merge a few tokens, never add
        assert r.prompt_len + r.expected_output_len <= 256
    assert len({r.prompt_len for r in reqs}) > 10  # heavy-tailed, not one length
    with pytest.raises(ValueError, match="max_model_len"):
        sharegpt_like_requests(tiny_tokenizer, 2, max_len=1)


def test_format_table_is_the_packages_table_printer() -> None:
    from genai_lab.tables import markdown_table

    rows = [{"rate": 1.0, "tok_s": 1234.567}, {"rate": math.inf, "tok_s": 2.0}]
    text = format_table(rows, digits=1)
    assert text == markdown_table(rows, floatfmt=",.1f")
    assert "1,234.6" in text and "inf" in text


@pytest.fixture(scope="module")
def tiny_tokenizer():
    from transformers import AutoTokenizer

    from genai_lab.models import prepare_smollm2

    return AutoTokenizer.from_pretrained(prepare_smollm2())
