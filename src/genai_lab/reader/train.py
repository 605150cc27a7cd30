"""Training the grounded reader: the course's seed LoRA configuration on SmolLM2's chat template.

The configuration is the seed's, exactly as written in notebook 10::

    LoraConfig(task_type="CAUSAL_LM", r=8, lora_alpha=32, lora_dropout=0.1)

(``peft`` then adapts ``q_proj`` and ``v_proj``, its default for Llama-shaped models).

**Loop: the course's own, not TRL's ``SFTTrainer``.** ``trl`` is not installed in the course
environment (and installing it is not this module's call); the loop here is also the lesson: about
fifty lines that show the three things supervised fine-tuning of a reader needs, with nothing hidden.
It follows :func:`genai_lab.peft.train.train` (AdamW, linear warm-up and decay, gradient clipping, a
fixed seed) and reuses its length bucketing (:func:`genai_lab.peft.data.endless_batches`: shuffle,
cut into buckets, sort each bucket by length, shuffle the batches), and adds what a generative reader
needs and that loop lacks:

* the loss is taken on the answer tokens only (the labels of :func:`~genai_lab.reader.data.tokenize_example`
  are ``-100`` on the prompt), and batches are right-padded with ``-100`` labels on the padding;
* a time budget: training stops before a step would start after ``max_seconds``;
* the training curve: the loss, seconds and tokens of every step, saved beside the adapter.

Cost, measured on the course's 2-core CPU (AMD EPYC with AVX512-BF16) with nothing else running:
batch 4, about 1,350 padded tokens a step (the chain's prompt is most of them; a few dozen are answer
tokens), about 5 s a step with bfloat16 autocast (float32: about 1.4x slower), 4 GB resident. Twenty
minutes are about 240 steps, some 1,000 examples: the time budget, not ``max_steps``, decides how much
of the mix a CPU run sees, so ``max_steps`` is set near what fits (the learning rate then decays).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genai_lab.reader.data import ABSTENTION, ReaderExample, TokenizedExample, collate, tokenize_example

if TYPE_CHECKING:  # pragma: no cover
    from peft import LoraConfig
    from torch import nn
    from transformers import PreTrainedTokenizerBase

CURVE_FILE = "train_curve.json"
ABSTAIN_SHARE = 0.35  # the most the training mix holds of "I don't know" targets (see rebalance)
SQUAD_LIMIT = 1200  # SQuAD train questions drawn into the mix (of 2,464): more than 20 CPU minutes can see
KB_REPEAT = 2  # the KB's train examples, twice over


def seed_lora_config(target_modules: str | list[str] | None = None) -> LoraConfig:
    """The seed's configuration, exactly as written: ``LoraConfig(task_type="CAUSAL_LM", r=8,
    lora_alpha=32, lora_dropout=0.1)`` (peft's default targets for Llama: ``q_proj`` and ``v_proj``).
    ``target_modules`` is the one ablation (``"all-linear"``: every linear layer but the head), to see
    what the seed's choice costs or buys; the seed's settings are otherwise unchanged."""
    from peft import LoraConfig

    # target_modules=None is LoraConfig's own default: the seed's configuration, exactly as written.
    return LoraConfig(task_type="CAUSAL_LM", r=8, lora_alpha=32, lora_dropout=0.1, target_modules=target_modules)


def adapter_dir() -> Path:
    """Where the course's trained reader adapter lives: ``data/reader/adapter/``."""
    from genai_lab.paths import data_dir

    return data_dir() / "reader" / "adapter"


@dataclass
class ReaderTrainConfig:
    max_steps: int = 300  # sized to the time budget on the course's CPU, so the learning rate decays
    max_seconds: float = 1200.0  # the budget: at most 20 minutes of CPU training
    batch_size: int = 4  # batch 8 needs over 12 GB of memory on a CPU (the attention of ~600-token prompts)
    lr: float = 5e-4
    warmup_steps: int = 20
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    max_length: int = 640  # longer examples are left out (truncating would cut the answer off)
    seed: int = 0
    bf16: bool | None = None  # bfloat16 autocast; None: where it is native (:func:`~genai_lab.peft.train.bf16_is_fast`)
    target_modules: str | None = None  # None: the seed's (q_proj, v_proj); "all-linear" for the ablation


@dataclass
class TrainingCurve:
    """One entry per optimizer step: ``loss`` (mean over the answer tokens of the batch), ``seconds``,
    ``tokens`` (all positions of the padded batch) and ``answer_tokens`` (those with a label)."""

    loss: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    tokens: list[int] = field(default_factory=list)
    answer_tokens: list[int] = field(default_factory=list)
    stopped_by: str = ""
    dropped_long: int = 0

    @property
    def steps(self) -> int:
        return len(self.loss)

    def summary(self) -> dict[str, float]:
        """Steps, total seconds, mean seconds and tokens per step (the first step left out of the
        seconds: it includes warm-up), and the mean loss of the first and the last tenth of the steps."""
        n = self.steps
        tenth = max(1, n // 10)
        later = self.seconds[1:] or self.seconds
        return {
            "steps": n,
            "seconds": sum(self.seconds),
            "seconds_per_step": sum(later) / len(later) if later else float("nan"),
            "tokens_per_step": sum(self.tokens) / n if n else float("nan"),
            "loss_first": sum(self.loss[:tenth]) / tenth if n else float("nan"),
            "loss_last": sum(self.loss[-tenth:]) / tenth if n else float("nan"),
        }

    def save(self, path: Path) -> None:
        path.write_text(json.dumps({**asdict(self), "summary": self.summary()}, indent=1) + "\n", encoding="utf-8")


def tokenize_all(
    tokenizer: PreTrainedTokenizerBase, examples: Sequence[ReaderExample], max_length: int
) -> tuple[list[TokenizedExample], int]:
    """Tokenised examples no longer than ``max_length``, and how many were left out for length."""
    items = [tokenize_example(tokenizer, e) for e in examples]
    kept = [x for x in items if len(x) <= max_length]
    return kept, len(items) - len(kept)


def add_seed_lora(model: nn.Module, target_modules: str | None = None) -> Any:
    """``peft.get_peft_model`` with :func:`seed_lora_config` (``target_modules``: the ablation)."""
    from peft import get_peft_model

    return get_peft_model(model, seed_lora_config(target_modules))


def train_reader(
    model: nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    examples: Sequence[ReaderExample],
    config: ReaderTrainConfig | None = None,
    progress: bool = True,
) -> TrainingCurve:
    """Train the trainable parameters of ``model`` (a ``peft`` model, see :func:`add_seed_lora`) on
    ``examples`` with the answer-only loss, length-bucketed batches, and a time budget."""
    config = config or ReaderTrainConfig()
    items, dropped = tokenize_all(tokenizer, examples, config.max_length)
    return train_steps(
        model, tokenizer, items, dropped=dropped, steps=config.max_steps, max_seconds=config.max_seconds,
        batch_size=config.batch_size, max_length=config.max_length, lr=config.lr,
        weight_decay=config.weight_decay, warmup_steps=config.warmup_steps, max_grad_norm=config.max_grad_norm,
        seed=config.seed, bf16=config.bf16, desc="reader", progress=progress,
    )  # fmt: skip


def train_steps(
    model: nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    items: Sequence[TokenizedExample],
    *,
    dropped: int,
    steps: int,
    max_seconds: float,
    batch_size: int,
    max_length: int,
    lr: float,
    weight_decay: float,
    warmup_steps: int,
    max_grad_norm: float,
    seed: int,
    bf16: bool | None,
    desc: str,
    progress: bool = True,
) -> TrainingCurve:
    """The course's LoRA training loop for generation (the reader, and Part 1's SST-2 adapter): AdamW
    with linear warm-up and decay, length-bucketed batches of already tokenized ``items`` (loss on the
    labelled tokens only), bfloat16 autocast where it is fast, and a step and time budget."""
    import torch
    from tqdm.auto import tqdm
    from transformers import get_linear_schedule_with_warmup

    from genai_lab.peft.data import endless_batches
    from genai_lab.peft.train import bf16_is_fast, optimizer_step

    if len(items) < batch_size:
        raise ValueError(f"{len(items)} examples fit max_length={max_length}; need at least batch_size={batch_size}.")
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    if pad is None:
        raise ValueError("The tokenizer has neither a pad nor an EOS token.")
    torch.manual_seed(seed)  # LoRA's initialisation is done; this fixes the dropout masks
    trainable = [p for p in model.parameters() if p.requires_grad]
    if not trainable:
        raise ValueError(
            "The model has no trainable parameter; wrap it with peft.get_peft_model first (add_seed_lora(model) "
            "for the lecture's configuration)."
        )
    optimizer = torch.optim.AdamW(trainable, lr=lr, weight_decay=weight_decay)
    schedule = get_linear_schedule_with_warmup(optimizer, min(warmup_steps, steps), steps)
    batches = endless_batches([len(x) for x in items], batch_size, seed=seed)
    device = next(model.parameters()).device
    use_bf16 = bf16_is_fast(device.type) if bf16 is None else bf16
    curve = TrainingCurve(dropped_long=dropped, stopped_by="max_steps")
    model.train()
    bar = tqdm(range(steps), desc=desc, disable=not progress)
    began = time.perf_counter()
    for _ in bar:
        if time.perf_counter() - began >= max_seconds:
            curve.stopped_by = "max_seconds"
            break
        batch = {k: v.to(device) for k, v in collate([items[i] for i in next(batches)], int(pad)).items()}
        loss, seconds = optimizer_step(model, batch, trainable, optimizer, schedule, max_grad_norm, use_bf16)
        curve.seconds.append(seconds)
        curve.loss.append(loss)
        curve.tokens.append(int(batch["input_ids"].numel()))
        curve.answer_tokens.append(int((batch["labels"] != -100).sum().item()))
        bar.set_postfix(loss=f"{loss:.3f}")
    model.eval()
    return curve


def training_examples(
    squad_limit: int | None = SQUAD_LIMIT, kb_repeat: int = KB_REPEAT, seed: int = 0,
    abstain_share: float | None = ABSTAIN_SHARE,
) -> list[ReaderExample]:
    """The training mix: SQuAD 2.0's train articles (``squad_limit`` of them drawn with ``seed``, or
    all) and the KB's train documents, repeated ``kb_repeat`` times (there are far fewer of them), with
    the abstentions cut to ``abstain_share`` of the mix (:func:`rebalance`; None keeps them all)."""
    from genai_lab.reader import squad
    from genai_lab.reader.kb import KnowledgeBase, build_examples

    questions = squad.select_split(squad.load_squad(squad.squad2_path()), "train", squad.load_split())
    mix = [squad.to_example(q) for q in squad.sample(questions, squad_limit, seed)]
    mix += build_examples(KnowledgeBase.load(), "train", seed=seed) * kb_repeat
    if abstain_share is not None:
        mix = rebalance(mix, abstain_share, seed)
    random.Random(seed).shuffle(mix)
    return mix


def rebalance(examples: Sequence[ReaderExample], abstain_share: float, seed: int = 0) -> list[ReaderExample]:
    """``examples`` with a seeded draw of the abstentions (target :data:`ABSTENTION`) left out, so that
    they make at most ``abstain_share`` of the result; the answers are all kept, in order.

    Why: SQuAD 2.0 and the KB examples are each about half abstentions, and a reader trained on that
    mix for a CPU budget learns that "I don't know" is the safe reply, and says it to most answerable
    questions too. Fewer abstention targets move that prior without dropping a single answer."""
    if not 0.0 <= abstain_share < 1.0:
        raise ValueError(f"abstain_share must be in [0, 1), got {abstain_share}.")
    abstain = [i for i, e in enumerate(examples) if e.target == ABSTENTION]
    answers = len(examples) - len(abstain)
    keep_n = min(len(abstain), round(abstain_share / (1.0 - abstain_share) * answers))
    keep = set(random.Random(seed).sample(abstain, keep_n))
    return [e for i, e in enumerate(examples) if e.target != ABSTENTION or i in keep]


BASE_MODEL_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
MODEL_CARD = """# SmolLM2-135M-Instruct grounded reader (LoRA)

A LoRA adapter for `{base}`, trained in notebook 35 of the GenAI Service Lab with the lecture's
configuration `LoraConfig(task_type="CAUSAL_LM", r=8, lora_alpha=32, lora_dropout=0.1)` to answer from
numbered passages, cite them (`"55 EUR [2]"`) and reply "I don't know" when they lack the answer.
Training data: SQuAD 2.0 train articles and the course knowledge base's train documents
(`data/reader/*_split.json`); the curve is in `train_curve.json`, the settings in
`reader_train_config.json`; the held-out figures in `results/35_grounded_reader.json`.

In process: `PeftModel.from_pretrained(smollm2, "data/reader/adapter")` (what
`genai_lab.rag.llm.get_chat_model()` does). vLLM: `--enable-lora --max-lora-rank 8 --lora-modules
reader=data/reader/adapter`, then ask for the model `reader`.
"""


def tidy_adapter_folder(out: Path) -> None:
    """Make a saved adapter folder portable: the base model named by its hub id, not by this machine's
    cache path (``save_pretrained`` writes the local path it loaded from), and a model card that says
    what the adapter is instead of peft's empty template."""
    config_path = out / "adapter_config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config["base_model_name_or_path"] = BASE_MODEL_ID
    config_path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    (out / "README.md").write_text(MODEL_CARD.format(base=BASE_MODEL_ID), encoding="utf-8")


def save_reader(model: Any, curve: TrainingCurve, out: Path, config: ReaderTrainConfig) -> Path:
    """``save_pretrained`` the adapter into ``out`` (made portable by :func:`tidy_adapter_folder`), with
    the training curve and the config beside it."""
    from genai_lab.reader.calibrate import DECODING_FILE

    out.mkdir(parents=True, exist_ok=True)
    (out / DECODING_FILE).unlink(missing_ok=True)  # an abstention bias tuned for the previous adapter is stale
    model.save_pretrained(out)
    tidy_adapter_folder(out)
    curve.save(out / CURVE_FILE)
    (out / "reader_train_config.json").write_text(json.dumps(asdict(config), indent=1) + "\n", encoding="utf-8")
    return out


def run_training(
    out: Path | None = None, config: ReaderTrainConfig | None = None, squad_limit: int | None = SQUAD_LIMIT,
    kb_repeat: int = KB_REPEAT, abstain_share: float | None = ABSTAIN_SHARE,
) -> tuple[Path, TrainingCurve]:
    """Load SmolLM2, add the seed LoRA, train on :func:`training_examples`, save into ``out``
    (default :func:`adapter_dir`)."""
    from genai_lab.models import load_smollm2

    config = config or ReaderTrainConfig()
    model, tokenizer = load_smollm2()
    peft_model = add_seed_lora(model, config.target_modules)
    mix = training_examples(squad_limit, kb_repeat, config.seed, abstain_share)
    curve = train_reader(peft_model, tokenizer, mix, config)
    return save_reader(peft_model, curve, out or adapter_dir(), config), curve
