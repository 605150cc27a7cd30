"""ASGI middleware of the service, outermost first:

1. :class:`RequestContext` gives every request an id (``X-Request-ID``: the client's if it is a plain
   token, else a new one), counts each response by path and status, writes one server-log line per
   request, adds ``X-Frame-Options``/``X-Content-Type-Options``, and turns an unexpected exception into
   a 500 in the API's ``{error, message}`` shape with the request id (the traceback goes to the log);
2. :class:`HostCheck` refuses a ``Host`` header outside the configured hosts (Starlette's
   ``TrustedHostMiddleware`` decides; the refusal is a 400 in the API's shape);
3. :class:`BodyGuard` reads the body before the app does, counting the bytes **actually received**
   (``Content-Length`` may be absent — ``Transfer-Encoding: chunked`` — or false): 413 beyond
   ``max_body_bytes``, 408 when the body takes longer than ``body_timeout_s``. The app then gets the
   buffered body, and later messages (a disconnect) from the connection itself.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from genai_lab.app.errors import error_response, internal_error_message
from genai_lab.audit import new_request_id

if TYPE_CHECKING:  # pragma: no cover
    from fastapi import FastAPI
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from genai_lab.app.config import AppConfig
    from genai_lab.app.metrics import Metrics

log = logging.getLogger("genai_lab.app")
REQUEST_ID_HEADER = "X-Request-ID"
_PLAIN_ID = re.compile(rb"[A-Za-z0-9._-]{1,64}")
_CLOSE = {"Connection": "close"}  # after refusing a body, do not keep reading from this connection


def request_id_of(scope: Scope) -> str | None:
    """The id :class:`RequestContext` gave this request."""
    state = scope.get("state") or {}
    rid = state.get("request_id")
    return str(rid) if rid else None


class RequestContext:
    """Request id, status counting, log line, frame headers, and a 500 in the API's shape."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        from starlette.datastructures import MutableHeaders

        given = dict(scope.get("headers", [])).get(b"x-request-id", b"")
        rid = given.decode("ascii") if _PLAIN_ID.fullmatch(given) else new_request_id()
        scope.setdefault("state", {})["request_id"] = rid
        start, status = time.perf_counter(), 0

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = MutableHeaders(scope=message)
                headers[REQUEST_ID_HEADER] = rid
                headers.setdefault("X-Frame-Options", "DENY")
                headers.setdefault("X-Content-Type-Options", "nosniff")
                self.metrics.count_status(status, scope["path"])
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            log.exception("request %s: unhandled error on %s %s", rid, scope["method"], scope["path"])
            if not status:
                response = error_response(500, "internal_error", internal_error_message(rid))
                await response(scope, receive, send_with_headers)
        finally:
            ms = (time.perf_counter() - start) * 1000
            log.info("request %s: %s %s -> %s in %.1f ms", rid, scope["method"], scope["path"], status, ms)


class HostCheck:
    """Only the configured hosts (``TrustedHostMiddleware`` decides); a 400 in the API's shape otherwise."""

    def __init__(self, app: ASGIApp, allowed_hosts: Sequence[str]) -> None:
        self.app, self.allowed_hosts = app, list(allowed_hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        from starlette.middleware.trustedhost import TrustedHostMiddleware

        passed = False

        async def accepted(scope: Scope, receive: Receive, send: Send) -> None:
            nonlocal passed
            passed = True
            await self.app(scope, receive, send)

        async def refuse(message: Message) -> None:
            if passed:
                await send(message)
            elif message["type"] == "http.response.start":  # the middleware's plain-text 400: ours instead
                known = ", ".join(self.allowed_hosts)
                text = f"This service answers only for the hosts {known}; use one of them in the URL."
                response = error_response(400, "invalid_host", text)
                await response(scope, receive, send)

        checker = TrustedHostMiddleware(accepted, allowed_hosts=self.allowed_hosts, www_redirect=False)
        await checker(scope, receive, refuse)


class BodyGuard:
    """Reads the body with a byte limit and a deadline before the app runs (see the module docstring)."""

    def __init__(self, app: ASGIApp, max_bytes: int, timeout_s: float) -> None:
        self.app, self.max_bytes, self.timeout_s = app, max_bytes, timeout_s

    def _too_large(self, received: str) -> Any:
        return error_response(
            413, "body_too_large",
            f"The request body has {received} bytes; the limit is {self.max_bytes:,}. Send less.", _CLOSE,
        )  # fmt: skip

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers", [])).get(b"content-length", b"")
        if length.isdigit() and int(length) > self.max_bytes:  # refused before reading
            await self._too_large(f"{int(length):,}")(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout_s
        chunks: list[bytes] = []
        size = 0
        while True:
            try:
                message = await asyncio.wait_for(receive(), max(0.0, deadline - loop.time()))
            except TimeoutError:
                log.info("request %s: body not received within %.0f s", request_id_of(scope), self.timeout_s)
                text = f"The request body did not arrive within {self.timeout_s:g} s. Send it at once and retry."
                response = error_response(408, "body_timeout", text, _CLOSE)
                await response(scope, receive, send)
                return
            if message["type"] == "http.disconnect":
                return  # the client went away before sending its body: nothing to answer
            size += len(message.get("body", b""))
            if size > self.max_bytes:
                await self._too_large(f"more than {self.max_bytes:,}")(scope, receive, send)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        buffered: Message | None = {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        async def replay() -> Message:
            nonlocal buffered
            if buffered is not None:
                message, buffered = buffered, None
                return message
            return await receive()

        await self.app(scope, replay, send)


def install_middleware(app: FastAPI, metrics: Metrics, config: AppConfig) -> None:
    """Add the three middlewares (the last added is the outermost)."""
    app.add_middleware(BodyGuard, max_bytes=config.max_body_bytes, timeout_s=config.body_timeout_s)
    app.add_middleware(HostCheck, allowed_hosts=config.allowed_hosts)
    app.add_middleware(RequestContext, metrics=metrics)
