"""The course results page: ``build/summary.html`` (self-contained) and ``build/summary.md``.

The page opens with the headline figures of each part (defined in ``data/results_page.json``, read by
:mod:`genai_lab.course_headlines`): each one beside its bar (met or not, computed from the value),
the published anchor the notebooks cite, and the machine of the results file it was recorded in;
then the plots that tell the part's story, and a "not yet plotted" note naming the ones nobody has
saved yet. Every recorded key, notebook by notebook, and the notebooks' runtimes stay below, collapsed.
Everything that comes from a file (labels, keys, values, machine names) is HTML-escaped.
"""

from __future__ import annotations

import base64
import html
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from genai_lab.course_headlines import (
    FAST_MODE,
    MET,
    NO_BAR,
    NOT_A_NUMBER,
    NOT_MET,
    NOT_RECORDED,
    PageSpec,
    Part,
    Reading,
    Results,
    evaluate,
    format_value,
    machines,
)
from genai_lab.results import META_KEYS
from genai_lab.tables import markdown_table

STATUS_CLASS = {
    MET: "met",
    NOT_MET: "not-met",
    NOT_RECORDED: "missing",
    NO_BAR: "no-bar",
    FAST_MODE: "fast",
    NOT_A_NUMBER: "missing",
}

CSS = """
body{font-family:system-ui,sans-serif;max-width:80em;margin:1.5em auto;padding:0 1em;color:#222}
h1{margin-bottom:.2em}h2{margin-top:1.6em;border-bottom:2px solid #ddd;padding-bottom:.2em}
table{border-collapse:collapse;margin:.6em 0 1.2em;width:100%}
td,th{border:1px solid #ccc;padding:.3em .5em;text-align:left;vertical-align:top}
th{background:#f3f3f3}.v,.barv{font-weight:600;white-space:nowrap}
table.headlines col.c1{width:23%}table.headlines col.c2{width:15%}table.headlines col.c3{width:11%}
table.headlines col.c4{width:8%}table.headlines col.c5{width:24%}
.status{font-weight:700}.status.met{color:#1a7f37;background:#e9f7ec}.status.not-met{color:#c62828;background:#fdecea}
.status.missing,.status.fast{color:#8a6d00;background:#fff8e1}.status.no-bar{color:#666}
.small{font-size:.82em;color:#555}.figures{display:flex;flex-wrap:wrap;gap:1em}
figure{margin:0;flex:1 1 30em;max-width:100%}figure img{max-width:100%;border:1px solid #eee}
figcaption{font-size:.9em;color:#444}.not-plotted{background:#fff8e1;padding:.4em .7em;border-left:4px solid #f0c000}
details{margin:1em 0}summary{cursor:pointer;font-weight:600}code{font-size:.92em}
""".strip()


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _img(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f"<img alt='{_e(alt)}' src='data:image/png;base64,{data}'>"


def _figure_files(part: Part, figures_dir: Path) -> tuple[list[tuple[str, Path]], list[tuple[str, str]]]:
    """The part's story plots that exist (story, file) and those nobody has saved yet (story, glob)."""
    found: list[tuple[str, Path]] = []
    missing: list[tuple[str, str]] = []
    for fig in part.figures:
        matches = sorted(figures_dir.glob(fig.glob)) if figures_dir.is_dir() else []
        if matches:
            found.append((fig.story, matches[0]))
        else:
            missing.append((fig.story, fig.glob))
    return found, missing


def _machine_html(reading: Reading) -> str:
    if not reading.sources:
        return "<span class='small'>not recorded</span>"
    rows = []
    for s in reading.sources:
        where = f"{s.notebook} \u00b7 {s.mode} mode \u00b7 {s.date}"
        rows.append(f"<span class='small'>{_e(s.machine)}<br>{_e(where)}</span>")
    return "<br>".join(rows)


def _headline_row(reading: Reading) -> str:
    h = reading.headline
    cls = STATUS_CLASS[reading.status]
    bar = "no bar set"
    if h.bar is not None:
        source = f"<br><span class='small'>{_e(h.bar.source)}</span>" if h.bar.source else ""
        bar = f"<span class='barv'>{_e(h.bar.text(h.fmt))}</span>{source}"
    keys = " ".join(f"<code>{_e(k)}</code>" for k in h.keys)
    derived = f" <span class='small'>({_e(h.derive_op)})</span>" if h.derive_op else ""
    compare = f"<br><span class='small'>{_e(reading.compare)}</span>" if reading.compare else ""
    anchor = _e(h.anchor) if h.anchor else "<span class='small'>none cited</span>"
    value_class = "v" if reading.value is not None else "small"
    return (
        f"<tr class='headline' data-status='{_e(reading.status)}' data-key='{_e(h.key)}'>"
        f"<td>{_e(h.label)}<br><span class='small'>{keys}{derived}</span></td>"
        f"<td class='value'><span class='{value_class}'>{_e(reading.shown)}</span>{compare}</td><td>{bar}</td>"
        f"<td class='status {cls}'>{_e(reading.status)}</td><td>{anchor}</td><td>{_machine_html(reading)}</td></tr>"
    )


def _part_html(part: Part, readings: list[Reading], figures_dir: Path) -> list[str]:
    out = [
        f"<section class='part' id='part-{_e(part.id)}'><h2>{_e(part.title)}</h2>",
        "<table class='headlines'>" + "".join(f"<col class='c{i}'>" for i in range(1, 7)),
        "<tr><th>figure (recorded key)</th><th>value</th><th>bar</th><th>status</th>"
        "<th>published anchor</th><th>machine</th></tr>",
        *(_headline_row(r) for r in readings),
        "</table>",
    ]
    found, missing = _figure_files(part, figures_dir)
    if found:
        out.append("<div class='figures'>")
        for story, path in found:
            out.append(f"<figure>{_img(path, story)}<figcaption>{_e(story)} <span class='small'>"
                       f"({_e(path.name)})</span></figcaption></figure>")
        out.append("</div>")
    if missing:
        items = "; ".join(f"{_e(story)} (no <code>results/figures/{_e(glob)}</code>)" for story, glob in missing)
        out.append(f"<p class='not-plotted'><b>Not yet plotted:</b> {items}.</p>")
    out.append("</section>")
    return out


def _raw_html(results: Results, shown: set[str], figures_dir: Path, runtimes: Mapping[str, Any]) -> list[str]:
    total = sum(len([k for k in v if k not in META_KEYS]) for v in results.values())
    out = ["<section id='raw'><h2>Everything recorded</h2>",
           f"<details id='raw-keys'><summary>All {total} recorded keys, notebook by notebook</summary>"]
    for name, values in results.items():
        meta = ", ".join(f"{k}: {values.get(k, '?')}" for k in META_KEYS)
        out.append(f"<h3>{_e(name)}</h3><p class='small'>{_e(meta)}</p><table><tr><th>key</th><th>value</th></tr>")
        for key, value in values.items():
            if key not in META_KEYS:
                out.append(f"<tr><td><code>{_e(key)}</code></td><td>{_e(format_value(value, 'raw'))}</td></tr>")
        out.append("</table>")
        for fig in sorted(figures_dir.glob(f"{name}__*.png")) if figures_dir.is_dir() else []:
            if fig.name not in shown:
                out.append(f"<figure>{_img(fig, fig.stem)}<figcaption>{_e(fig.name)}</figcaption></figure>")
    out.append("</details>")
    if runtimes:
        out.append("<details id='runtimes'><summary>Runtimes of the last <code>make run</code></summary>"
                   "<table><tr><th>notebook</th><th>seconds</th><th>mode</th><th>ok</th><th>machine</th></tr>")
        for name, info in sorted(runtimes.items()):
            cells = [name] + [info.get(k, "") for k in ("seconds", "mode", "ok", "machine")]
            out.append("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in cells) + "</tr>")
        out.append("</table></details>")
    out.append("</section>")
    return out


def _tally(readings: list[Reading]) -> str:
    counts = Counter(r.status for r in readings)
    order = [MET, NOT_MET, NOT_RECORDED, FAST_MODE, NOT_A_NUMBER, NO_BAR]
    return ", ".join(f"{counts[s]} {s}" for s in order if counts[s])


def render_html(spec: PageSpec, results: Results, figures_dir: Path, runtimes: Mapping[str, Any]) -> str:
    """The whole page as one self-contained HTML document (figures embedded as data URIs)."""
    readings = {p.id: [evaluate(h, results) for h in p.headlines] for p in spec.parts}
    every = [r for rs in readings.values() for r in rs]
    out = [
        f"<!doctype html><html lang='en'><meta charset='utf-8'><title>{_e(spec.title)}</title>",
        "<meta name='viewport' content='width=device-width,initial-scale=1'>",
        f"<style>{CSS}</style><body><h1>{_e(spec.title)}</h1>",
        "<section id='headlines'>",
        f"<p id='tally'><b>{len(every)} headline figures:</b> {_e(_tally(every))}. A bar is met or not as computed "
        "from the recorded value; a figure measured in fast mode is shown but not held to its bar.</p>",
    ]
    if results:
        items = "".join(f"<li><b>{_e(m)}</b>: <span class='small'>{_e(', '.join(nbs))}</span></li>"
                        for m, nbs in machines(results).items())
        out.append(f"<div id='machines'><b>The machines</b> (the <code>machine</code> each results file "
                   f"records):<ul>{items}</ul></div>")
    else:
        out.append("<p>No results recorded yet: run <code>make run</code> first.</p>")
    shown: set[str] = set()
    for part in spec.parts:
        out += _part_html(part, readings[part.id], figures_dir)
        shown.update(p.name for _, p in _figure_files(part, figures_dir)[0])
    out.append("</section>")
    out += _raw_html(results, shown, figures_dir, runtimes)
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def render_markdown(spec: PageSpec, results: Results, figures_dir: Path, link_base: str = "") -> str:
    """The same page in Markdown: headline tables per part, figure links, then every key collapsed."""
    md = [f"# {spec.title}", ""]
    for part in spec.parts:
        rows = []
        for r in (evaluate(h, results) for h in part.headlines):
            h = r.headline
            rows.append({
                "figure": h.label, "value": r.shown + (f" ({r.compare})" if r.compare else ""),
                "bar": h.bar.text(h.fmt) if h.bar else "-", "status": r.status, "anchor": h.anchor or "-",
                "machine": "; ".join(f"{s.machine} ({s.notebook}, {s.mode})" for s in r.sources) or "-",
            })
        md += [f"## {part.title}", "", markdown_table(rows), ""]
        found, missing = _figure_files(part, figures_dir)
        md += [f"![{story}]({link_base}{path.name})" for story, path in found]
        if missing:
            md += ["", "Not yet plotted: " + "; ".join(f"{s} (`{g}`)" for s, g in missing) + "."]
        md.append("")
    md += ["<details><summary>Every recorded key</summary>", ""]
    for name, values in results.items():
        meta = ", ".join(f"{k}: {values.get(k, '?')}" for k in META_KEYS)
        rows = [{"key": f"`{k}`", "value": format_value(v, "raw")} for k, v in values.items() if k not in META_KEYS]
        md += [f"### {name}", "", f"_{meta}_", "", markdown_table(rows), ""]
        figures = sorted(figures_dir.glob(f"{name}__*.png")) if figures_dir.is_dir() else []
        md += [f"![{fig.stem}]({link_base}{fig.name})" for fig in figures] + ([""] if figures else [])
    md.append("</details>")
    if not results:
        md.append("\nNo results recorded yet: run `make run` first.")
    return "\n".join(md) + "\n"
