"""FAISS index builders and the benchmark, on small clustered data (seconds)."""

import numpy as np
import pytest

from genai_lab.rag.vector_search import (
    benchmark_indexes,
    build_index,
    index_memory_bytes,
    recall_against,
    set_search_params,
    synthetic_like,
)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """OpenMP threads spin while they wait; on a shared 2-core machine one thread is much faster."""
    import faiss

    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    yield
    faiss.omp_set_num_threads(before)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(300, 32)).astype(np.float32)
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    database = synthetic_like(base, 3000, seed=1, noise=0.3)
    queries = synthetic_like(base, 50, seed=2, noise=0.3)
    return database, queries


def exact_top(database, queries, k):
    return np.argsort(-(queries @ database.T), axis=1, kind="stable")[:, :k]


def test_synthetic_like_is_unit_and_clustered(data):
    database, _ = data
    assert database.shape == (3000, 32) and database.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(database, axis=1), 1.0, rtol=1e-5)
    rng = np.random.default_rng(5)
    uniform = rng.normal(size=(3000, 32))
    uniform /= np.linalg.norm(uniform, axis=1, keepdims=True)
    # nearest-neighbour similarity is much higher than for uniform points on the sphere
    top = lambda x: np.sort(x[:100] @ x.T, axis=1)[:, -2].mean()  # noqa: E731
    assert top(database) > top(uniform) + 0.2


def test_flat_is_exact(data):
    database, queries = data
    index = build_index(database, "flat", use_gpu=False)
    scores, ids = index.search(queries, 10)
    np.testing.assert_array_equal(ids, exact_top(database, queries, 10))
    np.testing.assert_allclose(scores[:, 0], (queries @ database.T).max(axis=1), rtol=1e-5)


def test_ivf_with_every_cell_probed_is_exact(data):
    database, queries = data
    index = build_index(database, "ivf_flat", nlist=16, use_gpu=False)
    set_search_params(index, nprobe=1)
    _, few = index.search(queries, 10)
    set_search_params(index, nprobe=16)
    _, all_cells = index.search(queries, 10)
    exact = exact_top(database, queries, 10)
    assert recall_against(exact, all_cells) == pytest.approx(1.0)
    assert recall_against(exact, few) < 1.0


def test_hnsw_recall_grows_with_ef_search(data):
    database, queries = data
    index = build_index(database, "hnsw", hnsw_m=8, ef_construction=40, use_gpu=False)
    exact = exact_top(database, queries, 10)
    recalls = []
    for ef in (10, 200):
        set_search_params(index, ef_search=ef)
        recalls.append(recall_against(exact, index.search(queries, 10)[1]))
    assert recalls[1] >= recalls[0] and recalls[1] > 0.95


def test_ivf_pq_compresses(data):
    database, _ = data
    pq = build_index(database, "ivf_pq", nlist=16, pq_m=8, pq_bits=6, use_gpu=False)
    flat = build_index(database, "flat", use_gpu=False)
    assert index_memory_bytes(pq) < index_memory_bytes(flat) / 3


def test_bad_arguments(data):
    database, _ = data
    with pytest.raises(ValueError, match="Unknown index kind"):
        build_index(database, "lsh")
    with pytest.raises(ValueError, match="must divide"):
        build_index(database, "ivf_pq", nlist=8, pq_m=5)
    with pytest.raises(ValueError, match="at least that many"):
        build_index(database[:10], "ivf_flat", nlist=16)
    with pytest.raises(ValueError, match="HNSW"):
        set_search_params(build_index(database, "flat", use_gpu=False), ef_search=10)
    with pytest.raises(ValueError, match="non-empty"):
        build_index(np.zeros((0, 4)), "flat")


def test_recall_against_hand_case():
    exact = np.array([[1, 2, 3], [4, 5, 6]])
    approx = np.array([[3, 2, 9], [-1, -1, 4]])
    assert recall_against(exact, approx, k=3) == pytest.approx(3 / 6)


def test_benchmark_rows(data):
    database, queries = data
    rows = benchmark_indexes(
        database,
        queries,
        [{"name": "hnsw", "kind": "hnsw", "build": {"hnsw_m": 8}, "search": [{"ef_search": 16}, {"ef_search": 64}]}],
        latency_queries=5,
        repeats=1,
        use_gpu=False,
    )
    assert [r.kind for r in rows] == ["flat", "hnsw", "hnsw"]
    assert rows[0].recall_at_10 == 1.0 and rows[0].speedup == 1.0
    assert rows[1].params == {"hnsw_m": 8, "ef_search": 16}
    assert all(r.qps > 0 and r.latency_ms > 0 and r.memory_mb > 0 for r in rows)
    assert 0.0 < rows[1].recall_at_10 <= rows[2].recall_at_10 <= 1.0
