"""Plain text: the whole file is one document."""

from __future__ import annotations

from pathlib import Path

from genai_lab.rag.formats.base import Unit, read_text


def load_text(path: Path, source: str, title: str, info: dict) -> list[Unit]:
    """One unit: the file's text, stripped."""
    return [(read_text(path, source).strip(), {})]
