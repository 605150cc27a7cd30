"""BM25 keyword search with ``bm25s``: English stemming (PyStemmer's Snowball) and stop words.

BM25 scores a document by the query terms it contains, each weighted by its rarity (IDF) and
damped for repetition (``k1``) and document length (``b``)::

    index = BM25Index(["d1", "d2"], ["Cats purr.", "Dogs bark loudly."])
    index.search(["barking dog"], k=1)   # -> [[("d2", 0.69...)]]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


def check_corpus(ids: Sequence[str], texts: Sequence[str], owner: str = "BM25Index") -> None:
    """One id per text, at least one text, unique ids: a clear error naming the fix otherwise."""
    if len(ids) != len(texts):
        raise ValueError(f"Got {len(ids)} ids for {len(texts)} texts; give one id per text.")
    if not texts:
        raise ValueError(f"{owner} needs at least one text to index.")
    if len(set(ids)) != len(ids):
        raise ValueError("ids must be unique; they name the documents in the results.")


class BM25Index:
    """A BM25 index over ``texts`` whose hits are reported by ``ids``.

    Defaults follow Lucene (``method="lucene"``, ``k1=1.5``, ``b=0.75``), English stop words and the
    Snowball English stemmer, the settings of bm25s' published BEIR figures.
    """

    def __init__(
        self,
        ids: Sequence[str],
        texts: Sequence[str],
        k1: float = 1.5,
        b: float = 0.75,
        method: str = "lucene",
        stopwords: str | None = "en",
        stem: bool = True,
    ) -> None:
        import bm25s

        check_corpus(ids, texts, type(self).__name__)
        self.ids = list(ids)
        self.stopwords = stopwords
        self.stemmer = _stemmer() if stem else None
        tokens = bm25s.tokenize(
            list(texts), stopwords=stopwords, stemmer=self.stemmer, show_progress=False
        )
        self.model = bm25s.BM25(k1=k1, b=b, method=method)
        self.model.index(tokens, show_progress=False)

    def search(self, queries: Sequence[str], k: int = 10) -> list[list[tuple[str, float]]]:
        """The top ``k`` ``(id, score)`` pairs for each query, best first (documents that share no
        term with the query are left out)."""
        import bm25s

        if isinstance(queries, str):
            raise TypeError("search expects a list of queries, not one string: use [query].")
        if not queries:
            return []
        k = min(k, len(self.ids))
        tokens = bm25s.tokenize(
            list(queries), stopwords=self.stopwords, stemmer=self.stemmer, show_progress=False
        )
        docs, scores = self.model.retrieve(tokens, k=k, show_progress=False, n_threads=1)
        out = []
        for row_docs, row_scores in zip(docs, scores, strict=True):
            out.append(
                [(self.ids[int(d)], float(s)) for d, s in zip(row_docs, row_scores, strict=True) if s > 0]
            )
        return out

    def rank(self, queries: Sequence[str], k: int = 10) -> list[list[str]]:
        """Like :meth:`search`, ids only."""
        return [[doc for doc, _ in hits] for hits in self.search(queries, k=k)]
