"""One small training loop shared by every method, plus evaluation.

The loop is deliberately plain (AdamW, linear warm-up and decay, gradient clipping, a fixed seed, a
``tqdm`` bar with the running loss) so that the methods differ only in what they make trainable and
in their learning rate. It records the seconds of every step; :func:`probe_peak_memory` measures the
peak memory of a few training steps in a fresh process, where the operating system's peak resident
size belongs to that method alone.
"""

from __future__ import annotations

import json
import math
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from genai_lab.peft.data import Example, Tokenized, bucketed_batches, endless_batches

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn
    from transformers import PreTrainedModel, PreTrainedTokenizerBase


@dataclass
class TrainConfig:
    steps: int = 250
    batch_size: int = 16
    lr: float = 5e-4
    head_lr: float | None = None  # learning rate of parameters named like ``head_names``; None: lr
    head_names: tuple[str, ...] = ("score",)
    warmup_steps: int = 10
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    seed: int = 0
    log_every: int = 25
    eval_every: int = 0  # > 0: score ``eval_data`` before training and every that many steps (a learning curve)


@dataclass
class TrainResult:
    losses: list[float] = field(default_factory=list)
    step_seconds: list[float] = field(default_factory=list)
    log: list[tuple[int, float]] = field(default_factory=list)
    curve: list[tuple[int, float]] = field(default_factory=list)  # (step, accuracy on eval_data)

    @property
    def seconds(self) -> float:
        return sum(self.step_seconds)

    @property
    def mean_step_seconds(self) -> float:
        """Mean seconds per step, leaving out the first (warm-up) step."""
        steps = self.step_seconds[1:] or self.step_seconds
        return statistics.fmean(steps)


def _param_groups(model: nn.Module, config: TrainConfig) -> list[dict[str, Any]]:
    head: list[nn.Parameter] = []
    rest: list[nn.Parameter] = []
    for name, p in model.named_parameters():
        if p.requires_grad:
            (head if any(h in name for h in config.head_names) else rest).append(p)
    if not head and not rest:
        raise ValueError("The model has no trainable parameter; prepare it with a PEFT method first.")
    groups = [{"params": rest, "lr": config.lr}] if rest else []
    if head:
        groups.append({"params": head, "lr": config.head_lr or config.lr})
    return groups


def optimizer_step(
    model: nn.Module, batch: dict[str, Any], trainable: list[nn.Parameter], optimizer: Any, schedule: Any,
    max_grad_norm: float, bf16: bool = False,
) -> tuple[float, float]:
    """One training step: forward, backward, gradient clipping, optimizer and schedule step, zeroed
    gradients. Returns ``(loss, seconds)``. The course's loops (here and the reader's) share it.

    ``bf16=True`` runs the forward pass under ``torch.autocast`` in bfloat16 (mixed precision: the
    trainable weights, their gradients and the optimizer state stay float32)."""
    import torch

    start = time.perf_counter()
    device = next(model.parameters()).device.type
    with torch.autocast(device, dtype=torch.bfloat16, enabled=bf16):
        loss = model(**batch).loss
    loss.backward()
    torch.nn.utils.clip_grad_norm_(trainable, max_grad_norm)
    optimizer.step()
    schedule.step()
    optimizer.zero_grad(set_to_none=True)
    return float(loss.item()), time.perf_counter() - start


def bf16_is_fast(device: str = "cpu") -> bool:
    """Whether bfloat16 autocast pays on ``device``: a CUDA GPU that supports it, or a CPU with native
    bfloat16 instructions (AVX512-BF16 or AMX, as oneDNN reports); elsewhere it is emulated and slower."""
    import torch

    if device.startswith("cuda"):
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def train(
    model: nn.Module, data: Tokenized, config: TrainConfig, desc: str = "train", eval_data: Tokenized | None = None
) -> TrainResult:
    """Train ``model`` (anything whose forward takes ``input_ids``, ``attention_mask``, ``labels``
    and returns an object with ``.loss``) on bucketed batches of ``data``.

    With ``config.eval_every = k > 0``, ``eval_data`` is scored before the first step and every ``k``
    steps (and after the last), into ``result.curve``; evaluation draws no random numbers and is not
    timed, so the run and its step times are the same as without it."""
    import torch
    from tqdm.auto import tqdm
    from transformers import get_linear_schedule_with_warmup

    if config.eval_every < 0:
        raise ValueError(f"eval_every must be 0 (no curve) or a positive step count, got {config.eval_every}.")
    if config.eval_every and eval_data is None:
        raise ValueError("TrainConfig.eval_every is set but no eval_data was given: pass eval_data=... to train().")
    torch.manual_seed(config.seed)
    groups = _param_groups(model, config)
    optimizer = torch.optim.AdamW(groups, weight_decay=config.weight_decay)
    schedule = get_linear_schedule_with_warmup(optimizer, min(config.warmup_steps, config.steps), config.steps)
    trainable = [p for g in groups for p in g["params"]]
    batches = endless_batches(data.lengths, config.batch_size, seed=config.seed)
    result = TrainResult()

    def score(step: int) -> None:
        if config.eval_every and eval_data is not None and (step % config.eval_every == 0 or step == config.steps):
            result.curve.append((step, evaluate(model, eval_data, progress=False)))
            bar.set_postfix(loss=f"{statistics.fmean(result.losses[-config.log_every :] or [math.nan]):.3f}",
                            acc=f"{result.curve[-1][1]:.3f}")
            model.train()

    bar = tqdm(range(1, config.steps + 1), desc=desc)
    score(0)
    model.train()
    for step in bar:
        loss, seconds = optimizer_step(model, data.batch(next(batches)), trainable, optimizer, schedule,
                                       config.max_grad_norm)
        result.step_seconds.append(seconds)
        result.losses.append(loss)
        recent = statistics.fmean(result.losses[-config.log_every :])
        bar.set_postfix(loss=f"{recent:.3f}")
        if step % config.log_every == 0 or step == config.steps:
            result.log.append((step, recent))
        score(step)
    model.eval()
    return result


@dataclass
class StepBreakdown:
    """Mean seconds per training step, by phase (the first, warm-up step left out)."""

    forward: float
    backward: float
    optimizer: float  # gradient clipping, AdamW update, zeroing the gradients
    trainable: int

    @property
    def total(self) -> float:
        return self.forward + self.backward + self.optimizer


def step_breakdown(model: nn.Module, batch: dict[str, Any], steps: int = 5, lr: float = 1e-5) -> StepBreakdown:
    """Time the phases of ``steps`` training steps of ``model`` on one fixed ``batch``.

    Shows where a step's time goes for each method: the forward pass and the backward pass run
    through the whole network whatever is trainable; only the weight gradients and the optimizer
    update shrink with the number of trainable parameters. One warm-up step is run first and left out.
    """
    import torch

    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}.")
    trainable = [p for p in model.parameters() if p.requires_grad]
    if not trainable:
        raise ValueError("The model has no trainable parameter; prepare it with a PEFT method first.")
    optimizer = torch.optim.AdamW(trainable, lr=lr)
    model.train()
    times: list[tuple[float, float, float]] = []
    for _ in range(steps + 1):
        t0 = time.perf_counter()
        loss = model(**batch).loss
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        t3 = time.perf_counter()
        times.append((t1 - t0, t2 - t1, t3 - t2))
    model.eval()
    fwd, bwd, opt = (statistics.fmean(t[i] for t in times[1:]) for i in range(3))
    return StepBreakdown(fwd, bwd, opt, sum(p.numel() for p in trainable))


def evaluate(
    model: nn.Module, data: Tokenized, batch_size: int = 32, desc: str = "eval", progress: bool = True
) -> float:
    """Accuracy of a classifier (``.logits`` of shape batch x classes) on ``data``; batches sorted by
    length, no gradients (``progress=False``: no progress bar)."""
    import torch
    from tqdm.auto import tqdm

    model.eval()
    correct = 0
    with torch.inference_mode():
        batches = bucketed_batches(data.lengths, batch_size, shuffle=False)
        for idx in tqdm(batches, desc=desc, disable=not progress):
            batch = data.batch(idx)
            labels = batch.pop("labels")
            logits = model(**batch).logits
            correct += (logits.argmax(-1) == labels).sum().item()
    return correct / len(data)


ZERO_SHOT_PROMPT = (
    "Is the sentiment of this movie review positive or negative? Answer with one word.\n\nReview: {text}"
)


def zero_shot_accuracy(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    examples: list[Example],
    batch_size: int = 32,
    prompt: str = ZERO_SHOT_PROMPT,
) -> float:
    """Zero-shot accuracy of a chat model: after the chat-templated question, compare the
    probability of answering "positive" against "negative" (first token, either capitalisation)."""
    import torch
    from tqdm.auto import tqdm

    def first_ids(words: tuple[str, ...]) -> list[int]:
        return sorted({tokenizer(w, add_special_tokens=False)["input_ids"][0] for w in words})

    neg, pos = first_ids(("negative", "Negative")), first_ids(("positive", "Positive"))
    texts = [
        tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt.format(text=e.text)}], tokenize=False, add_generation_prompt=True
        )
        for e in examples
    ]
    ids = tokenizer(texts, add_special_tokens=False)["input_ids"]
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    correct = 0
    model.eval()
    with torch.inference_mode():
        for start in tqdm(range(0, len(order), batch_size), desc="zero-shot"):
            chunk = order[start : start + batch_size]
            width = max(len(ids[i]) for i in chunk)
            x = torch.full((len(chunk), width), pad, dtype=torch.long)
            mask = torch.zeros_like(x)
            for row, i in enumerate(chunk):
                x[row, width - len(ids[i]) :] = torch.tensor(ids[i])
                mask[row, width - len(ids[i]) :] = 1
            logits = model(input_ids=x.to(model.device), attention_mask=mask.to(model.device)).logits[:, -1]
            score = logits[:, pos].logsumexp(-1) - logits[:, neg].logsumexp(-1)
            pred = (score > 0).long().cpu()
            correct += sum(int(p) == examples[i].label for p, i in zip(pred.tolist(), chunk, strict=True))
    return correct / len(examples)


def probe_peak_memory(method: str, batch_size: int = 16, seq_len: int = 40, steps: int = 3) -> dict[str, float]:
    """Peak resident memory (MB) of ``steps`` training steps of ``method`` on SmolLM2, measured in a
    fresh Python process (``python -m genai_lab.peft.methods probe ...``) so that nothing else in
    this process counts. Returns ``{"loaded_mb": ..., "peak_mb": ...}``."""
    cmd = [sys.executable, "-m", "genai_lab.peft.methods", "probe", method,
           "--batch-size", str(batch_size), "--seq-len", str(seq_len), "--steps", str(steps)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"Memory probe for {method!r} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])
