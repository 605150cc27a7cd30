"""Multi-LoRA serving on one vLLM server: what serving adapters costs, against one merged model.

The same ``N`` prompts (random tokens, a fixed number of output tokens each, sent with ``ignore_eos``
so that every case produces exactly the same tokens' worth of work) are sent at ``max_concurrency``
in flight, as three cases:

- ``one_adapter``: every request asks for the first adapter (the grounded ``reader``);
- ``mixed_adapters``: the requests go round-robin over the adapters (``reader``, ``sst2``, ``reader``,
  ...), so that each batch holds requests for different adapters;
- ``merged``: the first adapter merged into the weights (``peft``'s ``merge_and_unload``), saved to a
  temporary Hugging Face folder and served by a second server started *without* LoRA: the reference
  with no adapter cost at all;
- ``base`` (optional, not recorded): the base model on the LoRA server, no adapter asked for.

The adapter cases (and ``base``) run on ONE server (:class:`genai_lab.serving.server.VLLMServer`
with ``lora_modules``), the merged case on a second one with the same settings. vLLM computes a LoRA
request as the base matmul plus ``x A B`` in each LoRA-wrapped layer, batched over requests of
different adapters when ``--max-loras`` holds them all (vLLM's default is 1: a batch then holds one
adapter's requests, and a mixed workload waits for adapter switches); :func:`run_multi_lora` sets
``--max-loras`` to the number of adapters unless told otherwise. On a GPU the ``x A B`` are the punica
kernels (S-LoRA, Punica); on a CPU they are PyTorch ops (``vllm/lora/ops/torch_ops``) that gather each
token's ``A`` and ``B`` by its adapter index and multiply with ``einsum``: their cost grows with the
tokens, not with the number of distinct adapters.
Each case first sends ``num_warmups`` unmeasured requests to each model it uses (vLLM loads an
adapter on its first request). Prefix caching is off on both servers (``--no-enable-prefix-caching``):
the cases send the same prompts one after another, and a cached prompt from an earlier case would skip
its prefill and flatter the later case.

Output tokens per second are recorded as ``serving.multi_lora.tok_s.<case>``; ratios are computed
against ``merged``. The requests are streamed with :func:`genai_lab.serving.bench.client.send_request`
and measured with :func:`genai_lab.serving.bench.metrics.compute_metrics`. Command line::

    python -m genai_lab.serving.bench multi-lora --num-prompts 64 --output-len 32 --max-concurrency 8 \\
        --record results/multi_lora.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genai_lab.serving.bench.metrics import RequestRecord, compute_metrics, summary
from genai_lab.serving.bench.workload import SampleRequest

CASES = ("one_adapter", "mixed_adapters", "merged")
ALL_CASES = (*CASES, "base")
LORA_CASES = ("one_adapter", "mixed_adapters", "base")
KEY = "serving.multi_lora.tok_s.{case}"
BASE_MODEL = "smollm2"  # the base model's served name on the LoRA server
MERGED_MODEL = "merged"  # the merged model's served name on the second server
FIXES = {
    "reader": "train it with `python -m genai_lab.reader train` (notebook 35)",
    "sst2": "train it with `python -m genai_lab.peft.sst2_adapter` (a few CPU minutes)",
}


@dataclass(frozen=True)
class Case:
    """One benchmark case: its name, which server answers it (``lora`` or ``merged``) and the served
    model name each request asks for, in request order."""

    name: str
    server: str
    models: tuple[str, ...]


def default_adapters() -> dict[str, Path]:
    """The course's two adapters: ``reader`` (``data/reader/adapter``) and ``sst2``
    (``data/adapters/sst2_sentiment``)."""
    from genai_lab.peft.sst2_adapter import adapter_dir as sst2_dir
    from genai_lab.reader.train import adapter_dir as reader_dir

    return {"reader": reader_dir(), "sst2": sst2_dir()}


def check_adapters(adapters: Mapping[str, str | Path]) -> dict[str, Path]:
    """The adapters as ``{name: folder}``, each folder checked to hold a ``peft`` adapter. A missing
    folder raises ``FileNotFoundError`` that says how to make it."""
    if not adapters:
        raise ValueError("No adapters: pass {name: folder}, e.g. default_adapters().")
    out = {}
    for name, folder in adapters.items():
        if not name or any(c in name for c in "= /") or name in (BASE_MODEL, MERGED_MODEL):
            raise ValueError(f"Adapter name {name!r}: use a plain word other than {BASE_MODEL!r} and {MERGED_MODEL!r}.")
        path = Path(folder)
        if not (path / "adapter_config.json").is_file():
            fix = FIXES.get(name, "save a peft adapter there with model.save_pretrained(folder)")
            raise FileNotFoundError(f"Adapter {name!r}: no adapter_config.json in {path}; {fix}.")
        out[name] = path
    return out


def round_robin(n: int, models: Sequence[str]) -> list[str]:
    """``n`` model names taken in turn from ``models``: request ``i`` asks for ``models[i % len]``."""
    if not models:
        raise ValueError("round_robin needs at least one model name.")
    return [models[i % len(models)] for i in range(n)]


def build_cases(n: int, adapters: Sequence[str], cases: Sequence[str] = CASES) -> list[Case]:
    """The cases to run, in the order given, for ``n`` requests and the adapter names ``adapters``
    (the first one is the adapter of ``one_adapter`` and the one merged for ``merged``)."""
    if n < 1:
        raise ValueError(f"n={n}: send at least one request per case.")
    unknown = [c for c in cases if c not in ALL_CASES]
    if unknown or not cases:
        raise ValueError(f"Unknown case(s) {unknown or cases!r}; choose from {ALL_CASES}.")
    if len(set(cases)) != len(cases):
        raise ValueError(f"Cases {list(cases)} name one case twice.")
    if not adapters:
        raise ValueError("No adapter names: the cases need at least one adapter.")
    if "mixed_adapters" in cases and len(adapters) < 2:
        raise ValueError(f"mixed_adapters needs two or more adapters, got {list(adapters)}; add one (e.g. 'sst2').")
    per_case = {
        "one_adapter": [adapters[0]] * n,
        "mixed_adapters": round_robin(n, adapters),
        "merged": [MERGED_MODEL] * n,
        "base": [BASE_MODEL] * n,
    }
    return [Case(c, "merged" if c == "merged" else "lora", tuple(per_case[c])) for c in cases]


def ratios(tok_s: Mapping[str, float]) -> dict[str, float]:
    """Throughput ratios between the measured cases: ``<case>_vs_merged`` for each case measured
    beside ``merged``, and ``mixed_vs_one`` (mixed adapters over one adapter). A ratio whose
    denominator is missing or not positive is left out."""
    out = {}
    pairs = [(c, "merged") for c in ALL_CASES if c != "merged"] + [("mixed_adapters", "one_adapter")]
    for top, bottom in pairs:
        if top in tok_s and tok_s.get(bottom, 0.0) > 0:
            name = "mixed_vs_one" if bottom == "one_adapter" else f"{top}_vs_merged"
            out[name] = tok_s[top] / tok_s[bottom]
    return out


async def run_case_async(
    base_url: str,
    models: Sequence[str],
    requests: Sequence[SampleRequest],
    max_concurrency: int = 8,
    num_warmups: int = 1,
    timeout_s: float = 600.0,
) -> dict[str, Any]:
    """Send ``requests[i]`` to model ``models[i]``, at most ``max_concurrency`` in flight, after
    ``num_warmups`` unmeasured requests to each distinct model; vLLM's metrics of the measured ones."""
    import httpx

    from genai_lab.serving.bench.client import send_request

    if len(models) != len(requests):
        raise ValueError(f"{len(models)} model names for {len(requests)} requests; give one name per request.")
    if max_concurrency < 1 or num_warmups < 0:
        raise ValueError(f"max_concurrency={max_concurrency} must be >= 1 and num_warmups={num_warmups} >= 0.")
    url = base_url.rstrip("/") + "/completions"
    limit = asyncio.Semaphore(max_concurrency)

    async def one(client: httpx.AsyncClient, model: str, request: SampleRequest) -> RequestRecord:
        async with limit:
            return await send_request(client, url, model, request)

    pool = httpx.Limits(max_connections=None, max_keepalive_connections=None)
    async with httpx.AsyncClient(timeout=httpx.Timeout(timeout_s), limits=pool) as client:
        warm = [one(client, m, requests[0]) for m in dict.fromkeys(models) for _ in range(num_warmups)]
        failed = [r.error for r in await asyncio.gather(*warm) if not r.success]
        if failed:
            raise RuntimeError(f"Warm-up requests failed (is every adapter served?): {sorted(set(failed))[:3]}")
        start = time.perf_counter()
        records = await asyncio.gather(*(one(client, m, r) for m, r in zip(models, requests, strict=True)))
        duration = time.perf_counter() - start
    result = compute_metrics(records, duration, percentiles=(50.0, 99.0))
    result.update(models=list(models), errors=[r.error for r in records if r.error])
    return result


def run_case(base_url: str, models: Sequence[str], requests: Sequence[SampleRequest], **kwargs: Any) -> dict[str, Any]:
    """:func:`run_case_async` from plain Python or Jupyter."""
    from genai_lab.serving.bench.jupyter import run_sync

    return run_sync(lambda: run_case_async(base_url, models, requests, **kwargs))


def merge_adapter(adapter: str | Path, out: str | Path, base: str | Path | None = None) -> Path:
    """Merge a LoRA adapter into SmolLM2's weights (``PeftModel.merge_and_unload``) and save the
    result, with the tokenizer, as a Hugging Face folder that vLLM serves without LoRA."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from genai_lab.models import prepare_smollm2

    base = Path(base) if base is not None else prepare_smollm2()
    out = Path(out)
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    merged = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
    merged.save_pretrained(out, safe_serialization=True)
    AutoTokenizer.from_pretrained(base).save_pretrained(out)
    return out


def run_multi_lora(
    cases: Sequence[str] = CASES,
    adapters: Mapping[str, str | Path] | None = None,
    num_prompts: int = 64,
    input_len: int = 64,
    output_len: int = 32,
    max_concurrency: int = 8,
    num_warmups: int = 1,
    max_loras: int | None = None,
    seed: int = 0,
    log_dir: str | Path | None = None,
    server_kwargs: Mapping[str, Any] | None = None,
    requests: Sequence[SampleRequest] | None = None,
) -> dict[str, Any]:
    """Run the cases (see the module docstring) and return ``{"cases": {name: metrics}, "tok_s":
    {name: output tokens/s}, "ratios": ..., "settings": ...}``. ``server_kwargs`` go to both
    :class:`~genai_lab.serving.server.VLLMServer` instances (e.g. ``kv_cache_memory_bytes``).
    ``requests`` replaces the random workload (``num_prompts`` of ``input_len`` random tokens asking
    for ``output_len`` tokens each)."""
    from genai_lab.models import prepare_smollm2
    from genai_lab.serving.server import VLLMServer

    modules = check_adapters(adapters if adapters is not None else default_adapters())
    if max_loras is not None and max_loras < 1:
        raise ValueError(f"max_loras={max_loras}: give at least 1 (vLLM's default is 1), or None for one per adapter.")
    max_loras = max_loras or len(modules)
    base = prepare_smollm2()
    if requests is None:
        from transformers import AutoTokenizer

        from genai_lab.serving.bench.workload import random_requests

        tokenizer = AutoTokenizer.from_pretrained(base)
        requests = random_requests(tokenizer, num_prompts, input_len, output_len, seed=seed)
    plan = build_cases(len(requests), list(modules), cases)
    logs = Path(log_dir) if log_dir is not None else Path(tempfile.mkdtemp(prefix="multi_lora_"))
    logs.mkdir(parents=True, exist_ok=True)
    kwargs = {"max_model_len": 1024, "startup_timeout": 600.0, **(server_kwargs or {})}
    no_cache = ["--no-enable-prefix-caching"]  # the cases repeat the prompts: no case may reuse another's
    measured: dict[str, dict[str, Any]] = {}

    def measure(server: VLLMServer, which: str) -> None:
        for case in (c for c in plan if c.server == which):
            result = run_case(server.base_url, case.models, requests, max_concurrency=max_concurrency,
                              num_warmups=num_warmups)
            if not result["completed"]:
                raise RuntimeError(f"Case {case.name}: every request failed: {sorted(set(result['errors']))[:3]}")
            measured[case.name] = result

    if any(c.server == "lora" for c in plan):
        with VLLMServer(base, served_model_name=BASE_MODEL, lora_modules=modules, log_path=logs / "lora_server.log",
                        extra_args=[*no_cache, "--max-loras", str(max_loras)], **kwargs) as server:
            measure(server, "lora")
    if any(c.server == "merged" for c in plan):
        first = next(iter(modules))
        with tempfile.TemporaryDirectory(prefix="merged_") as tmp:
            merged = merge_adapter(modules[first], Path(tmp) / f"{first}_merged", base)
            with VLLMServer(merged, served_model_name=MERGED_MODEL, log_path=logs / "merged_server.log",
                            extra_args=no_cache, **kwargs) as server:
                measure(server, "merged")
    ordered = {c.name: measured[c.name] for c in plan}
    tok_s = {name: float(r["output_throughput"]) for name, r in ordered.items()}
    settings = {"num_prompts": len(requests), "input_len": input_len, "output_len": output_len,
                "max_concurrency": max_concurrency, "num_warmups": num_warmups, "max_loras": max_loras,
                "adapters": {k: str(v) for k, v in modules.items()}, "merged_adapter": next(iter(modules)),
                "logs": str(logs)}
    return {"cases": ordered, "tok_s": tok_s, "ratios": ratios(tok_s), "settings": settings}


def table_rows(result: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per case: what it asked for, completed/failed, output tok/s, its ratio to ``merged``,
    median TPOT and p99 end-to-end latency."""
    tok_s, rel = result["tok_s"], result["ratios"]
    rows = []
    for name, r in result["cases"].items():
        asked = ", ".join(dict.fromkeys(r.get("models", [])))
        vs_merged = 1.0 if name == "merged" else rel.get(f"{name}_vs_merged")
        rows.append({"case": name, "models": asked, "completed": r["completed"], "failed": r["failed"],
                     "output tok/s": tok_s[name], "vs merged": vs_merged,
                     "median TPOT ms": r["median_tpot_ms"], "p99 E2EL ms": r["p99_e2el_ms"]})
    return rows


def record(path: str | Path, tok_s: Mapping[str, float]) -> Path:
    """Record ``serving.multi_lora.tok_s.<case>`` (the three recorded cases only) into the results
    file ``path`` through :class:`genai_lab.results.Recorder`, keeping the keys already there."""
    from genai_lab.results import META_KEYS, Recorder

    path = Path(path)
    if path.suffix != ".json":
        raise ValueError(f"--record {path}: give a results JSON file such as results/22_vllm_serving.json.")
    recorder = Recorder(path.stem, path.parent)
    if path.is_file():
        existing = json.loads(path.read_text(encoding="utf-8"))
        recorder.values = {k: v for k, v in existing.items() if k not in META_KEYS}
    recorder.update({KEY.format(case=c): round(v, 3) for c, v in tok_s.items() if c in CASES})
    return recorder.path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``multi-lora`` subcommand's flags."""
    parser.add_argument("--cases", nargs="+", choices=ALL_CASES, default=list(CASES))
    parser.add_argument("--num-prompts", type=int, default=64)
    parser.add_argument("--input-len", type=int, default=64, help="prompt tokens per request")
    parser.add_argument("--output-len", type=int, default=32, help="output tokens per request (max_tokens)")
    parser.add_argument("--max-concurrency", type=int, default=8)
    parser.add_argument("--num-warmups", type=int, default=1, help="unmeasured requests per model before each case")
    parser.add_argument("--max-loras", type=int, default=None, help="vLLM --max-loras (default: number of adapters)")
    parser.add_argument("--adapter", action="append", default=None, metavar="NAME=PATH",
                        help="a LoRA module (repeat); default reader= and sst2= the course's adapters")
    parser.add_argument("--kv-cache-mib", type=int, default=256)
    parser.add_argument("--dtype", default="float32", help="the servers' --dtype (float32 on a CPU; bfloat16 on a GPU)")
    parser.add_argument("--log-dir", default=None, help="where the servers' logs go (default a temporary folder)")
    parser.add_argument("--result-path", default=None, help="write the full result (every case's metrics) as JSON")
    parser.add_argument("--record", default=None, metavar="PATH",
                        help="record serving.multi_lora.tok_s.<case> into this results JSON")


def parse_adapters(items: Sequence[str] | None) -> dict[str, Path] | None:
    """``["reader=PATH", ...]`` as ``{name: Path}``; None (the default adapters) when not given."""
    if not items:
        return None
    out = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise ValueError(f"--adapter {item!r}: write NAME=PATH, e.g. reader=data/reader/adapter.")
        out[name] = Path(path)
    return out


def run_cli(args: argparse.Namespace) -> int:
    """Run the benchmark from parsed :func:`add_arguments` flags; print the table, save and record."""
    from genai_lab.serving.bench.client import save_result
    from genai_lab.tables import show_table

    try:
        if args.max_loras is not None and args.max_loras < 1:
            raise ValueError(f"--max-loras {args.max_loras}: give at least 1 (vLLM's default is 1).")
        if min(args.input_len, args.output_len, args.max_concurrency) < 1 or args.num_warmups < 0:
            raise ValueError("--input-len, --output-len and --max-concurrency must be at least 1, --num-warmups >= 0.")
        adapters = check_adapters(parse_adapters(args.adapter) or default_adapters())
        build_cases(args.num_prompts, list(adapters), args.cases)  # bad flags fail before a server starts
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    result = run_multi_lora(
        args.cases, adapters, args.num_prompts, args.input_len, args.output_len,
        args.max_concurrency, args.num_warmups, args.max_loras, log_dir=args.log_dir,
        server_kwargs={"kv_cache_memory_bytes": args.kv_cache_mib * 1024**2, "dtype": args.dtype},
    )
    show_table(table_rows(result), formats={"output tok/s": ",.1f", "vs merged": ".2f",
                                            "median TPOT ms": ",.1f", "p99 E2EL ms": ",.0f"})
    print("ratios:", ", ".join(f"{k} {v:.2f}" for k, v in result["ratios"].items()) or "-")
    if args.result_path:
        slim = {**result, "cases": {k: summary(v) for k, v in result["cases"].items()}}
        print("result in", save_result(slim, args.result_path))
    if args.record:
        print("recorded in", record(args.record, result["tok_s"]))
    return 0
