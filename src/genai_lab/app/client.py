"""Talk to the service from Python, and run it in the background.

- :func:`stream_chat` yields the Server-Sent Events of one ``POST /api/chat`` as ``(event, data)``;
  :func:`ask` collects them into a :class:`ChatResult`; :func:`add_document` adds a document.
- :class:`AppProcess` runs ``python -m genai_lab.app`` as a managed subprocess on a free loopback
  port (notebooks, the load test): ``with AppProcess() as app: ask(app.url, "...")``. It is stopped
  on exit, on error, and when this process dies.
- :func:`serve_in_thread` runs an app object with uvicorn in a thread of this process (tests).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genai_lab.serving.server import LOOPBACK, free_port, tail

JSON_HEADERS = {"content-type": "application/json"}


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


def _parse_sse(lines: Iterator[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    name, data = "message", []
    for line in lines:
        line = line.rstrip("\r")
        if not line:
            if data:
                yield name, json.loads("\n".join(data))
            name, data = "message", []
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
    if data:
        yield name, json.loads("\n".join(data))


def stream_chat(
    url: str, question: str, adapter: str | None = None, timeout: float = 300.0, client: Any = None
) -> Iterator[tuple[str, dict[str, Any]]]:
    """The events of one chat request: ``("route", {...})``, ``("token", {"text"})``, ...,
    ``("done", {...})`` or ``("error", {"message"})``. Raises :class:`ServiceError` on a 4xx/5xx."""
    import httpx

    own = client is None
    client = client or httpx.Client(timeout=timeout)
    try:
        # json.dumps escapes non-ASCII (ensure_ascii), so even a lone surrogate can be sent.
        body = json.dumps({"question": question, "adapter": adapter}).encode("ascii")
        with client.stream("POST", f"{url.rstrip('/')}/api/chat", content=body, headers=JSON_HEADERS) as response:
            if response.status_code != 200:
                response.read()
                try:
                    message = response.json().get("message", response.text)
                except ValueError:
                    message = response.text
                raise ServiceError(response.status_code, message)
            yield from _parse_sse(response.iter_lines())
    finally:
        if own:
            client.close()


def ask(url: str, question: str, adapter: str | None = None, timeout: float = 300.0, client: Any = None) -> ChatResult:
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


def add_document(url: str, title: str, text: str, source: str | None = None, timeout: float = 120.0) -> dict[str, Any]:
    """Add a document to the running service's index (``POST /api/documents``)."""
    import httpx

    body = json.dumps({"title": title, "text": text, "source": source}).encode("ascii")
    response = httpx.post(f"{url.rstrip('/')}/api/documents", content=body, headers=JSON_HEADERS, timeout=timeout)
    if response.status_code != 201:
        raise ServiceError(response.status_code, response.json().get("message", response.text))
    return response.json()


def get_json(url: str, path: str, timeout: float = 10.0) -> dict[str, Any]:
    import httpx

    return httpx.get(f"{url.rstrip('/')}{path}", timeout=timeout).json()


def wait_healthy(url: str, timeout: float = 300.0, process: subprocess.Popen | None = None) -> dict[str, Any]:
    """Poll ``/healthz`` until it answers (or ``timeout`` s pass, or ``process`` exits)."""
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"The service exited with code {process.returncode} while starting.")
        with contextlib.suppress(httpx.HTTPError):
            response = httpx.get(f"{url}/healthz", timeout=2.0)
            if response.status_code == 200:
                return response.json()
        time.sleep(0.3)
    raise TimeoutError(f"The service at {url} did not become healthy within {timeout:.0f} s.")


class AppProcess:
    """``python -m genai_lab.app`` in a subprocess on a free loopback port; see the module docstring.

    ``args`` are extra command-line options (``["--fake"]``, ``["--max-new-tokens", "32"]``); the
    log goes to a temporary file whose tail is shown if the start fails."""

    def __init__(self, args: Sequence[str] = (), port: int | None = None, startup_timeout: float = 600.0, env: dict[str, str] | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://{LOOPBACK}:{self.port}"
        self.args = list(args)
        self.startup_timeout = startup_timeout
        self.env = {**os.environ, **(env or {})}
        self.process: subprocess.Popen | None = None
        self.log = Path(tempfile.mkstemp(prefix="genai-lab-app-", suffix=".log")[1])
        self.health: dict[str, Any] = {}

    def start(self) -> AppProcess:
        from genai_lab.serving.server import _set_parent_death_signal

        cmd = [sys.executable, "-m", "genai_lab.app", "--port", str(self.port), *self.args]
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, env=self.env, start_new_session=True,
                preexec_fn=_set_parent_death_signal,
            )  # fmt: skip
        try:
            self.health = wait_healthy(self.url, self.startup_timeout, self.process)
        except BaseException as exc:
            self.stop()
            raise RuntimeError(f"{exc}\n--- service log (tail) ---\n{tail(self.log)}") from exc
        return self

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM the service's process group, then SIGKILL if it has not exited in ``timeout`` s."""
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)

    def __enter__(self) -> AppProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.process and self.process.poll() is None else "stopped"
        return f"AppProcess({self.url}, pid={self.pid}, {state})"


@contextlib.contextmanager
def serve_in_thread(app: Any, port: int | None = None) -> Iterator[str]:
    """Run ``app`` with uvicorn on a free loopback port in a daemon thread; yields its URL."""
    import uvicorn

    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host=LOOPBACK, port=port, log_level="warning", lifespan="off"))
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
