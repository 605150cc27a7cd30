"""Retrievers over precomputed vectors: exact/FAISS dense search and BM25 + dense hybrid by RRF.

- **Dense**: embed the query, nearest neighbours by cosine (:class:`DenseRetriever`).
- **Hybrid**: BM25 and dense rankings fused by (weighted) reciprocal rank fusion
  (:class:`HybridRetriever`).

Anything with ``rank(queries, k) -> list of ranked id lists`` is a ranker (:class:`Ranker`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from genai_lab.rag.fusion import DEFAULT_K, reciprocal_rank_fusion

Embedder = Callable[[list[str]], np.ndarray]


class DenseRetriever:
    """Cosine nearest neighbours over ``vectors`` (L2-normalised rows, one per id).

    ``index`` is an optional FAISS index over the same rows (e.g. HNSW); without one the search is
    exact (one matrix product). ``embed`` turns query texts into vectors (default: cached MiniLM).
    """

    def __init__(
        self,
        ids: Sequence[str],
        vectors: np.ndarray,
        index: Any = None,
        embed: Embedder | None = None,
    ) -> None:
        if len(ids) != len(vectors):
            raise ValueError(f"Got {len(ids)} ids for {len(vectors)} vectors; give one id per row.")
        self.ids = list(ids)
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self.index = index
        if embed is None:
            from genai_lab.rag.embeddings import embed_texts

            embed = embed_texts
        self.embed = embed

    def search_vectors(self, queries: np.ndarray, k: int = 10) -> list[list[tuple[str, float]]]:
        """Top ``k`` ``(id, cosine)`` pairs per query vector, best first."""
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        k = min(k, len(self.ids))
        if self.index is not None:
            scores, rows = self.index.search(queries, k)
        else:
            sims = queries @ self.vectors.T
            rows = np.argpartition(-sims, k - 1, axis=1)[:, :k]
            part = np.take_along_axis(sims, rows, axis=1)
            order = np.argsort(-part, axis=1, kind="stable")
            rows = np.take_along_axis(rows, order, axis=1)
            scores = np.take_along_axis(part, order, axis=1)
        return [
            [(self.ids[int(r)], float(s)) for r, s in zip(row, score, strict=True) if r >= 0]
            for row, score in zip(rows, scores, strict=True)
        ]

    def search(self, queries: Sequence[str], k: int = 10) -> list[list[tuple[str, float]]]:
        if isinstance(queries, str):
            raise TypeError("search expects a list of queries, not one string: use [query].")
        return self.search_vectors(self.embed(list(queries)), k=k)

    def rank(self, queries: Sequence[str], k: int = 10) -> list[list[str]]:
        return [[d for d, _ in hits] for hits in self.search(queries, k=k)]


class Ranker:
    """Anything with ``rank(queries, k) -> list of ranked id lists`` (BM25Index, DenseRetriever)."""

    def rank(self, queries: Sequence[str], k: int = 10) -> list[list[str]]:  # pragma: no cover
        raise NotImplementedError


@dataclass
class HybridRetriever:
    """BM25 and dense rankings fused by weighted RRF: ``weights = (w_bm25, w_dense)``.

    Each ranker contributes its top ``depth`` documents to the fusion.
    """

    sparse: Any
    dense: Any
    weights: tuple[float, float] = (1.0, 1.0)
    rrf_k: float = DEFAULT_K
    depth: int = 100

    def rank(self, queries: Sequence[str], k: int = 10) -> list[list[str]]:
        sparse = self.sparse.rank(queries, k=self.depth)
        dense = self.dense.rank(queries, k=self.depth)
        return [
            reciprocal_rank_fusion([s, d], k=self.rrf_k, weights=self.weights, top_n=k)
            for s, d in zip(sparse, dense, strict=True)
        ]
