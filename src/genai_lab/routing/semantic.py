"""Layer 5 of the router: a request *about* a non-public document stays internal, even when it
uses none of its words.

The knowledge base's documents are cut into chunks and embedded with MiniLM
(:func:`genai_lab.rag.embeddings.embed_texts`: disk cache, model loaded once per process, on the
first request, not at construction). A request's score is the cosine similarity of its nearest chunk
when that chunk is not public (else 0); at or above :attr:`SemanticCheck.threshold` the request is
flagged. The threshold is calibrated on a labelled development set
(``data/routing/semantic_dev.jsonl``) with :func:`calibrate`, which also returns the ROC curve.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_THRESHOLD = 0.41  # calibrate(check, load_labelled()) on data/routing/semantic_dev.jsonl: false alarms <= 5%
CHUNK_CHARS = 600
CHUNK_OVERLAP = 100
QUERY_CHARS = 1500  # the start and the end of a long request are embedded

Encoder = Callable[[list[str]], np.ndarray]


@contextlib.contextmanager
def one_torch_thread() -> Iterator[None]:
    """Run PyTorch on one thread inside the block. One short request embeds fastest on one thread; on a
    busy machine two OpenMP threads spin against each other (we measured 40-650 ms per query with two
    threads, 11-31 ms with one, on a shared 2-core machine). The setting is process-wide and restored after."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class SemanticCheck:
    """Nearest-chunk check over the knowledge base. ``encoder`` (texts -> L2-normalised rows) replaces
    MiniLM, e.g. in tests; by default the model is loaded lazily and cached for the process."""

    def __init__(
        self,
        chunks: Sequence[tuple[str, str]],
        threshold: float = DEFAULT_THRESHOLD,
        encoder: Encoder | None = None,
    ) -> None:
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"threshold={threshold}; a cosine similarity threshold lies in (0, 1].")
        self.chunks = list(chunks)
        self.threshold = threshold
        self._encoder = encoder
        self._vectors: np.ndarray | None = None
        self._lock = threading.Lock()
        self._query_lock = threading.Lock()

    @classmethod
    def from_texts(cls, texts: Sequence[tuple[str, str]], **kwargs: Any) -> SemanticCheck:
        """Chunk ``(text, classification)`` pairs (knowledge-base documents) and build the check."""
        from genai_lab.rag.chunking import chunk_text

        chunks = [(c, cls_) for text, cls_ in texts for c in chunk_text(text, CHUNK_CHARS, CHUNK_OVERLAP) if c.strip()]
        return cls(chunks, **kwargs)

    def _embed(self, texts: list[str], cache: bool) -> np.ndarray:
        if self._encoder is not None:
            vectors = np.asarray(self._encoder(texts), dtype=np.float32)
            return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        from genai_lab.rag.embeddings import embed_texts

        return embed_texts(texts, cache=cache)

    def _index(self) -> np.ndarray:
        with self._lock:
            if self._vectors is None:
                texts = [c for c, _ in self.chunks]
                self._vectors = self._embed(texts, cache=True) if texts else np.zeros((0, 1), np.float32)
            return self._vectors

    def add(self, text: str, classification: str) -> None:
        """Add a document's chunks (embedded now when the index is already built, else later)."""
        from genai_lab.rag.chunking import chunk_text

        new = [(c, classification) for c in chunk_text(text, CHUNK_CHARS, CHUNK_OVERLAP) if c.strip()]
        with self._lock:
            if self._vectors is not None and new:
                self._vectors = np.vstack([self._vectors, self._embed([c for c, _ in new], cache=True)])
            self.chunks.extend(new)

    def nearest(self, text: str) -> tuple[float, int]:
        """(score, index of the nearest chunk): the score is its similarity when that chunk is not
        public, else 0.0; index is -1 when the knowledge base is empty."""
        index = self._index()
        if not len(self.chunks):
            return 0.0, -1
        parts = [text[:QUERY_CHARS]] + ([text[-QUERY_CHARS:]] if len(text) > QUERY_CHARS else [])
        if self._encoder is None:
            with self._query_lock, one_torch_thread():
                query = self._embed(parts, cache=False)
        else:
            query = self._embed(parts, cache=False)
        sims = query @ index.T
        row, best = np.unravel_index(int(np.argmax(sims)), sims.shape)
        score = float(sims[row, best])
        return (score if self.chunks[int(best)][1] != "public" else 0.0), int(best)

    def score(self, text: str) -> float:
        return self.nearest(text)[0]

    def reasons(self, text: str) -> list[str]:
        """Why the semantic layer fires on ``text`` (empty when it does not)."""
        score, best = self.nearest(text)
        if score < self.threshold:
            return []
        chunk, classification = self.chunks[best]
        preview = " ".join(chunk.split())[:40]
        return [
            f"semantic: nearest knowledge-base chunk is {classification} "
            f"({score:.2f} >= {self.threshold:.2f}: '{preview}...')"
        ]


@dataclass(frozen=True)
class Calibration:
    """The ROC curve of the semantic score on a labelled set, and the threshold chosen on it."""

    fpr: np.ndarray
    tpr: np.ndarray
    thresholds: np.ndarray
    threshold: float
    auc: float
    max_false_alarm_rate: float


def load_labelled(path: str | Path | None = None) -> list[tuple[str, int]]:
    """(text, 1 if sensitive else 0) from a JSON Lines file (default ``data/routing/semantic_dev.jsonl``)."""
    if path is None:
        from genai_lab.paths import data_dir

        path = data_dir() / "routing" / "semantic_dev.jsonl"
    rows = [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    return [(str(r["text"]), int(bool(r["sensitive"]))) for r in rows]


def roc(scores: Sequence[float], labels: Sequence[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(false-positive rates, true-positive rates, thresholds), from scikit-learn's ``roc_curve``."""
    from sklearn.metrics import roc_curve

    if len(set(labels)) != 2:
        raise ValueError("The ROC needs both sensitive (1) and public (0) examples.")
    fpr, tpr, thresholds = roc_curve(np.asarray(labels), np.asarray(scores))
    return fpr, tpr, thresholds


def calibrate(
    check: SemanticCheck, labelled: Sequence[tuple[str, int]], max_false_alarm_rate: float = 0.05
) -> Calibration:
    """Score every labelled text, return the ROC and the lowest threshold whose false-alarm rate on
    the public examples is at most ``max_false_alarm_rate`` (the most sensitive requests caught
    within that budget)."""
    from sklearn.metrics import auc

    scores = [check.score(text) for text, _ in labelled]
    labels = [label for _, label in labelled]
    fpr, tpr, thresholds = roc(scores, labels)
    ok = [i for i in range(len(fpr)) if fpr[i] <= max_false_alarm_rate and np.isfinite(thresholds[i])]
    best = max(ok, key=lambda i: (tpr[i], -thresholds[i]))
    threshold = float(min(1.0, max(thresholds[best], 1e-6)))
    return Calibration(fpr, tpr, thresholds, threshold, float(auc(fpr, tpr)), max_false_alarm_rate)
