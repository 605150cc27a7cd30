"""Mutation operators: the tricks people (and prompt injections) use to slip text past filters.

Each operator takes a text and a ``random.Random`` and returns a variant that *means* the same to a
reader. They build the course's adversarial suite (:func:`genai_lab.routing.evaluation.adversarial_suite`)
and the generated variants the router is evaluated on (:mod:`genai_lab.routing.evaluation`).
"""

from __future__ import annotations

import base64
import html
import json
import random
from collections.abc import Callable

Operator = Callable[[str, random.Random], str]

_CYRILLIC = str.maketrans({"a": "а", "e": "е", "o": "о", "c": "с", "p": "р", "x": "х", "y": "у", "i": "і"})
_GREEK = str.maketrans({"o": "ο", "a": "α", "i": "ι", "k": "κ", "v": "ν", "t": "τ"})
_LEET = str.maketrans({"o": "0", "i": "1", "e": "3", "a": "4", "s": "5", "t": "7"})
PADDING = "Please summarise the general history of bread baking. "


def upper(text: str, rng: random.Random) -> str:
    return text.upper()


def lower(text: str, rng: random.Random) -> str:
    return text.lower()


def mixed_case(text: str, rng: random.Random) -> str:
    return "".join(c.upper() if rng.random() < 0.5 else c.lower() for c in text)


def cyrillic(text: str, rng: random.Random) -> str:
    return text.translate(_CYRILLIC)


def greek(text: str, rng: random.Random) -> str:
    return text.translate(_GREEK)


def fullwidth(text: str, rng: random.Random) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def leet(text: str, rng: random.Random) -> str:
    return text.translate(_LEET)


def accents(text: str, rng: random.Random) -> str:
    return "".join(c + "\u0301" if c.isalpha() and rng.random() < 0.4 else c for c in text)


def _join(sep: str) -> Operator:
    def op(text: str, rng: random.Random) -> str:
        return sep.join(text)

    names = {" ": "spaces", "-": "hyphens", "_": "underscores", ".": "dots"}
    op.__name__ = "join_" + names.get(sep, f"u{ord(sep):04x}")
    return op


spaced = _join(" ")
hyphenated = _join("-")
underscored = _join("_")
dotted = _join(".")
zero_width = _join("\u200b")
zero_width_joiner = _join("\u200d")
soft_hyphens = _join("\u00ad")


def split_lines(text: str, rng: random.Random) -> str:
    cut = max(1, len(text) // 2)
    return text[:cut] + "\n" + text[cut:]


def words_on_lines(text: str, rng: random.Random) -> str:
    return text.replace(" ", "\n")


def reverse_words(text: str, rng: random.Random) -> str:
    return " ".join(reversed(text.split(" ")))


def url_encode(text: str, rng: random.Random) -> str:
    return "".join(f"%{b:02X}" for b in text.encode("utf-8"))


def html_entities(text: str, rng: random.Random) -> str:
    return "".join(f"&#{ord(c)};" if c.isalnum() else html.escape(c) for c in text)


def base64_encode(text: str, rng: random.Random) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def hex_encode(text: str, rng: random.Random) -> str:
    return text.encode("utf-8").hex()


def json_escape(text: str, rng: random.Random) -> str:
    if not text:
        return text
    return json.dumps({"note": text}, ensure_ascii=False).replace(text[0], f"\\u{ord(text[0]):04x}", 1)


def in_json(text: str, rng: random.Random) -> str:
    return json.dumps({"task": "answer", "context": {"text": text}}, ensure_ascii=rng.random() < 0.5)


def in_code(text: str, rng: random.Random) -> str:
    return f'```python\nnote = """{text}"""\nprint(summarise(note))\n```'


def in_markdown(text: str, rng: random.Random) -> str:
    return f"| field | value |\n|---|---|\n| note | **{text}** |"


def padded(text: str, rng: random.Random) -> str:
    before = PADDING * rng.randint(5, 60)
    return before + text + " " + PADDING * rng.randint(0, 20)


OPERATORS: dict[str, Operator] = {
    op.__name__: op
    for op in (
        upper, lower, mixed_case, cyrillic, greek, fullwidth, leet, accents, spaced, hyphenated,
        underscored, dotted, zero_width, zero_width_joiner, soft_hyphens, split_lines, words_on_lines,
        reverse_words, url_encode, html_entities, base64_encode, hex_encode, json_escape, in_json,
        in_code, in_markdown, padded,
    )
}  # fmt: skip


def apply(name: str, text: str, rng: random.Random | None = None) -> str:
    """Apply the operator called ``name`` (see :data:`OPERATORS`)."""
    try:
        op = OPERATORS[name]
    except KeyError:
        raise ValueError(f"Unknown mutation operator {name!r}; choose from {sorted(OPERATORS)}.") from None
    return op(text, rng or random.Random(0))
