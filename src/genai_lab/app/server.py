"""Serving the app with uvicorn, hardened against slow clients ("slowloris").

uvicorn closes an *idle* keep-alive connection after ``timeout_keep_alive``, but it waits forever for
a request whose head (request line and headers) arrives a byte at a time, or never. So:

- :class:`GuardedH11Protocol` (uvicorn's h11 protocol) gives every request head ``header_timeout_s``
  seconds from its first byte (or from the connection's opening), then answers 408 and closes;
- h11 refuses a head over ``max_header_bytes`` (``h11_max_incomplete_event_size``);
- the body has its own deadline, enforced by :class:`~genai_lab.app.middleware.BodyGuard`.

:func:`uvicorn_config` puts these together from :class:`~genai_lab.app.config.AppConfig`;
:func:`running` serves an app in a background thread on a free loopback port (tests, notebooks).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import threading
import time
from collections.abc import Iterator
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from genai_lab.app.config import AppConfig
from genai_lab.serving.server import LOOPBACK, free_port

log = logging.getLogger("genai_lab.app")


def _timeout_response(seconds: float) -> bytes:
    body = json.dumps({
        "error": "header_timeout",
        "message": f"The request line and headers did not arrive within {seconds:g} s. Send them at once.",
    }).encode()  # fmt: skip
    head = (
        "HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for each request head (see the module docstring)."""

    header_timeout_s: float = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timer: asyncio.TimerHandle | None = None

    def _arm(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self.header_timeout_s, self._head_timeout)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self.conn.their_state is h11.IDLE:  # a new request head starts (or continues)
            self._arm()
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:  # the head is complete
            self._disarm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _head_timeout(self) -> None:
        self._head_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            log.info("closed a connection from %s: no request head within %g s", self.client, self.header_timeout_s)
            self.transport.write(_timeout_response(self.header_timeout_s))
            self.transport.close()


def guarded_protocol(header_timeout_s: float) -> type[GuardedH11Protocol]:
    """:class:`GuardedH11Protocol` with ``header_timeout_s``."""
    return type("GuardedH11Protocol", (GuardedH11Protocol,), {"header_timeout_s": header_timeout_s})


def uvicorn_config(app: Any, host: str = LOOPBACK, port: int = 8000, config: AppConfig | None = None,
                   **options: Any) -> Any:  # fmt: skip
    """A ``uvicorn.Config`` for ``app`` with the timeouts and limits of ``config`` (default: the app's)."""
    import uvicorn

    config = config or getattr(getattr(app, "state", None), "config", None) or AppConfig()
    settings: dict[str, Any] = {
        "http": guarded_protocol(config.header_timeout_s),
        "timeout_keep_alive": max(1, math.ceil(config.keep_alive_s)),
        "h11_max_incomplete_event_size": config.max_header_bytes,
        "log_level": "warning",
        "timeout_graceful_shutdown": 5,
    }
    settings.update(options)
    return uvicorn.Config(app, host=host, port=port, **settings)


@contextlib.contextmanager
def running(app: Any, port: int | None = None, config: AppConfig | None = None) -> Iterator[str]:
    """Serve ``app`` (hardened, :func:`uvicorn_config`) on a free loopback port in a daemon thread;
    yields its URL and stops the server afterwards."""
    import uvicorn

    port = port or free_port()
    server = uvicorn.Server(uvicorn_config(app, LOOPBACK, port, config, lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://{LOOPBACK}:{port}"
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError(f"uvicorn did not start on {url}.")
            time.sleep(0.05)
        yield url
    finally:
        server.should_exit = True
        thread.join(10)
