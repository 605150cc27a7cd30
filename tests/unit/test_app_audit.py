"""The one audit-log schema (genai_lab.audit): append-only JSON Lines, no text, never NaN."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from genai_lab.audit import AuditLog, AuditRecord, text_digest


def _record(**kw: object) -> AuditRecord:
    fields: dict[str, object] = {"route": "internal", "confidential": False, "reasons": ("default",), "outcome": "ok"}
    fields.update(kw)
    return AuditRecord.for_text("Project Nightjar budget", **fields)  # type: ignore[arg-type]


def test_record_holds_digest_not_text(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "a" / "audit.jsonl")
    rec = log.append(_record(request_id="abc", model="internal: fake"))
    text = log.path.read_text()
    assert "Nightjar" not in text
    (entry,) = log.entries()
    assert entry["sha256"] == text_digest("Project Nightjar budget") and entry["chars"] == 23
    assert entry["request_id"] == "abc" and entry["reasons"] == ["default"] and rec.model == "internal: fake"


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_latency_is_written_as_null(tmp_path: Path, bad: float) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    log.append(_record(latency_ms=bad))
    line = log.path.read_text()
    assert "NaN" not in line and "Infinity" not in line
    assert json.loads(line)["latency_ms"] is None


def test_append_only_keeps_earlier_lines(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    path.write_text('{"earlier": "entry"}\n')
    log = AuditLog(path)
    log.append(_record(latency_ms=12.345))
    log.append(_record(outcome="error", error="ConnectionError"))
    lines = path.read_text().splitlines()
    assert lines[0] == '{"earlier": "entry"}' and len(lines) == 3
    assert json.loads(lines[1])["latency_ms"] == 12.3
    assert json.loads(lines[2])["error"] == "ConnectionError"


def test_schema_is_closed() -> None:
    with pytest.raises(TypeError, match="outside the audit schema"):
        AuditLog.append(AuditLog.__new__(AuditLog), {"route": "internal", "free_text": "x"})
    with pytest.raises(ValueError, match="outcome"):
        _record(outcome="maybe")
    with pytest.raises(ValueError, match="component"):
        _record(component="elsewhere")
