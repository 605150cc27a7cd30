"""Cut loaded documents into chunks for embedding and retrieval.

Five ways, each returning LangChain ``Document`` chunks that keep their parent's metadata and add
``chunk_index``, ``start_index`` (a character offset into the parent) and a stable ``chunk_id``:

- :func:`split_by_characters`: a fixed window of characters with overlap (our own, the lab's code;
  checked against ``CharacterTextSplitter``);
- :func:`split_by_tokens`: a fixed window of tokens of the embedding model's own tokenizer
  (MiniLM's WordPiece), so that a chunk of 256 tokens is exactly what MiniLM can see;
- :func:`split_recursive`: LangChain's ``RecursiveCharacterTextSplitter`` (paragraphs, then lines,
  then words), measured in characters or in MiniLM tokens;
- :func:`split_markdown`: LangChain's ``MarkdownHeaderTextSplitter`` on whole Markdown text;
- :func:`split_by_section`: one chunk per page (PDF) or section/record/row (the other formats),
  the units :func:`genai_lab.rag.loaders.load_documents` already returns.

The last two follow the document's structure, but a section longer than :data:`MAX_CHUNK_CHARS` is
still cut (at paragraphs, lines, words, and inside a word as a last resort), so one giant section
cannot become one giant chunk. Every chunker returns unique ``chunk_id`` values: a repeat (two
sections with the same title in one file) gets ``~2``, ``~3``, ... in document order.

:func:`chunk_documents` picks one by name. Sizes are integers (a bool is not a size), and an overlap
that is not smaller than the chunk size would never advance, so it is an error everywhere.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from langchain_core.documents import Document
    from transformers import PreTrainedTokenizerBase

METHODS = ("characters", "tokens", "recursive", "markdown", "section")
MAX_CHUNK_CHARS = 2000  # the "markdown" and "section" chunkers cut a longer section into pieces this long
_UNIT_KEYS = ("page", "section", "row", "record", "images", "headers")  # metadata of one loaded unit


def _is_int(value: object) -> bool:
    """An integer, and not a bool (``True`` is an ``int`` to Python, never a size to us)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_chunk_params(chunk_size: int, chunk_overlap: int) -> None:
    """Raise ``ValueError`` unless ``0 <= chunk_overlap < chunk_size`` (both integers, not bools)."""
    if not _is_int(chunk_size) or chunk_size <= 0:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}.")
    if not _is_int(chunk_overlap) or chunk_overlap < 0:
        raise ValueError(f"chunk_overlap must be a non-negative integer, got {chunk_overlap!r}.")
    if chunk_overlap >= chunk_size:
        raise ValueError(
            f"chunk_overlap ({chunk_overlap}) must be smaller than chunk_size ({chunk_size}); "
            "otherwise the window never moves forward. A common choice is 10-20% of chunk_size."
        )


def window_starts(length: int, chunk_size: int, chunk_overlap: int) -> list[int]:
    """Start offsets of fixed windows over a sequence of ``length`` items. Consecutive windows share
    ``chunk_overlap`` items; the last window ends at the end of the sequence."""
    check_chunk_params(chunk_size, chunk_overlap)
    step = chunk_size - chunk_overlap
    starts = list(range(0, max(length - chunk_overlap, 1), step))
    return starts if length else []


def chunk_text(text: str, chunk_size: int, chunk_overlap: int = 0) -> list[str]:
    """Cut ``text`` into windows of ``chunk_size`` characters, consecutive windows sharing
    ``chunk_overlap`` characters. Every character is in some chunk."""
    return [text[s : s + chunk_size] for s in window_starts(len(text), chunk_size, chunk_overlap)]


# ------------------------------------------------------------------------------------------------
def _chunk(parent: Document, text: str, index: int, start: int, **extra: Any) -> Document:
    from langchain_core.documents import Document

    meta = dict(parent.metadata)
    unit = meta.get("page") or meta.get("section") or ""
    meta.update(chunk_index=index, start_index=start, **extra)
    meta["chunk_id"] = f"{meta.get('source', '?')}#{unit}#{index}"
    return Document(page_content=text, metadata=meta)


def unique_ids(chunks: list[Document]) -> list[Document]:
    """Make every ``chunk_id`` unique, in place: the first chunk keeps its id, a later chunk with the
    same id gets ``~2``, ``~3``, ... in order. Ids stay stable: the same documents give the same ids."""
    seen: dict[str, int] = {}
    taken = {c.metadata["chunk_id"] for c in chunks}
    for chunk in chunks:
        base = chunk.metadata["chunk_id"]
        count = seen.get(base, 0) + 1
        seen[base] = count
        if count > 1:
            candidate = f"{base}~{count}"
            while candidate in taken:
                count += 1
                candidate = f"{base}~{count}"
            seen[base] = count
            taken.add(candidate)
            chunk.metadata["chunk_id"] = candidate
    return chunks


def _cap(text: str, max_chars: int) -> list[tuple[int, str]]:
    """``text`` as ``(offset, piece)`` pairs of at most ``max_chars`` characters: cut at paragraphs,
    lines, then words (LangChain's recursive splitter), and inside a word longer than the limit."""
    if len(text) <= max_chars:
        return [(0, text)]
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(chunk_size=max_chars, chunk_overlap=0, add_start_index=True)
    out: list[tuple[int, str]] = []
    for piece in splitter.create_documents([text]):
        start = int(piece.metadata.get("start_index", 0))
        for offset in range(0, len(piece.page_content), max_chars):  # a guarantee, whatever the splitter did
            out.append((start + offset, piece.page_content[offset : offset + max_chars]))
    return out


def split_by_characters(docs: Sequence[Document], chunk_size: int, chunk_overlap: int = 0) -> list[Document]:
    """Fixed character windows over each document (see :func:`chunk_text`)."""
    check_chunk_params(chunk_size, chunk_overlap)
    out = []
    for doc in docs:
        starts = window_starts(len(doc.page_content), chunk_size, chunk_overlap)
        for i, s in enumerate(starts):
            out.append(_chunk(doc, doc.page_content[s : s + chunk_size], i, s))
    return unique_ids(out)


@lru_cache(maxsize=1)
def minilm_tokenizer() -> PreTrainedTokenizerBase:
    """MiniLM's own (uncased WordPiece) tokenizer, from the local model folder."""
    from transformers import AutoTokenizer

    from genai_lab.models import minilm_dir

    return AutoTokenizer.from_pretrained(minilm_dir())


def count_tokens(text: str, tokenizer: PreTrainedTokenizerBase | None = None) -> int:
    """Number of tokens of ``text`` without the special tokens ([CLS], [SEP])."""
    tokenizer = tokenizer or minilm_tokenizer()
    return len(tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"])


def split_by_tokens(
    docs: Sequence[Document],
    chunk_size: int,
    chunk_overlap: int = 0,
    tokenizer: PreTrainedTokenizerBase | None = None,
) -> list[Document]:
    """Fixed windows of ``chunk_size`` tokens of the embedding model's tokenizer.

    The chunk text is cut from the original string at the tokens' character offsets, so it keeps
    its case and spacing (decoding the WordPiece ids would lower-case it). MiniLM reads at most 256
    tokens (its ``max_seq_length``): a longer chunk is truncated when embedded.
    """
    check_chunk_params(chunk_size, chunk_overlap)
    tokenizer = tokenizer or minilm_tokenizer()
    if not getattr(tokenizer, "is_fast", False):
        raise TypeError("split_by_tokens needs a fast tokenizer (it uses character offsets).")
    out = []
    for doc in docs:
        text = doc.page_content
        enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
        offsets = enc["offset_mapping"]
        for i, s in enumerate(window_starts(len(offsets), chunk_size, chunk_overlap)):
            window = offsets[s : s + chunk_size]
            start, end = window[0][0], window[-1][1]
            out.append(_chunk(doc, text[start:end], i, start, n_tokens=len(window)))
    return unique_ids(out)


def split_recursive(
    docs: Sequence[Document],
    chunk_size: int,
    chunk_overlap: int = 0,
    length: str = "characters",
    tokenizer: PreTrainedTokenizerBase | None = None,
) -> list[Document]:
    """LangChain's ``RecursiveCharacterTextSplitter``: split on paragraphs, then lines, then words,
    and merge the pieces up to ``chunk_size``, measured in ``length`` = "characters" or "tokens"
    (MiniLM's tokenizer)."""
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    check_chunk_params(chunk_size, chunk_overlap)
    if length == "characters":
        length_function: Callable[[str], int] = len
    elif length == "tokens":
        tok = tokenizer or minilm_tokenizer()
        length_function = lambda t: count_tokens(t, tok)  # noqa: E731
    else:
        raise ValueError(f"length must be 'characters' or 'tokens', got {length!r}.")
    splitter = RecursiveCharacterTextSplitter(
        chunk_size=chunk_size,
        chunk_overlap=chunk_overlap,
        length_function=length_function,
        add_start_index=True,
    )
    out = []
    for doc in docs:
        for i, piece in enumerate(splitter.split_documents([doc])):
            out.append(_chunk(doc, piece.page_content, i, piece.metadata.get("start_index", -1)))
    return unique_ids(out)


def split_markdown(docs: Sequence[Document], max_chars: int = MAX_CHUNK_CHARS) -> list[Document]:
    """Split whole Markdown documents at their #, ## and ### headers (LangChain's
    ``MarkdownHeaderTextSplitter``); ``section`` becomes the deepest header. A section longer than
    ``max_chars`` is cut into pieces of at most ``max_chars`` (paragraphs, lines, words, then inside
    a word). ``chunk_index`` counts the chunks of each source, so ids are unique."""
    from langchain_text_splitters import MarkdownHeaderTextSplitter

    from genai_lab.rag.loaders import MARKDOWN_HEADERS

    check_chunk_params(max_chars, 0)
    splitter = MarkdownHeaderTextSplitter(MARKDOWN_HEADERS, strip_headers=False)
    out = []
    counters: dict[str, int] = {}
    for doc in docs:
        source = str(doc.metadata.get("source", "?"))
        for piece in splitter.split_text(doc.page_content):
            headers = [piece.metadata[k] for _, k in MARKDOWN_HEADERS if k in piece.metadata]
            start = max(doc.page_content.find(piece.page_content[:40]), 0)
            for offset, text in _cap(piece.page_content, max_chars):
                index = counters.get(source, 0)
                counters[source] = index + 1
                chunk = _chunk(doc, text, index, start + offset, headers=" > ".join(headers))
                chunk.metadata["section"] = headers[-1] if headers else doc.metadata.get("section")
                chunk.metadata["chunk_id"] = f"{source}#{chunk.metadata['section']}#{index}"
                out.append(chunk)
    return unique_ids(out)


def split_by_section(docs: Sequence[Document], max_chars: int = MAX_CHUNK_CHARS) -> list[Document]:
    """One chunk per page or section: the loaded units (PDF pages, Markdown sections, JSON records,
    CSV rows) as they are, with chunk ids. Units of the same source and page/section are joined; a
    unit longer than ``max_chars`` is cut into pieces of at most ``max_chars``."""
    from langchain_core.documents import Document

    check_chunk_params(max_chars, 0)
    groups: dict[tuple, list[Document]] = {}
    for doc in docs:
        key = (doc.metadata.get("source"), doc.metadata.get("page"), doc.metadata.get("section"))
        groups.setdefault(key, []).append(doc)
    out = []
    for parts in groups.values():
        merged = Document(page_content="\n\n".join(p.page_content for p in parts), metadata=dict(parts[0].metadata))
        for i, (offset, text) in enumerate(_cap(merged.page_content, max_chars)):
            out.append(_chunk(merged, text, i, offset))
    return unique_ids(out)


def merge_by_source(docs: Sequence[Document]) -> list[Document]:
    """Join the loaded units of each file into one document per file (for sweeps that chunk whole
    files); keeps the first unit's metadata minus page and section."""
    from langchain_core.documents import Document

    groups: dict[str, list[Document]] = {}
    for doc in docs:
        groups.setdefault(doc.metadata.get("source", "?"), []).append(doc)
    out = []
    for source, parts in groups.items():
        meta = {k: v for k, v in parts[0].metadata.items() if k not in _UNIT_KEYS}
        meta.update(source=source, page=None, section=None)
        out.append(Document(page_content="\n\n".join(p.page_content for p in parts), metadata=meta))
    return out


def chunk_documents(
    docs: Sequence[Document], method: str = "recursive", chunk_size: int = 256, chunk_overlap: int = 32
) -> list[Document]:
    """Chunk ``docs`` by ``method`` (one of :data:`METHODS`). ``chunk_size``/``chunk_overlap`` are
    characters for "characters" and "recursive", tokens for "tokens", and unused by "markdown" and
    "section"."""
    if method == "characters":
        return split_by_characters(docs, chunk_size, chunk_overlap)
    if method == "tokens":
        return split_by_tokens(docs, chunk_size, chunk_overlap)
    if method == "recursive":
        return split_recursive(docs, chunk_size, chunk_overlap)
    if method == "markdown":
        return split_markdown(docs)
    if method == "section":
        return split_by_section(docs)
    raise ValueError(f"Unknown chunking method {method!r}; choose one of {', '.join(METHODS)}.")
