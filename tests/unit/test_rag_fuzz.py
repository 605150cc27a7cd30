"""Fuzzing the loaders and chunkers (issue 14, item 9).

Two parts, bounded to run in seconds:

- ``hypothesis`` property tests: the Markdown renderers and the chunkers on arbitrary text, and
  ``load_documents`` on arbitrary bytes under each supported extension;
- a file-format corpus generated here at test time (never committed): valid PDFs made with fpdf2 and
  then mutated byte by byte, JSON, CSV and Markdown files built from hostile pieces. One folder load
  must never raise, every file must end up loaded or as a ``LoadError``, and the chunks of what
  loaded must keep the chunk invariants.

Seeds are fixed and hypothesis keeps no example database, so a run is reproducible and writes nothing.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langchain_core.documents import Document

from genai_lab.rag.chunking import (
    MAX_CHUNK_CHARS,
    split_by_characters,
    split_by_section,
    split_markdown,
    split_recursive,
)
from genai_lab.rag.loaders import FORMATS, load_documents, render_images, render_markdown_tables

FUZZ = settings(max_examples=100, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
MARKDOWN_PIECES = ["![", "](", ")", "[", "]", '"', "|", "-", ":", "#", "## ", "\n", " ", "x", "é", "`", "*", "\\"]
markdownish = st.lists(st.sampled_from(MARKDOWN_PIECES), max_size=300).map("".join)
any_text = st.one_of(st.text(max_size=400), markdownish)


# ------------------------------------------------------------------------------------------------
# invariants
# ------------------------------------------------------------------------------------------------
def check_chunks(chunks: list[Document], limit: int | None) -> None:
    """Ids unique and present, indices non-negative, text within the limit."""
    ids = [c.metadata["chunk_id"] for c in chunks]
    assert len(ids) == len(set(ids)), "duplicate chunk ids"
    for chunk in chunks:
        assert isinstance(chunk.page_content, str)
        assert chunk.metadata["chunk_index"] >= 0
        if limit is not None:
            assert len(chunk.page_content) <= limit


def check_all_chunkers(docs: list[Document], size: int = 64, overlap: int = 8) -> None:
    check_chunks(split_by_characters(docs, size, overlap), size)
    check_chunks(split_recursive(docs, size, overlap), size)
    check_chunks(split_markdown(docs, max_chars=size), size)
    check_chunks(split_by_section(docs, max_chars=size), size)


def check_every_file_accounted_for(folder: Path) -> None:
    result = load_documents(folder)  # must not raise
    files = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    loaded = {d.metadata["source"] for d in result.documents}
    failed = {e.path for e in result.errors}
    assert loaded | failed | set(result.skipped) == files
    assert not loaded & failed, "a file both loaded and failed"
    assert all(e.reason for e in result.errors)
    check_all_chunkers(result.documents)


# ------------------------------------------------------------------------------------------------
# properties
# ------------------------------------------------------------------------------------------------
@FUZZ
@given(any_text)
def test_markdown_renderers_never_raise_and_keep_plain_text(text):
    rendered = render_images(text)
    assert isinstance(render_markdown_tables(rendered), str)
    if "![" not in text:
        assert rendered == text


@FUZZ
@given(st.lists(any_text, min_size=1, max_size=4), st.integers(1, 80), st.integers(0, 79), st.booleans())
def test_chunkers_keep_their_invariants(texts, size, overlap, same_source):
    overlap = min(overlap, size - 1)
    docs = [
        Document(page_content=t, metadata={"source": "one.md" if same_source else f"{i}.md", "section": "S"})
        for i, t in enumerate(texts)
    ]
    chars = split_by_characters(docs, size, overlap)
    check_chunks(chars, size)
    windows = iter(chars)
    for doc in docs:  # the windows are slices of their document that cover it to its last character
        covered = 0
        for _ in split_by_characters([doc], size, overlap):
            chunk = next(windows)
            start = chunk.metadata["start_index"]
            assert chunk.page_content == doc.page_content[start : start + size]
            covered = start + len(chunk.page_content)
        assert covered == len(doc.page_content)
    check_chunks(split_recursive(docs, size, overlap), size)
    check_chunks(split_markdown(docs, max_chars=size), size)
    check_chunks(split_by_section(docs, max_chars=size), size)


@FUZZ
@given(st.sampled_from(sorted(FORMATS)), st.binary(max_size=600))
def test_load_documents_on_arbitrary_bytes(tmp_path_factory, suffix, data):
    folder = tmp_path_factory.mktemp("bytes")
    (folder / f"file{suffix}").write_bytes(data)
    (folder / "good.txt").write_text("a good file", encoding="utf-8")
    check_every_file_accounted_for(folder)


# ------------------------------------------------------------------------------------------------
# the generated corpus
# ------------------------------------------------------------------------------------------------
def valid_pdf(rng: random.Random) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_compression(rng.random() < 0.5)
    for _ in range(rng.randint(1, 2)):
        pdf.add_page()
        pdf.set_font("Helvetica", size=12)
        pdf.multi_cell(0, 8, " ".join(rng.choice(["Hub", "sensor", "leave", "25", "days", "(x)"]) for _ in range(30)))
    return bytes(pdf.output())


def mutate(data: bytes, rng: random.Random) -> bytes:
    """One to four random byte-level mutations: flip, delete, duplicate, insert hostile tokens, truncate."""
    buf = bytearray(data)
    tokens = [b"obj", b"endobj", b"stream", b"/Filter /FooDecode", b"<<", b">>", b"\x00" * 8, b"9999999999", b"R"]
    for _ in range(rng.randint(1, 4)):
        if not buf:
            break
        i = rng.randrange(len(buf))
        kind = rng.randrange(5)
        if kind == 0:
            buf[i] ^= 1 << rng.randrange(8)
        elif kind == 1:
            del buf[i : i + rng.randint(1, 64)]
        elif kind == 2:
            buf[i:i] = buf[i : i + rng.randint(1, 64)]
        elif kind == 3:
            buf[i:i] = rng.choice(tokens)
        else:
            del buf[i:]
    return bytes(buf)


def json_file(rng: random.Random) -> bytes:
    record = {"id": rng.randint(-5, 5), "name": rng.choice(["Hub", "", "é", "\u0000", "x" * 50]), "tags": [1, 2]}
    records = [record] * rng.randint(0, 3)
    kind = rng.randrange(6)
    if kind == 0:
        text = "[" * 50_000 + "]" * 50_000
    elif kind == 1:
        text = '[{"id": ' + "9" * 5000 + "}]"
    elif kind == 2:
        text = json.dumps({"records": records, "other": None})
    elif kind == 3:
        text = json.dumps(rng.choice([1, "x", None, True, 1.5, [], {}]))
    else:
        text = json.dumps(records)
    return mutate(text.encode(), rng) if rng.random() < 0.5 else text.encode()


def csv_file(rng: random.Random) -> bytes:
    cells = ["a", "b,c", '"q"', '"open', "line\nbreak", "", " ", "é", "x" * rng.choice([1, 140_000])]
    rows = [",".join(rng.choice(cells) for _ in range(3)) for _ in range(rng.randint(1, 6))]
    text = "name,amount,note\n" + "\n".join(rows) + rng.choice(["", "\n", "\r\n"])
    return mutate(text.encode(), rng) if rng.random() < 0.3 else text.encode()


def markdown_file(rng: random.Random) -> bytes:
    pieces = [*MARKDOWN_PIECES, "![alt](img.png)", '![a](b "t")', "| h | k |\n|---|---|\n| 1 | 2 |\n"]
    text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 400)))
    if rng.random() < 0.2:
        text += "![" * 20_000
    return text.encode("utf-8", "surrogatepass") if rng.random() < 0.9 else mutate(text.encode(), rng)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_generated_corpus_loads_without_raising(tmp_path, seed):
    rng = random.Random(seed)
    pdf = valid_pdf(rng)
    (tmp_path / "pdf").mkdir()
    (tmp_path / "pdf" / "valid.pdf").write_bytes(pdf)
    for i in range(25):
        (tmp_path / "pdf" / f"mutant_{i}.pdf").write_bytes(mutate(pdf, rng))
    for i in range(15):
        (tmp_path / f"data_{i}.json").write_bytes(json_file(rng))
        (tmp_path / f"table_{i}.csv").write_bytes(csv_file(rng))
        (tmp_path / f"note_{i}.md").write_bytes(markdown_file(rng))
    (tmp_path / "image.png").write_bytes(b"\x89PNG")
    (tmp_path / "unknown.docx").write_bytes(b"PK")
    check_every_file_accounted_for(tmp_path)
    result = load_documents(tmp_path)
    assert any(d.metadata["source"] == "pdf/valid.pdf" for d in result.documents)
    assert "image.png" in result.skipped
    assert "unknown.docx" in {e.path for e in result.errors}
    check_chunks(split_by_section(result.documents), MAX_CHUNK_CHARS)
