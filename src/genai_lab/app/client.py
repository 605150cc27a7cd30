"""Talk to the service from Python, and run it in the background.

- :func:`stream_chat` yields the Server-Sent Events of one ``POST /api/chat`` as ``(event, data)``
  (read with ``httpx-sse``: :func:`sse_events`); :func:`ask` collects them into a
  :class:`ChatResult`; :func:`add_document` adds a document.
- :class:`AppProcess` runs ``python -m genai_lab.app`` as a managed subprocess on a free loopback
  port (notebooks, the load test): ``with AppProcess() as app: ask(app.url, "...")``. It is stopped
  on exit, on error, and when this process dies.
- :func:`serve_in_thread` runs an app object with uvicorn in a thread of this process (tests).
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genai_lab.serving.process import ManagedProcess, free_port

if TYPE_CHECKING:  # pragma: no cover
    import httpx

JSON_HEADERS = {"content-type": "application/json"}
SSE_HEADERS = {"content-type": "text/event-stream"}


class ServiceError(RuntimeError):
    """The service answered with an HTTP error; ``status`` and ``message`` say which and why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status, self.message = status, message


@dataclass
class ChatResult:
    """One chat request's events, collected."""

    route: dict[str, Any] = field(default_factory=dict)
    answer: str = ""
    tokens: int = 0
    citations: list[dict[str, Any]] = field(default_factory=list)
    done: dict[str, Any] | None = None
    error: str | None = None
    events: list[str] = field(default_factory=list)


def sse_events(response: httpx.Response) -> Iterator[tuple[str, dict[str, Any]]]:
    """The ``(event, data)`` pairs of a Server-Sent Events response, read with ``httpx-sse``; ``data``
    is parsed as JSON. Works on a streamed response and on a read one (FastAPI's ``TestClient``).
    Events without data (keep-alives) are skipped, as the SSE specification says to."""
    from httpx_sse import EventSource

    for sse in EventSource(response).iter_sse():
        if sse.data:
            yield sse.event or "message", json.loads(sse.data)


def _error_message(response: httpx.Response) -> str:
    """The service's ``message`` from an error body, else the body's text."""
    try:
        body = response.json()
    except ValueError:
        return response.text
    return str(body.get("message", response.text)) if isinstance(body, dict) else response.text


def stream_chat(
    url: str, question: str, adapter: str | None = None, timeout: float = 300.0, client: httpx.Client | None = None
) -> Iterator[tuple[str, dict[str, Any]]]:
    """The events of one chat request: ``("route", {...})``, ``("token", {"text"})``, ...,
    ``("done", {...})`` or ``("error", {"message"})``. Raises :class:`ServiceError` on a 4xx/5xx."""
    import httpx
    from httpx_sse import connect_sse

    own = client is None
    client = client or httpx.Client(timeout=timeout)
    try:
        # json.dumps escapes non-ASCII (ensure_ascii), so even a lone surrogate can be sent.
        body = json.dumps({"question": question, "adapter": adapter}).encode("ascii")
        chat = f"{url.rstrip('/')}/api/chat"
        with connect_sse(client, "POST", chat, content=body, headers=dict(JSON_HEADERS)) as source:
            if source.response.status_code != 200:
                source.response.read()
                raise ServiceError(source.response.status_code, _error_message(source.response))
            yield from sse_events(source.response)
    finally:
        if own:
            client.close()


def ask(
    url: str, question: str, adapter: str | None = None, timeout: float = 300.0, client: httpx.Client | None = None
) -> ChatResult:
    """Send one question and collect the streamed events into a :class:`ChatResult`."""
    result = ChatResult()
    for name, data in stream_chat(url, question, adapter, timeout, client):
        result.events.append(name)
        if name == "route":
            result.route = data
        elif name == "token":
            result.answer += data["text"]
            result.tokens += 1
        elif name == "citations":
            result.citations = data["citations"]
        elif name == "done":
            result.done = data
        elif name == "error":
            result.error = data["message"]
    return result


def add_document(
    url: str,
    title: str,
    text: str,
    source: str | None = None,
    *,
    token: str | None = None,
    classification: str | None = None,
    timeout: float = 120.0,
) -> dict[str, Any]:
    """Add a document to the running service's index (``POST /api/documents``).

    ``token`` is the service's write token (sent as ``Authorization: Bearer <token>``; a service that
    requires one answers 401/403 without it, raised as :class:`ServiceError`); ``classification`` is
    one of the knowledge base's (the service's default when ``None``)."""
    import httpx

    fields: dict[str, Any] = {"title": title, "text": text, "source": source}
    if classification is not None:
        fields["classification"] = classification
    headers = dict(JSON_HEADERS)
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    body = json.dumps(fields).encode("ascii")
    response = httpx.post(f"{url.rstrip('/')}/api/documents", content=body, headers=headers, timeout=timeout)
    if response.status_code != 201:
        raise ServiceError(response.status_code, _error_message(response))
    result: dict[str, Any] = response.json()
    return result


def get_json(url: str, path: str, timeout: float = 10.0) -> dict[str, Any]:
    """``GET url + path`` as JSON; raises :class:`ServiceError` unless the service answers 200."""
    import httpx

    response = httpx.get(f"{url.rstrip('/')}{path}", timeout=timeout)
    if response.status_code != 200:
        raise ServiceError(response.status_code, _error_message(response))
    result: dict[str, Any] = response.json()
    return result


class AppProcess(ManagedProcess):
    """``python -m genai_lab.app`` in a subprocess on a free loopback port; see the module docstring.

    ``args`` are extra command-line options (``["--fake"]``, ``["--max-new-tokens", "32"]``); the
    log goes to a temporary file whose tail ends the error if the start fails. The lifecycle is
    :class:`genai_lab.serving.process.ManagedProcess`; ``health`` holds ``/healthz``'s answer."""

    label = "capstone app"
    health_path = "/healthz"

    def __init__(
        self,
        args: Sequence[str] = (),
        port: int | None = None,
        startup_timeout: float = 600.0,
        env: dict[str, str] | None = None,
    ) -> None:
        super().__init__(port=port or free_port(), startup_timeout=startup_timeout, env=env)
        self.args = list(args)
        self.health: dict[str, Any] = {}

    @property
    def log(self) -> Path | None:
        """The service's log file (``None`` before the first start)."""
        return self.log_path

    def command(self) -> list[str]:
        return [sys.executable, "-m", "genai_lab.app", "--port", str(self.port), *self.args]

    def wait_ready(self) -> AppProcess:
        super().wait_ready()
        self.health = get_json(self.url, "/healthz")
        return self

    def stop(self, grace: float = 15.0) -> None:
        super().stop(grace)


def serve_in_thread(app: Any) -> contextlib.AbstractContextManager[str]:
    """Run ``app`` with uvicorn on a free loopback port in a daemon thread, with the service's own
    timeouts and limits (:func:`genai_lab.app.server.running`); ``with serve_in_thread(app) as url:``."""
    from genai_lab.app.server import running

    return running(app)
