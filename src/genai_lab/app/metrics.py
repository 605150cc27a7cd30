"""Request counters and latency percentiles for ``GET /metrics``, safe to update from any thread.

Latencies are kept in a bounded window (the last ``window`` chat requests), so memory stays flat
however long the service runs; percentiles are computed with ``statistics.quantiles`` semantics
(nearest rank) on that window.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter, deque
from typing import Any


def percentile(values: list[float], q: float) -> float | None:
    """The nearest-rank ``q``-th percentile (0-100) of ``values``, ``None`` when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def rss_bytes() -> int:
    """This process's resident memory (``psutil``)."""
    import psutil

    return int(psutil.Process().memory_info().rss)


class Metrics:
    """HTTP status counts, chat outcomes, in-flight/queued gauges and chat latencies."""

    def __init__(self, window: int = 10_000) -> None:
        self._lock = threading.Lock()
        self.started = time.time()
        self.status: Counter[str] = Counter()  # by HTTP status code, all endpoints
        self.chat: Counter[str] = Counter()  # ok / error / rejected / invalid
        self.latencies_ms: deque[float] = deque(maxlen=window)
        self.first_token_ms: deque[float] = deque(maxlen=window)
        self.in_flight = 0
        self.queued = 0

    def count_status(self, code: int) -> None:
        with self._lock:
            self.status[str(code)] += 1

    def count_chat(self, outcome: str, latency_ms: float | None = None, first_token_ms: float | None = None) -> None:
        with self._lock:
            self.chat[outcome] += 1
            if latency_ms is not None:
                self.latencies_ms.append(latency_ms)
            if first_token_ms is not None:
                self.first_token_ms.append(first_token_ms)

    def gauge(self, name: str, delta: int) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + delta)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            lat, first = list(self.latencies_ms), list(self.first_token_ms)
            out: dict[str, Any] = {
                "uptime_s": round(time.time() - self.started, 1),
                "requests_by_status": dict(sorted(self.status.items())),
                "chat": dict(sorted(self.chat.items())),
                "in_flight": self.in_flight,
                "queued": self.queued,
            }
        out["latency_ms"] = {
            "count": len(lat),
            "p50": percentile(lat, 50),
            "p99": percentile(lat, 99),
            "first_token_p50": percentile(first, 50),
        }
        out["rss_bytes"] = rss_bytes()
        return out
