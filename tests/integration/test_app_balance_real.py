"""The app's balancer (:mod:`genai_lab.app.balance`) over two real vLLM servers on loopback.

Requests spread across both; a server killed mid-answer fails that request (it is not retried); after
the death, requests not yet sent to the dead server are failed over and all succeed. Two vLLM servers
start side by side (each as small as the ``vllm_server`` fixture, each pinned to its own core): a few
minutes on a busy 2-core machine. The scenario is :mod:`genai_lab.app.pair_check`, which
``scripts/balance_check.py`` also runs to record ``app.balance.requests_per_server``.
"""

from __future__ import annotations

import asyncio

import pytest

pytestmark = pytest.mark.real_model


@pytest.fixture(scope="module")
def two_servers(tmp_path_factory: pytest.TempPathFactory):
    from genai_lab.app.pair_check import start_pair

    with start_pair(tmp_path_factory.mktemp("vllm-pair")) as servers:
        yield servers


def test_two_real_servers_spread_and_survive_a_death(two_servers):
    from genai_lab.app.backends import vllm_balancer
    from genai_lab.app.balance import LeastOutstandingBalancer, is_connection_error
    from genai_lab.app.pair_check import exercise_pair

    urls = [server.url for server in two_servers]
    balancer = vllm_balancer(urls)
    assert isinstance(balancer, LeastOutstandingBalancer) and [r.name for r in balancer.replicas] == urls

    out = asyncio.run(exercise_pair(two_servers))

    # 1. Eight concurrent requests spread across both servers.
    assert all(a.strip() for a in out.answers), out.answers
    print("app.balance.requests_per_server:", out.spread)
    assert sum(out.spread) == 8 and min(out.spread) >= 3, out.spread

    # 2. A server that dies mid-answer fails the request that was sent to it: no silent retry.
    assert out.died is not None, "the long request did not fail when its server was killed"
    assert out.victim >= 0 and out.chunks_before_death, f"no chunk arrived before the error: {out.died!r}"
    assert is_connection_error(out.died), f"not a lost connection: {out.died!r}"
    victim, survivor = out.victim, 1 - out.victim
    assert out.long_stats[victim]["failed"] == 1 and out.long_stats[survivor]["served"] == 0, out.long_stats
    print(f"mid-answer death of {urls[victim]}: {type(out.died).__name__} after {out.chunks_before_death} chunks")

    # 3. After the death, requests not yet sent to the dead server still succeed.
    assert out.lost_after_death == 0 and len(out.answers_after) == 4, out.answers_after
    print("after the death:", out.stats_after)
    assert out.stats_after[victim]["refused"] >= 1 and out.stats_after[victim]["down"]  # tried, refused, failed over
    assert out.spread_after[victim] == out.spread[victim]
    assert out.spread_after[survivor] == out.spread[survivor] + 4
