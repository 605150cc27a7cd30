"""A serving benchmark client that measures exactly what ``vllm bench serve`` measures.

The pieces, each small enough to read in one sitting:

- **workloads**: :func:`random_requests` (set input and output lengths, sent with ``ignore_eos`` so
  that every request produces exactly ``output_len`` tokens) and :func:`sharegpt_like_requests`
  (lengths drawn from a heavy-tailed distribution shaped like ShareGPT conversations);
- **arrivals**: :func:`arrival_times`: Poisson (``burstiness=1``), gamma (``burstiness`` below 1 is
  burstier, above 1 more regular) at a given request rate, or all at once (``rate=inf``), scaled the
  way vLLM scales them so that ``n`` requests span ``n / rate`` seconds;
- **the client**: :func:`run_benchmark` streams ``/v1/completions`` with ``aiohttp``, with a
  maximum-concurrency cap and warm-up requests, and records one :class:`RequestRecord` per request;
- **the metrics**: :func:`compute_metrics`, vLLM's definitions (``vllm/benchmarks/serve.py``,
  ``calculate_metrics``):

  - TTFT: time from sending the request to the first streamed token;
  - TPOT = (latency - TTFT) / (output tokens - 1), per request, only for requests with more than
    one output token;
  - ITL: every gap between two consecutive streamed chunks, pooled over all requests;
  - E2EL: the request's latency, from sending to the last token;
  - request throughput = completed / duration, output throughput = output tokens / duration;
  - goodput: requests per second that met every SLO (``{"ttft": ms, "tpot": ms, "e2el": ms}``).

  Each latency is reported as mean, median, std and the chosen percentiles, in milliseconds, under
  vLLM's key names (``mean_ttft_ms``, ``p99_tpot_ms``, ...).

:func:`run_vllm_bench` runs vLLM's own benchmark (``vllm.benchmarks.serve``) on the same server and
workload, so the two can be compared side by side.
"""

from __future__ import annotations

import asyncio
import json
import math
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from transformers import PreTrainedTokenizerBase

METRICS = ("ttft", "tpot", "itl", "e2el")
MS = 1000.0


# ------------------------------------------------------------------------------------------------
# Workloads
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SampleRequest:
    """One request of a workload: the prompt, its length in tokens and how many tokens to ask for."""

    prompt: str
    prompt_len: int
    expected_output_len: int


def _prompt_of_length(
    tokenizer: PreTrainedTokenizerBase, token_ids: Sequence[int], length: int
) -> tuple[str, int]:
    """Decode ``token_ids`` and re-encode, trimming until the text is ``length`` tokens or fewer
    (decoding then encoding is not always the identity)."""
    ids = list(token_ids)
    text = tokenizer.decode(ids, skip_special_tokens=True)
    encoded = tokenizer(text, add_special_tokens=False).input_ids
    if len(encoded) > length:
        encoded = encoded[:length]
        text = tokenizer.decode(encoded, skip_special_tokens=True)
        encoded = tokenizer(text, add_special_tokens=False).input_ids
    return text, len(encoded)


def random_requests(
    tokenizer: PreTrainedTokenizerBase,
    num_requests: int,
    input_len: int,
    output_len: int,
    seed: int = 0,
    range_ratio: float = 0.0,
) -> list[SampleRequest]:
    """Prompts of random tokens with set lengths, like vLLM's ``random`` dataset.

    With ``range_ratio`` r > 0 each length is drawn uniformly from ``[len * (1 - r), len * (1 + r)]``.
    Send them with ``ignore_eos=True`` so that each request really produces ``output_len`` tokens.
    """
    import numpy as np

    if num_requests < 1 or input_len < 1 or output_len < 1:
        raise ValueError(
            f"num_requests, input_len and output_len must be positive (got {num_requests}, "
            f"{input_len}, {output_len})."
        )
    if not 0.0 <= range_ratio < 1.0:
        raise ValueError(f"range_ratio={range_ratio} must be in [0, 1).")
    rng = np.random.default_rng(seed)
    special = set(tokenizer.all_special_ids)
    allowed = np.array([i for i in range(len(tokenizer)) if i not in special])

    def lengths(mean: int) -> np.ndarray:
        low, high = max(1, math.floor(mean * (1 - range_ratio))), math.ceil(mean * (1 + range_ratio))
        return rng.integers(low, high + 1, size=num_requests)

    in_lens, out_lens = lengths(input_len), lengths(output_len)
    out: list[SampleRequest] = []
    for n_in, n_out in zip(in_lens, out_lens, strict=True):
        ids = rng.choice(allowed, size=int(n_in))
        text, real_len = _prompt_of_length(tokenizer, ids.tolist(), int(n_in))
        out.append(SampleRequest(text, real_len, int(n_out)))
    return out


def sharegpt_like_lengths(
    num_requests: int,
    seed: int = 0,
    max_input_len: int = 1024,
    max_output_len: int = 512,
) -> list[tuple[int, int]]:
    """(input, output) token lengths drawn from log-normal distributions shaped like ShareGPT.

    ShareGPT conversations (the dataset vLLM's paper and blog benchmark on) have heavy-tailed
    lengths: median prompt ~ 100 tokens with a long tail into the thousands, median answer ~ 200
    tokens. We cannot download ShareGPT offline, so we draw from log-normals with those medians
    (sigma 1.0 and 0.8), clipped to ``[4, max]``. It reproduces the property that matters for
    serving: requests of very different lengths in one batch.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    ins = np.clip(rng.lognormal(mean=math.log(100), sigma=1.0, size=num_requests), 4, max_input_len)
    outs = np.clip(rng.lognormal(mean=math.log(200), sigma=0.8, size=num_requests), 4, max_output_len)
    return [(int(i), int(o)) for i, o in zip(ins, outs, strict=True)]


def sharegpt_like_requests(
    tokenizer: PreTrainedTokenizerBase,
    num_requests: int,
    seed: int = 0,
    max_input_len: int = 1024,
    max_output_len: int = 512,
) -> list[SampleRequest]:
    """Random-token prompts with :func:`sharegpt_like_lengths` lengths."""
    import numpy as np

    rng = np.random.default_rng(seed + 1)
    special = set(tokenizer.all_special_ids)
    allowed = np.array([i for i in range(len(tokenizer)) if i not in special])
    out = []
    for n_in, n_out in sharegpt_like_lengths(num_requests, seed, max_input_len, max_output_len):
        text, real_len = _prompt_of_length(tokenizer, rng.choice(allowed, size=n_in).tolist(), n_in)
        out.append(SampleRequest(text, real_len, n_out))
    return out


# ------------------------------------------------------------------------------------------------
# Arrivals
# ------------------------------------------------------------------------------------------------
def arrival_times(
    num_requests: int, request_rate: float, burstiness: float = 1.0, seed: int = 0
) -> list[float]:
    """Send times in seconds after the start, one per request, as vLLM's ``get_request`` draws them.

    Gaps are gamma-distributed with shape ``burstiness`` and mean ``1 / request_rate`` (shape 1 is
    the exponential: a Poisson process). The cumulative times are then rescaled so that the last
    request leaves at exactly ``num_requests / request_rate``. ``request_rate=inf`` sends all at once.
    """
    import numpy as np

    if num_requests < 1:
        raise ValueError(f"num_requests={num_requests}: need at least one request.")
    if not request_rate > 0:
        raise ValueError(f"request_rate={request_rate} must be positive (inf: all at once).")
    if not burstiness > 0:
        raise ValueError(f"burstiness={burstiness} must be positive (1.0 is Poisson).")
    if math.isinf(request_rate):
        return [0.0] * num_requests
    if math.isinf(burstiness):
        gaps = np.full(num_requests, 1.0 / request_rate)
    else:
        rng = np.random.default_rng(seed)
        gaps = rng.gamma(shape=burstiness, scale=1.0 / (request_rate * burstiness), size=num_requests)
    times = np.cumsum(gaps)
    times *= (num_requests / request_rate) / times[-1]
    return times.tolist()


# ------------------------------------------------------------------------------------------------
# Metrics
# ------------------------------------------------------------------------------------------------
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
    last arrival minus the start. ``output_tokens`` defaults to the number of chunks.
    """
    if not token_times:
        return RequestRecord(prompt_len=prompt_len, start_time=start, error="no tokens received")
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
    unknown = set(slo) - {"ttft", "tpot", "e2el"}
    if unknown:
        raise ValueError(f"Unknown goodput SLO {sorted(unknown)}; use ttft, tpot and/or e2el (ms).")
    values: dict[str, list[float]] = {name: [] for name in METRICS}
    all_tpots: list[float] = []
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
        all_tpots.append(tpot)
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
        result[f"median_{name}_ms"] = float(np.median(xs)) * MS
        result[f"std_{name}_ms"] = float(np.std(xs)) * MS
        for p in percentiles:
            result[f"p{_percentile_word(p)}_{name}_ms"] = float(np.percentile(xs, p)) * MS
    return result


# ------------------------------------------------------------------------------------------------
# The client
# ------------------------------------------------------------------------------------------------
async def _send(
    session: Any,
    url: str,
    model: str,
    request: SampleRequest,
    ignore_eos: bool,
    extra_body: Mapping[str, Any],
) -> RequestRecord:
    """One streamed ``/v1/completions`` request, timed as vLLM's benchmark times it."""
    payload = {
        "model": model,
        "prompt": request.prompt,
        "max_tokens": request.expected_output_len,
        "repetition_penalty": 1.0,
        "stream": True,
        "stream_options": {"include_usage": True},
        "ignore_eos": ignore_eos,
        **extra_body,
    }
    record = RequestRecord(prompt_len=request.prompt_len)
    start = time.perf_counter()
    record.start_time = start
    chunk_times: list[float] = []
    text: list[str] = []
    buffer = ""
    try:
        async with session.post(url, json=payload) as response:
            if response.status != 200:
                record.error = f"HTTP {response.status}: {(await response.text())[:300]}"
                return record
            async for raw in response.content.iter_any():
                buffer += raw.decode("utf-8")
                while "\n\n" in buffer:  # server-sent events end with a blank line
                    event, buffer = buffer.split("\n\n", 1)
                    for line in event.splitlines():
                        if not line.startswith("data:"):
                            continue  # comments (": ping") and other fields
                        data = line[len("data:") :].strip()
                        if data == "[DONE]":
                            continue
                        message = json.loads(data)
                        if choices := message.get("choices"):
                            chunk_times.append(time.perf_counter())
                            text.append(choices[0].get("text") or "")
                        elif usage := message.get("usage"):
                            record.output_tokens = int(usage.get("completion_tokens") or 0)
                            record.prompt_len = int(usage.get("prompt_tokens") or record.prompt_len)
    except Exception as exc:  # network errors become failed records, as in vLLM
        record.error = f"{type(exc).__name__}: {exc}"
        return record
    if not chunk_times:
        record.error = "no streamed chunk received"
        return record
    record.ttft = chunk_times[0] - start
    record.itl = [b - a for a, b in zip(chunk_times, chunk_times[1:], strict=False)]
    record.latency = chunk_times[-1] - start
    record.generated_text = "".join(text)
    if not record.output_tokens:
        record.output_tokens = len(chunk_times)
    record.success = True
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
    import aiohttp

    if not requests:
        raise ValueError("No requests: build a workload with random_requests(...) first.")
    if max_concurrency is not None and max_concurrency < 1:
        raise ValueError(f"max_concurrency={max_concurrency} must be at least 1 (or None).")
    url = base_url.rstrip("/") + "/completions"
    times = arrival_times(len(requests), request_rate, burstiness, seed)
    body = dict(extra_body or {})
    limit = asyncio.Semaphore(max_concurrency) if max_concurrency else None

    async def limited(session: Any, request: SampleRequest) -> RequestRecord:
        if limit is None:
            return await _send(session, url, model, request, ignore_eos, body)
        async with limit:
            return await _send(session, url, model, request, ignore_eos, body)

    timeout = aiohttp.ClientTimeout(total=timeout_s)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        if num_warmups:
            warm = [limited(session, requests[0]) for _ in range(num_warmups)]
            await asyncio.gather(*warm)
        start = time.perf_counter()
        tasks = []
        for request, at in zip(requests, times, strict=True):
            delay = start + at - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(limited(session, request)))
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


def _run_coroutine(factory: Callable[[], Any]) -> Any:
    """``asyncio.run`` that also works inside Jupyter (whose loop is already running)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(factory())
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(factory())
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


def run_benchmark(base_url: str, model: str, requests: Sequence[SampleRequest], **kwargs: Any) -> dict[str, Any]:
    """Benchmark an OpenAI-compatible server the way ``vllm bench serve`` does.

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

    Returns a dict with vLLM's key names (see :func:`compute_metrics`) and the per-request lists.
    """
    return _run_coroutine(lambda: run_benchmark_async(base_url, model, requests, **kwargs))


def summary(result: Mapping[str, Any]) -> dict[str, Any]:
    """The scalar metrics of a result (drops the per-request lists), for tables and JSON."""
    return {k: v for k, v in result.items() if not isinstance(v, list | dict)}


def save_result(result: Mapping[str, Any], path: str | Path) -> Path:
    """Write a result as JSON (vLLM's key names)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(dict(result), indent=2, default=str) + "\n", encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------------------
# vLLM's own benchmark, for validation
# ------------------------------------------------------------------------------------------------
_VLLM_BENCH = """
import json, sys
from vllm.benchmarks.serve import add_cli_args, main
from vllm.utils.argparse_utils import FlexibleArgumentParser
parser = FlexibleArgumentParser()
add_cli_args(parser)
main(parser.parse_args(json.loads(sys.argv[1])))
"""


def run_vllm_bench(
    base_url: str,
    model: str,
    tokenizer: str | Path,
    num_prompts: int,
    input_len: int,
    output_len: int,
    result_path: str | Path,
    request_rate: float = math.inf,
    burstiness: float = 1.0,
    max_concurrency: int | None = None,
    num_warmups: int = 0,
    seed: int = 0,
    timeout_s: float = 900.0,
    log_path: str | Path | None = None,
) -> dict[str, Any]:
    """Run ``vllm.benchmarks.serve`` (what ``vllm bench serve`` runs) in a subprocess and return its
    JSON result. Same workload shape as :func:`random_requests`, ``ignore_eos`` on."""
    result_path = Path(result_path).resolve()
    result_path.parent.mkdir(parents=True, exist_ok=True)
    result_path.unlink(missing_ok=True)
    args = [
        "--backend", "openai",
        "--base-url", base_url.rstrip("/").removesuffix("/v1"),
        "--endpoint", "/v1/completions",
        "--model", model,
        "--tokenizer", str(tokenizer),
        "--dataset-name", "random",
        "--random-input-len", str(input_len),
        "--random-output-len", str(output_len),
        "--num-prompts", str(num_prompts),
        "--request-rate", "inf" if math.isinf(request_rate) else str(request_rate),
        "--burstiness", str(burstiness),
        "--seed", str(seed),
        "--ignore-eos",
        "--num-warmups", str(num_warmups),
        "--percentile-metrics", "ttft,tpot,itl,e2el",
        "--metric-percentiles", "99",
        "--disable-tqdm",
        "--save-result",
        "--result-dir", str(result_path.parent),
        "--result-filename", result_path.name,
    ]  # fmt: skip
    if max_concurrency is not None:
        args += ["--max-concurrency", str(max_concurrency)]
    return _run_client(_VLLM_BENCH, args, result_path, timeout_s, "vllm.benchmarks.serve", log_path)


def _run_client(
    script: str, args: Any, result_path: Path, timeout_s: float, name: str, log_path: str | Path | None = None
) -> dict[str, Any]:
    """Run a benchmark client ``script`` in a fresh Python process (its arguments as JSON) and return
    the JSON result it saved at ``result_path``; on failure, raise with the last lines of its output."""
    proc = subprocess.run(
        [sys.executable, "-c", script, json.dumps(args)], capture_output=True, text=True, timeout=timeout_s
    )
    if log_path is not None:
        Path(log_path).write_text(proc.stdout + proc.stderr, encoding="utf-8")
    if proc.returncode != 0 or not result_path.is_file():
        last = "\n".join((proc.stdout + proc.stderr).splitlines()[-25:])
        raise RuntimeError(f"{name} failed (exit {proc.returncode}):\n{last}")
    return json.loads(result_path.read_text(encoding="utf-8"))


_OUR_BENCH = """
import json, sys
from transformers import AutoTokenizer
from genai_lab.serving.bench import random_requests, run_benchmark, save_result
a = json.loads(sys.argv[1])
tok = AutoTokenizer.from_pretrained(a["tokenizer"])
reqs = random_requests(tok, a["num_prompts"], a["input_len"], a["output_len"], seed=a["seed"])
kw = {k: a[k] for k in ("request_rate", "num_warmups", "seed", "goodput_slo_ms", "max_concurrency")}
save_result(run_benchmark(a["base_url"], a["model"], reqs, **kw), a["result_path"])
"""


def run_benchmark_subprocess(
    base_url: str,
    model: str,
    tokenizer: str | Path,
    num_prompts: int,
    input_len: int,
    output_len: int,
    result_path: str | Path,
    request_rate: float = math.inf,
    max_concurrency: int | None = None,
    num_warmups: int = 0,
    seed: int = 0,
    goodput_slo_ms: Mapping[str, float] | None = None,
    timeout_s: float = 900.0,
) -> dict[str, Any]:
    """:func:`run_benchmark` on :func:`random_requests`, in a process of its own, as
    :func:`run_vllm_bench` runs vLLM's client: a client that shares a busy process (a notebook's
    kernel) measures its own overhead too. Returns the saved JSON result."""
    result_path = Path(result_path).resolve()
    result_path.parent.mkdir(parents=True, exist_ok=True)
    result_path.unlink(missing_ok=True)
    args = {
        "base_url": base_url, "model": model, "tokenizer": str(tokenizer), "num_prompts": num_prompts,
        "input_len": input_len, "output_len": output_len, "result_path": str(result_path),
        "request_rate": request_rate, "max_concurrency": max_concurrency, "num_warmups": num_warmups,
        "seed": seed, "goodput_slo_ms": dict(goodput_slo_ms) if goodput_slo_ms else None,
    }  # fmt: skip
    return _run_client(_OUR_BENCH, args, result_path, timeout_s, "our benchmark client")


def compare(ours: Mapping[str, Any], theirs: Mapping[str, Any], keys: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Rows of ``key, ours, vllm, relative difference`` for a side-by-side table."""
    keys = keys or ("mean_ttft_ms", "mean_tpot_ms", "mean_itl_ms", "output_throughput", "request_throughput")
    rows = []
    for key in keys:
        a, b = float(ours[key]), float(theirs[key])
        rows.append({"metric": key, "ours": a, "vllm": b, "rel_diff": abs(a - b) / abs(b) if b else math.inf})
    return rows


def as_dict(record: RequestRecord) -> dict[str, Any]:
    return asdict(record)


def format_table(rows: Sequence[Mapping[str, Any]], digits: int = 2) -> str:
    """Rows of dicts as an aligned plain-text table (floats rounded to ``digits``)."""
    if not rows:
        return "(no rows)"
    columns = list(dict.fromkeys(k for row in rows for k in row))

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return "inf" if math.isinf(value) else f"{value:,.{digits}f}"
        return "" if value is None else str(value)

    body = [[cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in body)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.rjust(w) for c, w in zip(columns, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.rjust(w) for v, w in zip(r, widths, strict=True)) for r in body]
    return "\n".join(lines)
