"""How a routing decision and the retrieved chunks are shown to people: readable reasons, citations."""

from __future__ import annotations

import re
from typing import Any


def readable(explanation: str, question: str) -> str:
    """The router's explanation with its fresh-information regex replaced by the words it matched
    in ``question``: ``needs fresh/web information: \\bcurrent(?:ly)?\\b`` -> ``... "current"``."""
    from genai_lab.serving.router import normalize

    def words(match: re.Match[str]) -> str:
        try:
            found = re.search(match.group(1), normalize(question))
        except re.error:
            return match.group(0)
        return f'needs fresh/web information: "{found.group(0)}"' if found else match.group(0)

    return re.sub(r"needs fresh/web information: (.+?)(?=; |$)", words, explanation)


def citation_list(docs: list[Any], answer: str) -> list[dict[str, Any]]:
    """The retrieved chunks as citations: number, source, page, section, title, a snippet, and
    whether the answer cites it (``[n]`` or its file name)."""
    from genai_lab.rag.chain import cited_sources

    cited = cited_sources(answer, docs)
    out = []
    for n, doc in enumerate(docs, 1):
        meta = doc.metadata
        text = " ".join(doc.page_content.split())
        out.append({
            "n": n,
            "source": meta.get("source"),
            "page": meta.get("page"),
            "section": meta.get("section"),
            "title": meta.get("title"),
            "snippet": text[:300] + ("…" if len(text) > 300 else ""),
            "cited": meta.get("source") in cited,
        })  # fmt: skip
    return out
