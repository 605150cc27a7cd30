#!/usr/bin/env python
"""Load-test the capstone service on loopback, bounded in requests and time.

Starts ``python -m genai_lab.app`` (by default with the vLLM server it manages; ``--in-process`` for
SmolLM2 in the service's own process; ``--fake`` for the fake models) on a free port,
sends N questions from the knowledge base's question set, C at a time, and accounts for every one:
answered, rejected with a clear status (429/503), failed with an error event, or lost (must be 0).
Samples the service's resident memory before, during and after; reports p50/p99 latency.

    python scripts/load_test_app.py                 # 200 requests at 8 concurrent (the real test)
    python scripts/load_test_app.py --fast          # 24 at 8
    python scripts/load_test_app.py --fake --fast   # seconds, no model

A full run of the real model records ``app.load.*`` in results/40_capstone_app.json; ``--fast`` or
``--fake`` runs record into build/results-fast/. Exit status 1 when a request was lost.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from genai_lab.app import app_recorder
from genai_lab.app.client import AppProcess, ask
from genai_lab.app.loadtest import run_load
from genai_lab.paths import build_dir, data_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("-n", "--requests", type=int, default=None, help="requests (default 200; 24 with --fast)")
    parser.add_argument("-c", "--concurrency", type=int, default=8)
    parser.add_argument("--fast", action="store_true", help="24 requests")
    parser.add_argument("--fake", action="store_true", help="fake models (checks the plumbing in seconds)")
    parser.add_argument("--in-process", action="store_true", help="SmolLM2 in the service's process, no vLLM")
    parser.add_argument("--time-limit", type=float, default=1200.0, help="seconds after which no new request is sent")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    args = parser.parse_args(argv)
    n = args.requests or (24 if args.fast else 200)

    lines = (data_dir() / "kb" / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    questions = [json.loads(line)["question"] for line in lines if line.strip()]
    service_args = ["--fake"] if args.fake else ["--max-new-tokens", str(args.max_new_tokens)]
    if args.in_process and not args.fake:
        service_args.append("--in-process")
    backend = "fake" if args.fake else ("in-process SmolLM2" if args.in_process else "SmolLM2 on vLLM")
    print(f"starting the service ({backend} models)...", flush=True)
    with AppProcess(service_args) as app:
        health = app.health
        print(f"service up at {app.url} (pid {app.pid}): {health['models']['internal']}; limits {health['limits']}")
        warm = time.perf_counter()
        ask(app.url, questions[0])  # warm-up: first-call costs (threads, caches) are not load
        print(f"warm-up request: {time.perf_counter() - warm:.1f} s; now {n} requests at {args.concurrency} concurrent")
        report = run_load(
            app.url, questions, n=n, concurrency=args.concurrency, time_limit_s=args.time_limit, pid=app.pid,
            progress=True,
        )  # fmt: skip
    print(report.summary())
    if report.lost_reasons:
        print("lost:", *report.lost_reasons, sep="\n  ")
    full = not (args.fast or args.fake) and n >= 200
    rec = app_recorder(None if full else build_dir() / "results-fast")
    prefix = "app.load" if not args.fake else "app.load_fake"
    values = {
        f"{prefix}.requests": report.requests,
        f"{prefix}.concurrency": report.concurrency,
        f"{prefix}.answered": report.answered,
        f"{prefix}.rejected": report.rejected,
        f"{prefix}.failed": report.failed,
        f"{prefix}.lost": report.lost,
        f"{prefix}.not_sent": report.not_sent,
        f"{prefix}.wall_s": round(report.wall_s, 1),
    }
    if report.p50_ms is not None and report.p99_ms is not None:
        values.update({f"{prefix}.p50_ms": round(report.p50_ms, 1), f"{prefix}.p99_ms": round(report.p99_ms, 1)})
    if report.rss_before_mb is not None and report.rss_after_mb is not None and report.rss_peak_mb is not None:
        values.update({
            f"{prefix}.rss_before_mb": round(report.rss_before_mb, 1),
            f"{prefix}.rss_after_mb": round(report.rss_after_mb, 1),
            f"{prefix}.rss_peak_mb": round(report.rss_peak_mb, 1),
        })  # fmt: skip
    rec.update(values)
    print(f"recorded {len(values)} figures in {rec.path}")
    return 1 if report.lost else 0


if __name__ == "__main__":
    sys.exit(main())
