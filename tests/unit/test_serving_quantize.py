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
from genai_lab.serving.weight_only import Int8WeightOnlyLinear, quantize_int8_weight_only, quantize_rows


def test_int8_quantizes_linears_but_not_the_head() -> None:
    model = tiny_llama()
    q = quantize_int8(model)
    assert "quantized" in type(q.model.layers[0].mlp.up_proj).__module__
    assert type(q.lm_head) is torch.nn.Linear
    assert type(model.model.layers[0].mlp.up_proj) is torch.nn.Linear  # the original is untouched
    x = torch.randint(0, 128, (1, 12))
    with torch.inference_mode():
        assert torch.allclose(model(x).logits, q(x).logits, atol=0.1)


def test_weight_only_int8_is_per_channel_and_leaves_the_head_and_original_alone() -> None:
    model = tiny_llama()
    q = quantize_int8_weight_only(model)
    layer = q.model.layers[0].mlp.up_proj
    assert isinstance(layer, Int8WeightOnlyLinear)
    assert layer.weight_int8.dtype == torch.int8
    assert layer.scale.shape == (layer.out_features,)  # one scale per output channel
    assert type(q.lm_head) is torch.nn.Linear
    assert type(model.model.layers[0].mlp.up_proj) is torch.nn.Linear  # the original is untouched


def test_rows_round_like_pytorchs_per_channel_quantizer() -> None:
    import warnings

    torch.manual_seed(0)
    w = torch.randn(16, 40) * torch.linspace(0.01, 3.0, 16)[:, None]
    q, scale = quantize_rows(w)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # quantized tensors are deprecated in PyTorch; fine as a reference
        ref = torch.quantize_per_channel(w, scale.double(), torch.zeros(16, dtype=torch.long), 0, torch.qint8)
    assert torch.equal(q, ref.int_repr())
    assert q.abs().max() == 127
    assert (q.float() * scale[:, None] - w).abs().max() <= scale.max() / 2 + 1e-6


def test_int8_weight_only_linear_matches_its_dequantized_weight_on_any_shape() -> None:
    torch.manual_seed(0)
    linear = torch.nn.Linear(24, 10, bias=True)
    layer = Int8WeightOnlyLinear(linear)
    x = torch.randn(2, 3, 24)
    expected = x @ layer.dequantized().t() + linear.bias
    assert torch.allclose(layer(x), expected, atol=1e-5)
    assert torch.allclose(layer(x), linear(x), atol=0.05)
    with pytest.raises(ValueError, match="2-D weight"):
        quantize_rows(torch.ones(2, 3, 4))


def test_per_channel_scales_survive_an_outlier_row_that_ruins_a_per_tensor_scale() -> None:
    """One output row with 50x larger weights: a per-tensor scale rounds every other row to a few
    levels (the dynamic int8 failure of notebook 23); per-channel scales keep each row's precision."""
    torch.manual_seed(0)
    model = tiny_llama(hidden_size=96, intermediate_size=256, num_heads=3)
    with torch.no_grad():
        for layer in model.model.layers:
            layer.mlp.up_proj.weight[0] *= 50
            layer.self_attn.q_proj.weight[0] *= 50
    x = torch.randint(0, 128, (1, 16))
    with torch.inference_mode():
        ref = model(x).logits
        err_tensor = (quantize_int8(model)(x).logits - ref).abs().mean().item()
        err_channel = (quantize_int8_weight_only(model)(x).logits - ref).abs().mean().item()
    assert err_channel < 0.25 * err_tensor


def test_sizes_shrink_with_precision() -> None:
    model = tiny_llama(hidden_size=96, intermediate_size=256, num_heads=3)
    sizes = {d: model_size_mb(load_variant(d, model)) for d in ("float32", "bfloat16", "int8", "int8_weight_only")}
    assert sizes["bfloat16"] < 0.6 * sizes["float32"]
    assert sizes["int8"] < sizes["float32"]
    assert sizes["int8_weight_only"] < 0.6 * sizes["float32"]  # int8 weights and one scale per row, serialized
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
