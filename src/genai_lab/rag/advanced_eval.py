"""Advanced retrieval where it should help: multi-query, HyDE and alignment optimisation, each scored on
the kind of question it targets, on the company knowledge base.

``data/kb_eval/advanced_queries.jsonl`` holds hand-written questions of three kinds, each with its
relevant documents and a dev/test split (:func:`read_advanced_queries`):

- ``paraphrase``: a question of the KB's question set reworded; **multi-query** targets it (several
  wordings of the question are searched and fused, so one of them may meet the document's wording);
- ``vocab_mismatch``: no content term in common with its document (BM25 cannot find it); **HyDE**
  targets it (a hypothetical answer is written in the documents' vocabulary);
- ``vague``: the topic named loosely; **alignment optimisation** targets it (questions generated per
  chunk are short and loose, like the user's).

Every pipeline is a callable ``pipeline(questions) -> rankings of chunk ids``; :func:`evaluate_pipelines`
maps chunks to their documents, scores nDCG@k and Recall@k per kind (:mod:`genai_lab.rag.metrics`,
BEIR's definitions) and measures the cost (LLM calls and wall seconds per query). A rewrite is only
used when it is a real rewrite (:func:`degenerate_reason`: not empty, not an abstention, token-set
Jaccard with the question below ``max_jaccard``); otherwise the technique falls back to the question.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from genai_lab.rag.alignment import collapse_to_parents
from genai_lab.rag.fusion import DEFAULT_K, reciprocal_rank_fusion
from genai_lab.rag.local_llm import LLM, generate_all
from genai_lab.rag.metrics import mean_ndcg_at_k, mean_recall_at_k, ndcg_at_k
from genai_lab.rag.rewriting import parse_lines
from genai_lab.rag.scoring import is_abstention

QUERY_KINDS = ("paraphrase", "vocab_mismatch", "vague")
SPLITS = ("dev", "test")
TARGETS = {"multi_query": "paraphrase", "hyde": "vocab_mismatch", "alignment": "vague"}
BASELINES = ("dense", "bm25")
JACCARD_MAX = 0.7  # a rewrite sharing >= 70% of its word set with the question is a near-copy

Pipeline = Callable[[list[str]], list[list[str]]]

# Chosen by reading SmolLM2-135M's outputs on the dev questions only: a few-shot prompt (an example on the
# canteen's opening hours) made it copy the example into its rewrites; this plain one gives near-copies
# (which the check drops) or answers phrased as statements. The HyDE prompt is the HyDE paper's (Gao et al.
# 2022) web-search prompt; a "company document" prompt made it repeat those words in every passage.
KB_MULTI_QUERY_PROMPT = "Paraphrase the question below. Write {n} paraphrases, one per line.\n\nQuestion: {question}"
KB_HYDE_PROMPT = "Please write a passage to answer the question.\nQuestion: {question}\nPassage:"


# ------------------------------------------------------------------------------------------------ data
def advanced_queries_path() -> Path:
    """``data/kb_eval/advanced_queries.jsonl``."""
    from genai_lab.paths import data_dir

    return data_dir() / "kb_eval" / "advanced_queries.jsonl"


def read_advanced_queries(
    path: Path | None = None, split: str | None = None, kinds: Sequence[str] | None = None
) -> list[dict]:
    """The labelled questions (``id``, ``kind``, ``split``, ``question``, ``relevant``: document paths),
    checked; only ``split`` ("dev" or "test") and ``kinds`` when given."""
    path = path or advanced_queries_path()
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found; it ships with the repository in data/kb_eval/.")
    if split is not None and split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS} or None, got {split!r}.")
    items, seen = [], set()
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        item = json.loads(line)
        rel = item.get("relevant")
        problems = [f for f in ("id", "kind", "split", "question", "relevant") if f not in item]
        if not problems and (item["kind"] not in QUERY_KINDS or item["split"] not in SPLITS):
            problems.append(f"kind in {QUERY_KINDS} and split in {SPLITS}")
        if not problems and (not isinstance(rel, list) or not rel or not all(isinstance(r, str) for r in rel)):
            problems.append("relevant: a non-empty list of document paths")
        if not problems and item["id"] in seen:
            problems.append(f"a unique id ({item['id']} repeats)")
        if problems:
            raise ValueError(f"{path}:{n}: needs {problems}.")
        seen.add(item["id"])
        items.append(item)
    return [q for q in items if (split is None or q["split"] == split) and (kinds is None or q["kind"] in kinds)]


def qrels_of(queries: Sequence[dict]) -> dict[str, dict[str, int]]:
    """BEIR-style judgements: query id -> {document path: 1}."""
    return {q["id"]: dict.fromkeys(q["relevant"], 1) for q in queries}


def content_terms(texts: Sequence[str]) -> list[set[str]]:
    """Each text's BM25 terms (English stop words removed, Snowball-stemmed), as :class:`BM25Index` sees
    them: a question shares none with a document exactly when BM25 scores that document 0."""
    import bm25s

    from genai_lab.rag.bm25 import _stemmer

    tokens = bm25s.tokenize(list(texts), stopwords="en", stemmer=_stemmer(), return_ids=False, show_progress=False)
    return [set(t) for t in tokens]


# ------------------------------------------------------------------------------------------------ rewrites
def word_set(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))


def jaccard(a: str, b: str) -> float:
    """Token-set Jaccard similarity of two texts (lower-cased words); 1.0 for two empty texts."""
    sa, sb = word_set(a), word_set(b)
    return len(sa & sb) / len(sa | sb) if sa | sb else 1.0


def degenerate_reason(question: str, text: str, max_jaccard: float = JACCARD_MAX) -> str | None:
    """Why ``text`` is not a real rewrite of ``question`` ("empty", "abstention", "near-copy"), or None."""
    if not word_set(text):
        return "empty"
    if is_abstention(text):
        return "abstention"
    if jaccard(question, text) >= max_jaccard:
        return "near-copy"
    return None


@dataclass
class RewriteLog:
    """What an LLM wrote for each question, and why each output was dropped (None: kept)."""

    questions: list[str] = field(default_factory=list)
    outputs: list[list[str]] = field(default_factory=list)
    reasons: list[list[str | None]] = field(default_factory=list)

    def add(self, question: str, outputs: Sequence[str], max_jaccard: float) -> list[str]:
        """Log one question's outputs (an empty answer counts as one empty output); return the kept ones."""
        outs = list(outputs) or [""]
        reasons = [degenerate_reason(question, o, max_jaccard) for o in outs]
        self.questions.append(question)
        self.outputs.append(outs)
        self.reasons.append(reasons)
        return [o for o, r in zip(outs, reasons, strict=True) if r is None]

    def summary(self) -> dict[str, int]:
        """``outputs``, ``degenerate`` (by reason too) and ``fallbacks`` (questions left with no rewrite)."""
        flat = [r for rs in self.reasons for r in rs]
        out = {"outputs": len(flat), "degenerate": sum(r is not None for r in flat),
               "fallbacks": sum(all(r is not None for r in rs) for rs in self.reasons)}
        for reason in ("empty", "abstention", "near-copy"):
            out[reason] = flat.count(reason)
        return out

    def for_question(self, question: str) -> list[tuple[str, str]]:
        """``(output, verdict)`` pairs logged for ``question`` ("kept" or the reason it was dropped)."""
        for q, outs, rs in zip(self.questions, self.outputs, self.reasons, strict=True):
            if q == question:
                return [(o, r or "kept") for o, r in zip(outs, rs, strict=True)]
        raise KeyError(f"No rewrites logged for {question!r}; run the technique on it first.")

    def examples(self, n: int = 3) -> list[dict[str, str]]:
        """The first ``n`` questions with their outputs and verdicts, for a table."""
        return [{"question": q, "output": o, "verdict": r or "kept"}
                for q, outs, rs in list(zip(self.questions, self.outputs, self.reasons, strict=True))[:n]
                for o, r in zip(outs, rs, strict=True)]


class MultiQuery:
    """Multi-query retrieval with checked rewrites: the question and its real rewrites are searched by
    ``retriever`` and fused by RRF (the question weighted ``original_weight``). One LLM call per question."""

    llm_calls_per_query = 1.0

    def __init__(self, llm: LLM, retriever: Any, n: int = 3, prompt: str = KB_MULTI_QUERY_PROMPT,
                 max_jaccard: float = JACCARD_MAX, original_weight: float = 1.0, depth: int = 50) -> None:
        if n < 1:
            raise ValueError(f"n must be >= 1 rewrites, got {n}.")
        self.llm, self.retriever, self.n, self.prompt = llm, retriever, n, prompt
        self.max_jaccard, self.original_weight, self.depth = max_jaccard, original_weight, depth
        self.log = RewriteLog()

    def __call__(self, questions: list[str]) -> list[list[str]]:
        answers = generate_all(self.llm, [self.prompt.format(n=self.n, question=q) for q in questions])
        variants = [[q, *self.log.add(q, parse_lines(a, self.n, exclude=[q]), self.max_jaccard)]
                    for q, a in zip(questions, answers, strict=True)]
        ranked = iter(self.retriever.rank([v for vs in variants for v in vs], k=self.depth))
        out = []
        for vs in variants:
            rankings = [next(ranked) for _ in vs]
            weights = [self.original_weight] + [1.0] * (len(vs) - 1)
            out.append(reciprocal_rank_fusion(rankings, k=DEFAULT_K, weights=weights, top_n=self.depth))
        return out


class HyDE:
    """HyDE with a checked passage: the search vector is the normalised sum of the passage's embedding and
    ``question_weight`` times the question's; a degenerate passage falls back to the question alone.
    ``retriever`` is a :class:`~genai_lab.rag.retrievers.DenseRetriever`. One LLM call per question."""

    llm_calls_per_query = 1.0

    def __init__(self, llm: LLM, retriever: Any, prompt: str = KB_HYDE_PROMPT, max_jaccard: float = JACCARD_MAX,
                 question_weight: float = 1.0, depth: int = 50) -> None:
        self.llm, self.retriever, self.prompt = llm, retriever, prompt
        self.max_jaccard, self.question_weight, self.depth = max_jaccard, question_weight, depth
        self.log = RewriteLog()

    def __call__(self, questions: list[str]) -> list[list[str]]:
        passages = generate_all(self.llm, [self.prompt.format(question=q) for q in questions])
        kept = [bool(self.log.add(q, [p.strip()], self.max_jaccard)) for q, p in zip(questions, passages, strict=True)]
        q_vecs = self.retriever.embed(list(questions))
        p_vecs = self.retriever.embed([p if k else q for p, q, k in zip(passages, questions, kept, strict=True)])
        use = np.asarray(kept, dtype=np.float32)[:, None]
        vecs = p_vecs * use + q_vecs * np.where(use > 0, self.question_weight, 1.0)
        vecs = vecs / np.linalg.norm(vecs, axis=1, keepdims=True)
        return [[d for d, _ in hits] for hits in self.retriever.search_vectors(vecs.astype(np.float32), k=self.depth)]


def alignment_log(aligned: Any, chunk_texts: Mapping[str, str], max_jaccard: float = JACCARD_MAX) -> RewriteLog:
    """The generated texts of an :class:`~genai_lab.rag.alignment.AlignedCorpus`, checked against their chunk
    (a chunk with no generated text logs one empty output)."""
    generated: dict[str, list[str]] = {cid: [] for cid in chunk_texts}
    for text, parent, kind in zip(aligned.texts, aligned.parents, aligned.kinds, strict=True):
        if kind != "chunk" and parent in generated:
            generated[parent].append(text)
    log = RewriteLog()
    for cid, texts in generated.items():
        log.add(chunk_texts[cid], texts, max_jaccard)
    return log


# ------------------------------------------------------------------------------------------------ scoring
@dataclass
class PipelineResult:
    """One pipeline's scores per query kind (``{kind: {"ndcg@k", "recall@k", "n"}}``), nDCG@k per query id,
    and its cost."""

    name: str
    scores: dict[str, dict[str, float]]
    seconds_per_query: float
    llm_calls_per_query: float
    log: RewriteLog | None = None
    per_query: dict[str, float] = field(default_factory=dict)


def evaluate_pipelines(
    queries: Sequence[dict],
    pipelines: Mapping[str, Pipeline],
    doc_of: Mapping[str, str],
    k: int = 5,
) -> dict[str, PipelineResult]:
    """Run each pipeline once on all ``queries`` (timed), map its ranked chunk ids to documents with
    ``doc_of`` (chunk id -> document path) and score nDCG@k and Recall@k for each query kind."""
    if not queries:
        raise ValueError("No queries to evaluate; read them with read_advanced_queries().")
    questions = [q["question"] for q in queries]
    out = {}
    for name, pipeline in pipelines.items():
        start = time.perf_counter()
        ranked = pipeline(questions)
        seconds = time.perf_counter() - start
        if len(ranked) != len(queries):
            raise ValueError(f"pipeline {name!r} returned {len(ranked)} rankings for {len(queries)} questions.")
        unknown = sorted({c for r in ranked for c in r if c not in doc_of})
        if unknown:
            raise ValueError(f"pipeline {name!r} ranked ids missing from doc_of (e.g. {unknown[:3]}); "
                             "map every chunk id to its document.")
        run = {q["id"]: collapse_to_parents(r, dict(doc_of)) for q, r in zip(queries, ranked, strict=True)}
        scores = {}
        for kind in dict.fromkeys(q["kind"] for q in queries):
            qrels = qrels_of([q for q in queries if q["kind"] == kind])
            scores[kind] = {f"ndcg@{k}": mean_ndcg_at_k(run, qrels, k), f"recall@{k}": mean_recall_at_k(run, qrels, k),
                            "n": float(len(qrels))}
        calls = float(getattr(pipeline, "llm_calls_per_query", 0.0))
        per_query = {q["id"]: ndcg_at_k(run[q["id"]], dict.fromkeys(q["relevant"], 1), k) for q in queries}
        log = getattr(pipeline, "log", None)
        out[name] = PipelineResult(name, scores, seconds / len(queries), calls, log, per_query)
    return out


def tune_on_dev(candidates: Mapping[str, Pipeline], dev_queries: Sequence[dict], doc_of: Mapping[str, str],
                kind: str, k: int = 5) -> tuple[str, list[dict[str, Any]]]:
    """The candidate with the best dev nDCG@k on ``kind`` (ties: the first listed) and the dev table."""
    dev = [q for q in dev_queries if q["kind"] == kind]
    if not dev:
        raise ValueError(f"No dev questions of kind {kind!r}; tune on the dev split of that kind.")
    results = evaluate_pipelines(dev, candidates, doc_of, k)
    dev_scores = {n: r.scores[kind][f"ndcg@{k}"] for n, r in results.items()}
    best = max(dev_scores, key=lambda n: dev_scores[n])  # max keeps the first of equal scores
    return best, [{"setting": n, f"dev nDCG@{k}": v} for n, v in dev_scores.items()]


def gain_rows(results: Mapping[str, PipelineResult], metric: str = "ndcg@5", baseline: str = "dense",
              targets: Mapping[str, str] = TARGETS) -> list[dict[str, Any]]:
    """Per technique and query kind: the technique's ``metric``, the baseline's, BM25's, the gain over the
    baseline and whether it is the kind the technique targets."""
    if baseline not in results:
        raise ValueError(f"results hold no {baseline!r} baseline; evaluate it beside the techniques.")
    rows = []
    for tech in (t for t in targets if t in results):
        for kind, score in results[tech].scores.items():
            base = results[baseline].scores[kind][metric]
            bm25 = results["bm25"].scores[kind][metric] if "bm25" in results else float("nan")
            rows.append({"technique": tech, "kind": kind, "targeted": kind == targets[tech], metric: score[metric],
                         baseline: base, "bm25": bm25, "gain": score[metric] - base})
    return rows


def result_keys(results: Mapping[str, PipelineResult], metric: str = "ndcg@5",
                prefix: str = "rag.kb.advanced") -> dict[str, float]:
    """``{prefix}.{pipeline}.{kind}``: the pipeline's ``metric`` (not the gain) on that kind, rounded."""
    return {f"{prefix}.{name}.{kind}": round(s[metric], 4)
            for name, r in results.items() for kind, s in r.scores.items()}
