"""Reciprocal rank fusion on hand-made rankings, and against LangChain's EnsembleRetriever."""

import random
from types import SimpleNamespace

import pytest

from genai_lab.rag.fusion import reciprocal_rank_fusion, rrf_scores


def test_hand_made_rankings():
    # a: 1/61 ; b: 1/62 + 1/61 ; c: 1/63 + 1/62 ; d: 1/63
    scores = dict(rrf_scores([["a", "b", "c"], ["b", "c", "d"]]))
    assert scores["a"] == pytest.approx(1 / 61)
    assert scores["b"] == pytest.approx(1 / 62 + 1 / 61)
    assert scores["c"] == pytest.approx(1 / 63 + 1 / 62)
    assert reciprocal_rank_fusion([["a", "b", "c"], ["b", "c", "d"]]) == ["b", "c", "a", "d"]


def test_agreement_beats_one_top_hit():
    # "x" is first in one list only; "y" is third in all three: with k=60 agreement wins
    rankings = [["x", "p", "y"], ["q", "r", "y"], ["s", "t", "y"]]
    assert reciprocal_rank_fusion(rankings)[0] == "y"
    # with k=0 the single top hit wins (1/1 > 3/3 ties -> broken by best rank)
    assert reciprocal_rank_fusion(rankings, k=0)[0] == "x"


def test_weights_and_top_n():
    rankings = [["a", "b"], ["b", "a"]]
    assert reciprocal_rank_fusion(rankings, weights=[2.0, 1.0]) == ["a", "b"]
    assert reciprocal_rank_fusion(rankings, weights=[1.0, 2.0]) == ["b", "a"]
    assert reciprocal_rank_fusion(rankings, weights=[1.0, 2.0], top_n=1) == ["b"]


def test_ties_are_deterministic_and_duplicates_count_once():
    assert reciprocal_rank_fusion([["a", "b"], ["b", "a"]]) == ["a", "b"]  # first seen wins a tie
    assert dict(rrf_scores([["a", "a", "b"]]))["a"] == pytest.approx(1 / 61)
    assert reciprocal_rank_fusion([]) == []
    assert reciprocal_rank_fusion([["a"]]) == ["a"]


def test_bad_input():
    with pytest.raises(TypeError, match="list of rankings"):
        reciprocal_rank_fusion(["abc", "bcd"])
    with pytest.raises(ValueError, match="one per ranking"):
        reciprocal_rank_fusion([["a"], ["b"]], weights=[1.0])
    with pytest.raises(ValueError, match="k must be"):
        reciprocal_rank_fusion([["a"]], k=-1)


def test_matches_langchain_ensemble_retriever():
    from langchain_classic.retrievers import EnsembleRetriever
    from langchain_core.documents import Document

    rng = random.Random(0)
    pool = [f"d{i}" for i in range(30)]
    for _ in range(20):
        rankings = [rng.sample(pool, rng.randint(1, 15)) for _ in range(rng.randint(1, 4))]
        weights = [rng.choice([0.5, 1.0, 2.0]) for _ in rankings]
        docs = [[Document(page_content=d) for d in r] for r in rankings]
        fake_self = SimpleNamespace(weights=weights, c=60, id_key=None)
        theirs = [d.page_content for d in EnsembleRetriever.weighted_reciprocal_rank(fake_self, docs)]
        ours = rrf_scores(rankings, k=60, weights=weights)
        assert sorted(theirs) == sorted(doc for doc, _ in ours)
        score = dict(ours)
        # the same scores, and LangChain's order is non-increasing in our scores
        assert all(score[a] >= score[b] - 1e-12 for a, b in zip(theirs, theirs[1:], strict=False))
