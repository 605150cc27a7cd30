"""Search backends with one interface: ``search(query, k) -> list[SearchResult]``.

- :class:`LocalSearch`: the course's search service (:mod:`.service`), the offline default.
- :class:`DuckDuckGoSearch`: a real web search through the ``ddgs`` package (``pip install ddgs``),
  for a user who is online. Not installed or tested offline.

:func:`search_backend_from_env` picks one from ``GENAI_LAB_SEARCH`` (``local`` or ``ddgs``) and
``GENAI_LAB_SEARCH_URL`` (the local service's address), so swapping is configuration, not code.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class SearchResult:
    """One hit: what the answer cites (``title``, ``url``) and reads (``snippet``)."""

    title: str
    url: str
    snippet: str


class SearchBackend(Protocol):
    def search(self, query: str, k: int = 5) -> list[SearchResult]: ...


class LocalSearch:
    """The search service at ``base_url`` (``http://127.0.0.1:<port>``)."""

    def __init__(self, base_url: str, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def search(self, query: str, k: int = 5) -> list[SearchResult]:
        import httpx

        try:
            response = httpx.get(f"{self.base_url}/search", params={"q": query, "k": k}, timeout=self.timeout)
        except httpx.HTTPError as exc:
            raise ConnectionError(
                f"The search service at {self.base_url} did not answer ({type(exc).__name__}). Start it "
                "with genai_lab.search.SearchServer or `python -m genai_lab.search --port N --log FILE`."
            ) from exc
        if response.status_code != 200:
            raise ConnectionError(f"The search service answered {response.status_code}: {response.text[:200]}")
        return [SearchResult(r["title"], r["url"], r["snippet"]) for r in response.json()["results"]]


class DuckDuckGoSearch:
    """A real web search through ``ddgs`` (online only; ``pip install ddgs``)."""

    def __init__(self, region: str = "wt-wt") -> None:
        self.region = region

    def search(self, query: str, k: int = 5) -> list[SearchResult]:
        try:
            from ddgs import DDGS
        except ImportError as exc:
            raise ImportError("GENAI_LAB_SEARCH=ddgs needs the ddgs package: pip install ddgs") from exc
        rows: list[dict[str, Any]] = DDGS().text(query, region=self.region, max_results=k)
        return [SearchResult(r.get("title", ""), r.get("href", ""), r.get("body", "")) for r in rows]


def search_backend_from_env(env: Mapping[str, str] | None = None) -> SearchBackend:
    """``GENAI_LAB_SEARCH=local`` (default; needs ``GENAI_LAB_SEARCH_URL``) or ``ddgs``."""
    env = os.environ if env is None else env
    kind = env.get("GENAI_LAB_SEARCH", "local").strip().lower()
    if kind == "ddgs":
        return DuckDuckGoSearch()
    if kind == "local":
        url = env.get("GENAI_LAB_SEARCH_URL")
        if not url:
            raise ValueError(
                "GENAI_LAB_SEARCH=local needs GENAI_LAB_SEARCH_URL (the search service, e.g. "
                "http://127.0.0.1:8100); start one with `python -m genai_lab.search --port 8100 --log search.jsonl`."
            )
        return LocalSearch(url)
    raise ValueError(f"GENAI_LAB_SEARCH={kind!r} is not understood: use 'local' or 'ddgs'.")
