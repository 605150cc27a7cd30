"""Reciprocal rank fusion (RRF, Cormack, Clarke and Buettcher, SIGIR 2009).

Each ranking gives a document ``weight / (k + rank)`` (rank from 1); a document's fused score is the
sum over the rankings that contain it. ``k = 60`` damps the head of every list, so one ranker cannot
dominate with a single confident hit, and no score scales need to be compared: only ranks are used::

    reciprocal_rank_fusion([["a", "b", "c"], ["b", "c", "d"]])   # -> ["b", "c", "a", "d"]
"""

from __future__ import annotations

from collections.abc import Sequence

DEFAULT_K = 60


def rrf_scores(
    rankings: Sequence[Sequence[str]],
    k: float = DEFAULT_K,
    weights: Sequence[float] | None = None,
) -> list[tuple[str, float]]:
    """Fused ``(doc_id, score)`` pairs, best first.

    ``weights`` (one per ranking, default all 1) give weighted RRF. Within one ranking a repeated id
    counts only at its first (best) rank. Ties are broken by the best rank any ranking gave the
    document, then by the order in which documents were first seen, so the result is deterministic.
    """
    if isinstance(rankings, str) or any(isinstance(r, str) for r in rankings):
        raise TypeError("rankings must be a list of rankings (lists of ids), e.g. [['a', 'b'], ['b']].")
    if k < 0:
        raise ValueError(f"k must be >= 0 (the usual value is 60), got {k}.")
    if weights is None:
        weights = [1.0] * len(rankings)
    if len(weights) != len(rankings):
        raise ValueError(f"Got {len(weights)} weights for {len(rankings)} rankings; give one per ranking.")
    scores: dict[str, float] = {}
    best_rank: dict[str, int] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        seen: set[str] = set()
        for rank, doc in enumerate(ranking, start=1):
            if doc in seen:
                continue
            seen.add(doc)
            scores[doc] = scores.get(doc, 0.0) + weight / (k + rank)
            best_rank[doc] = min(best_rank.get(doc, rank), rank)
    order = {doc: i for i, doc in enumerate(scores)}
    return sorted(scores.items(), key=lambda item: (-item[1], best_rank[item[0]], order[item[0]]))


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[str]],
    k: float = DEFAULT_K,
    weights: Sequence[float] | None = None,
    top_n: int | None = None,
) -> list[str]:
    """Fuse several rankings of ids into one (see :func:`rrf_scores`); keep the best ``top_n``."""
    fused = [doc for doc, _ in rrf_scores(rankings, k=k, weights=weights)]
    return fused if top_n is None else fused[:top_n]


def minmax_fusion(
    scored: Sequence[Sequence[tuple[str, float]]],
    weights: Sequence[float] | None = None,
    top_n: int | None = None,
) -> list[tuple[str, float]]:
    """Convex combination of min-max normalised scores (CombSUM with min-max normalisation).

    Each list of ``(doc_id, score)`` pairs is rescaled to [0, 1] over its own entries (its best
    score -> 1, its worst -> 0); a document missing from a list gets 0 there. The fused score is
    ``sum(weight_i * normalised_i)``. Unlike RRF it keeps *how much* better one document scored than
    the next, which helps when one ranker is confident; it needs the scores, not only the ranks.
    Ties are broken by first appearance.
    """
    if weights is None:
        weights = [1.0] * len(scored)
    if len(weights) != len(scored):
        raise ValueError(f"Got {len(weights)} weights for {len(scored)} lists; give one per list.")
    total: dict[str, float] = {}
    for pairs, weight in zip(scored, weights, strict=True):
        if pairs and not isinstance(pairs[0], tuple | list):
            raise TypeError("Each list must hold (doc_id, score) pairs, e.g. [('d1', 12.3), ('d7', 9.8)].")
        if not pairs:
            continue
        values = [float(s) for _, s in pairs]
        low, high = min(values), max(values)
        span = high - low
        seen: set[str] = set()
        for (doc, _), value in zip(pairs, values, strict=True):
            if doc in seen:
                continue
            seen.add(doc)
            total[doc] = total.get(doc, 0.0) + weight * ((value - low) / span if span > 0 else 1.0)
    order = {doc: i for i, doc in enumerate(total)}
    fused = sorted(total.items(), key=lambda item: (-item[1], order[item[0]]))
    return fused if top_n is None else fused[:top_n]


# ------------------------------------------------------------------------------------------------
# Whole runs: query id -> ranking (or -> scored hits), as the metrics in genai_lab.rag.metrics take
# ------------------------------------------------------------------------------------------------
Run = dict[str, list[str]]
ScoredRun = dict[str, list[tuple[str, float]]]


def _check_runs(runs: Sequence[dict]) -> None:
    if isinstance(runs, dict) or not runs:
        raise TypeError("runs must be a non-empty list of runs (query id -> ranking), e.g. [bm25_run, dense_run].")
    queries = set(runs[0])
    for i, run in enumerate(runs[1:], start=1):
        if set(run) != queries:
            missing = sorted(queries ^ set(run))[:3]
            raise ValueError(
                f"run {i} does not rank the same queries as run 0 (e.g. {missing}); fuse runs over one query set."
            )


def rrf_run(
    runs: Sequence[Run],
    weights: Sequence[float] | None = None,
    k: float = DEFAULT_K,
    depth: int = 100,
) -> Run:
    """Fuse whole runs query by query with :func:`reciprocal_rank_fusion`: each run's top ``depth``
    ids go in, the fused top ``depth`` come out. All runs must rank the same queries."""
    _check_runs(runs)
    return {
        q: reciprocal_rank_fusion([run[q][:depth] for run in runs], k=k, weights=weights, top_n=depth)
        for q in runs[0]
    }


def minmax_run(scored_runs: Sequence[ScoredRun], weights: Sequence[float] | None = None, depth: int = 100) -> Run:
    """Fuse whole scored runs (query id -> ``(doc_id, score)`` pairs) query by query with
    :func:`minmax_fusion`; returns plain rankings."""
    _check_runs(scored_runs)
    return {
        q: [d for d, _ in minmax_fusion([run[q][:depth] for run in scored_runs], weights, top_n=depth)]
        for q in scored_runs[0]
    }
