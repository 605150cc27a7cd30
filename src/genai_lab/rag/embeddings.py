"""Sentence embeddings with a disk cache, so that no notebook or test embeds the same text twice.

Embedding SciFact's 5,183 abstracts with all-MiniLM-L6-v2 takes about five minutes on two CPU
cores; with the cache the second call takes a second or two. The cache is LangChain's
``CacheBackedEmbeddings`` over a ``SQLStore``: one SQLite file per model under
``genai_lab.paths.cache_dir()/embeddings/``, namespaced by the model name and keyed by the SHA-256 of
the text. It is safe for several processes at once (the engine of
:func:`genai_lab.rag.sqlite_store.sqlite_engine`), and every block is committed as soon as it is
embedded, so an interrupted run keeps what it finished::

    from genai_lab.rag.embeddings import embed_texts
    vectors = embed_texts(["What is RAG?", "Retrieval-augmented generation"])  # (2, 384) float32

Vectors are L2-normalised float32, so the inner product is the cosine similarity.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from genai_lab.paths import cache_dir
from genai_lab.rag.sqlite_store import check_cache_name, sqlite_engine

if TYPE_CHECKING:  # pragma: no cover
    from langchain_classic.embeddings import CacheBackedEmbeddings
    from langchain_community.storage import SQLStore
    from sentence_transformers import SentenceTransformer

DEFAULT_MODEL = "all-MiniLM-L6-v2"
BLOCK = 512  # texts embedded (and committed to the cache) per block

Encoder = Callable[[list[str]], np.ndarray]


@functools.lru_cache(maxsize=1)
def _minilm() -> SentenceTransformer:
    from genai_lab.models import load_minilm

    return load_minilm()


def default_model_name() -> str:
    """The cache key of the default model: its name and the sequence length it truncates at."""
    return f"{DEFAULT_MODEL}-len256"


def text_key(text: str) -> str:
    """The hash of one text inside the cache: SHA-256 of its UTF-8 bytes (the store prefixes it with
    the model name)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def cache_path(model_name: str) -> Path:
    """The SQLite file holding ``model_name``'s cached vectors."""
    check_cache_name(model_name, "model_name")
    return cache_dir() / "embeddings" / f"{model_name}.sqlite"


def _store(model_name: str) -> SQLStore:
    from langchain_community.storage import SQLStore

    store = SQLStore(namespace=model_name, engine=sqlite_engine(cache_path(model_name)))
    store.create_schema()
    return store


def _cached_embedder(encoder: Encoder, model_name: str, store: SQLStore) -> CacheBackedEmbeddings:
    """LangChain's ``CacheBackedEmbeddings`` around ``encoder``; vectors are stored as they come."""
    from langchain_classic.embeddings import CacheBackedEmbeddings
    from langchain_core.embeddings import Embeddings

    class _Encoder(Embeddings):
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return _encode(encoder, texts).tolist()

        def embed_query(self, text: str) -> list[float]:
            return self.embed_documents([text])[0]

    return CacheBackedEmbeddings.from_bytes_store(
        _Encoder(), store, namespace=f"{model_name}:", batch_size=BLOCK, key_encoder="sha256"
    )


def cached_count(model_name: str | None = None) -> int:
    """How many vectors the cache holds for ``model_name`` (default: MiniLM)."""
    store = _store(model_name or default_model_name())
    try:
        return sum(1 for _ in store.yield_keys())
    finally:
        store.engine.dispose()


def _normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def _encode(encoder: Encoder, texts: list[str]) -> np.ndarray:
    """Run ``encoder`` and check that it returned one row per text; rows L2-normalised."""
    vectors = _normalise(encoder(texts))
    if vectors.ndim != 2 or len(vectors) != len(texts):
        raise ValueError(
            f"The encoder returned shape {vectors.shape} for {len(texts)} texts; it must return one row per text."
        )
    return vectors


def embed_texts(
    texts: Sequence[str],
    batch_size: int = 64,
    show_progress: bool = False,
    *,
    encoder: Encoder | None = None,
    model_name: str | None = None,
    cache: bool = True,
) -> np.ndarray:
    """Embed ``texts`` into an ``(n, dim)`` float32 array of L2-normalised rows.

    By default the model is all-MiniLM-L6-v2 (``genai_lab.models.load_minilm()``, loaded once per
    process). Texts already in the cache are read from disk; only the missing ones are embedded,
    longest first in blocks, and each block is saved at once. Duplicates are embedded once.

    ``encoder`` (a callable from a list of texts to an array) and ``model_name`` (its cache key)
    replace the model, e.g. in tests; pass both. ``cache=False`` skips the disk cache.
    """
    if isinstance(texts, str):
        raise TypeError("embed_texts expects a list of texts, not one string: use [text].")
    texts = list(texts)
    bad = [i for i, t in enumerate(texts) if not isinstance(t, str)]
    if bad:
        raise TypeError(f"embed_texts expects strings; item {bad[0]} is {type(texts[bad[0]]).__name__}.")
    if (encoder is None) != (model_name is None):
        raise ValueError("Pass encoder and model_name together (model_name is the encoder's cache key).")
    if encoder is None:
        model_name = default_model_name()

        def encoder(batch: list[str]) -> np.ndarray:
            return _minilm().encode(
                batch,
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )

    assert model_name is not None
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)

    unique = sorted(dict.fromkeys(texts), key=lambda t: -len(t))  # longest first: less padding
    found: dict[str, np.ndarray] = {}
    if not cache:
        for start in range(0, len(unique), BLOCK):
            block = unique[start : start + BLOCK]
            found.update(zip(block, _encode(encoder, block), strict=True))
        return np.stack([found[t] for t in texts]).astype(np.float32, copy=False)
    store = _store(model_name)
    try:
        cached = _cached_embedder(encoder, model_name, store)
        blocks: Any = [unique[i : i + BLOCK] for i in range(0, len(unique), BLOCK)]
        if show_progress:
            from tqdm.auto import tqdm

            blocks = tqdm(blocks, desc=f"embedding {len(unique)} texts (cached ones are read)", unit="block")
        for block in blocks:
            found.update(zip(block, np.asarray(cached.embed_documents(block), dtype=np.float32), strict=True))
    finally:
        store.engine.dispose()
    dims = {found[t].shape[0] for t in unique}
    if len(dims) != 1:
        raise ValueError(
            f"The cache {cache_path(model_name)} holds vectors of several sizes {sorted(dims)} for one model "
            "name; delete it (it is rebuilt on demand) or use a different model_name."
        )
    return np.stack([found[t] for t in texts]).astype(np.float32, copy=False)
