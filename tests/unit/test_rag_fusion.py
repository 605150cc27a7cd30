"""Reciprocal rank fusion on hand-made rankings, and against LangChain's EnsembleRetriever."""

import random
from types import SimpleNamespace

import pytest

from genai_lab.rag.fusion import minmax_run, reciprocal_rank_fusion, rrf_run, rrf_scores


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


def test_minmax_fusion_hand_case():
    from genai_lab.rag.fusion import minmax_fusion

    bm25 = [("a", 12.0), ("b", 8.0), ("c", 4.0)]  # -> a 1.0, b 0.5, c 0.0
    dense = [("b", 0.9), ("c", 0.7), ("d", 0.5)]  # -> b 1.0, c 0.5, d 0.0
    fused = dict(minmax_fusion([bm25, dense], weights=[0.5, 0.5]))
    assert fused == pytest.approx({"a": 0.5, "b": 0.75, "c": 0.25, "d": 0.0})
    assert [d for d, _ in minmax_fusion([bm25, dense], weights=[0.9, 0.1])][:2] == ["a", "b"]
    # RRF ignores the score gaps: with equal weights it ranks b first as well, but a and c tie-break
    assert reciprocal_rank_fusion([[d for d, _ in bm25], [d for d, _ in dense]])[0] == "b"


def test_minmax_fusion_edge_cases():
    from genai_lab.rag.fusion import minmax_fusion

    assert minmax_fusion([[("x", 3.0)], []]) == [("x", 1.0)]  # one entry normalises to 1
    assert minmax_fusion([[("x", 1.0), ("y", 1.0)]], top_n=1) == [("x", 1.0)]  # tie: first seen
    with pytest.raises(TypeError, match="pairs"):
        minmax_fusion([["a", "b"]])
    with pytest.raises(ValueError, match="one per list"):
        minmax_fusion([[("a", 1.0)]], weights=[1.0, 2.0])


def test_rrf_run_fuses_whole_runs_query_by_query():
    bm25 = {"q1": ["a", "b", "c"], "q2": ["x", "y"]}
    dense = {"q1": ["b", "c", "d"], "q2": ["y", "z"]}
    fused = rrf_run([bm25, dense], depth=3)
    assert fused == {
        "q1": reciprocal_rank_fusion([bm25["q1"], dense["q1"]], top_n=3),
        "q2": reciprocal_rank_fusion([bm25["q2"], dense["q2"]], top_n=3),
    }
    assert fused["q1"] == ["b", "c", "a"]
    assert rrf_run([bm25, dense], weights=[1.0, 0.0], depth=3)["q1"] == ["a", "b", "c"]  # weight 0: BM25 alone
    assert rrf_run([bm25], depth=1) == {"q1": ["a"], "q2": ["x"]}  # depth cuts inputs and output


def test_minmax_run_and_run_checks():
    bm25 = {"q": [("a", 10.0), ("b", 0.0)]}
    dense = {"q": [("b", 0.9), ("a", 0.1)]}
    assert minmax_run([bm25, dense], [0.7, 0.3]) == {"q": ["a", "b"]}
    assert minmax_run([bm25, dense], [0.3, 0.7]) == {"q": ["b", "a"]}
    with pytest.raises(ValueError, match="same queries"):
        rrf_run([{"q1": ["a"]}, {"q2": ["a"]}])
    with pytest.raises(TypeError, match="list of runs"):
        rrf_run({"q1": ["a"]})
