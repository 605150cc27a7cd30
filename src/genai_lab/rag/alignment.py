"""Alignment optimisation: index LLM-written questions, a summary and keywords per chunk beside the
chunk itself, all pointing to the chunk, so that a chunk is also found by the way people ask."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from genai_lab.rag.local_llm import LLM, generate_all
from genai_lab.rag.retrievers import DenseRetriever, Embedder
from genai_lab.rag.rewriting import parse_lines

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
