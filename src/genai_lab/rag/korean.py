"""Retrieval over Korean documents: three tokenizers for BM25, MiniLM, and their hybrid.

Korean is agglutinative: particles and endings are glued to the noun or stem they follow, so the
whitespace token ``배터리는`` ("the battery" + topic particle) never equals ``배터리의`` or ``배터리``.
This module gives BM25 three ways to cut a text into terms::

    whitespace_tokens("배터리는 얼마나 가나요?")   # -> ['배터리는', '얼마나', '가나요']
    kiwi_tokens("배터리는 얼마나 가나요?")         # -> ['배터리', '가']   (content morphemes, Kiwi)
    char_ngrams("배터리는")                        # -> ['배터', '터리', '리는', '배터리', '터리는']

and evaluates BM25 over each, dense retrieval with the course's English MiniLM, and a hybrid of the
Kiwi BM25 and MiniLM fused by reciprocal rank fusion, on the Korean knowledge base in ``data/kb_ko/``.

BM25 itself is ``bm25s`` as in :class:`genai_lab.rag.bm25.BM25Index`; here it receives token lists.
The dense model is one setting: :func:`dense_rank` takes any ``encoder`` (see ``MULTILINGUAL_MODELS``).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from genai_lab.paths import data_dir
from genai_lab.rag.bm25 import BM25Index

if TYPE_CHECKING:  # pragma: no cover
    from kiwipiepy import Kiwi

Tokenizer = Callable[[str], list[str]]

# Kiwi (Sejong) tags kept as content: general/proper/bound nouns, numerals, verb and adjective stems,
# roots, numbers, foreign (Latin) words and Hanja. Particles (J*), endings (E*), affixes, punctuation
# and the copula are dropped.
CONTENT_TAGS = frozenset({"NNG", "NNP", "NNB", "NR", "VV", "VA", "XR", "SN", "SL", "SH"})

# The methods of the comparison, in the order the notebook shows them.
METHODS = ("bm25_whitespace", "bm25_kiwi", "bm25_char_ngram", "minilm", "hybrid")

# Multilingual embedding models a user with internet access would switch to, with the prefixes each
# expects on queries and passages. Not shipped with the course and not tested offline.
MULTILINGUAL_MODELS: dict[str, tuple[str, str]] = {
    "intfloat/multilingual-e5-small": ("query: ", "passage: "),
    "BAAI/bge-m3": ("", ""),
}

_PUNCT = re.compile(r"^[^\w]+|[^\w]+$")


def _check_text(text: Any) -> str:
    if not isinstance(text, str):
        raise TypeError(f"Expected one text (str), got {type(text).__name__}; tokenize texts one by one.")
    return text


def whitespace_tokens(text: str) -> list[str]:
    """Split on whitespace, lower-case, and strip punctuation from both ends of each token.

    Particles stay glued to their nouns (``배터리는`` stays one token): the baseline that fails."""
    tokens = (_PUNCT.sub("", t) for t in _check_text(text).lower().split())
    return [t for t in tokens if t]


@functools.lru_cache(maxsize=1)
def kiwi() -> Kiwi:
    """The Kiwi morphological analyser, loaded once per process (about two seconds)."""
    from kiwipiepy import Kiwi

    return Kiwi()


def kiwi_tokens(text: str, tags: frozenset[str] = CONTENT_TAGS) -> list[str]:
    """The content morphemes of ``text`` (Kiwi), lower-cased: ``보증기간이`` -> ``['보증', '기간']``.

    A tag such as ``VV-R`` (an irregular verb) counts as its base ``VV``. Verb and adjective stems are
    kept without their endings (``받을`` -> ``받``)."""
    _check_text(text)
    if not text.strip():
        return []
    return [tok.form.lower() for tok in kiwi().tokenize(text) if tok.tag.split("-")[0] in tags]


def char_ngrams(text: str, n_min: int = 2, n_max: int = 3) -> list[str]:
    """Character n-grams (``n_min`` to ``n_max``) inside each whitespace token.

    A token shorter than ``n_min`` is kept whole, so no word is lost. Needs no dictionary, so it
    survives new words and typos, at the price of many more (and noisier) terms."""
    if not 1 <= n_min <= n_max:
        raise ValueError(f"Need 1 <= n_min <= n_max, got n_min={n_min}, n_max={n_max}.")
    out: list[str] = []
    for token in whitespace_tokens(text):
        if len(token) < n_min:
            out.append(token)
            continue
        for n in range(n_min, n_max + 1):
            out.extend(token[i : i + n] for i in range(len(token) - n + 1))
    return out


TOKENIZERS: dict[str, Tokenizer] = {
    "whitespace": whitespace_tokens,
    "kiwi": kiwi_tokens,
    "char_ngram": char_ngrams,
}


def get_tokenizer(name: str) -> Tokenizer:
    """One of ``TOKENIZERS`` by name."""
    if name not in TOKENIZERS:
        raise ValueError(f"Unknown tokenizer {name!r}; choose one of {sorted(TOKENIZERS)}.")
    return TOKENIZERS[name]


class TokenizedBM25Index(BM25Index):
    """:class:`~genai_lab.rag.bm25.BM25Index` with a tokenizer of your choice instead of English stemming.

    ``tokenizer`` is a callable from one text to its terms (or a name in ``TOKENIZERS``); documents and
    queries go through the same one. ``search`` and ``rank`` behave as in the parent class."""

    def __init__(
        self,
        ids: Sequence[str],
        texts: Sequence[str],
        tokenizer: Tokenizer | str,
        k1: float = 1.5,
        b: float = 0.75,
        method: str = "lucene",
    ) -> None:
        import bm25s

        from genai_lab.rag.bm25 import check_corpus

        check_corpus(ids, texts, type(self).__name__)
        self.tokenizer = get_tokenizer(tokenizer) if isinstance(tokenizer, str) else tokenizer
        self.ids = list(ids)
        self.stopwords = None
        self.stemmer = None
        self.model = bm25s.BM25(k1=k1, b=b, method=method)
        self.model.index([self.tokenizer(t) for t in texts], show_progress=False)

    def search(self, queries: Sequence[str], k: int = 10) -> list[list[tuple[str, float]]]:
        """The top ``k`` ``(id, score)`` pairs for each query, best first (no shared term, no hit)."""
        if isinstance(queries, str):
            raise TypeError("search expects a list of queries, not one string: use [query].")
        if not queries:
            return []
        k = min(k, len(self.ids))
        vocab = self.model.vocab_dict
        tokens = [[t for t in self.tokenizer(q) if t and t in vocab] for q in queries]
        out: list[list[tuple[str, float]]] = [[] for _ in queries]  # a query with no known term: no hit
        asked = [i for i, t in enumerate(tokens) if t]
        if asked:
            docs, scores = self.model.retrieve(
                [tokens[i] for i in asked], k=k, show_progress=False, n_threads=1
            )
            for i, row_docs, row_scores in zip(asked, docs, scores, strict=True):
                out[i] = [(self.ids[int(d)], float(s)) for d, s in zip(row_docs, row_scores, strict=True) if s > 0]
        return out


def dense_rank(
    ids: Sequence[str],
    texts: Sequence[str],
    queries: Sequence[str],
    k: int = 10,
    *,
    encoder: Callable[[list[str]], np.ndarray] | None = None,
    model_name: str | None = None,
    query_prefix: str = "",
    passage_prefix: str = "",
) -> list[list[str]]:
    """Rank ``ids`` for each query by cosine similarity of embeddings (exact search).

    The default is the course's all-MiniLM-L6-v2 through :func:`genai_lab.rag.embeddings.embed_texts`
    (cached on disk). Switching model is configuration: pass ``encoder`` and ``model_name`` (its
    cache key) and the model's prefixes, e.g. ``MULTILINGUAL_MODELS["intfloat/multilingual-e5-small"]``
    gives ``("query: ", "passage: ")``."""
    from genai_lab.rag.embeddings import embed_texts

    if isinstance(queries, str):
        raise TypeError("dense_rank expects a list of queries, not one string: use [query].")
    if len(ids) != len(texts):
        raise ValueError(f"Got {len(ids)} ids for {len(texts)} texts; give one id per text.")
    options: dict[str, Any] = {"encoder": encoder, "model_name": model_name}
    doc_vecs = embed_texts([passage_prefix + t for t in texts], **options)
    query_vecs = embed_texts([query_prefix + q for q in queries], **options)
    scores = query_vecs @ doc_vecs.T
    top = np.argsort(-scores, axis=1, kind="stable")[:, : min(k, len(ids))]
    return [[ids[int(i)] for i in row] for row in top]


def hybrid_rank(rankings: Sequence[Sequence[Sequence[str]]], k: int = 10) -> list[list[str]]:
    """Fuse, query by query, several retrievers' rankings with reciprocal rank fusion (k=60)."""
    from genai_lab.rag.fusion import reciprocal_rank_fusion

    if len({len(r) for r in rankings}) > 1:
        raise ValueError("Every retriever must give one ranking per query; the lengths differ.")
    return [reciprocal_rank_fusion(list(per_query), top_n=k) for per_query in zip(*rankings, strict=True)]


def kb_ko_dir() -> Path:
    """``data/kb_ko/``: the Korean knowledge base and its questions."""
    return data_dir() / "kb_ko"


def load_kb_ko(folder: Path | None = None) -> dict[str, str]:
    """The Korean documents, ``{relative path: text}``, sorted by path."""
    folder = folder if folder is not None else kb_ko_dir()
    paths = sorted(p for p in folder.rglob("*.md") if p.name != "README.md")
    if not paths:
        raise FileNotFoundError(f"No Korean Markdown documents under {folder}; the course ships them in data/kb_ko/.")
    return {p.relative_to(folder).as_posix(): p.read_text(encoding="utf-8") for p in paths}


def load_questions_ko(path: Path | None = None, doc_ids: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """The Korean questions (``id``, ``question``, ``answer``, ``kind``, ``sources``), checked.

    With ``doc_ids``, every gold source must be one of them."""
    path = path if path is not None else kb_ko_dir() / "questions.jsonl"
    known = set(doc_ids) if doc_ids is not None else None
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        row = json.loads(line)
        missing = {"id", "question", "sources"} - set(row)
        if missing:
            raise ValueError(f"{path}:{n} lacks {sorted(missing)}; every question needs id, question, sources.")
        if known is not None and not set(row["sources"]) <= known:
            raise ValueError(f"{path}:{n} names unknown documents {sorted(set(row['sources']) - known)}.")
        out.append(row)
    return out


def run_methods(
    docs: dict[str, str],
    questions: Sequence[dict[str, Any]],
    k: int = 10,
    dense: Callable[[list[str], list[str], list[str], int], list[list[str]]] | None = dense_rank,
) -> dict[str, dict[str, list[str]]]:
    """Rankings of every method in ``METHODS``: ``{method: {question id: ranked doc ids}}``.

    ``dense=None`` leaves out the two methods that need an embedding model."""
    ids, texts = list(docs), list(docs.values())
    qids, queries = [q["id"] for q in questions], [q["question"] for q in questions]
    rankings: dict[str, list[list[str]]] = {}
    for name in ("whitespace", "kiwi", "char_ngram"):
        rankings[f"bm25_{name}"] = TokenizedBM25Index(ids, texts, name).rank(queries, k=k)
    if dense is not None:
        rankings["minilm"] = dense(ids, texts, queries, k)
        rankings["hybrid"] = hybrid_rank([rankings["bm25_kiwi"], rankings["minilm"]], k=k)
    return {m: dict(zip(qids, ranks, strict=True)) for m, ranks in rankings.items()}


def score_runs(
    runs: dict[str, dict[str, list[str]]], questions: Sequence[dict[str, Any]], k: int = 5
) -> dict[str, dict[str, float]]:
    """``{method: {"recall@k": ..., "mrr": ...}}`` with the course's metrics (trec_eval conventions)."""
    from genai_lab.rag.metrics import mean_mrr, mean_recall_at_k

    qrels = {q["id"]: {doc: 1 for doc in q["sources"]} for q in questions}
    return {
        method: {f"recall@{k}": mean_recall_at_k(run, qrels, k), "mrr": mean_mrr(run, qrels)}
        for method, run in runs.items()
    }
