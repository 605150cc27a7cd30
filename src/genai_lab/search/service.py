"""The search service: BM25 over a public corpus behind ``GET /search``, as a process of its own.

``python -m genai_lab.search --corpus FILE --port N --log FILE`` starts it on loopback. Every query
it receives is appended to its request log (JSON Lines: time, query, k, hits) before it answers, so
the log is the evidence of what left the router for the "web".
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from genai_lab.search.corpus import SearchDoc, load_corpus

MAX_QUERY_CHARS = 2_000
MAX_K = 20


def snippet(text: str, limit: int = 400) -> str:
    """The first ``limit`` characters of ``text``, cut at a word boundary."""
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut + " …"


def request_logger(path: str | Path) -> logging.Logger:
    """A logger that appends one JSON object per line to ``path`` (flushed per record)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    logger = logging.getLogger(f"genai_lab.search.requests.{path.resolve()}")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    if not logger.handlers:
        handler = logging.FileHandler(path, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
    return logger


def read_request_log(path: str | Path) -> list[dict[str, Any]]:
    """Every request the service logged, oldest first (an absent log: none)."""
    path = Path(path)
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def create_search_app(docs: Sequence[SearchDoc], log_path: str | Path) -> Any:
    """A FastAPI app serving BM25 search over ``docs``; each request is logged to ``log_path``."""
    from fastapi import FastAPI, HTTPException, Query

    from genai_lab.rag.bm25 import BM25Index

    index = BM25Index([d.id for d in docs], [f"{d.title}. {d.text}" for d in docs])
    by_id = {d.id: d for d in docs}
    log = request_logger(log_path)
    app = FastAPI(title="genai-lab search", docs_url=None, redoc_url=None)

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "documents": len(docs)}

    @app.get("/search")
    def search(q: str = Query(..., min_length=1), k: int = Query(5, ge=1, le=MAX_K)) -> dict[str, Any]:
        if len(q) > MAX_QUERY_CHARS:
            raise HTTPException(413, f"Query of {len(q)} characters; the limit is {MAX_QUERY_CHARS}.")
        hits = index.search([q], k=k)[0]
        entry = {"time": _dt.datetime.now(_dt.UTC).isoformat(timespec="milliseconds"), "query": q, "k": k,
                 "hits": [doc_id for doc_id, _ in hits]}
        log.info(json.dumps(entry, ensure_ascii=False))
        results = [
            {"id": doc_id, "title": by_id[doc_id].title, "url": by_id[doc_id].url,
             "snippet": snippet(by_id[doc_id].text), "score": round(score, 4)}
            for doc_id, score in hits
        ]
        return {"query": q, "results": results}

    return app


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: serve the corpus on loopback until stopped."""
    import uvicorn

    parser = argparse.ArgumentParser(prog="python -m genai_lab.search", description=__doc__)
    parser.add_argument("--corpus", type=Path, default=None, help="BEIR corpus.jsonl (default: SciFact)")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1", choices=["127.0.0.1"], help="loopback only")
    parser.add_argument("--log", type=Path, required=True, help="JSON Lines request log")
    args = parser.parse_args(argv)
    if not 0 < args.port < 65536:
        parser.error(f"--port {args.port}: give a port between 1 and 65535")
    app = create_search_app(load_corpus(args.corpus), args.log)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
