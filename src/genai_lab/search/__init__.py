"""Web search for the external route (Part 2b): a real search service, a LangChain tool, an answer
that cites its results.

Offline, the "web" is a public corpus (the SciFact abstracts, 5,183 of them) served by a search
service that runs as its own process (:mod:`.service`, :class:`SearchServer`) and logs every query
it receives. Online, one setting swaps it for a real web search (``GENAI_LAB_SEARCH=ddgs``) with the
same interface (:mod:`.backends`). :mod:`.answer` turns results into a cited answer and plugs into
the router as a transport, so only a request the router sent outside can ever reach the search::

    with SearchServer(corpus="…/scifact/corpus.jsonl") as server:
        backend = LocalSearch(server.url)
        router = Router(policy, config, audit_log, transport=search_transport(backend))
"""

from genai_lab.search.answer import (
    SEARCH_SYSTEM_PROMPT,
    answer_with_search,
    attribute,
    citations_for,
    cited_numbers,
    format_results,
    search_messages,
    search_tool,
    search_transport,
)
from genai_lab.search.backends import (
    DuckDuckGoSearch,
    LocalSearch,
    SearchBackend,
    SearchResult,
    search_backend_from_env,
)
from genai_lab.search.corpus import SearchDoc, load_corpus
from genai_lab.search.server import SearchServer
from genai_lab.search.service import read_request_log, snippet

__all__ = [
    "SEARCH_SYSTEM_PROMPT",
    "DuckDuckGoSearch",
    "LocalSearch",
    "SearchBackend",
    "SearchDoc",
    "SearchResult",
    "SearchServer",
    "answer_with_search",
    "attribute",
    "cited_numbers",
    "citations_for",
    "format_results",
    "load_corpus",
    "read_request_log",
    "search_backend_from_env",
    "search_messages",
    "snippet",
    "search_tool",
    "search_transport",
]
