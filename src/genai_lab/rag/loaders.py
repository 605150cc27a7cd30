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

A file that cannot be read (encrypted or corrupt PDF, invalid JSON, empty file, unknown extension)
becomes a :class:`LoadError` naming the file and the fix; the other files still load. Pass
``strict=True`` to raise the first error instead.

If the folder holds a ``manifest.json`` (like ``data/kb/``), each document also gets the title,
classification, document type and date that the manifest lists for its file.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
MARKDOWN_HEADERS = [("#", "h1"), ("##", "h2"), ("###", "h3")]
RECORD_KEYS = ("id", "name", "title", "version", "key")  # fields that label a JSON record, in order

_IMAGE = re.compile(r"!\[([^\]]*)\]\(\s*([^)\s]+)(?:\s+\"([^\"]*)\")?\s*\)")


class DocumentLoadError(ValueError):
    """One file could not be loaded; the message names the file and what to do about it."""

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}")


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


# ------------------------------------------------------------------------------------------------
# The entry point
# ------------------------------------------------------------------------------------------------
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
    ``result.errors`` and the rest still load.
    """
    root = Path(path)
    if not root.exists():
        raise FileNotFoundError(f"{root} does not exist; pass a file or a folder of documents.")
    if root.is_file():
        files, base = [root], root.parent
    else:
        base = root
        files = sorted(
            p
            for p in root.rglob("*")
            if p.is_file()
            and p.name not in exclude
            and not any(part.startswith(".") for part in p.relative_to(root).parts)
        )
    manifest = _read_manifest(base) if use_manifest else {}
    result = LoadResult()
    for file in files:
        rel = file.relative_to(base).as_posix()
        if file.suffix.lower() in IMAGE_SUFFIXES:
            result.skipped.append(rel)
            continue
        try:
            docs = load_file(file, source=rel, info=manifest.get(rel))
        except DocumentLoadError as exc:
            if strict:
                raise
            result.errors.append(LoadError(rel, exc.reason))
            continue
        result.documents.extend(docs)
    return result


def load_file(path: str | Path, source: str | None = None, info: dict | None = None) -> list[Document]:
    """Load one file by its extension; raises :class:`DocumentLoadError` when it cannot.

    ``info`` is the file's manifest entry (title, classification, ...), if any.
    """
    path = Path(path)
    source = source or path.name
    info = info or {}
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise DocumentLoadError(
            source,
            f"unsupported file type {path.suffix or '(no extension)'!r}. Supported: "
            f"{', '.join(sorted(FORMATS))}. Convert the file to one of these, or move it out of the folder.",
        )
    if path.stat().st_size == 0:
        raise DocumentLoadError(source, "the file is empty (0 bytes); re-export it or remove it.")
    reader = {"pdf": _load_pdf, "markdown": _load_markdown, "json": _load_json, "csv": _load_csv,
              "text": _load_text}[fmt]
    title = info.get("title") or path.stem.replace("_", " ")
    units = reader(path, source, title, info)
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


# ------------------------------------------------------------------------------------------------
# One reader per format: each returns a list of (text, metadata) pairs
# ------------------------------------------------------------------------------------------------
Unit = tuple[str, dict[str, Any]]


def _load_pdf(path: Path, source: str, title: str, info: dict) -> list[Unit]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        with _quiet("pypdf"):  # pypdf logs repair attempts; the error below says it all
            reader = PdfReader(path)
        if reader.is_encrypted and not reader.decrypt(""):
            raise DocumentLoadError(
                source,
                "the PDF is encrypted with a password. Decrypt it first (for example "
                "`qpdf --decrypt --password=PASSWORD in.pdf out.pdf`) or remove it from the folder.",
            )
        units = []
        for number, pdf_page in enumerate(reader.pages, start=1):
            with _quiet("pypdf"):
                text = (pdf_page.extract_text() or "").strip()
            try:
                images = len(pdf_page.images)
            except Exception:  # an image pypdf cannot decode does not spoil the page's text
                images = 0
            if text:
                units.append((text, {"page": number, "images": images}))
    except DocumentLoadError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise DocumentLoadError(
            source,
            f"the PDF is corrupt or not a PDF ({type(exc).__name__}: {exc}). Re-export or repair it "
            "(for example `qpdf in.pdf out.pdf`).",
        ) from exc
    if not units and len(reader.pages):
        raise DocumentLoadError(
            source, "the PDF has no extractable text (a scan?). Run OCR on it first, e.g. `ocrmypdf`."
        )
    return units


def _read_text(path: Path, source: str) -> str:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DocumentLoadError(
            source, f"the file is not UTF-8 text ({exc.reason} at byte {exc.start}); re-save it as UTF-8."
        ) from exc
    if not text.strip():
        raise DocumentLoadError(source, "the file holds only whitespace; add content or remove it.")
    return text


def render_images(text: str) -> str:
    """Replace Markdown images by their alt text and title: ``[Image: alt (title)]``."""

    def repl(match: re.Match) -> str:
        alt, _src, image_title = match.groups()
        label = alt.strip() or "no alt text"
        return f"[Image: {label}{f' ({image_title})' if image_title else ''}]"

    return _IMAGE.sub(repl, text)


def render_markdown_tables(text: str) -> str:
    """Render each pipe table row as ``header: value | header: value`` so a row keeps its headers."""
    lines = text.splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        is_table = (
            i + 1 < len(lines)
            and lines[i].strip().startswith("|")
            and re.fullmatch(r"\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*", lines[i + 1])
        )
        if not is_table:
            out.append(lines[i])
            i += 1
            continue
        headers = _cells(lines[i])
        i += 2
        while i < len(lines) and lines[i].strip().startswith("|"):
            cells = _cells(lines[i])
            out.append(" | ".join(f"{h}: {c}" for h, c in zip(headers, cells, strict=False)))
            i += 1
    return "\n".join(out)


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _load_markdown(path: Path, source: str, title: str, info: dict) -> list[Unit]:
    from langchain_text_splitters import MarkdownHeaderTextSplitter

    text = render_markdown_tables(render_images(_read_text(path, source)))
    splitter = MarkdownHeaderTextSplitter(MARKDOWN_HEADERS, strip_headers=False)
    units = []
    for part in splitter.split_text(text):
        headers = [part.metadata[k] for _, k in MARKDOWN_HEADERS if k in part.metadata]
        meta: dict[str, Any] = {"section": headers[-1] if headers else None}
        meta["headers"] = " > ".join(headers)
        content = part.page_content.strip()
        if len(headers) > 1 and not content.startswith("# "):
            # keep the path of parent headers, so that a sub-section names its document
            content = f"{' > '.join(headers[:-1])}\n{content}"
        units.append((content, meta))
    return [u for u in units if u[0]]


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


def _load_json(path: Path, source: str, title: str, info: dict) -> list[Unit]:
    text = _read_text(path, source)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DocumentLoadError(
            source, f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}. Fix the syntax."
        ) from exc
    units = []
    for i, record in enumerate(_records(data, source), start=1):
        key = info.get("key")
        if isinstance(record, dict):
            key = key if key in record else next((k for k in RECORD_KEYS if k in record), None)
        label = str(record[key]) if isinstance(record, dict) and key else f"record {i}"
        body = "\n".join(_flatten(record))
        units.append((f"{title}, {label}:\n{body}", {"section": label, "record": i}))
    return units


def _load_csv(path: Path, source: str, title: str, info: dict) -> list[Unit]:
    text = _read_text(path, source)
    rows = list(csv.reader(io.StringIO(text)))
    rows = [r for r in rows if any(c.strip() for c in r)]
    if len(rows) < 2:
        raise DocumentLoadError(source, "the CSV has a header but no data rows; add rows or remove it.")
    header = [h.strip() for h in rows[0]]
    key = info.get("key") if info.get("key") in header else header[0]
    units = []
    for i, row in enumerate(rows[1:], start=1):
        if len(row) != len(header):
            raise DocumentLoadError(
                source,
                f"row {i} has {len(row)} fields but the header has {len(header)}; quote values that "
                "contain commas.",
            )
        record = dict(zip(header, (c.strip() for c in row), strict=True))
        body = " | ".join(f"{h}: {v}" for h, v in record.items())
        units.append((f"{title}, {record[key]}: {body}", {"section": record[key], "row": i}))
    return units


def _load_text(path: Path, source: str, title: str, info: dict) -> list[Unit]:
    return [(_read_text(path, source).strip(), {})]


# ------------------------------------------------------------------------------------------------
@contextlib.contextmanager
def _quiet(logger_name: str) -> Iterator[None]:
    """Silence a library's log warnings for the duration of the block."""
    logger = logging.getLogger(logger_name)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _document(text: str, metadata: dict[str, Any]) -> Document:
    from langchain_core.documents import Document

    return Document(page_content=text, metadata=metadata)


def _read_manifest(folder: Path) -> dict[str, dict]:
    path = folder / "manifest.json"
    if not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return {entry["path"]: entry for entry in data.get("documents", [])}


def read_questions(path: str | Path) -> list[dict]:
    """The question set of a knowledge base (``questions.jsonl``, one JSON object a line, or a
    ``.json`` list)."""
    path = Path(path)
    if path.is_dir():
        path = path / "questions.jsonl"
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        return json.loads(text)
    return [json.loads(line) for line in text.splitlines() if line.strip()]
