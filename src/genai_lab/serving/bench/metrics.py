"""Serving metrics with vLLM's definitions (``vllm/benchmarks/serve.py``, ``calculate_metrics``).

- **TTFT**: time from sending the request to the first streamed token;
- **TPOT** = (latency - TTFT) / (output tokens - 1), per request, only for requests with more than one
  output token;
- **ITL**: every gap between two consecutive streamed chunks, pooled over all requests;
- **E2EL**: the request's latency, from sending to the last token;
- request throughput = completed / duration, output throughput = output tokens / duration;
- **goodput**: requests per second that met every SLO (``{"ttft": ms, "tpot": ms, "e2el": ms}``).

Each latency is reported as mean, median, std and the chosen percentiles, in milliseconds, under vLLM's
key names (``mean_ttft_ms``, ``p99_tpot_ms``, ...). Medians and percentiles come from
:func:`genai_lab.numeric.percentile`, the package's one percentile: numpy's linear interpolation, which
is what vLLM's benchmark computes, so the two agree to the last digit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from genai_lab.numeric import percentile

METRICS = ("ttft", "tpot", "itl", "e2el")
SLO_METRICS = ("ttft", "tpot", "e2el")
MS = 1000.0


@dataclass
class RequestRecord:
    """What the client saw of one request (vLLM's ``RequestFuncOutput``). Times in seconds."""

    prompt_len: int = 0
    output_tokens: int = 0
    ttft: float = 0.0
    itl: list[float] = field(default_factory=list)
    latency: float = 0.0
    start_time: float = 0.0
    success: bool = False
    error: str = ""
    generated_text: str = ""


def record_from_timestamps(
    start: float, token_times: Sequence[float], prompt_len: int = 0, output_tokens: int | None = None
) -> RequestRecord:
    """A :class:`RequestRecord` from the send time and the arrival time of each streamed chunk.

    TTFT is the first arrival minus the start, ITLs are the gaps between arrivals, the latency is the
    last arrival minus the start. ``output_tokens`` (the server's usage count) defaults to the number
    of chunks. With no chunk at all the record is a failure.
    """
    if not token_times:
        return RequestRecord(prompt_len=prompt_len, start_time=start, error="no streamed chunk received")
    return RequestRecord(
        prompt_len=prompt_len,
        output_tokens=len(token_times) if output_tokens is None else output_tokens,
        ttft=token_times[0] - start,
        itl=[b - a for a, b in zip(token_times, token_times[1:], strict=False)],
        latency=token_times[-1] - start,
        start_time=start,
        success=True,
    )


def _percentile_word(p: float) -> str:
    return str(int(p)) if int(p) == p else str(p)


def compute_metrics(
    records: Sequence[RequestRecord],
    duration_s: float,
    percentiles: Sequence[float] = (99.0,),
    goodput_slo_ms: Mapping[str, float] | None = None,
) -> dict[str, Any]:
    """vLLM's serving metrics from per-request records, under vLLM's JSON key names.

    Failed requests count in ``failed`` and contribute nothing else. Empty metric lists give 0, as
    in vLLM. ``goodput_slo_ms`` may hold ``ttft``, ``tpot`` and ``e2el`` limits in milliseconds; a
    request is good when it meets all of them (its TPOT counts as 0 when it has one output token).
    """
    import numpy as np

    if duration_s <= 0:
        raise ValueError(f"duration_s={duration_s} must be positive.")
    slo = dict(goodput_slo_ms or {})
    unknown = set(slo) - set(SLO_METRICS)
    if unknown:
        raise ValueError(f"Unknown goodput SLO {sorted(unknown)}; use ttft, tpot and/or e2el (ms).")
    values: dict[str, list[float]] = {name: [] for name in METRICS}
    completed = total_input = total_output = good = 0
    for r in records:
        if not r.success:
            continue
        completed += 1
        total_input += r.prompt_len
        total_output += r.output_tokens
        tpot = 0.0
        if r.output_tokens > 1:
            tpot = (r.latency - r.ttft) / (r.output_tokens - 1)
            values["tpot"].append(tpot)
        values["ttft"].append(r.ttft)
        values["itl"].extend(r.itl)
        values["e2el"].append(r.latency)
        per_request = {"ttft": r.ttft, "tpot": tpot, "e2el": r.latency}
        if slo and all(per_request[k] * MS <= limit for k, limit in slo.items()):
            good += 1
    result: dict[str, Any] = {
        "duration": duration_s,
        "completed": completed,
        "failed": len(records) - completed,
        "total_input_tokens": total_input,
        "total_output_tokens": total_output,
        "request_throughput": completed / duration_s,
        "request_goodput": good / duration_s if slo else None,
        "output_throughput": total_output / duration_s,
        "total_token_throughput": (total_input + total_output) / duration_s,
    }
    for name in METRICS:
        xs = values[name] or [0.0]
        result[f"mean_{name}_ms"] = float(np.mean(xs)) * MS
        result[f"median_{name}_ms"] = (percentile(xs, 50) or 0.0) * MS
        result[f"std_{name}_ms"] = float(np.std(xs)) * MS
        for p in percentiles:
            result[f"p{_percentile_word(p)}_{name}_ms"] = (percentile(xs, p) or 0.0) * MS
    return result


def summary(result: Mapping[str, Any]) -> dict[str, Any]:
    """The scalar metrics of a result (drops the per-request lists), for tables and JSON."""
    return {k: v for k, v in result.items() if not isinstance(v, list | dict)}

