"""What the load test reads from the vLLM server behind the app: its prefix-cache counters (from vLLM's
own Prometheus ``/metrics``) and the resident memory of its process tree.

vLLM (V1 engine) counts, per request, the prompt tokens it looked up in the prefix cache
(``vllm:prefix_cache_queries``) and those it found (``vllm:prefix_cache_hits``); the hit rate of a load
test is the ratio of the two counters' increases over the run. The counters are empty when the server
runs with ``--disable-log-stats``; the app's managed server keeps them (``VLLMServer(log_stats=True)``).
"""

from __future__ import annotations

from dataclasses import dataclass

HITS = "vllm:prefix_cache_hits"
QUERIES = "vllm:prefix_cache_queries"


@dataclass(frozen=True)
class PrefixCacheCounters:
    """The two counters at one moment (summed over all label sets, e.g. every engine)."""

    hits: float
    queries: float

    def hit_rate_since(self, before: PrefixCacheCounters) -> float | None:
        """Share of the prompt tokens looked up since ``before`` that were found; ``None`` with no lookups."""
        queries = self.queries - before.queries
        return None if queries <= 0 else (self.hits - before.hits) / queries


def parse_prefix_cache(metrics_text: str) -> PrefixCacheCounters:
    """The prefix-cache counters in a Prometheus text exposition (``_total`` suffix or not).

    Raises ``ValueError`` when neither counter is present: the server was started with
    ``--disable-log-stats`` (drop it, or use ``VLLMServer(log_stats=True)``)."""
    totals = {HITS: 0.0, QUERIES: 0.0}
    seen = set()
    for line in metrics_text.splitlines():
        if not line or line.startswith("#"):
            continue
        name = line.split("{", 1)[0].split(" ", 1)[0]
        base = name.removesuffix("_total")
        if base in totals:
            totals[base] += float(line.rsplit(" ", 1)[1])
            seen.add(base)
    if not seen:
        raise ValueError(
            f"No {HITS} / {QUERIES} counters in vLLM's /metrics: the server runs with --disable-log-stats; "
            "start it without that flag (VLLMServer(log_stats=True), as the app's managed server does)."
        )
    return PrefixCacheCounters(hits=totals[HITS], queries=totals[QUERIES])


def read_prefix_cache(server_url: str, timeout: float = 10.0) -> PrefixCacheCounters:
    """``parse_prefix_cache`` of ``server_url``'s ``/metrics`` (the server root, not ``/v1``)."""
    import httpx

    response = httpx.get(server_url.rstrip("/") + "/metrics", timeout=timeout)
    response.raise_for_status()
    return parse_prefix_cache(response.text)


def tree_rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and all its descendants in MiB (vLLM runs an engine-core and worker
    processes under its API server), through :func:`genai_lab.runtime.rss_bytes`."""
    import psutil

    from genai_lab.runtime import rss_bytes

    total = rss_bytes(pid)
    for child in psutil.Process(pid).children(recursive=True):
        try:
            total += rss_bytes(child.pid)
        except psutil.NoSuchProcess:  # a worker that exited meanwhile
            continue
    return total / 1024**2
