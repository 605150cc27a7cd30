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

A full run of the real model records ``app.load.<backend>.*`` (``vllm`` or ``in_process``: answers per
second, p50/p99, the service's time to first token, vLLM's prefix-cache hit rate and its memory) in
results/40_capstone_app.json; ``--fast`` or ``--fake`` runs record into build/results-fast/.
``--sweep 1,2,4,8,16`` measures one service at each level instead (``genai_lab.app.sweep``: at least 16
requests and two full rounds per level) and records ``app.sweep.<backend>.c<level>.*`` and the knee,
``app.sweep.<backend>.knee``; with ``--fake`` or ``--fast`` into build/results-fast/.
Exit status 1 when a request was lost.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from genai_lab.app import app_recorder
from genai_lab.app.client import AppProcess, ask, get_json
from genai_lab.app.loadtest import run_load
from genai_lab.app.serving_stats import read_prefix_cache, tree_rss_mb
from genai_lab.app.sweep import SweepPoint, find_knee, parse_levels, requests_for, sweep_keys
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
    parser.add_argument("--sweep", metavar="LEVELS", help="a concurrency sweep instead, e.g. 1,2,4,8,16")
    parser.add_argument("--sweep-min-requests", type=int, default=16, help="requests per sweep level, at least")
    args = parser.parse_args(argv)
    try:
        levels = parse_levels(args.sweep) if args.sweep else []
    except ValueError as err:
        parser.error(str(err))
    n = args.requests or (24 if args.fast else 200)

    questions = _questions(with_extra=bool(levels))
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
        plan = f"a sweep over {levels} concurrent" if levels else f"{n} requests at {args.concurrency} concurrent"
        print(f"warm-up request: {time.perf_counter() - warm:.1f} s; now {plan}")
        vllm = health.get("vllm") or {}
        if levels:
            return _sweep(app, questions, levels, args, health)
        cache_before = read_prefix_cache(vllm["url"]) if vllm.get("url") else None
        report = run_load(
            app.url, questions, n=n, concurrency=args.concurrency, time_limit_s=args.time_limit, pid=app.pid,
            progress=True,
        )  # fmt: skip
        extra: dict[str, float] = {}
        served = get_json(app.url, "/metrics.json").get("latency_ms", {})
        if served.get("first_token_p50") is not None:  # the service's own measure, recent requests
            extra["ttft_p50_ms"] = round(served["first_token_p50"], 1)
        if cache_before is not None:
            rate = read_prefix_cache(vllm["url"]).hit_rate_since(cache_before)
            if rate is not None:
                extra["prefix_cache_hit_rate"] = round(rate, 4)
        if vllm.get("pid"):
            extra["vllm_server_rss_mb"] = round(tree_rss_mb(int(vllm["pid"])), 1)
    print(report.summary())
    if report.lost_reasons:
        print("lost:", *report.lost_reasons, sep="\n  ")
    full = not (args.fast or args.fake) and n >= 200
    rec = app_recorder(None if full else build_dir() / "results-fast")
    # One set of keys per backend (issue 15: app.load.<in_process|vllm>.*); the fake models apart.
    backend_key = health.get("backend", "vllm")
    prefix = "app.load_fake" if args.fake else f"app.load.{backend_key}"
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
    if report.answered and report.wall_s > 0:
        values[f"{prefix}.answers_per_s"] = round(report.answered / report.wall_s, 3)
    values.update({f"{prefix}.{key}": value for key, value in extra.items()})
    rec.update(values)
    print(f"recorded {len(values)} figures in {rec.path}")
    return 1 if report.lost else 0


def _questions(with_extra: bool) -> list[str]:
    """The knowledge base's question set; for a sweep, followed by the hand-written advanced queries, so
    that each level can ask questions no earlier level asked (a repeated prompt would be answered from
    vLLM's prefix cache and inflate its throughput)."""
    paths = [data_dir() / "kb" / "questions.jsonl"]
    if with_extra:
        paths.append(data_dir() / "kb_eval" / "advanced_queries.jsonl")
    questions: list[str] = []
    for path in paths:
        lines = path.read_text(encoding="utf-8").splitlines()
        questions += [q for line in lines if line.strip() and (q := json.loads(line)["question"]) not in questions]
    return questions


def _sweep(app: AppProcess, questions: list[str], levels: list[int], args: argparse.Namespace,
           health: dict) -> int:
    """One ``run_load`` per level on the running service; record every level and the knee."""
    backend = "fake" if args.fake else health.get("backend", "vllm")
    minimum = 4 if args.fast else args.sweep_min_requests
    points: list[SweepPoint] = []
    lost = 0
    vllm_url = (health.get("vllm") or {}).get("url")
    hit_rates: dict[int, float] = {}
    offset = 1  # questions[0] was the warm-up
    for c in levels:
        n = requests_for(c, minimum)
        fresh = [questions[(offset + i) % len(questions)] for i in range(n)]  # no question of an earlier level
        offset += n
        if offset > len(questions):
            print(f"note: all {len(questions)} questions asked; later levels repeat some", file=sys.stderr)
        before = read_prefix_cache(vllm_url) if vllm_url else None
        report = run_load(app.url, fresh, n=n, concurrency=c, time_limit_s=args.time_limit, pid=app.pid)
        hits = ""
        if vllm_url and before is not None and (rate := read_prefix_cache(vllm_url).hit_rate_since(before)) is not None:
            hit_rates[c] = round(rate, 4)
            hits = f"; prefix-cache hits {rate:.1%}"
        print(f"[{c:>2} concurrent] {report.summary()}{hits}", flush=True)
        lost += report.lost
        if not report.answered or report.p50_ms is None or report.p99_ms is None or report.wall_s <= 0:
            print(f"no answers at {c} concurrent: the sweep stops here", file=sys.stderr)
            break
        points.append(SweepPoint(c, round(report.answered / report.wall_s, 3), round(report.p50_ms, 1),
                                 round(report.p99_ms, 1), report.lost, report.requests))
    if not points:
        return 1
    knee = find_knee(points)
    print(f"knee ({backend}): {knee.concurrency} concurrent, {knee.answers_per_s} answers/s, "
          f"p99 {knee.p99_ms / 1000:.1f} s")
    rec = app_recorder(build_dir() / "results-fast" if (args.fast or args.fake) else None)
    values: dict[str, float | int] = {f"app.sweep.{backend}.knee": knee.concurrency}
    for point in points:
        values.update(sweep_keys(backend, point))
    values.update({f"app.sweep.{backend}.c{c}.prefix_cache_hit_rate": rate for c, rate in hit_rates.items()})
    rec.update(values)
    print(f"recorded {len(values)} figures in {rec.path}")
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main())
