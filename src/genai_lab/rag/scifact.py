"""BEIR SciFact in the BEIR layout: ``corpus.jsonl``, ``queries.jsonl``, ``qrels/test.tsv``.

The data is never copied into the repository; it is read from ``genai_lab.paths.benchmark("scifact")``
(``$GENAI_LAB_BENCHMARKS/scifact``)::

    data = load_scifact()            # None when the benchmark folder is absent
    data.doc_texts()                 # title + " " + text, the standard BEIR document string
    data.test_queries                # the 300 test queries with relevance judgements
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

from genai_lab.paths import benchmark


@dataclass
class BeirDataset:
    """A BEIR-layout dataset: documents, queries and graded relevance judgements (qrels)."""

    corpus: dict[str, dict[str, str]]  # doc id -> {"title": ..., "text": ...}
    queries: dict[str, str]  # query id -> text (every query in queries.jsonl)
    qrels: dict[str, dict[str, int]]  # query id -> {doc id: relevance}
    path: Path | None = None
    doc_ids: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.doc_ids = list(self.corpus)

    def doc_texts(self) -> list[str]:
        """Documents as BEIR's dense models see them: ``title + " " + text``, stripped, in
        ``doc_ids`` order."""
        return [
            (self.corpus[d].get("title", "") + " " + self.corpus[d].get("text", "")).strip()
            for d in self.doc_ids
        ]

    @property
    def test_queries(self) -> dict[str, str]:
        """The queries that have relevance judgements, in qrels order."""
        return {q: self.queries[q] for q in self.qrels}


def _read_jsonl(path: Path) -> list[dict]:
    rows = []
    with path.open(encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as err:
                raise ValueError(f"{path}, line {line_no}: invalid JSON ({err.msg}).") from err
    return rows


def load_beir(path: Path, split: str = "test") -> BeirDataset:
    """Load a BEIR-layout folder (``corpus.jsonl``, ``queries.jsonl``, ``qrels/<split>.tsv``)."""
    path = Path(path)
    needed = [path / "corpus.jsonl", path / "queries.jsonl", path / "qrels" / f"{split}.tsv"]
    missing = [str(p) for p in needed if not p.is_file()]
    if missing:
        raise FileNotFoundError(
            f"Not a BEIR folder: missing {', '.join(missing)}. Point $GENAI_LAB_BENCHMARKS to the "
            "folder that holds scifact/ (see the README)."
        )
    corpus = {
        str(r["_id"]): {"title": r.get("title") or "", "text": r.get("text") or ""}
        for r in _read_jsonl(needed[0])
    }
    queries = {str(r["_id"]): r["text"] for r in _read_jsonl(needed[1])}
    qrels: dict[str, dict[str, int]] = {}
    with needed[2].open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh, delimiter="\t")
        header = next(reader, None)
        if header is None or header[:2] != ["query-id", "corpus-id"]:
            raise ValueError(f"{needed[2]}: expected a 'query-id corpus-id score' header, got {header}.")
        for row in reader:
            if len(row) < 3:
                continue
            qid, did, score = row[0], row[1], int(row[2])
            qrels.setdefault(qid, {})[did] = score
    unknown = [q for q in qrels if q not in queries]
    if unknown:
        raise ValueError(f"{needed[2]} judges queries missing from queries.jsonl: {unknown[:5]}")
    return BeirDataset(corpus=corpus, queries=queries, qrels=qrels, path=path)


def evidence_qrels(data: BeirDataset, exclude_judged: bool = True) -> dict[str, dict[str, int]]:
    """Relevance judgements for SciFact's *training* claims, from ``queries.jsonl``'s metadata.

    SciFact's queries carry the ids of the abstracts that hold evidence for or against the claim.
    For the claims outside the judged (test) split this gives a development set with which to choose
    settings, so that the test queries are used only once, to report. Claims without evidence
    (labelled "not enough info") are left out.
    """
    if data.path is None:
        raise ValueError("This dataset was not loaded from a folder; evidence metadata is unavailable.")
    qrels: dict[str, dict[str, int]] = {}
    for row in _read_jsonl(data.path / "queries.jsonl"):
        qid = str(row["_id"])
        if exclude_judged and qid in data.qrels:
            continue
        docs = [d for d in (row.get("metadata") or {}) if d in data.corpus]
        if docs:
            qrels[qid] = {d: 1 for d in docs}
    return qrels


def load_scifact(split: str = "test") -> BeirDataset | None:
    """SciFact from the benchmark folder, or ``None`` when the folder is absent."""
    path = benchmark("scifact")
    if path is None:
        return None
    return load_beir(path, split=split)
