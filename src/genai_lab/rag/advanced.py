"""Advanced retrieval: dense and hybrid retrievers, multi-query, HyDE and alignment optimisation.

The LLM is any plain callable ``llm(prompt: str) -> str``; in the notebooks it is SmolLM2 through
``genai_lab.models.chat``, in the tests a deterministic fake. Wrap it in :class:`CountingLLM` to
report what a technique costs (calls and seconds), and in :class:`CachedLLM` so that a rerun of a
notebook does not pay for the same greedy generation twice.

- **Dense**: embed the query, nearest neighbours by cosine (:class:`DenseRetriever`).
- **Hybrid**: BM25 and dense rankings fused by (weighted) reciprocal rank fusion.
- **Multi-query**: the LLM writes ``n`` rewrites of the question; the question and each rewrite are
  searched and the rankings are fused by RRF (k = 60).
- **HyDE** (Gao et al. 2022): the LLM writes a hypothetical answer passage; its embedding, averaged
  with the question's, is searched, because an answer looks more like the documents than a question.
- **Alignment optimisation**: index LLM-written questions, a summary and keywords per chunk beside
  the chunk itself, all pointing to the chunk, so a chunk is also found by the way people ask.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from genai_lab.rag.fusion import DEFAULT_K, reciprocal_rank_fusion

LLM = Callable[[str], str]
Embedder = Callable[[list[str]], np.ndarray]


# --------------------------------------------------------------------------- LLM wrappers
def generate_all(llm: LLM, prompts: Sequence[str]) -> list[str]:
    """Answer every prompt: through ``llm.batch(prompts)`` when the LLM offers batched generation
    (much faster on a CPU), else one call at a time."""
    prompts = list(prompts)
    batch = getattr(llm, "batch", None)
    if callable(batch):
        out = list(batch(prompts))
        if len(out) != len(prompts):
            raise ValueError(f"llm.batch returned {len(out)} answers for {len(prompts)} prompts.")
        return out
    return [llm(p) for p in prompts]


@dataclass
class CountingLLM:
    """Wraps an LLM callable and counts its calls (prompts answered) and the seconds they took."""

    llm: LLM
    calls: int = 0
    seconds: float = 0.0

    def __call__(self, prompt: str) -> str:
        start = time.perf_counter()
        out = self.llm(prompt)
        self.seconds += time.perf_counter() - start
        self.calls += 1
        return out

    def batch(self, prompts: Sequence[str]) -> list[str]:
        start = time.perf_counter()
        out = generate_all(self.llm, prompts)
        self.seconds += time.perf_counter() - start
        self.calls += len(out)
        return out

    def reset(self) -> None:
        self.calls, self.seconds = 0, 0.0


class CachedLLM:
    """Wraps a deterministic (greedy) LLM callable with a SQLite cache of prompt -> answer.

    ``name`` must identify the model and its generation settings; ``misses`` counts real calls.
    Missing answers are generated ``chunk`` prompts at a time and saved after each chunk, so an
    interrupted run keeps what it finished.
    """

    def __init__(self, llm: LLM, name: str, path: Any = None, chunk: int = 16) -> None:
        from genai_lab.paths import cache_dir

        if not re.fullmatch(r"[A-Za-z0-9_.\-]+", name):
            raise ValueError(f"name {name!r} must be a plain name like 'smollm2-greedy-96'.")
        self.llm, self.name = llm, name
        if path is None:
            (cache_dir() / "llm").mkdir(parents=True, exist_ok=True)
            path = cache_dir() / "llm" / f"{name}.sqlite"
        self.path = path
        self.hits = self.misses = 0
        self.chunk = chunk
        with sqlite3.connect(self.path, timeout=60) as con:
            con.execute("CREATE TABLE IF NOT EXISTS out (key TEXT PRIMARY KEY, text TEXT)")
        self._con = sqlite3.connect(self.path, timeout=60)

    def __call__(self, prompt: str) -> str:
        return self.batch([prompt])[0]

    def batch(self, prompts: Sequence[str]) -> list[str]:
        """Answer ``prompts``, generating only the ones not cached (batched when the LLM can)."""
        keys = [hashlib.sha256(p.encode("utf-8")).hexdigest() for p in prompts]
        found: dict[str, str] = {}
        for key in set(keys):
            row = self._con.execute("SELECT text FROM out WHERE key = ?", (key,)).fetchone()
            if row is not None:
                found[key] = row[0]
        todo = {k: p for k, p in zip(keys, prompts, strict=True) if k not in found}
        self.hits += len(keys) - len(todo)
        self.misses += len(todo)
        pending = list(todo.items())
        for start in range(0, len(pending), self.chunk):  # save each chunk as soon as it is done
            part = pending[start : start + self.chunk]
            answers = generate_all(self.llm, [p for _, p in part])
            rows = [(k, a) for (k, _), a in zip(part, answers, strict=True)]
            with self._con:
                self._con.executemany("INSERT OR REPLACE INTO out VALUES (?, ?)", rows)
            found.update(rows)
        return [found[k] for k in keys]


class ChatLLM:
    """A local chat model as ``llm(prompt) -> str``, greedy, with batched generation in ``batch``.

    ``ChatLLM(*genai_lab.models.load_smollm2(), max_new_tokens=64)``. A single call goes through
    :func:`genai_lab.models.chat`; ``batch`` left-pads ``batch_size`` prompts together, which on a
    CPU answers many prompts in little more time than one.
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        max_new_tokens: int = 64,
        system: str | None = None,
        batch_size: int = 16,
    ) -> None:
        self.model, self.tokenizer = model, tokenizer
        self.max_new_tokens, self.system, self.batch_size = max_new_tokens, system, batch_size

    def __call__(self, prompt: str) -> str:
        from genai_lab.models import chat

        return chat(self.model, self.tokenizer, prompt, self.max_new_tokens, system=self.system)

    def batch(self, prompts: Sequence[str]) -> list[str]:
        import torch

        tok = self.tokenizer
        out: list[str] = []
        for start in range(0, len(prompts), self.batch_size):
            texts = []
            for prompt in prompts[start : start + self.batch_size]:
                messages = [{"role": "system", "content": self.system}] if self.system else []
                messages.append({"role": "user", "content": prompt})
                texts.append(tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=False))
            side = tok.padding_side
            tok.padding_side = "left"
            try:
                inputs = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
            finally:
                tok.padding_side = side
            inputs = inputs.to(self.model.device)
            with torch.inference_mode():
                generated = self.model.generate(
                    **inputs,
                    max_new_tokens=self.max_new_tokens,
                    do_sample=False,
                    pad_token_id=tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id,
                )
            new = generated[:, inputs["input_ids"].shape[1] :]
            out.extend(t.strip() for t in tok.batch_decode(new, skip_special_tokens=True))
        return out


# --------------------------------------------------------------------------- retrievers
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


# --------------------------------------------------------------------------- multi-query
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


# --------------------------------------------------------------------------- alignment
ALIGN_PROMPTS = {
    "questions": (
        "Write {n} questions that the text below answers. One question per line, nothing else."
        "\n\nText: {text}"
    ),
    "summary": "Summarise the text below in one sentence.\n\nText: {text}",
    "keywords": "List the key terms of the text below, separated by commas.\n\nText: {text}",
}


@dataclass
class AlignedCorpus:
    """Extra texts to index per chunk: ``texts[i]`` stands for the chunk ``parents[i]``."""

    texts: list[str] = field(default_factory=list)
    parents: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)


def align_chunks(
    ids: Sequence[str],
    texts: Sequence[str],
    llm: LLM,
    kinds: Sequence[str] = ("questions", "summary", "keywords"),
    n_questions: int = 3,
    include_chunk: bool = True,
) -> AlignedCorpus:
    """Generate questions, a summary and keywords per chunk (one LLM call per chunk and kind).

    The result holds every chunk itself (``include_chunk``) plus the generated texts, each mapped
    to its chunk id; index them all and collapse hits with :func:`collapse_to_parents`.
    """
    unknown = [k for k in kinds if k not in ALIGN_PROMPTS]
    if unknown:
        raise ValueError(f"Unknown alignment kinds {unknown}; choose from {list(ALIGN_PROMPTS)}.")
    if len(ids) != len(texts):
        raise ValueError(f"Got {len(ids)} ids for {len(texts)} texts; give one id per chunk.")
    prompts = [ALIGN_PROMPTS[kind].format(text=t, n=n_questions) for t in texts for kind in kinds]
    answers = iter(generate_all(llm, prompts))
    out = AlignedCorpus()
    for chunk_id, text in zip(ids, texts, strict=True):
        if include_chunk:
            out.texts.append(text)
            out.parents.append(chunk_id)
            out.kinds.append("chunk")
        for kind in kinds:
            answer = next(answers)
            pieces = parse_lines(answer, n_questions) if kind == "questions" else [answer.strip()]
            for piece in pieces:
                if piece:
                    out.texts.append(piece)
                    out.parents.append(chunk_id)
                    out.kinds.append(kind)
    return out


def collapse_to_parents(ranked_ids: Sequence[str], parent_of: dict[str, str] | Sequence[str]) -> list[str]:
    """Map ranked entries to their chunk ids, keeping each chunk at its best rank.

    ``parent_of`` maps entry id -> chunk id (or is a list indexed by int entry id).
    """
    seen: set[str] = set()
    out = []
    for entry in ranked_ids:
        parent = parent_of[entry] if isinstance(parent_of, dict) else parent_of[int(entry)]
        if parent not in seen:
            seen.add(parent)
            out.append(parent)
    return out


class AlignedRetriever:
    """Dense search over an :class:`AlignedCorpus`; hits are reported as chunk ids."""

    def __init__(self, aligned: AlignedCorpus, embed: Embedder | None = None) -> None:
        self.aligned = aligned
        entry_ids = [str(i) for i in range(len(aligned.texts))]
        dense = DenseRetriever(entry_ids, np.zeros((len(entry_ids), 1), np.float32), embed=embed)
        dense.vectors = dense.embed(aligned.texts)
        self.dense = dense

    def rank(self, queries: Sequence[str], k: int = 10) -> list[list[str]]:
        depth = min(len(self.aligned.texts), k * 8)
        return [
            collapse_to_parents(hits, self.aligned.parents)[:k]
            for hits in self.dense.rank(queries, k=depth)
        ]
