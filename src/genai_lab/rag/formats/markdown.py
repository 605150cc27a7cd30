"""Markdown: one document per header section (``MarkdownHeaderTextSplitter``).

Images become their alt text and title, ``[Image: alt text (title)]`` (the pixels are not read);
pipe tables are rendered row by row with their headers, like CSV rows, so that a row keeps its
meaning when it is cut into a chunk. Both passes are linear in the length of the text: the image
pattern bounds every part of an image (alt text, address, title) and forbids brackets inside the alt
text, so a file of 64 KB of ``![`` cannot make the regex engine backtrack over the rest of the file
at every position.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from genai_lab.rag.formats.base import Unit, read_text

MARKDOWN_HEADERS = [("#", "h1"), ("##", "h2"), ("###", "h3")]

MAX_ALT, MAX_SRC, MAX_TITLE = 1000, 2048, 1000
_IMAGE = re.compile(
    rf"!\[([^\[\]\n]{{0,{MAX_ALT}}})\]"  # alt text: no brackets, one line, bounded
    rf"\(\s{{0,16}}([^\s()\[\]]{{1,{MAX_SRC}}})"  # the address
    rf"(?:\s{{1,16}}\"([^\"\n]{{0,{MAX_TITLE}}})\")?\s{{0,16}}\)"  # an optional "title"
)
_DELIMITER_CELL = re.compile(r":?-+:?")


def render_images(text: str) -> str:
    """Replace Markdown images by their alt text and title: ``[Image: alt (title)]``."""

    def repl(match: re.Match) -> str:
        alt, _src, image_title = match.groups()
        label = alt.strip() or "no alt text"
        return f"[Image: {label}{f' ({image_title})' if image_title else ''}]"

    return _IMAGE.sub(repl, text)


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _is_delimiter_row(line: str) -> bool:
    """``|---|:--:|`` : the line under a pipe table's header."""
    return "-" in line and all(_DELIMITER_CELL.fullmatch(cell) for cell in _cells(line))


def render_markdown_tables(text: str) -> str:
    """Render each pipe table row as ``header: value | header: value`` so a row keeps its headers."""
    lines = text.splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        is_table = i + 1 < len(lines) and lines[i].strip().startswith("|") and _is_delimiter_row(lines[i + 1])
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


def load_markdown(path: Path, source: str, title: str, info: dict) -> list[Unit]:
    """One unit per #, ## or ### section; ``section`` is the deepest header's text."""
    from langchain_text_splitters import MarkdownHeaderTextSplitter

    text = render_markdown_tables(render_images(read_text(path, source)))
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
