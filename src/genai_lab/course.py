"""Run the course headless, in order, and write the one-page summary of what it measured.

``make run`` calls :func:`run_course`: every notebook in ``notebooks/`` is executed in a fresh kernel
(full mode unless ``GENAI_LAB_FAST=1``), the executed copies go to ``build/notebooks/``, the wall time
of each goes to ``build/runtimes.json``, and :func:`write_summary` turns ``results/*.json`` and
``results/figures/*.png`` into ``build/summary.html`` and ``build/summary.md``.
"""

from __future__ import annotations

import base64
import html
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from genai_lab.paths import build_dir, repo_root, results_dir
from genai_lab.results import atomic_write_text, load_results
from genai_lab.runtime import machine_description, mode_name


@dataclass
class NotebookRun:
    name: str
    seconds: float
    ok: bool
    error: str = ""


def course_notebooks(root: Path | None = None) -> list[Path]:
    """The lecture notebooks in teaching order (their names start with a two-digit number)."""
    root = root or repo_root()
    return sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def execute_notebook(path: Path, output: Path, timeout: int = 7200) -> NotebookRun:
    """Execute one notebook in a fresh kernel whose working directory is the notebook's folder."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    start = time.perf_counter()
    error = ""
    try:
        client.execute()
    except CellExecutionError as exc:
        error = str(exc).strip().splitlines()[-1] if str(exc).strip() else repr(exc)
    seconds = time.perf_counter() - start
    output.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(output, nbformat.writes(nb) + "\n")
    return NotebookRun(path.stem, seconds, ok=not error, error=error)


def run_course(
    names: list[str] | None = None, in_place: bool = False, timeout: int = 7200
) -> list[NotebookRun]:
    """Execute the notebooks (all, or those whose names start with one of ``names``) in order.

    A name may also be a path to any notebook, e.g. ``solutions/00_warmup.ipynb``."""
    notebooks = course_notebooks()
    if names:
        paths = [Path(n).resolve() for n in names if n.endswith(".ipynb") and Path(n).is_file()]
        prefixes = [n for n in names if not n.endswith(".ipynb")]
        notebooks = [nb for nb in notebooks if any(nb.stem.startswith(n) for n in prefixes)] + paths
        if not notebooks:
            raise SystemExit(f"No notebook in notebooks/ starts with any of {names}.")
    out_dir = build_dir() / "notebooks"
    runs = []
    runtimes_path = build_dir() / "runtimes.json"
    runtimes = json.loads(runtimes_path.read_text()) if runtimes_path.exists() else {}
    for nb in notebooks:
        print(f"[{mode_name()} mode] running {nb} ...", flush=True)
        target = nb if in_place else out_dir / nb.name
        run = execute_notebook(nb, target, timeout=timeout)
        runs.append(run)
        status = "ok" if run.ok else f"FAILED: {run.error}"
        print(f"    {run.seconds:7.1f} s  {status}", flush=True)
        runtimes[nb.stem] = {
            "seconds": round(run.seconds, 1),
            "ok": run.ok,
            "mode": mode_name(),
            "machine": machine_description(),
        }
        atomic_write_text(runtimes_path, json.dumps(runtimes, indent=2) + "\n")
    return runs


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def write_summary() -> Path:
    """Write ``build/summary.html`` (self-contained, figures embedded) and ``build/summary.md``."""
    results = load_results(results_dir())
    figures = sorted((results_dir() / "figures").glob("*.png"))
    runtimes_path = build_dir() / "runtimes.json"
    runtimes = json.loads(runtimes_path.read_text()) if runtimes_path.exists() else {}

    md = ["# GenAI Service Lab: results of the last run", ""]
    parts = [
        "<!doctype html><meta charset='utf-8'><title>GenAI Service Lab results</title>",
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}"
        "table{border-collapse:collapse;margin-bottom:1.5em}td,th{border:1px solid #ccc;"
        "padding:.2em .6em;text-align:left}img{max-width:100%}</style>",
        "<h1>GenAI Service Lab: results of the last run</h1>",
    ]
    if runtimes:
        md += ["## Runtimes", "", "| notebook | seconds | mode | ok |", "|---|---|---|---|"]
        parts.append("<h2>Runtimes</h2><table><tr><th>notebook</th><th>seconds</th><th>mode</th><th>ok</th></tr>")
        for name, info in sorted(runtimes.items()):
            md.append(f"| {name} | {info['seconds']} | {info['mode']} | {info['ok']} |")
            parts.append(
                f"<tr><td>{html.escape(name)}</td><td>{info['seconds']}</td>"
                f"<td>{info['mode']}</td><td>{info['ok']}</td></tr>"
            )
        parts.append("</table>")
        md.append("")
    for name, values in results.items():
        meta = ", ".join(f"{k}: {values.get(k, '?')}" for k in ("mode", "date", "machine"))
        md += [f"## {name}", "", f"_{meta}_", "", "| key | value |", "|---|---|"]
        parts.append(f"<h2>{html.escape(name)}</h2><p><i>{html.escape(meta)}</i></p>")
        parts.append("<table><tr><th>key</th><th>value</th></tr>")
        for key, value in values.items():
            if key in ("machine", "mode", "date"):
                continue
            md.append(f"| `{key}` | {_fmt(value)} |")
            parts.append(f"<tr><td><code>{html.escape(key)}</code></td><td>{html.escape(_fmt(value))}</td></tr>")
        parts.append("</table>")
        for fig in figures:
            if fig.name.startswith(f"{name}__"):
                rel = os.path.relpath(fig, build_dir())
                md += ["", f"![{fig.stem}]({rel})"]
                data = base64.b64encode(fig.read_bytes()).decode("ascii")
                parts.append(f"<p><img alt='{html.escape(fig.stem)}' src='data:image/png;base64,{data}'></p>")
        md.append("")
    if not results:
        md.append("No results recorded yet: run `make run` first.")
        parts.append("<p>No results recorded yet: run <code>make run</code> first.</p>")
    html_path = build_dir() / "summary.html"
    atomic_write_text(html_path, "\n".join(parts) + "\n")
    atomic_write_text(build_dir() / "summary.md", "\n".join(md) + "\n")
    return html_path
