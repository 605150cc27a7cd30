"""The service's configuration: limits, admission control, hosts, write token, timeouts.

Everything the service enforces is a field of :class:`AppConfig`, so a test or a deployment changes a
number, not code. The concurrency limit depends on the backend that generates the answers — one
in-process model answers one request at a time, a vLLM server batches many — and comes from
:data:`BACKEND_LIMITS` through :meth:`AppConfig.for_backend`, keyed by the backend's name (never
parsed out of a label shown to users).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genai_lab.serving.server import LOOPBACK

#: Environment variable with several vLLM servers, comma-separated: the app balances across them
#: (:mod:`genai_lab.app.balance`). One server keeps its own variable, ``GENAI_LAB_VLLM_URL``, unchanged.
VLLM_URLS_ENV = "GENAI_LAB_VLLM_URLS"

#: The page and anything it loads.
STATIC_DIR = Path(__file__).parent / "static"
#: Environment variable holding the token that ``POST /api/documents`` requires.
TOKEN_ENV = "GENAI_LAB_APP_TOKEN"

#: ``backend -> (max_concurrency, max_queue)``: answers generated at once, and requests that may wait.
BACKEND_LIMITS: dict[str, tuple[int, int]] = {
    "transformers": (1, 16),  # one in-process model: one answer at a time
    "vllm": (8, 32),  # a vLLM server batches requests (continuous batching, Part 2)
    "fake": (4, 16),  # the deterministic stand-ins of genai_lab.app.fake
}

#: The knowledge base's document classifications (``data/kb/manifest.json``), least to most private.
CLASSIFICATIONS = ("public", "internal", "confidential")


def vllm_urls(value: str | None = None) -> list[str]:
    """The vLLM servers the app balances across: ``value``, else ``$GENAI_LAB_VLLM_URLS``, a
    comma-separated list such as ``http://127.0.0.1:8000,http://127.0.0.1:8001`` (each with or without
    ``/v1``); ``[]`` when unset. A wrong entry raises a ``ValueError`` that names it and the fix."""
    from urllib.parse import urlsplit

    text = os.environ.get(VLLM_URLS_ENV, "") if value is None else value
    urls = [part.strip() for part in text.split(",") if part.strip()]
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                f"{VLLM_URLS_ENV}: {url!r} is not a server URL; give comma-separated URLs such as "
                "'http://127.0.0.1:8000,http://127.0.0.1:8001'."
            )
    normalised = [url.rstrip("/").removesuffix("/v1") for url in urls]
    if len(set(normalised)) != len(normalised):
        raise ValueError(f"{VLLM_URLS_ENV} names a server twice ({text!r}); list each server once.")
    return urls


def default_hosts(bind_host: str = LOOPBACK) -> tuple[str, ...]:
    """The ``Host`` header values accepted by default: loopback names plus the bind address."""
    hosts = ["127.0.0.1", "localhost"]
    if bind_host not in hosts and bind_host not in ("0.0.0.0", "::"):
        hosts.append(bind_host)
    return tuple(hosts)


@dataclass
class AppConfig:
    """Limits of the service (see the module docstring). All sizes in bytes, times in seconds.

    Attributes:
        max_question_chars: longest question accepted (413 beyond).
        max_body_bytes: largest request body, counted on the bytes actually received (413 beyond).
        max_concurrency: answers generated at once.
        max_queue: requests that may wait for an answer slot (429 beyond).
        queue_timeout_s: longest wait for a slot (503 beyond).
        top_k: chunks retrieved per question.
        allowed_hosts: accepted ``Host`` header values (Starlette's ``TrustedHostMiddleware``).
        write_token: token required by ``POST /api/documents`` (``Authorization: Bearer ...``); ``None``
            disables the endpoint (403 naming :data:`TOKEN_ENV`).
        max_document_bytes: largest document text (UTF-8 bytes) added through the API.
        max_added_bytes: all documents added through the API together.
        header_timeout_s: a connection must deliver its request line and headers within this time.
        body_timeout_s: a request must deliver its whole body within this time (408 beyond).
        keep_alive_s: an idle keep-alive connection is closed after this time.
        max_header_bytes: largest request head (request line and headers).
        extra: free-form settings for experiments.
    """

    max_question_chars: int = 4_000
    max_body_bytes: int = 1_000_000
    max_concurrency: int = 1
    max_queue: int = 16
    queue_timeout_s: float = 120.0
    top_k: int = 3
    allowed_hosts: tuple[str, ...] = field(default_factory=default_hosts)
    write_token: str | None = None
    max_document_bytes: int = 200_000
    max_added_bytes: int = 5_000_000
    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    keep_alive_s: float = 5.0
    max_header_bytes: int = 16_384
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        positive = {
            "max_question_chars": self.max_question_chars, "max_body_bytes": self.max_body_bytes,
            "max_concurrency": self.max_concurrency, "top_k": self.top_k,
            "max_document_bytes": self.max_document_bytes, "max_added_bytes": self.max_added_bytes,
            "queue_timeout_s": self.queue_timeout_s, "header_timeout_s": self.header_timeout_s,
            "body_timeout_s": self.body_timeout_s, "keep_alive_s": self.keep_alive_s,
            "max_header_bytes": self.max_header_bytes,
        }  # fmt: skip
        bad = [f"{name}={value!r}" for name, value in positive.items() if not value > 0]
        if self.max_queue < 0:
            bad.append(f"max_queue={self.max_queue!r}")
        if bad:
            raise ValueError(f"AppConfig: these limits must be positive (max_queue may be 0): {', '.join(bad)}.")
        if not self.allowed_hosts:
            raise ValueError("AppConfig.allowed_hosts is empty: no request could reach the service. Add '127.0.0.1'.")
        self.allowed_hosts = tuple(self.allowed_hosts)
        if self.write_token is not None and len(self.write_token) < 8:
            raise ValueError(f"The write token ({TOKEN_ENV}) must have at least 8 characters.")

    @classmethod
    def for_backend(cls, backend: str, replicas: int = 1, **overrides: Any) -> AppConfig:
        """The limits for ``backend`` (a key of :data:`BACKEND_LIMITS`) times ``replicas`` (the servers
        the app balances across, :mod:`genai_lab.app.balance`), the write token from
        ``$GENAI_LAB_APP_TOKEN``, and any field in ``overrides`` (``None`` values are ignored)."""
        if backend not in BACKEND_LIMITS:
            raise ValueError(f"Unknown backend {backend!r}; known: {sorted(BACKEND_LIMITS)}.")
        if replicas < 1:
            raise ValueError(f"replicas must be >= 1 (the number of servers behind the backend), got {replicas}.")
        concurrency, queue = BACKEND_LIMITS[backend]
        values: dict[str, Any] = {"max_concurrency": concurrency * replicas, "max_queue": queue * replicas}
        values["write_token"] = os.environ.get(TOKEN_ENV) or None
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def replace(self, **changes: Any) -> AppConfig:
        """A copy with ``changes`` applied (validated again)."""
        return dataclasses.replace(self, **changes)
