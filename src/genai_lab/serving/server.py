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

:func:`child_preexec` and :func:`stop_process_group` are the process plumbing, shared with
:class:`genai_lab.app.client.AppProcess`.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

LOOPBACK = "127.0.0.1"
DEFAULT_KV_CACHE_BYTES = 256 * 1024**2
_LIVE: weakref.WeakSet[VLLMServer] = weakref.WeakSet()


class ServerStartupError(RuntimeError):
    """The vLLM server did not become healthy; the message carries the tail of its log."""


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port that is free on ``host`` right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def tail(path: Path | str, lines: int = 30) -> str:
    """The last ``lines`` lines of a text file ('' when it does not exist)."""
    path = Path(path)
    if not path.is_file():
        return ""
    with path.open("rb") as fh:
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        fh.seek(max(0, size - 64 * 1024))
        text = fh.read().decode("utf-8", errors="replace")
    return "\n".join(text.splitlines()[-lines:])


def _set_parent_death_signal() -> None:  # pragma: no cover - runs in the child before exec
    """Linux only: ask the kernel to SIGTERM the child if the Python process that started it dies."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG = 1
    except OSError:
        pass


def child_preexec() -> Callable[[], None] | None:
    """The ``preexec_fn`` for a managed child process: the parent-death signal, on Linux and from the
    main thread only. The kernel sends that signal when the *thread* that started the child exits, so
    a child started from a worker thread (a thread pool) would die with the thread."""
    if sys.platform == "linux" and threading.current_thread() is threading.main_thread():
        return _set_parent_death_signal
    return None


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover
        return True
    return True


def stop_process_group(process: subprocess.Popen[bytes], grace: float) -> None:
    """Terminate the process group that ``process`` leads (it was started with
    ``start_new_session=True``): SIGTERM, then SIGKILL after ``grace`` seconds; then wait until no
    member of the group is left, since the leader may exit before its children."""
    try:
        pgid = os.getpgid(process.pid)
    except ProcessLookupError:
        pgid = None
    if pgid is not None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        if pgid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
        process.wait(timeout=10)
    if pgid is not None:
        deadline = time.monotonic() + grace
        while _group_alive(pgid) and time.monotonic() < deadline:
            time.sleep(0.2)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)


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


class VLLMServer:
    """One vLLM OpenAI-compatible server on loopback, started and stopped by this object.

    Args:
        model: a Hugging Face model folder; default SmolLM2 (:func:`genai_lab.models.prepare_smollm2`).
        served_model_name: the name clients put in ``"model"``.
        dtype: ``float32`` on this CPU (bfloat16 is about 3x slower here without AMX).
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
    """

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
        if startup_timeout <= 0:
            raise ValueError(f"startup_timeout={startup_timeout}: give a positive number of seconds.")
        self.model = str(model) if model is not None else None
        self.served_model_name = served_model_name
        self.dtype = dtype
        self.enforce_eager = enforce_eager
        self.kv_cache_memory_bytes = int(kv_cache_memory_bytes)
        self.max_model_len = max_model_len
        self.block_size = block_size
        self.max_num_seqs = max_num_seqs
        self.port = port
        self.startup_timeout = float(startup_timeout)
        self.extra_args = list(extra_args)
        self.env = dict(env or {})
        self._own_log = log_path is None
        self.log_path = Path(log_path) if log_path is not None else None
        self.process: subprocess.Popen[bytes] | None = None
        self.startup_seconds: float | None = None
        self._started = 0.0

    # -- addresses ---------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>`` (no ``/v1``)."""
        if self.port is None:
            raise RuntimeError("The server has no port yet; call start() first.")
        return f"http://{LOOPBACK}:{self.port}"

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
            "--disable-log-stats",
        ]  # fmt: skip
        if self.enforce_eager:
            cmd.append("--enforce-eager")
        if self.block_size is not None:
            cmd += ["--block-size", str(self.block_size)]
        if self.max_num_seqs is not None:
            cmd += ["--max-num-seqs", str(self.max_num_seqs)]
        return cmd + self.extra_args

    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def healthy(self, timeout: float = 2.0) -> bool:
        """True when ``GET /health`` answers 200."""
        try:
            with urllib.request.urlopen(self.url + "/health", timeout=timeout) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError, RuntimeError):
            return False

    def log_tail(self, lines: int = 30) -> str:
        """The last ``lines`` lines of the server's log ('' before the first launch)."""
        return tail(self.log_path, lines) if self.log_path is not None else ""

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

    def launch(self) -> VLLMServer:
        """Start the process and return at once; :meth:`wait_ready` waits for it. Launch several
        servers, then wait for each, to overlap their start-ups (from the main thread: see below)."""
        if self.is_running():
            return self
        cmd = self.command()
        if self.log_path is None:
            fd, name = tempfile.mkstemp(prefix="vllm-server-", suffix=".log")
            os.close(fd)
            self.log_path = Path(name)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", **self.env}
        self._started = time.perf_counter()
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                cmd,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,  # its own process group: stop() takes the children too
                preexec_fn=child_preexec(),
            )
        _LIVE.add(self)
        return self

    def wait_ready(self) -> VLLMServer:
        """Poll ``/health`` until it answers 200; raises :class:`ServerStartupError` (after stopping
        the server) if the process dies or ``startup_timeout`` passes."""
        if self.process is None:
            raise RuntimeError("The server was not launched; call start() or launch() first.")
        deadline = self._started + self.startup_timeout
        try:
            while True:
                code = self.process.poll()
                if code is not None:
                    raise ServerStartupError(
                        f"vLLM server exited with code {code} during start-up. Last log lines "
                        f"({self.log_path}):\n{self.log_tail()}"
                    )
                if self.healthy(timeout=1.0):
                    break
                if time.perf_counter() > deadline:
                    raise ServerStartupError(
                        f"vLLM server not healthy after {self.startup_timeout:.0f} s (raise "
                        f"startup_timeout if the machine is busy). Last log lines ({self.log_path}):\n"
                        f"{self.log_tail()}"
                    )
                time.sleep(0.5)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.perf_counter() - self._started
        return self

    def start(self) -> VLLMServer:
        """Start the server and wait until it is healthy; raises :class:`ServerStartupError`."""
        if self.is_running() and self.startup_seconds is not None:
            return self
        return self.launch().wait_ready()

    def stop(self, grace: float = 20.0) -> None:
        """Terminate the server's whole process group: SIGTERM, then SIGKILL after ``grace`` s.

        Safe to call twice, and after a failed start."""
        process, self.process = self.process, None
        _LIVE.discard(self)
        if process is not None:
            stop_process_group(process, grace)

    def __enter__(self) -> VLLMServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.is_running() else "stopped"
        where = f"{self.url}" if self.port is not None else "no port yet"
        return f"VLLMServer({self.served_model_name!r}, {where}, {state}, log={self.log_path})"


@atexit.register
def _stop_all() -> None:  # pragma: no cover - runs at interpreter exit
    for server in list(_LIVE):
        with contextlib.suppress(Exception):
            server.stop(grace=5.0)
