"""The service's metrics, for ``GET /metrics`` (Prometheus text format) and ``GET /metrics.json``.

Counters, gauges and histograms live in a :mod:`prometheus_client` registry of their own (one per
app, so that several apps in one process — tests — do not share counts):

- ``genai_lab_app_http_requests_total{path, status}``: every response, by endpoint and HTTP status
  (unknown paths are counted as ``path="other"``, so a scanner cannot grow the label set);
- ``genai_lab_app_chat_requests_total{route, outcome}``: chat requests by route (``internal``,
  ``external``, or ``none`` when refused before routing) and outcome (``ok``, ``error``, ``rejected``,
  ``invalid``, ``cancelled``);
- ``genai_lab_app_chat_latency_seconds{route}`` and ``..._first_token_seconds{route}``: histograms;
- ``genai_lab_app_queue_depth``, ``genai_lab_app_in_flight``: requests waiting for, and holding, a slot;
- ``genai_lab_app_backend_info{route, model, backend}``: the model behind each route (value 1);
- ``genai_lab_app_resident_memory_bytes`` and ``genai_lab_app_index_chunks``.

The JSON view keeps the shape the notebooks read (``requests_by_status``, ``chat``, ``latency_ms`` with
p50/p99 from :func:`genai_lab.numeric.percentile` over the last ``window`` requests, ``rss_bytes`` from
:func:`genai_lab.runtime.rss_bytes`).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from genai_lab.numeric import percentile
from genai_lab.runtime import rss_bytes

__all__ = ["CONTENT_TYPE", "KNOWN_PATHS", "Metrics", "percentile", "rss_bytes"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
KNOWN_PATHS = frozenset({"/", "/healthz", "/metrics", "/metrics.json", "/api/chat", "/api/documents",
                         "/docs", "/openapi.json"})  # fmt: skip
_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 40.0, 80.0, 160.0)


def _total(metric: Any, by: str) -> dict[str, int]:
    """``{label value: count}`` of a labelled counter, summed over its other labels."""
    out: dict[str, int] = {}
    for family in metric.collect():
        for sample in family.samples:
            if sample.name.endswith("_total"):
                key = sample.labels[by]
                out[key] = out.get(key, 0) + int(sample.value)
    return dict(sorted(out.items()))


class Metrics:
    """The service's metrics (see the module docstring); safe to update from any thread."""

    def __init__(self, window: int = 10_000) -> None:
        self.registry = CollectorRegistry()
        reg = self.registry
        self.started = time.time()
        self.http = Counter("genai_lab_app_http_requests", "HTTP responses by path and status.",
                            ["path", "status"], registry=reg)
        self.chat = Counter("genai_lab_app_chat_requests", "Chat requests by route and outcome.",
                            ["route", "outcome"], registry=reg)
        self.latency = Histogram("genai_lab_app_chat_latency_seconds", "Time from request to the last event.",
                                 ["route"], buckets=_LATENCY_BUCKETS, registry=reg)
        self.first_token = Histogram("genai_lab_app_chat_first_token_seconds", "Time from request to first token.",
                                     ["route"], buckets=_LATENCY_BUCKETS, registry=reg)
        self.queue_depth = Gauge("genai_lab_app_queue_depth", "Requests waiting for an answer slot.", registry=reg)
        self.in_flight_gauge = Gauge("genai_lab_app_in_flight", "Requests holding an answer slot.", registry=reg)
        self.backend = Gauge("genai_lab_app_backend_info", "The model behind each route (value 1).",
                             ["route", "model", "backend"], registry=reg)
        self.rss = Gauge("genai_lab_app_resident_memory_bytes", "Resident memory of the service.", registry=reg)
        self.rss.set_function(lambda: float(rss_bytes()))
        self.index_chunks = Gauge("genai_lab_app_index_chunks", "Chunks in the knowledge-base index.", registry=reg)
        self._lock = threading.Lock()
        self.latencies_ms: deque[float] = deque(maxlen=window)
        self.first_token_ms: deque[float] = deque(maxlen=window)

    # -- updates ---------------------------------------------------------------------------------
    def count_status(self, status: int, path: str = "other") -> None:
        self.http.labels(path if path in KNOWN_PATHS else "other", str(status)).inc()

    def count_chat(
        self, outcome: str, route: str | None = None, latency_ms: float | None = None,
        first_token_ms: float | None = None,
    ) -> None:  # fmt: skip
        label = route or "none"
        self.chat.labels(label, outcome).inc()
        if latency_ms is not None:
            self.latency.labels(label).observe(latency_ms / 1000)
            with self._lock:
                self.latencies_ms.append(latency_ms)
        if first_token_ms is not None:
            self.first_token.labels(label).observe(first_token_ms / 1000)
            with self._lock:
                self.first_token_ms.append(first_token_ms)

    def set_backends(self, backends: dict[str, tuple[str, str]]) -> None:
        """``{route: (model label, backend name)}``: the models now serving each route."""
        self.backend.clear()
        for route, (label, backend) in backends.items():
            self.backend.labels(route, label, backend).set(1)

    def watch_index(self, size: Callable[[], int]) -> None:
        self.index_chunks.set_function(lambda: float(size()))

    @property
    def in_flight(self) -> int:
        return int(self.registry.get_sample_value("genai_lab_app_in_flight") or 0)

    @property
    def queued(self) -> int:
        return int(self.registry.get_sample_value("genai_lab_app_queue_depth") or 0)

    # -- views -----------------------------------------------------------------------------------
    def prometheus(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)

    def snapshot(self) -> dict[str, Any]:
        """The JSON view (see the module docstring)."""
        with self._lock:
            lat, first = list(self.latencies_ms), list(self.first_token_ms)
        return {
            "uptime_s": round(time.time() - self.started, 1),
            "requests_by_status": _total(self.http, "status"),
            "chat": _total(self.chat, "outcome"),
            "in_flight": self.in_flight,
            "queued": self.queued,
            "latency_ms": {
                "count": len(lat),
                "p50": percentile(lat, 50),
                "p99": percentile(lat, 99),
                "first_token_p50": percentile(first, 50),
            },
            "rss_bytes": rss_bytes(),
        }
