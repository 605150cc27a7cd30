"""Both benchmark clients in a process of their own: ``python -m genai_lab.serving.bench ours|vllm``.

A client that shares a busy process (a notebook's kernel, on two cores) times its own overhead too,
so the side-by-side validation runs each client as ``vllm bench serve`` runs: in a fresh Python
process, which writes its JSON result to a file that the caller then reads.

- :func:`run_benchmark_subprocess`: our client (:func:`~.client.run_benchmark`) on
  :func:`~.workload.random_requests`;
- :func:`run_vllm_bench`: vLLM's own ``vllm.benchmarks.serve`` (what ``vllm bench serve`` runs) on
  vLLM's ``random`` dataset of the same shape, ``ignore_eos`` on.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

MODULE = "genai_lab.serving.bench"


def _rate(request_rate: float) -> str:
    return "inf" if math.isinf(request_rate) else str(request_rate)


def _fresh(result_path: str | Path) -> Path:
    """The absolute result path, its folder created and any old result removed (so that a failed run
    cannot pass off a stale file as its result)."""
    path = Path(result_path).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    return path


def _run_client(
    command: str, args: Sequence[str], result_path: Path, timeout_s: float, name: str, log_path: str | Path | None
) -> dict[str, Any]:
    """Run ``python -m genai_lab.serving.bench <command> <args>`` and return the JSON result it saved at
    ``result_path``; on failure, raise with the last lines of its output."""
    proc = subprocess.run(
        [sys.executable, "-m", MODULE, command, *args], capture_output=True, text=True, timeout=timeout_s
    )
    if log_path is not None:
        Path(log_path).write_text(proc.stdout + proc.stderr, encoding="utf-8")
    if proc.returncode != 0 or not result_path.is_file():
        last = "\n".join((proc.stdout + proc.stderr).splitlines()[-25:])
        raise RuntimeError(f"{name} failed (exit {proc.returncode}):\n{last}")
    result: dict[str, Any] = json.loads(result_path.read_text(encoding="utf-8"))
    return result


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
    """Run ``vllm.benchmarks.serve`` in a subprocess and return its JSON result (vLLM's key names).
    Same workload shape as :func:`~.workload.random_requests`, ``ignore_eos`` on; its output goes to
    ``log_path`` when given."""
    path = _fresh(result_path)
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
        "--request-rate", _rate(request_rate),
        "--burstiness", str(burstiness),
        "--seed", str(seed),
        "--ignore-eos",
        "--num-warmups", str(num_warmups),
        "--percentile-metrics", "ttft,tpot,itl,e2el",
        "--metric-percentiles", "99",
        "--disable-tqdm",
        "--save-result",
        "--result-dir", str(path.parent),
        "--result-filename", path.name,
    ]  # fmt: skip
    if max_concurrency is not None:
        args += ["--max-concurrency", str(max_concurrency)]
    return _run_client("vllm", args, path, timeout_s, "vllm.benchmarks.serve", log_path)


def run_benchmark_subprocess(
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
    goodput_slo_ms: Mapping[str, float] | None = None,
    timeout_s: float = 900.0,
    log_path: str | Path | None = None,
) -> dict[str, Any]:
    """:func:`~.client.run_benchmark` on :func:`~.workload.random_requests`, in a process of its own,
    as :func:`run_vllm_bench` runs vLLM's client. Returns the saved JSON result."""
    path = _fresh(result_path)
    args = [
        "--base-url", base_url,
        "--model", model,
        "--tokenizer", str(tokenizer),
        "--num-prompts", str(num_prompts),
        "--random-input-len", str(input_len),
        "--random-output-len", str(output_len),
        "--request-rate", _rate(request_rate),
        "--burstiness", str(burstiness),
        "--num-warmups", str(num_warmups),
        "--seed", str(seed),
        "--result-path", str(path),
    ]  # fmt: skip
    if max_concurrency is not None:
        args += ["--max-concurrency", str(max_concurrency)]
    if goodput_slo_ms:
        args += ["--goodput", *(f"{k}:{v}" for k, v in goodput_slo_ms.items())]
    return _run_client("ours", args, path, timeout_s, "our benchmark client", log_path)
