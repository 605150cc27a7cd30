"""The service's knowledge-base index: a FAISS vector store that grows without a restart.

Readers and the writer never see each other half-way:

- a request takes a **snapshot** (:meth:`KnowledgeIndex.snapshot`): a reference to the current
  vector store, which is never modified afterwards;
- :meth:`KnowledgeIndex.add_document` builds a **new** store (a copy of the current one plus the new
  chunks), writes it to disk, and only then swaps the reference. Writers are serialised by a lock.

On disk the index is one file, written to a temporary file beside it and renamed over the old one
(``os.replace``, atomic on POSIX). A crash between the write and the rename leaves the old file intact
and loadable (:meth:`KnowledgeIndex.load`), and the in-memory index unchanged. The file is LangChain's
``FAISS.serialize_to_bytes`` (a pickle): load only index files this service wrote.
"""

from __future__ import annotations

import os
import re
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from langchain_community.vectorstores import FAISS
    from langchain_core.documents import Document
    from langchain_core.embeddings import Embeddings

MAX_DOCUMENT_CHARS = 200_000
CHUNK_CHARS = 800
CHUNK_OVERLAP = 80


def atomic_write_bytes(path: Path, data: bytes, before_rename: Any = None) -> None:
    """Write ``data`` to a temporary file beside ``path``, fsync it, then rename it over ``path``.

    ``before_rename`` (a callable, for tests) runs between the write and the rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if before_rename is not None:
            before_rename()
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def slug(text: str) -> str:
    """``"Parking & bikes 2026"`` -> ``"parking-bikes-2026"`` (ASCII letters, digits, dashes)."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "document"


class KnowledgeIndex:
    """A thread-safe, persistent FAISS index over knowledge-base chunks (see the module docstring)."""

    def __init__(self, store: FAISS, path: Path | None = None) -> None:
        self._store = store
        self.path = Path(path) if path is not None else None
        self._lock = threading.Lock()
        self.before_rename: Any = None  # test hook: runs between writing the temp file and the rename
        self.added: list[str] = []

    # -- building and loading ----------------------------------------------------------------------
    @classmethod
    def from_chunks(
        cls, chunks: Sequence[Document], embedding: Embeddings | None = None, path: Path | None = None
    ) -> KnowledgeIndex:
        """Embed ``chunks`` (MiniLM with its disk cache by default) and save the index to ``path``."""
        from genai_lab.rag.chain import build_vectorstore

        store = build_vectorstore(chunks, embedding=embedding, use_cache=embedding is None)
        index = cls(store, path)
        index.save()
        return index

    @classmethod
    def from_knowledge_base(
        cls, folder: Path | None = None, embedding: Embeddings | None = None, path: Path | None = None
    ) -> KnowledgeIndex:
        """Load ``data/kb/`` (or ``folder``), one chunk per page or section, and index it."""
        from genai_lab.paths import data_dir
        from genai_lab.rag.chunking import split_by_section
        from genai_lab.rag.loaders import load_documents

        docs = load_documents(folder or data_dir() / "kb").documents
        return cls.from_chunks(split_by_section(docs), embedding=embedding, path=path)

    @classmethod
    def load(cls, path: Path, embedding: Embeddings | None = None) -> KnowledgeIndex:
        """Read an index file written by :meth:`save`."""
        from langchain_community.vectorstores import FAISS

        from genai_lab.rag.chain import minilm_embeddings

        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"No index file at {path}; build one with KnowledgeIndex.from_knowledge_base().")
        store = FAISS.deserialize_from_bytes(
            path.read_bytes(), embedding or minilm_embeddings(), allow_dangerous_deserialization=True
        )
        return cls(store, path)

    # -- reading -----------------------------------------------------------------------------------
    def snapshot(self) -> FAISS:
        """The current vector store; it never changes once handed out."""
        return self._store

    def retriever(self, k: int = 3, public_only: bool = False) -> Any:
        """A retriever over the current snapshot; ``public_only`` keeps only chunks of documents
        classified ``public`` (the context an external model may see)."""
        search: dict[str, Any] = {"k": k}
        if public_only:
            search.update(filter={"classification": "public"}, fetch_k=max(50, 10 * k))
        return self.snapshot().as_retriever(search_kwargs=search)

    def __len__(self) -> int:
        return int(self._store.index.ntotal)

    def sources(self) -> set[str]:
        return {d.metadata.get("source", "?") for d in self._store.docstore._dict.values()}  # type: ignore[attr-defined]

    # -- writing -----------------------------------------------------------------------------------
    def save(self) -> None:
        """Write the current store to :attr:`path` (temp file, then rename); no-op without a path."""
        if self.path is not None:
            atomic_write_bytes(self.path, self._store.serialize_to_bytes(), self.before_rename)

    def add_document(
        self, title: str, text: str, source: str | None = None, classification: str = "internal"
    ) -> dict[str, Any]:
        """Chunk and embed one document, then publish a new index that includes it.

        The new store is saved to disk before it replaces the old one in memory: if saving fails,
        neither the file nor the in-memory index changes, and the exception propagates."""
        from langchain_community.vectorstores import FAISS
        from langchain_core.documents import Document

        from genai_lab.rag.chunking import split_recursive

        title, text = title.strip(), text.strip()
        if not title or not text:
            raise ValueError("A document needs a non-empty title and text.")
        if len(text) > MAX_DOCUMENT_CHARS:
            limit = MAX_DOCUMENT_CHARS
            raise ValueError(f"The document has {len(text):,} characters; the limit is {limit:,}. Split it.")
        source = source or f"added/{slug(title)}.md"
        doc = Document(
            page_content=f"# {title}\n{text}",
            metadata={"source": source, "page": None, "section": title, "title": title,
                      "classification": classification, "type": "added"},
        )
        chunks = split_recursive([doc], CHUNK_CHARS, CHUNK_OVERLAP)
        with self._lock:
            old = self._store
            embeddings = old.embeddings
            if embeddings is None:  # a store built from a bare embedding function cannot embed new chunks
                raise TypeError("The index has no Embeddings object; build it with an Embeddings instance.")
            new = FAISS.deserialize_from_bytes(
                old.serialize_to_bytes(), embeddings, allow_dangerous_deserialization=True
            )
            new.add_documents(chunks)
            if self.path is not None:
                atomic_write_bytes(self.path, new.serialize_to_bytes(), self.before_rename)
            self._store = new  # publish: requests that start from now on see the document
            self.added.append(source)
            total = int(new.index.ntotal)
        return {"source": source, "title": title, "chunks": len(chunks), "total_chunks": total}
