"""The benchmark client: streams ``/v1/completions`` and times each request as vLLM's benchmark does.

:func:`run_benchmark` sends a workload (:mod:`.workload`) at the arrival times of :mod:`.arrivals`,
at most ``max_concurrency`` requests in flight, after optional warm-up requests, and returns
:func:`~.metrics.compute_metrics` of the records plus the per-request lists, under vLLM's key names.
The server-sent events are read with ``httpx-sse``; each event that carries a choice is one streamed
chunk (its arrival time is what TTFT and ITL are made of), and the final usage event gives the
server's token counts (``stream_options.include_usage``), as in vLLM's
``async_request_openai_completions``.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genai_lab.serving.bench.arrivals import arrival_times
from genai_lab.serving.bench.jupyter import run_sync
from genai_lab.serving.bench.metrics import RequestRecord, compute_metrics, record_from_timestamps
from genai_lab.serving.bench.workload import SampleRequest

if TYPE_CHECKING:  # pragma: no cover
    import httpx


async def send_request(
    client: httpx.AsyncClient,
    url: str,
    model: str,
    request: SampleRequest,
    ignore_eos: bool = True,
    extra_body: Mapping[str, Any] | None = None,
) -> RequestRecord:
    """One streamed ``/v1/completions`` request as a :class:`RequestRecord`. An HTTP error, a broken
    stream or a stream without a single chunk gives a failed record whose ``error`` says why."""
    from httpx_sse import aconnect_sse

    payload = {
        "model": model,
        "prompt": request.prompt,
        "max_tokens": request.expected_output_len,
        "repetition_penalty": 1.0,
        "stream": True,
        "stream_options": {"include_usage": True},
        "ignore_eos": ignore_eos,
        **(extra_body or {}),
    }
    prompt_len, output_tokens = request.prompt_len, None
    chunk_times: list[float] = []
    text: list[str] = []
    start = time.perf_counter()
    try:
        async with aconnect_sse(client, "POST", url, json=payload) as source:
            response = source.response
            if response.status_code != 200:
                body = (await response.aread()).decode("utf-8", errors="replace")
                return RequestRecord(prompt_len, start_time=start, error=f"HTTP {response.status_code}: {body[:300]}")
            async for event in source.aiter_sse():
                if not event.data or event.data == "[DONE]":
                    continue
                message = json.loads(event.data)
                if choices := message.get("choices"):
                    chunk_times.append(time.perf_counter())
                    text.append(choices[0].get("text") or "")
                elif usage := message.get("usage"):
                    output_tokens = int(usage.get("completion_tokens") or 0) or None
                    prompt_len = int(usage.get("prompt_tokens") or prompt_len)
    except Exception as exc:  # network errors and bad streams become failed records, as in vLLM
        return RequestRecord(prompt_len, start_time=start, error=f"{type(exc).__name__}: {exc}")
    record = record_from_timestamps(start, chunk_times, prompt_len, output_tokens)
    record.generated_text = "".join(text)
    return record


async def run_benchmark_async(
    base_url: str,
    model: str,
    requests: Sequence[SampleRequest],
    request_rate: float = math.inf,
    burstiness: float = 1.0,
    max_concurrency: int | None = None,
    num_warmups: int = 0,
    seed: int = 0,
    ignore_eos: bool = True,
    percentiles: Sequence[float] = (99.0,),
    goodput_slo_ms: Mapping[str, float] | None = None,
    extra_body: Mapping[str, Any] | None = None,
    timeout_s: float = 600.0,
) -> dict[str, Any]:
    """Run one benchmark against an OpenAI-compatible server (see :func:`run_benchmark`)."""
    import httpx

    if not requests:
        raise ValueError("No requests: build a workload with random_requests(...) first.")
    if max_concurrency is not None and max_concurrency < 1:
        raise ValueError(f"max_concurrency={max_concurrency} must be at least 1 (or None).")
    url = base_url.rstrip("/") + "/completions"
    times = arrival_times(len(requests), request_rate, burstiness, seed)
    limit = asyncio.Semaphore(max_concurrency) if max_concurrency else None

    async def limited(client: httpx.AsyncClient, request: SampleRequest) -> RequestRecord:
        if limit is None:
            return await send_request(client, url, model, request, ignore_eos, extra_body)
        async with limit:
            return await send_request(client, url, model, request, ignore_eos, extra_body)

    pool = httpx.Limits(max_connections=None, max_keepalive_connections=None)  # no cap but ours
    async with httpx.AsyncClient(timeout=httpx.Timeout(timeout_s), limits=pool) as client:
        if num_warmups:
            await asyncio.gather(*(limited(client, requests[0]) for _ in range(num_warmups)))
        start = time.perf_counter()
        tasks = []
        for request, at in zip(requests, times, strict=True):
            delay = start + at - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(limited(client, request)))
        records = await asyncio.gather(*tasks)
        duration = time.perf_counter() - start
    result = compute_metrics(records, duration, percentiles, goodput_slo_ms)
    result.update(
        backend="genai_lab",
        model_id=model,
        num_prompts=len(requests),
        request_rate=request_rate if math.isfinite(request_rate) else "inf",
        burstiness=burstiness,
        max_concurrency=max_concurrency,
        input_lens=[r.prompt_len for r in records],
        output_lens=[r.output_tokens if r.success else 0 for r in records],
        ttfts=[r.ttft for r in records],
        itls=[r.itl for r in records],
        latencies=[r.latency for r in records],
        start_times=[r.start_time for r in records],
        errors=[r.error for r in records],
    )
    return result


def run_benchmark(base_url: str, model: str, requests: Sequence[SampleRequest], **kwargs: Any) -> dict[str, Any]:
    """Benchmark an OpenAI-compatible server the way ``vllm bench serve`` does (also from Jupyter).

    Args:
        base_url: e.g. ``server.base_url`` (``http://127.0.0.1:PORT/v1``).
        model: the served model name.
        requests: the workload (:func:`random_requests`, :func:`sharegpt_like_requests`).
        request_rate: requests per second (``math.inf``: all at once, the default).
        burstiness: gamma shape of the gaps (1.0: Poisson).
        max_concurrency: at most this many requests in flight.
        num_warmups: requests sent (and not measured) before the run.
        seed: seed of the arrival times.
        ignore_eos: generate exactly ``expected_output_len`` tokens per request.
        percentiles: which percentiles to report (default p99).
        goodput_slo_ms: SLOs for goodput, e.g. ``{"ttft": 500, "tpot": 100}``.
        extra_body: further fields of every request's JSON body (e.g. ``{"temperature": 0}``).
        timeout_s: the HTTP timeout of each request.

    Returns a dict with vLLM's key names (see :func:`compute_metrics`) and the per-request lists.
    """
    return run_sync(lambda: run_benchmark_async(base_url, model, requests, **kwargs))


def save_result(result: Mapping[str, Any], path: str | Path) -> Path:
    """Write a result as JSON (vLLM's key names); the folder is created if needed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(dict(result), indent=2, default=str) + "\n", encoding="utf-8")
    return path
