"""Shrinking the model: float32, bfloat16 and two int8 schemes side by side on the same prompts.

- :func:`load_variant` gives SmolLM2 in ``float32``, ``bfloat16``, ``int8`` (PyTorch dynamic
  quantization: the weights of every ``nn.Linear`` but the output head stored as int8 with one scale per tensor, the
  activations quantized on the fly; it runs on any CPU), or ``int8_weight_only`` (the same weights as int8
  with one scale per output channel, activations left in float: :mod:`genai_lab.serving.weight_only`);
- :func:`model_size_mb` measures what the weights take (the serialized state dict, so packed int8
  weights count at their real size);
- :func:`perplexity` scores a held-out text with a sliding window;
- :func:`generate_greedy` and :func:`greedy_agreement` compare what the variants actually say.

Where the GGUF file we start from sits: SmolLM2 ships as ``Q4_1``, 4-bit blocks of 32 weights with
a scale and a minimum each (about 5 bits per weight). We dequantize it to float32 once
(:func:`genai_lab.models.prepare_smollm2`), so every variant here inherits Q4_1's rounding error; int8
is finer than Q4_1, bfloat16 finer still.
"""

from __future__ import annotations

import io
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

DTYPES = ("float32", "bfloat16", "int8", "int8_weight_only")


def quantize_int8(model: torch.nn.Module, skip: tuple[str, ...] = ("lm_head",)) -> torch.nn.Module:
    """Dynamic int8 quantization of every ``nn.Linear`` except those named in ``skip`` (a quantized
    copy; ``model`` is unchanged)."""
    import copy
    import warnings

    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization announces its move to torchao
        from torch.ao.quantization import default_dynamic_qconfig, quantize_dynamic

        # Every Linear but the output head: SmolLM2 ties it to the embeddings (kept in float32), and
        # the head's rounding errors go straight into the logits.
        spec = {
            name: default_dynamic_qconfig
            for name, module in model.named_modules()
            if isinstance(module, torch.nn.Linear) and name not in skip
        }
        return quantize_dynamic(copy.deepcopy(model), spec, dtype=torch.qint8)


def load_variant(dtype: str, model: PreTrainedModel | None = None) -> PreTrainedModel:
    """SmolLM2 (or a copy of ``model``) as one of :data:`DTYPES`, on the CPU."""
    import copy

    import torch

    if dtype not in DTYPES:
        raise ValueError(f"dtype={dtype!r}; choose one of {DTYPES}.")
    if model is None:
        from genai_lab.models import load_smollm2

        model, _ = load_smollm2(dtype=torch.float32, device="cpu")
    module: torch.nn.Module = model
    base = copy.deepcopy(module).to(torch.bfloat16) if dtype == "bfloat16" else module.float()
    if dtype == "int8":
        base = quantize_int8(base)  # a quantized copy of the same class, its Linear layers swapped
    elif dtype == "int8_weight_only":
        from genai_lab.serving.weight_only import quantize_int8_weight_only

        base = quantize_int8_weight_only(base)  # a copy, its Linear layers (but the head) int8 per channel
    return cast("PreTrainedModel", base.eval())


def model_size_mb(model: torch.nn.Module) -> float:
    """Megabytes of the serialized state dict (tied weights counted once, int8 packed weights at
    their real size)."""
    import torch

    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.getbuffer().nbytes / 1024**2


def perplexity(
    model: torch.nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    text: str,
    max_length: int = 512,
    stride: int = 256,
    max_tokens: int | None = None,
) -> float:
    """Perplexity of ``text`` with a sliding window (the recipe of the transformers docs): each
    window of ``max_length`` tokens scores only the tokens the previous window did not."""
    import math

    import torch

    ids = tokenizer(text, return_tensors="pt").input_ids
    if max_tokens is not None:
        ids = ids[:, :max_tokens]
    if ids.shape[1] < 2:
        raise ValueError("The text is shorter than two tokens; give a longer held-out text.")
    nll_sum, n_scored, prev_end = 0.0, 0, 0
    with torch.inference_mode():
        for begin in range(0, ids.shape[1], stride):
            end = min(begin + max_length, ids.shape[1])
            target_len = end - prev_end
            window = ids[:, begin:end]
            labels = window.clone()
            labels[:, :-target_len] = -100
            out = model(input_ids=window, labels=labels)
            scored = int((labels[:, 1:] != -100).sum())
            nll_sum += float(out.loss) * scored
            n_scored += scored
            prev_end = end
            if end == ids.shape[1]:
                break
    return math.exp(nll_sum / n_scored)


def generate_greedy(
    model: torch.nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[str],
    max_new_tokens: int = 32,
) -> tuple[list[list[int]], float]:
    """Greedy continuations of each prompt (one at a time, chat template applied) and the output
    tokens per second over all of them."""
    import torch

    outputs: list[list[int]] = []
    generate: Any = model.generate  # GenerationMixin's; nn.Module's type does not declare it
    n_tokens, start = 0, time.perf_counter()
    with torch.inference_mode():
        for prompt in prompts:
            inputs: Any = tokenizer.apply_chat_template(  # a BatchEncoding with return_dict=True
                [{"role": "user", "content": prompt}], add_generation_prompt=True, return_tensors="pt", return_dict=True
            )
            out = generate(
                **inputs, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=tokenizer.eos_token_id
            )
            new = out[0, inputs["input_ids"].shape[1] :].tolist()
            outputs.append(new)
            n_tokens += len(new)
    return outputs, n_tokens / (time.perf_counter() - start)


def greedy_agreement(reference: Sequence[Sequence[int]], other: Sequence[Sequence[int]]) -> dict[str, Any]:
    """How closely ``other``'s greedy outputs follow ``reference``'s.

    ``exact``: share of prompts with identical outputs; ``prefix``: mean share of the reference tokens
    produced before the first difference (greedy decoding diverges for good once one token differs).
    """
    if len(reference) != len(other):
        raise ValueError(f"Different numbers of outputs: {len(reference)} and {len(other)}.")
    if not reference:
        raise ValueError("No outputs to compare.")
    exact, prefix = 0, 0.0
    for ref, oth in zip(reference, other, strict=True):
        exact += list(ref) == list(oth)
        same = 0
        for a, b in zip(ref, oth, strict=False):
            if a != b:
                break
            same += 1
        prefix += same / max(1, len(ref))
    return {"exact": exact / len(reference), "prefix": prefix / len(reference)}
