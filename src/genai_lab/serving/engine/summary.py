"""Throughput and latency of a finished run, as figures and as a table."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from genai_lab.numeric import percentile
from genai_lab.serving.engine.outputs import RequestOutput
from genai_lab.tables import markdown_table

SUMMARY_COLUMNS = (
    "tok_s", "seconds", "latency_mean_s", "latency_p50_s", "latency_p99_s", "ttft_mean_s", "ttft_p50_s",
)  # fmt: skip


def summarize(outputs: Sequence[RequestOutput]) -> dict[str, float]:
    """Throughput and latency figures of a finished run (all requests arriving together);
    percentiles are :func:`genai_lab.numeric.percentile` (numpy linear, as vLLM's benchmark)."""
    if not outputs:
        raise ValueError("summarize needs at least one RequestOutput.")
    start = min(o.arrival_time for o in outputs)
    end = max(o.finish_time for o in outputs)
    tokens = sum(len(c.token_ids) for o in outputs for c in o.outputs)
    latency = [o.latency for o in outputs]
    ttft = [o.ttft for o in outputs]
    seconds = end - start
    return {
        "requests": len(outputs),
        "output_tokens": tokens,
        "seconds": seconds,
        "tok_s": tokens / seconds if seconds > 0 else float("nan"),
        "latency_mean_s": sum(latency) / len(latency),
        "latency_p50_s": float(percentile(latency, 50) or 0.0),
        "latency_p99_s": float(percentile(latency, 99) or 0.0),
        "ttft_mean_s": sum(ttft) / len(ttft),
        "ttft_p50_s": float(percentile(ttft, 50) or 0.0),
    }


def summary_table(summaries: Mapping[str, Mapping[str, float]]) -> str:
    """A Markdown table of several :func:`summarize` results, one row per system."""
    rows = [{"system": name, **{c: s[c] for c in SUMMARY_COLUMNS}} for name, s in summaries.items()]
    return markdown_table(rows, columns=["system", *SUMMARY_COLUMNS], floatfmt=".2f")
