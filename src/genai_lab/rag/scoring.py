"""Scoring one answer against its gold answers: SQuAD 2.0's official measures, a bounded "contains"
check for free-form answers, abstention, and citations.

* :func:`normalize_answer`, :func:`exact_match`, :func:`token_f1` and :func:`squad_scores` are the
  definitions of the official SQuAD 2.0 script (``evaluate-v2.0.py``): lower case, punctuation and the
  articles a/an/the removed, whitespace collapsed; exact match and bag-of-tokens F1, each the maximum
  over the gold answers; an unanswerable question has the single gold answer ``""``, so only an
  abstention (an empty prediction, or the course's "I don't know", see :func:`is_abstention`) scores 1.
* :func:`contains_answer` is the check for a chat model's sentence-long answer: the gold answer's
  tokens must appear *as whole tokens, in order* in the answer. Numbers match only as whole numbers,
  so gold "20" does not match "2024" and gold "3" does not match "INC-2025-030", while "1,200"
  matches "1200" and "3" matches "3 years".
* :func:`unbounded_contains` is the course's first scorer, kept to show its bias: a plain substring
  test, under which "20" is found in "2024".
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from langchain_core.documents import Document

ABSTENTION = "I don't know"
ABSTAIN_PATTERNS = (
    r"\bi (?:do not|don't|don’t) know\b",
    r"\bnot (?:in|mentioned in|provided in|found in|included in) the (?:context|documents?|passages?)",
    r"\b(?:context|documents?|passages?) (?:does|do) not (?:contain|mention|provide|say)",
    r"\bno information\b",
    r"\bcannot (?:find|answer|determine)\b",
    r"\bunable to (?:find|answer|determine)\b",
)
_PUNCTUATION = set(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)


# ------------------------------------------------------------------------------------------------
# SQuAD 2.0, as the official evaluation script defines it
# ------------------------------------------------------------------------------------------------
def normalize_answer(text: str) -> str:
    """SQuAD's normalisation: lower case, punctuation removed, articles removed, whitespace collapsed."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def squad_tokens(text: str) -> list[str]:
    """The tokens SQuAD's F1 counts: the normalised text split on whitespace."""
    return normalize_answer(text).split() if text else []


def exact_match(prediction: str, gold: str) -> int:
    """1 when prediction and gold are equal after :func:`normalize_answer`, else 0."""
    return int(normalize_answer(gold) == normalize_answer(prediction))


def token_f1(prediction: str, gold: str) -> float:
    """SQuAD's F1 of the shared tokens (a bag, counted with multiplicity). When either side has no
    tokens (a no-answer), F1 is 1 if both have none and 0 otherwise."""
    gold_tokens, pred_tokens = squad_tokens(gold), squad_tokens(prediction)
    if not gold_tokens or not pred_tokens:
        return float(gold_tokens == pred_tokens)
    same = sum((Counter(gold_tokens) & Counter(pred_tokens)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred_tokens), same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def squad_scores(prediction: str, golds: Sequence[str]) -> tuple[int, float]:
    """``(exact, f1)`` of one prediction, each the maximum over ``golds``. Gold answers that normalise
    to nothing are dropped; with none left the question is unanswerable and its only gold answer is
    ``""``. An abstention (:func:`is_abstention`) counts as the empty prediction."""
    answers = [g for g in golds if normalize_answer(g)] or [""]
    if is_abstention(prediction):
        prediction = ""
    return max(exact_match(prediction, g) for g in answers), max(token_f1(prediction, g) for g in answers)


# ------------------------------------------------------------------------------------------------
# A bounded "contains" for free-form answers
# ------------------------------------------------------------------------------------------------
# Words and numbers. A decimal point stays inside a number (4.5, 4.1.1); a slash that starts a word
# (an API or file path, "/devices") stays with it, so that alias "/devices" is not the word "devices".
_TOKEN = re.compile(r"(?:(?<![^\s(\[`'\"])/)?[^\W_]+(?:\.\d+)*")
_CURRENCY = {"€": "eur", "euro": "eur", "euros": "eur"}


def normalise(text: str) -> str:
    """Lower case, ``€`` as ``eur``, curly apostrophes straightened, thousands separators removed
    (``1,200`` -> ``1200``), whitespace collapsed."""
    text = text.lower().replace("€", " eur ").replace("’", "'")
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)
    return re.sub(r"\s+", " ", text).strip()


def answer_tokens(text: str) -> list[str]:
    """The tokens :func:`contains_answer` compares: words and whole numbers of :func:`normalise`'d text
    (``4.5`` and ``4.1.1`` stay one token; ``INC-2025-030`` is ``inc``, ``2025``, ``030``; a path's
    leading slash stays: ``/devices``), without the articles a/an/the, with ``euro(s)`` read as ``eur``."""
    tokens = (_CURRENCY.get(t, t) for t in _TOKEN.findall(normalise(text)))
    return [t for t in tokens if t not in ("a", "an", "the")]


def _has_run(tokens: list[str], run: list[str]) -> bool:
    n = len(run)
    return n > 0 and any(tokens[i:i + n] == run for i in range(len(tokens) - n + 1))


def contains_answer(answer: str, gold: str, aliases: Sequence[str] = ()) -> bool:
    """Whether the tokens of the gold answer, or of one alias, appear in ``answer`` as whole tokens
    and in order (see :func:`answer_tokens`). Gold "20" is not in "2024"; "1,200" is in "1200 sensors"."""
    tokens = answer_tokens(answer)
    return any(_has_run(tokens, answer_tokens(g)) for g in [gold, *aliases])


def unbounded_contains(answer: str, gold: str, aliases: Sequence[str] = ()) -> bool:
    """The first scorer of the course, kept for the lesson on scorer bias: a plain substring test after
    :func:`normalise`, so gold "20" is "contained" in "2024" and gold "3" in "INC-2025-030".
    Use :func:`contains_answer`."""
    text = normalise(answer)
    return any(normalise(g) and normalise(g) in text for g in [gold, *aliases])


def is_abstention(answer: str) -> bool:
    """Whether ``answer`` declines to answer: empty, "I don't know", "not in the context", ..."""
    text = normalise(answer)
    return not text or any(re.search(p, text) for p in ABSTAIN_PATTERNS)


# ------------------------------------------------------------------------------------------------
# Citations
# ------------------------------------------------------------------------------------------------
_CITATION = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")


def _names_file(answer: str, name: str) -> bool:
    """``name`` appears in ``answer`` as a whole file name or path, not inside a longer one."""
    return re.search(rf"(?<![\w./-]){re.escape(name)}(?![\w-]|\.\w)", answer) is not None


def cited_sources(answer: str, docs: Sequence[Document]) -> set[str]:
    """The sources an answer cites: ``[n]`` (or ``[n, m]``) markers mapped to the n-th retrieved
    document, plus a retrieved source named by its path or file name. Only names that look like files
    (with an extension or a folder) count as named, and only whole: source ``a`` is not cited by the
    word "a", nor ``faq.md`` by ``old_faq.md``."""
    cited: set[str] = set()
    for group in _CITATION.findall(answer):
        for n in (int(x) for x in group.split(",")):
            source = docs[n - 1].metadata.get("source") if 1 <= n <= len(docs) else None
            if source:
                cited.add(source)
    for doc in docs:
        source = str(doc.metadata.get("source") or "")
        names = {source, source.rsplit("/", 1)[-1]}
        if any(("." in name or "/" in name) and _names_file(answer, name) for name in names if name):
            cited.add(source)
    return cited
