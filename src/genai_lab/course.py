"""Run the course headless, in order, and write the one-page summary of what it measured.

``make run`` calls :func:`run_course`: every notebook in ``notebooks/`` is executed in a fresh kernel
(full mode unless ``GENAI_LAB_FAST=1``), the executed copies go to ``build/notebooks/``, the wall time
of each goes to ``build/runtimes.json``, and :func:`write_summary` turns ``results/*.json`` and
``results/figures/*.png`` into the results page, ``build/summary.html`` and ``build/summary.md``: the
headline figures of each part first (defined in ``data/results_page.json``; see
:mod:`genai_lab.course_headlines` and :mod:`genai_lab.course_page`), every recorded key below.
"""

from __future__ import annotations

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


def write_summary(
    results: Path | None = None, out: Path | None = None, spec: Path | None = None
) -> Path:
    """Write the results page: ``build/summary.html`` (self-contained, figures embedded) and
    ``build/summary.md``, from ``results/*.json`` and ``results/figures/*.png`` (or ``results``), with
    the headlines of ``data/results_page.json`` (or ``spec``) first; ``out`` overrides ``build/``."""
    from genai_lab.course_headlines import load_spec
    from genai_lab.course_page import render_html, render_markdown

    results = results or results_dir()
    out = out or build_dir()
    page = load_spec(spec)
    recorded = load_results(results)
    figures = results / "figures"
    runtimes_path = out / "runtimes.json"
    runtimes = json.loads(runtimes_path.read_text()) if runtimes_path.exists() else {}
    html_path = out / "summary.html"
    atomic_write_text(html_path, render_html(page, recorded, figures, runtimes))
    link_base = os.path.relpath(figures, out) + "/"
    atomic_write_text(out / "summary.md", render_markdown(page, recorded, figures, link_base))
    return html_path
