"""FAISS vector search: exact, inverted-file, graph and compressed indexes, and a benchmark.

All indexes use the inner product on L2-normalised vectors, i.e. cosine similarity:

========  =====================================  ================================================
kind      FAISS index                            knobs
========  =====================================  ================================================
flat      ``IndexFlatIP``                        none: exact, the ground truth
ivf_flat  ``IndexIVFFlat`` (k-means cells)       ``nlist`` cells; ``nprobe`` cells searched
hnsw      ``IndexHNSWFlat`` (proximity graph)    ``M`` links per node; ``efSearch`` candidates
ivf_pq    ``IndexIVFPQ`` (cells + product quant.) ``nlist``, ``pq_m`` sub-vectors; ``nprobe``
========  =====================================  ================================================

On a machine with ``faiss-gpu`` the same calls put flat and IVF indexes on the GPU
(``use_gpu=None`` means "when available"); HNSW has no GPU version in FAISS and stays on the CPU.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

KINDS = ("flat", "ivf_flat", "hnsw", "ivf_pq")


def gpu_available() -> bool:
    """True when this FAISS build has GPU support and sees a GPU."""
    import faiss

    return hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0


def _as_matrix(vectors: np.ndarray, name: str = "vectors") -> np.ndarray:
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or vectors.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty (n, dim) array, got shape {vectors.shape}.")
    return vectors


def build_index(
    vectors: np.ndarray,
    kind: str = "flat",
    *,
    nlist: int = 1024,
    hnsw_m: int = 32,
    ef_construction: int = 80,
    pq_m: int = 48,
    pq_bits: int = 8,
    train_size: int = 100_000,
    use_gpu: bool | None = None,
    seed: int = 0,
) -> Any:
    """Build and fill a FAISS index of ``kind`` (one of :data:`KINDS`) over ``vectors``.

    IVF indexes are trained with k-means on at most ``train_size`` vectors drawn with ``seed``.
    ``pq_m`` must divide the dimension (384 = 48 x 8 for MiniLM).
    """
    import faiss

    vectors = _as_matrix(vectors)
    n, dim = vectors.shape
    if kind not in KINDS:
        raise ValueError(f"Unknown index kind {kind!r}; choose one of {KINDS}.")
    index: Any  # one of FAISS's index classes, then possibly its GPU copy
    if kind == "flat":
        index = faiss.IndexFlatIP(dim)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = ef_construction
    else:
        if nlist > n:
            raise ValueError(f"nlist={nlist} cells need at least that many vectors; got {n}.")
        quantizer = faiss.IndexFlatIP(dim)
        if kind == "ivf_flat":
            index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
        else:
            if dim % pq_m:
                raise ValueError(f"pq_m={pq_m} must divide the dimension {dim} (e.g. 48 for 384).")
            index = faiss.IndexIVFPQ(quantizer, dim, nlist, pq_m, pq_bits, faiss.METRIC_INNER_PRODUCT)
        index.cp.seed = seed
        rng = np.random.default_rng(seed)
        sample = vectors[rng.choice(n, size=min(n, train_size), replace=False)]
        index.train(sample)  # the Python wrapper keeps `quantizer` alive with the index
    if (use_gpu is None and gpu_available() or use_gpu) and kind != "hnsw":
        if not gpu_available():
            raise RuntimeError("use_gpu=True, but this FAISS build sees no GPU (install faiss-gpu).")
        resources = faiss.StandardGpuResources()
        index = faiss.index_cpu_to_gpu(resources, 0, index)
        index.resources_keepalive = resources
    index.add(vectors)
    return index


def set_search_params(index: Any, nprobe: int | None = None, ef_search: int | None = None) -> None:
    """Set the search-time knobs: ``nprobe`` for IVF indexes, ``efSearch`` for HNSW."""
    import faiss

    if nprobe is not None:
        if not hasattr(index, "nprobe"):
            raise ValueError(f"nprobe applies to IVF indexes, not {type(index).__name__}.")
        index.nprobe = nprobe
    if ef_search is not None:
        if not isinstance(index, faiss.IndexHNSW):
            raise ValueError(f"ef_search applies to HNSW indexes, not {type(index).__name__}.")
        index.hnsw.efSearch = ef_search


def search(index: Any, queries: np.ndarray, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """``(scores, ids)``, each ``(n_queries, k)``, best first; ids are row numbers, -1 if missing."""
    return index.search(_as_matrix(queries, "queries"), k)


def index_memory_bytes(index: Any) -> int:
    """The index's size as FAISS serialises it (vectors or codes, plus graph or lists)."""
    import faiss

    if hasattr(faiss, "index_gpu_to_cpu") and "Gpu" in type(index).__name__:
        index = faiss.index_gpu_to_cpu(index)
    return int(faiss.serialize_index(index).nbytes)


def recall_against(exact_ids: np.ndarray, approx_ids: np.ndarray, k: int = 10) -> float:
    """Recall@k of an approximate search: the share of the exact top ``k`` found in its top ``k``."""
    if exact_ids.shape[0] != approx_ids.shape[0]:
        raise ValueError("exact_ids and approx_ids must hold the same queries.")
    hits = sum(
        len(set(e[:k].tolist()) & set(a[:k].tolist()) - {-1})
        for e, a in zip(exact_ids, approx_ids, strict=True)
    )
    return hits / (exact_ids.shape[0] * k)


def synthetic_like(
    base: np.ndarray, n: int, seed: int = 0, neighbours: int = 10, noise: float = 0.05
) -> np.ndarray:
    """``n`` synthetic unit vectors clustered around the real ``base`` vectors.

    Each one mixes a random base vector with one of its ``neighbours`` nearest base vectors (weight
    0 to 0.5) and adds Gaussian noise of total norm about ``noise``, so the synthetic points sit in
    the same clusters as the real embeddings rather than uniformly on the sphere (where every
    neighbour is equally far and no index can do better than brute force).
    """
    base = _as_matrix(base, "base")
    rng = np.random.default_rng(seed)
    m, dim = base.shape
    neighbours = min(neighbours, m - 1)
    near = np.empty((m, max(neighbours, 1)), dtype=np.int64)
    for start in range(0, m, 2048):  # exact nearest neighbours among the base, in blocks
        sims = base[start : start + 2048] @ base.T
        near[start : start + 2048] = np.argsort(-sims, axis=1)[:, 1 : neighbours + 1]
    out = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, 50_000):
        size = min(50_000, n - start)
        i = rng.integers(0, m, size)
        j = near[i, rng.integers(0, near.shape[1], size)]
        w = rng.uniform(0.0, 0.5, size)[:, None].astype(np.float32)
        x = (1 - w) * base[i] + w * base[j]
        x += rng.normal(0.0, noise / np.sqrt(dim), (size, dim)).astype(np.float32)
        out[start : start + size] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


@dataclass
class BenchmarkRow:
    """One index setting in :func:`benchmark_indexes`."""

    name: str
    kind: str
    params: dict[str, Any]
    build_s: float
    memory_mb: float
    recall_at_10: float
    qps: float  # queries per second on the whole batch
    latency_ms: float  # median single-query latency
    speedup: float = field(default=0.0)  # qps / exact search's qps

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _timed_batch(index: Any, queries: np.ndarray, k: int, repeats: int) -> tuple[float, np.ndarray]:
    best = float("inf")
    ids = np.empty(0)
    for _ in range(repeats):
        start = time.perf_counter()
        _, ids = index.search(queries, k)
        best = min(best, time.perf_counter() - start)
    return best, ids


def _latency_ms(index: Any, queries: np.ndarray, k: int) -> float:
    times = []
    for row in queries:
        start = time.perf_counter()
        index.search(row[None, :], k)
        times.append(time.perf_counter() - start)
    return float(np.median(times) * 1e3)


def benchmark_indexes(
    database: np.ndarray,
    queries: np.ndarray,
    configs: Sequence[dict[str, Any]],
    k: int = 10,
    latency_queries: int = 100,
    repeats: int = 2,
    use_gpu: bool | None = None,
    progress: bool = False,
    threads: int | None = None,
) -> list[BenchmarkRow]:
    """Build each index in ``configs`` and measure it against exact search on the same queries.

    Each config is ``{"name": str, "kind": str, "build": {...build_index kwargs},
    "search": [{"nprobe": 8}, {"nprobe": 32}, ...]}``; every search setting becomes one row. The
    exact ``flat`` index is always measured first and gives the ground truth and the QPS baseline.
    QPS is measured on the whole batch (best of ``repeats``), latency as the median over
    ``latency_queries`` one-at-a-time searches. ``threads`` sets FAISS's OpenMP threads for the
    run (default: FAISS's own choice, all cores); it is restored afterwards.
    """
    import faiss

    before = faiss.omp_get_max_threads()
    if threads is not None:
        faiss.omp_set_num_threads(threads)
    try:
        return _benchmark(database, queries, configs, k, latency_queries, repeats, use_gpu, progress)
    finally:
        faiss.omp_set_num_threads(before)


def _benchmark(
    database: np.ndarray,
    queries: np.ndarray,
    configs: Sequence[dict[str, Any]],
    k: int,
    latency_queries: int,
    repeats: int,
    use_gpu: bool | None,
    progress: bool,
) -> list[BenchmarkRow]:
    database = _as_matrix(database, "database")
    queries = _as_matrix(queries, "queries")
    if database.shape[1] != queries.shape[1]:
        raise ValueError(f"database dim {database.shape[1]} != queries dim {queries.shape[1]}.")
    rows: list[BenchmarkRow] = []

    def measure(name: str, kind: str, index: Any, build_s: float, params: dict) -> np.ndarray:
        seconds, ids = _timed_batch(index, queries, k, repeats)
        rows.append(
            BenchmarkRow(
                name=name,
                kind=kind,
                params=params,
                build_s=build_s,
                memory_mb=index_memory_bytes(index) / 2**20,
                recall_at_10=recall_against(exact_ids, ids, k) if rows else 1.0,
                qps=len(queries) / seconds,
                latency_ms=_latency_ms(index, queries[:latency_queries], k),
            )
        )
        rows[-1].speedup = rows[-1].qps / rows[0].qps
        return ids

    start = time.perf_counter()
    flat = build_index(database, "flat", use_gpu=use_gpu)
    exact_ids = np.empty(0)
    exact_ids = measure("exact (IndexFlatIP)", "flat", flat, time.perf_counter() - start, {})
    del flat
    items: Any = configs
    if progress:
        from tqdm.auto import tqdm

        items = tqdm(configs, desc="indexes")
    for config in items:
        kind = config["kind"]
        build = dict(config.get("build", {}))
        start = time.perf_counter()
        index = build_index(database, kind, use_gpu=use_gpu, **build)
        build_s = time.perf_counter() - start
        for setting in config.get("search", [{}]):
            set_search_params(index, **setting)
            measure(config.get("name", kind), kind, index, build_s, {**build, **setting})
        del index
    return rows
