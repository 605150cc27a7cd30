"""genai_lab.rag.korean: the three tokenizers, BM25 over them, dense ranking with prefixes, and the data."""

from __future__ import annotations

import re

import numpy as np
import pytest

from genai_lab.rag import korean
from genai_lab.rag.korean import (
    METHODS,
    TokenizedBM25Index,
    char_ngrams,
    dense_rank,
    hybrid_rank,
    kiwi_tokens,
    load_kb_ko,
    load_questions_ko,
    run_methods,
    score_runs,
    whitespace_tokens,
)


@pytest.fixture(autouse=True)
def _tmp_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GENAI_LAB_CACHE", str(tmp_path))


def test_whitespace_tokens_keep_particles_and_drop_punctuation():
    assert whitespace_tokens("배터리는 3년, 배터리의 수명! (API)") == ["배터리는", "3년", "배터리의", "수명", "api"]
    assert whitespace_tokens("  ") == []
    with pytest.raises(TypeError, match="one text"):
        whitespace_tokens(["배터리"])  # type: ignore[arg-type]


def test_kiwi_splits_particles_from_nouns():
    assert kiwi_tokens("배터리는") == ["배터리"]
    assert kiwi_tokens("배터리의") == kiwi_tokens("배터리가") == ["배터리"]
    assert kiwi_tokens("보증기간이 어떻게 되나요?") [:2] == ["보증", "기간"]
    tokens = kiwi_tokens("출장 식비는 55유로까지 받을 수 있어요?")
    assert {"출장", "식비", "55", "받"} <= set(tokens)
    assert not {"는", "까지", "을", "?", "어요"} & set(tokens), "particles, endings and punctuation are dropped"
    assert kiwi_tokens("API 키") == ["api", "키"]
    assert kiwi_tokens("") == []


def test_kiwi_is_loaded_once():
    assert korean.kiwi() is korean.kiwi()


def test_char_ngrams_inside_each_token():
    assert char_ngrams("배터리는") == ["배터", "터리", "리는", "배터리", "터리는"]
    assert char_ngrams("새 배터리") == ["새", "배터", "터리", "배터리"]  # a short token is kept whole
    assert char_ngrams("배터리", 1, 1) == ["배", "터", "리"]
    with pytest.raises(ValueError, match="n_min"):
        char_ngrams("배터리", 3, 2)


DOCS = {"manual": "배터리를 교체하세요. 렌즈는 마른 천으로 닦습니다.", "leave": "연차 휴가는 27일입니다."}


def test_bm25_over_morphemes_finds_what_whitespace_tokens_miss():
    query = ["배터리는 언제 바꾸나요?"]
    assert TokenizedBM25Index(list(DOCS), list(DOCS.values()), "whitespace").rank(query) == [[]]
    assert TokenizedBM25Index(list(DOCS), list(DOCS.values()), "kiwi").rank(query)[0][:1] == ["manual"]
    assert TokenizedBM25Index(list(DOCS), list(DOCS.values()), "char_ngram").rank(query)[0][:1] == ["manual"]
    index = TokenizedBM25Index(list(DOCS), list(DOCS.values()), "kiwi")
    assert index.rank(["연차는 며칠?"]) == [["leave"]]
    assert index.search(["?"]) == [[]]  # nothing left after tokenizing: no hit, no error


def test_bm25_rejects_bad_input():
    with pytest.raises(ValueError, match="Unknown tokenizer"):
        TokenizedBM25Index(["a"], ["배터리"], "spaces")
    with pytest.raises(ValueError, match="one id per text"):
        TokenizedBM25Index(["a", "b"], ["배터리"], "kiwi")
    with pytest.raises(TypeError, match=r"\[query\]"):
        TokenizedBM25Index(["a"], ["배터리"], "kiwi").search("배터리")


class FakeEncoder:
    """Bag of characters over a tiny alphabet; records every text it sees."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.seen.extend(texts)
        return np.array([[t.count(c) + 0.01 for c in "배연렌휴"] for t in texts], dtype=np.float64)


def test_dense_rank_applies_the_model_prefixes():
    enc = FakeEncoder()
    ranked = dense_rank(list(DOCS), list(DOCS.values()), ["연차 휴가"], k=2, encoder=enc, model_name="fake-ko",
                        query_prefix="query: ", passage_prefix="passage: ")
    assert ranked == [["leave", "manual"]]
    assert "query: 연차 휴가" in enc.seen and f"passage: {DOCS['manual']}" in enc.seen
    assert set(korean.MULTILINGUAL_MODELS) == {"intfloat/multilingual-e5-small", "BAAI/bge-m3"}


def test_hybrid_rank_is_rrf_per_query():
    assert hybrid_rank([[["a", "b", "c"]], [["b", "c", "d"]]]) == [["b", "c", "a", "d"]]
    with pytest.raises(ValueError, match="one ranking per query"):
        hybrid_rank([[["a"]], [["a"], ["b"]]])


def test_the_korean_knowledge_base_and_questions():
    docs = load_kb_ko()
    questions = load_questions_ko(doc_ids=list(docs))
    assert len(docs) >= 8 and len(questions) >= 60
    assert all(len(re.findall(r"[\uac00-\ud7a3]", t)) >= 100 for t in docs.values()), "documents are in Korean"
    assert len({q["id"] for q in questions}) == len(questions)
    assert len({q["question"] for q in questions}) == len(questions)
    assert {q["kind"] for q in questions} == {"particle", "synonym", "paraphrase"}
    assert {s for q in questions for s in q["sources"]} == set(docs), "every document is some question's gold"


def test_load_questions_rejects_unknown_gold_documents(tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_text('{"id": "x", "question": "배터리?", "sources": ["nope.md"]}\n', encoding="utf-8")
    with pytest.raises(ValueError, match="unknown documents"):
        load_questions_ko(path, doc_ids=["a.md"])
    path.write_text('{"id": "x", "question": "배터리?"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match="sources"):
        load_questions_ko(path)


def test_run_methods_and_scores_on_a_tiny_set():
    questions = [{"id": "q1", "question": "배터리는 언제 바꾸나요?", "sources": ["manual"]},
                 {"id": "q2", "question": "연차는 며칠인가요?", "sources": ["leave"]}]
    fake = FakeEncoder()

    def dense(ids, texts, queries, k):
        return dense_rank(ids, texts, queries, k, encoder=fake, model_name="fake-ko")

    runs = run_methods(DOCS, questions, k=2, dense=dense)
    assert list(runs) == list(METHODS)
    scores = score_runs(runs, questions, k=1)
    assert scores["bm25_kiwi"] == {"recall@1": 1.0, "mrr": 1.0}
    assert scores["bm25_whitespace"]["mrr"] == 0.0  # neither question keeps a whitespace token of its document
    assert list(run_methods(DOCS, questions, dense=None)) == ["bm25_whitespace", "bm25_kiwi", "bm25_char_ngram"]
