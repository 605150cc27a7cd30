"""Load a folder of company documents into LangChain ``Document`` objects.

One call, :func:`load_documents`, reads every file under a folder (or one file) and returns the
documents with their text and metadata::

    result = load_documents(data_dir() / "kb")
    result.documents[0].metadata
    # {'source': 'manuals/atrium_hub_h2_manual.pdf', 'page': 1, 'section': None, 'type': 'pdf', ...}
    result.errors        # [LoadError(path='broken.pdf', reason='...')], the rest still loaded

What becomes one document, by format:

========  ==================================================  ==========================
format    unit                                                 ``page`` / ``section``
========  ==================================================  ==========================
PDF       one page (``pypdf``)                                 page number (1-based)
Markdown  one header section (``MarkdownHeaderTextSplitter``)  the deepest header's text
JSON      one record of the top-level list                     the record's key field
CSV       one row, rendered as ``column: value`` pairs         the row's key column
text      the whole file                                       none
========  ==================================================  ==========================

Images and figures: no OCR and no image captioning. What is extracted is the text around them: a
PDF figure's printed caption (it is ordinary page text) and a Markdown image's alt text and title,
rendered as ``[Image: alt text (title)]``. The pixels are not read; a PDF page records how many
images it holds in ``metadata["images"]``, and standalone image files are listed in
``LoadResult.skipped``. Pipe tables inside Markdown are rendered row by row with their headers, like
CSV rows, so that a row keeps its meaning when it is cut into a chunk.

A file that cannot be read (encrypted, corrupt or hostile PDF, invalid or too deeply nested JSON, a
CSV quote that is never closed, an empty file, an unknown extension, a named pipe, a symbolic link
that leads outside the folder or nowhere) becomes a :class:`LoadError` naming the file and the fix;
the other files still load. Pass ``strict=True`` to raise the first error instead.

The code is split by concern: :mod:`genai_lab.rag.walk` lists the folder safely,
:mod:`genai_lab.rag.formats` holds one reader per format, and this module ties them together.

If the folder holds a ``manifest.json`` (like ``data/kb/``), each document also gets the title,
classification, document type and date that the manifest lists for its file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genai_lab.rag.formats import DocumentLoadError, reader_for
from genai_lab.rag.formats.base import describe
from genai_lab.rag.formats.markdown import MARKDOWN_HEADERS, render_images, render_markdown_tables
from genai_lab.rag.formats.records import RECORD_KEYS
from genai_lab.rag.walk import Entry, not_regular, walk_folder

if TYPE_CHECKING:  # pragma: no cover
    from langchain_core.documents import Document

FORMATS = {
    ".pdf": "pdf",
    ".md": "markdown",
    ".markdown": "markdown",
    ".json": "json",
    ".csv": "csv",
    ".txt": "text",
}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp", ".bmp", ".tif", ".tiff"}
DEFAULT_EXCLUDE = ("manifest.json", "questions.jsonl", "questions.json")

__all__ = [
    "DEFAULT_EXCLUDE",
    "FORMATS",
    "IMAGE_SUFFIXES",
    "MARKDOWN_HEADERS",
    "RECORD_KEYS",
    "DocumentLoadError",
    "LoadError",
    "LoadResult",
    "load_documents",
    "load_file",
    "read_questions",
    "render_images",
    "render_markdown_tables",
]


@dataclass(frozen=True)
class LoadError:
    """A file that :func:`load_documents` skipped, and why."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass
class LoadResult:
    """What :func:`load_documents` returns: the documents, the files it could not load, and the files
    it did not try (images, which need OCR or a vision model)."""

    documents: list[Document] = field(default_factory=list)
    errors: list[LoadError] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.documents)


def load_documents(
    path: str | Path,
    strict: bool = False,
    exclude: tuple[str, ...] = DEFAULT_EXCLUDE,
    use_manifest: bool = True,
) -> LoadResult:
    """Load one file, or every file under a folder (recursively, in sorted order).

    ``source`` in the metadata is the path relative to the folder. Hidden files and the names in
    ``exclude`` (the knowledge base's manifest and question set) are not loaded. With ``strict``,
    the first bad file raises :class:`DocumentLoadError`; otherwise it is reported in
    ``result.errors`` and the rest still load: every file ends up loaded, skipped (images) or in
    ``errors``.
    """
    root = Path(path)
    if not root.exists() and not root.is_symlink():
        raise FileNotFoundError(f"{root} does not exist; pass a file or a folder of documents.")
    if root.is_dir():
        base = root
        entries = walk_folder(root, exclude)
    else:
        base = root.parent
        entries = [Entry(root, root.name)]
    result = LoadResult()
    manifest: dict[str, dict] = {}
    if use_manifest:
        try:
            manifest = _read_manifest(base)
        except DocumentLoadError as exc:
            if strict:
                raise
            result.errors.append(LoadError(exc.path, exc.reason))
    for entry in entries:
        if entry.problem is None and Path(entry.rel).suffix.lower() in IMAGE_SUFFIXES:
            result.skipped.append(entry.rel)
            continue
        try:
            if entry.problem is not None:
                raise DocumentLoadError(entry.rel, entry.problem)
            docs = load_file(entry.path, source=entry.rel, info=manifest.get(entry.rel))
        except DocumentLoadError as exc:
            if strict:
                raise
            result.errors.append(LoadError(entry.rel, exc.reason))
            continue
        result.documents.extend(docs)
    return result


def load_file(path: str | Path, source: str | None = None, info: dict | None = None) -> list[Document]:
    """Load one file by its extension; raises :class:`DocumentLoadError` when it cannot.

    ``info`` is the file's manifest entry (title, classification, ...), if any. Whatever goes wrong
    inside a reader (a parser's own exception included) is raised as a :class:`DocumentLoadError`
    naming the file.
    """
    path = Path(path)
    source = source or path.name
    info = info if isinstance(info, dict) else {}
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise DocumentLoadError(
            source,
            f"unsupported file type {path.suffix or '(no extension)'!r}. Supported: "
            f"{', '.join(sorted(FORMATS))}. Convert the file to one of these, or move it out of the folder.",
        )
    try:
        status = path.stat()
    except OSError as exc:
        raise DocumentLoadError(source, f"the file cannot be opened ({describe(exc)}).") from exc
    problem = not_regular(status.st_mode)
    if problem:
        raise DocumentLoadError(source, problem)
    if status.st_size == 0:
        raise DocumentLoadError(source, "the file is empty (0 bytes); re-export it or remove it.")
    title = str(info.get("title") or path.stem.replace("_", " "))
    try:
        units = reader_for(fmt)(path, source, title, info)
    except DocumentLoadError:
        raise
    except Exception as exc:  # a parser failure no reader anticipated: still one named, bad file
        raise DocumentLoadError(
            source, f"the {fmt} file could not be read ({describe(exc)}); check that it is a valid {fmt} file."
        ) from exc
    if not units:
        raise DocumentLoadError(source, "no text could be extracted; check that the file has content.")
    extra = {k: info[k] for k in ("title", "classification", "date") if k in info}
    if "type" in info:
        extra["doc_type"] = info["type"]
    docs = []
    for text, meta in units:
        metadata = {"source": source, "page": None, "section": None, "type": fmt, **meta, **extra}
        docs.append(_document(text, metadata))
    return docs


def _document(text: str, metadata: dict[str, Any]) -> Document:
    from langchain_core.documents import Document

    return Document(page_content=text, metadata=metadata)


def _read_manifest(folder: Path) -> dict[str, dict]:
    """``path -> entry`` from the folder's ``manifest.json``; a malformed manifest raises
    :class:`DocumentLoadError` (the documents then load without its metadata)."""
    path = folder / "manifest.json"
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {str(entry["path"]): entry for entry in data.get("documents", [])}
    except (ValueError, RecursionError, OSError, AttributeError, KeyError, TypeError) as exc:
        raise DocumentLoadError(
            "manifest.json",
            f"the manifest is malformed ({describe(exc)}); expected {{\"documents\": [{{\"path\": ..., "
            "\"title\": ...}, ...]}. The documents load without its titles and classifications.",
        ) from exc


def read_questions(path: str | Path) -> list[dict]:
    """The question set of a knowledge base (``questions.jsonl``, one JSON object a line, or a
    ``.json`` list)."""
    path = Path(path)
    if path.is_dir():
        path = path / "questions.jsonl"
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        return list(json.loads(text))
    return [json.loads(line) for line in text.splitlines() if line.strip()]
