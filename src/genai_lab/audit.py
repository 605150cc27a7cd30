"""The one audit-log schema of the package, and its append-only JSON Lines writer.

Every routing decision — from the router of Part 2b (:mod:`genai_lab.serving.router`) or from the
capstone service (:mod:`genai_lab.app`) — is written as one :class:`AuditRecord`, one JSON object per
line, flushed and fsynced as written. A record holds *why* a request went where it went (route, reasons,
model, adapter, outcome), never the text itself: only its SHA-256 and its length.

The log never holds ``NaN`` or ``Infinity`` (which are not JSON, and which other tools refuse to read):
a non-finite latency is recorded as ``null``, and the writer serialises with ``allow_nan=False`` so that
anything else non-finite fails loudly instead of being written.

>>> rec = AuditRecord.for_text("How long is the warranty?", route="internal", confidential=False,
...                            reasons=("default route",), outcome="ok", request_id="r1")
>>> rec.to_json()[:60]
'{"adapter": null, "chars": 25, "component": "app", "confiden'
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import json
import math
import os
import threading
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: What happened to the request: answered, failed, refused by admission control, cancelled by the
#: client, or only routed (the LCEL router, which does not see the answer).
OUTCOMES = frozenset({"ok", "error", "rejected", "cancelled", "routed", "routed-lcel"})
#: Who wrote the record.
COMPONENTS = frozenset({"app", "router"})


def now_iso() -> str:
    """The current UTC time as ISO 8601 with milliseconds: ``2026-11-28T01:13:46.462+00:00``."""
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="milliseconds")


def new_request_id() -> str:
    """A fresh request id (32 hex characters)."""
    return uuid.uuid4().hex


def text_digest(text: str) -> str:
    """SHA-256 of ``text`` as UTF-8 (lone surrogates kept, so any Python string can be hashed)."""
    return hashlib.sha256(text.encode("utf-8", errors="surrogatepass")).hexdigest()


def _finite(value: float | None) -> float | None:
    """``value`` rounded to 0.1 ms, or ``None`` when missing or not finite (NaN, ±inf)."""
    if value is None:
        return None
    value = float(value)
    return round(value, 1) if math.isfinite(value) else None


@dataclass(frozen=True)
class AuditRecord:
    """One routing decision. See the module docstring.

    Attributes:
        request_id: the id of the request (the service's ``X-Request-ID``).
        route: ``"internal"`` or ``"external"``: where the request was sent.
        confidential: whether the policy found confidential content.
        reasons: the policy's reasons, in order (plus the service's own, e.g. private context).
        outcome: one of :data:`OUTCOMES`.
        sha256: SHA-256 of the user's text (never the text).
        chars: length of the user's text in characters.
        component: who decided, ``"app"`` or ``"router"``.
        model: the model or endpoint the request went to (a label or endpoint name).
        adapter: the LoRA adapter requested, if any.
        redacted: whether personal data was redacted before sending (router), ``None`` if not applicable.
        error: the exception's type name when ``outcome == "error"`` (never its message: it may hold secrets).
        latency_ms: time from arrival to the end of the answer; ``None`` when unknown or not finite.
        time: when the record was made (ISO 8601, UTC).
    """

    request_id: str
    route: str
    confidential: bool
    reasons: tuple[str, ...]
    outcome: str
    sha256: str
    chars: int
    component: str = "app"
    model: str | None = None
    adapter: str | None = None
    redacted: bool | None = None
    error: str | None = None
    latency_ms: float | None = None
    time: str = field(default_factory=now_iso)

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"AuditRecord.outcome must be one of {sorted(OUTCOMES)}, got {self.outcome!r}.")
        if self.component not in COMPONENTS:
            raise ValueError(f"AuditRecord.component must be one of {sorted(COMPONENTS)}, got {self.component!r}.")
        if not self.request_id:
            raise ValueError("AuditRecord.request_id is empty; use genai_lab.audit.new_request_id().")
        object.__setattr__(self, "reasons", tuple(str(r) for r in self.reasons))
        object.__setattr__(self, "latency_ms", _finite(self.latency_ms))

    @classmethod
    def for_text(cls, text: str, **fields: Any) -> AuditRecord:
        """A record for the user's ``text``: fills ``sha256`` and ``chars`` (and a ``request_id``
        when none is given); every other field as keyword arguments."""
        fields.setdefault("request_id", new_request_id())
        return cls(sha256=text_digest(text), chars=len(text), **fields)

    @classmethod
    def from_mapping(cls, entry: Mapping[str, Any]) -> AuditRecord:
        """A record from a mapping with exactly this schema's keys; unknown keys are an error."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(entry) - names)
        if unknown:
            raise TypeError(
                f"Audit entry has fields outside the audit schema: {unknown}. "
                f"Use only {sorted(names)} (genai_lab.audit.AuditRecord)."
            )
        return cls(**dict(entry))

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["reasons"] = list(self.reasons)
        return out

    def to_json(self) -> str:
        """One line of JSON (sorted keys; ``allow_nan=False``: never NaN or Infinity)."""
        return json.dumps(self.to_dict(), ensure_ascii=False, sort_keys=True, allow_nan=False)


class AuditLog:
    """An append-only JSON Lines file of :class:`AuditRecord`, one line per record, flushed and fsynced
    as written. Safe to share between threads (a lock serialises the appends)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def append(self, record: AuditRecord | Mapping[str, Any]) -> AuditRecord:
        """Append one record (a mapping is checked against the schema first); returns the record."""
        rec = record if isinstance(record, AuditRecord) else AuditRecord.from_mapping(record)
        line = rec.to_json()
        with self._lock, self.path.open("a", encoding="utf-8") as fh:
            fh.write(line + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        return rec

    def extend(self, records: Iterable[AuditRecord]) -> None:
        for rec in records:
            self.append(rec)

    def entries(self) -> list[dict[str, Any]]:
        """Every line of the file as a dict (older lines of another shape included), oldest first."""
        if not self.path.is_file():
            return []
        return [json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines() if line]
