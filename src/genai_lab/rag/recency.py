"""Recency: retrieval that prefers the version of a document in force, and answers that cite its date.

The knowledge base keeps old versions beside new ones: ``manifest.json`` gives each document a
``date``, and a new version names the one it replaces (``"supersedes": "sales/price_list_2024.csv"``).
A retriever ranks by similarity only, and the old and new versions of a section are almost the same
text, so a question about "the" per diem gets the 2024 figure about as often as the 2025 one.

**What this module does.** :class:`Versions` reads the ``supersedes`` links (the manifest, or a
``supersedes`` key in the documents' metadata) into *families*: the dated versions of one document.
For a question, :func:`time_scope` finds the date it asks about: none ("What is the per diem?": now),
one year ("... in 2024?": the end of 2024) or an ISO date. In each family the version *in force* at
that date is the latest one dated on or before it (before all versions: the oldest). Then
:func:`prefer_versions` re-ranks the retrieved chunks by version status, a stable sort on the key
``(chunk of a version not in force, retriever's rank)``:

- ``mode="demote"`` (the default, re-ranking): a chunk of a version not in force moves below every
  other candidate; it is still there, last, if nothing better was retrieved;
- ``mode="filter"`` (metadata filtering): such chunks are dropped.

Why not simply drop every superseded document? Because "What was the per diem in 2024?" and the
follow-up "and in 2023?" are fair questions, and their answer is in the old version: the in-force
rule keeps them answerable. A question that names several years (a comparison) is left in the
retriever's order. Chunks of documents without versions are never moved.

Re-ranking can only reorder what the retriever returned, so the wrapper asks the retriever for more
candidates (``fetch_k``, default 20) than it returns (``k``): the new version's chunk only has to be
among the first ``fetch_k``, not the first ``k``.

Two wrappers, one rule: :class:`RecencyRetriever` is a LangChain retriever around another (e.g. the
FAISS store's ``as_retriever``), so it composes with ``|`` in the chain of :mod:`genai_lab.rag.chain`;
:class:`RecencyRanker` wraps the course's rankers (``rank(queries, k)`` over chunk ids: BM25Index,
DenseRetriever, HybridRetriever).

**Citing the date.** :func:`format_dated_docs` puts each passage's date in the prompt, and
:func:`with_source_dates` (composed after :func:`genai_lab.rag.chain.build_rag_chain_with_sources`,
or all in one by :func:`build_dated_rag_chain`) adds the cited sources with their dates to the answer.

**Measuring it.** ``data/kb_eval/recency.jsonl`` holds questions whose answer changed between two
versions, each with both versions; :func:`latest_first_rate` is the share of the "current" ones for
which a chunk of the newest version is in the top ``k`` and above every chunk of the old one.

``langchain_core`` is imported at module level here (not inside functions), because
:class:`RecencyRetriever` subclasses its ``BaseRetriever``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever

from genai_lab.rag.recency_versions import Versions

if TYPE_CHECKING:  # pragma: no cover
    from langchain_core.runnables import Runnable

T = TypeVar("T")
MODES = ("demote", "filter")
_ISO_DATE = re.compile(r"(?<![\w-])((?:19|20)\d{2})-(\d{2})-(\d{2})(?![\w-])")
_YEAR = re.compile(r"(?<![\w-])((?:19|20)\d{2})(?![\w-])")  # not a year: INC-2024-031, BW-2025

__all__ = [
    "MODES", "RecencyRanker", "RecencyRetriever", "TimeScope", "Versions", "build_dated_rag_chain",
    "chunk_sources", "dated_label", "format_dated_docs", "latest_first_rate", "prefer_versions",
    "read_recency_questions", "recency_retriever", "source_date", "time_scope", "version_first",
    "version_first_rate", "with_source_dates",
]


@dataclass(frozen=True)
class TimeScope:
    """The date a question asks about: ``as_of`` (``None``: now, the newest version) and ``compare``
    (several years named: the question compares versions, so none is preferred)."""

    as_of: date | None = None
    compare: bool = False


def time_scope(question: str) -> TimeScope:
    """The date ``question`` asks about: an ISO date it names, else the last day of the one year it
    names, else now. Year-like parts of identifiers (``INC-2024-031``) are not years."""
    dates = {date(int(y), int(m), int(d)) for y, m, d in _ISO_DATE.findall(question) if _valid(y, m, d)}
    years = {int(y) for y in _YEAR.findall(_ISO_DATE.sub(" ", question))}
    years |= {d.year for d in dates}
    if len(years) > 1:
        return TimeScope(compare=True)
    if dates:
        return TimeScope(as_of=dates.pop())
    if years:
        return TimeScope(as_of=date(years.pop(), 12, 31))
    return TimeScope()


def _valid(y: str, m: str, d: str) -> bool:
    try:
        date(int(y), int(m), int(d))
    except ValueError:
        return False
    return True


def prefer_versions(
    items: Iterable[T],
    source_of: Callable[[T], str | None],
    versions: Versions,
    question: str,
    mode: str = "demote",
    question_dates: bool = True,
) -> list[T]:
    """``items`` (retrieved chunks, best first) re-ranked so that no chunk of a version that is not
    in force at the question's date (:func:`time_scope`) outranks another candidate: moved last,
    keeping their order (``mode="demote"``), or dropped (``mode="filter"``). With
    ``question_dates=False`` the newest version is always the one preferred ("latest only", which
    fails every question about the past)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}.")
    items = list(items)
    scope = time_scope(question) if question_dates else TimeScope()
    if scope.compare:
        return items
    keep: list[T] = []
    stale: list[T] = []
    for item in items:
        source = source_of(item)
        if source is None or versions.in_force(source, scope.as_of) == source:
            keep.append(item)
        else:
            stale.append(item)
    return keep if mode == "filter" else keep + stale


def _doc_source(doc: Document) -> str | None:
    source = doc.metadata.get("source")
    return str(source) if source else None


def _annotated(doc: Document, versions: Versions) -> Document:
    """A copy of ``doc`` whose metadata also says which newer version replaced it (never the shared
    original: a vector store hands out its own objects)."""
    source = _doc_source(doc)
    newest = versions.latest(source) if source else None
    meta = dict(doc.metadata)
    meta["superseded_by"] = newest if newest and newest != source else None
    if source and not meta.get("date") and versions.date_of(source):
        meta["date"] = versions.date_of(source)
    return Document(page_content=doc.page_content, metadata=meta, id=doc.id)


class RecencyRetriever(BaseRetriever):
    """A LangChain retriever that asks ``base`` for candidates and returns the top ``k`` after
    :func:`prefer_versions`. ``base`` must return more than ``k`` documents (say 20), or there is
    nothing to promote: see :func:`recency_retriever`. Each returned document is a copy whose
    metadata has ``superseded_by`` (the newest version's source, or ``None``) and ``date``."""

    base: Any
    versions: Versions
    k: int = 4
    mode: str = "demote"
    question_dates: bool = True

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        docs = self.base.invoke(query, config={"callbacks": run_manager.get_child()})
        ranked = prefer_versions(docs, _doc_source, self.versions, query, self.mode, self.question_dates)
        return [_annotated(d, self.versions) for d in ranked[: self.k]]


def recency_retriever(
    store: Any,
    versions: Versions,
    k: int = 4,
    fetch_k: int = 20,
    mode: str = "demote",
    question_dates: bool = True,
) -> RecencyRetriever:
    """:class:`RecencyRetriever` over a vector store (``store.as_retriever`` with ``fetch_k``
    candidates), or over a retriever given as it is (then it must return ``fetch_k`` itself)."""
    if k < 1 or fetch_k < k:
        raise ValueError(f"Need 1 <= k <= fetch_k, got k={k}, fetch_k={fetch_k}.")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}.")
    base = store.as_retriever(search_kwargs={"k": fetch_k}) if hasattr(store, "as_retriever") else store
    if not hasattr(base, "invoke"):
        raise TypeError(
            f"Got {type(store).__name__}; pass a vector store or a LangChain retriever. For a course ranker "
            "(BM25Index, DenseRetriever, HybridRetriever) use RecencyRanker."
        )
    return RecencyRetriever(base=base, versions=versions, k=k, mode=mode, question_dates=question_dates)


def chunk_sources(chunks: Iterable[Document], key: str = "chunk_id") -> dict[str, str]:
    """``chunk id -> source`` for :class:`RecencyRanker` (ids as the rankers were built with)."""
    out: dict[str, str] = {}
    for chunk in chunks:
        if key not in chunk.metadata or "source" not in chunk.metadata:
            raise KeyError(f"A chunk has no {key!r} or 'source' in its metadata; chunk it with genai_lab.rag.chunking.")
        out[str(chunk.metadata[key])] = str(chunk.metadata["source"])
    return out


@dataclass
class RecencyRanker:
    """The same rule around a course ranker (``rank(queries, k) -> ranked chunk ids``): it ranks
    ``fetch_k`` candidates, re-ranks them by :func:`prefer_versions`, and keeps ``k``.
    ``sources`` maps a chunk id to its document (:func:`chunk_sources`)."""

    base: Any
    versions: Versions
    sources: Mapping[str, str]
    fetch_k: int = 20
    mode: str = "demote"
    question_dates: bool = True

    def rank(self, queries: Sequence[str], k: int = 10) -> list[list[str]]:
        if isinstance(queries, str):
            raise TypeError("rank expects a list of queries, not one string: use [query].")
        ranked = self.base.rank(list(queries), k=max(k, self.fetch_k))
        return [
            prefer_versions(ids, self.sources.get, self.versions, q, self.mode, self.question_dates)[:k]
            for q, ids in zip(queries, ranked, strict=True)
        ]


# ------------------------------------------------------------------------------------------------
# Citing the date
# ------------------------------------------------------------------------------------------------
def source_date(doc: Document) -> str | None:
    """The date of the document a chunk comes from (``metadata["date"]``, ISO), or ``None``."""
    value = doc.metadata.get("date")
    return str(value) if value else None


def dated_label(doc: Document) -> str:
    """``policies/travel_expense_policy_2025.md, section Meal allowance, dated 2025-03-01`` (and
    ``, superseded by ...`` when a :class:`RecencyRetriever` marked it so)."""
    from genai_lab.rag.chain import source_label

    label = source_label(doc)
    when = source_date(doc)
    newer = doc.metadata.get("superseded_by")
    return label + (f", dated {when}" if when else ", undated") + (f", superseded by {newer}" if newer else "")


def format_dated_docs(docs: Sequence[Document]) -> str:
    """:func:`genai_lab.rag.chain.format_docs` with each passage's date: ``[1] (source, dated ...)``."""
    from genai_lab.rag.chain import fence_safe

    return "\n\n".join(
        fence_safe(f"[{i}] ({dated_label(doc)})\n{doc.page_content.strip()}") for i, doc in enumerate(docs, 1)
    )


def with_source_dates(result: Mapping[str, Any]) -> dict[str, Any]:
    """Add ``sources`` (``{"n", "source", "date", "superseded_by", "cited"}`` per source) and
    ``citation`` (one line: ``Source: [1] policies/x_2025.md (dated 2025-03-01)``, and ``superseded by
    ...`` for a source a newer version replaced)
    to a ``{"question", "docs", "answer"}`` result. The sources are the ones the answer cites
    (:func:`genai_lab.rag.scoring.cited_sources`); when it cites none and does not abstain, the top
    retrieved passage is given with ``cited: False``, so the reader sees where the answer most likely
    came from and that the model did not say so."""
    from genai_lab.rag.scoring import cited_sources, is_abstention

    docs: Sequence[Document] = result["docs"]
    answer = str(result["answer"])
    cited = cited_sources(answer, docs)
    sources: list[dict[str, Any]] = []

    def entry(n: int, doc: Document, was_cited: bool) -> dict[str, Any]:
        newer = doc.metadata.get("superseded_by")
        return {"n": n, "source": _doc_source(doc), "date": source_date(doc), "superseded_by": newer,
                "cited": was_cited}

    for n, doc in enumerate(docs, 1):
        source = _doc_source(doc)
        if source in cited and all(s["source"] != source for s in sources):
            sources.append(entry(n, doc, True))
    if not sources and docs and not is_abstention(answer):
        sources.append(entry(1, docs[0], False))
    parts = [
        f"[{s['n']}] {s['source']} (dated {s['date'] or 'unknown'}"
        + (f"; superseded by {s['superseded_by']})" if s["superseded_by"] else ")")
        for s in sources
    ]
    prefix = "Source: " if all(s["cited"] for s in sources) else "Top retrieved source (not cited): "
    return {**result, "sources": sources, "citation": prefix + "; ".join(parts) if parts else ""}


def build_dated_rag_chain(retriever: Runnable, llm: Runnable, prompt: Any = None) -> Runnable:
    """The chain of :func:`genai_lab.rag.chain.build_rag_chain_with_sources` with dated passages in
    the prompt (:func:`format_dated_docs`) and :func:`with_source_dates` after it: a question in,
    ``{"question", "docs", "answer", "sources", "citation"}`` out."""
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.runnables import RunnableLambda, RunnableParallel, RunnablePassthrough

    from genai_lab.rag.chain import grounded_prompt

    prompt = prompt or grounded_prompt()
    answer = (
        RunnableLambda(lambda x: {"context": format_dated_docs(x["docs"]), "question": x["question"]})
        | prompt
        | llm
        | StrOutputParser()
    )
    chain = RunnableParallel(docs=retriever, question=RunnablePassthrough()).assign(answer=answer)
    return chain | RunnableLambda(with_source_dates)


# ------------------------------------------------------------------------------------------------
# The labelled set and the metric
# ------------------------------------------------------------------------------------------------
def read_recency_questions(path: str | Path | None = None) -> list[dict[str, Any]]:
    """The questions whose answer changed between versions (``data/kb_eval/recency.jsonl``): each
    with ``asks`` ("current" or "superseded") and both versions (``current``, ``superseded``: path,
    section or page, answer)."""
    if path is None:
        from genai_lab.paths import data_dir

        path = data_dir() / "kb_eval" / "recency.jsonl"
    rows = [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    for row in rows:
        missing = {"id", "question", "asks", "current", "superseded"} - set(row)
        if missing or row["asks"] not in ("current", "superseded"):
            raise ValueError(f"{path}: row {row.get('id', '?')} needs id, question, asks ('current' or "
                             f"'superseded'), current and superseded; missing {sorted(missing)}.")
    return rows


def _ranked_sources(retrieve: Any, question: str) -> list[str]:
    hits = retrieve.invoke(question) if hasattr(retrieve, "invoke") else retrieve(question)
    return [h if isinstance(h, str) else str(h.metadata.get("source")) for h in hits]


def version_first(ranked_sources: Sequence[str], want: str, other: str, k: int) -> bool:
    """Whether ``want`` is in the top ``k`` of ``ranked_sources`` (one entry per retrieved chunk) and
    above every entry of ``other``."""
    top = list(ranked_sources)[:k]
    if want not in top:
        return False
    return other not in top or top.index(want) < top.index(other)


def version_first_rate(
    questions: Sequence[Mapping[str, Any]], retrieve: Any, k: int = 4, asks: str = "current"
) -> float:
    """Share of the questions that ask about the ``asks`` version for which that version ranks first
    (:func:`version_first`). ``retrieve`` is a LangChain retriever, or ``question -> documents or
    sources``; it should return at least ``k`` results."""
    chosen = [q for q in questions if q["asks"] == asks]
    if not chosen:
        raise ValueError(f"No question asks about the {asks!r} version; check the data file.")
    other = "superseded" if asks == "current" else "current"
    hits = [
        version_first(_ranked_sources(retrieve, q["question"]), q[asks]["path"], q[other]["path"], k)
        for q in chosen
    ]
    return sum(hits) / len(hits)


def latest_first_rate(questions: Sequence[Mapping[str, Any]], retrieve: Any, k: int = 4) -> float:
    """Share of the "current" questions for which the newest version's chunk is in the top ``k`` and
    ranks above the superseded version's (the issue's bar: >= 0.9)."""
    return version_first_rate(questions, retrieve, k=k, asks="current")
