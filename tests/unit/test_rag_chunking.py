"""Tests of genai_lab.rag.chunking; the token splitter is checked against LangChain's."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.documents import Document
from langchain_text_splitters import CharacterTextSplitter

from genai_lab.rag.chunking import (
    MAX_CHUNK_CHARS,
    check_chunk_params,
    chunk_documents,
    chunk_text,
    merge_by_source,
    split_by_characters,
    split_by_section,
    split_markdown,
    split_recursive,
    unique_ids,
)

TEXT = (
    "Brightwater makes sensors. The Hub H2 connects up to 64 sensors.\n\n"
    "The Lumen S1 battery lasts three years. Replace it below 15 percent.\n\n"
    "The Thermo T3 measures temperature with an accuracy of 0.2 C."
)


@settings(deadline=None)
@given(st.text(max_size=200), st.integers(1, 40), st.integers(0, 39))
def test_chunk_text_matches_langchain_character_splitter(text, size, overlap):
    if overlap >= size:
        with pytest.raises(ValueError, match="smaller than chunk_size"):
            chunk_text(text, size, overlap)
        return
    chunks = chunk_text(text, size, overlap)
    assert all(len(c) <= size for c in chunks)
    if text:
        assert "".join(c[overlap:] if i else c for i, c in enumerate(chunks)) == text
    reference = CharacterTextSplitter(
        separator="", chunk_size=size, chunk_overlap=overlap, strip_whitespace=False
    ).split_text(text)
    assert chunks == reference


@pytest.mark.parametrize(("size", "overlap"), [(10, 10), (10, 11), (0, 0), (10, -1)])
def test_bad_overlap_is_an_error(size, overlap):
    with pytest.raises(ValueError):
        check_chunk_params(size, overlap)
    with pytest.raises(ValueError):
        split_by_characters([Document(page_content=TEXT)], size, overlap)


def test_character_chunks_keep_metadata_and_ids():
    doc = Document(page_content=TEXT, metadata={"source": "a.md", "section": "Intro", "page": None})
    chunks = split_by_characters([doc], 50, 10)
    assert [c.metadata["chunk_index"] for c in chunks] == list(range(len(chunks)))
    assert all(c.metadata["source"] == "a.md" for c in chunks)
    assert chunks[1].metadata["chunk_id"] == "a.md#Intro#1"
    assert chunks[1].page_content == TEXT[40:90]
    assert chunks[1].metadata["start_index"] == 40


def test_recursive_respects_size_and_prefers_paragraphs():
    chunks = split_recursive([Document(page_content=TEXT, metadata={"source": "a"})], 80, 0)
    assert all(len(c.page_content) <= 80 for c in chunks)
    assert chunks[0].page_content == "Brightwater makes sensors. The Hub H2 connects up to 64 sensors."
    with pytest.raises(ValueError, match="length"):
        split_recursive([Document(page_content=TEXT)], 80, 0, length="words")


def test_markdown_and_section_splitting():
    md = Document(page_content="# T\nintro\n## A\nalpha\n## B\nbeta", metadata={"source": "t.md"})
    parts = split_markdown([md])
    assert [p.metadata["section"] for p in parts] == ["T", "A", "B"]
    assert parts[2].metadata["headers"] == "T > B"
    pages = [
        Document(page_content="p1", metadata={"source": "m.pdf", "page": 1}),
        Document(page_content="p2", metadata={"source": "m.pdf", "page": 2}),
        Document(page_content="more p2", metadata={"source": "m.pdf", "page": 2}),
    ]
    sections = split_by_section(pages)
    assert [s.page_content for s in sections] == ["p1", "p2\n\nmore p2"]
    merged = merge_by_source(pages)
    assert len(merged) == 1 and merged[0].metadata["page"] is None


def test_chunk_documents_dispatch():
    docs = [Document(page_content=TEXT, metadata={"source": "a"})]
    assert len(chunk_documents(docs, "characters", 100, 10)) == len(chunk_text(TEXT, 100, 10))
    with pytest.raises(ValueError, match="Unknown chunking method"):
        chunk_documents(docs, "sentences")


@pytest.mark.parametrize(("size", "overlap"), [(True, 0), (10, False), (10.0, 0)])
def test_bools_and_floats_are_not_sizes(size, overlap):
    with pytest.raises(ValueError, match="integer"):
        check_chunk_params(size, overlap)
    with pytest.raises(ValueError, match="integer"):
        chunk_documents([Document(page_content=TEXT)], "recursive", size, overlap)


def test_numpy_integers_are_sizes():
    import numpy as np

    assert len(split_by_characters([Document(page_content=TEXT)], np.int64(50), np.int64(0))) == 4


def _sections():
    """Two loaded units of one Markdown file whose sections share a header ("Overview"), as the
    loader returns them: the same source, the same section name."""
    meta = {"source": "kb/handbook.md", "type": "markdown"}
    return [
        Document(page_content="# Leave\n## Overview\nleave text", metadata={**meta, "section": "Overview"}),
        Document(page_content="# Travel\n## Overview\ntravel text", metadata={**meta, "section": "Overview"}),
    ]


@pytest.mark.parametrize("method", ["characters", "recursive", "markdown", "section"])
def test_chunk_ids_are_unique_and_stable(method):
    docs = _sections()
    first = [c.metadata["chunk_id"] for c in chunk_documents(docs, method, 20, 5)]
    again = [c.metadata["chunk_id"] for c in chunk_documents(_sections(), method, 20, 5)]
    assert len(set(first)) == len(first)
    assert first == again


def test_markdown_ids_count_per_source():
    chunks = split_markdown(_sections())
    assert [c.metadata["chunk_id"] for c in chunks] == [
        "kb/handbook.md#Overview#0",
        "kb/handbook.md#Overview#1",
    ]


def test_unique_ids_never_reuses_an_existing_id():
    chunks = [Document(page_content=str(i), metadata={"chunk_id": cid}) for i, cid in enumerate(["a", "a~2", "a"])]
    assert [c.metadata["chunk_id"] for c in unique_ids(chunks)] == ["a", "a~2", "a~3"]


@pytest.mark.parametrize("splitter", [split_markdown, split_by_section])
def test_a_giant_word_is_hard_split(splitter):
    word = "x" * 100_000
    doc = Document(page_content=f"# Title\n{word} end", metadata={"source": "w.md", "section": "Title"})
    chunks = splitter([doc])
    assert len(chunks) > 1
    assert all(len(c.page_content) <= MAX_CHUNK_CHARS for c in chunks)
    assert "".join(c.page_content for c in chunks).count("x") == 100_000  # nothing lost
    assert len({c.metadata["chunk_id"] for c in chunks}) == len(chunks)
    with pytest.raises(ValueError, match="integer"):
        splitter([doc], max_chars=True)


def test_data_kb_chunk_ids_are_unique():
    from genai_lab.paths import data_dir
    from genai_lab.rag.loaders import load_documents

    docs = load_documents(data_dir() / "kb").documents
    for method in ("characters", "recursive", "markdown", "section"):
        ids = [c.metadata["chunk_id"] for c in chunk_documents(docs, method, 256, 32)]
        assert len(ids) == len(set(ids)), method
