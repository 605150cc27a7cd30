"""The capstone client's Server-Sent Events (through ``httpx-sse``), its errors, and the load test's
memory samples, against in-memory stand-ins (``httpx.MockTransport``): no service, milliseconds."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import httpx
import pytest

from genai_lab.app.client import ServiceError, ask, sse_events, stream_chat
from genai_lab.app.loadtest import _rss_mb

STREAM = {"content-type": "text/event-stream; charset=utf-8"}
JSON = {"content-type": "application/json"}
BODY = (
    ": ping - keep-alive comment\r\n\r\n"
    'event: route\r\ndata: {"route": "internal"}\r\n\r\n'
    'event: token\ndata: {"text": "Hel"}\n\n'
    'event: token\ndata: {"text":\ndata: "lo"}\n\n'  # one JSON value over two data lines
    "event: ping\n\n"  # no data: not dispatched
    'data: {"plain": true}\n\n'  # no event name: "message"
    'event: done\ndata: {"latency_ms": 1.0}\n\n'
)


def service(status: int = 200, body: bytes = BODY.encode(), headers: dict | None = None) -> httpx.Client:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/api/chat" and json.loads(request.content)["question"]
        return httpx.Response(status, headers=headers or STREAM, content=body)

    return httpx.Client(transport=httpx.MockTransport(handler))


def test_events_of_a_read_response() -> None:
    events = list(sse_events(httpx.Response(200, headers=STREAM, content=BODY.encode())))
    assert events == [
        ("route", {"route": "internal"}),
        ("token", {"text": "Hel"}),
        ("token", {"text": "lo"}),
        ("message", {"plain": True}),
        ("done", {"latency_ms": 1.0}),
    ]


def test_ask_collects_a_stream() -> None:
    result = ask("http://app", "Hello?", client=service())
    assert result.answer == "Hello" and result.tokens == 2
    assert result.route == {"route": "internal"} and result.done == {"latency_ms": 1.0}
    assert result.events == ["route", "token", "token", "message", "done"]


@pytest.mark.parametrize(
    ("body", "headers", "message"),
    [
        (b'{"error": "busy", "message": "Busy; retry in a few seconds."}', JSON, "Busy; retry in a few seconds."),
        (b"upstream connect error", {"content-type": "text/plain"}, "upstream connect error"),
        (b'["not", "an", "object"]', JSON, '["not", "an", "object"]'),
    ],
)
def test_http_errors_raise_with_the_services_message(body: bytes, headers: dict, message: str) -> None:
    with pytest.raises(ServiceError) as info:
        list(stream_chat("http://app", "Hello?", client=service(429, body, headers)))
    assert info.value.status == 429 and info.value.message == message


def test_a_200_that_is_not_a_stream_is_an_error() -> None:
    from httpx_sse import SSEError

    with pytest.raises(SSEError, match="text/event-stream"):
        list(stream_chat("http://app", "Hello?", client=service(200, b"{}", JSON)))


def test_memory_samples_use_the_one_rss_measure() -> None:
    import psutil

    mine = _rss_mb(os.getpid(), "http://unused")
    assert mine is not None and abs(mine - psutil.Process().memory_info().rss / 2**20) < 64
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    assert _rss_mb(gone.pid, "http://unused") is None  # the service has exited: no sample, no crash
    assert _rss_mb(None, "http://127.0.0.1:9") is None  # nothing answers /metrics there


def test_memory_of_a_remote_service_comes_from_its_json_metrics() -> None:
    from genai_lab.app.client import serve_in_thread
    from genai_lab.app.service import default_app

    with serve_in_thread(default_app(fake=True)) as url:
        remote = _rss_mb(None, url)
    assert remote is not None and remote > 10  # MiB of this very process, read through /metrics.json


def test_add_document_sends_the_write_token(monkeypatch: pytest.MonkeyPatch) -> None:
    from genai_lab.app import client

    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.headers.get("authorization") != "Bearer s3cret-token":
            return httpx.Response(401, json={"message": "Adding documents needs 'Authorization: Bearer <token>'."})
        return httpx.Response(201, json={"source": "added/x.md", "chunks": 1})

    monkeypatch.setattr(httpx, "post", httpx.Client(transport=httpx.MockTransport(handler)).post)
    with pytest.raises(ServiceError) as info:
        client.add_document("http://app", "T", "text")
    assert info.value.status == 401 and "Bearer" in info.value.message
    added = client.add_document("http://app", "T", "text", "x.md", token="s3cret-token", classification="public")
    assert added == {"source": "added/x.md", "chunks": 1}
    assert json.loads(seen[-1].content) == {"title": "T", "text": "text", "source": "x.md", "classification": "public"}
