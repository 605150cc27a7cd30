"""A server as a managed child process on loopback: the one lifecycle that the vLLM server, the
capstone app and the search service share.

What :class:`ManagedProcess` guarantees:

- **loopback only**, on a free port unless one is given;
- **a bounded start**: :meth:`ManagedProcess.start` polls the health path until it answers 200, the
  process dies, or ``startup_timeout`` seconds pass; a failed start raises
  :class:`ServerStartupError` whose message ends with the last lines of the process's log;
- **a log file**: stdout and stderr go to ``log_path`` (a temporary file unless given);
- **clean shutdown**: the child runs in its own process group, which :meth:`ManagedProcess.stop`
  terminates (SIGTERM, then SIGKILL after a grace period), so its own children go too. The context
  manager, an ``atexit`` hook and a parent-death signal cover errors and crashes.

A subclass names itself (``label``), its health path and its command line (:meth:`command`).
"""

from __future__ import annotations

import atexit
import contextlib
import os
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
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Self

LOOPBACK = "127.0.0.1"
_LIVE: weakref.WeakSet[ManagedProcess] = weakref.WeakSet()


class ServerStartupError(RuntimeError):
    """The managed server did not become healthy; the message carries the tail of its log."""


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


class ManagedProcess:
    """An HTTP server in a child process on loopback, started and stopped by this object.

    Args:
        port: a fixed port; default a free one.
        log_path: where the child's stdout/stderr go; default a temporary file.
        startup_timeout: seconds to wait for the health path to answer 200.
        env: extra environment variables for the child (the hub is always offline).
    """

    label = "server"
    health_path = "/health"

    def __init__(
        self,
        *,
        port: int | None = None,
        log_path: str | Path | None = None,
        startup_timeout: float = 300.0,
        env: Mapping[str, str] | None = None,
    ) -> None:
        if startup_timeout <= 0:
            raise ValueError(f"startup_timeout={startup_timeout}: give a positive number of seconds.")
        self.port = port
        self.log_path = Path(log_path) if log_path is not None else None
        self.startup_timeout = float(startup_timeout)
        self.env = dict(env or {})
        self.process: subprocess.Popen[bytes] | None = None
        self.startup_seconds: float | None = None
        self._started = 0.0

    def command(self) -> list[str]:
        """The command line that starts the child (it must bind :data:`LOOPBACK` and ``self.port``)."""
        raise NotImplementedError(f"{type(self).__name__} must define command()")

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        if self.port is None:
            raise RuntimeError(f"The {self.label} has no port yet; call start() first.")
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def healthy(self, timeout: float = 2.0) -> bool:
        """True when ``GET <health_path>`` answers 200."""
        try:
            with urllib.request.urlopen(self.url + self.health_path, timeout=timeout) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError, RuntimeError):
            return False

    def log_tail(self, lines: int = 30) -> str:
        """The last ``lines`` lines of the child's log ('' before the first launch)."""
        return tail(self.log_path, lines) if self.log_path is not None else ""

    def launch(self) -> Self:
        """Start the child and return at once; :meth:`wait_ready` waits for it. Launch several, then
        wait for each, to overlap their start-ups (from the main thread: see :func:`child_preexec`)."""
        if self.is_running():
            return self
        if self.port is None:
            self.port = free_port()
        cmd = self.command()
        if self.log_path is None:
            fd, name = tempfile.mkstemp(prefix=f"genai-lab-{self.label.replace(' ', '-')}-", suffix=".log")
            os.close(fd)
            self.log_path = Path(name)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", **self.env}
        self._started = time.perf_counter()
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                start_new_session=True,  # its own process group: stop() takes the children too
                preexec_fn=child_preexec(),
            )  # fmt: skip
        _LIVE.add(self)
        return self

    def wait_ready(self) -> Self:
        """Poll the health path until it answers 200; raises :class:`ServerStartupError` (after
        stopping the child) if the process dies or ``startup_timeout`` passes."""
        if self.process is None:
            raise RuntimeError(f"The {self.label} was not launched; call start() or launch() first.")
        deadline = self._started + self.startup_timeout
        try:
            while True:
                code = self.process.poll()
                if code is not None:
                    raise ServerStartupError(
                        f"The {self.label} exited with code {code} during start-up. Last log lines "
                        f"({self.log_path}):\n{self.log_tail()}"
                    )
                if self.healthy(timeout=1.0):
                    break
                if time.perf_counter() > deadline:
                    raise ServerStartupError(
                        f"The {self.label} was not healthy after {self.startup_timeout:.0f} s (raise "
                        f"startup_timeout if the machine is busy). Last log lines ({self.log_path}):\n"
                        f"{self.log_tail()}"
                    )
                time.sleep(0.3)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.perf_counter() - self._started
        return self

    def start(self) -> Self:
        """Start the child and wait until it is healthy; raises :class:`ServerStartupError`."""
        if self.is_running() and self.startup_seconds is not None:
            return self
        return self.launch().wait_ready()

    def stop(self, grace: float = 20.0) -> None:
        """Terminate the child's whole process group: SIGTERM, then SIGKILL after ``grace`` s.
        Safe to call twice, and after a failed start."""
        process, self.process = self.process, None
        _LIVE.discard(self)
        if process is not None:
            stop_process_group(process, grace)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.is_running() else "stopped"
        where = self.url if self.port is not None else "no port yet"
        return f"{type(self).__name__}({where}, pid={self.pid}, {state}, log={self.log_path})"


@atexit.register
def _stop_all() -> None:  # pragma: no cover - runs at interpreter exit
    for server in list(_LIVE):
        with contextlib.suppress(Exception):
            server.stop(grace=5.0)
