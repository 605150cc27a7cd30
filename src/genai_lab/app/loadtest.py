"""The load test's core: fire ``n`` chat requests, ``concurrency`` at a time, and account for each.

Every request ends in exactly one of four ways:

- **answered**: the stream ended with a ``done`` event;
- **rejected**: the service refused it with a clear status (429 busy, 503 queue timeout) and message;
- **failed**: the stream ended with an ``error`` event carrying a message;
- **lost**: anything else (connection dropped, timeout, a stream that stopped without ``done`` or
  ``error``). The test passes only when none is lost.

The whole run is bounded in time: requests not started before ``time_limit_s`` are not sent (and
counted as ``not_sent``, never as lost). The service's resident memory is sampled before, during
and after, to show that it levels off. ``scripts/load_test_app.py`` runs this against the real
service; the unit test against a fake backend.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from genai_lab.numeric import percentile


@dataclass
class LoadReport:
    """The outcome of :func:`run_load`."""

    requests: int
    concurrency: int
    answered: int
    rejected: int
    failed: int
    lost: int
    not_sent: int
    p50_ms: float | None
    p99_ms: float | None
    wall_s: float
    rss_before_mb: float | None = None
    rss_after_mb: float | None = None
    rss_peak_mb: float | None = None
    statuses: dict[str, int] = field(default_factory=dict)
    lost_reasons: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line: the outcomes, the latency percentiles and the service's memory."""
        rss = ""
        if self.rss_before_mb is not None and self.rss_after_mb is not None and self.rss_peak_mb is not None:
            rss = (
                f"; service RSS {self.rss_before_mb:.0f} MB before, {self.rss_after_mb:.0f} MB after, "
                f"peak {self.rss_peak_mb:.0f} MB"
            )
        lat = "no answers"
        if self.p50_ms is not None and self.p99_ms is not None:
            lat = f"p50 {self.p50_ms:.0f} ms, p99 {self.p99_ms:.0f} ms"
        return (
            f"{self.requests} requests at {self.concurrency} concurrent in {self.wall_s:.1f} s: "
            f"{self.answered} answered, {self.rejected} rejected, {self.failed} failed, {self.lost} lost, "
            f"{self.not_sent} not sent; {lat}{rss}"
        )


def _rss_mb(pid: int | None, url: str) -> float | None:
    """The service's resident memory in MiB: :func:`genai_lab.runtime.rss_bytes` of ``pid`` when it is
    a process of this machine, else the ``rss_bytes`` of its ``/metrics.json``. ``None`` when the
    service cannot be asked any more (it has exited, or stopped answering)."""
    import httpx
    import psutil

    from genai_lab.app.client import ServiceError, get_json
    from genai_lab.runtime import rss_bytes

    try:
        if pid is not None:
            return rss_bytes(pid) / 2**20
        return float(get_json(url, "/metrics.json")["rss_bytes"]) / 2**20
    except (psutil.Error, httpx.HTTPError, ServiceError):
        return None


def run_load(
    url: str,
    questions: Sequence[str],
    n: int = 200,
    concurrency: int = 8,
    time_limit_s: float = 900.0,
    request_timeout_s: float = 300.0,
    pid: int | None = None,
    progress: bool = False,
) -> LoadReport:
    """Send ``n`` questions (cycling through ``questions``) with ``concurrency`` workers; see the
    module docstring. ``pid`` is the service's process id, for memory samples (else ``/metrics.json``)."""
    import httpx

    from genai_lab.app.client import ServiceError, ask

    if n < 1 or concurrency < 1 or not questions:
        raise ValueError("run_load needs n >= 1, concurrency >= 1 and at least one question.")
    outcomes: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    latencies: list[float] = []
    lost_reasons: list[str] = []
    lock = threading.Lock()
    deadline = time.monotonic() + time_limit_s
    rss_samples: list[float] = []
    stop_sampling = threading.Event()

    def sample() -> None:
        while not stop_sampling.wait(0.5):
            if (value := _rss_mb(pid, url)) is not None:
                rss_samples.append(value)

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n, desc="load test", unit="req")

    client = httpx.Client(timeout=request_timeout_s, limits=httpx.Limits(max_connections=concurrency + 2))

    def one(i: int) -> None:
        if time.monotonic() > deadline:
            outcome, status, reason = "not_sent", "-", None
        else:
            start = time.perf_counter()
            status, reason = "200", None
            try:
                result = ask(url, questions[i % len(questions)], client=client)
                if result.done is not None:
                    outcome = "answered"
                    with lock:
                        latencies.append((time.perf_counter() - start) * 1000)
                elif result.error:
                    outcome = "failed"
                else:
                    outcome, reason = "lost", f"stream ended after {result.events} without done/error"
            except ServiceError as exc:
                status = str(exc.status)
                clear = exc.status in (429, 503) and bool(exc.message)
                outcome = "rejected" if clear else "lost"
                reason = None if clear else f"HTTP {exc.status}: {exc.message[:100]}"
            except Exception as exc:
                outcome, status, reason = "lost", "no response", f"{type(exc).__name__}: {exc}"[:200]
        with lock:
            outcomes[outcome] += 1
            statuses[status] += 1
            if reason:
                lost_reasons.append(reason)
        if bar is not None:
            bar.update(1)

    rss_before = _rss_mb(pid, url)
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start = time.perf_counter()
    try:
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(one, range(n)))
    finally:
        wall = time.perf_counter() - start
        stop_sampling.set()
        sampler.join(5)
        client.close()
        if bar is not None:
            bar.close()
    rss_after = _rss_mb(pid, url)
    peaks = [v for v in [*rss_samples, rss_before, rss_after] if v is not None]
    not_sent = outcomes["not_sent"]
    return LoadReport(
        requests=n - not_sent, concurrency=concurrency, answered=outcomes["answered"],
        rejected=outcomes["rejected"], failed=outcomes["failed"], lost=outcomes["lost"], not_sent=not_sent,
        p50_ms=percentile(latencies, 50), p99_ms=percentile(latencies, 99), wall_s=wall,
        rss_before_mb=rss_before, rss_after_mb=rss_after, rss_peak_mb=max(peaks) if peaks else None,
        statuses=dict(statuses), lost_reasons=lost_reasons[:20],
    )  # fmt: skip
