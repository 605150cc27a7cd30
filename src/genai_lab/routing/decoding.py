"""Layer 1 of the router: undo encodings and look-alike tricks *before* any rule looks at the text.

A request is checked in several **views**; a rule fires when it matches in any of them:

- the text as written;
- every key and string value, when the text parses as JSON;
- URL-decoded (``%63onfidential``, ``+`` for spaces), up to three rounds;
- HTML entities undone (``&#99;onfidential``, ``&amp;``), up to two rounds;
- every base64 or hex run that decodes to readable UTF-8 text (``Y29uZmlkZW50aWFs``);
- ``\\xNN`` escapes undone.

Decoded views are themselves decoded once more (base64 of a URL-encoded string, ...), with a cap
on how many views one request may produce.

Each view is then **normalised** (:func:`normalize`): JSON ``\\uXXXX`` escapes undone, invisible
characters (zero-width, soft hyphen, bidi controls) removed, Unicode NFKC (full-width letters,
ligatures), accents removed, every letter that looks like a Latin letter or digit replaced by it
(Unicode's confusables list via ``confusable_homoglyphs``: Cyrillic ``о``, Greek ``ο``, Cherokee,
mathematical letters, ...), and case folding. Hangul survives all of it (compatibility jamo even
recompose into syllables: ``ㄷㅐㅇㅚㅂㅣ`` becomes ``대외비``).

Every regular expression here runs in linear time (bounded repeats, no nested ambiguity).
"""

from __future__ import annotations

import base64
import binascii
import functools
import html
import json
import re
import unicodedata
import urllib.parse
from typing import Any

MAX_VIEWS = 24  # decoded views per request, all rounds together
_INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff]"
)
_JSON_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")
_HEX_ESCAPE = re.compile(r"\\x([0-9a-fA-F]{2})")
LEET = str.maketrans(
    {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i", "|": "i", "l": "i"}
)
_NOT_WORD = re.compile(r"[\W_]+")
_BASE64_RUN = re.compile(r"(?<![A-Za-z0-9+/=_\-])[A-Za-z0-9+/_\-]{6,}={0,2}")
_HEX_RUN = re.compile(
    r"(?<![0-9a-zA-Z])(?:(?:[0-9a-fA-F]{2}){3,}|[0-9a-fA-F]{2}(?:[ :][0-9a-fA-F]{2}){2,})(?![0-9a-zA-Z])"
)
_KEEP_SCRIPTS = ("HANGUL", "CJK", "HIRAGANA", "KATAKANA")
# Look-alikes Unicode's list leads only to other non-ASCII letters (Greek kappa -> Latin kra).
_EXTRA_LOOKALIKES = {
    "κ": "k", "ĸ": "k", "ϰ": "k", "ε": "e", "ё": "e", "η": "n", "β": "b", "χ": "x", "ω": "w", "ς": "s", "ї": "i",
}  # fmt: skip


_LATIN_NAME = re.compile(r"LATIN (?:SMALL |CAPITAL )?LETTER (?:SMALL CAPITAL |DOTLESS |SCRIPT )?([A-Z])$")


def _ascii_for(char: str, data: dict[str, list[dict[str, str]]], depth: int = 0) -> str | None:
    """The ASCII letter or digit ``char`` imitates: directly in Unicode's confusables list, through a
    chain of look-alikes (``τ`` -> ``ᴛ`` (small capital T) -> ``t``), or by its Unicode name."""
    if char.isascii():
        return char if char.isalnum() else None
    match = _LATIN_NAME.match(unicodedata.name(char, ""))
    if match:
        return match.group(1).lower()
    if depth >= 3:
        return None
    targets = [g["c"] for g in data.get(char, []) if len(g["c"]) == 1]
    found = [a for a in (_ascii_for(t, data, depth + 1) for t in targets) if a]
    letters = [a for a in found if a.isalpha()] or found
    return letters[0] if letters else None


@functools.lru_cache(maxsize=1)
def _confusables_table() -> dict[int, str]:
    """Every non-ASCII character that Unicode lists as confusable with an ASCII letter or digit,
    mapped to it (Hangul and CJK characters are left alone)."""
    from confusable_homoglyphs import confusables

    data = confusables.confusables_data
    table: dict[int, str] = {}
    for char in data:
        if len(char) != 1 or char.isascii() or unicodedata.name(char, "").startswith(_KEEP_SCRIPTS):
            continue
        target = _ascii_for(char, data)
        if target:
            table[ord(char)] = target
    for char, target in _EXTRA_LOOKALIKES.items():
        table.setdefault(ord(char), target)
    return table


def skeleton(text: str) -> str:
    """``text`` with look-alike letters replaced by the ASCII letters they imitate."""
    return text.translate(_confusables_table())


def normalize(text: str) -> str:
    """Case-folded text with escapes, invisible characters, accents and look-alikes undone.

    Spaces and punctuation are kept (personal-data patterns need them); Hangul is kept."""
    if "\\u" in text:
        text = _JSON_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)
    if text.isascii():  # nothing below changes ASCII but the case
        return text.casefold()
    text = _INVISIBLE.sub("", text)
    text = skeleton(unicodedata.normalize("NFKC", text))
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if c.isascii() or not unicodedata.combining(c))
    return skeleton(unicodedata.normalize("NFKC", text)).casefold()


def squash(text: str) -> str:
    """:func:`normalize`, then spaces, punctuation and underscores removed (letters of every script
    and digits kept): ``"Pro-ject\\nAurora"`` becomes ``"projectaurora"``, ``"사내 한정"`` ``"사내한정"``."""
    return _NOT_WORD.sub("", normalize(text))


def squash_leet(text: str) -> str:
    """:func:`squash` with digits read as letters first (``c0nf1d3nt1al``), and ``l``, ``1``, ``|``
    and ``I`` all read as ``i`` (Unicode's skeletons map Cyrillic ``І`` to ``l``)."""
    return _NOT_WORD.sub("", normalize(text).translate(LEET))


def json_strings(text: str) -> str:
    """All keys and string values of ``text`` if it parses as JSON (else ''), one per line."""
    stripped = text.strip()
    if not stripped or stripped[0] not in "[{\"":
        return ""
    try:
        data = json.loads(stripped)
    except (ValueError, RecursionError):
        return ""
    out: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                out.append(str(k))
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
        elif node is not None:
            out.append(str(node))

    walk(data)
    return "\n".join(out)


def _readable(data: bytes) -> str | None:
    """``data`` as text when it is UTF-8 and mostly printable (a real decoding, not noise)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if len(text) < 3:
        return None
    printable = sum(1 for c in text if c.isprintable() or c in "\n\t" or unicodedata.category(c) == "Cf")
    alnum = sum(1 for c in text if c.isalnum())
    return text if printable >= 0.9 * len(text) and alnum >= 0.3 * len(text) else None


def _base64_texts(text: str) -> list[str]:
    out: list[str] = []
    for match in _BASE64_RUN.finditer(text):
        run = match.group(0).rstrip("=")
        if len(run) < 8 and not match.group(0).endswith("="):
            continue  # too short to be base64 of anything but padding-free noise
        if not (match.group(0).endswith("=") or len(run) >= 16 or re.search(r"\d|.[A-Z]", run)):
            continue  # an ordinary word, not base64
        padded = run + "=" * (-len(run) % 4)
        for decode in (base64.b64decode, base64.urlsafe_b64decode):
            try:
                decoded = _readable(decode(padded))
            except (binascii.Error, ValueError):
                continue
            if decoded:
                out.append(decoded)
                break
    return out


def _hex_texts(text: str) -> list[str]:
    out: list[str] = []
    for match in _HEX_RUN.finditer(text):
        digits = re.sub(r"[ :]", "", match.group(0))
        decoded = _readable(bytes.fromhex(digits))
        if decoded:
            out.append(decoded)
    return out


def _decodings(text: str) -> list[str]:
    """Texts one decoding step away from ``text`` (not normalised)."""
    out: list[str] = []
    if extra := json_strings(text):
        out.append(extra)
    if "%" in text:
        unquoted = text
        for _ in range(3):
            step = urllib.parse.unquote_plus(unquoted)
            if step == unquoted:
                break
            unquoted = step
        if unquoted != text:
            out.append(unquoted)
    if "&" in text:
        unescaped = html.unescape(html.unescape(text))
        if unescaped != text:
            out.append(unescaped)
    if "\\x" in text:
        out.append(_HEX_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text))
    out.extend(_base64_texts(text))
    out.extend(_hex_texts(text))
    return out


def views(text: str, rounds: int = 2) -> list[str]:
    """``text`` and every decoding of it (see the module docstring), de-duplicated, at most
    :data:`MAX_VIEWS`. Views are not normalised; rules normalise them."""
    if not isinstance(text, str):
        raise TypeError(f"The router classifies text, not {type(text).__name__}; pass a string.")
    seen = [text]
    frontier = [text]
    for _ in range(rounds):
        nxt: list[str] = []
        for view in frontier:
            for decoded in _decodings(view):
                if decoded not in seen and len(seen) < MAX_VIEWS:
                    seen.append(decoded)
                    nxt.append(decoded)
        frontier = nxt
    return seen
