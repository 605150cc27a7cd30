#!/usr/bin/env python
"""The app's balancer over two REAL vLLM servers on loopback, recorded.

Starts two small vLLM servers (each pinned to its own core), sends 8 concurrent requests through the
app's least-outstanding-requests balancer, kills one server in the middle of a long answer, then sends
4 more requests (``genai_lab.app.pair_check``). Records in results/40_capstone_app.json:
``app.balance.requests_per_server.server<i>`` (after the 8), ``app.balance.failed_mid_answer`` (the
request whose server died: 1, it is not retried), ``app.balance.lost_after_death`` (must be 0) and
``app.balance.requests_per_server_after_death.server<i>``. A few minutes on a 2-core machine.

    python scripts/balance_check.py
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

from genai_lab.app import app_recorder
from genai_lab.app.balance import is_connection_error
from genai_lab.app.pair_check import exercise_pair, start_pair


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="vllm-pair-") as folder:
        print("starting two vLLM servers (a few minutes)...", flush=True)
        with start_pair(Path(folder)) as servers:
            out = asyncio.run(exercise_pair(servers))
    print(f"8 concurrent requests per server: {out.spread}")
    died = out.died is not None and is_connection_error(out.died)
    print(f"server {out.victim} killed mid-answer: the request failed with a lost connection: {died} "
          f"({type(out.died).__name__ if out.died else 'no error'}, after {out.chunks_before_death} chunks)")
    print(f"4 requests after the death: {len(out.answers_after) - out.lost_after_death} answered, "
          f"per server {out.spread_after}")
    values: dict[str, int] = {
        "app.balance.servers": len(out.spread),
        "app.balance.failed_mid_answer": int(died),
        "app.balance.lost_after_death": out.lost_after_death,
    }
    for i, (n, n_after) in enumerate(zip(out.spread, out.spread_after, strict=True)):
        values[f"app.balance.requests_per_server.server{i}"] = n
        values[f"app.balance.requests_per_server_after_death.server{i}"] = n_after
    rec = app_recorder()
    rec.update(values)
    print(f"recorded {len(values)} figures in {rec.path}")
    return 0 if died and not out.lost_after_death and min(out.spread) > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
