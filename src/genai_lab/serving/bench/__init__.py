"""A serving benchmark client that measures exactly what ``vllm bench serve`` measures.

The pieces, one module each, small enough to read in one sitting:

- :mod:`.workload`: :func:`random_requests` (set input and output lengths, sent with ``ignore_eos``
  so that every request produces exactly ``output_len`` tokens) and :func:`sharegpt_like_requests`
  (heavy-tailed lengths from :func:`genai_lab.serving.kv_cache.sharegpt_like_lengths`);
- :mod:`.arrivals`: :func:`arrival_times`, Poisson (``burstiness=1``) or gamma (below 1 burstier,
  above 1 more regular) at a given request rate, or all at once (``rate=inf``), scaled the way vLLM
  scales them so that ``n`` requests span ``n / rate`` seconds;
- :mod:`.metrics`: :class:`RequestRecord` and :func:`compute_metrics`, vLLM's definitions of TTFT,
  TPOT, ITL, E2EL, throughput and goodput under vLLM's key names; percentiles are
  :func:`genai_lab.numeric.percentile` (numpy linear, as ``vllm/benchmarks/serve.py``);
- :mod:`.client`: :func:`run_benchmark` streams ``/v1/completions`` (``httpx`` + ``httpx-sse``) with
  a maximum-concurrency cap and warm-up requests, one :class:`RequestRecord` per request; it works
  from a notebook too (:mod:`.jupyter`);
- :mod:`.runners`: :func:`run_benchmark_subprocess` and :func:`run_vllm_bench` run our client and
  vLLM's own benchmark (``vllm.benchmarks.serve``) each in a process of its own, as
  ``python -m genai_lab.serving.bench ours|vllm`` (:mod:`.__main__`), so the two can be compared
  side by side on the same server and workload.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from genai_lab.serving.bench.arrivals import arrival_times
from genai_lab.serving.bench.client import run_benchmark, run_benchmark_async, save_result, send_request
from genai_lab.serving.bench.metrics import (
    METRICS,
    MS,
    RequestRecord,
    compute_metrics,
    record_from_timestamps,
    summary,
)
from genai_lab.serving.bench.runners import run_benchmark_subprocess, run_vllm_bench
from genai_lab.serving.bench.workload import SampleRequest, random_requests, sharegpt_like_requests
from genai_lab.serving.kv_cache import sharegpt_like_lengths

__all__ = [
    "METRICS",
    "MS",
    "RequestRecord",
    "SampleRequest",
    "arrival_times",
    "compute_metrics",
    "format_table",
    "random_requests",
    "record_from_timestamps",
    "run_benchmark",
    "run_benchmark_async",
    "run_benchmark_subprocess",
    "run_vllm_bench",
    "save_result",
    "send_request",
    "sharegpt_like_lengths",
    "sharegpt_like_requests",
    "summary",
]


def format_table(rows: Sequence[Mapping[str, Any]], digits: int = 2) -> str:
    """Kept for old imports: :func:`genai_lab.tables.markdown_table` with floats to ``digits`` places
    (thousands separated). New code calls ``genai_lab.tables.markdown_table`` or ``show_table``."""
    from genai_lab.tables import markdown_table

    return markdown_table(rows, floatfmt=f",.{digits}f")
