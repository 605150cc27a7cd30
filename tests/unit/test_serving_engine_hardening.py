"""Engine hardening: failures stay with their request, abort frees blocks, bad token ids are refused,
and one device-to-host transfer per step."""

from __future__ import annotations

import pytest
import torch

from genai_lab.serving.engine import Engine, SamplingParams, left_pad_batch, summarize, summary_table

POISON = 7  # a token id the tests make the model fail on


@pytest.fixture(scope="module")
def model(varied_tiny_llama):
    return varied_tiny_llama  # tests/unit/conftest.py


PROMPTS = [[5, 9, 11, 30], [POISON, 12, 40], [50, 60, 70, 80, 90]]


def _clean_outputs(model):
    engine = Engine(model, num_blocks=32, block_size=4)
    return [o.token_ids for o in engine.generate(PROMPTS, SamplingParams(max_tokens=6))]


def _poisoned(engine, fail):
    """Make the runner fail (``fail="raise"``) or return NaN logits (``fail="nan"``) for any batch
    row whose sequence contains POISON."""
    real = engine.runner.forward

    def forward(batch):
        logits = real(batch)
        ids = batch.input_ids.tolist()
        starts = [0] + [r + 1 for r in batch.logits_rows.tolist()[:-1]]
        bad = [POISON in ids[a : b + 1] for a, b in zip(starts, batch.logits_rows.tolist(), strict=True)]
        if any(bad) and fail == "raise":
            raise RuntimeError("poisoned batch")
        logits[torch.tensor(bad)] = float("nan")
        return logits

    engine.runner.forward = forward
    return engine


@pytest.mark.parametrize("fail", ["raise", "nan"])
def test_a_request_that_fails_in_a_step_fails_alone(model, fail):
    expected = _clean_outputs(model)
    engine = _poisoned(Engine(model, num_blocks=32, block_size=4), fail)
    outs = engine.generate(PROMPTS, SamplingParams(max_tokens=6))
    assert outs[1].error is not None and outs[1].outputs[0].finish_reason == "error"
    assert not outs[1].finished_ok
    assert [outs[0].token_ids, outs[2].token_ids] == [expected[0], expected[2]]  # the others: unchanged
    assert outs[0].error is None and outs[0].finished_ok
    assert engine.allocator.num_free == 32 and engine.stats.failed_requests == 1
    assert not engine.has_unfinished_requests()


def test_abort_frees_the_blocks_of_running_and_waiting_requests(model):
    engine = Engine(model, num_blocks=32, block_size=4, max_num_seqs=1)
    first = engine.add_request([5, 6, 7, 8, 9], SamplingParams(max_tokens=20))
    second = engine.add_request([10, 11], SamplingParams(max_tokens=20))
    engine.step()
    engine.step()
    assert engine.allocator.num_free < 32 and len(engine.waiting) == 1
    out = engine.abort(first)
    assert out.outputs[0].finish_reason == "abort" and len(out.token_ids) == 2
    assert engine.allocator.num_free == 32 and not engine.running
    waiting = engine.abort(second)
    assert waiting.token_ids == [] and waiting.outputs[0].finish_reason == "abort"
    assert not engine.has_unfinished_requests() and engine.stats.aborted_requests == 2
    engine.allocator.check_invariants()
    with pytest.raises(KeyError, match="No unfinished request 0"):
        engine.abort(first)
    assert engine.step() == []


def test_abort_of_a_forked_request_frees_every_child(model):
    engine = Engine(model, num_blocks=32, block_size=4, max_num_seqs=4)
    rid = engine.add_request(list(range(3, 13)), SamplingParams(max_tokens=8, n=3, temperature=1.0, seed=0))
    engine.step()
    engine.step()
    assert len(engine.running) == 3
    out = engine.abort(rid)
    assert [c.finish_reason for c in out.outputs] == ["abort"] * 3
    assert engine.allocator.num_free == 32


@pytest.mark.parametrize("bad", [[5.7, 9], [5, 9.0], ["5"], [True, 5], [-1, 5]])
def test_non_integer_token_ids_are_refused_not_truncated(model, bad):
    engine = Engine(model, num_blocks=8, block_size=4)
    with pytest.raises((TypeError, ValueError), match="Token ids must be"):
        engine.add_request(bad)
    assert not engine.has_unfinished_requests()


def test_numpy_and_tensor_token_ids_are_accepted(model):
    import numpy as np

    engine = Engine(model, num_blocks=8, block_size=4)
    a = engine.add_request(np.array([5, 9, 11]), SamplingParams(max_tokens=2))
    b = engine.add_request(torch.tensor([5, 9, 11]), SamplingParams(max_tokens=2))
    outs = {o.request_id: o for _ in range(6) for o in engine.step()}
    assert outs[a].prompt_token_ids == [5, 9, 11] and outs[a].token_ids == outs[b].token_ids


def test_one_host_transfer_per_step(model, monkeypatch):
    """Per-token ``.item()`` / ``.tolist()`` / ``bool()`` / ``int()`` on tensors are host syncs."""
    engine = Engine(model, num_blocks=64, block_size=4, max_num_seqs=8)
    for i in range(6):
        params = SamplingParams(max_tokens=10, temperature=0.0 if i % 2 else 0.9, top_p=0.9, top_k=20, seed=i)
        engine.add_request([5 + i, 9, 11, 20 + i], params)
    engine.step()  # prefill
    counts = {"n": 0}
    for name in ("item", "tolist", "__bool__", "__int__", "__float__"):
        real = getattr(torch.Tensor, name)

        def counted(self, *args, _real=real, **kwargs):
            counts["n"] += 1
            return _real(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, counted)
    for _ in range(3):
        counts["n"] = 0
        engine.step()
        assert counts["n"] == 1  # the sampled tokens and their ok flags, moved together


def test_left_pad_batch_and_summary_table():
    ids, mask = left_pad_batch([[5, 6, 7], [8]], pad_token_id=0)
    assert ids.tolist() == [[5, 6, 7], [0, 0, 8]] and mask.tolist() == [[1, 1, 1], [0, 0, 1]]
    with pytest.raises(ValueError, match="at least one"):
        left_pad_batch([], 0)
    from genai_lab.serving.engine import CompletionOutput, RequestOutput

    outs = [RequestOutput(i, [1], [CompletionOutput(0, [2] * (i + 1), "length")], 0.0, 0.5, 1.0 + i) for i in range(3)]
    stats = summarize(outs)
    assert stats["output_tokens"] == 6 and stats["seconds"] == 3.0 and stats["latency_p50_s"] == 2.0
    table = summary_table({"engine": stats})
    assert table.splitlines()[0].startswith("| system") and "| engine" in table
