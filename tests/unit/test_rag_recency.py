"""Recency: versions from ``supersedes`` links, the question's date, the re-ranking wrappers, the dated
citation, the metric, and the labelled data file (checked against the knowledge base itself)."""

from __future__ import annotations

import json
from datetime import date

import pytest
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.messages import AIMessage
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import RunnableLambda

from genai_lab.paths import data_dir
from genai_lab.rag.recency import (
    RecencyRanker,
    RecencyRetriever,
    TimeScope,
    Versions,
    build_dated_rag_chain,
    chunk_sources,
    dated_label,
    format_dated_docs,
    latest_first_rate,
    prefer_versions,
    read_recency_questions,
    recency_retriever,
    source_date,
    time_scope,
    version_first,
    version_first_rate,
    with_source_dates,
)

KB = data_dir() / "kb"
OLD, NEW, OTHER = "sales/price_2024.csv", "sales/price_2025.csv", "manuals/hub.pdf"
PAIR = {"current": {"path": NEW}, "superseded": {"path": OLD}}
VERSIONS = Versions(dates={OLD: "2024-01-01", NEW: "2025-01-01", OTHER: "2025-03-04"}, supersedes={NEW: OLD})


def doc(source: str, text: str = "text", **meta) -> Document:
    dates = {OLD: "2024-01-01", NEW: "2025-01-01", OTHER: "2025-03-04"}
    return Document(page_content=text, metadata={"source": source, "page": None, "section": None,
                                                 "date": dates.get(source), **meta})


class Fixed(BaseRetriever):
    """A retriever that returns the same documents, in the same order, for every query."""

    docs: list[Document]
    queries: list[str] = []

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        self.queries.append(query)
        return list(self.docs)


# ---- Versions -----------------------------------------------------------------------------------
def test_versions_of_the_knowledge_base():
    versions = Versions.from_manifest(KB)
    assert versions.families == [
        ("legal/warranty_terms_2023.pdf", "legal/warranty_terms_2025.pdf"),
        ("policies/information_security_policy_2023.md", "policies/information_security_policy_2025.md"),
        ("policies/travel_expense_policy_2024.md", "policies/travel_expense_policy_2025.md"),
        ("sales/price_list_2024.csv", "sales/price_list_2025.csv"),
    ]
    assert versions.latest("sales/price_list_2024.csv") == "sales/price_list_2025.csv"
    assert versions.is_superseded("sales/price_list_2024.csv")
    assert not versions.is_superseded("sales/price_list_2025.csv")
    assert versions.family("support/faq.md") == ("support/faq.md",)
    assert versions.date_of("legal/warranty_terms_2023.pdf") == "2023-02-01"


def test_in_force_follows_a_chain_of_three_by_date():
    v = Versions(dates={"a": "2022-01-01", "b": "2023-06-01", "c": "2025-01-01"}, supersedes={"b": "a", "c": "b"})
    assert v.family("b") == ("a", "b", "c") and v.latest("a") == "c"
    assert v.in_force("a") == "c"  # no date: now
    assert v.in_force("c", date(2024, 12, 31)) == "b"
    assert v.in_force("c", date(2023, 6, 1)) == "b"  # dated on the day: already in force
    assert v.in_force("c", date(2023, 5, 31)) == "a"
    assert v.in_force("c", date(2001, 1, 1)) == "a"  # before every version: the first one
    assert v.in_force("unversioned", date(2001, 1, 1)) == "unversioned"


def test_versions_from_documents_metadata():
    docs = [Document(page_content="x", metadata={"source": s, "date": d, **({"supersedes": o} if o else {})})
            for s, d, o in [(NEW, "2025-01-01", OLD), (NEW, "2025-01-01", OLD), (OLD, "2024-01-01", None)]]
    assert Versions.from_documents(docs).family(OLD) == (OLD, NEW)


@pytest.mark.parametrize(
    ("dates", "links", "message"),
    [
        ({"a": "2024-01-01"}, {"a": "a"}, "supersedes itself"),
        ({"a": "2023-01-01", "b": "2024-01-01", "c": "2025-01-01"}, {"b": "a", "c": "a"}, "superseded by both"),
        ({"b": "2024-01-01"}, {"b": "a"}, "has no date"),
        ({"a": "2025-01-01", "b": "2024-01-01"}, {"b": "a"}, "is older"),
        ({"a": "1 March 2024", "b": "2025-01-01"}, {"b": "a"}, "YYYY-MM-DD"),
        ({"a": "2024-01-01", "b": "2024-01-01"}, {"b": "a", "a": "b"}, "cycle"),
    ],
)
def test_bad_links_name_the_fix(dates, links, message):
    with pytest.raises(ValueError, match=message):
        Versions(dates=dates, supersedes=links)


def test_a_missing_or_malformed_manifest_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="data/kb"):
        Versions.from_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps({"docs": []}))
    with pytest.raises(ValueError, match="not a manifest"):
        Versions.from_manifest(tmp_path)


# ---- the question's date ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("question", "scope"),
    [
        ("What is the daily meal per diem?", TimeScope()),
        ("And in 2023?", TimeScope(as_of=date(2023, 12, 31))),
        ("What applied on 2024-06-30?", TimeScope(as_of=date(2024, 6, 30))),
        ("What caused incident INC-2024-031?", TimeScope()),  # an identifier, not a year
        ("How did the per diem change from 2024 to 2025?", TimeScope(compare=True)),
        ("What was the revenue in Q3 2025?", TimeScope(as_of=date(2025, 12, 31))),
    ],
)
def test_time_scope(question, scope):
    assert time_scope(question) == scope


# ---- re-ranking ---------------------------------------------------------------------------------
def test_prefer_versions_demotes_filters_and_respects_the_question_date():
    ranked = [OLD, OTHER, NEW]
    same = lambda s: s  # noqa: E731
    assert prefer_versions(ranked, same, VERSIONS, "What is the price?") == [OTHER, NEW, OLD]
    assert prefer_versions(ranked, same, VERSIONS, "What is the price?", mode="filter") == [OTHER, NEW]
    assert prefer_versions([NEW, OLD], same, VERSIONS, "What was the price in 2024?") == [OLD, NEW]
    assert prefer_versions([NEW, OLD], same, VERSIONS, "In 2024?", question_dates=False) == [NEW, OLD]
    assert prefer_versions(ranked, same, VERSIONS, "Price in 2024 and 2025?") == ranked  # a comparison
    with pytest.raises(ValueError, match="mode"):
        prefer_versions(ranked, same, VERSIONS, "q", mode="drop")


def test_recency_retriever_promotes_the_new_version_and_copies_documents():
    old, other, new = doc(OLD, "Hub: 329 EUR"), doc(OTHER), doc(NEW, "Hub: 349 EUR")
    base = Fixed(docs=[old, other, new])
    got = RecencyRetriever(base=base, versions=VERSIONS, k=2).invoke("What does the hub cost?")
    assert [d.metadata["source"] for d in got] == [OTHER, NEW]
    assert got[1].metadata["superseded_by"] is None and got[0].metadata["superseded_by"] is None
    hist = RecencyRetriever(base=base, versions=VERSIONS, k=3).invoke("What did the hub cost in 2024?")
    assert [d.metadata["source"] for d in hist] == [OLD, OTHER, NEW]
    assert hist[0].metadata["superseded_by"] == NEW
    assert "superseded_by" not in old.metadata, "the base retriever's documents must not be changed"
    chained = (RecencyRetriever(base=base, versions=VERSIONS, k=3) | RunnableLambda(format_dated_docs)).invoke("q")
    assert chained.index("dated 2025-01-01") < chained.index("dated 2024-01-01, superseded by " + NEW)


class PriceWords(Embeddings):
    """Counts of "hub", "price" and "eur": a deterministic embedding for a three-document store."""

    def embed_query(self, text: str) -> list[float]:
        words = text.lower().replace(",", " ").replace(".", " ").split()
        vec = [float(words.count(w)) for w in ("hub", "price", "eur")] + [0.01]
        norm = sum(x * x for x in vec) ** 0.5
        return [x / norm for x in vec]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self.embed_query(t) for t in texts]


def test_recency_retriever_over_a_vector_store():
    from genai_lab.rag.chain import build_vectorstore

    versioned = [doc(OLD, "hub price 329 eur"), doc(NEW, "hub price eur eur 349 eur"), doc(OTHER, "eur eur eur")]
    store = build_vectorstore(versioned, embedding=PriceWords())
    assert store.as_retriever(search_kwargs={"k": 1}).invoke("hub price")[0].metadata["source"] == OLD
    retriever = recency_retriever(store, VERSIONS, k=1, fetch_k=3)
    assert retriever.invoke("hub price")[0].metadata["source"] == NEW
    with pytest.raises(ValueError, match="fetch_k"):
        recency_retriever(store, VERSIONS, k=5, fetch_k=3)
    with pytest.raises(TypeError, match="RecencyRanker"):
        recency_retriever(object(), VERSIONS)


def test_recency_ranker_wraps_a_course_ranker():
    class Ranker:
        def rank(self, queries, k=10):
            self.k = k
            return [["c-old", "c-other", "c-new"][:k] for _ in queries]

    base = Ranker()
    ranker = RecencyRanker(base, VERSIONS, {"c-old": OLD, "c-new": NEW, "c-other": OTHER}, fetch_k=3)
    assert ranker.rank(["What is the price?", "What was the price in 2024?"], k=2) == [
        ["c-other", "c-new"], ["c-old", "c-other"]]
    assert base.k == 3
    with pytest.raises(TypeError, match=r"\[query\]"):
        ranker.rank("a string", k=1)


def test_chunk_sources_needs_ids():
    assert chunk_sources([doc(NEW, chunk_id="n#0")]) == {"n#0": NEW}
    with pytest.raises(KeyError, match="chunking"):
        chunk_sources([doc(NEW)])


# ---- citing the date ----------------------------------------------------------------------------
def test_dated_labels_and_source_dates():
    assert source_date(doc(NEW)) == "2025-01-01" and source_date(Document(page_content="x")) is None
    assert dated_label(doc(NEW, section="BW-H2")) == f"{NEW}, section BW-H2, dated 2025-01-01"
    assert "undated" in dated_label(Document(page_content="x", metadata={"source": "x.md"}))


def test_with_source_dates_cites_what_the_answer_cites():
    docs = [doc(OTHER), doc(NEW)]
    cited = with_source_dates({"question": "q", "docs": docs, "answer": "It costs 349 EUR [2]."})
    assert cited["sources"] == [{"n": 2, "source": NEW, "date": "2025-01-01", "superseded_by": None, "cited": True}]
    assert cited["citation"] == f"Source: [2] {NEW} (dated 2025-01-01)"
    uncited = with_source_dates({"question": "q", "docs": docs, "answer": "It costs 349 EUR."})
    assert uncited["sources"][0]["cited"] is False
    assert uncited["citation"].startswith("Top retrieved source (not cited)")
    assert with_source_dates({"question": "q", "docs": docs, "answer": "I don't know."})["citation"] == ""
    past = with_source_dates({"question": "q", "docs": [doc(OLD, superseded_by=NEW)], "answer": "329 EUR [1]."})
    assert past["citation"] == f"Source: [1] {OLD} (dated 2024-01-01; superseded by {NEW})"


def test_dated_chain_shows_dates_to_the_model_and_cites_them():
    seen = []

    def model(prompt_value):
        seen.append(prompt_value.to_messages()[-1].content)
        return AIMessage(content="349 EUR [1].")

    chain = build_dated_rag_chain(Fixed(docs=[doc(NEW, "Hub: 349 EUR")]), RunnableLambda(model))
    result = chain.invoke("What does the hub cost?")
    assert f"({NEW}, dated 2025-01-01)" in seen[0]
    assert result["citation"] == f"Source: [1] {NEW} (dated 2025-01-01)"
    fake = build_dated_rag_chain(Fixed(docs=[doc(NEW)]), FakeListChatModel(responses=["I don't know."]))
    assert fake.invoke("q")["sources"] == []


# ---- the metric ---------------------------------------------------------------------------------
def test_version_first():
    assert version_first([NEW, OLD], NEW, OLD, k=2)
    assert not version_first([OLD, NEW], NEW, OLD, k=2)
    assert version_first([OTHER, NEW], NEW, OLD, k=2)  # the old one not retrieved at all
    assert not version_first([OTHER, OTHER, NEW], NEW, OLD, k=2)  # the new one below k


def test_latest_first_rate_with_and_without_recency():
    questions = [
        {"id": "c1", "question": "Price of the hub?", "asks": "current", **PAIR},
        {"id": "h1", "question": "Price in 2024?", "asks": "superseded", **PAIR},
    ]
    base = Fixed(docs=[doc(OLD), doc(NEW)])
    assert latest_first_rate(questions, base, k=2) == 0.0
    assert latest_first_rate(questions, RecencyRetriever(base=base, versions=VERSIONS, k=2), k=2) == 1.0
    assert latest_first_rate(questions, lambda q: [NEW, OLD], k=2) == 1.0  # a plain function of sources
    assert version_first_rate(questions, RecencyRetriever(base=base, versions=VERSIONS), asks="superseded") == 1.0
    latest_only = RecencyRetriever(base=base, versions=VERSIONS, question_dates=False)
    assert version_first_rate(questions, latest_only, asks="superseded") == 0.0
    with pytest.raises(ValueError, match="No question"):
        latest_first_rate(questions[1:], base)


# ---- the labelled data, checked against the knowledge base ------------------------------------
def _chunk_text(chunks, where):
    for chunk in chunks:
        meta = chunk.metadata
        if meta["source"] == where["path"] and (meta.get("section") == where.get("section") if "section" in where
                                                else meta.get("page") == where.get("page")):
            return chunk.page_content
    raise AssertionError(f"no chunk for {where}")


def test_recency_questions_match_the_knowledge_base():
    from genai_lab.rag.chunking import split_by_section
    from genai_lab.rag.loaders import load_documents

    questions = read_recency_questions()
    chunks = split_by_section(load_documents(KB).documents)
    versions = Versions.from_manifest(KB)
    assert len({q["id"] for q in questions}) == len(questions)
    assert sum(q["asks"] == "current" for q in questions) >= 25
    assert sum(q["asks"] == "superseded" for q in questions) >= 8
    for q in questions:
        assert versions.family(q["current"]["path"]) == (q["superseded"]["path"], q["current"]["path"]), q["id"]
        for which in ("current", "superseded"):
            text = " ".join(_chunk_text(chunks, q[which]).lower().split())
            assert q[which]["answer"].lower() in text, (q["id"], which)
        assert q["current"]["answer"] != q["superseded"]["answer"], f"{q['id']}: the answer did not change"
        named = time_scope(q["question"]).as_of
        assert (named is None) == (q["asks"] == "current"), f"{q['id']}: a current question names no year"


def test_read_recency_questions_rejects_bad_rows(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps({"id": "x", "question": "q", "asks": "now"}) + "\n")
    with pytest.raises(ValueError, match="asks"):
        read_recency_questions(path)
