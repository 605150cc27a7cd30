"""The figures of the SST-2 comparison (notebook 12): accuracy against trainable parameters, and
learning curves.

Every point is labelled beside itself and the legend (the reference lines only) sits outside the
axes, so no legend can hide a point: the first version put it in the lower right corner, exactly
where prefix tuning's point at chance and a million parameters landed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

LORA_PAPER = ("RoBERTa-base + LoRA, LoRA paper", 0.951)
SMOKE_TITLE = "SMOKE TEST on the fallback set (not SST-2, not comparable)"


def _outside_legend(ax: Any) -> None:
    """The legend to the right of the axes, top-aligned: it can never cover a data point."""
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, fontsize=8)


def plot_accuracy_vs_params(
    rows: Mapping[str, Mapping[str, Any]],
    zero_shot: float,
    *,
    smoke: bool = False,
    reference: tuple[str, float] | None = LORA_PAPER,
) -> Figure:
    """Dev accuracy against trainable parameters (log x), one labelled point per method.

    ``rows`` maps a method to a mapping with ``trainable`` (count) and ``accuracy``, optionally
    ``steps`` (named in the label when the methods' step counts differ). ``smoke`` marks a run on the
    fallback set: the title says so and no published reference is drawn (nothing is comparable)."""
    import matplotlib.pyplot as plt

    if not rows:
        raise ValueError("rows is empty: run at least one method before plotting the comparison.")
    for method, r in rows.items():
        if "trainable" not in r or "accuracy" not in r:
            raise ValueError(f"rows[{method!r}] needs 'trainable' and 'accuracy'; it has {sorted(r)}.")
        if r["trainable"] <= 0:
            raise ValueError(f"rows[{method!r}]['trainable'] must be positive on a log axis, got {r['trainable']}.")
    steps = {r.get("steps") for r in rows.values()}
    fig, ax = plt.subplots(figsize=(8.5, 4.5))
    for method, r in rows.items():
        ax.scatter(r["trainable"], r["accuracy"], s=50)
        label = method if len(steps) == 1 else f"{method} ({r.get('steps')} steps)"
        ax.annotate(label, (r["trainable"], r["accuracy"]), textcoords="offset points", xytext=(5, 4), fontsize=8)
    ax.axhline(zero_shot, color="grey", ls="--", label=f"zero-shot base ({zero_shot:.3f})")
    if reference is not None and not smoke:
        name, value = reference
        ax.axhline(value, color="tab:green", ls=":", label=f"{name} ({value:.3f})")
    ax.set_xscale("log")
    ax.set_xlabel("trainable parameters (log scale)")
    ax.set_ylabel("dev accuracy" if smoke else "SST-2 dev accuracy")
    budget = f", {next(iter(steps))} steps each" if len(steps) == 1 and None not in steps else ""
    title = SMOKE_TITLE if smoke else f"SmolLM2-135M on SST-2: accuracy against trainable parameters{budget}"
    ax.set_title(title, fontsize=10)
    _outside_legend(ax)
    fig.tight_layout()
    return fig


def plot_learning_curves(
    curves: Mapping[str, Sequence[tuple[int, float]]], zero_shot: float | None = None, *, smoke: bool = False,
    ylabel: str = "accuracy on the tuning split (carved from train)",
) -> Figure:
    """Accuracy against training steps, one line per method (points every ``eval_every`` steps of
    :func:`genai_lab.peft.train.train`), the zero-shot base as a dashed line; legend outside."""
    import matplotlib.pyplot as plt

    if not curves or not any(curves.values()):
        raise ValueError("curves is empty: train with TrainConfig(eval_every=k) and pass result.curve per method.")
    fig, ax = plt.subplots(figsize=(8.5, 4.5))
    for method, points in curves.items():
        if points:
            steps, acc = zip(*points, strict=True)
            ax.plot(steps, acc, marker="o", ms=3, label=method)
    if zero_shot is not None:
        ax.axhline(zero_shot, color="grey", ls="--", label=f"zero-shot base ({zero_shot:.3f})")
    ax.set_xlabel("training step")
    ax.set_ylabel(ylabel)
    ax.set_title(SMOKE_TITLE if smoke else "Learning curves at the chosen learning rates", fontsize=10)
    _outside_legend(ax)
    fig.tight_layout()
    return fig
