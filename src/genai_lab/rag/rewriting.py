"""Query rewriting with an LLM: multi-query retrieval and HyDE.

- **Multi-query**: the LLM writes ``n`` rewrites of the question; the question and each rewrite are
  searched and the rankings are fused by RRF (k = 60).
- **HyDE** (Gao et al. 2022): the LLM writes a hypothetical answer passage; its embedding, averaged
  with the question's, is searched, because an answer looks more like the documents than a question.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from genai_lab.rag.fusion import DEFAULT_K, reciprocal_rank_fusion
from genai_lab.rag.local_llm import LLM, generate_all
from genai_lab.rag.retrievers import DenseRetriever, Embedder

MULTI_QUERY_PROMPT = (
    "Rewrite the search query below in {n} different ways, using other words. "
    "Write one rewrite per line, with no numbering and no other text.\n\nQuery: {question}"
)

_BULLET = re.compile(r"^\s*(?:[-*\u2022]+|\d+[.):]|\(\d+\)|rewrite\s*\d*:|query\s*\d*:)\s*", re.I)


def parse_lines(text: str, n: int, exclude: Sequence[str] = ()) -> list[str]:
    """The first ``n`` distinct non-empty lines of an LLM answer, bullets and numbering removed."""
    seen = {e.strip().lower() for e in exclude}
    out: list[str] = []
    for line in text.splitlines():
        line = _BULLET.sub("", line).strip().strip('"').strip()
        if len(line) < 3 or line.lower() in seen:
            continue
        seen.add(line.lower())
        out.append(line)
        if len(out) == n:
            break
    return out


def multi_query_rewrites(question: str, llm: LLM, n: int = 3) -> list[str]:
    """Ask the LLM for ``n`` rewrites of ``question`` (one call); fewer if it writes fewer."""
    if n < 1:
        raise ValueError(f"n must be >= 1 rewrites, got {n}.")
    return parse_lines(llm(MULTI_QUERY_PROMPT.format(n=n, question=question)), n, exclude=[question])


def multi_query_rank(
    questions: Sequence[str],
    llm: LLM,
    retriever: Any,
    n: int = 3,
    k: int = 100,
    include_original: bool = True,
    rrf_k: float = DEFAULT_K,
    original_weight: float = 1.0,
) -> list[list[str]]:
    """Multi-query retrieval for each question: rewrite, search every variant, fuse by RRF.

    ``retriever.rank(list_of_queries, k)`` is called once with all variants of all questions.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1 rewrites, got {n}.")
    answers = generate_all(llm, [MULTI_QUERY_PROMPT.format(n=n, question=q) for q in questions])
    variants: list[list[str]] = []
    for question, answer in zip(questions, answers, strict=True):
        rewrites = parse_lines(answer, n, exclude=[question])
        variants.append(([question] if include_original else []) + rewrites or [question])
    flat = [v for vs in variants for v in vs]
    ranked = retriever.rank(flat, k=k)
    out, pos = [], 0
    for vs in variants:
        rankings = ranked[pos : pos + len(vs)]
        pos += len(vs)
        weights = [1.0] * len(vs)
        if include_original:
            weights[0] = original_weight
        out.append(reciprocal_rank_fusion(rankings, k=rrf_k, weights=weights, top_n=k))
    return out


# --------------------------------------------------------------------------- HyDE
HYDE_PROMPT = (
    "Write a short passage from a scientific paper that answers the question.\n\n"
    "Question: {question}"
)


def hyde_vectors(
    questions: Sequence[str],
    llm: LLM,
    embed: Embedder,
    include_question: bool = True,
) -> tuple[np.ndarray, list[str]]:
    """HyDE query vectors: the normalised mean of the embedded hypothetical passage and, when
    ``include_question``, the question itself (as in the HyDE paper). Returns the vectors and the
    passages."""
    passages = generate_all(llm, [HYDE_PROMPT.format(question=q) for q in questions])
    doc_vecs = embed([p if p.strip() else q for p, q in zip(passages, questions, strict=True)])
    vecs = doc_vecs + embed(list(questions)) if include_question else doc_vecs
    vecs = vecs / np.linalg.norm(vecs, axis=1, keepdims=True)
    return vecs.astype(np.float32), passages


def hyde_rank(
    questions: Sequence[str], llm: LLM, retriever: DenseRetriever, k: int = 100
) -> list[list[str]]:
    """HyDE retrieval: search with :func:`hyde_vectors`."""
    vecs, _ = hyde_vectors(questions, llm, retriever.embed)
    return [[d for d, _ in hits] for hits in retriever.search_vectors(vecs, k=k)]
