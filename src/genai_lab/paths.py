"""Where things live. Every location can be overridden by an environment variable."""

from __future__ import annotations

import os
from pathlib import Path

ROOT_ENV = "GENAI_LAB_ROOT"
CACHE_ENV = "GENAI_LAB_CACHE"
BENCHMARKS_ENV = "GENAI_LAB_BENCHMARKS"
RESULTS_ENV = "GENAI_LAB_RESULTS"


def _looks_like_repo(path: Path) -> bool:
    pyproject = path / "pyproject.toml"
    return pyproject.is_file() and 'name = "genai-lab"' in pyproject.read_text(encoding="utf-8")


def repo_root() -> Path:
    """The course repository: ``$GENAI_LAB_ROOT``, else the checkout this package was installed from,
    else the nearest parent of the working directory that holds the course's ``pyproject.toml``."""
    if env := os.environ.get(ROOT_ENV):
        return Path(env).resolve()
    here = Path(__file__).resolve()
    for candidate in [*here.parents, Path.cwd().resolve(), *Path.cwd().resolve().parents]:
        if _looks_like_repo(candidate):
            return candidate
    raise FileNotFoundError(
        "Cannot find the course repository (a folder whose pyproject.toml names 'genai-lab'). "
        f"Run from inside the checkout, or set {ROOT_ENV}=/path/to/the/checkout."
    )


def data_dir() -> Path:
    """Data the course writes itself (the company knowledge base, small labelled sets)."""
    return repo_root() / "data"


def build_dir() -> Path:
    """Generated output that is never committed: executed notebooks, the summary, scratch files."""
    return repo_root() / "build"


def cache_dir() -> Path:
    """Large derived files kept outside git: converted models, embedding caches.

    ``$GENAI_LAB_CACHE``, default ``~/.cache/genai-lab``. Safe to delete; it is rebuilt on demand.
    """
    path = Path(os.environ.get(CACHE_ENV, Path.home() / ".cache" / "genai-lab")).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def results_dir() -> Path:
    """Where notebooks record their measured figures.

    Full-mode runs write the committed ``results/``; fast-mode runs (CI, quick checks) write
    ``build/results-fast/`` so that they never overwrite the committed full-mode figures.
    ``$GENAI_LAB_RESULTS`` overrides both.
    """
    from genai_lab.runtime import fast_mode

    if env := os.environ.get(RESULTS_ENV):
        path = Path(env)
    elif fast_mode():
        path = build_dir() / "results-fast"
    else:
        path = repo_root() / "results"
    path.mkdir(parents=True, exist_ok=True)
    return path


def benchmarks_dir(required: bool = False) -> Path | None:
    """The folder of public benchmarks (``scifact/``, ``sst2/``), as the user points to it.

    ``$GENAI_LAB_BENCHMARKS`` if set (``make`` sets it from ``BENCHMARKS=...``), else
    ``../shared/benchmarks`` beside the checkout, the layout CI uses. Returns ``None`` when the folder
    is absent, unless ``required`` is true, in which case the error says how to point to it.
    """
    env = os.environ.get(BENCHMARKS_ENV)
    path = Path(env).expanduser() if env else repo_root().parent / "shared" / "benchmarks"
    if path.is_dir():
        return path.resolve()
    if required:
        raise FileNotFoundError(
            f"Benchmark folder not found: {path}. Point to it with "
            f"{BENCHMARKS_ENV}=/path/to/benchmarks (or `make run BENCHMARKS=/path/to/benchmarks`); "
            "it holds scifact/ and sst2/ as described in the README."
        )
    return None


def benchmark(name: str, required: bool = False) -> Path | None:
    """One benchmark's folder, e.g. ``benchmark("sst2")``; ``None`` when absent (see
    :func:`benchmarks_dir`)."""
    root = benchmarks_dir(required=required)
    if root is None:
        return None
    path = root / name
    if path.is_dir():
        return path
    if required:
        raise FileNotFoundError(
            f"Benchmark {name!r} not found in {root}; expected a folder {path}."
        )
    return None
