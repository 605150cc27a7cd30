"""The scorer against answers labelled by hand (data/eval/scorer_labels.jsonl): real answers of
notebook 32's full run (SmolLM2-135M with and without retrieval), each read and labelled correct or
incorrect by a person. The bounded scorer must agree with the labels at least 95% of the time; the
course's first, unbounded substring scorer is measured beside it, as the lesson on scorer bias."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from genai_lab.paths import data_dir
from genai_lab.rag.evaluation import label_agreement, label_verdicts, read_scorer_labels, scorer_labels_path
from genai_lab.rag.loaders import read_questions
from genai_lab.rag.scoring import unbounded_contains


@pytest.fixture(scope="module")
def labels() -> list[dict]:
    return read_scorer_labels()


def test_the_labels_are_enough_real_answers_of_every_kind(labels):
    assert len(labels) >= 40
    assert Counter(x["label"] for x in labels)[True] >= 10
    assert set(Counter(x["kind"] for x in labels)) == {"single_fact", "table", "multi_doc", "unanswerable"}
    assert all(x["note"].strip() and x["answer"].strip() for x in labels)


def test_the_labels_match_the_question_set(labels):
    """Gold answers and aliases are copied from data/kb/questions.jsonl; they must not drift from it."""
    questions = {q["id"]: q for q in read_questions(data_dir() / "kb")}
    for x in labels:
        q = questions[x["question_id"]]
        assert (x["kind"], x["gold"], x["aliases"]) == (q["kind"], q["answer"], q["aliases"]), x["question_id"]


def test_the_bounded_scorer_agrees_with_the_hand_labels(labels):
    result = label_agreement(labels)
    assert result["agreement"] >= 0.95, result
    assert result["false_negatives"] == 0, "the bounded scorer rejected an answer a person found correct"


def test_the_unbounded_scorer_agrees_less_and_overstates_accuracy(labels):
    bounded, unbounded = label_agreement(labels), label_agreement(labels, unbounded_contains)
    assert unbounded["agreement"] < bounded["agreement"]
    assert unbounded["scored_accuracy"] > bounded["scored_accuracy"] >= bounded["true_accuracy"]
    flipped = [x for x, old, new in zip(labels, label_verdicts(labels, unbounded_contains), label_verdicts(labels),
                                        strict=True) if old and not new]
    assert {x["gold"] for x in flipped} >= {"20 EUR", "3", "2"}  # numbers found inside 2024, INC-2025-030, 2025


def test_read_scorer_labels_names_a_bad_line(tmp_path):
    path = tmp_path / "labels.jsonl"
    path.write_text(json.dumps({"question_id": "q001", "label": "yes"}) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"labels.jsonl:1: needs the fields"):
        read_scorer_labels(path)
    with pytest.raises(FileNotFoundError, match="data/eval"):
        read_scorer_labels(tmp_path / "missing.jsonl")
    assert scorer_labels_path().name == "scorer_labels.jsonl"
