"""The HTTP layer: thin FastAPI routers over :class:`~genai_lab.app.chat.ChatService` and
:class:`~genai_lab.app.documents.DocumentWriter`. Only :func:`~genai_lab.app.service.create_app` imports
this module; FastAPI resolves the endpoints' annotations from its globals, hence the imports at the top.

- :func:`chat_router`: ``POST /api/chat`` — validate, admit, then stream the service's events as
  Server-Sent Events (the generation is cancelled when the client goes away);
- :func:`documents_router`: ``POST /api/documents`` — token, checks, then the index (in a thread);
- :func:`ops_router`: ``GET /healthz`` (``"backend"``: ``vllm``, ``in_process`` or ``fake``), ``GET /metrics``
  (Prometheus text; ``?format=json`` for JSON)
  and ``GET /metrics.json``;
- :func:`page_router`: ``GET /``, the page, with a Content-Security-Policy that allows exactly its own
  inline script and style (by hash) and nothing from elsewhere.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import re
import time
from collections.abc import AsyncGenerator, AsyncIterator
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, Header, Request
from sse_starlette.sse import EventSourceResponse
from starlette.background import BackgroundTask
from starlette.responses import HTMLResponse, Response

from genai_lab.app.config import STATIC_DIR
from genai_lab.app.metrics import CONTENT_TYPE
from genai_lab.app.schemas import ChatRequest, DocumentRequest, fix_surrogates
from genai_lab.app.startup import BACKEND_NAMES
from genai_lab.audit import new_request_id

if TYPE_CHECKING:  # pragma: no cover
    from genai_lab.app.chat import ChatEvent, ChatService
    from genai_lab.app.documents import DocumentWriter

def _request_id(request: Request) -> str:
    return str(getattr(request.state, "request_id", None) or new_request_id())


def sse_data(data: dict[str, Any]) -> str:
    """An event's JSON: never NaN, and strings that cannot be UTF-8 (a file name with undecodable
    bytes, a lone surrogate) become U+FFFD instead of ending the stream mid-way."""
    return fix_surrogates(json.dumps(data, ensure_ascii=False, allow_nan=False, default=str))


async def _as_sse(events: AsyncGenerator[ChatEvent, None]) -> AsyncIterator[dict[str, str]]:
    async with contextlib.aclosing(events):
        async for name, data in events:
            yield {"event": name, "data": sse_data(data)}


def chat_router(service: ChatService) -> APIRouter:
    router = APIRouter()

    @router.post("/api/chat")
    async def chat(body: ChatRequest, request: Request) -> EventSourceResponse:
        start = time.perf_counter()
        question = service.validate(body.question, body.adapter)
        ticket = await service.admit()
        events = service.stream(ticket, question, body.adapter, _request_id(request), start)
        # The background task releases the slot even if the stream never starts (client gone at once).
        return EventSourceResponse(_as_sse(events), background=BackgroundTask(ticket.release), ping=15)

    return router


def documents_router(writer: DocumentWriter) -> APIRouter:
    def authorized(authorization: str | None = Header(default=None)) -> None:
        writer.authorize(authorization)  # before the body is even validated: 403/401 first

    router = APIRouter()

    @router.post("/api/documents", status_code=201, dependencies=[Depends(authorized)])
    async def add_document(body: DocumentRequest, authorization: str | None = Header(default=None)) -> dict[str, Any]:
        return await asyncio.to_thread(writer.add, body, authorization)

    return router


def ops_router(service: ChatService) -> APIRouter:
    router = APIRouter()

    @router.get("/healthz")
    async def healthz(request: Request) -> dict[str, Any]:
        config = service.config
        backend = service.models["internal"].backend
        return {
            "status": "ok",
            "backend": BACKEND_NAMES.get(backend, backend),  # which backend answers: vllm, in_process or fake
            **dict(getattr(request.app.state, "backend_info", {})),  # why it does (reason, the managed server)
            "index_chunks": len(service.index),
            "models": {route: slot.label for route, slot in service.models.items()},
            "adapters": sorted(service.adapters),
            "limits": {"max_question_chars": config.max_question_chars, "max_concurrency": config.max_concurrency,
                       "max_queue": config.max_queue},
        }  # fmt: skip

    def snapshot() -> dict[str, Any]:
        snap = service.metrics.snapshot()
        snap["index_chunks"] = len(service.index)
        snap["admitted"] = service.gate.admitted
        return snap

    @router.get("/metrics.json")
    async def metrics_json() -> dict[str, Any]:
        return snapshot()

    @router.get("/metrics", response_model=None)
    async def metrics(format: str = "prometheus") -> Any:
        if format == "json":
            return snapshot()
        return Response(service.metrics.prometheus(), media_type=CONTENT_TYPE)

    return router


def content_security_policy(html: str) -> str:
    """A CSP for ``html``: its inline ``<script>`` and ``<style>`` blocks by SHA-256, requests to this
    origin only, no frames, no plugins, no form posts elsewhere."""

    def hashes(tag: str) -> str:
        blocks = re.findall(rf"<{tag}>(.*?)</{tag}>", html, re.S)
        return " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(b.encode()).digest()).decode()}'" for b in blocks)

    return (
        f"default-src 'none'; script-src {hashes('script')}; style-src {hashes('style')}; connect-src 'self'; "
        "img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )


def page_router() -> APIRouter:
    html = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    headers = {"Content-Security-Policy": content_security_policy(html), "X-Frame-Options": "DENY"}
    router = APIRouter()

    @router.get("/", include_in_schema=False)
    async def page() -> HTMLResponse:
        return HTMLResponse(html, headers=headers)

    return router
