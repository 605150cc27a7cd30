"""Numbers in the notebooks' prose, checked against the figures the notebooks recorded.

A markdown cell may tag a number it quotes with an HTML comment (invisible when the notebook is
rendered) that names the results key the number comes from::

    LoRA reaches **0.865**<!-- from: peft.sst2_dev_accuracy.lora --> dev accuracy.
    block size 16 wastes 1.5%<!-- from: paged.kv_waste.paged_16 *100 --> of the KV memory.
    about 170<!-- from: serving.throughput_tok_s.vllm_server ~15% --> output tokens per second.

The rules, precisely:

- A marker is ``<!-- from: KEY [OPTION ...] -->`` on one line of a markdown cell.
- It checks the **last number before it on the same line**. Between that number and the marker there
  may be at most 16 characters and no digit: a unit or markup such as ``%``, ``x``, `` s``, `` MB``,
  ``**``. A number is digits with optional thousands commas and decimals (``9,272``, ``0.865``,
  ``1.4``), with an optional sign (``-``, ``+``, ``−``) when the sign does not follow a letter or digit
  (so ``0.35-0.82`` is the number 0.82, not -0.82).
- ``KEY`` is a dotted key of one of the ``results/*.json`` files. When two files record the same key
  with different values, name the file: ``12_peft_sst2_comparison:peft.step_seconds.lora``.
- Options, each at most once:

  * ``*F`` scale: the prose shows the recorded value times ``F`` (``*100`` for a fraction written as
    a percentage, ``*1e-6`` for bytes written in MB);
  * ``~P%`` relative tolerance (``~5%``) or ``~A`` absolute tolerance in the written units (``~0.01``).

- Without a tolerance, the written number must equal the scaled value rounded to the digits written
  (within half a unit of the last digit: ``0.934`` accepts 0.9335 to 0.9345). A stated tolerance is
  never tighter than that rounding.
- Anything that starts like a marker (``<!-- from``) and does not parse, a key no results file
  records, or a recorded value that is not a number, raises :class:`ClaimError` naming the notebook,
  the cell and the line.

``check_notebooks()`` checks every marker of the course (``notebooks/`` and ``solutions/``);
``python -m genai_lab.claims`` prints them, and ``--record`` records how many were verified as
``course.claims_checked``.
"""

from __future__ import annotations

import argparse
import difflib
import json
import math
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

META_KEYS = frozenset({"machine", "mode", "date"})
MAX_GAP = 16
COURSE_FOLDERS = ("notebooks", "solutions")

_LOOSE = re.compile(r"<!--\s*from\b", re.IGNORECASE)
_MARKER = re.compile(
    r"<!-- from: (?:(?P<file>[A-Za-z0-9_\-]+):)?(?P<key>[a-z0-9_]+(?:\.[a-z0-9_\-]+)+)(?P<options>(?: +[^ >]+)*) *-->"
)
_NUMBER = re.compile(r"(?<![\w.,])(?P<sign>[-+−])?(?P<int>\d{1,3}(?:,\d{3})+|\d+)(?:\.(?P<frac>\d+))?(?![\d])")
_SCALE = re.compile(r"\*(?P<f>[0-9.]+(?:e-?\d+)?)")
_TOLERANCE = re.compile(r"~(?P<t>[0-9.]+)(?P<pct>%?)")


class ClaimError(ValueError):
    """A marker that cannot be checked: malformed, unknown key, or a value that is not a number."""


@dataclass(frozen=True)
class Marker:
    """One parsed marker: where it is, the number it checks and how."""

    where: str
    written: str
    number: float
    decimals: int
    key: str
    file: str | None
    scale: float
    tolerance: float | None
    relative: bool


@dataclass(frozen=True)
class Claim:
    """One checked marker: the written number against the recorded value (scaled)."""

    marker: Marker
    source: str
    recorded: float
    expected: float
    allowed: float

    @property
    def ok(self) -> bool:
        return abs(self.marker.number - self.expected) <= self.allowed

    def describe(self) -> str:
        m = self.marker
        scale = f" x {m.scale:g}" if m.scale != 1 else ""
        return (
            f"{m.where}: wrote {m.written}, {m.key} in results/{self.source}.json is {self.recorded!r}{scale}"
            f" = {self.expected:.6g} (allowed difference {self.allowed:.3g})"
        )


@dataclass(frozen=True)
class ClaimsReport:
    """Every checked marker; ``failures`` are those whose written number drifted from the results."""

    claims: tuple[Claim, ...]

    @property
    def failures(self) -> tuple[Claim, ...]:
        return tuple(c for c in self.claims if not c.ok)

    @property
    def checked(self) -> int:
        """The number of markers verified: the figure recorded as ``course.claims_checked``."""
        return sum(c.ok for c in self.claims)


def _parse_number(match: re.Match[str]) -> tuple[float, int]:
    value = float(match["int"].replace(",", "") + (f".{match['frac']}" if match["frac"] else ""))
    if match["sign"] in ("-", "−"):
        value = -value
    return value, len(match["frac"] or "")


def _parse_options(options: str, where: str) -> tuple[float, float | None, bool]:
    scale: float | None = None
    tolerance: float | None = None
    relative = False
    for option in options.split():
        if m := _SCALE.fullmatch(option):
            if scale is not None:
                raise ClaimError(f"{where}: the scale is given twice ({options.strip()!r}).")
            scale = float(m["f"])
            if scale == 0:
                raise ClaimError(f"{where}: a scale of 0 checks nothing; use *100, *1e-6, ...")
        elif m := _TOLERANCE.fullmatch(option):
            if tolerance is not None:
                raise ClaimError(f"{where}: the tolerance is given twice ({options.strip()!r}).")
            tolerance, relative = float(m["t"]), bool(m["pct"])
        else:
            raise ClaimError(
                f"{where}: unknown marker option {option!r}. Options are a scale such as *100 and a "
                "tolerance such as ~5% (relative) or ~0.01 (absolute)."
            )
    return (scale if scale is not None else 1.0), tolerance, relative


def find_markers(text: str, where: str) -> list[Marker]:
    """Parse the markers of one markdown cell's text; ``where`` names the cell in error messages."""
    markers = []
    for line_no, line in enumerate(text.splitlines(), start=1):
        here = f"{where}, line {line_no}"
        for loose in _LOOSE.finditer(line):
            m = _MARKER.match(line, loose.start())
            if m is None:
                snippet = line[loose.start() : loose.start() + 60]
                raise ClaimError(
                    f"{here}: malformed marker {snippet!r}. Write it as <!-- from: some.results.key --> "
                    "(one space after 'from:', a dotted lower-case key, optional *SCALE and ~TOLERANCE, "
                    "then ' -->' on the same line)."
                )
            before = line[: m.start()]
            numbers = list(_NUMBER.finditer(before))
            if not numbers:
                raise ClaimError(f"{here}: the marker for {m['key']} follows no number on its line.")
            number = numbers[-1]
            gap = before[number.end() :]
            if len(gap) > MAX_GAP or any(ch.isdigit() for ch in gap) or "-->" in gap:
                raise ClaimError(
                    f"{here}: the marker for {m['key']} must follow its number closely (at most {MAX_GAP} "
                    f"characters of unit or markup, no digits); found {gap!r} after {number.group(0)!r}."
                )
            value, decimals = _parse_number(number)
            scale, tolerance, relative = _parse_options(m["options"], here)
            markers.append(
                Marker(here, number.group(0), value, decimals, m["key"], m["file"], scale, tolerance, relative)
            )
    return markers


def load_values(results: Path) -> dict[str, dict[str, Any]]:
    """Every results file in ``results`` (``*.json``), by file stem, without the meta keys."""
    files = sorted(results.glob("*.json"))
    if not files:
        raise ClaimError(f"No results files (*.json) in {results}; run the notebooks or point to the right folder.")
    out = {}
    for path in files:
        data = json.loads(path.read_text(encoding="utf-8"))
        out[path.stem] = {k: v for k, v in data.items() if k not in META_KEYS}
    return out


def _lookup(marker: Marker, values: dict[str, dict[str, Any]]) -> tuple[str, float]:
    if marker.file is not None:
        if marker.file not in values:
            raise ClaimError(f"{marker.where}: no results file {marker.file}.json (have: {', '.join(values)}).")
        found = {marker.file: values[marker.file][marker.key]} if marker.key in values[marker.file] else {}
    else:
        found = {stem: data[marker.key] for stem, data in values.items() if marker.key in data}
    if not found:
        known = sorted({k for data in values.values() for k in data})
        close = difflib.get_close_matches(marker.key, known, n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        where_ = f"results/{marker.file}.json" if marker.file else "any results file"
        raise ClaimError(f"{marker.where}: {where_} records no key {marker.key!r}.{hint}")
    if len({json.dumps(v) for v in found.values()}) > 1:
        raise ClaimError(
            f"{marker.where}: {marker.key} has different values in {', '.join(found)}; name the file, "
            f"e.g. <!-- from: {next(iter(found))}:{marker.key} -->."
        )
    source, value = next(iter(found.items()))
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ClaimError(f"{marker.where}: {marker.key} in results/{source}.json is {value!r}, not a number.")
    return source, value


def check_markers(markers: Iterable[Marker], values: dict[str, dict[str, Any]]) -> list[Claim]:
    """Check parsed markers against loaded results values."""
    claims = []
    for marker in markers:
        source, recorded = _lookup(marker, values)
        expected = recorded * marker.scale
        rounding = 0.5 * 10.0 ** (-marker.decimals)
        stated = 0.0
        if marker.tolerance is not None:
            stated = marker.tolerance * abs(expected) / 100 if marker.relative else marker.tolerance
        allowed = max(rounding, stated) + 1e-9 * max(1.0, abs(expected))  # float noise on an exact half
        claims.append(Claim(marker, source, recorded, expected, allowed))
    return claims


def notebook_markers(path: Path) -> list[Marker]:
    """The markers of every markdown cell of one notebook (read as JSON, no nbformat needed)."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    markers = []
    for index, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") != "markdown":
            continue
        source = cell.get("source", "")
        text = "".join(source) if isinstance(source, list) else str(source)
        cell_id = f" (id {cell['id']})" if cell.get("id") else ""
        markers += find_markers(text, f"{path.parent.name}/{path.name} cell {index}{cell_id}")
    return markers


def course_notebooks(root: Path | None = None) -> list[Path]:
    """The notebooks whose prose is checked: ``notebooks/`` and ``solutions/`` (labs are generated)."""
    if root is None:
        from genai_lab.paths import repo_root

        root = repo_root()
    return [p for folder in COURSE_FOLDERS for p in sorted((root / folder).glob("*.ipynb"))]


def check_notebooks(paths: Sequence[Path] | None = None, results: Path | None = None) -> ClaimsReport:
    """Check every marker in ``paths`` (default: the course's notebooks) against ``results``
    (default: the committed ``results/`` of the checkout, whatever the mode)."""
    if results is None:
        from genai_lab.paths import repo_root

        results = repo_root() / "results"
    values = load_values(results)
    paths = course_notebooks() if paths is None else paths
    claims = [c for path in paths for c in check_markers(notebook_markers(path), values)]
    return ClaimsReport(tuple(claims))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m genai_lab.claims", description=__doc__.split("\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="notebooks to check (default: the course's)")
    parser.add_argument("--results", type=Path, help="results folder (default: the checkout's results/)")
    parser.add_argument("--record", action="store_true", help="record course.claims_checked (results recorder)")
    args = parser.parse_args(argv)
    try:
        report = check_notebooks(args.notebooks or None, args.results)
    except ClaimError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for claim in report.claims:
        print(("ok    " if claim.ok else "DRIFT ") + claim.describe())
    print(f"{report.checked} of {len(report.claims)} markers verified")
    if args.record and not report.failures:
        from genai_lab.results import Recorder

        Recorder("course").record("course.claims_checked", report.checked)
    return 1 if report.failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
