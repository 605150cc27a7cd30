"""Multi-LLM routing that keeps internal data internal.

Two OpenAI-compatible endpoints, set by configuration (:class:`RouterConfig`):

- **internal**: a model we run ourselves (here a local vLLM server); it may see anything;
- **external**: a hosted model (or, offline, a second local vLLM server playing that role); it may
  see only requests the policy clears.

:class:`RouterPolicy` classifies each request with rules a person can read and audit. A request is
**confidential** when its text contains

1. personal data (e-mail addresses, phone numbers, IBANs, card numbers that pass the Luhn check,
   US social-security numbers, IPv4 addresses, dates of birth);
2. an internal project name or the title of an internal or confidential document, both read from the
   company knowledge base's manifest (:meth:`RouterPolicy.from_knowledge_base`);
3. an explicit marker ("confidential", "internal only", "do not share", ...).

Confidential requests go to the internal endpoint, always. Other requests go to the external
endpoint only when they ask for fresh or web information ("latest", "today", "search the web", ...);
everything else stays internal as well (the safe default). Requests bound for the external endpoint
can be redacted (:meth:`RouterPolicy.redact`) as a second line of defence.

Text is normalised before matching, so that tricks do not slip through: Unicode NFKC (full-width
letters, ligatures), removal of accents, zero-width characters and soft hyphens, a map of Cyrillic and
Greek look-alike letters, case folding, digits written as letters (``c0nf1dent1al``), JSON string
escapes, and, for names and markers, all spaces and punctuation removed (markers split across lines
or spelled ``c-o-n-f-i-d-e-n-t-i-a-l``). Matching errs on the side of *confidential*: a false alarm
costs a slightly weaker answer, a miss leaks data.

Every decision is appended to a JSON Lines audit log: the time, the route, the reasons, and a
SHA-256 of the text (never the text itself, which may be confidential).

If the internal endpoint is down, a confidential request **fails closed**: the router raises
:class:`ConfidentialRouteError` and never reroutes it outside.

The same routing is available in LCEL (:func:`lcel_router`), as a ``RunnableBranch``.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import re
import threading
import unicodedata
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

INTERNAL = "internal"
EXTERNAL = "external"
KB_MANIFEST_ENV = "GENAI_LAB_KB_MANIFEST"  # overrides data/kb/manifest.json


class ConfidentialRouteError(RuntimeError):
    """A request that must stay internal could not be served internally. It was not sent elsewhere."""


class KnowledgeBaseMissing(FileNotFoundError):
    """The knowledge-base manifest the policy reads its names from is missing."""


# ------------------------------------------------------------------------------------------------
# Normalisation
# ------------------------------------------------------------------------------------------------
# Letters from other scripts that look like Latin ones (a subset of Unicode's confusables list that
# covers Cyrillic and Greek, the usual tricks).
_CONFUSABLES = str.maketrans(
    {
        "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p",
        "с": "c", "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ї": "i", "ј": "j", "ԁ": "d",
        "ɡ": "g", "һ": "h", "ӏ": "l", "ԛ": "q", "ԝ": "w", "ʏ": "y", "ɑ": "a", "ı": "i",
        "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C",
        "Т": "T", "У": "Y", "Х": "X", "Ѕ": "S", "І": "I", "Ј": "J",
        "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p",
        "τ": "t", "υ": "u", "χ": "x", "ω": "w", "ς": "s",
        "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N",
        "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X",
    }
)  # fmt: skip
_INVISIBLE = re.compile("[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff]")
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i", "|": "l"})
_JSON_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")
_NOT_ALNUM = re.compile(r"[^0-9a-z]+")


def normalize(text: str) -> str:
    """Case-folded text with look-alikes, accents, invisible characters and escapes undone.

    Spaces and punctuation are kept (personal-data patterns need them)."""
    text = _JSON_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)
    text = _INVISIBLE.sub("", text)
    text = unicodedata.normalize("NFKC", text).translate(_CONFUSABLES)
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return unicodedata.normalize("NFKC", text).translate(_CONFUSABLES).casefold()


def squash(text: str) -> str:
    """:func:`normalize`, then everything but letters and digits removed: ``"Pro-ject\\nAurora"``
    becomes ``"projectaurora"``."""
    return _NOT_ALNUM.sub("", normalize(text))


def _squash_leet(text: str) -> str:
    return _NOT_ALNUM.sub("", normalize(text).translate(_LEET))


# ------------------------------------------------------------------------------------------------
# Personal data
# ------------------------------------------------------------------------------------------------
def _luhn_ok(digits: str) -> bool:
    total, parity = 0, len(digits) % 2
    for i, ch in enumerate(digits):
        d = int(ch)
        if i % 2 == parity:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


PII_PATTERNS: dict[str, re.Pattern[str]] = {
    "email": re.compile(r"[a-z0-9._%+\-]+\s*(?:@|\(at\)|\[at\]|\sat\s)\s*[a-z0-9\-]+(?:\s*(?:\.|\(dot\)|\[dot\]|\sdot\s)\s*[a-z0-9\-]+)+"),
    "phone": re.compile(r"(?<![\w])(?:\+|00)\d{1,3}[\s\-./]*(?:\(?\d{1,5}\)?[\s\-./]*){2,6}\d{2,}|(?<![\w.])\(?0\d{2,5}\)?[\s\-/]*\d{3,}[\s\-]*\d{2,}(?![\w])"),
    "iban": re.compile(r"\b[a-z]{2}\d{2}(?:\s?[a-z0-9]{4}){2,7}(?:\s?[a-z0-9]{1,4})?\b"),
    "credit_card": re.compile(r"(?<!\d)(?:\d[\s\-]?){12,18}\d(?!\d)"),
    "us_ssn": re.compile(r"(?<!\d)\d{3}[\s\-]\d{2}[\s\-]\d{4}(?!\d)"),
    "ipv4": re.compile(r"(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)(?![\d.])"),
    "date_of_birth": re.compile(r"\b(?:born|dob|date of birth|birthday|geburtsdatum|geboren)\b\W{0,5}(?:on\W{0,3})?\d{1,4}[./\-]\d{1,2}[./\-]\d{1,4}"),
}  # fmt: skip


def find_personal_data(text: str) -> list[tuple[str, str]]:
    """(kind, match) for every personal-data pattern found in ``text`` (already normalised or not)."""
    norm = normalize(text)
    found: list[tuple[str, str]] = []
    for kind, pattern in PII_PATTERNS.items():
        for match in pattern.finditer(norm):
            value = match.group(0).strip()
            if kind == "credit_card" and not _luhn_ok(re.sub(r"\D", "", value)):
                continue
            found.append((kind, value))
    return found


def _json_strings(text: str) -> str:
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


# ------------------------------------------------------------------------------------------------
# The policy
# ------------------------------------------------------------------------------------------------
DEFAULT_MARKERS = (
    "confidential", "internal only", "internal use only", "for internal use", "do not share",
    "do not forward", "not for external", "not for distribution", "strictly private", "classified",
    "proprietary", "under nda", "trade secret", "vertraulich", "nur intern", "streng geheim",
)  # fmt: skip

DEFAULT_FRESH_PATTERNS = (
    r"\blatest\b", r"\btoday\b", r"\btonight\b", r"\byesterday\b", r"\bthis (?:week|month|year)\b",
    r"\bcurrent(?:ly)?\b", r"\bright now\b", r"\brecent(?:ly)?\b", r"\bnews\b", r"\bbreaking\b",
    r"\bup[- ]to[- ]date\b", r"\bsearch (?:the )?(?:web|internet|online)\b", r"\bon the web\b",
    r"\bgoogle\b", r"\blook (?:it )?up online\b", r"\bweather\b", r"\bstock price\b",
    r"\bexchange rate\b", r"\bscore of\b", r"\bwho won\b", r"\b20[2-9]\d\b", r"\bhttps?://",
)  # fmt: skip


@dataclass(frozen=True)
class Decision:
    """The router's verdict on one request, with the reasons that produced it."""

    route: str  # "internal" or "external"
    confidential: bool
    reasons: tuple[str, ...]
    needs_fresh_info: bool = False

    def explain(self) -> str:
        why = "; ".join(self.reasons) if self.reasons else "no rule matched"
        kind = "confidential" if self.confidential else "not confidential"
        return f"{self.route} ({kind}): {why}"


@dataclass
class RouterPolicy:
    """The explainable routing rules. Build it from the knowledge base with
    :meth:`from_knowledge_base`; every list can be extended by hand."""

    project_names: list[str] = field(default_factory=list)
    document_labels: list[str] = field(default_factory=list)
    markers: list[str] = field(default_factory=lambda: list(DEFAULT_MARKERS))
    fresh_patterns: list[str] = field(default_factory=lambda: list(DEFAULT_FRESH_PATTERNS))
    personal_data: bool = True
    default_route: str = INTERNAL
    min_term_length: int = 4

    def __post_init__(self) -> None:
        if self.default_route not in (INTERNAL, EXTERNAL):
            raise ValueError(f"default_route={self.default_route!r}; use 'internal' or 'external'.")
        short = [t for t in [*self.project_names, *self.document_labels, *self.markers] if len(squash(t)) < self.min_term_length]
        if short:
            raise ValueError(
                f"Terms {short} are shorter than {self.min_term_length} letters once spaces are "
                "removed; they would match inside ordinary words. Use a longer form (e.g. 'Project X')."
            )
        self._fresh = [re.compile(p) for p in self.fresh_patterns]
        self._terms = [
            (kind, term, squash(term))
            for kind, terms in (
                ("internal project", self.project_names),
                ("internal document", self.document_labels),
                ("confidential marker", self.markers),
            )
            for term in terms
        ]

    @classmethod
    def from_knowledge_base(cls, manifest: str | Path | None = None, **kwargs: Any) -> RouterPolicy:
        """Read internal project names and the titles (and labels) of internal and confidential
        documents from the knowledge base's ``manifest.json`` (default ``data/kb/manifest.json``)."""
        if manifest is None:
            from genai_lab.paths import data_dir

            manifest = os.environ.get(KB_MANIFEST_ENV) or data_dir() / "kb" / "manifest.json"
        path = Path(manifest)
        if path.is_dir():
            path = path / "manifest.json"
        if not path.is_file():
            raise KnowledgeBaseMissing(
                f"Knowledge-base manifest not found: {path}. It is written with the company knowledge "
                "base (data/kb/, Part 3); pass the path of a manifest.json, or build the policy by "
                "hand with RouterPolicy(project_names=[...], document_labels=[...])."
            )
        data = json.loads(path.read_text(encoding="utf-8"))
        projects: list[str] = []
        for name in data.get("internal_projects", []):
            projects.append(str(name))
            # "Project Kestrel" is also talked about as plain "Kestrel".
            bare = re.sub(r"^(?:project|projekt|program|programme)\s+", "", str(name), flags=re.I)
            if bare != name:
                projects.append(bare)
        labels: list[str] = []
        for doc in data.get("documents", []):
            if str(doc.get("classification", "internal")).lower() == "public":
                continue
            for key in ("title", "label", "id"):
                if isinstance(doc.get(key), str) and doc[key].strip():
                    labels.append(doc[key].strip())
            for label in doc.get("labels", []) or []:
                labels.append(str(label))
        # Keep only the distinctive ones; dedupe, preserving order.
        labels = [t for t in dict.fromkeys(labels) if len(squash(t)) >= kwargs.get("min_term_length", 4)]
        return cls(project_names=list(dict.fromkeys(projects)), document_labels=labels, **kwargs)

    # -- rules -------------------------------------------------------------------------------------
    def classify(self, text: str) -> Decision:
        """Apply the rules to ``text`` and return the :class:`Decision` with its reasons."""
        if not isinstance(text, str):
            raise TypeError(f"The router classifies text, not {type(text).__name__}; pass a string.")
        views = [text]
        if extra := _json_strings(text):
            views.append(extra)
        reasons: list[str] = []
        if self.personal_data:
            for view in views:
                for kind, _ in find_personal_data(view):
                    reason = f"personal data: {kind}"
                    if reason not in reasons:
                        reasons.append(reason)
        squashed = "".join(squash(v) for v in views)
        leet = "".join(_squash_leet(v) for v in views)
        for kind, term, key in self._terms:
            if key and (key in squashed or key in leet):
                reasons.append(f"{kind}: {term}")
        confidential = bool(reasons)
        norm = normalize(text)
        fresh = [p.pattern for p in self._fresh if p.search(norm)]
        if confidential:
            route = INTERNAL
        elif fresh:
            route = EXTERNAL
            reasons.append(f"needs fresh/web information: {fresh[0]}")
        else:
            route = self.default_route
            reasons.append(f"default route: {route}" if text.strip() else f"empty input: {route}")
        return Decision(route, confidential, tuple(reasons), needs_fresh_info=bool(fresh))

    def redact(self, text: str) -> str:
        """``text`` with each personal-data match replaced by ``[KIND]`` (on the normalised text)."""
        out = normalize(text)
        for kind, pattern in PII_PATTERNS.items():
            def repl(m: re.Match[str], kind: str = kind) -> str:
                if kind == "credit_card" and not _luhn_ok(re.sub(r"\D", "", m.group(0))):
                    return m.group(0)
                return f"[{kind.upper()}]"

            out = pattern.sub(repl, out)
        return out


# ------------------------------------------------------------------------------------------------
# Endpoints and configuration
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Endpoint:
    """An OpenAI-compatible endpoint: base URL, model name and where its API key comes from."""

    name: str
    base_url: str
    model: str
    api_key_env: str | None = None  # e.g. "OPENAI_API_KEY" for a hosted API; None: no key ("EMPTY")

    def api_key(self) -> str:
        if self.api_key_env is None:
            return "EMPTY"
        key = os.environ.get(self.api_key_env)
        if not key:
            raise RuntimeError(
                f"Endpoint {self.name!r} reads its API key from ${self.api_key_env}, which is not set."
            )
        return key

    def chat_model(self, **kwargs: Any) -> Any:
        """LangChain's ``ChatOpenAI`` pointed at this endpoint (no retries: failures surface)."""
        from langchain_openai import ChatOpenAI

        kwargs.setdefault("temperature", 0.0)
        kwargs.setdefault("max_retries", 0)
        kwargs.setdefault("timeout", 60)
        return ChatOpenAI(base_url=self.base_url, api_key=self.api_key(), model=self.model, **kwargs)


@dataclass(frozen=True)
class RouterConfig:
    """The two endpoints. Offline both are local vLLM servers; for a hosted external model set, e.g.::

        GENAI_LAB_EXTERNAL_URL=https://api.openai.com/v1
        GENAI_LAB_EXTERNAL_MODEL=gpt-4o-mini
        GENAI_LAB_EXTERNAL_API_KEY_ENV=OPENAI_API_KEY

    and nothing else changes."""

    internal: Endpoint
    external: Endpoint

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> RouterConfig:
        """From ``{"internal": {"base_url": ..., "model": ...}, "external": {...}}``."""
        try:
            return cls(
                internal=Endpoint(INTERNAL, **dict(data[INTERNAL])),
                external=Endpoint(EXTERNAL, **dict(data[EXTERNAL])),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(
                "Router configuration needs 'internal' and 'external', each with 'base_url' and "
                f"'model' (and optionally 'api_key_env'); got {dict(data)!r} ({exc})."
            ) from exc

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> RouterConfig:
        """From ``GENAI_LAB_{INTERNAL,EXTERNAL}_{URL,MODEL,API_KEY_ENV}``."""
        env = os.environ if env is None else env
        parts: dict[str, dict[str, Any]] = {}
        for role in (INTERNAL, EXTERNAL):
            prefix = f"GENAI_LAB_{role.upper()}_"
            missing = [k for k in ("URL", "MODEL") if not env.get(prefix + k)]
            if missing:
                raise ValueError(f"Set {', '.join(prefix + k for k in missing)} to configure the {role} endpoint.")
            parts[role] = {"base_url": env[prefix + "URL"], "model": env[prefix + "MODEL"], "api_key_env": env.get(prefix + "API_KEY_ENV")}
        return cls.from_mapping(parts)


# ------------------------------------------------------------------------------------------------
# The router
# ------------------------------------------------------------------------------------------------
Transport = Callable[[Endpoint, list[dict[str, str]], dict[str, Any]], str]


def openai_transport(endpoint: Endpoint, messages: list[dict[str, str]], options: dict[str, Any]) -> str:
    """Send a chat completion with the ``openai`` client (no retries) and return the answer."""
    import openai

    client = openai.OpenAI(base_url=endpoint.base_url, api_key=endpoint.api_key(), max_retries=0, timeout=options.pop("timeout", 60))
    response = client.chat.completions.create(model=endpoint.model, messages=messages, **options)
    return response.choices[0].message.content or ""


@dataclass(frozen=True)
class RoutedResponse:
    text: str
    decision: Decision
    endpoint: str
    redacted: bool


class AuditLog:
    """An append-only JSON Lines file: one line per decision, flushed and fsynced as written."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def append(self, entry: Mapping[str, Any]) -> None:
        line = json.dumps(dict(entry), ensure_ascii=False, sort_keys=True)
        with self._lock, self.path.open("a", encoding="utf-8") as fh:
            fh.write(line + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    def entries(self) -> list[dict[str, Any]]:
        if not self.path.is_file():
            return []
        return [json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines() if line]


class Router:
    """Classify, (optionally) redact, send, audit. See the module docstring.

    Args:
        policy: the rules.
        config: the two endpoints.
        audit_log: path of the JSON Lines audit log.
        redact_external: redact personal data from anything sent to the external endpoint.
        transport: how to send a chat request (default: the ``openai`` client); tests pass a recorder.
    """

    def __init__(
        self,
        policy: RouterPolicy,
        config: RouterConfig,
        audit_log: str | Path,
        redact_external: bool = True,
        transport: Transport | None = None,
    ) -> None:
        self.policy = policy
        self.config = config
        self.audit = AuditLog(audit_log)
        self.redact_external = redact_external
        self.transport = transport or openai_transport

    def decide(self, text: str) -> Decision:
        return self.policy.classify(text)

    def _log(self, request_id: str, text: str, decision: Decision, outcome: str, **extra: Any) -> None:
        self.audit.append(
            {
                "time": _dt.datetime.now(_dt.UTC).isoformat(timespec="milliseconds"),
                "request_id": request_id,
                "route": decision.route,
                "confidential": decision.confidential,
                "reasons": list(decision.reasons),
                "sha256": hashlib.sha256(text.encode("utf-8", errors="surrogatepass")).hexdigest(),
                "chars": len(text),
                "outcome": outcome,
                **extra,
            }
        )

    def outbound(self, text: str, decision: Decision) -> tuple[str, bool]:
        """The text actually sent: redacted for the external endpoint when asked. Raises if a
        confidential decision ever reaches here bound for outside (it cannot, by construction)."""
        if decision.route == INTERNAL:
            return text, False
        if decision.confidential:  # pragma: no cover - defended against, never expected
            raise ConfidentialRouteError("Refusing to send a confidential request to the external endpoint.")
        if self.redact_external and find_personal_data(text):
            # Redaction works on the normalised text (where look-alikes are undone); text without
            # personal data is sent exactly as written.
            return self.policy.redact(text), True
        return text, False

    def complete(self, text: str, system: str | None = None, **options: Any) -> RoutedResponse:
        """Route one user message and return the answer with the decision behind it."""
        request_id = uuid.uuid4().hex
        decision = self.decide(text)
        payload, redacted = self.outbound(text, decision)
        endpoint = self.config.internal if decision.route == INTERNAL else self.config.external
        messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": payload}]
        try:
            answer = self.transport(endpoint, messages, dict(options))
        except Exception as exc:
            self._log(request_id, text, decision, "error", endpoint=endpoint.name, error=type(exc).__name__)
            if decision.route == INTERNAL:
                raise ConfidentialRouteError(
                    f"The internal endpoint {endpoint.base_url} failed ({type(exc).__name__}: {exc}). "
                    f"This request stays internal ({decision.explain()}); it was NOT sent to the "
                    "external endpoint. Start or fix the internal server and retry."
                ) from exc
            raise
        self._log(request_id, text, decision, "ok", endpoint=endpoint.name, redacted=redacted)
        return RoutedResponse(answer, decision, endpoint.name, redacted)


def lcel_router(router: Router, internal_llm: Any = None, external_llm: Any = None) -> Any:
    """The same routing in LCEL: classify with a lambda, then a ``RunnableBranch``.

    ``chain.invoke("question")`` returns the model's message. Models default to ``ChatOpenAI`` on
    the configured endpoints. The internal branch fails closed: its errors become
    :class:`ConfidentialRouteError` and there is no fallback to the external branch."""
    from langchain_core.runnables import RunnableBranch, RunnableLambda

    internal_llm = internal_llm or router.config.internal.chat_model()
    external_llm = external_llm or router.config.external.chat_model()

    def classify(text: str) -> dict[str, Any]:
        decision = router.decide(text)
        router._log(uuid.uuid4().hex, text, decision, "routed-lcel")
        return {"text": text, "decision": decision}

    def call_internal(x: dict[str, Any]) -> Any:
        try:
            return internal_llm.invoke(x["text"])
        except Exception as exc:
            raise ConfidentialRouteError(
                f"The internal endpoint failed ({type(exc).__name__}); the request was NOT sent to "
                f"the external endpoint ({x['decision'].explain()})."
            ) from exc

    def call_external(x: dict[str, Any]) -> Any:
        payload, _ = router.outbound(x["text"], x["decision"])
        return external_llm.invoke(payload)

    return RunnableLambda(classify) | RunnableBranch(
        (lambda x: x["decision"].route == INTERNAL, RunnableLambda(call_internal)),
        RunnableLambda(call_external),
    )


def adversarial_suite(policy: RouterPolicy) -> list[tuple[str, str]]:
    """Crafted inputs that the policy must mark confidential, built from its own names.

    Every case also asks for fresh information, which alone would send it outside: mixed case,
    look-alike letters, markers split across lines and characters, zero-width characters, leetspeak,
    personal data inside JSON (also escaped), and a marker at the end of a very long input."""
    project = next((p for p in policy.project_names if " " not in p), None) or (policy.project_names or ["Project Example"])[0]
    document = (policy.document_labels or ["Quarterly Board Report"])[0]
    fresh = "what is the latest news today?"
    cyr = str.maketrans({"a": "а", "e": "е", "o": "о", "c": "с", "p": "р"})

    def spaced(t: str, sep: str) -> str:
        return sep.join(t)

    long_text = "Please summarise the general history of bread baking. " * 4000
    cases = [
        ("marker plain", f"CONFIDENTIAL: {fresh}"),
        ("marker mixed case", f"cOnFiDeNtIaL {fresh}"),
        ("marker split across lines", f"confi\ndential\n{fresh}"),
        ("marker hyphenated letters", f"{spaced('confidential', '-')} {fresh}"),
        ("marker spaced letters", f"{spaced('confidential', ' ')} {fresh}"),
        ("marker zero-width", f"{spaced('confidential', chr(0x200B))} {fresh}"),
        ("marker soft hyphen", f"confi\u00addential {fresh}"),
        ("marker cyrillic", f"{'confidential'.translate(cyr)} {fresh}"),
        ("marker greek", f"cοnfidentiαl {fresh}"),
        ("marker fullwidth", f"ｃｏｎｆｉｄｅｎｔｉａｌ {fresh}"),
        ("marker accents", f"cönfïdéntíål {fresh}"),
        ("marker leet", f"c0nf1d3nt1al {fresh}"),
        ("marker bidi control", f"conf\u202eidential {fresh}"),
        ("marker in json", json.dumps({"note": "confidential", "q": fresh})),
        ("marker json escaped", '{"note": "\\u0063onfidential", "q": "latest news"}'),
        ("internal only split", f"INTERNAL\n  ONLY {fresh}"),
        ("do not share", f"Do not share: {fresh}"),
        ("german marker", f"VERTRAULICH {fresh}"),
        ("marker at end of long input", long_text + " confidential"),
        ("marker in middle of long input", long_text[:50_000] + " CONFIDENTIAL " + long_text[:50_000] + fresh),
        ("project", f"{project}: {fresh}"),
        ("project upper", f"{project.upper()} {fresh}"),
        ("project lower", f"{project.lower()} {fresh}"),
        ("project split lines", f"{project[:3]}\n{project[3:]} {fresh}"),
        ("project spaced", f"{spaced(project, ' ')} {fresh}"),
        ("project cyrillic", f"{project.translate(cyr)} {fresh}"),
        ("project zero-width", f"{spaced(project, chr(0x200C))} {fresh}"),
        ("project fullwidth", "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in project) + f" {fresh}"),
        ("project in json", json.dumps({"project": project, "q": fresh})),
        ("project underscores", f"{'_'.join(project)} {fresh}"),
        ("document title", f"Summarise '{document}', {fresh}"),
        ("document title lower", f"{document.lower()} {fresh}"),
        ("document title split", document.replace(" ", "\n") + f" {fresh}"),
        ("document title cyrillic", f"{document.translate(cyr)} {fresh}"),
        ("email", f"Email jane.doe@example.com {fresh}"),
        ("email upper", f"JANE.DOE@EXAMPLE.COM {fresh}"),
        ("email obfuscated", f"jane.doe (at) example (dot) com {fresh}"),
        ("email fullwidth at", f"jane.doe＠example.com {fresh}"),
        ("email zero-width", f"jane.doe@exa\u200bmple.com {fresh}"),
        ("email in json", json.dumps({"user": {"email": "max.mustermann@firma.de"}, "q": fresh})),
        ("email json escaped", '{"email": "max\\u0040firma.de", "q": "latest news today"}'),
        ("phone international", f"Call +49 30 1234 5678, {fresh}"),
        ("phone us", f"call +1 (415) 555-0132 {fresh}"),
        ("phone in json", json.dumps([{"tel": "+44 20 7946 0958"}, fresh])),
        ("iban", f"Transfer to DE89 3704 0044 0532 0130 00, {fresh}"),
        ("iban compact", f"de89370400440532013000 {fresh}"),
        ("credit card", f"card 4111 1111 1111 1111 {fresh}"),
        ("credit card dashes", f"5500-0000-0000-0004 {fresh}"),
        ("credit card fullwidth digits", f"card ４１１１ １１１１ １１１１ １１１１ {fresh}"),
        ("ssn", f"SSN 123-45-6789 {fresh}"),
        ("ip address", f"server 10.20.30.40 is down, {fresh}"),
        ("date of birth", f"born on 12.03.1985, {fresh}"),
        ("pii and marker across lines", f"conf\nidential\njane@example.com\n{fresh}"),
    ]
    return cases


def summarize_audit(entries: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """Counts of routes and outcomes in audit entries (for a notebook table)."""
    counts: dict[str, int] = {}
    for e in entries:
        key = f"{e.get('route')}/{e.get('outcome')}"
        counts[key] = counts.get(key, 0) + 1
    return counts


def decision_dict(decision: Decision) -> dict[str, Any]:
    return asdict(decision)


__all__: Sequence[str] = (
    "adversarial_suite", "AuditLog", "ConfidentialRouteError", "Decision", "Endpoint", "KnowledgeBaseMissing", "Router",
    "RouterConfig", "RouterPolicy", "find_personal_data", "lcel_router", "normalize", "squash",
)  # fmt: skip
