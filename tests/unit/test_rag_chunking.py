"""Tests of genai_lab.rag.chunking; the token splitter is checked against LangChain's."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.documents import Document
from langchain_text_splitters import CharacterTextSplitter

from genai_lab.rag.chunking import (
    check_chunk_params,
    chunk_documents,
    chunk_text,
    merge_by_source,
    split_by_characters,
    split_by_section,
    split_markdown,
    split_recursive,
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
