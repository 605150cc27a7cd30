"""Advanced retrieval wiring with a deterministic fake LLM and a bag-of-words fake embedder."""

import re
import zlib

import numpy as np
import pytest

from genai_lab.rag.advanced import (
    AlignedRetriever,
    CachedLLM,
    CountingLLM,
    DenseRetriever,
    HybridRetriever,
    align_chunks,
    collapse_to_parents,
    hyde_rank,
    hyde_vectors,
    multi_query_rank,
    multi_query_rewrites,
    parse_lines,
)
from genai_lab.rag.fusion import reciprocal_rank_fusion


def bow_embed(texts, dim=64):
    """Hashing bag-of-words: texts sharing words get similar unit vectors."""
    out = np.zeros((len(texts), dim), dtype=np.float32)
    for i, text in enumerate(texts):
        for word in re.findall(r"\w+", text.lower()):
            out[i, zlib.crc32(word.encode()) % dim] += 1.0
    out += 1e-6
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def fake_llm(prompt: str) -> str:
    """Deterministic: rewrites, passages and alignment answers keyed on the prompt."""
    if "Rewrite the search query" in prompt:
        query = prompt.rsplit("Query: ", 1)[1]
        return f"1. {query} please\n2) what about {query}\n- {query}\n\n* another {query}"
    if "scientific paper" in prompt:
        return "Aspirin lowers fever by blocking prostaglandin synthesis."
    if "questions that the text" in prompt:
        return "How do I reset my password?\nWhere is the reset link?"
    if "Summarise" in prompt:
        return "A summary."
    return "keyword"


class DictRanker:
    def __init__(self, table):
        self.table = table
        self.calls = []

    def rank(self, queries, k=10):
        self.calls.append(list(queries))
        return [self.table.get(q, [])[:k] for q in queries]


def test_parse_lines_strips_bullets_and_duplicates():
    text = "1. alpha beta\n2) gamma\n- alpha beta\n\n* delta\nQuery: epsilon"
    assert parse_lines(text, 10) == ["alpha beta", "gamma", "delta", "epsilon"]
    assert parse_lines(text, 2) == ["alpha beta", "gamma"]
    assert parse_lines("gamma\nzeta", 5, exclude=["Gamma"]) == ["zeta"]


def test_multi_query_rewrites_and_fusion():
    llm = CountingLLM(fake_llm)
    assert multi_query_rewrites("cats", llm, n=2) == ["cats please", "what about cats"]
    table = {
        "cats": ["a", "b", "c"],
        "cats please": ["b", "a"],
        "what about cats": ["c", "b"],
        "another cats": ["d"],
    }
    ranker = DictRanker(table)
    llm.reset()
    fused = multi_query_rank(["cats"], llm, ranker, n=3, k=10)
    assert llm.calls == 1  # one LLM call per question
    assert ranker.calls == [["cats", "cats please", "what about cats", "another cats"]]
    expected = reciprocal_rank_fusion(
        [table["cats"], table["cats please"], table["what about cats"], table["another cats"]], k=60
    )
    assert fused == [expected]
    assert fused[0][0] == "b"  # found by three variants
    with pytest.raises(ValueError, match="n must be"):
        multi_query_rewrites("x", llm, n=0)


def test_hybrid_weights():
    sparse = DictRanker({"q": ["s1", "both", "s2"]})
    dense = DictRanker({"q": ["d1", "both", "d2"]})
    assert HybridRetriever(sparse, dense).rank(["q"], k=2) == [["both", "s1"]]
    assert HybridRetriever(sparse, dense, weights=(0.5, 1.0)).rank(["q"], k=1) == [["both"]]
    assert HybridRetriever(sparse, dense, weights=(0.01, 1.0)).rank(["q"], k=1) == [["d1"]]


def test_dense_retriever_exact_matches_faiss_flat():
    from genai_lab.rag.vector_search import build_index

    rng = np.random.default_rng(0)
    vecs = rng.normal(size=(50, 16)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    ids = [f"doc{i}" for i in range(50)]
    exact = DenseRetriever(ids, vecs, embed=bow_embed)
    flat = DenseRetriever(ids, vecs, index=build_index(vecs, "flat", use_gpu=False), embed=bow_embed)
    q = vecs[:5] + 0.1 * rng.normal(size=(5, 16)).astype(np.float32)
    a, b = exact.search_vectors(q, k=7), flat.search_vectors(q, k=7)
    assert [[d for d, _ in r] for r in a] == [[d for d, _ in r] for r in b]
    assert a[0][0][0] == "doc0"
    with pytest.raises(ValueError, match="one id per row"):
        DenseRetriever(ids[:3], vecs, embed=bow_embed)


def test_hyde_vector_is_mean_of_passage_and_question():
    llm = CountingLLM(fake_llm)
    vecs, passages = hyde_vectors(["why does aspirin help?"], llm, bow_embed)
    assert llm.calls == 1 and passages[0].startswith("Aspirin")
    expected = bow_embed([passages[0]]) + bow_embed(["why does aspirin help?"])
    np.testing.assert_allclose(vecs, expected / np.linalg.norm(expected), rtol=1e-5)
    docs = ["Aspirin blocks prostaglandin synthesis and lowers fever.", "Cats sleep a lot."]
    retriever = DenseRetriever(["asp", "cat"], bow_embed(docs), embed=bow_embed)
    assert hyde_rank(["why does aspirin help?"], llm, retriever, k=1) == [["asp"]]


def test_alignment_finds_chunk_by_generated_question():
    chunks = {"c1": "Account settings are under the profile menu.", "c2": "Invoices are sent monthly."}
    llm = CountingLLM(lambda p: fake_llm(p) if "Account" in p else "Billing questions.")
    aligned = align_chunks(list(chunks), list(chunks.values()), llm, kinds=("questions", "summary"))
    assert llm.calls == 4  # two chunks x two kinds
    assert aligned.parents.count("c1") == 4  # chunk + 2 questions + summary
    assert set(aligned.kinds) == {"chunk", "questions", "summary"}
    retriever = AlignedRetriever(aligned, embed=bow_embed)
    assert retriever.rank(["how can I reset my password"], k=2) == [["c1", "c2"]]
    with pytest.raises(ValueError, match="Unknown alignment kinds"):
        align_chunks(["c"], ["t"], llm, kinds=("poems",))


def test_collapse_to_parents():
    assert collapse_to_parents(["0", "2", "1", "3"], ["a", "a", "b", "c"]) == ["a", "b", "c"]
    assert collapse_to_parents(["x", "y"], {"x": "p", "y": "p"}) == ["p"]


def test_cached_llm(tmp_path):
    counting = CountingLLM(fake_llm)
    cached = CachedLLM(counting, "fake", path=tmp_path / "llm.sqlite")
    assert cached("Summarise x") == "A summary."
    assert cached("Summarise x") == "A summary."
    assert counting.calls == 1 and cached.hits == 1 and cached.misses == 1
    again = CachedLLM(counting, "fake", path=tmp_path / "llm.sqlite")
    again("Summarise x")
    assert counting.calls == 1  # persisted on disk
    with pytest.raises(ValueError, match="plain name"):
        CachedLLM(fake_llm, "a/b")


class BatchLLM:
    """A fake LLM that records how prompts arrive (one by one or in batches)."""

    def __init__(self):
        self.batches = []

    def __call__(self, prompt):
        self.batches.append(1)
        return fake_llm(prompt)

    def batch(self, prompts):
        self.batches.append(len(prompts))
        return [fake_llm(p) for p in prompts]


def test_batched_generation_is_used_and_counted(tmp_path):
    inner = BatchLLM()
    counting = CountingLLM(inner)
    cached = CachedLLM(counting, "fake", path=tmp_path / "llm.sqlite")
    ranker = DictRanker({"a": ["x"], "b": ["y"]})
    multi_query_rank(["a", "b", "a"], cached, ranker, n=2)
    assert inner.batches == [2]  # one batch, the repeated question generated once
    assert counting.calls == 2 and cached.hits == 1
    multi_query_rank(["a", "b"], cached, ranker, n=2)
    assert inner.batches == [2] and cached.hits == 3


def test_cached_llm_saves_each_chunk(tmp_path):
    class Flaky(BatchLLM):
        def batch(self, prompts):
            if self.batches:
                raise RuntimeError("interrupted")
            return super().batch(prompts)

    cached = CachedLLM(Flaky(), "fake", path=tmp_path / "llm.sqlite", chunk=2)
    with pytest.raises(RuntimeError, match="interrupted"):
        cached.batch(["Summarise a", "Summarise b", "Summarise c"])
    again = CachedLLM(BatchLLM(), "fake", path=tmp_path / "llm.sqlite", chunk=2)
    assert again.batch(["Summarise a", "Summarise b", "Summarise c"]) == ["A summary."] * 3
    assert again.hits == 2 and again.misses == 1  # the first chunk survived


def test_cached_llm_is_keyed_by_model_name(tmp_path):
    first = CountingLLM(lambda p: "from model one")
    second = CountingLLM(lambda p: "from model two")
    assert CachedLLM(first, "model-one", path=tmp_path / "llm.sqlite")("Summarise x") == "from model one"
    # the same prompt, the same file, another model name: a miss, never the other model's answer
    assert CachedLLM(second, "model-two", path=tmp_path / "llm.sqlite")("Summarise x") == "from model two"
    assert first.calls == second.calls == 1
    assert CachedLLM(first, "model-one", path=tmp_path / "llm.sqlite").lookup("Summarise x") == "from model one"
