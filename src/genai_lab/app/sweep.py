"""The concurrency sweep of the load profile: one backend at 1, 2, 4, 8, 16 requests in flight, and
where its knee is.

``scripts/load_test_app.py --sweep 1,2,4,8,16`` runs :func:`genai_lab.app.loadtest.run_load` once per
level against one service and records, per level ``c``, ``app.sweep.<backend>.c<c>.<field>`` for the
fields of :data:`FIELDS`, plus ``app.sweep.<backend>.knee``. Notebook 40 reads them back with
:func:`points_from_results` and draws :func:`plot_sweep`.

**The knee** (:func:`find_knee`) is the last level whose step up still bought throughput: the first
level ``c`` where going to the next level raises answers per second by less than ``min_gain`` (10 %).
Past the knee a server answers no faster, and requests only wait longer; it is the ``C`` of
``replicas = ceil(demand / C) + 1`` in ``docs/scaling.md``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

DEFAULT_LEVELS = (1, 2, 4, 8, 16)
FIELDS = ("answers_per_s", "p50_ms", "p99_ms", "lost", "requests")
KNEE_MIN_GAIN = 0.10


@dataclass(frozen=True)
class SweepPoint:
    """One level of the sweep."""

    concurrency: int
    answers_per_s: float
    p50_ms: float
    p99_ms: float
    lost: int = 0
    requests: int = 0


def parse_levels(text: str) -> list[int]:
    """``"1,2,4,8,16"`` -> ``[1, 2, 4, 8, 16]``: distinct positive integers in increasing order."""
    try:
        levels = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"--sweep takes levels separated by commas, like 1,2,4,8,16; got {text!r}.") from None
    if not levels or any(c < 1 for c in levels) or levels != sorted(set(levels)):
        raise ValueError(f"--sweep needs increasing positive levels without repeats, like 1,2,4,8,16; got {text!r}.")
    return levels


def requests_for(concurrency: int, minimum: int = 16, rounds: int = 2) -> int:
    """Requests to send at one level: at least ``minimum``, and at least ``rounds`` full rounds of
    ``concurrency`` so that the level is measured in its steady state, not only its ramp."""
    if concurrency < 1 or minimum < 1 or rounds < 1:
        raise ValueError("concurrency, minimum and rounds must be at least 1.")
    return max(minimum, rounds * concurrency)


def find_knee(points: Sequence[SweepPoint], min_gain: float = KNEE_MIN_GAIN) -> SweepPoint:
    """The knee: the first level whose next level raises answers per second by less than
    ``min_gain`` (relative); the last level when every step still gains."""
    if not points:
        raise ValueError("find_knee needs at least one sweep point.")
    ordered = sorted(points, key=lambda p: p.concurrency)
    for here, there in zip(ordered, ordered[1:], strict=False):
        if here.answers_per_s <= 0 or there.answers_per_s < here.answers_per_s * (1 + min_gain):
            return here
    return ordered[-1]


def sweep_keys(backend: str, point: SweepPoint) -> dict[str, float | int]:
    """The recorded keys of one level: ``app.sweep.<backend>.c<c>.<field>``."""
    prefix = f"app.sweep.{backend}.c{point.concurrency}"
    return {f"{prefix}.{name}": getattr(point, name) for name in FIELDS}


def points_from_results(recorded: Mapping[str, Any], backend: str) -> list[SweepPoint]:
    """The sweep of ``backend`` from a results file's values (empty when none was recorded)."""
    prefix = f"app.sweep.{backend}.c"
    levels = sorted({int(key[len(prefix):].split(".")[0]) for key in recorded if key.startswith(prefix)})
    points = []
    for c in levels:
        values: dict[str, Any] = {name: recorded.get(f"{prefix}{c}.{name}") for name in FIELDS}
        if any(values[name] is None for name in ("answers_per_s", "p50_ms", "p99_ms")):
            raise ValueError(f"The sweep of {backend!r} at {c} concurrent is incomplete in the results: {values}. "
                             "Re-run scripts/load_test_app.py --sweep for that backend.")
        points.append(SweepPoint(c, float(values["answers_per_s"]), float(values["p50_ms"]), float(values["p99_ms"]),
                                 int(values["lost"] or 0), int(values["requests"] or 0)))
    return points


def plot_sweep(sweeps: Mapping[str, Sequence[SweepPoint]], title: str = "") -> Figure:
    """Answers per second and p99 latency against concurrency, one line per backend, its knee ringed."""
    import matplotlib.pyplot as plt

    if not any(sweeps.values()):
        raise ValueError("No sweep to plot: run scripts/load_test_app.py --sweep 1,2,4,8,16 first.")
    fig, (ax_tp, ax_lat) = plt.subplots(1, 2, figsize=(10, 4))
    for backend, points in sweeps.items():
        if not points:
            continue
        ordered = sorted(points, key=lambda p: p.concurrency)
        xs = [p.concurrency for p in ordered]
        line = ax_tp.plot(xs, [p.answers_per_s for p in ordered], marker="o", label=backend)[0]
        ax_lat.plot(xs, [p.p99_ms / 1000 for p in ordered], marker="o", label=backend, color=line.get_color())
        knee = find_knee(ordered)
        ax_tp.scatter([knee.concurrency], [knee.answers_per_s], s=160, facecolors="none",
                      edgecolors=line.get_color(), linewidths=2)
        ax_tp.annotate(f"knee: {knee.concurrency}", (knee.concurrency, knee.answers_per_s),
                       textcoords="offset points", xytext=(6, -14), fontsize=8)
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    levels = sorted({p.concurrency for points in sweeps.values() for p in points})
    for ax in (ax_tp, ax_lat):
        ax.set_xscale("log", base=2)
        ax.set_xticks(levels)
        ax.xaxis.set_major_formatter(ScalarFormatter())  # 1, 2, 4, 8, 16 rather than powers of two
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("requests in flight (concurrency)")
        ax.legend(fontsize=8)
    ax_tp.set_ylabel("answers per second")
    ax_tp.set_ylim(bottom=0)
    ax_lat.set_ylabel("p99 end-to-end latency (s)")
    ax_lat.set_ylim(bottom=0)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
