"""The results recorder: every figure a notebook measures lands in ``results/<notebook>.json``.

The file is one flat JSON object of dotted keys to numbers or short strings, plus ``machine``,
``mode`` and ``date``. Keys are the contract between the notebooks, the ``build/`` summary and the
issue tracker (each part of the course names the keys it records)::

    rec = Recorder("00_setup")
    rec.record("setup.cosine_similarity", 0.61)
    rec.save_figure(fig, "similarity")

Each ``record`` call rewrites the file at once (write, then rename), so a notebook that dies halfway
keeps what it measured so far. Figures are saved beside it as ``results/figures/<notebook>__<name>.png``.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from genai_lab.paths import results_dir
from genai_lab.runtime import machine_description, mode_name

META_KEYS = ("machine", "mode", "date")
_KEY = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_\-]+)+$")
MAX_STRING = 200

Value = int | float | str | bool


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file and a rename, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _check(key: str, value: Any) -> Value:
    if not _KEY.match(key):
        raise ValueError(
            f"Result key {key!r} is not a dotted lower-case key such as 'setup.cosine_similarity'."
        )
    if isinstance(value, bool) or isinstance(value, int | str):
        pass
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"Result {key!r} is {value}; record only finite numbers.")
    elif hasattr(value, "item"):  # numpy / torch scalars
        return _check(key, value.item())
    else:
        raise TypeError(f"Result {key!r} must be a number or a short string, not {type(value).__name__}.")
    if isinstance(value, str) and len(value) > MAX_STRING:
        raise ValueError(f"Result {key!r} is a {len(value)}-character string; keep it under {MAX_STRING}.")
    return value


class Recorder:
    """Records one notebook's measured figures (see the module docstring)."""

    def __init__(self, notebook: str, directory: Path | None = None) -> None:
        if not re.fullmatch(r"[A-Za-z0-9_\-]+", notebook):
            raise ValueError(f"Notebook name {notebook!r} must be a plain file stem like '00_setup'.")
        self.notebook = notebook
        self.directory = directory if directory is not None else results_dir()
        self.path = self.directory / f"{notebook}.json"
        self.values: dict[str, Value] = {}
        self.meta = {
            "machine": machine_description(),
            "mode": mode_name(),
            "date": _dt.date.today().isoformat(),
        }

    @property
    def display_path(self) -> str:
        """The results file as a reader should see it: relative to the repository when it is inside it
        (``results/00_setup.json``), so a committed notebook shows no build machine's directories."""
        from genai_lab.paths import repo_root

        try:
            return self.path.resolve().relative_to(repo_root().resolve()).as_posix()
        except (ValueError, FileNotFoundError):  # outside the checkout, or no checkout: the full path
            return str(self.path)

    def record(self, key: str, value: Any) -> Value:
        """Record one figure and save the file; returns the value so it can be printed inline."""
        self.values[key] = _check(key, value)
        self.save()
        return self.values[key]

    def update(self, values: dict[str, Any]) -> None:
        for key, value in values.items():
            self.values[key] = _check(key, value)
        self.save()

    def save(self) -> Path:
        payload = {**dict(sorted(self.values.items())), **self.meta}
        atomic_write_text(self.path, json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
        return self.path

    def save_figure(self, fig: Any, name: str) -> Path:
        """Save a matplotlib figure beside the results; the ``build/`` summary shows it."""
        if not re.fullmatch(r"[A-Za-z0-9_\-]+", name):
            raise ValueError(f"Figure name {name!r} must be a plain name like 'rank_sweep'.")
        path = self.directory / "figures" / f"{self.notebook}__{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=110, bbox_inches="tight")
        return path


def load_results(directory: Path | None = None) -> dict[str, dict[str, Value]]:
    """All recorded results files, by notebook name, in notebook order."""
    directory = directory if directory is not None else results_dir()
    out: dict[str, dict[str, Value]] = {}
    for path in sorted(directory.glob("*.json")):
        out[path.stem] = json.loads(path.read_text(encoding="utf-8"))
    return out
