"""The app's balancer (:mod:`genai_lab.app.balance`) over two real vLLM servers on loopback.

Requests spread across both; a server killed mid-answer fails that request (it is not retried); after
the death, requests not yet sent to the dead server are failed over and all succeed. Two vLLM servers
start side by side (each as small as the ``vllm_server`` fixture, each pinned to its own core): a few
minutes on a busy 2-core machine.
"""

from __future__ import annotations

import asyncio
import os
import signal
from typing import Any

import pytest

pytestmark = pytest.mark.real_model

PROMPT = [("system", "Answer in one short sentence."), ("user", "What is a load balancer?")]


@pytest.fixture(scope="module")
def two_servers(tmp_path_factory: pytest.TempPathFactory):
    from genai_lab.serving.server import VLLMServer

    folder = tmp_path_factory.mktemp("vllm-pair")
    cores = os.cpu_count() or 1
    servers = [
        VLLMServer(kv_cache_memory_bytes=128 * 1024**2, max_model_len=1024, log_path=folder / f"server{i}.log",
                   startup_timeout=600, env={"VLLM_CPU_OMP_THREADS_BIND": str(i % cores)})
        for i in range(2)
    ]  # fmt: skip
    try:
        for server in servers:  # overlap the two start-ups
            server.launch()
        for server in servers:
            server.wait_ready()
        yield servers
    finally:
        for server in servers:
            server.stop()


def _kill(server: Any) -> None:
    """Kill the server's whole process group at once (a crash, not a clean shutdown), then reap it."""
    os.killpg(os.getpgid(server.process.pid), signal.SIGKILL)
    server.stop(grace=5)


async def _answer(balancer: Any, **kwargs: Any) -> str:
    return "".join([str(chunk.content) async for chunk in balancer.astream(PROMPT, **kwargs)])


def test_two_real_servers_spread_and_survive_a_death(two_servers):
    # One event loop for the whole test: langchain-openai shares an async HTTP client per URL, and its
    # pooled connections belong to the loop that opened them (a second asyncio.run finds them closed).
    asyncio.run(_scenario(two_servers))


async def _scenario(two_servers: list[Any]) -> None:
    from genai_lab.app.backends import vllm_balancer
    from genai_lab.app.balance import LeastOutstandingBalancer, is_connection_error

    urls = [server.url for server in two_servers]
    balancer = vllm_balancer(urls, max_new_tokens=8)
    assert isinstance(balancer, LeastOutstandingBalancer) and [r.name for r in balancer.replicas] == urls

    # 1. Eight concurrent requests spread across both servers.
    answers = await asyncio.gather(*(_answer(balancer) for _ in range(8)))
    assert all(a.strip() for a in answers), answers
    spread = balancer.requests_per_server
    print("app.balance.requests_per_server:", spread)
    assert sum(spread) == 8 and min(spread) >= 3, spread

    # 2. A server that dies mid-answer fails the request that was sent to it: no silent retry.
    long = vllm_balancer(urls, max_new_tokens=400)
    received: list[str] = []
    victim = -1
    with pytest.raises(Exception) as died:
        async for chunk in long.astream(PROMPT, extra_body={"ignore_eos": True}):
            received.append(str(chunk.content))
            if victim < 0:
                victim = next(i for i, r in enumerate(long.replicas) if r.in_flight)
                _kill(two_servers[victim])
    assert victim >= 0 and received, f"no chunk arrived before the error: {died.value!r}"
    assert is_connection_error(died.value), f"not a lost connection: {died.value!r}"
    survivor = 1 - victim
    assert long.replicas[victim].failed == 1 and long.replicas[survivor].served == 0, long.stats()
    print(f"mid-answer death of {urls[victim]}: {type(died.value).__name__} after {len(received)} chunks")

    # 3. After the death, requests not yet sent to the dead server still succeed.
    balancer.cooloff_s = 600.0  # so that the dead server is still marked down when the check below runs
    before = balancer.requests_per_server
    answers = await asyncio.gather(*(_answer(balancer) for _ in range(4)))
    assert all(a.strip() for a in answers), answers
    stats = balancer.stats()
    print("after the death:", stats)
    assert stats[victim]["refused"] >= 1 and stats[victim]["down"]  # tried, refused, failed over
    assert balancer.requests_per_server[victim] == before[victim]
    assert balancer.requests_per_server[survivor] == before[survivor] + 4
