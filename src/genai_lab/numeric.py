"""Small numeric helpers that the whole package shares, each defined once.

- :func:`cdiv`: ceiling division of integers (vLLM's ``vllm.utils.cdiv``), e.g. blocks for n tokens.
- :func:`percentile`: THE percentile of the package. It is numpy's default (linear interpolation
  between closest ranks, ``numpy.percentile(..., method="linear")``), which is what vLLM's benchmark
  (``vllm/benchmarks/serve.py``) reports as p50/p99, so our figures and vLLM's are comparable.
- :func:`mean_or_nan`: the mean of a rate over a group that may be empty (NaN then, never 0: an empty
  group has no rate, and a 0 would read as a measured failure).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np


def cdiv(a: int, b: int) -> int:
    """``ceil(a / b)`` for integers without floating point: ``cdiv(17, 16) == 2``."""
    if b <= 0:
        raise ValueError(f"cdiv needs a positive divisor, got {b}")
    return -(a // -b)


def mean_or_nan(values: Iterable[float]) -> float:
    """The arithmetic mean of ``values`` (booleans count as 0/1), or ``nan`` when there are none."""
    data = [float(v) for v in values]
    return sum(data) / len(data) if data else float("nan")


def percentile(values: Iterable[float], q: float) -> float | None:
    """The ``q``-th percentile (0..100) of ``values`` by linear interpolation; ``None`` when empty."""
    if not 0 <= q <= 100:
        raise ValueError(f"percentile q must be in [0, 100], got {q}")
    data = np.asarray(list(values), dtype=float)
    if data.size == 0:
        return None
    return float(np.percentile(data, q))
