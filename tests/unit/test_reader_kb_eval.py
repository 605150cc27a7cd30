"""The reader's KB evaluation through a chain: the three runs, the report, and the removed-answer filter."""

from __future__ import annotations

import re

import pytest
from langchain_core.documents import Document
from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableLambda

from genai_lab.rag.chain import build_vectorstore
from genai_lab.rag.evaluation import AnswerRecord
from genai_lab.reader.kb_eval import (
    KBReaderRun,
    evaluate_kb_reader,
    family_of,
    latest_version_ids,
    retriever_without,
)
from tests.conftest import KeywordEmbeddings

DOCS = [
    Document(page_content="The hub connects 64 sensors.", metadata={"source": "hub.md"}),
    Document(page_content="The old price was 40 eur.", metadata={"source": "price_2024.md"}),
    Document(page_content="The price is 55 eur.", metadata={"source": "price_2025.md"}),
    Document(page_content="Employees get 27 days of leave.", metadata={"source": "leave.md"}),
]
FAMILIES = {"price_2024.md": ["price_2024.md", "price_2025.md"], "price_2025.md": ["price_2024.md", "price_2025.md"]}
QUESTIONS = [
    {"id": "q1", "kind": "single_fact", "question": "How many sensors does the hub take?", "answer": "64",
     "sources": [{"path": "hub.md"}]},
    {"id": "q2", "kind": "single_fact", "question": "What is the price in eur?", "answer": "55 EUR",
     "sources": [{"path": "price_2025.md"}]},
    {"id": "q3", "kind": "unanswerable", "question": "How many years does the battery last?", "answer": "",
     "sources": []},
]


def reading_llm(prompt) -> AIMessage:
    """A fake reader that reads: it answers with the passage that holds a number for the question's
    topic, citing it, and abstains when no passage does; for prices it takes the highest-numbered
    passage among the price passages (as a reader should take the newest)."""
    text = prompt.to_string() if hasattr(prompt, "to_string") else str(prompt)
    question = text.rsplit("Question:", 1)[-1].lower()
    passages = re.findall(r"\[(\d+)\][^\n]*\n(.*?)(?=\n\[\d+\]|\n</documents>)", text, re.S)
    topic = "sensors" if "sensors" in question else "price" if "price" in question else "battery"
    hits = [(n, body) for n, body in passages if topic in body.lower() and "old" not in body.lower()]
    if not hits:
        return AIMessage(content="I don't know")
    n, body = hits[-1]
    number = re.search(r"\d+( eur)?", body)
    assert number is not None
    return AIMessage(content=f"{number.group()} [{n}]")


@pytest.fixture(scope="module")
def store():
    return build_vectorstore(DOCS, embedding=KeywordEmbeddings())


def test_latest_version_questions_are_those_answered_by_the_newest_version() -> None:
    assert latest_version_ids(QUESTIONS, FAMILIES) == {"q2"}
    old = {"id": "q4", "kind": "single_fact", "sources": [{"path": "price_2024.md"}]}
    assert latest_version_ids([old], FAMILIES) == set()
    assert family_of(QUESTIONS[1], FAMILIES) == {"price_2024.md", "price_2025.md"}
    assert family_of(QUESTIONS[0], FAMILIES) == {"hub.md"}


def test_the_filtered_retriever_never_returns_a_removed_document(store) -> None:
    hits = retriever_without(store, {"price_2024.md", "price_2025.md"}, k=4).invoke("What is the price in eur?")
    assert hits and not {d.metadata["source"] for d in hits} & {"price_2024.md", "price_2025.md"}
    assert len(retriever_without(store, set(), k=4).invoke("price")) == 4


def test_a_reader_that_reads_scores_full_marks_through_the_chain(store) -> None:
    run = evaluate_kb_reader(QUESTIONS, store, RunnableLambda(reading_llm), FAMILIES, k=4)
    report = run.report()
    assert [r.answer for r in run.answerable][0].startswith("64")
    assert report["answer_accuracy"] == 1.0 and report["citation_accuracy"] == 1.0
    assert report["false_abstention"] == 0.0
    assert report["latest_version_accuracy"] == 1.0 and report["n_latest"] == 1
    # The removed-answer run: the passages no longer hold the answer, and the reader abstains.
    assert report["abstention_removed"] == 1.0 and report["abstention_unanswerable"] == 1.0
    assert report["abstention_accuracy"] == 1.0 and report["n_abstain"] == 3


def test_a_reader_that_always_answers_fails_abstention(store) -> None:
    run = evaluate_kb_reader(QUESTIONS, store, RunnableLambda(lambda _: AIMessage(content="64 [1]")), FAMILIES)
    report = run.report()
    assert report["abstention_accuracy"] == 0.0
    assert report["answer_accuracy"] == 0.5  # right for q1 only


def _record(id_: str, correct: bool, abstained: bool, cited: bool = False) -> AnswerRecord:
    return AnswerRecord(id=id_, kind="single_fact", question="?", gold="g", answer="a", correct=correct,
                        abstained=abstained, citation_correct=cited)


def test_the_report_pools_both_abstention_runs_and_counts_latest_only_where_asked() -> None:
    run = KBReaderRun(
        answerable=[_record("a", True, False, True), _record("b", False, True)],
        unanswerable=[_record("u", False, True)],
        removed=[_record("a", False, False), _record("b", False, True)],
        latest_ids={"a"},
    )
    report = run.report()
    assert report["answer_accuracy"] == 0.5 and report["citation_accuracy"] == 0.5
    assert report["false_abstention"] == 0.5
    assert report["abstention_accuracy"] == pytest.approx(2 / 3)
    assert report["latest_version_accuracy"] == 1.0 and report["n_latest"] == 1
