"""vLLM's OpenAI-compatible server as a managed child process.

::

    with VLLMServer() as server:                  # SmolLM2, float32, eager, 256 MiB of KV cache
        print(server.base_url)                    # http://127.0.0.1:<free port>/v1
        client = openai.OpenAI(base_url=server.base_url, api_key="EMPTY")

What the manager guarantees:

- **loopback only**: the server binds ``127.0.0.1`` on a free port; ``--host`` cannot be overridden;
- **a bounded start**: :meth:`VLLMServer.start` polls ``/health`` until it answers 200, the process
  dies, or ``startup_timeout`` seconds pass; a failed start raises :class:`ServerStartupError` whose
  message ends with the last lines of the server's log;
- **a log file**: stdout and stderr go to ``log_path`` (a temporary file unless given);
- **clean shutdown**: the server runs in its own process group, which :meth:`VLLMServer.stop`
  terminates (SIGTERM, then SIGKILL after a grace period), so vLLM's engine-core child goes too. The
  context manager, an ``atexit`` hook and a parent-death signal cover errors and crashes.
- **a bounded KV cache**: vLLM on CPU otherwise reserves most of the machine's memory; the
  default here is 256 MiB (``kv_cache_memory_bytes``).

The server is started with ``python -m vllm.entrypoints.openai.api_server`` (the ``vllm`` console
script is not needed). :func:`kv_cache_lines` (and :meth:`VLLMServer.kv_cache`) read back from its log
how many tokens of KV cache vLLM allocated and how many maximum-length requests fit at once.

The lifecycle (free port, bounded start, log, process-group shutdown) is
:class:`genai_lab.serving.process.ManagedProcess`, shared with the capstone app and the search service;
its helpers are re-exported here.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from genai_lab.serving.process import (
    LOOPBACK,
    ManagedProcess,
    ServerStartupError,
    child_preexec,
    free_port,
    stop_process_group,
    tail,
)

__all__ = [
    "DEFAULT_KV_CACHE_BYTES",
    "LOOPBACK",
    "KVCacheLine",
    "ServerStartupError",
    "VLLMServer",
    "child_preexec",
    "free_port",
    "kv_cache_lines",
    "stop_process_group",
    "tail",
]

DEFAULT_KV_CACHE_BYTES = 256 * 1024**2


# vLLM logs, once per engine start: "<device> KV cache size: 5,760 tokens, Maximum concurrency for
# 1,024 tokens per request: 5.62x" (vllm/v1/core/kv_cache_utils.py).
_KV_CACHE_LINE = re.compile(
    r"KV cache size: ([\d,]+) tokens, Maximum concurrency for ([\d,]+) tokens per request: ([\d.]+)x"
)
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass(frozen=True)
class KVCacheLine:
    """vLLM's start-up report of its KV cache: ``tokens`` slots in all, enough for
    ``max_concurrency`` requests of ``tokens_per_request`` (the maximum model length) at once."""

    tokens: int
    tokens_per_request: int
    max_concurrency: float
    line: str


def kv_cache_lines(log_text: str) -> list[KVCacheLine]:
    """Every KV-cache report in a vLLM log, in order (one per engine start; colour codes removed)."""
    found = []
    for raw in log_text.splitlines():
        line = _ANSI.sub("", raw).strip()
        if m := _KV_CACHE_LINE.search(line):
            tokens, per_request, concurrency = m.groups()
            number = int(tokens.replace(",", ""))
            found.append(KVCacheLine(number, int(per_request.replace(",", "")), float(concurrency), line))
    return found


class VLLMServer(ManagedProcess):
    """One vLLM OpenAI-compatible server on loopback, started and stopped by this object.

    Args:
        model: a Hugging Face model folder; default SmolLM2 (:func:`genai_lab.models.prepare_smollm2`).
        served_model_name: the name clients put in ``"model"``.
        dtype: ``float32`` by default on a CPU (notebook 23 measures bfloat16 at about its speed here).
        enforce_eager: skip ``torch.compile`` (a start of ~35 s instead of ~3 min on 2 cores).
        kv_cache_memory_bytes: the KV-cache budget. Always bounded; vLLM takes most RAM otherwise.
        max_model_len: the longest prompt + output the server accepts.
        block_size: tokens per KV-cache block (None: vLLM's default for the platform).
        max_num_seqs: the most sequences batched in one step (None: vLLM's default).
        port: a fixed port; default a free one.
        log_path: where the server's stdout/stderr go; default a temporary file.
        startup_timeout: seconds to wait for ``/health``.
        extra_args: further ``api_server`` flags, e.g. ``["--seed", "0"]``.
        env: extra environment variables for the server process.
        lora_modules: ``{name: adapter folder}`` served as LoRA modules on the same base
            (``--enable-lora --lora-modules name=PATH --max-lora-rank R``, R the largest adapter rank); a
            request for the model ``name`` gets that adapter, e.g. ``{"reader": adapter_dir()}``.
    """

    label = "vLLM server"
    health_path = "/health"

    def __init__(
        self,
        model: str | Path | None = None,
        *,
        served_model_name: str = "smollm2",
        dtype: str = "float32",
        enforce_eager: bool = True,
        kv_cache_memory_bytes: int = DEFAULT_KV_CACHE_BYTES,
        max_model_len: int = 2048,
        block_size: int | None = None,
        max_num_seqs: int | None = None,
        port: int | None = None,
        log_path: str | Path | None = None,
        startup_timeout: float = 300.0,
        extra_args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        lora_modules: Mapping[str, str | Path] | None = None,
        log_stats: bool = False,
    ) -> None:
        if kv_cache_memory_bytes <= 0:
            raise ValueError(
                f"kv_cache_memory_bytes={kv_cache_memory_bytes}: give a positive budget such as "
                f"{DEFAULT_KV_CACHE_BYTES} (256 MiB); an unbounded KV cache takes most of the RAM."
            )
        for flag in ("--host", "--port"):
            if any(arg == flag or arg.startswith(flag + "=") for arg in extra_args):
                raise ValueError(
                    f"{flag} is managed by VLLMServer (loopback only, free port); remove it from "
                    "extra_args and pass port=... if you need a fixed port."
                )
        super().__init__(port=port, log_path=log_path, startup_timeout=startup_timeout, env=env)
        self.model = str(model) if model is not None else None
        self.served_model_name = served_model_name
        self.dtype = dtype
        self.enforce_eager = enforce_eager
        self.kv_cache_memory_bytes = int(kv_cache_memory_bytes)
        self.max_model_len = max_model_len
        self.block_size = block_size
        self.max_num_seqs = max_num_seqs
        self.extra_args = list(extra_args)
        # vLLM's --disable-log-stats also empties its Prometheus /metrics of engine stats (prefix-cache
        # hits, queue depth); log_stats=True keeps them, for a service that is monitored or load-tested.
        self.log_stats = log_stats
        self.lora_modules = {name: Path(path) for name, path in (lora_modules or {}).items()}
        for name, path in self.lora_modules.items():
            if not (path / "adapter_config.json").is_file():
                raise FileNotFoundError(
                    f"LoRA module {name!r}: no adapter_config.json in {path}; pass a peft save_pretrained folder."
                )

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible base URL, ``http://127.0.0.1:<port>/v1``."""
        return self.url + "/v1"

    # -- lifecycle ---------------------------------------------------------------------------------
    def command(self) -> list[str]:
        """The command line that starts the server (handy to print in a notebook)."""
        if self.model is None:
            from genai_lab.models import prepare_smollm2

            self.model = str(prepare_smollm2())
        if self.port is None:
            self.port = free_port()
        cmd = [
            sys.executable, "-m", "vllm.entrypoints.openai.api_server",
            "--model", self.model,
            "--served-model-name", self.served_model_name,
            "--host", LOOPBACK,
            "--port", str(self.port),
            "--dtype", self.dtype,
            "--max-model-len", str(self.max_model_len),
            "--kv-cache-memory-bytes", str(self.kv_cache_memory_bytes),
        ]  # fmt: skip
        if not self.log_stats:
            cmd.append("--disable-log-stats")
        if self.enforce_eager:
            cmd.append("--enforce-eager")
        if self.block_size is not None:
            cmd += ["--block-size", str(self.block_size)]
        if self.max_num_seqs is not None:
            cmd += ["--max-num-seqs", str(self.max_num_seqs)]
        if self.lora_modules:
            ranks = [json.loads((p / "adapter_config.json").read_text(encoding="utf-8")).get("r", 8)
                     for p in self.lora_modules.values()]
            cmd += ["--enable-lora", "--max-lora-rank", str(max(ranks)), "--lora-modules",
                    *(f"{name}={path}" for name, path in self.lora_modules.items())]
        return cmd + self.extra_args

    def kv_cache(self) -> KVCacheLine:
        """The KV cache this server's engine allocated, from its log (the latest start's report)."""
        log = self.log_path
        found = kv_cache_lines(log.read_text(encoding="utf-8", errors="replace")) if log and log.is_file() else []
        if not found:
            raise RuntimeError(
                f"No 'KV cache size' line in the server's log ({self.log_path}): vLLM writes it at INFO "
                "level once the engine is up. Call start() first, and do not set VLLM_LOGGING_LEVEL above INFO."
            )
        return found[-1]

    def __repr__(self) -> str:
        state = "running" if self.is_running() else "stopped"
        where = f"{self.url}" if self.port is not None else "no port yet"
        return f"VLLMServer({self.served_model_name!r}, {where}, {state}, log={self.log_path})"
