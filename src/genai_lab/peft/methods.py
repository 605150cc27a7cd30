"""Every method of the comparison, applied to SmolLM2-135M with a 2-class classification head.

Each method gets a learning rate suited to it (the classification head ``score`` always trains at
``HEAD_LR``):

============ ========= ==========================================================================
method       lr        why
============ ========= ==========================================================================
full         5e-5      all 135M weights move; a larger step destroys what pre-training learned
lora         5e-4      the LoRA paper's range; ``B = 0`` at start, so updates start small
adapter      1e-3      small near-identity bottlenecks, like LoRA but fewer constraints
ia3          3e-3      one scale per channel around 1; the IA3 paper uses 3e-3
prefix       3e-3      keys/values through a reparameterisation MLP
prompt       3e-2      a handful of input vectors must move far; prompt tuning needs large steps
ptuning      3e-3      prompt vectors produced by an MLP encoder, which damps the step
ptuning_v2   1e-2      P-tuning v2 (Liu et al. 2022): deep prompts, i.e. trainable keys and values
                       in every layer learned directly (``peft``'s prefix tuning without the
                       reparameterisation MLP), read by the classification head; they start
                       from the keys and values of ``PROMPT_INIT_TEXT`` (see
                       :func:`genai_lab.peft.prompts.init_deep_prompts_from_text`)
============ ========= ==========================================================================

These are the defaults; :mod:`genai_lab.peft.fair` chooses each method's rate from a small grid on a
tuning split carved from train, at an equal step budget.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

HEAD_LR = 5e-4
PROMPT_INIT_TEXT = "Classify the sentiment of this movie review as positive or negative:"


@dataclass(frozen=True)
class MethodSpec:
    name: str
    lr: float
    source: str  # "peft", "ours" or "-"
    settings: str


METHODS: dict[str, MethodSpec] = {
    "full": MethodSpec("full", 5e-5, "-", "all weights"),
    "lora": MethodSpec("lora", 5e-4, "peft", "r=8, alpha=32, dropout=0.1, q_proj+v_proj"),
    "adapter": MethodSpec("adapter", 1e-3, "ours", "Houlsby bottleneck 16 after attn and MLP"),
    "ia3": MethodSpec("ia3", 3e-3, "peft", "k_proj, v_proj, down_proj (peft defaults)"),
    "prefix": MethodSpec("prefix", 3e-3, "peft", "16 virtual tokens, MLP 192->128->11520"),
    "prompt": MethodSpec("prompt", 3e-2, "peft", "16 virtual tokens, initialised from text"),
    "ptuning": MethodSpec("ptuning", 3e-3, "peft", "16 virtual tokens, MLP encoder 128"),
    "ptuning_v2": MethodSpec(
        "ptuning_v2", 1e-2, "peft", "deep prompts: 16 keys/values per layer, no MLP, initialised from text"
    ),
}


def load_classifier(seed: int = 0) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """SmolLM2-135M-Instruct with a fresh 2-way ``score`` head (seeded), and its tokenizer set to
    left padding."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, logging

    from genai_lab.models import prepare_smollm2

    path = prepare_smollm2()
    tokenizer = AutoTokenizer.from_pretrained(path)
    tokenizer.padding_side = "left"
    torch.manual_seed(seed)
    verbosity = logging.get_verbosity()
    logging.set_verbosity_error()  # the "score.weight newly initialised" report is expected
    try:
        model = AutoModelForSequenceClassification.from_pretrained(
            path, num_labels=2, dtype=torch.float32, pad_token_id=tokenizer.pad_token_id
        )
    finally:
        logging.set_verbosity(verbosity)
    return model.eval(), tokenizer


def peft_config(method: str, tokenizer_path: str | None = None) -> Any:
    """The ``peft`` configuration of one of the peft methods (``METHODS[m].source == "peft"``).

    ``tokenizer_path`` is the tokenizer that turns ``PROMPT_INIT_TEXT`` into prompt tuning's initial
    vectors (``PromptTuningInit.TEXT``, as Lester et al. 2021 initialise from words); default SmolLM2's.
    ``ptuning_v2`` is P-tuning v2's deep prompts: ``PrefixTuningConfig`` without the projection, which
    ``peft``'s maintainers name as its implementation (prompts in every layer, a classification head)."""
    from peft import (
        IA3Config,
        LoraConfig,
        PrefixTuningConfig,
        PromptEncoderConfig,
        PromptTuningConfig,
        PromptTuningInit,
    )

    if method not in METHODS or METHODS[method].source != "peft":
        peft_methods = sorted(m for m, spec in METHODS.items() if spec.source == "peft")
        raise ValueError(f"{method!r} is not a peft method; choose from {peft_methods}.")
    if method == "lora":
        return LoraConfig(
            task_type="SEQ_CLS", r=8, lora_alpha=32, lora_dropout=0.1, target_modules=["q_proj", "v_proj"]
        )
    if method == "ia3":
        return IA3Config(task_type="SEQ_CLS")
    if method == "prefix":
        return PrefixTuningConfig(
            task_type="SEQ_CLS", num_virtual_tokens=16, prefix_projection=True, encoder_hidden_size=128
        )
    if method == "ptuning_v2":
        return PrefixTuningConfig(task_type="SEQ_CLS", num_virtual_tokens=16, prefix_projection=False)
    if method == "prompt":
        if tokenizer_path is None:
            from genai_lab.models import prepare_smollm2

            tokenizer_path = str(prepare_smollm2())
        return PromptTuningConfig(
            task_type="SEQ_CLS",
            num_virtual_tokens=16,
            prompt_tuning_init=PromptTuningInit.TEXT,
            prompt_tuning_init_text=PROMPT_INIT_TEXT,
            tokenizer_name_or_path=tokenizer_path,
        )
    return PromptEncoderConfig(task_type="SEQ_CLS", num_virtual_tokens=16, encoder_hidden_size=128)


def prepare(
    method: str, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, tokenizer_path: str | None = None
) -> nn.Module:
    """Apply ``method`` to a fresh classifier from :func:`load_classifier`; returns the model to
    train (a ``PeftModel`` for the peft methods, the model itself otherwise). ``tokenizer_path``: see
    :func:`peft_config`."""
    if method not in METHODS:
        raise ValueError(f"Unknown method {method!r}; choose from {sorted(METHODS)}.")
    from peft import get_peft_model

    from genai_lab.peft.adapters import add_adapters

    if method == "full":
        for p in model.parameters():
            p.requires_grad_(True)
        return model
    if method == "adapter":
        add_adapters(model, bottleneck=16, trainable=("score",))
        return model
    peft_model = get_peft_model(model, peft_config(method, tokenizer_path))
    if method == "ptuning_v2":
        from genai_lab.peft.prompts import init_deep_prompts_from_text

        init_deep_prompts_from_text(peft_model, tokenizer, PROMPT_INIT_TEXT)
    return peft_model


def adapter_bytes(model: nn.Module, method: str) -> int:
    """Bytes on disk of what this method must store per task: ``save_pretrained``'s folder for the
    peft methods, a safetensors file of the trainable weights otherwise (all weights for ``full``)."""
    from genai_lab.peft.common import folder_bytes, save_trainable

    with tempfile.TemporaryDirectory() as tmp:
        if METHODS[method].source == "peft":
            model.save_pretrained(tmp)  # type: ignore[operator]  # a PeftModel, typed as nn.Module
            return folder_bytes(tmp)
        return save_trainable(model, Path(tmp) / "adapter.safetensors")


def _rss_mb() -> float:
    """Current resident memory of this process in MB (the package's one RSS measure)."""
    from genai_lab.runtime import rss_bytes

    return rss_bytes() / 2**20


def _probe(method: str, batch_size: int, seq_len: int, steps: int) -> dict[str, float]:
    """Resident memory after loading, and its peak during ``steps`` training steps.

    Loading leaves freed memory inside the allocator; ``malloc_trim`` hands it back so that what
    training allocates shows up in the resident size, which a thread samples every millisecond."""
    import ctypes
    import gc
    import threading

    import torch

    torch.manual_seed(0)
    base, tokenizer = load_classifier()
    model = prepare(method, base, tokenizer)
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:  # pragma: no cover - not glibc
        pass
    loaded = _rss_mb()
    peak = loaded
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _rss_mb())
            done.wait(0.001)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)
    ids = torch.randint(3, 1000, (batch_size, seq_len))
    batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": torch.randint(0, 2, (batch_size,))}
    model.train()
    for _ in range(steps):
        model(**batch).loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    done.set()
    sampler.join()
    peak = max(peak, _rss_mb())
    return {"loaded_mb": round(loaded, 1), "peak_mb": round(peak, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Measure one method's peak training memory.")
    sub = parser.add_subparsers(dest="command", required=True)
    probe = sub.add_parser("probe")
    probe.add_argument("method", choices=sorted(METHODS))
    probe.add_argument("--batch-size", type=int, default=16)
    probe.add_argument("--seq-len", type=int, default=40)
    probe.add_argument("--steps", type=int, default=3)
    args = parser.parse_args(argv)
    print(json.dumps(_probe(args.method, args.batch_size, args.seq_len, args.steps)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
