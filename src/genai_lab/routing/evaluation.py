"""The router's test data: the course's adversarial suite, loaded from ``data/routing/``.

``adversarial_suite.jsonl`` holds one case per line, ``{"name": ..., "template": ...}``. Templates
name the policy's own terms in double braces, optionally through a mutation operator
(:mod:`genai_lab.routing.mutations`): ``{{project|cyrillic}}``, ``{{document|words_on_lines}}``,
``{{marker|join_spaces}}``, plus ``{{fresh}}`` (a question that alone would go outside) and
``{{long}}``/``{{long_half}}`` (long padding). Filling them from another knowledge base's names gives
the same suite for that knowledge base.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

from genai_lab.routing.mutations import PADDING, apply
from genai_lab.routing.policy import RouterPolicy

FRESH = "what is the latest news today?"
_PLACEHOLDER = re.compile(r"\{\{(\w{1,20})(?:\|(\w{1,30}))?\}\}")


def routing_data(name: str) -> Path:
    """The path of a file under ``data/routing/`` (a clear error when it is missing)."""
    from genai_lab.paths import data_dir

    path = data_dir() / "routing" / name
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; it ships with the course repository (data/routing/).")
    return path


def read_jsonl(path: str | Path) -> list[dict]:
    """The records of a JSON Lines file (blank lines skipped)."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def adversarial_suite(policy: RouterPolicy, path: str | Path | None = None) -> list[tuple[str, str]]:
    """(name, text) of crafted inputs that ``policy`` must mark confidential, filled with its own
    names. Every case also asks for fresh information, which alone would send it outside."""
    names = policy.project_names or ["Project Example"]
    project = next((p for p in names if " " not in p), names[0])
    values = {
        "project": project,
        "document": (policy.document_labels or ["Quarterly Board Report"])[0],
        "marker": "confidential",
        "fresh": FRESH,
        "long": PADDING * 4000,
        "long_half": PADDING * 900,
    }
    rng = random.Random(0)

    def fill(match: re.Match[str]) -> str:
        key, op = match.group(1), match.group(2)
        if key not in values:
            raise ValueError(f"Unknown placeholder {key!r} in the adversarial suite; use one of {sorted(values)}.")
        return apply(op, values[key], rng) if op else values[key]

    records = read_jsonl(path or routing_data("adversarial_suite.jsonl"))
    return [(str(r["name"]), _PLACEHOLDER.sub(fill, str(r["template"]))) for r in records]


def pathological_inputs(path: str | Path | None = None) -> list[str]:
    """Inputs of at most 4,000 characters on which a backtracking pattern would be slow
    (``data/routing/pathological.json``: each input is pieces of text or repeated units)."""
    spec = json.loads(Path(path or routing_data("pathological.json")).read_text(encoding="utf-8"))
    return ["".join(p["text"] if "text" in p else p["repeat"] * int(p["times"]) for p in pieces)
            for pieces in spec["inputs"]]


def worst_classify_seconds(policy: RouterPolicy, inputs: list[str], repeats: int = 3) -> tuple[float, str]:
    """The slowest input's classification time (best of ``repeats``, so a busy machine's hiccup is not
    counted) and that input; the policy is warmed up first. A benchmark, not a unit test."""
    import time

    policy.classify("warm up: imports and tables are built on first use")
    worst, slowest = -1.0, ""
    for text in inputs:
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            policy.classify(text)
            best = min(best, time.perf_counter() - start)
        if best > worst:
            worst, slowest = best, text
    return worst, slowest
