"""Arrival times: when each request of a benchmark is sent, drawn as vLLM's ``get_request`` draws them."""

from __future__ import annotations

import math


def arrival_times(
    num_requests: int, request_rate: float, burstiness: float = 1.0, seed: int = 0
) -> list[float]:
    """Send times in seconds after the start, one per request.

    Gaps are gamma-distributed with shape ``burstiness`` and mean ``1 / request_rate`` (shape 1 is
    the exponential: a Poisson process; below 1 burstier, above 1 more regular, ``inf`` evenly
    spaced). The cumulative times are then rescaled so that the last request leaves at exactly
    ``num_requests / request_rate``, as vLLM scales them. ``request_rate=inf`` sends all at once.
    """
    import numpy as np

    if num_requests < 1:
        raise ValueError(f"num_requests={num_requests}: need at least one request.")
    if not request_rate > 0:
        raise ValueError(f"request_rate={request_rate} must be positive (inf: all at once).")
    if not burstiness > 0:
        raise ValueError(f"burstiness={burstiness} must be positive (1.0 is Poisson).")
    if math.isinf(request_rate):
        return [0.0] * num_requests
    if math.isinf(burstiness):
        gaps = np.full(num_requests, 1.0 / request_rate)
    else:
        rng = np.random.default_rng(seed)
        gaps = rng.gamma(shape=burstiness, scale=1.0 / (request_rate * burstiness), size=num_requests)
    times = np.cumsum(gaps)
    times *= (num_requests / request_rate) / times[-1]
    return [float(t) for t in times]
