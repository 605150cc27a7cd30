"""Evaluating a RAG chain on the knowledge base's question set, and checking the scorer itself.

:func:`evaluate_answers` runs a chain on each question and scores the answer (:func:`score_answer`):
answer accuracy (the bounded :func:`~genai_lab.rag.scoring.contains_answer`, and not an abstention),
SQuAD 2.0 exact match and token F1, citation accuracy (a cited source is a gold source) and correct
abstention (on the unanswerable questions). :func:`summarise` averages them.

A scorer is itself a measurement that can be wrong. ``data/eval/scorer_labels.jsonl`` holds real
answers of notebook 32, each labelled correct or not by a person who read it;
:func:`label_agreement` says how often a scorer agrees with those labels.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genai_lab.numeric import mean_or_nan
from genai_lab.rag.scoring import cited_sources, contains_answer, is_abstention, squad_scores

if TYPE_CHECKING:  # pragma: no cover
    from langchain_core.documents import Document
    from langchain_core.runnables import Runnable

ContainsCheck = Callable[[str, str, Sequence[str]], bool]


@dataclass
class AnswerRecord:
    """One question's answer and its scores."""

    id: str
    kind: str
    question: str
    gold: str
    answer: str
    correct: bool
    abstained: bool
    cited: list[str] = field(default_factory=list)
    citation_correct: bool = False
    seconds: float = 0.0
    exact: int = 0
    f1: float = 0.0


def is_correct(question: dict, answer: str, contains: ContainsCheck = contains_answer) -> bool:
    """The course's verdict on one answer: on an unanswerable question, an abstention; otherwise the
    gold answer or an alias found by ``contains`` (default: the bounded check), and no abstention."""
    abstained = is_abstention(answer)
    if question["kind"] == "unanswerable":
        return abstained
    return contains(answer, question["answer"], question.get("aliases", ())) and not abstained


def score_answer(question: dict, answer: str, docs: Sequence[Document] = (), seconds: float = 0.0) -> AnswerRecord:
    """Score one answer against a question of the KB's question set."""
    gold_sources = {s["path"] for s in question.get("sources", [])}
    cited = cited_sources(answer, docs)
    unanswerable = question["kind"] == "unanswerable"
    golds = [] if unanswerable else [question["answer"], *question.get("aliases", ())]
    exact, f1 = squad_scores(answer, golds)
    return AnswerRecord(
        id=question["id"], kind=question["kind"], question=question["question"],
        gold=question["answer"], answer=answer, correct=is_correct(question, answer),
        abstained=is_abstention(answer), cited=sorted(cited), citation_correct=bool(cited & gold_sources),
        seconds=seconds, exact=exact, f1=f1,
    )


def summarise(records: Sequence[AnswerRecord]) -> dict[str, float]:
    """``answer_accuracy`` and ``citation_accuracy`` over the answerable questions,
    ``abstention_accuracy`` over the unanswerable ones, ``false_abstention_rate`` over the
    answerable ones, SQuAD 2.0 ``exact_match`` and ``f1`` over all questions, and the mean seconds per
    question."""
    answerable = [r for r in records if r.kind != "unanswerable"]
    unanswerable = [r for r in records if r.kind == "unanswerable"]


    return {
        "answer_accuracy": mean_or_nan([r.correct for r in answerable]),
        "citation_accuracy": mean_or_nan([r.citation_correct for r in answerable]),
        "abstention_accuracy": mean_or_nan([r.abstained for r in unanswerable]),
        "false_abstention_rate": mean_or_nan([r.abstained for r in answerable]),
        "exact_match": mean_or_nan([r.exact for r in records]),
        "f1": mean_or_nan([r.f1 for r in records]),
        "seconds_per_question": mean_or_nan([r.seconds for r in records]),
        "n_answerable": len(answerable),
        "n_unanswerable": len(unanswerable),
    }


def evaluate_answers(
    questions: Sequence[dict],
    chain: Runnable,
    with_sources: bool = True,
    progress: bool = False,
) -> list[AnswerRecord]:
    """Run ``chain`` on each question and score the answers.

    ``chain`` is a :func:`~genai_lab.rag.chain.build_rag_chain_with_sources` chain
    (``with_sources=True``: it returns ``{"docs", "answer"}``) or a chain that returns the answer string
    (``with_sources=False``, e.g. :func:`~genai_lab.rag.chain.build_plain_chain`).
    """
    items: Any = questions
    if progress:
        from tqdm.auto import tqdm

        items = tqdm(questions, desc="answering", unit="q")
    records = []
    for question in items:
        start = time.perf_counter()
        out = chain.invoke(question["question"])
        seconds = time.perf_counter() - start
        answer, docs = (out["answer"], out["docs"]) if with_sources else (out, [])
        records.append(score_answer(question, answer, docs, seconds))
    return records


def stratified_sample(questions: Sequence[dict], per_kind: int, seed: int = 0) -> list[dict]:
    """Up to ``per_kind`` questions of each kind, drawn with a fixed seed, in question-set order."""
    import random

    rng = random.Random(seed)
    chosen: set[str] = set()
    kinds: dict[str, list[dict]] = {}
    for q in questions:
        kinds.setdefault(q["kind"], []).append(q)
    for items in kinds.values():
        chosen.update(q["id"] for q in rng.sample(items, min(per_kind, len(items))))
    return [q for q in questions if q["id"] in chosen]


# ------------------------------------------------------------------------------------------------
# Checking the scorer against answers labelled by hand
# ------------------------------------------------------------------------------------------------
LABEL_FIELDS = ("question_id", "kind", "gold", "aliases", "answer", "label", "note")


def scorer_labels_path() -> Path:
    """``data/eval/scorer_labels.jsonl``: real answers, each labelled correct or incorrect by hand."""
    from genai_lab.paths import data_dir

    return data_dir() / "eval" / "scorer_labels.jsonl"


def read_scorer_labels(path: Path | None = None) -> list[dict]:
    """The labelled answers; each line has at least :data:`LABEL_FIELDS` (``label`` is true when the
    answer is correct)."""
    path = path or scorer_labels_path()
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found; the labelled answers ship with the repository in data/eval/")
    items = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        item = json.loads(line)
        missing = [f for f in LABEL_FIELDS if f not in item]
        if missing or not isinstance(item["label"], bool):
            raise ValueError(f"{path}:{n}: needs the fields {LABEL_FIELDS} with a true/false label; missing {missing}")
        items.append(item)
    return items


def label_verdicts(labels: Sequence[dict], contains: ContainsCheck = contains_answer) -> list[bool]:
    """The scorer's verdict (:func:`is_correct` with ``contains``) on each labelled answer."""
    return [is_correct({"kind": x["kind"], "answer": x["gold"], "aliases": x["aliases"]}, x["answer"], contains)
            for x in labels]


def label_agreement(labels: Sequence[dict], contains: ContainsCheck = contains_answer) -> dict[str, float]:
    """How a scorer compares with the hand labels: ``agreement`` (share of equal verdicts),
    ``false_positives`` (scored correct, labelled wrong), ``false_negatives``, the ``scored_accuracy`` the
    scorer reports and the ``true_accuracy`` of the labels, over ``n`` answers."""
    verdicts = label_verdicts(labels, contains)
    truth = [x["label"] for x in labels]
    n = len(labels)
    if n == 0:
        raise ValueError("label_agreement needs at least one labelled answer")
    return {
        "agreement": sum(v == t for v, t in zip(verdicts, truth, strict=True)) / n,
        "false_positives": sum(v and not t for v, t in zip(verdicts, truth, strict=True)),
        "false_negatives": sum(t and not v for v, t in zip(verdicts, truth, strict=True)),
        "scored_accuracy": sum(verdicts) / n,
        "true_accuracy": sum(truth) / n,
        "n": n,
    }
