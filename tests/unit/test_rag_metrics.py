"""Retrieval metrics against hand-computed cases and the trec_eval / BEIR conventions."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from genai_lab.rag.metrics import (
    evaluate,
    mean_mrr,
    mean_ndcg_at_k,
    mean_recall_at_k,
    mrr,
    ndcg_at_k,
    recall_at_k,
)

RANKED = ["d1", "d2", "d3", "d4"]
GRADES = {"d1": 3, "d3": 2, "d5": 1, "d9": 0}  # d5 is never retrieved, d9 is judged not relevant


def test_recall_hand_computed():
    assert recall_at_k(RANKED, {"d1", "d3", "d5"}, 1) == pytest.approx(1 / 3)
    assert recall_at_k(RANKED, {"d1", "d3", "d5"}, 3) == pytest.approx(2 / 3)
    assert recall_at_k(RANKED, {"d1", "d3", "d5"}, 100) == pytest.approx(2 / 3)
    assert recall_at_k(RANKED, GRADES, 4) == pytest.approx(2 / 3)  # grade 0 is not relevant
    assert recall_at_k(RANKED, set(), 10) == 0.0


def test_mrr_hand_computed():
    assert mrr(RANKED, {"d3"}) == pytest.approx(1 / 3)
    assert mrr(RANKED, {"d3", "d4"}) == pytest.approx(1 / 3)
    assert mrr(RANKED, {"d3"}, k=2) == 0.0
    assert mrr(RANKED, {"zz"}) == 0.0


def test_ndcg_hand_computed_graded():
    # DCG@3 = 3/log2(2) + 0/log2(3) + 2/log2(4) = 3 + 0 + 1 = 4
    # IDCG@3 = 3/log2(2) + 2/log2(3) + 1/log2(4) = 3 + 1.2618595 + 0.5 = 4.7618595
    assert ndcg_at_k(RANKED, GRADES, 3) == pytest.approx(4 / 4.7618595, abs=1e-6)
    # k=1: the best document is first
    assert ndcg_at_k(RANKED, GRADES, 1) == pytest.approx(1.0)
    # binary case, as in SciFact: one relevant document at rank 2 -> 1/log2(3)
    assert ndcg_at_k(["a", "b", "c"], {"b": 1}, 10) == pytest.approx(1 / math.log2(3))


def test_ndcg_linear_gain_not_exponential():
    # trec_eval (and so BEIR / MTEB) uses gain = grade; with 2**grade - 1 this would be 0.6923...
    value = ndcg_at_k(["low", "high"], {"high": 2, "low": 1}, 2)
    expected = (1 + 2 / math.log2(3)) / (2 + 1 / math.log2(3))
    assert value == pytest.approx(expected)
    assert value != pytest.approx((1 + 3 / math.log2(3)) / (3 + 1 / math.log2(3)))


def test_duplicates_count_once():
    assert ndcg_at_k(["a", "a", "b"], {"b": 1}, 2) == pytest.approx(1 / math.log2(3))
    assert recall_at_k(["a", "a", "b"], {"b"}, 2) == 1.0


def test_means_and_evaluate():
    run = {"q1": ["a", "b"], "q2": ["c", "d"]}
    qrels = {"q1": {"b": 1}, "q2": {"c": 1}, "q3": {"x": 1}}  # q3 has no results: it scores 0
    assert mean_mrr(run, qrels) == pytest.approx((0.5 + 1.0 + 0.0) / 3)
    assert mean_recall_at_k(run, qrels, 1) == pytest.approx(1 / 3)
    assert mean_ndcg_at_k(run, qrels, 10) == pytest.approx((1 / math.log2(3) + 1) / 3)
    row = evaluate(run, qrels, ndcg_k=10, recall_ks=(1, 100))
    assert set(row) == {"ndcg@10", "recall@1", "recall@100", "mrr"}


def test_bad_input_errors_name_the_fix():
    with pytest.raises(ValueError, match="positive integer"):
        recall_at_k(RANKED, {"d1"}, 0)
    with pytest.raises(TypeError, match="not one string"):
        ndcg_at_k("d1", {"d1": 1}, 10)
    with pytest.raises(ValueError, match="no query"):
        mean_ndcg_at_k({}, {"q": {"d": 0}}, 10)


ids = st.lists(st.sampled_from([f"d{i}" for i in range(12)]), max_size=15)
grades = st.dictionaries(st.sampled_from([f"d{i}" for i in range(12)]), st.integers(0, 3), max_size=8)


@given(ids, grades, st.integers(1, 20))
def test_ndcg_bounds_and_ideal_ranking(ranked, relevance, k):
    value = ndcg_at_k(ranked, relevance, k)
    assert 0.0 <= value <= 1.0 + 1e-12
    ideal = sorted((d for d, g in relevance.items() if g > 0), key=lambda d: -relevance[d])
    if ideal:
        assert ndcg_at_k(ideal, relevance, k) == pytest.approx(1.0)


def test_markdown_table():
    from genai_lab.rag.report import markdown_table

    text = markdown_table(
        [{"name": "bm25", "ndcg": 0.68634, "n": 1200, "note": None}, {"name": "a|b", "ndcg": float("nan")}],
        formats={"ndcg": ".2f"},
    )
    lines = text.splitlines()
    cells = [[c.strip() for c in line.strip("|").split(" | ")] for line in lines]
    assert cells[0] == ["name", "ndcg", "n", "note"]
    assert set(lines[1]) <= {"|", "-", ":"}
    assert cells[2] == ["bm25", "0.69", "1,200", "-"]
    assert cells[3] == ["a\\|b", "-", "-", "-"]  # a pipe in a cell is escaped; NaN and missing print "-"
