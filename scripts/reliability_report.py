"""Hostile input, measured (issue 14): the fuzz suite's size and failures, the router's worst time on
pathological inputs, and the largest request body the app accepts, recorded to results/reliability.json.

    .venv/bin/python scripts/reliability_report.py

A benchmark script, not a test: the tests assert the bounds (tests/unit/test_*fuzz*.py,
test_routing_layers.py, test_app_hardening.py); this records the figures, on a quiet machine.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator

import httpx

from genai_lab.paths import repo_root
from genai_lab.results import Recorder
from genai_lab.runtime import machine_description

FUZZ_TESTS = [
    "tests/unit/test_rag_fuzz.py",
    "tests/unit/test_app_fuzz.py",
    "tests/unit/test_rag_chunking.py",
    "tests/unit/test_serving_paged.py",
    "tests/unit/test_routing_layers.py",
]
_EXAMPLES = re.compile(r"(\d+) passing(?: examples?)?, (\d+) failing")
_SUMMARY = re.compile(r"(\d+) (passed|failed|error)")


def fuzz_counts() -> tuple[int, int, str]:
    """Run the fuzz tests; (inputs hypothesis generated, failures, pytest's summary line). The
    generated-corpus tests run too (their failures count) but only hypothesis' examples are counted."""
    cmd = [sys.executable, "-m", "pytest", *FUZZ_TESTS, "-q", "-p", "no:cacheprovider", "--hypothesis-show-statistics"]
    out = subprocess.run(cmd, cwd=repo_root(), capture_output=True, text=True, check=False).stdout
    examples = failing = 0
    for passed, failed in _EXAMPLES.findall(out):
        examples += int(passed) + int(failed)
        failing += int(failed)
    counts = {kind: int(n) for n, kind in _SUMMARY.findall(out.splitlines()[-1])}
    failures = failing + counts.get("failed", 0) + counts.get("error", 0)
    return examples, failures, out.splitlines()[-1]


def pathological_worst_ms(semantic: bool) -> tuple[float, str]:
    """Worst classification time over the pathological inputs: the rule layers alone (the patterns a
    backtracking regex would make slow: the ReDoS figure), or every layer, MiniLM's embedding included."""
    from genai_lab.routing import RouterPolicy
    from genai_lab.routing.evaluation import pathological_inputs, worst_classify_seconds

    worst, text = worst_classify_seconds(RouterPolicy.from_knowledge_base(semantic=semantic), pathological_inputs())
    return worst * 1000, text[:16]


def classify_latency_ms() -> dict[str, float]:
    """Per-request classification time with every layer on, the semantic one's MiniLM loaded: the
    public questions and held-out variants, each classified once after a warm-up (p50, p99, max)."""
    import time

    from genai_lab.numeric import percentile
    from genai_lab.routing import RouterPolicy
    from genai_lab.routing.variants import generate_variants, public_questions

    policy = RouterPolicy.from_knowledge_base()
    policy.classify("warm up: load MiniLM and build the tables")
    texts = [q["text"] for q in public_questions()] + [v.text for v in generate_variants(policy, "heldout", 300)]
    times = []
    for text in texts:
        start = time.perf_counter()
        policy.classify(text)
        times.append((time.perf_counter() - start) * 1000)
    p50, p99 = percentile(times, 50) or 0.0, percentile(times, 99) or 0.0
    return {"n": len(times), "p50": p50, "p99": p99, "max": max(times)}


def _chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        piece = min(size, total - sent)
        sent += piece
        yield b" " * piece


def max_body_bytes_accepted(sizes: tuple[int, ...] = (500_000, 999_000, 1_001_000, 4_000_000, 200_000_000)) -> int:
    """The largest chunked (no Content-Length) body of ``sizes`` that the app reads instead of refusing
    with 413; a body refused early is never read whole, so the 200 MB attempt ends at once."""
    from genai_lab.app.client import serve_in_thread
    from genai_lab.app.service import default_app

    accepted = 0
    with serve_in_thread(default_app(fake=True)) as url:
        for size in sizes:
            try:
                response = httpx.post(f"{url}/api/chat", content=_chunks(size), timeout=60,
                                      headers={"content-type": "application/json"})
                status = response.status_code
            except httpx.HTTPError:  # the server closed the connection on an oversized body
                status = 413
            if status != 413:
                accepted = max(accepted, size)
            print(f"  chunked body of {size:>11,} bytes -> {status}")
    return accepted


def main() -> None:
    rec = Recorder("reliability")
    print("machine:", machine_description())
    cases, failures, summary = fuzz_counts()
    print(f"fuzz suite: {cases} generated cases, {failures} failures ({summary})")
    worst_ms, slowest = pathological_worst_ms(semantic=False)
    print(f"router rule layers, worst time on a pathological input (<= 4,000 chars): {worst_ms:.1f} ms "
          f"on {slowest!r}...")
    worst_all_ms, slowest_all = pathological_worst_ms(semantic=True)
    print(f"router with the semantic layer (MiniLM embeds up to 2 x 256 tokens): {worst_all_ms:.1f} ms "
          f"on {slowest_all!r}...")
    latency = classify_latency_ms()
    print(f"router, classify per request (all layers, MiniLM loaded), {latency['n']} requests: "
          f"p50 {latency['p50']:.1f} ms, p99 {latency['p99']:.1f} ms, max {latency['max']:.1f} ms")
    accepted = max_body_bytes_accepted()
    print(f"largest chunked body accepted: {accepted:,} bytes (limit 1,000,000)")
    rec.record("reliability.fuzz.cases", cases)
    rec.record("reliability.fuzz.failures", failures)
    rec.record("app.security.redos_worst_ms", round(worst_ms, 2))
    rec.record("router.classify_ms.worst_pathological_all_layers", round(worst_all_ms, 2))
    rec.record("app.security.max_body_bytes_accepted", accepted)
    rec.record("router.classify_ms.p50", round(latency["p50"], 2))
    rec.record("router.classify_ms.p99", round(latency["p99"], 2))
    print("recorded to", rec.save())


if __name__ == "__main__":
    main()
