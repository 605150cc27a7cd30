"""A Part-1 LoRA adapter that a vLLM server can serve: SmolLM2 answers "positive" or "negative".

The course's second real adapter, beside the grounded reader (``data/reader/adapter``), so that one
vLLM server can serve two adapters at once (:mod:`genai_lab.serving.bench.multi_lora`). Part 1's
SST-2 comparison trains *classifiers* (a ``score`` head, which vLLM's generation server cannot load as
a LoRA module); this one is the lecture's configuration on a *causal LM*, SST-2 cast as generation::

    LoraConfig(task_type="CAUSAL_LM", r=8, lora_alpha=32, lora_dropout=0.1)   # q_proj, v_proj

- the prompt is :data:`genai_lab.peft.train.ZERO_SHOT_PROMPT` in SmolLM2's chat template, the target
  the label word (``positive`` / ``negative``) and ``<|im_end|>``; the loss is on the target only
  (labels ``-100`` on the prompt, :func:`genai_lab.reader.data.collate`);
- the data: GLUE SST-2 ``train`` from :func:`genai_lab.paths.benchmark` (``"sst2"``), or the project's
  small fallback set when that folder is absent (:func:`genai_lab.peft.data.load_sst2`); the saved
  config says which;
- the loop is the reader's (:func:`genai_lab.peft.train.optimizer_step`, length-bucketed batches, a
  time budget) and stops after ``steps`` or ``max_seconds``, whichever comes first;
- the adapter is saved in ``peft``'s format to ``data/adapters/sst2_sentiment/`` with
  ``base_model_name_or_path`` set to the hub id (as :func:`genai_lab.reader.train.tidy_adapter_folder`
  does), a model card, the training curve and ``sst2_train_config.json`` (how it was trained, and the
  dev accuracy of the base model and of the adapter, scored as in
  :func:`genai_lab.peft.train.zero_shot_accuracy`).

Train it (a few minutes on two CPU cores)::

    python -m genai_lab.peft.sst2_adapter                 # -> data/adapters/sst2_sentiment/
    python -m genai_lab.peft.sst2_adapter --steps 2 --out /tmp/x   # a smoke run
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from genai_lab.peft.data import LABEL_NAMES, Example

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn
    from transformers import PreTrainedTokenizerBase

    from genai_lab.reader.data import TokenizedExample
    from genai_lab.reader.train import TrainingCurve

ADAPTER_NAME = "sst2"  # the LoRA module name the multi-LoRA benchmark serves it under
CONFIG_FILE = "sst2_train_config.json"
MODEL_CARD = """# SmolLM2-135M-Instruct SST-2 sentiment (LoRA)

A LoRA adapter for `{base}`, trained by `python -m genai_lab.peft.sst2_adapter` (GenAI Service Lab,
Part 1) with the lecture's configuration `LoraConfig(task_type="CAUSAL_LM", r=8, lora_alpha=32,
lora_dropout=0.1)`: asked "Is the sentiment of this movie review positive or negative? Answer with one
word." in the chat template, it answers `positive` or `negative`. Data, steps and dev accuracy are in
`{config_file}`, the curve in `train_curve.json`.

vLLM: `--enable-lora --max-lora-rank 8 --lora-modules sst2=data/adapters/sst2_sentiment`, then ask for
the model `sst2`. In process: `PeftModel.from_pretrained(smollm2, "data/adapters/sst2_sentiment")`.
"""


def adapter_dir() -> Path:
    """Where the course's SST-2 adapter lives: ``data/adapters/sst2_sentiment/``."""
    from genai_lab.paths import data_dir

    return data_dir() / "adapters" / "sst2_sentiment"


@dataclass
class Sst2AdapterConfig:
    """How the adapter is trained. ``steps`` and ``max_seconds``: whichever ends training first."""

    steps: int = 120
    max_seconds: float = 240.0  # a few minutes of a 2-core CPU
    batch_size: int = 8
    lr: float = 5e-4
    warmup_steps: int = 10
    max_grad_norm: float = 1.0
    train_limit: int | None = 4000  # SST-2 train sentences drawn with ``seed`` (None: all)
    eval_limit: int | None = 128  # dev sentences scored before and after training (None: all)
    max_length: int = 160  # tokens of prompt + answer; longer examples are left out
    seed: int = 0
    bf16: bool | None = None  # bfloat16 autocast; None: where it is native


def prompt_text(tokenizer: PreTrainedTokenizerBase, sentence: str) -> str:
    """The chat-templated question about ``sentence``, ending with the assistant's turn opening (the
    prompt of :func:`genai_lab.peft.train.zero_shot_accuracy`)."""
    from genai_lab.peft.train import ZERO_SHOT_PROMPT

    messages = [{"role": "user", "content": ZERO_SHOT_PROMPT.format(text=sentence)}]
    return str(tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True))


def tokenize(tokenizer: PreTrainedTokenizerBase, example: Example) -> TokenizedExample:
    """The prompt, then the label word and ``<|im_end|>``; labels ``-100`` on the prompt."""
    from genai_lab.reader.data import IGNORE_INDEX, TokenizedExample, end_of_turn_id

    if example.label not in (0, 1):
        raise ValueError(f"label {example.label!r} of {example.text[:40]!r} is not 0 (negative) or 1 (positive).")
    prompt = list(tokenizer(prompt_text(tokenizer, example.text), add_special_tokens=False)["input_ids"])
    answer = [*tokenizer(LABEL_NAMES[example.label], add_special_tokens=False)["input_ids"], end_of_turn_id(tokenizer)]
    return TokenizedExample(prompt + answer, [IGNORE_INDEX] * len(prompt) + answer)


def train_adapter(
    model: nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    examples: Sequence[Example],
    config: Sst2AdapterConfig,
    progress: bool = True,
) -> TrainingCurve:
    """Train the trainable parameters of ``model`` (a ``peft`` LoRA model) on ``examples`` as
    generation, with the loss on the label word only; stops after ``steps`` or ``max_seconds``. The loop
    is the reader's (:func:`genai_lab.reader.train.train_steps`)."""
    from genai_lab.reader.train import train_steps

    items = [tokenize(tokenizer, e) for e in examples]
    kept = [x for x in items if len(x) <= config.max_length]
    return train_steps(
        model, tokenizer, kept, dropped=len(items) - len(kept), steps=config.steps,
        max_seconds=config.max_seconds, batch_size=config.batch_size, max_length=config.max_length, lr=config.lr,
        weight_decay=0.01, warmup_steps=config.warmup_steps, max_grad_norm=config.max_grad_norm, seed=config.seed,
        bf16=config.bf16, desc="sst2 adapter", progress=progress,
    )  # fmt: skip


def tidy_adapter_folder(out: Path, info: dict[str, Any]) -> None:
    """Name the base model by its hub id (as the reader's folder does; ``save_pretrained`` writes this
    machine's cache path), write the model card and ``info`` as :data:`CONFIG_FILE`."""
    from genai_lab.reader.train import BASE_MODEL_ID

    config_path = out / "adapter_config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config["base_model_name_or_path"] = BASE_MODEL_ID
    config_path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    (out / "README.md").write_text(MODEL_CARD.format(base=BASE_MODEL_ID, config_file=CONFIG_FILE), encoding="utf-8")
    (out / CONFIG_FILE).write_text(json.dumps(info, indent=1) + "\n", encoding="utf-8")


class _LastPositionLogits:
    """``model`` as :func:`~genai_lab.peft.train.zero_shot_accuracy` calls it, with the logits of the
    last position only (``logits_to_keep=1``): projecting every position onto SmolLM2's 49,152-token
    vocabulary is most of a scoring pass, and the score reads the last position alone."""

    def __init__(self, model: Any) -> None:
        self.model = model

    @property
    def device(self) -> Any:
        return self.model.device

    def eval(self) -> _LastPositionLogits:
        self.model.eval()
        return self

    def __call__(self, **kwargs: Any) -> Any:
        return self.model(**kwargs, logits_to_keep=1)


def dev_accuracy(model: Any, tokenizer: PreTrainedTokenizerBase, examples: list[Example]) -> float:
    """Accuracy on ``examples`` scored as :func:`genai_lab.peft.train.zero_shot_accuracy` scores
    (``positive`` against ``negative`` after the chat-templated question)."""
    from genai_lab.peft.train import zero_shot_accuracy

    return zero_shot_accuracy(cast(Any, _LastPositionLogits(model)), tokenizer, examples)


def run_training(
    out: Path | None = None, config: Sst2AdapterConfig | None = None, progress: bool = True
) -> tuple[Path, dict[str, Any]]:
    """Load SmolLM2, add the lecture's LoRA, score the dev subset, train, score again, save into
    ``out`` (default :func:`adapter_dir`). Returns the folder and what was written to :data:`CONFIG_FILE`."""
    from peft import get_peft_model

    from genai_lab.models import load_smollm2
    from genai_lab.peft.data import load_sst2
    from genai_lab.reader.train import seed_lora_config

    config = config or Sst2AdapterConfig()
    out = out or adapter_dir()
    train, train_source = load_sst2("train", config.train_limit, config.seed)
    dev, dev_source = load_sst2("dev", config.eval_limit, config.seed)
    model, tokenizer = load_smollm2(device="cpu")
    lora = seed_lora_config()
    peft_model: Any = get_peft_model(model, lora)  # B starts at zero: the model is still the base model
    base_accuracy = dev_accuracy(peft_model, tokenizer, dev)
    curve = train_adapter(peft_model, tokenizer, train, config, progress)
    adapter_accuracy = dev_accuracy(peft_model, tokenizer, dev)
    info = {
        "command": "python -m genai_lab.peft.sst2_adapter",
        "lora_config": {"task_type": "CAUSAL_LM", "r": lora.r, "lora_alpha": lora.lora_alpha,
                        "lora_dropout": lora.lora_dropout, "target_modules": sorted(lora.target_modules or [])},
        "train_config": asdict(config),
        "train_data": train_source,
        "dev_data": dev_source,
        "steps": curve.steps,
        "stopped_by": curve.stopped_by,
        "loss_first_tenth": curve.summary()["loss_first"],
        "loss_last_tenth": curve.summary()["loss_last"],
        "dev_accuracy_base": base_accuracy,
        "dev_accuracy_adapter": adapter_accuracy,
        "train_seconds_note": "wall time of a run on a shared machine; not a measured result",
        "train_seconds": curve.summary()["seconds"],
    }
    return save_adapter(peft_model, curve, out, info), info


def save_adapter(model: Any, curve: TrainingCurve, out: Path, info: dict[str, Any]) -> Path:
    """``save_pretrained`` the adapter into ``out``, with the curve, the model card and ``info``
    (:func:`tidy_adapter_folder`)."""
    from genai_lab.reader.train import CURVE_FILE

    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    curve.save(out / CURVE_FILE)
    tidy_adapter_folder(out, info)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    defaults = Sst2AdapterConfig()
    parser = argparse.ArgumentParser(prog="python -m genai_lab.peft.sst2_adapter", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="adapter folder (default data/adapters/sst2_sentiment)")
    parser.add_argument("--steps", type=int, default=defaults.steps)
    parser.add_argument("--max-seconds", type=float, default=defaults.max_seconds)
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--eval-limit", type=int, default=defaults.eval_limit)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    args = parser.parse_args(argv)
    if args.steps < 1 or args.batch_size < 1 or args.max_seconds <= 0:
        parser.error("--steps and --batch-size must be at least 1 and --max-seconds positive")
    config = Sst2AdapterConfig(steps=args.steps, max_seconds=args.max_seconds, batch_size=args.batch_size,
                               eval_limit=args.eval_limit, seed=args.seed)
    out, info = run_training(args.out, config)
    print(f"adapter in {out}: {info['steps']} steps ({info['stopped_by']}), dev accuracy "
          f"{info['dev_accuracy_base']:.3f} (base) -> {info['dev_accuracy_adapter']:.3f} (adapter)")
    print(f"data: {info['train_data']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
