"""Grounded question-answer examples from the knowledge base, split by document.

Every source of a KB question (``data/kb/questions.jsonl``) names one unit that
:func:`genai_lab.rag.loaders.load_documents` produces (a Markdown section, a PDF page, a JSON record, a
CSV row). From each question this module builds what the reader must learn to do:

* ``grounded``: the gold unit(s) among retrieved distractors (BM25 top hits that are not gold), each at
  a seeded random position; the target is the gold answer and the numbers of the gold passages,
  ``"45 EUR [3]"``;
* ``latest_version``: the gold unit is in a document that supersedes another (manifest ``supersedes``);
  the older version's matching unit is among the passages too, and the target answers from, and cites,
  the newest. ``named_version``: the question names the older version, whose unit is gold; the newer
  one is present as the conflicting passage;
* ``abstain_missing``: the same question with every unit of its gold documents (and their other
  versions) removed from the retrieved passages; the target is :data:`~genai_lab.rag.scoring.ABSTENTION`;
* ``abstain_unanswerable``: the KB's unanswerable questions with their retrieved passages; same target.

The split is by document and stated in ``data/reader/kb_split.json``; a question belongs to a split
when all its sources do (the few whose sources span splits are used nowhere). Examples of the train
split retrieve their distractors from train documents only, so test documents contribute nothing to
training.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genai_lab.reader.data import ReaderExample, answer_with_citation

if TYPE_CHECKING:  # pragma: no cover
    from langchain_core.documents import Document

SPLITS = ("train", "dev", "test")
PASSAGES = 4  # what the chain's retriever returns (k=4)


def kb_split_path() -> Path:
    from genai_lab.paths import data_dir

    return data_dir() / "reader" / "kb_split.json"


def load_kb_split(path: Path | None = None) -> dict[str, Any]:
    """The document split: ``train``/``dev``/``test`` lists of KB paths and ``unanswerable``, a dict of
    the same three lists of question ids. A path in two splits is an error."""
    path = path or kb_split_path()
    raw = json.loads(path.read_text(encoding="utf-8"))
    for key in SPLITS:
        if not isinstance(raw.get(key), list) or not isinstance(raw.get("unanswerable", {}).get(key), list):
            raise ValueError(f"{path} needs lists {SPLITS} of document paths and unanswerable.{{{SPLITS}}} of ids.")
    docs = [p for s in SPLITS for p in raw[s]]
    if len(docs) != len(set(docs)):
        raise ValueError(f"{path}: a document is in more than one split.")
    return raw


def question_split(question: dict, split: dict[str, Any]) -> str | None:
    """The split of a KB question: that of all its source documents (unanswerable ones by id), or None
    when its sources span splits or one is in no split."""
    if not question.get("sources"):
        return next((s for s in SPLITS if question["id"] in split["unanswerable"][s]), None)
    found = set()
    for source in question["sources"]:
        found.add(next((s for s in SPLITS if source["path"] in split[s]), None))
    return found.pop() if len(found) == 1 and None not in found else None


def version_families(manifest: dict) -> dict[str, list[str]]:
    """Each versioned document's path -> all versions of it, oldest first (manifest ``supersedes``)."""
    newer = {d["supersedes"]: d["path"] for d in manifest["documents"] if d.get("supersedes")}
    older = {v: k for k, v in newer.items()}
    families: dict[str, list[str]] = {}
    for path in {*newer, *older}:
        first = path
        while first in older:
            first = older[first]
        chain = [first]
        while chain[-1] in newer:
            chain.append(newer[chain[-1]])
        families[path] = chain
    return families


def find_unit(units: Sequence[Document], source: dict) -> Document:
    """The unit a question's source names: same file and same ``section`` (or ``page``)."""
    for doc in units:
        meta = doc.metadata
        if meta.get("source") != source["path"]:
            continue
        if ("section" in source and meta.get("section") == source["section"]) or (
            "page" in source and meta.get("page") == source["page"]
        ):
            return doc
    raise LookupError(f"No loaded unit matches the question source {source}; is data/kb in step with questions.jsonl?")


def _matching_unit(units: Sequence[Document], unit: Document, other_path: str) -> Document | None:
    """The unit of version ``other_path`` that matches ``unit`` (same section, else same page)."""
    meta = unit.metadata
    for doc in units:
        if doc.metadata.get("source") != other_path:
            continue
        if meta.get("section") and doc.metadata.get("section") == meta["section"]:
            return doc
    for doc in units:
        if doc.metadata.get("source") == other_path and meta.get("page") and doc.metadata.get("page") == meta["page"]:
            return doc
    return None


@dataclass
class KnowledgeBase:
    """The loaded units, the question set and the manifest's version families of ``data/kb``."""

    units: list[Document]
    questions: list[dict]
    families: dict[str, list[str]]

    @classmethod
    def load(cls, folder: Path | None = None) -> KnowledgeBase:
        from genai_lab.paths import data_dir
        from genai_lab.rag.loaders import load_documents, read_questions

        folder = folder or data_dir() / "kb"
        result = load_documents(folder, strict=True)
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        return cls(list(result.documents), read_questions(folder), version_families(manifest))


class Retriever:
    """BM25 (:class:`genai_lab.rag.bm25.BM25Index`) over a set of units, for the distractors."""

    def __init__(self, units: Sequence[Document]) -> None:
        from genai_lab.rag.bm25 import BM25Index

        self.units = list(units)
        texts = [f"{d.metadata.get('title', '')} {d.metadata.get('section') or ''} {d.page_content}" for d in units]
        self.index = BM25Index([str(i) for i in range(len(self.units))], texts)

    def __call__(self, question: str, k: int, rng: random.Random | None = None) -> list[Document]:
        """The ``k`` best units for ``question``. BM25 finds nothing for a question that shares no word
        with the units; the list is then filled up with units drawn by ``rng`` (seeded), so that every
        example has its full number of passages."""
        hits = [self.units[int(i)] for i, _ in self.index.search([question], k=min(k, len(self.units)))[0]]
        if len(hits) < k:
            seen = {id(d) for d in hits}
            rest = [d for d in self.units if id(d) not in seen]
            (rng or random.Random(question)).shuffle(rest)
            hits += rest[: k - len(hits)]
        return hits


def _key(doc: Document) -> tuple[Any, ...]:
    m = doc.metadata
    return (m.get("source"), m.get("page"), m.get("section"), m.get("row"), doc.page_content[:80])


def _place(gold: list[Document], distractors: list[Document], rng: random.Random) -> tuple[list[Document], list[int]]:
    """The gold units at random positions among the distractors; returns the passages and the 1-based
    positions of the gold ones."""
    docs = list(distractors)
    for unit in gold:
        docs.insert(rng.randint(0, len(docs)), unit)
    gold_keys = {_key(u) for u in gold}
    return docs, [i for i, d in enumerate(docs, 1) if _key(d) in gold_keys]


def build_examples(
    kb: KnowledgeBase, split: str, kb_split: dict[str, Any] | None = None, seed: int = 0, passages: int = PASSAGES
) -> list[ReaderExample]:
    """The reader examples of one split (see the module docstring for the kinds). Train examples see
    only train documents; dev and test examples retrieve from the whole knowledge base, as the chain
    would."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}.")
    kb_split = kb_split or load_kb_split()
    pool = [u for u in kb.units if u.metadata.get("source") in set(kb_split["train"])] if split == "train" else kb.units
    retrieve = Retriever(pool)
    out: list[ReaderExample] = []
    for q in kb.questions:
        if question_split(q, kb_split) != split:
            continue
        rng = random.Random(f"{seed}:{q['id']}")
        golds = [q["answer"], *q.get("aliases", [])]
        hits = retrieve(q["question"], len(pool), rng)  # every unit, ranked: the abstention needs the rest
        if not q.get("sources"):
            out.append(ReaderExample(q["id"], q["question"], hits[:passages], answer_with_citation("", []),
                                     "abstain_unanswerable"))
            continue
        gold_units = [find_unit(kb.units, s) for s in q["sources"]]
        gold_paths = {s["path"] for s in q["sources"]}
        family = {p for g in gold_paths for p in kb.families.get(g, [g])}
        gold_keys = {_key(u) for u in gold_units}
        conflicting: list[Document] = []
        latest: list[bool] = []
        for unit in gold_units:
            versions = kb.families.get(unit.metadata["source"], [])
            latest += [versions[-1] == unit.metadata["source"]] if versions else []
            for other in (v for v in versions if v != unit.metadata["source"]):
                match = _matching_unit(kb.units, unit, other)
                if match is not None and _key(match) not in gold_keys | {_key(c) for c in conflicting}:
                    conflicting.append(match)
        kind = "grounded" if not conflicting else "latest_version" if all(latest) else "named_version"
        taken = gold_keys | {_key(c) for c in conflicting}
        others = [d for d in hits if _key(d) not in taken]
        distractors = conflicting + others[: max(1, passages - len(gold_units) - len(conflicting))]
        rng.shuffle(distractors)
        docs, cite = _place(gold_units, distractors, rng)
        meta = {"sources": sorted(gold_paths), "question_kind": q["kind"]}
        out.append(ReaderExample(q["id"], q["question"], docs, answer_with_citation(q["answer"], cite), kind,
                                 golds=golds, cite=cite, meta=meta))
        missing = [d for d in hits if d.metadata.get("source") not in family][:passages]
        out.append(ReaderExample(f"{q['id']}-missing", q["question"], missing, answer_with_citation("", []),
                                 "abstain_missing", meta=meta))
    return out
