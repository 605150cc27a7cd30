"""Retrieval metrics: Recall@k, MRR and nDCG@k, per query and averaged over queries.

The conventions are those of ``trec_eval`` / ``pytrec_eval``, which BEIR and MTEB use:

- a ranking is a list of document ids, best first; duplicates after the first occurrence are ignored;
- relevance is graded (``{doc_id: grade}``); grades <= 0 count as not relevant;
- Recall@k = (relevant documents in the top k) / (all relevant documents);
- MRR = 1 / rank of the first relevant document (0 when none is retrieved);
- nDCG@k uses the linear gain ``grade`` and the discount ``log2(rank + 1)`` (rank from 1), divided by
  the DCG of the ideal ranking of all judged documents;
- averages run over the queries that have at least one relevant document; a query with no
  retrieved documents scores 0.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping, Sequence

Ranking = Sequence[str]
Qrels = Mapping[str, Mapping[str, int]]
Run = Mapping[str, Ranking]


def _check_k(k: int) -> None:
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}.")


def _dedupe(ranked_ids: Ranking) -> list[str]:
    if isinstance(ranked_ids, str):
        raise TypeError("ranked_ids must be a list of ids, not one string: use [doc_id].")
    seen: set[str] = set()
    out = []
    for doc in ranked_ids:
        if doc not in seen:
            seen.add(doc)
            out.append(doc)
    return out


def _relevant_set(relevant_ids: Collection[str] | Mapping[str, int]) -> set[str]:
    if isinstance(relevant_ids, str):
        raise TypeError("relevant_ids must be a collection of ids, not one string: use {doc_id}.")
    if isinstance(relevant_ids, Mapping):
        return {d for d, grade in relevant_ids.items() if grade > 0}
    return set(relevant_ids)


def recall_at_k(
    ranked_ids: Ranking, relevant_ids: Collection[str] | Mapping[str, int], k: int
) -> float:
    """Share of the relevant documents found in the top ``k``; 0.0 when nothing is relevant."""
    _check_k(k)
    relevant = _relevant_set(relevant_ids)
    if not relevant:
        return 0.0
    return len(relevant.intersection(_dedupe(ranked_ids)[:k])) / len(relevant)


def mrr(ranked_ids: Ranking, relevant_ids: Collection[str] | Mapping[str, int], k: int | None = None) -> float:
    """Reciprocal rank of the first relevant document (within the top ``k`` if given), else 0.0."""
    relevant = _relevant_set(relevant_ids)
    ranked = _dedupe(ranked_ids)
    if k is not None:
        _check_k(k)
        ranked = ranked[:k]
    for rank, doc in enumerate(ranked, start=1):
        if doc in relevant:
            return 1.0 / rank
    return 0.0


def dcg(gains: Sequence[float]) -> float:
    """Discounted cumulative gain of a list of gains in rank order: sum of g / log2(rank + 1)."""
    return sum(g / math.log2(rank + 1) for rank, g in enumerate(gains, start=1))


def ndcg_at_k(ranked_ids: Ranking, relevance: Mapping[str, int], k: int) -> float:
    """nDCG@k with graded relevance (linear gain, log2 discount), as trec_eval's ``ndcg_cut``."""
    _check_k(k)
    if not isinstance(relevance, Mapping):
        raise TypeError("relevance must map doc id -> grade, e.g. {'d1': 2, 'd7': 1}.")
    ideal = dcg(sorted((g for g in relevance.values() if g > 0), reverse=True)[:k])
    if ideal == 0:
        return 0.0
    gains = [max(relevance.get(doc, 0), 0) for doc in _dedupe(ranked_ids)[:k]]
    return dcg(gains) / ideal


def _mean(
    run: Run, qrels: Qrels, per_query: Callable[[Ranking, Mapping[str, int]], float]
) -> float:
    judged = [q for q, rel in qrels.items() if any(g > 0 for g in rel.values())]
    if not judged:
        raise ValueError("qrels hold no query with a relevant document; nothing to average.")
    return sum(per_query(run.get(q, []), qrels[q]) for q in judged) / len(judged)


def mean_recall_at_k(run: Run, qrels: Qrels, k: int) -> float:
    """Recall@k averaged over the judged queries (``run``: query id -> ranked doc ids)."""
    return _mean(run, qrels, lambda r, rel: recall_at_k(r, rel, k))


def mean_mrr(run: Run, qrels: Qrels, k: int | None = None) -> float:
    """MRR (optionally MRR@k) averaged over the judged queries."""
    return _mean(run, qrels, lambda r, rel: mrr(r, rel, k))


def mean_ndcg_at_k(run: Run, qrels: Qrels, k: int) -> float:
    """nDCG@k averaged over the judged queries."""
    return _mean(run, qrels, lambda r, rel: ndcg_at_k(r, rel, k))


def evaluate(run: Run, qrels: Qrels, ndcg_k: int = 10, recall_ks: Sequence[int] = (100,)) -> dict[str, float]:
    """The usual table row: ``{"ndcg@10": ..., "recall@100": ..., "mrr": ...}``."""
    out = {f"ndcg@{ndcg_k}": mean_ndcg_at_k(run, qrels, ndcg_k)}
    for k in recall_ks:
        out[f"recall@{k}"] = mean_recall_at_k(run, qrels, k)
    out["mrr"] = mean_mrr(run, qrels)
    return out
