"""Layer 2 of the router: personal data, found by pattern and confirmed by checksum where one exists.

Patterns run on normalised text (:func:`genai_lab.routing.decoding.normalize`). Candidates that
carry a check digit are validated with python-stdnum, so that random digit runs do not fire:
payment cards (Luhn, ``stdnum.luhn``), IBANs (mod 97, ``stdnum.iban``), Korean resident registration
numbers (``stdnum.kr.rrn``) and business registration numbers (``stdnum.kr.brn``). Phone numbers,
international or national (Korean mobile ``010-1234-5678`` included), are checked for a plausible
number of digits; IPv6 addresses with :mod:`ipaddress`.

Every pattern runs in linear time: each repeat is bounded and each match may only start at a token
boundary (a negative look-behind), so no input makes the engine backtrack quadratically; the unit
tests time the worst inputs we know.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterator

from genai_lab.routing.decoding import normalize


def _digits(value: str) -> str:
    return re.sub(r"\D", "", value)


def _luhn(value: str) -> bool:
    from stdnum import luhn

    digits = _digits(value)
    return 13 <= len(digits) <= 19 and luhn.is_valid(digits)


def _iban(value: str) -> bool:
    from stdnum import iban

    return bool(iban.is_valid(value.upper()))


def _kr_rrn(value: str) -> bool:
    from stdnum.kr import rrn

    return bool(rrn.is_valid(_digits(value)))


def _kr_brn(value: str) -> bool:
    from stdnum.kr import brn

    return bool(brn.is_valid(_digits(value)))


def _phone(value: str) -> bool:
    return 8 <= len(_digits(value)) <= 15


def _ipv6(value: str) -> bool:
    try:
        ipaddress.IPv6Address(value)
    except ValueError:
        return False
    return value.count(":") >= 2 and value != "::"


PII_PATTERNS: dict[str, re.Pattern[str]] = {
    "email": re.compile(
        r"(?<![a-z0-9._%+\-])[a-z0-9._%+\-]{1,64}\s{0,3}(?:@|\(at\)|\[at\]|\sat\s)\s{0,3}[a-z0-9\-]{1,63}"
        r"(?:\s{0,3}(?:\.|\(dot\)|\[dot\]|\sdot\s)\s{0,3}[a-z0-9\-]{1,63}){1,4}"
    ),
    "phone": re.compile(
        r"(?<![\w+])(?:\+|00)\d[\d\s\-./()]{6,22}\d(?!\d)"  # international: +49 30 1234 5678, +82 10-...
        r"|(?<![\w.+])\(?0\d{1,4}\)?[\s\-/.]{0,2}\d{3,4}[\s\-.]{0,2}\d{4}(?!\d)"  # national: 010-1234-5678
    ),
    "iban": re.compile(r"(?<![a-z0-9])[a-z]{2}\d{2}(?:\s?[a-z0-9]{4}){2,7}(?:\s?[a-z0-9]{1,4})?(?![a-z0-9])"),
    "credit_card": re.compile(r"(?<![\d\-])(?:\d[\s\-]?){12,18}\d(?!\d)"),
    "us_ssn": re.compile(r"(?<!\d)\d{3}[\s\-]\d{2}[\s\-]\d{4}(?!\d)"),
    "kr_rrn": re.compile(r"(?<!\d)\d{6}\s?-?\s?\d{7}(?!\d)"),
    "kr_brn": re.compile(r"(?<!\d)\d{3}[\s\-]\d{2}[\s\-]\d{5}(?!\d)"),
    "ipv4": re.compile(r"(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)(?![\d.])"),
    "ipv6": re.compile(r"(?<![0-9a-f:])[0-9a-f:]{2,39}(?![0-9a-f:])"),
    "passport": re.compile(
        r"(?:passport|reisepass|여권)(?:\s{0,3}(?:no|number|num|nr|번호))?\W{0,5}[a-z]{0,2}\d{7,9}(?!\d)"
        r"|(?<![\w])[a-z]\d{8}(?![\w])"
    ),
    "date_of_birth": re.compile(
        r"\b(?:born|dob|date of birth|birthday|geburtsdatum|geboren|생년월일|생일)\b\W{0,5}(?:on\W{0,3})?"
        r"\d{1,4}[./\-년]\s?\d{1,2}[./\-월]\s?\d{1,4}"
    ),
}

VALIDATORS: dict[str, Callable[[str], bool]] = {
    "credit_card": _luhn,
    "iban": _iban,
    "kr_rrn": _kr_rrn,
    "kr_brn": _kr_brn,
    "phone": _phone,
    "ipv6": _ipv6,
}


_HAS_DIGIT = re.compile(r"\d")
# Cheap tests that must hold for a pattern to match at all; a pattern whose test fails is not run.
GATES: dict[str, Callable[[str, bool], bool]] = {
    "email": lambda t, d: "@" in t or "at" in t,
    "ipv6": lambda t, d: d and "::" in t or t.count(":") >= 7,
}


def _matches(norm: str) -> Iterator[tuple[str, re.Match[str]]]:
    digits = bool(_HAS_DIGIT.search(norm))
    for kind, pattern in PII_PATTERNS.items():
        gate = GATES.get(kind)
        if (gate is not None and not gate(norm, digits)) or (kind != "email" and not digits):
            continue
        check = VALIDATORS.get(kind)
        for match in pattern.finditer(norm):
            if check is None or check(match.group(0).strip()):
                yield kind, match


def find_personal_data(text: str, normalised: bool = False) -> list[tuple[str, str]]:
    """(kind, match) for every personal-data pattern found in ``text`` (normalised first unless
    ``normalised`` says it already is)."""
    return [(kind, m.group(0).strip()) for kind, m in _matches(text if normalised else normalize(text))]


def redact_personal_data(text: str) -> str:
    """``text`` normalised, with each personal-data match replaced by ``[KIND]``."""
    out = normalize(text)
    spans = sorted(((m.start(), m.end(), kind) for kind, m in _matches(out)), key=lambda s: (s[0], -s[1]))
    pieces: list[str] = []
    end = 0
    for start, stop, kind in spans:
        if start < end:  # overlaps a match already replaced
            continue
        pieces.append(out[end:start] + f"[{kind.upper()}]")
        end = stop
    return "".join(pieces) + out[end:]
