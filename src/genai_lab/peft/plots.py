"""Figures of Part 1 (PEFT) whose numbers span orders of magnitude, so a log axis shows them and a table does not.

- :func:`plot_trainable_parameters`: trainable (and, where it differs, stored) parameters per method,
  against the full model (notebook 11);
- :func:`plot_memory_vs_tasks`: memory of N fully fine-tuned copies against one frozen base plus N
  adapters, for 1 to ``max_tasks`` tasks (notebook 13).

Both return the matplotlib ``Figure``; the notebook saves it with ``Recorder.save_figure`` and shows it.
Matplotlib is imported inside the functions, so importing this module stays cheap.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure


def _positive(name: str, value: float) -> None:
    if not value > 0:
        raise ValueError(f"{name} must be a positive number for a log axis, got {value!r}.")


def plot_trainable_parameters(
    trained: Mapping[str, int],
    base_params: int,
    stored: Mapping[str, int] | None = None,
    title: str = "What each method trains",
) -> Figure:
    """Horizontal bars of ``trained`` parameters per method (label -> count) on a log axis, smallest
    first, each labelled with its count and its share of ``base_params``; a dashed line marks full
    fine-tuning (``base_params``). ``stored`` (label -> count, a subset of ``trained``'s labels) adds a
    hatched bar for methods that keep fewer numbers after training than they train (an encoder that
    only helps training, as in P-tuning and prefix tuning)."""
    import matplotlib.pyplot as plt

    if not trained:
        raise ValueError("trained is empty; pass {method label: trainable parameter count}.")
    _positive("base_params", base_params)
    for label, count in trained.items():
        _positive(f"trained[{label!r}]", count)
    stored = dict(stored or {})
    unknown = sorted(set(stored) - set(trained))
    if unknown:
        raise ValueError(f"stored names methods that trained does not have: {unknown}; use the same labels.")
    for label, count in stored.items():
        _positive(f"stored[{label!r}]", count)

    labels = sorted(trained, key=lambda k: trained[k])
    counts = [trained[k] for k in labels]
    fig, ax = plt.subplots(figsize=(7.5, 0.55 * len(labels) + 1.6))
    ax.barh(range(len(labels)), counts, color="tab:blue", label="trained")
    ax.set_yticks(range(len(labels)), labels)
    kept = [(i, stored[k]) for i, k in enumerate(labels) if k in stored and stored[k] != trained[k]]
    if kept:
        ax.barh([i for i, _ in kept], [n for _, n in kept], height=0.4, color="white", edgecolor="tab:orange",
                hatch="//", label="stored after training")
    for i, n in enumerate(counts):
        ax.annotate(f"{n:,} ({100 * n / base_params:.3g}%)", (n, i), xytext=(4, 0), textcoords="offset points",
                    va="center", fontsize=8)
    ax.axvline(base_params, color="grey", ls="--", label=f"full fine-tuning ({base_params / 1e6:.1f}M)")
    ax.set_xscale("log")
    ax.set_xlim(min([*counts, *stored.values()]) / 3, base_params * 3)
    ax.set_xlabel("parameters (log scale)")
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return fig


def plot_memory_vs_tasks(
    base_bytes: float,
    adapter_bytes: float,
    max_tasks: int = 100,
    marks: Sequence[int] = (10, 100),
    title: str = "Serving N tasks: full copies against one base plus adapters",
) -> Figure:
    """Memory (GB) of N fully fine-tuned copies (``N * base_bytes``) against one shared base plus N
    adapters (``base_bytes + N * adapter_bytes``) for N = 1..``max_tasks``, on log-log axes; each N in
    ``marks`` is annotated with the ratio of the two, and the legend names the ratio's limit
    ``base_bytes / adapter_bytes`` (reached only as N grows without bound)."""
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.ticker import FuncFormatter

    _positive("base_bytes", base_bytes)
    _positive("adapter_bytes", adapter_bytes)
    if max_tasks < 2:
        raise ValueError(f"max_tasks must be at least 2 to draw a line, got {max_tasks}.")
    outside = [m for m in marks if not 1 <= m <= max_tasks]
    if outside:
        raise ValueError(f"marks {outside} lie outside 1..{max_tasks}; mark only task counts the plot shows.")

    n = np.arange(1, max_tasks + 1)
    copies = n * base_bytes / 1e9
    shared = (base_bytes + n * adapter_bytes) / 1e9
    fig, ax = plt.subplots(figsize=(7, 4.2))
    ax.plot(n, copies, color="tab:red", label="N fully fine-tuned copies")
    ax.plot(n, shared, color="tab:blue", label="one base + N adapters")
    for m in marks:
        ax.vlines(m, shared[m - 1], copies[m - 1], color="grey", lw=0.8, ls=":")
        ax.annotate(f"{copies[m - 1] / shared[m - 1]:.1f}x", (m, float(np.sqrt(copies[m - 1] * shared[m - 1]))),
                    xytext=(-4, 0), textcoords="offset points", ha="right", va="center", fontsize=9)
    ax.set_xscale("log")
    ax.set_yscale("log")
    plain = FuncFormatter(lambda value, _pos: f"{value:g}")  # 1, 10, 100 rather than 10^0, 10^1, 10^2
    ax.xaxis.set_major_formatter(plain)
    ax.yaxis.set_major_formatter(plain)
    ax.set_xlabel("number of tasks N (log scale)")
    ax.set_ylabel("weights held in memory, GB (log scale)")
    limit = base_bytes / adapter_bytes
    ax.plot([], [], " ", label=f"ratio tends to base / adapter = {limit:.0f}x")
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    return fig
