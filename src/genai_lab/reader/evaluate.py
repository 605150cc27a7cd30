"""Evaluating a reader: greedy answers in left-padded batches, SQuAD 2.0 scores, and faithfulness.

Scoring is :mod:`genai_lab.rag.scoring`'s, never re-implemented here: :func:`squad_scores` (the official
SQuAD 2.0 exact match and F1, the maximum over the gold answers, an abstention counting as the empty
answer) for SQuAD files, and :func:`contains_answer` (bounded: numbers match only as whole numbers) for
the faithfulness check. The reader cites, ``"France [1]"``; the citation marker is removed before a
SQuAD answer is scored (:func:`~genai_lab.reader.data.strip_citations`), since SQuAD scores the span.

The faithfulness check changes the number in the passage that holds the answer (``55 EUR`` becomes
``62 EUR`` there, and nowhere else) and asks again: a reader that reads answers with the new number; one
that answers from memory repeats the old one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genai_lab.numeric import mean_or_nan
from genai_lab.rag.scoring import contains_answer, is_abstention, squad_scores
from genai_lab.reader.data import ReaderExample, prompt_text, strip_citations
from genai_lab.reader.squad import SquadQuestion, to_example

if TYPE_CHECKING:  # pragma: no cover
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

# A reader: a list of examples in, one answer string per example out (in order).
Reader = Callable[[Sequence[ReaderExample]], list[str]]
SQUAD_KEYS = ("em", "f1", "hasans_f1", "noans_accuracy", "n")


class GreedyReader:
    """Greedy answers of a causal LM (base or with a ``peft`` adapter) to the chain's prompt, in
    batches sorted by length and left-padded (:func:`genai_lab.serving.engine.baselines.left_pad_batch`).

    ``abstain_bias`` is added to the logit of the abstention's first token (``"I"`` of "I don't know")
    through transformers' ``sequence_bias``: positive abstains more, negative less (see
    :mod:`genai_lab.reader.calibrate`, which tunes it on the dev split). 0 is plain greedy decoding."""

    def __init__(
        self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, max_new_tokens: int = 32,
        batch_size: int = 8, progress: bool = False, abstain_bias: float = 0.0,
    ) -> None:
        self.model, self.tokenizer = model, tokenizer
        self.max_new_tokens, self.batch_size, self.progress = max_new_tokens, batch_size, progress
        self.abstain_bias = abstain_bias

    def __call__(self, examples: Sequence[ReaderExample]) -> list[str]:
        return self.read(examples, self.abstain_bias)[0]

    def read(
        self, examples: Sequence[ReaderExample], abstain_bias: float, first_logits: bool = False
    ) -> tuple[list[str], list[Any]]:
        """The answers with ``abstain_bias``, and (``first_logits``) each answer's raw logits at its
        first generated token (before the bias), one float tensor per example; else an empty list."""
        import torch
        from tqdm.auto import tqdm

        from genai_lab.reader.calibrate import bias_kwargs
        from genai_lab.reader.data import end_of_turn_id
        from genai_lab.serving.engine.baselines import left_pad_batch

        tok = self.tokenizer
        eot = end_of_turn_id(tok)
        pad = tok.pad_token_id if tok.pad_token_id is not None else eot
        ids = [list(tok(prompt_text(tok, e.docs, e.question), add_special_tokens=False)["input_ids"])
               for e in examples]
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        answers = [""] * len(ids)
        logits: list[Any] = [None] * len(ids) if first_logits else []
        generate: Any = self.model.generate  # GenerationMixin's; PreTrainedModel's type does not declare it
        self.model.eval()
        starts = range(0, len(order), self.batch_size)
        with torch.inference_mode():
            for start in tqdm(starts, desc="reading", disable=not self.progress):
                chunk = order[start : start + self.batch_size]
                input_ids, mask = left_pad_batch([ids[i] for i in chunk], int(pad))
                out = generate(
                    input_ids=input_ids.to(self.model.device), attention_mask=mask.to(self.model.device),
                    max_new_tokens=self.max_new_tokens, do_sample=False, temperature=None, top_p=None, top_k=None,
                    eos_token_id=eot, pad_token_id=int(pad), return_dict_in_generate=True, output_logits=first_logits,
                    **bias_kwargs(tok, abstain_bias),
                )
                for row, i in enumerate(chunk):
                    new_tokens = out.sequences[row, input_ids.shape[1] :]
                    answers[i] = str(tok.decode(new_tokens, skip_special_tokens=True)).strip()
                    if first_logits:
                        logits[i] = out.logits[0][row].float().cpu()
        return answers, logits


def squad_report(questions: Sequence[SquadQuestion], answers: Sequence[str]) -> dict[str, float | int]:
    """``em`` and ``f1`` over all questions, ``hasans_f1`` over the answerable ones, ``noans_accuracy``
    (the share of unanswerable questions answered with an abstention) and ``n``; citation markers are
    stripped before scoring. ``nan`` where a group is empty."""
    if len(questions) != len(answers):
        raise ValueError(f"{len(answers)} answers for {len(questions)} questions.")
    if not questions:
        raise ValueError("squad_report needs at least one question.")
    # A bare citation ("[1]") is not an abstention: only the marker after an answer is stripped.
    scores = [squad_scores(strip_citations(a) or a, q.answers) for q, a in zip(questions, answers, strict=True)]
    has = [f for (_, f), q in zip(scores, questions, strict=True) if q.answerable]
    no = [e for (e, _), q in zip(scores, questions, strict=True) if not q.answerable]


    return {
        "em": mean_or_nan([e for e, _ in scores]), "f1": mean_or_nan([f for _, f in scores]),
        "hasans_f1": mean_or_nan(has), "noans_accuracy": mean_or_nan(no), "n": len(questions),
    }


def evaluate_squad(questions: Sequence[SquadQuestion], reader: Reader) -> dict[str, float | int]:
    """Answer every question with its paragraph as passage [1] and score the answers (:func:`squad_report`)."""
    answers = reader([to_example(q) for q in questions])
    return squad_report(questions, answers)


# ------------------------------------------------------------------------------------------------
# Faithfulness: change the number in the passage, the answer must follow
# ------------------------------------------------------------------------------------------------
_NUMBER = re.compile(r"(?<![\w.,])\d+(?:[.,]\d+)*(?![\w]|[.,]\d)")


@dataclass
class Perturbed:
    """An example whose answer number was changed in its gold passage(s): ``old`` -> ``new``."""

    example: ReaderExample
    old: str
    new: str


def changed_number(old: str) -> str:
    """A different number of the same shape: ``55`` -> ``62``, ``0.23`` -> ``0.30``, ``2,500`` ->
    ``2,507``: 7 added to the last group of digits (wrapping at that group's width)."""
    head, digits = re.match(r"(.*?)(\d+)$", old).groups()  # type: ignore[union-attr]
    value = (int(digits) + 7) % (10 ** len(digits))
    return f"{head}{value:0{len(digits)}d}"


def perturb(example: ReaderExample) -> Perturbed | None:
    """``example`` with the first whole number of its gold answer replaced, as a whole number, in every
    cited passage (and nowhere else), and its golds updated; None when the answer has no number or the
    cited passages do not contain it."""
    from langchain_core.documents import Document

    if not example.golds or not example.cite:
        return None
    match = _NUMBER.search(example.golds[0])
    if match is None:
        return None
    old = match.group()
    new = changed_number(old)
    pattern = re.compile(rf"(?<![\w.,]){re.escape(old)}(?![\w]|[.,]\d)")
    docs = list(example.docs)
    if any(re.search(rf"(?<![\w.,]){re.escape(new)}(?![\w]|[.,]\d)", docs[n - 1].page_content) for n in example.cite):
        return None  # the new number is already in the passage: the check could not tell the two apart
    changed = False
    for n in example.cite:
        doc = docs[n - 1]
        text, count = pattern.subn(new, doc.page_content)
        if count:
            docs[n - 1], changed = Document(page_content=text, metadata=dict(doc.metadata)), True
    if not changed:
        return None
    golds = [pattern.sub(new, g) for g in example.golds]
    return Perturbed(replace(example, docs=docs, golds=golds, target=pattern.sub(new, example.target)), old, new)


def faithfulness(examples: Sequence[ReaderExample], reader: Reader) -> dict[str, Any]:
    """The share of perturbable examples (see :func:`perturb`) whose answer contains the *new* number
    (bounded :func:`contains_answer`) and not the old one. Returns ``score``, ``n`` and the ``records``."""
    cases = [p for p in (perturb(e) for e in examples) if p is not None]
    if not cases:
        raise ValueError("No example has a number in its answer that appears in its cited passage.")
    answers = reader([c.example for c in cases])
    records: list[dict[str, Any]] = []
    follows: list[bool] = []
    for case, answer in zip(cases, answers, strict=True):
        ok = contains_answer(answer, case.new) and not contains_answer(answer, case.old) and not is_abstention(answer)
        follows.append(ok)
        records.append({"id": case.example.id, "old": case.old, "new": case.new, "answer": answer, "follows": ok})
    return {"score": sum(follows) / len(follows), "n": len(follows), "records": records}


# ------------------------------------------------------------------------------------------------
# Loading a reader
# ------------------------------------------------------------------------------------------------
def load_reader(adapter: Path | None, base: bool = False) -> tuple[Any, Any]:
    """SmolLM2 (``base=True``) or SmolLM2 with a ``peft`` adapter (``adapter``, default the course's
    :func:`~genai_lab.reader.train.adapter_dir`). A missing adapter is an error that says how to train it."""
    from genai_lab.models import load_smollm2
    from genai_lab.reader.train import adapter_dir

    if base:
        return load_smollm2()
    path = Path(adapter) if adapter is not None else adapter_dir()
    if not (path / "adapter_config.json").is_file():
        raise FileNotFoundError(
            f"No trained reader adapter at {path} (no adapter_config.json). Train it with "
            "`python -m genai_lab.reader train` (at most 20 minutes on a CPU), point to one with --adapter PATH, "
            "or evaluate the base model with --base."
        )
    from peft import PeftModel

    model, tokenizer = load_smollm2()
    return PeftModel.from_pretrained(model, str(path)).eval(), tokenizer
