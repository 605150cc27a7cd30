"""The app's balancer over two real vLLM servers on loopback: the scenario behind the integration test
``tests/integration/test_app_balance_real.py`` and ``scripts/balance_check.py`` (which records
``app.balance.requests_per_server``).

:func:`start_pair` starts two small vLLM servers side by side, each pinned to its own core;
:func:`exercise_pair` then runs, on one event loop:

1. eight concurrent requests through :func:`genai_lab.app.backends.vllm_balancer`: they spread;
2. one long request whose server is killed mid-answer: that request fails (it is not retried);
3. four more requests after the death: none is sent to the dead server, all are answered.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROMPT = [("system", "Answer in one short sentence."), ("user", "What is a load balancer?")]


@contextmanager
def start_pair(folder: Path, kv_cache_bytes: int = 128 * 1024**2, max_model_len: int = 1024) -> Iterator[list[Any]]:
    """Two vLLM servers (their start-ups overlap), stopped on exit; logs in ``folder``."""
    from genai_lab.serving.server import VLLMServer

    cores = os.cpu_count() or 1
    servers = [
        VLLMServer(kv_cache_memory_bytes=kv_cache_bytes, max_model_len=max_model_len,
                   log_path=folder / f"server{i}.log", startup_timeout=600,
                   env={"VLLM_CPU_OMP_THREADS_BIND": str(i % cores)})
        for i in range(2)
    ]  # fmt: skip
    try:
        for server in servers:
            server.launch()
        for server in servers:
            server.wait_ready()
        yield servers
    finally:
        for server in servers:
            server.stop()


@dataclass
class PairOutcome:
    """What :func:`exercise_pair` saw."""

    urls: list[str]
    answers: list[str] = field(default_factory=list)  # step 1
    spread: list[int] = field(default_factory=list)  # requests per server after step 1
    victim: int = -1  # step 2: the server killed mid-answer
    died: BaseException | None = None  # the error the long request ended with (None: it did not fail)
    chunks_before_death: int = 0
    long_stats: list[dict[str, Any]] = field(default_factory=list)
    answers_after: list[str] = field(default_factory=list)  # step 3
    stats_after: list[dict[str, Any]] = field(default_factory=list)
    spread_after: list[int] = field(default_factory=list)

    @property
    def lost_after_death(self) -> int:
        """Requests of step 3 that got no answer (must be 0: none was sent to the dead server)."""
        return sum(1 for a in self.answers_after if not a.strip())


def _kill(server: Any) -> None:
    """Kill the server's whole process group at once (a crash, not a clean shutdown), then reap it."""
    os.killpg(os.getpgid(server.process.pid), signal.SIGKILL)
    server.stop(grace=5)


async def _answer(balancer: Any, **kwargs: Any) -> str:
    return "".join([str(chunk.content) async for chunk in balancer.astream(PROMPT, **kwargs)])


async def exercise_pair(servers: list[Any], concurrent: int = 8, after: int = 4) -> PairOutcome:
    """Steps 1-3 of the module docstring; kills one of ``servers``. One event loop throughout:
    langchain-openai's pooled connections belong to the loop that opened them."""
    from genai_lab.app.backends import vllm_balancer

    urls = [server.url for server in servers]
    out = PairOutcome(urls)
    balancer = vllm_balancer(urls, max_new_tokens=8)
    out.answers = list(await asyncio.gather(*(_answer(balancer) for _ in range(concurrent))))
    out.spread = balancer.requests_per_server

    long = vllm_balancer(urls, max_new_tokens=400)
    try:
        async for _chunk in long.astream(PROMPT, extra_body={"ignore_eos": True}):
            out.chunks_before_death += 1
            if out.victim < 0:
                out.victim = next(i for i, r in enumerate(long.replicas) if r.in_flight)
                _kill(servers[out.victim])
    except Exception as exc:  # noqa: BLE001 - the outcome is checked by the caller
        out.died = exc
    out.long_stats = long.stats()

    balancer.cooloff_s = 600.0  # the dead server stays marked down for the rest of the scenario
    out.answers_after = list(await asyncio.gather(*(_answer(balancer) for _ in range(after))))
    out.stats_after = balancer.stats()
    out.spread_after = balancer.requests_per_server
    return out
