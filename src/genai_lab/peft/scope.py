"""What a run of the SST-2 comparison may claim: SST-2 figures, or a smoke test on the fallback set.

Without the benchmark folder, :func:`genai_lab.peft.data.load_sst2` falls back to the project's own
48-sentence set. A model that memorises 32 sentences and scores 16 says nothing about SST-2, so such
a run must not print a bar verdict, nor record under the benchmark's keys (``peft.sst2_*``) where
the results page, the claims test and the issue tracker read SST-2 figures.

:class:`RunScope` decides it once; :class:`ComparisonRecorder` records every key of a smoke run under
``peft.smoke.*`` (and the figures under ``smoke_<name>``), with a flag and a note that say why;
:func:`lora_bar` and :func:`gain_bar` judge the bars only on the benchmark in full mode.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genai_lab.results import Recorder, Value

BENCHMARK = "sst2"
BENCHMARK_PREFIX = "peft."
SMOKE_PREFIX = "peft.smoke."
SMOKE_FLAG_KEY = "peft.smoke.fallback_data"
SMOKE_NOTE_KEY = "peft.smoke.note"
SMOKE_NOTE = (
    "smoke test on the 48-sentence fallback set, not SST-2: not comparable with the bar or the "
    "published numbers"
)
SMOKE_BANNER = (
    "SMOKE TEST: the SST-2 benchmark folder is absent, so this run trains and scores the project's "
    "48-sentence fallback set.\nIts figures only show that the code runs: they are NOT comparable with "
    "the bar or the published numbers,\nno bar is judged, and they are recorded under peft.smoke.*, never "
    "peft.sst2_*. Point GENAI_LAB_BENCHMARKS to the benchmarks (make benchmarks) for SST-2 figures."
)

# The bars of notebook 12 (full mode, full SST-2 dev set).
LORA_MIN_ACCURACY = 0.85
LORA_MIN_GAIN = 0.20
LORA_MAX_MINUTES = 15.0
METHOD_MIN_GAIN = 0.10  # issue 17: each method at least 10 points over zero-shot, or its curve shows why not


@dataclass(frozen=True)
class RunScope:
    """Where this run's data came from and in which mode it runs."""

    on_benchmark: bool
    fast: bool = False

    @classmethod
    def detect(cls) -> RunScope:
        """The scope of a run in this process: is ``benchmark("sst2")`` there, is fast mode on."""
        from genai_lab.paths import benchmark
        from genai_lab.runtime import fast_mode

        return cls(on_benchmark=benchmark(BENCHMARK) is not None, fast=fast_mode())

    @property
    def smoke(self) -> bool:
        """A run on the fallback set: its figures are a smoke test."""
        return not self.on_benchmark

    @property
    def judged(self) -> bool:
        """Whether the bars mean anything: SST-2 data, full mode."""
        return self.on_benchmark and not self.fast

    def key(self, key: str) -> str:
        """The key to record ``key`` under: itself on the benchmark; on the fallback set
        ``peft.sst2_dev_accuracy.lora`` becomes ``peft.smoke.dev_accuracy.lora`` (every ``peft.*`` key
        moves under ``peft.smoke.``, and the ``sst2_`` of its first part is dropped)."""
        if not key.startswith(BENCHMARK_PREFIX):
            raise ValueError(
                f"Key {key!r} is not a 'peft.*' key; the SST-2 comparison records only peft.* keys "
                "(for example 'peft.sst2_dev_accuracy.lora')."
            )
        if self.on_benchmark or key.startswith(SMOKE_PREFIX):
            return key
        rest = key[len(BENCHMARK_PREFIX) :]
        if rest.startswith(f"{BENCHMARK}_"):
            rest = rest[len(BENCHMARK) + 1 :]
        return SMOKE_PREFIX + rest

    def banner(self) -> str:
        """One paragraph to print at the top of a run: empty on the benchmark."""
        return SMOKE_BANNER if self.smoke else ""


class ComparisonRecorder(Recorder):
    """A :class:`~genai_lab.results.Recorder` that records a smoke run's figures under
    ``peft.smoke.*`` (see :meth:`RunScope.key`), beside ``peft.smoke.fallback_data = True`` and a
    note, and saves its figures as ``smoke_<name>``; on the benchmark it records keys as given."""

    def __init__(self, notebook: str, scope: RunScope, directory: Path | None = None) -> None:
        super().__init__(notebook, directory)
        self.scope = scope
        if scope.smoke:
            super().update({SMOKE_FLAG_KEY: True, SMOKE_NOTE_KEY: SMOKE_NOTE})

    def record(self, key: str, value: Any) -> Value:
        return super().record(self.scope.key(key), value)

    def update(self, values: dict[str, Any]) -> None:
        super().update({self.scope.key(k): v for k, v in values.items()})

    def save_figure(self, fig: Any, name: str) -> Path:
        return super().save_figure(fig, f"smoke_{name}" if self.scope.smoke else name)


def comparison_recorder(notebook: str, scope: RunScope | None = None, announce: bool = True) -> ComparisonRecorder:
    """The recorder of an SST-2 comparison notebook; on the fallback set it prints the smoke-test
    banner once (``announce``) so that nobody reads the run's figures as SST-2 figures."""
    scope = scope if scope is not None else RunScope.detect()
    if announce and scope.smoke:
        print(scope.banner())
    return ComparisonRecorder(notebook, scope)


@dataclass(frozen=True)
class Verdict:
    """A bar's outcome: ``met`` is ``None`` when the run cannot judge it; ``text`` says which."""

    met: bool | None
    text: str


def _not_judged(scope: RunScope, bar: str) -> Verdict:
    if scope.smoke:
        why = "SMOKE TEST on the fallback set, not SST-2; these figures are not comparable with it"
    else:
        why = "fast mode trains a few steps on a subset; only a full-mode run can judge it"
    return Verdict(None, f"{bar} not judged: {why}")


def lora_bar(scope: RunScope, accuracy: float, zero_shot: float, train_minutes: float) -> Verdict:
    """The course's LoRA bar (at least 0.85 dev accuracy, at least +20 points over zero-shot, at most
    15 minutes of training), judged only on SST-2 in full mode."""
    bar = f"bar (>= {LORA_MIN_ACCURACY}, >= +{100 * LORA_MIN_GAIN:.0f} points, <= {LORA_MAX_MINUTES:.0f} min)"
    if not scope.judged:
        return _not_judged(scope, bar)
    met = accuracy >= LORA_MIN_ACCURACY and accuracy - zero_shot >= LORA_MIN_GAIN and train_minutes <= LORA_MAX_MINUTES
    return Verdict(met, f"{bar} met: {met}")


def gain_bar(scope: RunScope, accuracies: Mapping[str, float], zero_shot: float) -> dict[str, Verdict]:
    """Issue 17's bar per method: at least 10 points over zero-shot (a method below it must show its
    learning curve); judged only on SST-2 in full mode."""
    out: dict[str, Verdict] = {}
    for method, accuracy in accuracies.items():
        bar = f"{method}: >= +{100 * METHOD_MIN_GAIN:.0f} points over zero-shot"
        if not scope.judged:
            out[method] = _not_judged(scope, bar)
            continue
        gain = accuracy - zero_shot
        met = gain >= METHOD_MIN_GAIN
        out[method] = Verdict(met, f"{bar} ({100 * gain:+.1f}) met: {met}")
    return out
