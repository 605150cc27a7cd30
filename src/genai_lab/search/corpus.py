"""The offline "web": a public corpus in BEIR's ``corpus.jsonl`` layout (``_id``, ``title``, ``text``).

The SciFact abstracts are the default (``genai_lab.paths.benchmark("scifact")``); any file of the
same layout works, e.g. a folder of public pages converted to JSON Lines.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from genai_lab.paths import benchmark


@dataclass(frozen=True)
class SearchDoc:
    """One page of the corpus; ``url`` is what an answer cites."""

    id: str
    title: str
    text: str
    url: str


def default_corpus() -> Path:
    """SciFact's ``corpus.jsonl`` from the benchmarks folder; a clear error when it is absent."""
    folder = benchmark("scifact", required=True)
    assert folder is not None  # required=True raises instead
    return folder / "corpus.jsonl"


def load_corpus(path: str | Path | None = None, url_prefix: str = "https://doi.org/scifact/") -> list[SearchDoc]:
    """Read ``path`` (a ``corpus.jsonl`` file or a folder holding one; default :func:`default_corpus`).

    Raises ``FileNotFoundError`` or ``ValueError`` naming the line when the file is not BEIR JSON Lines.
    """
    path = Path(path) if path is not None else default_corpus()
    if path.is_dir():
        path = path / "corpus.jsonl"
    if not path.is_file():
        raise FileNotFoundError(
            f"No search corpus at {path}. Give a BEIR corpus.jsonl (lines of _id, title, text), e.g. "
            "the SciFact one in the benchmarks folder (`make benchmarks`)."
        )
    docs: list[SearchDoc] = []
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                doc_id, title, text = str(row["_id"]), str(row.get("title", "")), str(row["text"])
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise ValueError(
                    f"{path}:{number} is not a BEIR corpus line with '_id' and 'text' ({exc})."
                ) from exc
            docs.append(SearchDoc(doc_id, title, text, url_prefix + doc_id))
    if not docs:
        raise ValueError(f"{path} holds no documents; the search service needs at least one.")
    return docs
