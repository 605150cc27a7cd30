"""Quantization helpers on a tiny random model (seconds)."""

from __future__ import annotations

import pytest
import torch

from genai_lab.models import tiny_llama
from genai_lab.serving.quantize import (
    greedy_agreement,
    load_variant,
    model_size_mb,
    perplexity,
    quantize_int8,
)


def test_int8_quantizes_linears_but_not_the_head() -> None:
    model = tiny_llama()
    q = quantize_int8(model)
    assert "quantized" in type(q.model.layers[0].mlp.up_proj).__module__
    assert type(q.lm_head) is torch.nn.Linear
    assert type(model.model.layers[0].mlp.up_proj) is torch.nn.Linear  # the original is untouched
    x = torch.randint(0, 128, (1, 12))
    with torch.inference_mode():
        assert torch.allclose(model(x).logits, q(x).logits, atol=0.1)


def test_sizes_shrink_with_precision() -> None:
    model = tiny_llama(hidden_size=96, intermediate_size=256, num_heads=3)
    sizes = {d: model_size_mb(load_variant(d, model)) for d in ("float32", "bfloat16", "int8")}
    assert sizes["bfloat16"] < 0.6 * sizes["float32"]
    assert sizes["int8"] < sizes["float32"]
    with pytest.raises(ValueError, match="choose one of"):
        load_variant("int4", model)


class _Tok:
    def __call__(self, text: str, return_tensors: str = "pt"):
        ids = torch.tensor([[ord(c) % 128 for c in text]])
        return type("Enc", (), {"input_ids": ids})()


def test_perplexity_window_matches_one_pass() -> None:
    model = tiny_llama(max_position_embeddings=512)
    text = "the quick brown fox jumps over the lazy dog " * 3
    full = perplexity(model, _Tok(), text, max_length=512, stride=512)
    ids = _Tok()(text).input_ids
    with torch.inference_mode():
        expected = torch.exp(model(input_ids=ids, labels=ids).loss).item()
    assert full == pytest.approx(expected, rel=1e-5)
    windowed = perplexity(model, _Tok(), text, max_length=64, stride=32)
    assert 1 < windowed < 200  # random model: near the vocabulary size, never degenerate


def test_greedy_agreement() -> None:
    ref = [[1, 2, 3, 4], [5, 6]]
    assert greedy_agreement(ref, ref) == {"exact": 1.0, "prefix": 1.0}
    assert greedy_agreement(ref, [[1, 2, 9, 9], [5, 6]]) == {"exact": 0.5, "prefix": 0.75}
    with pytest.raises(ValueError, match="Different numbers"):
        greedy_agreement(ref, ref[:1])
