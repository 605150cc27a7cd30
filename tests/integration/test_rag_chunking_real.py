"""Tests of genai_lab.rag.chunking; the token splitter is checked against LangChain's."""

from __future__ import annotations

import pytest
from langchain_core.documents import Document

from genai_lab.rag.chunking import (
    split_by_tokens,
)

TEXT = (
    "Brightwater makes sensors. The Hub H2 connects up to 64 sensors.\n\n"
    "The Lumen S1 battery lasts three years. Replace it below 15 percent.\n\n"
)


@pytest.mark.real_model
def test_token_chunks_match_langchain_token_windows():
    from langchain_text_splitters.base import Tokenizer, split_text_on_tokens

    from genai_lab.rag.chunking import count_tokens, minilm_tokenizer

    tok = minilm_tokenizer()
    doc = Document(page_content=TEXT * 3, metadata={"source": "a.md"})
    chunks = split_by_tokens([doc], 24, 4)
    assert all(count_tokens(c.page_content) <= 24 for c in chunks)
    assert chunks[0].page_content.startswith("Brightwater makes")  # original case kept
    # LangChain's own token windows (what SentenceTransformersTokenTextSplitter runs), same tokenizer
    reference = split_text_on_tokens(
        text=doc.page_content,
        tokenizer=Tokenizer(
            chunk_overlap=4,
            tokens_per_chunk=24,
            decode=tok.decode,
            encode=lambda t: tok.encode(t, add_special_tokens=False),
        ),
    )
    assert len(chunks) == len(reference)
    # the library decodes WordPiece ids (lower case, spaces around punctuation); compare letters only
    squash = lambda s: "".join(ch for ch in s.lower() if ch.isalnum())  # noqa: E731
    assert [squash(c.page_content) for c in chunks] == [squash(r) for r in reference]


