"""SQuAD-format files: a strict loader, the course's split of SQuAD 2.0 by article, and reader examples.

:func:`load_squad` reads any file in the official SQuAD layout (``data[].title``,
``data[].paragraphs[].context``, ``paragraphs[].qas[].{id, question, answers[], is_impossible}``) and
names the first problem it finds (the path inside the JSON and what was expected). SQuAD 1.1 files
(no ``is_impossible``) load too: every question is answerable.

The split is by *article*, stated in ``data/reader/squad2_split.json``: the test articles contribute
nothing to training, and the dev article is for tuning. Each question becomes a
:class:`~genai_lab.reader.data.ReaderExample` whose only passage is its own paragraph, labelled with the
article's title, so its citation is always ``[1]``.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genai_lab.reader.data import ReaderExample, answer_with_citation

SPLITS = ("train", "dev", "test")


@dataclass(frozen=True)
class SquadQuestion:
    """One question of a SQuAD-format file. ``answers`` is empty for an unanswerable question."""

    id: str
    title: str
    context: str
    question: str
    answers: tuple[str, ...]

    @property
    def answerable(self) -> bool:
        return bool(self.answers)


def _need(value: Any, kind: type, where: str, path: Path) -> Any:
    if not isinstance(value, kind):
        raise ValueError(
            f"{path}: {where} should be a {kind.__name__}, found {type(value).__name__}. "
            "Expected the official SQuAD layout: data[].paragraphs[].qas[] with id, question, answers."
        )
    return value


def load_squad(path: str | Path) -> list[SquadQuestion]:
    """Every question of a SQuAD-format JSON file, in file order. Raises ``FileNotFoundError`` for a
    missing file and ``ValueError`` naming the JSON path of the first malformed field."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"SQuAD file not found: {path}. Pass a SQuAD-format JSON file (e.g. dev-v2.0.json).")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON ({err}); expected a SQuAD-format file.") from err
    data = _need(_need(raw, dict, "the top level", path).get("data"), list, "'data'", path)
    questions: list[SquadQuestion] = []
    for a, article in enumerate(data):
        where = f"data[{a}]"
        title = str(_need(article, dict, where, path).get("title", f"article {a}"))
        for p, para in enumerate(_need(article.get("paragraphs"), list, f"{where}.paragraphs", path)):
            pw = f"{where}.paragraphs[{p}]"
            context = _need(_need(para, dict, pw, path).get("context"), str, f"{pw}.context", path)
            for q, qa in enumerate(_need(para.get("qas"), list, f"{pw}.qas", path)):
                qw = f"{pw}.qas[{q}]"
                _need(qa, dict, qw, path)
                text = _need(qa.get("question"), str, f"{qw}.question", path)
                qid = str(_need(qa.get("id"), (str, int), f"{qw}.id", path))  # type: ignore[arg-type]
                answers = _need(qa.get("answers", []), list, f"{qw}.answers", path)
                golds = tuple(_need(_need(x, dict, f"{qw}.answers[{i}]", path).get("text"), str,
                                    f"{qw}.answers[{i}].text", path) for i, x in enumerate(answers))
                impossible = bool(qa.get("is_impossible", False))
                if not impossible and not golds:
                    raise ValueError(f"{path}: {qw} ({qid}) has no answers but is not marked is_impossible.")
                questions.append(SquadQuestion(qid, title, context, text, () if impossible else golds))
    if not questions:
        raise ValueError(f"{path} holds no questions; expected data[].paragraphs[].qas[].")
    return questions


def squad2_path() -> Path:
    """The benchmark's SQuAD 2.0 file (``squad2/squad2-articles.json``); the error names how to point
    to the benchmark folder when it is absent."""
    from genai_lab.paths import benchmark

    folder = benchmark("squad2", required=True)
    assert folder is not None  # required=True raises instead
    return folder / "squad2-articles.json"


def split_path() -> Path:
    from genai_lab.paths import data_dir

    return data_dir() / "reader" / "squad2_split.json"


def load_split(path: Path | None = None) -> dict[str, list[str]]:
    """``{"train": [titles], "dev": [...], "test": [...]}`` from ``data/reader/squad2_split.json``."""
    path = path or split_path()
    raw = json.loads(path.read_text(encoding="utf-8"))
    missing = [s for s in SPLITS if not isinstance(raw.get(s), list)]
    if missing:
        raise ValueError(f"{path} needs the lists {SPLITS} of article titles; missing {missing}.")
    seen: Counter[str] = Counter(t for s in SPLITS for t in raw[s])
    if twice := sorted(t for t, n in seen.items() if n > 1):
        raise ValueError(f"{path}: articles in more than one split: {twice}.")
    return {s: list(raw[s]) for s in SPLITS}


def select_split(questions: Iterable[SquadQuestion], split: str, splits: dict[str, list[str]]) -> list[SquadQuestion]:
    """The questions of the articles of ``split``. An article named in no split is an error (it could
    leak into training unseen)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}.")
    questions = list(questions)
    known = {t for s in SPLITS for t in splits[s]}
    if unknown := sorted({q.title for q in questions} - known):
        raise ValueError(f"Articles in no split: {unknown}; add them to {split_path()}.")
    wanted = set(splits[split])
    return [q for q in questions if q.title in wanted]


def sample(questions: Sequence[SquadQuestion], limit: int | None, seed: int = 0) -> list[SquadQuestion]:
    """``limit`` questions drawn with a fixed seed and kept in file order (all of them when ``limit``
    is None or not smaller), so that a small sample spans the articles."""
    if limit is None or limit >= len(questions):
        return list(questions)
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}.")
    keep = set(random.Random(seed).sample(range(len(questions)), limit))
    return [q for i, q in enumerate(questions) if i in keep]


def target_answer(q: SquadQuestion) -> str:
    """The answer the reader learns: the gold span most annotators gave (the first on a tie)."""
    return Counter(a.strip() for a in q.answers).most_common(1)[0][0]


def to_example(q: SquadQuestion) -> ReaderExample:
    """The question with its paragraph as passage [1]; target ``"<answer> [1]"`` or "I don't know"."""
    from langchain_core.documents import Document

    doc = Document(page_content=q.context, metadata={"source": q.title})
    cite = [1] if q.answerable else []
    target = answer_with_citation(target_answer(q), cite) if q.answerable else answer_with_citation("", [])
    kind = "squad_answerable" if q.answerable else "squad_unanswerable"
    return ReaderExample(q.id, q.question, [doc], target, kind, golds=list(q.answers), cite=cite)
