"""The load profile's concurrency sweep: levels, requests per level, the knee, the recorded keys."""

from __future__ import annotations

import pytest

from genai_lab.app.sweep import (
    SweepPoint,
    find_knee,
    parse_levels,
    plot_sweep,
    points_from_results,
    requests_for,
    sweep_keys,
)


def _points(*rates: float) -> list[SweepPoint]:
    return [SweepPoint(2**i, r, 1000.0 * 2**i, 1500.0 * 2**i) for i, r in enumerate(rates)]


def test_parse_levels_accepts_increasing_levels_and_names_the_fix():
    assert parse_levels("1,2,4,8,16") == [1, 2, 4, 8, 16]
    assert parse_levels(" 1, 3 ,") == [1, 3]
    for bad in ("", "a,b", "0,1", "4,2", "1,1,2"):
        with pytest.raises(ValueError, match="1,2,4,8,16"):
            parse_levels(bad)


def test_requests_for_covers_two_rounds_and_a_minimum():
    assert requests_for(1) == 16 and requests_for(8) == 16 and requests_for(16) == 32
    assert requests_for(4, minimum=4) == 8
    with pytest.raises(ValueError):
        requests_for(0)


def test_the_knee_is_the_last_level_that_still_gains():
    # 0.4 -> 0.7 -> 0.9 gain; 0.9 -> 0.95 is +5.6 %: the knee is at 4
    assert find_knee(_points(0.4, 0.7, 0.9, 0.95, 0.96)).concurrency == 4
    # throughput that falls after the first level: the knee is at 1
    assert find_knee(_points(0.6, 0.5, 0.45)).concurrency == 1
    # still gaining at the last level: the knee is the last level measured (no later level to compare)
    assert find_knee(_points(0.2, 0.4, 0.8)).concurrency == 4
    # order does not matter
    assert find_knee(list(reversed(_points(0.4, 0.7, 0.9, 0.95)))).concurrency == 4
    # a plausible wrong knee (the level of maximum throughput) would say 16 here, not 4
    assert find_knee(_points(0.4, 0.7, 0.9, 0.95, 0.99)).concurrency == 4
    with pytest.raises(ValueError):
        find_knee([])


def test_recorded_keys_round_trip():
    points = _points(0.4, 0.7, 0.9)
    recorded = {"app.sweep.vllm.knee": 4, "app.load.vllm.answers_per_s": 0.5}
    for p in points:
        recorded.update(sweep_keys("vllm", p))
    assert "app.sweep.vllm.c2.p99_ms" in recorded
    assert points_from_results(recorded, "vllm") == points
    assert points_from_results(recorded, "in_process") == []
    del recorded["app.sweep.vllm.c2.p50_ms"]
    with pytest.raises(ValueError, match="--sweep"):
        points_from_results(recorded, "vllm")


def test_plot_sweep_draws_both_panels_and_refuses_nothing():
    import matplotlib

    matplotlib.use("Agg")
    fig = plot_sweep({"vllm": _points(0.4, 0.7, 0.9, 0.95), "in_process": _points(0.5, 0.6, 0.62)})
    tp, lat = fig.axes
    assert len(tp.lines) == 2 and len(lat.lines) == 2
    assert any("knee: 4" in t.get_text() for t in tp.texts)
    with pytest.raises(ValueError, match="--sweep"):
        plot_sweep({"vllm": []})
