"""One reader per document format for :func:`genai_lab.rag.loaders.load_documents`.

Each reader takes ``(path, source, title, info)`` and returns a list of ``(text, metadata)`` units,
or raises :class:`~genai_lab.rag.formats.base.DocumentLoadError` naming the file and the fix.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from genai_lab.rag.formats.base import DocumentLoadError, Unit

Reader = Callable[[Path, str, str, dict], list[Unit]]


def reader_for(fmt: str) -> Reader:
    """The reader of a format name ("pdf", "markdown", "json", "csv" or "text")."""
    from genai_lab.rag.formats import markdown, pdf, records, text

    readers: dict[str, Reader] = {
        "pdf": pdf.load_pdf,
        "markdown": markdown.load_markdown,
        "json": records.load_json,
        "csv": records.load_csv,
        "text": text.load_text,
    }
    return readers[fmt]


__all__ = ["DocumentLoadError", "Reader", "Unit", "reader_for"]
