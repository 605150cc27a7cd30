"""The headline figures of the course results page: what they are, and how each one reads today.

The definitions are data, not code: ``data/results_page.json`` lists the course's parts, and for each
part its headline figures (a recorded key of ``results/*.json``, optionally derived with a second key),
the bar each one is held to, the published anchor the notebooks cite, and the figures that tell the
part's story. :func:`load_spec` reads and checks that file (a mistake names the entry and the fix);
:func:`evaluate` reads one headline against the recorded results: its value, whether the bar is met,
and the machine, mode and date of the results file it came from. A key nobody recorded reads as
"not recorded"; a figure measured in fast mode is shown, but never counted against the bar.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genai_lab.paths import data_dir
from genai_lab.results import META_KEYS, Value

BAR_OPS = (">=", "<=", "==", "between")
DERIVE_OPS = ("minus", "ratio", "rel_diff")
FORMATS = ("percent", "points", "ratio", "ms", "int", "number", "text")

MET = "met"
NOT_MET = "not met"
NOT_RECORDED = "not recorded"
NO_BAR = "no bar"
FAST_MODE = "fast mode: not comparable"
NOT_A_NUMBER = "not a number"

Results = Mapping[str, Mapping[str, Value]]


def spec_path() -> Path:
    """Where the page's definitions live: ``data/results_page.json``."""
    return data_dir() / "results_page.json"


def format_value(value: Value | None, fmt: str) -> str:
    """``value`` as the page shows it in format ``fmt`` (one of :data:`FORMATS`, or ``raw``)."""
    if value is None:
        return NOT_RECORDED
    if fmt == "text" or isinstance(value, bool | str):
        return str(value)
    if fmt == "raw":  # the raw keys' tables: as recorded, floats to four significant digits
        return f"{value:.4g}" if isinstance(value, float) else str(value)
    x = float(value)
    if fmt == "percent":
        pct = x * 100
        return f"{pct:.2g} %" if 0 < abs(pct) < 1 else f"{pct:.1f} %"
    if fmt == "points":
        return f"{x * 100:+.1f} points"
    if fmt == "ratio":
        return f"{x:.1f}x" if abs(x) >= 10 else f"{x:.2f}x"
    if fmt == "ms":
        return f"{x:,.0f} ms"
    if fmt == "int" and x == int(x):
        return f"{int(x):,}"
    return f"{x:.3g}" if 0 < abs(x) < 0.001 else f"{x:.3f}"


@dataclass(frozen=True)
class Bar:
    """A bar a headline figure is held to: ``value op bound`` (``between``: lo <= value <= hi)."""

    op: str
    bound: float | tuple[float, float]
    source: str = ""

    def met(self, value: float) -> bool:
        if isinstance(self.bound, tuple):
            lo, hi = self.bound
            return lo <= value <= hi
        if self.op == ">=":
            return value >= self.bound
        if self.op == "<=":
            return value <= self.bound
        return math.isclose(value, self.bound, rel_tol=1e-9, abs_tol=1e-12)

    def text(self, fmt: str) -> str:
        if isinstance(self.bound, tuple):
            return f"{format_value(self.bound[0], fmt)} to {format_value(self.bound[1], fmt)}"
        symbol = {">=": "\u2265", "<=": "\u2264", "==": "="}[self.op]
        return f"{symbol} {format_value(self.bound, fmt)}"


@dataclass(frozen=True)
class Headline:
    """One headline figure: ``key`` (derived with ``derive_key`` by ``derive_op`` if set)."""

    label: str
    key: str
    fmt: str = "number"
    derive_op: str | None = None
    derive_key: str | None = None
    compare_key: str | None = None
    compare_label: str = ""
    bar: Bar | None = None
    anchor: str = ""

    @property
    def keys(self) -> list[str]:
        """The recorded keys the value is computed from."""
        return [self.key] + ([self.derive_key] if self.derive_key else [])


@dataclass(frozen=True)
class Figure:
    """A plot that tells a part's story: the first ``results/figures`` file matching ``glob``."""

    glob: str
    story: str


@dataclass(frozen=True)
class Part:
    id: str
    title: str
    notebooks: tuple[str, ...]
    headlines: tuple[Headline, ...]
    figures: tuple[Figure, ...] = ()


@dataclass(frozen=True)
class PageSpec:
    title: str
    parts: tuple[Part, ...]


def _need(obj: Any, name: str, kind: type | tuple[type, ...], where: str) -> Any:
    if not isinstance(obj, dict) or name not in obj:
        raise ValueError(f"{where}: '{name}' is missing; add it (see the '_about' note at the top of the file).")
    value = obj[name]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ValueError(f"{where}: '{name}' is {value!r}; it must be a {getattr(kind, '__name__', kind)}.")
    return value


def _bar(raw: Any, where: str) -> Bar:
    op = _need(raw, "op", str, where)
    if op not in BAR_OPS:
        raise ValueError(f"{where}: bar op {op!r} is unknown; use one of {', '.join(BAR_OPS)}.")
    bound = raw.get("value")
    source = str(raw.get("from", ""))
    if op == "between":
        ok = isinstance(bound, list) and len(bound) == 2 and all(_is_number(b) for b in bound)
        if not ok or bound[0] > bound[1]:
            raise ValueError(f"{where}: a 'between' bar needs \"value\": [low, high] with low <= high, not {bound!r}.")
        return Bar(op, (float(bound[0]), float(bound[1])), source)
    if not _is_number(bound):
        raise ValueError(f"{where}: the bar's 'value' must be a number, not {bound!r}.")
    return Bar(op, float(bound), source)


def _object(raw: Any, where: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: expected a JSON object {{...}}, found {type(raw).__name__}.")
    return raw


def _headline(raw: Any, where: str) -> Headline:
    raw = _object(raw, where)
    fmt = raw.get("format", "number")
    if fmt not in FORMATS:
        raise ValueError(f"{where}: format {fmt!r} is unknown; use one of {', '.join(FORMATS)}.")
    derive = raw.get("derive")
    op = key2 = None
    if derive is not None:
        op = _need(derive, "op", str, f"{where}.derive")
        key2 = _need(derive, "key", str, f"{where}.derive")
        if op not in DERIVE_OPS:
            raise ValueError(f"{where}: derive op {op!r} is unknown; use one of {', '.join(DERIVE_OPS)}.")
    compare = raw.get("compare")
    return Headline(
        label=_need(raw, "label", str, where),
        key=_need(raw, "key", str, where),
        fmt=fmt,
        derive_op=op,
        derive_key=key2,
        compare_key=_need(compare, "key", str, f"{where}.compare") if compare is not None else None,
        compare_label=str(compare.get("label", "")) if isinstance(compare, dict) else "",
        bar=_bar(raw["bar"], f"{where}.bar") if raw.get("bar") is not None else None,
        anchor=str(raw.get("anchor", "")),
    )


def parse_spec(raw: Any, origin: str = "results_page.json") -> PageSpec:
    """Check and convert the page's definitions (the parsed JSON); errors name the entry to fix."""
    parts = []
    raw = _object(raw, origin)
    for i, part in enumerate(_need(raw, "parts", list, origin)):
        where = f"{origin}: parts[{i}]"
        part = _object(part, where)
        headlines = tuple(
            _headline(h, f"{where}.headlines[{j}]") for j, h in enumerate(_need(part, "headlines", list, where))
        )
        figures = tuple(
            Figure(_need(f, "glob", str, f"{where}.figures[{j}]"), _need(f, "story", str, f"{where}.figures[{j}]"))
            for j, f in enumerate(part.get("figures", []))
        )
        notebooks = tuple(str(n) for n in part.get("notebooks", []))
        ident, title = _need(part, "id", str, where), _need(part, "title", str, where)
        parts.append(Part(ident, title, notebooks, headlines, figures))
    return PageSpec(str(raw.get("title", "Course results")), tuple(parts))


def load_spec(path: Path | None = None) -> PageSpec:
    """Read ``data/results_page.json`` (or ``path``) and check it."""
    path = path or spec_path()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        message = f"{path} is missing: it defines the results page's headlines; restore it from git."
        raise FileNotFoundError(message) from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON ({exc}); fix the line it names.") from None
    return parse_spec(raw, path.name)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass(frozen=True)
class Source:
    """Where a recorded key came from: its results file and that file's machine, mode and date."""

    notebook: str
    machine: str
    mode: str
    date: str


@dataclass(frozen=True)
class Reading:
    """A headline read against the results: what the page shows for it."""

    headline: Headline
    value: Value | None
    shown: str
    status: str
    compare: str = ""
    sources: tuple[Source, ...] = field(default_factory=tuple)


def find_key(results: Results, key: str) -> tuple[Value, Source] | None:
    """The recorded value of ``key`` and its source, or ``None`` when no results file holds it."""
    for notebook, values in results.items():
        if key in values and key not in META_KEYS:
            meta = {m: str(values.get(m, "not recorded")) for m in META_KEYS}
            return values[key], Source(notebook, meta["machine"], meta["mode"], meta["date"])
    return None


def _derive(op: str, a: float, b: float) -> float | None:
    if op == "minus":
        return a - b
    if b == 0:
        return None
    return a / b if op == "ratio" else abs(a / b - 1)


def evaluate(headline: Headline, results: Results) -> Reading:
    """Read ``headline`` against ``results`` (by notebook): value, bar status, comparison, sources."""
    found = [find_key(results, k) for k in headline.keys]
    compare = ""
    if headline.compare_key:
        other = find_key(results, headline.compare_key)
        shown_other = format_value(other[0] if other else None, headline.fmt)
        compare = f"{headline.compare_label}: {shown_other}" if headline.compare_label else shown_other
    if any(f is None for f in found):
        missing = [k for k, f in zip(headline.keys, found, strict=True) if f is None]
        sources = tuple(f[1] for f in found if f is not None)
        return Reading(headline, None, f"{NOT_RECORDED} ({', '.join(missing)})", NOT_RECORDED, compare, sources)
    values = [f[0] for f in found if f is not None]
    sources = tuple(dict.fromkeys(f[1] for f in found if f is not None))
    value: Value | None = values[0]
    if headline.derive_op:
        if not all(_is_number(v) for v in values):
            return Reading(headline, None, f"{NOT_A_NUMBER}: {values!r}", NOT_A_NUMBER, compare, sources)
        value = _derive(headline.derive_op, float(values[0]), float(values[1]))
        if value is None:
            shown = f"{NOT_RECORDED} ({headline.derive_key} is 0)"
            return Reading(headline, None, shown, NOT_RECORDED, compare, sources)
    shown = format_value(value, headline.fmt)
    if headline.bar is None:
        status = NO_BAR
    elif not isinstance(value, int | float) or isinstance(value, bool):
        status = NOT_A_NUMBER
    elif any(s.mode != "full" for s in sources):
        status = FAST_MODE
    else:
        status = MET if headline.bar.met(float(value)) else NOT_MET
    return Reading(headline, value, shown, status, compare, sources)


def machines(results: Results) -> dict[str, list[str]]:
    """Each distinct machine the results files record, with the files measured on it."""
    out: dict[str, list[str]] = {}
    for notebook, values in results.items():
        out.setdefault(str(values.get("machine", "not recorded")), []).append(notebook)
    return out
