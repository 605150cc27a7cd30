"""Advanced retrieval: dense and hybrid retrievers, multi-query, HyDE and alignment optimisation.

One import for the notebooks; the code lives in one module per concern:

- :mod:`genai_lab.rag.local_llm`: the LLM as a plain callable ``llm(prompt) -> str``, with
  :class:`CountingLLM` (cost), :class:`CachedLLM` (disk cache) and :class:`ChatLLM` (SmolLM2, batched);
- :mod:`genai_lab.rag.retrievers`: :class:`DenseRetriever` (cosine, exact or FAISS) and
  :class:`HybridRetriever` (BM25 + dense by weighted RRF);
- :mod:`genai_lab.rag.rewriting`: multi-query retrieval and HyDE;
- :mod:`genai_lab.rag.alignment`: alignment optimisation (generated questions, summary and keywords
  indexed beside each chunk);
- :mod:`genai_lab.rag.fusion`: reciprocal rank fusion of rankings and of whole runs (``rrf_run``).
"""

from __future__ import annotations

from genai_lab.rag.alignment import (
    ALIGN_PROMPTS,
    AlignedCorpus,
    AlignedRetriever,
    align_chunks,
    collapse_to_parents,
)
from genai_lab.rag.fusion import minmax_run, rrf_run
from genai_lab.rag.local_llm import LLM, CachedLLM, ChatLLM, CountingLLM, generate_all
from genai_lab.rag.retrievers import DenseRetriever, Embedder, HybridRetriever, Ranker
from genai_lab.rag.rewriting import (
    HYDE_PROMPT,
    MULTI_QUERY_PROMPT,
    hyde_rank,
    hyde_vectors,
    multi_query_rank,
    multi_query_rewrites,
    parse_lines,
)

__all__ = [
    "ALIGN_PROMPTS",
    "HYDE_PROMPT",
    "LLM",
    "MULTI_QUERY_PROMPT",
    "AlignedCorpus",
    "AlignedRetriever",
    "CachedLLM",
    "ChatLLM",
    "CountingLLM",
    "DenseRetriever",
    "Embedder",
    "HybridRetriever",
    "Ranker",
    "align_chunks",
    "collapse_to_parents",
    "generate_all",
    "hyde_rank",
    "hyde_vectors",
    "minmax_run",
    "multi_query_rank",
    "multi_query_rewrites",
    "parse_lines",
    "rrf_run",
]
