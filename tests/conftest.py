"""Shared fixtures. Tests never touch the network: HF_HUB_OFFLINE is forced here too."""

from __future__ import annotations

import os

import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture
def fast_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GENAI_LAB_FAST", "1")


@pytest.fixture
def full_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GENAI_LAB_FAST", raising=False)


# ---- a keyword retriever over three chunks, for the chain's tests (unit and integration) ---------
VOCAB = ["hub", "sensors", "battery", "years", "leave", "days", "price", "eur"]


class KeywordEmbeddings(Embeddings):
    """A deterministic bag-of-words embedding over a tiny vocabulary."""

    def _embed(self, text: str) -> list[float]:
        words = text.lower().replace("?", " ").replace(".", " ").split()
        vec = [float(sum(w.startswith(v) for w in words)) for v in VOCAB] + [0.01]
        norm = sum(x * x for x in vec) ** 0.5
        return [x / norm for x in vec]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self._embed(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._embed(text)


CHUNKS = [
    Document(page_content="The hub connects 64 sensors.",
             metadata={"source": "manual.pdf", "page": 1, "section": None}),
    Document(page_content="The battery lasts 3 years.", metadata={"source": "s1.pdf", "page": 2, "section": None}),
    Document(page_content="Employees get 27 days of leave.",
             metadata={"source": "leave.md", "page": None, "section": "Annual leave"}),
]


@pytest.fixture
def chunks() -> list[Document]:
    return list(CHUNKS)


@pytest.fixture
def retriever():
    from genai_lab.rag.chain import build_vectorstore

    store = build_vectorstore(CHUNKS, embedding=KeywordEmbeddings())
    return store.as_retriever(search_kwargs={"k": 2})
