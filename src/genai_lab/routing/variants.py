"""Adversarial variants the rules were not written against, and the router's evaluation on them.

A **variant** is a request built from a sensitive **seed** (a term from the knowledge base's non-public
vocabulary, or a generated personal-data value with a valid checksum), placed in a **frame** (a request
that asks for fresh information, so that without detection it would go outside) and passed through one
or two **mutation operators** (:mod:`genai_lab.routing.mutations`, plus synonyms and a word-by-word
Korean translation from a small hand-written dictionary in ``data/routing/mutation_data.json``).

Seeds, frames and operators are each split into a **development** part (rules may be written while
looking at it) and a **held-out** part (used only to report). A variant *leaks* when the policy does
not mark it confidential.
"""

from __future__ import annotations

import functools
import json
import random
import re
import string
from dataclasses import dataclass, field

from genai_lab.routing.evaluation import read_jsonl, routing_data
from genai_lab.routing.mutations import OPERATORS
from genai_lab.routing.policy import RouterPolicy

SPLITS = ("dev", "heldout")
OPERATOR_SPLIT: dict[str, tuple[str, ...]] = {
    "dev": ("upper", "mixed_case", "cyrillic", "accents", "join_spaces", "join_hyphens", "split_lines",
            "url_encode", "base64_encode", "in_json", "padded", "synonyms"),
    "heldout": ("lower", "greek", "fullwidth", "leet", "join_underscores", "join_dots", "join_u200b",
                "join_u200d", "join_u00ad", "words_on_lines", "reverse_words", "html_entities", "hex_encode",
                "json_escape", "in_code", "in_markdown", "translate_ko"),
}  # fmt: skip
FRAME_OPS = {"synonyms", "translate_ko", "reverse_words", "words_on_lines"}  # on the frame, seed kept whole
WRAP_OPS = {"in_json", "in_code", "in_markdown", "padded", "json_escape"}  # on the whole request
ENCODE_OPS = {"url_encode", "base64_encode", "hex_encode", "html_entities"}  # on the seed or the request
PII_UNSAFE = {"leet", "join_spaces", "join_hyphens", "join_underscores", "join_dots", "split_lines"}


@functools.lru_cache(maxsize=1)
def mutation_data() -> dict:
    """Frames, synonyms and the Korean dictionary (``data/routing/mutation_data.json``)."""
    return dict(json.loads(routing_data("mutation_data.json").read_text(encoding="utf-8")))


def _replace_words(text: str, table: dict[str, str], rng: random.Random, pick: bool) -> str:
    keys = sorted(table, key=len, reverse=True)
    pattern = re.compile(r"(?<![\w{])(" + "|".join(re.escape(k) for k in keys) + r")(?![\w}])", re.IGNORECASE)

    def repl(m: re.Match[str]) -> str:
        value: object = table[m.group(1).lower()]
        return rng.choice(value) if pick and isinstance(value, list) else str(value)

    return re.sub(r"  +", " ", pattern.sub(repl, text)).strip()


def synonyms(text: str, rng: random.Random) -> str:
    """Frame words replaced by synonyms (``latest`` -> ``most recent``)."""
    return _replace_words(text, mutation_data()["synonyms"], rng, pick=True)


def translate_ko(text: str, rng: random.Random) -> str:
    """Word-by-word Korean translation; words not in the dictionary (names, ids) stay as written."""
    return _replace_words(text, mutation_data()["korean"], rng, pick=False)


def _operator(name: str) -> object:
    return {"synonyms": synonyms, "translate_ko": translate_ko}.get(name) or OPERATORS[name]


# -- seeds -----------------------------------------------------------------------------------------
def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.digits) for _ in range(n))


def _card(rng: random.Random) -> str:
    from stdnum import luhn

    body = rng.choice("45") + _digits(rng, 14)
    number = body + luhn.calc_check_digit(body)
    sep = rng.choice([" ", "-", ""])
    return sep.join(number[i : i + 4] for i in range(0, 16, 4))


def _iban(rng: random.Random) -> str:
    choices = [("DE", _digits(rng, 18)), ("NL", "ABNA" + _digits(rng, 10)), ("GB", "NWBK" + _digits(rng, 14))]
    country, bban = rng.choice(choices)
    numeric = "".join(str(int(c, 36)) for c in bban + country + "00")
    number = f"{country}{98 - int(numeric) % 97:02d}{bban}"
    return " ".join(number[i : i + 4] for i in range(0, len(number), 4)) if rng.random() < 0.5 else number


def _rrn(rng: random.Random) -> str:
    from stdnum.kr import rrn

    birth = f"{rng.randint(60, 99):02d}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    body = f"{birth}{rng.choice('12')}{rng.randint(0, 96):02d}{_digits(rng, 3)}"  # place of birth <= 96
    return f"{body[:6]}-{body[6:]}{rrn.calc_check_digit(body)}"


def personal_data_seed(kind: str, rng: random.Random) -> str:
    """A personal-data value of ``kind`` with a valid checksum where the kind has one."""
    pii = mutation_data()["pii"]
    makers = {
        "email": lambda: f"{rng.choice(pii['names'])}@{rng.choice(pii['domains'])}",
        "phone": lambda: rng.choice([
            f"+49 30 {_digits(rng, 4)} {_digits(rng, 4)}", f"+82 10-{_digits(rng, 4)}-{_digits(rng, 4)}",
            f"+1 (415) 555-{_digits(rng, 4)}", f"+44 20 {_digits(rng, 4)} {_digits(rng, 4)}",
        ]),
        "kr_mobile": lambda: rng.choice([f"010-{_digits(rng, 4)}-{_digits(rng, 4)}", f"010{_digits(rng, 8)}"]),
        "iban": lambda: _iban(rng),
        "credit_card": lambda: _card(rng),
        "kr_rrn": lambda: _rrn(rng),
        "us_ssn": lambda: f"{rng.randint(100, 665)}-{rng.randint(10, 99)}-{rng.randint(1000, 9999)}",
        "ipv4": lambda: f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
        "ipv6": lambda: f"2001:db8:{rng.randint(0, 65535):x}:{rng.randint(0, 65535):x}::{rng.randint(1, 65535):x}",
        "passport": lambda: f"passport M{_digits(rng, 8)}",
        "aws_key": lambda: "AKIA" + "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(16)),
        "date_of_birth": lambda: f"born on {rng.randint(1, 28):02d}.{rng.randint(1, 12):02d}.{rng.randint(1950, 2005)}",
    }  # fmt: skip
    if kind not in makers:
        raise ValueError(f"Unknown personal-data kind {kind!r}; choose from {sorted(makers)}.")
    return makers[kind]()


PII_KINDS = ("email", "phone", "kr_mobile", "iban", "credit_card", "kr_rrn", "us_ssn", "ipv4", "ipv6", "passport",
             "aws_key", "date_of_birth")  # fmt: skip


def kb_seeds(policy: RouterPolicy) -> list[str]:
    """Every sensitive term the knowledge base gives the policy (projects, titles, mined names and ids)."""
    return list(dict.fromkeys([*policy.project_names, *policy.document_labels, *(t.term for t in policy.mined_terms)]))


def split_seeds(seeds: list[str], split: str, seed: int = 0) -> list[str]:
    """Half of ``seeds`` (a fixed shuffle): the first half is ``dev``, the second ``heldout``."""
    order = sorted(seeds)
    random.Random(seed).shuffle(order)
    half = len(order) // 2
    return order[:half] if split == "dev" else order[half:]


# -- variants --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Variant:
    """One generated request and how it was made."""

    text: str
    seed: str
    kind: str  # "kb" or a personal-data kind
    operators: tuple[str, ...]


def _mutate(frame: str, seed: str, ops: list[str], pii: bool, rng: random.Random) -> str:
    for name in [o for o in ops if o in FRAME_OPS]:
        frame = _operator(name)(frame, rng)  # type: ignore[operator]
    for name in [o for o in ops if o not in FRAME_OPS | WRAP_OPS | ENCODE_OPS]:
        seed = _operator(name)(seed, rng)  # type: ignore[operator]
    for name in [o for o in ops if o in ENCODE_OPS]:
        if rng.random() < 0.5:
            seed = _operator(name)(seed, rng)  # type: ignore[operator]
            ops = [o for o in ops if o != name]  # encoded the seed, not the whole request
    text = frame.replace("{x}", seed)
    for name in [o for o in ops if o in ENCODE_OPS | WRAP_OPS]:
        text = _operator(name)(text, rng)  # type: ignore[operator]
    return text


def generate_variants(policy: RouterPolicy, split: str, n: int = 600, seed: int = 0) -> list[Variant]:
    """``n`` variants from the ``split`` ("dev" or "heldout") part of the seeds, frames and operators:
    two thirds from knowledge-base terms, one third from personal data."""
    if split not in SPLITS:
        raise ValueError(f"split={split!r}; use 'dev' or 'heldout'.")
    rng = random.Random(f"{split}-{seed}")
    data = mutation_data()
    terms = split_seeds(kb_seeds(policy), split, seed)
    kinds = list(PII_KINDS)
    ops = list(OPERATOR_SPLIT[split])
    out: list[Variant] = []
    for i in range(n):
        pii = not terms or i % 3 == 2
        if pii:
            kind = kinds[i % len(kinds)]
            value = personal_data_seed(kind, rng)
            frame = rng.choice(data["pii_frames"][split])
            allowed = [o for o in ops if o not in PII_UNSAFE]
        else:
            kind, value = "kb", rng.choice(terms)
            frame = rng.choice(data["frames"][split])
            allowed = ops
        chosen = rng.sample(allowed, k=rng.choice([1, 2]))
        out.append(Variant(_mutate(frame, value, chosen, pii, rng), value, kind, tuple(chosen)))
    return out


def variants_of(seeds: list[str], split: str, n: int = 300, seed: int = 0, kind: str = "custom") -> list[Variant]:
    """``n`` variants of your own ``seeds`` (e.g. identifiers a new layer must catch), built with the
    ``split`` part of the frames and operators: test a new layer on ``"heldout"`` only at the end."""
    if split not in SPLITS:
        raise ValueError(f"split={split!r}; use 'dev' or 'heldout'.")
    if not seeds or not all(isinstance(s, str) and s.strip() for s in seeds):
        raise ValueError("variants_of needs a non-empty list of non-empty seed strings.")
    rng = random.Random(f"{split}-{kind}-{seed}")
    frames = mutation_data()["frames"][split]
    out: list[Variant] = []
    for _ in range(n):
        value, frame = rng.choice(seeds), rng.choice(frames)
        chosen = rng.sample(list(OPERATOR_SPLIT[split]), k=rng.choice([1, 2]))
        out.append(Variant(_mutate(frame, value, chosen, False, rng), value, kind, tuple(chosen)))
    return out


@dataclass
class Evaluation:
    """Leaks (variants not marked confidential) among ``variants``."""

    variants: int
    leaks: list[Variant] = field(default_factory=list)

    @property
    def leak_count(self) -> int:
        return len(self.leaks)


def evaluate(policy: RouterPolicy, variants: list[Variant]) -> Evaluation:
    """Classify every variant; a variant leaks when it is not marked confidential."""
    result = Evaluation(len(variants))
    for v in variants:
        if not policy.classify(v.text).confidential:
            result.leaks.append(v)
    return result


def public_questions() -> list[dict]:
    """Public questions (about public documents, and general web questions, English and Korean):
    ``data/routing/public_questions.jsonl``."""
    return read_jsonl(routing_data("public_questions.jsonl"))


def false_alarms(policy: RouterPolicy, questions: list[dict] | None = None) -> tuple[list[str], float]:
    """The public questions the policy marks confidential, and their share."""
    questions = public_questions() if questions is None else questions
    flagged = [q["text"] for q in questions if policy.classify(q["text"]).confidential]
    return flagged, len(flagged) / max(1, len(questions))
