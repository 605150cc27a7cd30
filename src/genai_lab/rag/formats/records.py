"""Record formats: one document per JSON record or CSV row.

- JSON: the records of the top-level list (or the one list inside a top-level object); each record
  is flattened to ``key.path: value`` lines. ``section`` is the record's key field.
- CSV: each row rendered as ``column: value`` pairs; ``section`` is the row's key column.

Hostile input becomes a :class:`DocumentLoadError`: JSON nested deeper than the parser can go, an
integer longer than Python converts (4,300 digits), a CSV field over ``csv.field_size_limit()``, and
a quote that is never closed (which would otherwise swallow every row after it into one field).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from genai_lab.rag.formats.base import DocumentLoadError, Unit, describe, read_text

RECORD_KEYS = ("id", "name", "title", "version", "key")  # fields that label a JSON record, in order


def _records(data: Any, source: str) -> list[Any]:
    """The records of a JSON file: a top-level list, or the list inside a top-level object."""
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        lists = [v for v in data.values() if isinstance(v, list)]
        if "records" in data and isinstance(data["records"], list):
            return data["records"]
        if len(lists) == 1:
            return lists[0]
        return [data]
    raise DocumentLoadError(source, f"expected a JSON object or list of records, got {type(data).__name__}.")


def _flatten(value: Any, prefix: str = "") -> list[str]:
    if isinstance(value, dict):
        return [line for k, v in value.items() for line in _flatten(v, f"{prefix}{k}.")]
    if isinstance(value, list):
        if all(not isinstance(v, dict | list) for v in value):
            return [f"{prefix[:-1]}: {', '.join(str(v) for v in value)}"]
        return [line for i, v in enumerate(value) for line in _flatten(v, f"{prefix}{i}.")]
    return [f"{prefix[:-1] or 'value'}: {'none' if value is None else value}"]


def load_json(path: Path, source: str, title: str, info: dict) -> list[Unit]:
    """One unit per record: ``"<title>, <label>:\\n<flattened fields>"``."""
    text = read_text(path, source)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DocumentLoadError(
            source, f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}. Fix the syntax."
        ) from exc
    except RecursionError as exc:
        raise DocumentLoadError(
            source, "the JSON is nested too deeply to parse (thousands of levels); flatten the structure."
        ) from exc
    except ValueError as exc:  # e.g. an integer longer than Python's 4,300-digit conversion limit
        raise DocumentLoadError(
            source, f"the JSON holds a value Python refuses to convert ({describe(exc)}); store it as a string."
        ) from exc
    units = []
    try:
        for i, record in enumerate(_records(data, source), start=1):
            key = info.get("key")
            if isinstance(record, dict):
                key = key if key in record else next((k for k in RECORD_KEYS if k in record), None)
            label = str(record[key]) if isinstance(record, dict) and key else f"record {i}"
            body = "\n".join(_flatten(record))
            units.append((f"{title}, {label}:\n{body}", {"section": label, "record": i}))
    except RecursionError as exc:
        raise DocumentLoadError(
            source, "a JSON record is nested too deeply to flatten; flatten the structure."
        ) from exc
    return units


def _csv_rows(text: str, source: str) -> list[tuple[int, list[str]]]:
    """The CSV's non-empty rows with the line each starts on; strict quoting."""
    reader = csv.reader(io.StringIO(text), strict=True)
    rows: list[tuple[int, list[str]]] = []
    start = 1
    try:
        for row in reader:
            if any(c.strip() for c in row):
                rows.append((start, row))
            start = reader.line_num + 1
    except csv.Error as exc:
        limit = csv.field_size_limit()
        if "field limit" in str(exc) or "field larger" in str(exc):
            reason = (
                f"a field in the row starting at line {start} is longer than {limit:,} characters "
                "(csv.field_size_limit); split the value or store long texts in their own file."
            )
        elif "unexpected end of data" in str(exc):
            reason = (
                f"a quote opened in the row starting at line {start} is never closed, so it swallows every "
                'row after it; close the quote, or write a literal quote inside a quoted field as "".'
            )
        else:
            reason = f"the CSV is malformed at line {reader.line_num} ({describe(exc)}); quote values that contain "
            reason += 'commas, quotes or line breaks, and write a quote inside a quoted field as "".'
        raise DocumentLoadError(source, reason) from exc
    return rows


def load_csv(path: Path, source: str, title: str, info: dict) -> list[Unit]:
    """One unit per data row: ``"<title>, <key value>: column: value | column: value"``."""
    rows = _csv_rows(read_text(path, source), source)
    if len(rows) < 2:
        raise DocumentLoadError(source, "the CSV has a header but no data rows; add rows or remove it.")
    header = [h.strip() for h in rows[0][1]]
    key = info["key"] if info.get("key") in header else header[0]
    units = []
    for i, (line, row) in enumerate(rows[1:], start=1):
        if len(row) != len(header):
            raise DocumentLoadError(
                source,
                f"row {i} has {len(row)} fields but the header has {len(header)} (line {line}); quote values "
                "that contain commas.",
            )
        record = dict(zip(header, (c.strip() for c in row), strict=True))
        body = " | ".join(f"{h}: {v}" for h, v in record.items())
        units.append((f"{title}, {record[key]}: {body}", {"section": record[key], "row": i}))
    return units
