"""Sentence embeddings with a disk cache, so that no notebook or test embeds the same text twice.

Embedding SciFact's 5,183 abstracts with all-MiniLM-L6-v2 takes about five minutes on two CPU
cores; with the cache the second call takes well under a second. The cache is one SQLite file per
model under ``genai_lab.paths.cache_dir()/embeddings/``, keyed by the SHA-256 of the text, and it
is safe for several processes at once (SQLite locking; every block is committed as soon as it is
embedded, so an interrupted run keeps what it finished)::

    from genai_lab.rag.embeddings import embed_texts
    vectors = embed_texts(["What is RAG?", "Retrieval-augmented generation"])  # (2, 384) float32

Vectors are L2-normalised float32, so the inner product is the cosine similarity.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import re
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from genai_lab.paths import cache_dir

if TYPE_CHECKING:  # pragma: no cover
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
    """The cache key of one text: SHA-256 of its UTF-8 bytes."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def cache_path(model_name: str) -> Path:
    """The SQLite file holding ``model_name``'s cached vectors."""
    if not re.fullmatch(r"[A-Za-z0-9_.\-]+", model_name):
        raise ValueError(
            f"model_name {model_name!r} must be a plain name like 'all-MiniLM-L6-v2-len256'."
        )
    folder = cache_dir() / "embeddings"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{model_name}.sqlite"


@contextlib.contextmanager
def _connect(path: Path) -> Iterator[sqlite3.Connection]:
    con = sqlite3.connect(path, timeout=120)
    try:
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("CREATE TABLE IF NOT EXISTS vec (key TEXT PRIMARY KEY, dim INT, data BLOB)")
        yield con
    finally:
        con.close()


def _lookup(con: sqlite3.Connection, keys: list[str]) -> dict[str, np.ndarray]:
    found: dict[str, np.ndarray] = {}
    for start in range(0, len(keys), 900):  # SQLite's limit on bound parameters
        part = keys[start : start + 900]
        marks = ",".join("?" * len(part))
        rows = con.execute(f"SELECT key, data FROM vec WHERE key IN ({marks})", part)
        for key, data in rows:
            found[key] = np.frombuffer(data, dtype=np.float32)
    return found


def cached_count(model_name: str | None = None) -> int:
    """How many vectors the cache holds for ``model_name`` (default: MiniLM)."""
    with _connect(cache_path(model_name or default_model_name())) as con:
        return int(con.execute("SELECT COUNT(*) FROM vec").fetchone()[0])


def _normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


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

    keys = [text_key(t) for t in texts]
    unique: dict[str, str] = dict(zip(keys, texts, strict=True))
    path = cache_path(model_name)
    found: dict[str, np.ndarray] = {}
    if cache:
        with _connect(path) as con:
            found = _lookup(con, list(unique))
    missing = sorted((k for k in unique if k not in found), key=lambda k: -len(unique[k]))
    if missing:
        blocks = [missing[i : i + BLOCK] for i in range(0, len(missing), BLOCK)]
        progress: Any = blocks
        if show_progress:
            from tqdm.auto import tqdm

            progress = tqdm(blocks, desc=f"embedding {len(missing)} texts", unit="block")
        for block in progress:
            vectors = _normalise(encoder([unique[k] for k in block]))
            if vectors.ndim != 2 or len(vectors) != len(block):
                raise ValueError(
                    f"The encoder returned shape {vectors.shape} for {len(block)} texts; "
                    "it must return one row per text."
                )
            for key, row in zip(block, vectors, strict=True):
                found[key] = row
            if cache:
                with _connect(path) as con, con:
                    con.executemany(
                        "INSERT OR REPLACE INTO vec (key, dim, data) VALUES (?, ?, ?)",
                        [(k, int(v.shape[0]), v.tobytes()) for k, v in zip(block, vectors, strict=True)],
                    )
    dims = {found[k].shape[0] for k in unique}
    if len(dims) != 1:
        raise ValueError(
            f"The cache {path} holds vectors of several sizes {sorted(dims)} for one model name; "
            "delete it (it is rebuilt on demand) or use a different model_name."
        )
    return np.stack([found[k] for k in keys]).astype(np.float32, copy=False)
