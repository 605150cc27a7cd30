"""The reader on the knowledge base's held-out documents, through the real RAG chain.

Gold passages are not handed to the reader here: every question goes through the chain of notebook 32
(:func:`~genai_lab.rag.chain.build_rag_chain_with_sources`: the FAISS retriever over MiniLM vectors,
``k=4``, the grounded prompt, the chat model), so retrieval misses count against the reader as a user
would see them. The questions are those of ``data/kb/questions.jsonl`` whose sources all lie in one
split of ``data/reader/kb_split.json`` (:func:`~genai_lab.reader.kb.question_split`).

Three runs of the same chain:

* **answerable** questions, full index: ``answer_accuracy`` (the bounded
  :func:`~genai_lab.rag.scoring.contains_answer`, and no abstention), ``citation_accuracy`` (a cited
  passage comes from a gold document), ``false_abstention`` (the reader said "I don't know");
  ``latest_version_accuracy`` is the answer accuracy on those whose gold document supersedes an older,
  conflicting version (the older one is in the index too);
* **unanswerable** questions (the KB's own, with no source), full index;
* **answer removed**: each answerable question again, with every version of its gold documents filtered
  out of the retrieval (FAISS ``filter`` on the ``source`` metadata). The passages now lack the answer.

``abstention_accuracy`` is the share of abstentions over the last two runs together (the KB has few
unanswerable questions of its own; the removed-answer run is the same test, on more questions).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genai_lab.numeric import mean_or_nan

if TYPE_CHECKING:  # pragma: no cover
    from langchain_community.vectorstores import FAISS
    from langchain_core.runnables import Runnable

    from genai_lab.rag.evaluation import AnswerRecord

KB_KEYS = ("answer_accuracy", "citation_accuracy", "abstention_accuracy", "false_abstention", "latest_version_accuracy")


def kb_questions(split: str = "test", folder: Path | None = None, kb_split: dict[str, Any] | None = None) -> list[dict]:
    """The KB questions of ``split`` (all their sources in that split's documents), in file order."""
    from genai_lab.paths import data_dir
    from genai_lab.rag.loaders import read_questions
    from genai_lab.reader.kb import load_kb_split, question_split

    kb_split = kb_split or load_kb_split()
    return [q for q in read_questions(folder or data_dir() / "kb") if question_split(q, kb_split) == split]


def latest_version_ids(questions: Sequence[dict], families: dict[str, list[str]]) -> set[str]:
    """Ids of the answerable questions whose every gold document is the newest of a family with an older
    version (:func:`~genai_lab.reader.kb.version_families`): the answer changed between dated versions."""
    out = set()
    for q in questions:
        paths = [s["path"] for s in q.get("sources", [])]
        if paths and all(p in families and families[p][-1] == p for p in paths):
            out.add(q["id"])
    return out


def family_of(question: dict, families: dict[str, list[str]]) -> set[str]:
    """Every version of every gold document of ``question``."""
    return {p for s in question.get("sources", []) for p in families.get(s["path"], [s["path"]])}


def retriever_without(store: FAISS, removed: set[str], k: int = 4, fetch_k: int = 64) -> Runnable:
    """``store``'s retriever with the documents ``removed`` (by ``source``) filtered out."""
    return store.as_retriever(
        search_kwargs={"k": k, "fetch_k": fetch_k, "filter": lambda meta: meta.get("source") not in removed}
    )


@dataclass
class KBReaderRun:
    """The records of the three runs (see the module docstring) and the ids of the latest-version questions."""

    answerable: list[AnswerRecord]
    unanswerable: list[AnswerRecord]
    removed: list[AnswerRecord]
    latest_ids: set[str] = field(default_factory=set)

    def report(self) -> dict[str, float | int]:
        """:data:`KB_KEYS` and the counts behind them (``nan`` where a group is empty)."""

        abstain = [r.abstained for r in self.unanswerable] + [r.abstained for r in self.removed]
        latest = [r.correct for r in self.answerable if r.id in self.latest_ids]
        return {
            "answer_accuracy": mean_or_nan([r.correct for r in self.answerable]),
            "citation_accuracy": mean_or_nan([r.citation_correct for r in self.answerable]),
            "abstention_accuracy": mean_or_nan(abstain),
            "false_abstention": mean_or_nan([r.abstained for r in self.answerable]),
            "latest_version_accuracy": mean_or_nan(latest),
            "abstention_unanswerable": mean_or_nan([r.abstained for r in self.unanswerable]),
            "abstention_removed": mean_or_nan([r.abstained for r in self.removed]),
            "n_answerable": len(self.answerable), "n_abstain": len(abstain), "n_latest": len(latest),
        }


def evaluate_kb_reader(
    questions: Sequence[dict], store: FAISS, llm: Runnable, families: dict[str, list[str]], k: int = 4,
    progress: bool = False,
) -> KBReaderRun:
    """Run the chain of notebook 32 (``store``'s retriever, ``k`` passages, ``llm``) on ``questions``
    in the three ways the module docstring describes."""
    from dataclasses import replace

    from genai_lab.rag.chain import build_rag_chain_with_sources
    from genai_lab.rag.evaluation import evaluate_answers

    chain = build_rag_chain_with_sources(store.as_retriever(search_kwargs={"k": k}), llm)
    answerable = [q for q in questions if q["kind"] != "unanswerable"]
    unanswerable = [q for q in questions if q["kind"] == "unanswerable"]
    removed = []
    for q in answerable:
        blind = build_rag_chain_with_sources(retriever_without(store, family_of(q, families), k), llm)
        # The same question, now unanswerable from the passages: scored as an unanswerable one.
        record = evaluate_answers([{**q, "kind": "unanswerable", "sources": []}], blind)[0]
        removed.append(replace(record, kind=q["kind"]))
    return KBReaderRun(
        evaluate_answers(answerable, chain, progress=progress), evaluate_answers(unanswerable, chain),
        removed, latest_version_ids(answerable, families),
    )
