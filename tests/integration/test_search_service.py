"""The search service as a real process: the router's confidential requests never reach it.

The evidence is the service's own request log, written by the other process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from genai_lab.search import LocalSearch, SearchServer, search_transport
from genai_lab.serving.router import EXTERNAL, INTERNAL, Endpoint, Router, RouterConfig, RouterPolicy

MANIFEST = Path(__file__).parents[1] / "fixtures" / "kb" / "manifest.json"
PAGES = [
    {"_id": "s1", "title": "Sleep and memory", "text": "Sleep consolidates memory after learning."},
    {"_id": "s2", "title": "Football results", "text": "The home side won the final 2-1 last night."},
]
CONFIDENTIAL = [
    "CONFIDENTIAL: search the web for news on the Merger Term Sheet Orion",
    "What is the latest news on Project Nightjar?",
    "Look up today: salary bands 2025 for engineers",
]
PUBLIC = ["Who won the football final last night?", "What is the latest research on sleep and memory?"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("search")
    corpus = folder / "corpus.jsonl"
    corpus.write_text("".join(json.dumps(p) + "\n" for p in PAGES), encoding="utf-8")
    with SearchServer(corpus=corpus, request_log=folder / "requests.jsonl") as running:
        yield running


def test_confidential_requests_never_reach_the_search_service(server, tmp_path):
    sent: list[str] = []

    def inner(endpoint, messages, options):
        sent.append(endpoint.name)
        return "ok [1]"

    config = RouterConfig(Endpoint(INTERNAL, "http://in/v1", "m"), Endpoint(EXTERNAL, "http://out/v1", "m"))
    router = Router(RouterPolicy.from_knowledge_base(MANIFEST), config, tmp_path / "audit.jsonl",
                    transport=search_transport(LocalSearch(server.url), inner))
    for text in CONFIDENTIAL + PUBLIC:
        router.complete(text)
    assert sent == [INTERNAL] * len(CONFIDENTIAL) + [EXTERNAL] * len(PUBLIC)
    assert server.queries() == PUBLIC, "the service's own log shows exactly the public questions"
    top = LocalSearch(server.url).search("football final", k=1)
    assert top[0].title == "Football results"
