"""Which document supersedes which: the dated versions of a knowledge base's documents.

``data/kb/manifest.json`` gives each document a ``date``; a new version names the one it replaces::

    {"path": "sales/price_list_2025.csv", "date": "2025-01-01", "supersedes": "sales/price_list_2024.csv"}

:class:`Versions` turns these links into *families* (all versions of one document, oldest first) and
answers, for any source: its date, the newest version, and the version in force at a date. Links
must make sense, or building it raises an error that names the entry to fix: a document superseded
by two others, a version that supersedes itself or a cycle, a link to a document the manifest does not
list, a version dated before the one it replaces, a date that is not ISO ``YYYY-MM-DD``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Versions:
    """``dates``: source -> ISO date; ``supersedes``: new source -> the old source it replaces."""

    dates: Mapping[str, str]
    supersedes: Mapping[str, str]
    _newer: dict[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        newer: dict[str, str] = {}
        for new, old in self.supersedes.items():
            if new == old:
                raise ValueError(f"{new} supersedes itself; remove its 'supersedes' entry.")
            if old in newer:
                raise ValueError(f"{old} is superseded by both {newer[old]} and {new}; keep one 'supersedes' link.")
            newer[old] = new
            for source in (new, old):
                if source not in self.dates:
                    raise ValueError(f"{source} is in a 'supersedes' link but has no date; list it with a 'date'.")
                _parse(self.dates[source], source)
            if _parse(self.dates[new], new) < _parse(self.dates[old], old):
                raise ValueError(
                    f"{new} ({self.dates[new]}) supersedes {old} ({self.dates[old]}) but is older; fix the dates "
                    "or the link."
                )
        object.__setattr__(self, "_newer", newer)
        for source in newer:  # walking every chain once finds any cycle
            self.family(source)

    # --------------------------------------------------------------------------------------------
    @classmethod
    def from_manifest(cls, path: str | Path) -> Versions:
        """From a knowledge base's ``manifest.json`` (or the folder that holds it)."""
        path = Path(path)
        if path.is_dir():
            path = path / "manifest.json"
        if not path.is_file():
            raise FileNotFoundError(f"{path} does not exist; pass the knowledge base folder (data/kb) or its manifest.")
        try:
            entries = json.loads(path.read_text(encoding="utf-8"))["documents"]
            return cls.from_records(entries)
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(
                f"{path} is not a manifest: expected "
                f"{{\"documents\": [{{\"path\", \"date\", \"supersedes\"?}}]}} ({exc!r})."
            ) from exc

    @classmethod
    def from_records(cls, records: Iterable[Mapping[str, Any]], key: str = "path") -> Versions:
        """From records with ``key`` (the source), ``date`` and an optional ``supersedes``: manifest
        entries, or documents' metadata (``key="source"``; one record per chunk is fine)."""
        dates: dict[str, str] = {}
        supersedes: dict[str, str] = {}
        for record in records:
            source = str(record[key])
            if record.get("date"):
                dates[source] = str(record["date"])
            if record.get("supersedes"):
                supersedes[source] = str(record["supersedes"])
        return cls(dates=dates, supersedes=supersedes)

    @classmethod
    def from_documents(cls, docs: Iterable[Any]) -> Versions:
        """From LangChain documents whose metadata carry ``source``, ``date`` and ``supersedes``."""
        return cls.from_records((d.metadata for d in docs), key="source")

    # --------------------------------------------------------------------------------------------
    def date_of(self, source: str) -> str | None:
        """The document's date (ISO), or ``None`` if it has none."""
        return self.dates.get(source)

    def family(self, source: str) -> tuple[str, ...]:
        """All versions of ``source``'s document, oldest first (just ``(source,)`` if it has none)."""
        oldest, seen = source, {source}
        while oldest in self.supersedes:
            oldest = self.supersedes[oldest]
            if oldest in seen:
                raise ValueError(f"The 'supersedes' links around {source} form a cycle; break it.")
            seen.add(oldest)
        chain = [oldest]
        while chain[-1] in self._newer:
            chain.append(self._newer[chain[-1]])
        return tuple(chain)

    def latest(self, source: str) -> str:
        """The newest version of ``source``'s document."""
        return self.family(source)[-1]

    def is_superseded(self, source: str) -> bool:
        """Whether a newer version of ``source`` exists."""
        return source in self._newer

    def in_force(self, source: str, as_of: date | None = None) -> str:
        """The version of ``source``'s document in force on ``as_of``: the latest dated on or before it
        (before the first version: the first; ``None``: the newest)."""
        versions = self.family(source)
        if as_of is None or len(versions) == 1:
            return versions[-1]
        valid = [v for v in versions if _parse(self.dates[v], v) <= as_of]
        return valid[-1] if valid else versions[0]

    @property
    def families(self) -> list[tuple[str, ...]]:
        """Every family with more than one version, oldest version first."""
        return sorted({self.family(s) for s in self.supersedes})


def _parse(value: str, source: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"{source} has date {value!r}; write it as YYYY-MM-DD.") from exc
