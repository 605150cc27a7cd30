"""Layers 3b and 4 of the router: marker words and the sensitive vocabulary of the knowledge base.

**Markers** are words people put on confidential material ("confidential", "internal only", "NDA",
"eyes only", "대외비", "사내 한정", ...). **Fresh-information words** ("latest", "today", "최신",
"뉴스", ...) are the only reason a request may go outside.

The **sensitive vocabulary** is mined from the knowledge base (:func:`mine_vocabulary`): words and
names that occur in internal or confidential documents and in no public one. Candidates are

- identifiers such as ``INC-2025-019`` (letters, a hyphen, digits);
- proper nouns: capitalised words never written in lower case anywhere in the knowledge base and
  not in an English word list (MiniLM's WordPiece vocabulary, a plain text file), e.g. code names
  and surnames;
- pairs of capitalised words with at least one such distinctive word or a digit in them (``Hub H3``,
  person names);
- the keys of records in non-public tables and JSON files (the manifest's ``key``: every name in the
  organisation chart, every vendor), unless a key is a number, a date or one common word;

plus the internal project names (``internal_projects`` in the manifest, also without "Project") and
the titles of non-public documents. Titles and two-word names also match with their words in another
order. Names the whole world knows (``ThinkPad``, ``Kafka``: ``data/routing/public_names.txt``) are never
mined, even when only an internal document mentions them.

Terms are matched on the *squashed* text (spaces and punctuation removed), so splitting a word with
spaces, hyphens or new lines does not hide it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass

from genai_lab.routing.decoding import normalize, squash

DEFAULT_MARKERS = (
    "confidential", "internal only", "internal use only", "for internal use", "do not share",
    "do not forward", "not for external", "not for distribution", "strictly private", "classified",
    "proprietary", "under nda", "trade secret", "vertraulich", "nur intern", "streng geheim",
    "restricted distribution", "restricted access", "strictly restricted", "eyes only", "need to know",
    "private & conf.", "private and conf", "privileged and", "attorney client", "do not disclose",
    "do not distribute", "not for public", "non public", "nonpublic", "top secret", "under embargo",
    "embargoed until", "company secret", "sensitive internal", "internal restricted",
    # Korean: "confidential (not for outside)", "secret", "company only", "not public", "for internal use"
    "대외비", "기밀", "사내한정", "사내 한정", "사내용", "사내 전용", "비공개", "내부용", "내부 전용",
    "내부자료", "대외 유출 금지", "외부 유출 금지", "유출금지", "극비", "취급주의", "공유 금지", "배포 금지",
)  # fmt: skip

# Short or ambiguous markers: whole words only, on normalised text.
MARKER_PATTERNS = (
    r"(?<![a-z])nda(?![a-z])", r"(?<![a-z])restricted\s{0,3}[:\]\)]", r"[\[\(]\s{0,3}restricted(?![a-z])",
    r"^\W{0,5}restricted(?![a-z])", r"classification\W{0,5}(?:restricted|internal|secret)",
    r"(?<![a-z])(?:p\s?&\s?c|p&c)(?![a-z])",
)  # fmt: skip

DEFAULT_FRESH_PATTERNS = (
    r"\blatest\b", r"\btoday\b", r"\btonight\b", r"\byesterday\b", r"\bthis (?:week|month|year)\b",
    r"\bcurrent(?:ly)?\b", r"\bright now\b", r"\brecent(?:ly)?\b", r"\bnews\b", r"\bbreaking\b",
    r"\bup[- ]to[- ]date\b", r"\bsearch (?:the )?(?:web|internet|online)\b", r"\bon the web\b",
    r"\bgoogle\b", r"\blook (?:it )?up online\b", r"\bweather\b", r"\bstock price\b",
    r"\bexchange rate\b", r"\bscore of\b", r"\bwho won\b", r"\b20[2-9]\d\b", r"\bhttps?://",
    r"최신", r"오늘", r"뉴스", r"검색", r"현재", r"요즘", r"실시간", r"날씨", r"주가", r"환율", r"어제",
)  # fmt: skip

_ID = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2,6}-\d{2,6}(?:-\d{1,6})?(?![A-Za-z0-9])")
_CAP = r"[A-Z][A-Za-z0-9]{1,30}"
_CAP_PAIR = re.compile(rf"(?<![A-Za-z0-9])(?=({_CAP}) ({_CAP})(?![A-Za-z0-9]))")  # overlapping pairs
_CAP_WORD = re.compile(rf"(?<![A-Za-z0-9])({_CAP})(?![A-Za-z0-9])")
_WORD = re.compile(r"\w{1,60}")
_MID_SENTENCE = r"(?<=[a-z0-9,;] )"  # a capitalised word after a lower-case word: a proper noun, not a heading
_STOP = {"the", "and", "of", "for", "a", "an", "to", "in", "on", "q1", "q2", "q3", "q4"}
_TITLE_SLACK = 4  # extra words allowed between a title's words when they come in another order


@dataclass(frozen=True)
class Term:
    """One entry of the vocabulary: why it is sensitive (``kind``), as written, and squashed."""

    kind: str
    term: str
    key: str


@functools.lru_cache(maxsize=1)
def public_names() -> frozenset[str]:
    """Names the whole world knows (``data/routing/public_names.txt``, lower case): never mined."""
    from genai_lab.paths import data_dir

    path = data_dir() / "routing" / "public_names.txt"
    if not path.is_file():
        return frozenset()
    lines = path.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line.strip() and not line.startswith("#"))


@functools.lru_cache(maxsize=1)
def english_words() -> frozenset[str]:
    """Common English words: the whole-word entries of MiniLM's WordPiece vocabulary (empty when the
    model package is not installed; the miner is then stricter about nothing)."""
    try:
        from genai_lab.models import minilm_dir

        path = minilm_dir() / "vocab.txt"
        words = path.read_text(encoding="utf-8").split()
    except (ImportError, OSError):
        return frozenset()
    return frozenset(w for w in words if w.isalpha() and len(w) > 1)


def term_length(term: str) -> int:
    """Length of ``term`` once squashed, a Hangul syllable counting as two letters (it spells two or
    three jamo): the measure of whether a term is long enough to be distinctive."""
    return sum(2 if "\uac00" <= c <= "\ud7a3" else 1 for c in squash(term))


def title_words(title: str) -> tuple[str, ...]:
    """The significant words of a title, normalised: ``"Board Report Q3 2025"`` -> board, report, 2025."""
    return tuple(w for w in _WORD.findall(normalize(title).replace("_", " ")) if w not in _STOP)


def words_in_any_order(text_words: dict[str, list[int]], wanted: tuple[str, ...]) -> bool:
    """Whether all ``wanted`` words occur within a window of ``len(wanted) + slack`` words."""
    if len(wanted) < 2 or any(w not in text_words for w in wanted):
        return False
    events = sorted((pos, i) for i, w in enumerate(wanted) for pos in text_words[w])
    window, counts, have, left = len(wanted) + _TITLE_SLACK, [0] * len(wanted), 0, 0
    for pos, i in events:
        counts[i] += 1
        have += counts[i] == 1
        while events[left][0] < pos - window:
            j = events[left][1]
            counts[j] -= 1
            have -= counts[j] == 0
            left += 1
        if have == len(wanted):
            return True
    return False


def word_positions(text: str) -> dict[str, list[int]]:
    """Each word of normalised ``text`` and the positions where it occurs."""
    out: dict[str, list[int]] = {}
    for i, word in enumerate(_WORD.findall(text.replace("_", " "))):
        out.setdefault(word, []).append(i)
    return out


class Corpus:
    """What the miner knows about the knowledge base: all public text, and every word seen in lower
    case. Documents can be added one at a time (:meth:`candidates` returns the new terms)."""

    def __init__(self) -> None:
        self.public: list[str] = []
        self.lower_words: set[str] = set()
        self._public_squashed = ""

    def add_public(self, text: str) -> None:
        self.public.append(text)
        self._public_squashed += "\n" + squash(text)
        self.lower_words.update(w for w in re.findall(r"\b[a-z][a-z0-9]{1,30}\b", text))

    def note_words(self, text: str) -> None:
        self.lower_words.update(w for w in re.findall(r"\b[a-z][a-z0-9]{1,30}\b", text))

    def is_public(self, term: str) -> bool:
        return squash(term) in self._public_squashed

    def _distinctive(self, word: str) -> bool:
        low = word.lower()
        if low in public_names() or re.fullmatch(r"q[1-4]|fy\d{2,4}|\d+[a-z]?", low):
            return False
        if any(c.isdigit() for c in word):
            return any(c.isalpha() for c in word) and len(word) >= 2
        return low not in self.lower_words and low not in english_words() and len(word) >= 4

    def candidates(self, text: str) -> list[Term]:
        """Sensitive terms in one non-public text (call :meth:`note_words` on all texts first)."""
        found: dict[str, Term] = {}

        def add(kind: str, term: str) -> None:
            key = squash(term)
            if term_length(term) >= 4 and key not in found and not self.is_public(term):
                found[key] = Term(kind, term, key)

        for match in _ID.finditer(text):
            add("internal identifier", match.group(0))
        for pair in _CAP_PAIR.finditer(text):
            first, second = pair.group(1), pair.group(2)
            if self._distinctive(first) or self._distinctive(second):
                add("internal name", f"{first} {second}")
        for word in re.finditer(_MID_SENTENCE + _CAP_WORD.pattern, text):
            if not any(c.isdigit() for c in word.group(1)) and self._distinctive(word.group(1)):
                add("internal name", word.group(1))
        return list(found.values())


    def record_name(self, value: str) -> Term | None:
        """The key of a non-public record (a person in the organisation chart, a vendor) as a term,
        unless it is a number or date, one common English word, or occurs in public documents."""
        value = value.strip()
        if re.fullmatch(r"[\d\s\-./:]*", value) or term_length(value) < 4 or self.is_public(value):
            return None
        words = value.split()
        if len(words) == 1 and (value.lower() in english_words() or value.lower() in public_names()):
            return None
        return Term("internal record", value, squash(value))


def mine_vocabulary(
    documents: Iterable[tuple[str, str]], corpus: Corpus | None = None, records: Iterable[tuple[str, str]] = ()
) -> tuple[Corpus, list[Term]]:
    """Mine sensitive terms from ``(text, classification)`` pairs, plus the keys of records in
    tables and JSON files (``(key, classification)``: names in the organisation chart, vendors);
    returns the corpus (for later documents) and the terms, each once."""
    docs = list(documents)
    corpus = corpus or Corpus()
    for text, classification in docs:
        corpus.note_words(text)
        if classification == "public":
            corpus.add_public(text)
    terms: dict[str, Term] = {}
    for key, classification in records:
        if classification != "public" and (term := corpus.record_name(key)) is not None:
            terms.setdefault(term.key, term)
    for text, classification in docs:
        if classification != "public":
            for term in corpus.candidates(text):
                terms.setdefault(term.key, term)
    return corpus, list(terms.values())
