"""A fair PEFT comparison: the same step budget for every method, and each method's learning rate
chosen on a tuning split carved from train, never on dev.

- :func:`carve_tuning_split` splits the training examples deterministically (stratified by label)
  into what the methods train on and a small tuning split;
- :func:`choose_lr` trains a method briefly at each rate of its grid (:data:`LR_GRIDS`) and keeps the
  rate with the best tuning accuracy;
- :func:`fair_run` does that, then trains the method for the common budget at the chosen rate with a
  learning curve (accuracy on the tuning split every ``eval_every`` steps);
- :func:`estimate_seconds` prices a :class:`Plan` from measured seconds per step, so that a plan can
  be checked against the notebook's time limit before it runs.

The grids follow each method's papers: prompt tuning from text at 1e-2 to 3e-1 (Lester et al. 2021
train at 0.3), P-tuning v2's deep prompts around 1e-2 (Liu et al. 2022), LoRA around 5e-4.

In a notebook (``train_examples`` from ``load_sst2("train", ...)``, never dev)::

    plan = Plan.for_run(fast=FAST, smoke=rec.scope.smoke)
    train_part, tune_part = carve_tuning_split(train_examples, plan.n_tune, seed=0)
    train_data, tune_data = Tokenized(train_part, tokenizer), Tokenized(tune_part, tokenizer)
    base = TrainConfig(batch_size=16, head_lr=HEAD_LR, seed=0)
    for method in METHODS:
        run = fair_run(method, lambda m: prepare(m, load_classifier(seed=0)[0], tokenizer),
                       train_data, tune_data, plan, base)
        accuracy = evaluate(run.model, dev_data)  # dev is scored once, after the rate is chosen
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from genai_lab.peft.data import Example, Tokenized
from genai_lab.peft.train import TrainConfig, TrainResult, evaluate, train

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

LR_GRIDS: dict[str, tuple[float, ...]] = {
    "full": (2e-5, 5e-5, 1e-4),
    "lora": (2e-4, 5e-4, 1e-3),
    "adapter": (3e-4, 1e-3, 3e-3),
    "ia3": (3e-3, 1e-2, 3e-2),
    "prefix": (1e-3, 3e-3, 1e-2),
    "prompt": (1e-2, 3e-2, 1e-1, 3e-1),
    "ptuning": (1e-3, 3e-3, 1e-2),
    "ptuning_v2": (3e-3, 1e-2, 3e-2),
}


@dataclass(frozen=True)
class Plan:
    """The budget of a fair comparison (full-mode defaults; :meth:`fast` for a smoke test).

    Every method trains ``budget_steps`` steps (equal *step* budget, not equal wall-clock time) after
    a search of ``search_steps`` steps per grid rate; ``n_tune`` training sentences are held out to
    choose the rate and to draw the learning curves, scored every ``eval_every`` steps."""

    budget_steps: int = 200
    search_steps: int = 30
    eval_every: int = 40
    n_tune: int = 200
    grids: Mapping[str, tuple[float, ...]] = field(default_factory=lambda: dict(LR_GRIDS))

    def __post_init__(self) -> None:
        if self.budget_steps < 1 or self.search_steps < 1:
            raise ValueError(f"budget_steps and search_steps must be at least 1, got {self.budget_steps}, "
                             f"{self.search_steps}.")
        if self.eval_every < 0:
            raise ValueError(f"eval_every must be 0 (no curve) or positive, got {self.eval_every}.")

    @classmethod
    def fast(cls) -> Plan:
        """A smoke test: a few steps, two rates per method, a tiny tuning split."""
        return cls(budget_steps=3, search_steps=2, eval_every=1, n_tune=16,
                   grids={m: g[:2] for m, g in LR_GRIDS.items()})

    @classmethod
    def for_run(cls, *, fast: bool, smoke: bool) -> Plan:
        """Notebook 12's plan: the full plan on SST-2 in full mode; the smoke test's plan in fast mode
        and on the fallback set, whose 48 sentences cannot spare 200 for a tuning split (and whose
        run judges no bar: :mod:`genai_lab.peft.scope`)."""
        return cls.fast() if fast or smoke else cls()

    def grid(self, method: str) -> tuple[float, ...]:
        if method not in self.grids:
            raise ValueError(f"No learning-rate grid for {method!r}; the plan has grids for {sorted(self.grids)}.")
        grid = self.grids[method]
        if not grid or any(lr <= 0 for lr in grid):
            raise ValueError(f"The grid of {method!r} must hold positive learning rates, got {grid}.")
        return grid

    @property
    def reuses_search(self) -> bool:
        """The search runs are already at the full budget: the best one is kept, not trained again."""
        return self.search_steps >= self.budget_steps

    def curve_points(self) -> int:
        """Scores per learning curve: before training, every ``eval_every`` steps, after the last."""
        if not self.eval_every:
            return 0
        return 1 + self.budget_steps // self.eval_every + (self.budget_steps % self.eval_every != 0)


def carve_tuning_split(examples: Sequence[Example], n_tune: int, seed: int = 0) -> tuple[list[Example], list[Example]]:
    """Split training examples into ``(train, tune)``: ``n_tune`` of them, drawn with a fixed seed in
    the label proportions of ``examples``, form the tuning split; the rest keep their order. Pass the
    *training* examples only: the learning rate must never be chosen on dev."""
    if not 0 < n_tune < len(examples):
        raise ValueError(f"n_tune must be between 1 and {len(examples) - 1} (the training examples), got {n_tune}.")
    by_label: dict[int, list[int]] = defaultdict(list)
    order = list(range(len(examples)))
    random.Random(seed).shuffle(order)
    for i in order:
        by_label[examples[i].label].append(i)
    labels = sorted(by_label)
    quota = {lab: math.floor(n_tune * len(by_label[lab]) / len(examples)) for lab in labels}
    for lab in sorted(labels, key=lambda lab: -len(by_label[lab]))[: n_tune - sum(quota.values())]:
        quota[lab] += 1  # the rounding remainder goes to the largest classes
    chosen = {i for lab in labels for i in by_label[lab][: quota[lab]]}
    tune = [examples[i] for i in sorted(chosen)]
    rest = [e for i, e in enumerate(examples) if i not in chosen]
    return rest, tune


@dataclass
class LrSearch:
    """Tuning accuracy and final running loss per learning rate of one method's grid."""

    method: str
    scores: dict[float, float] = field(default_factory=dict)
    losses: dict[float, float] = field(default_factory=dict)
    best_model: nn.Module | None = None  # kept only when asked (the search ran the full budget)
    best_result: TrainResult | None = None

    @property
    def best_lr(self) -> float:
        """The rate with the best tuning accuracy; ties go to the lower final loss, then the lower rate."""
        if not self.scores:
            raise ValueError(f"No learning rate of {self.method!r} has been tried yet.")
        return min(self.scores, key=lambda lr: (-self.scores[lr], self.losses.get(lr, math.inf), lr))


def choose_lr(
    method: str,
    build: Callable[[str], nn.Module],
    train_data: Tokenized,
    tune_data: Tokenized,
    grid: Sequence[float],
    config: TrainConfig,
    keep_best: bool = False,
) -> LrSearch:
    """Train a fresh ``build(method)`` for ``config.steps`` steps at each rate of ``grid`` (same seed,
    same data order) and score it on ``tune_data``. ``keep_best`` keeps the best model and its run."""
    if not grid:
        raise ValueError(f"The learning-rate grid of {method!r} is empty; give at least one rate.")
    search = LrSearch(method)
    for lr in grid:
        model = build(method)
        result = train(model, train_data, replace(config, lr=lr), desc=f"{method} lr={lr:g}", eval_data=tune_data)
        search.scores[lr] = result.curve[-1][1] if result.curve else evaluate(model, tune_data, progress=False)
        search.losses[lr] = result.log[-1][1] if result.log else math.inf
        if keep_best and search.best_lr == lr:
            search.best_model, search.best_result = model, result
        del model
    return search


@dataclass
class FairRun:
    """One method at the equal budget: its rate search, its training run (with ``result.curve``) and
    the trained model, ready to be scored on dev."""

    method: str
    search: LrSearch
    result: TrainResult
    model: nn.Module

    @property
    def lr(self) -> float:
        return self.search.best_lr


def fair_run(
    method: str,
    build: Callable[[str], nn.Module],
    train_data: Tokenized,
    tune_data: Tokenized,
    plan: Plan,
    base: TrainConfig | None = None,
) -> FairRun:
    """Choose ``method``'s rate on the tuning split, then train it for ``plan.budget_steps`` with a
    learning curve on the tuning split. ``base`` carries the rest of the loop's settings (batch size,
    head rate, seed); its ``steps``, ``lr`` and ``eval_every`` are set here."""
    base = base if base is not None else TrainConfig()
    curve = replace(base, steps=plan.budget_steps, eval_every=plan.eval_every)
    if plan.reuses_search:
        search = choose_lr(method, build, train_data, tune_data, plan.grid(method), curve, keep_best=True)
        assert search.best_model is not None and search.best_result is not None
        return FairRun(method, search, search.best_result, search.best_model)
    search = choose_lr(method, build, train_data, tune_data, plan.grid(method),
                       replace(base, steps=plan.search_steps, eval_every=0))
    model = build(method)
    result = train(model, train_data, replace(curve, lr=search.best_lr), desc=f"{method} budget", eval_data=tune_data)
    return FairRun(method, search, result, model)


def estimate_seconds(
    plan: Plan,
    step_seconds: Mapping[str, float],
    n_dev: int,
    eval_seconds_per_sentence: float = 0.03,
    load_seconds: float = 4.0,
    fixed_seconds: float = 0.0,
) -> dict[str, float]:
    """Wall-clock seconds of a :class:`Plan` over the methods in ``step_seconds`` (measured seconds
    per training step of each), by part: ``search``, ``budget`` (training), ``tune_eval`` (scoring
    the tuning split: search and curves), ``dev_eval``, ``loads`` (a fresh model per run), ``fixed``
    (the rest of the notebook), and ``total``."""
    if not step_seconds:
        raise ValueError("step_seconds is empty: give the measured seconds per step of each method.")
    runs = search = budget = 0.0
    tune_scores = 0
    for method, step_s in step_seconds.items():
        rates = len(plan.grid(method))
        if plan.reuses_search:  # every rate trains the full budget with a curve; the best run is kept
            runs += rates
            budget += rates * plan.budget_steps * step_s
            tune_scores += rates * plan.curve_points()
        else:  # a short run per rate, scored once; then one budget run with a curve
            runs += rates + 1
            search += rates * plan.search_steps * step_s
            budget += plan.budget_steps * step_s
            tune_scores += rates + plan.curve_points()
    parts = {
        "search": search,
        "budget": budget,
        "tune_eval": tune_scores * plan.n_tune * eval_seconds_per_sentence,
        "dev_eval": len(step_seconds) * n_dev * eval_seconds_per_sentence,
        "loads": runs * load_seconds,
        "fixed": fixed_seconds,
    }
    parts["total"] = sum(parts.values())
    return parts
