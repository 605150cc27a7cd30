"""Insert the Korean learning goals (docs/ko_goals.json) into each lecture notebook's first cell.

The goals go in as a "**학습 목표**" list right after the English "**Learning goals**" list of the
notebook's first markdown cell. Running it again changes nothing; if the JSON changed, the Korean list
is replaced. Only the first cell is rewritten; every other cell and all outputs are kept::

    .venv/bin/python scripts/add_korean_goals.py            # every notebook in notebooks/
    .venv/bin/python scripts/add_korean_goals.py 10 34      # only notebooks whose names start so
    .venv/bin/python scripts/add_korean_goals.py --check    # exit 1 if a notebook would change
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOALS_JSON = ROOT / "docs" / "ko_goals.json"
ENGLISH_HEADING = "**Learning goals**"
KOREAN_HEADING = "**학습 목표**"


def load_goals(path: Path = GOALS_JSON) -> dict[str, list[str]]:
    """``{notebook stem: [Korean goal, ...]}`` from ``docs/ko_goals.json``, checked."""
    goals = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(goals, dict):
        raise ValueError(f"{path} must hold one object: notebook stem -> list of Korean goals.")
    for stem, items in goals.items():
        if not isinstance(items, list) or not items or not all(isinstance(g, str) and g.strip() for g in items):
            raise ValueError(f"{path}: {stem!r} must map to a non-empty list of non-empty strings.")
        if any("\n" in g for g in items):
            raise ValueError(f"{path}: {stem!r} has a goal with a line break; write each goal on one line.")
    return goals


def list_block(lines: list[str], heading: str) -> tuple[int, int, list[str]] | None:
    """Find the bullet list under ``heading``: ``(heading line, end line (exclusive), items)``.

    An item starts with ``- `` and continues on indented lines; the list ends at the first other line.
    Returns None when the heading is absent."""
    starts = [i for i, line in enumerate(lines) if line.strip() == heading]
    if not starts:
        return None
    start = starts[0]
    items: list[str] = []
    end = start + 1
    while end < len(lines):
        line = lines[end]
        if line.startswith("- "):
            items.append(line[2:].strip())
        elif items and line.startswith("  ") and line.strip():
            items[-1] += " " + line.strip()
        else:
            break
        end += 1
    return start, end, items


def korean_goals_in(text: str) -> list[str] | None:
    """The Korean goals of a first cell, or None when it has no "학습 목표" list."""
    block = list_block(text.split("\n"), KOREAN_HEADING)
    return None if block is None else block[2]


def with_korean_goals(text: str, goals: list[str], name: str = "notebook") -> str:
    """``text`` (a first cell) with ``goals`` as the "학습 목표" list after the English goals."""
    lines = text.split("\n")
    old = list_block(lines, KOREAN_HEADING)
    if old is not None:  # replace: drop the old list and the blank line before it
        start, end, _ = old
        if start > 0 and not lines[start - 1].strip():
            start -= 1
        del lines[start:end]
    english = list_block(lines, ENGLISH_HEADING)
    if english is None or not english[2]:
        raise ValueError(
            f"{name}: its first cell has no '{ENGLISH_HEADING}' list; add the English goals first "
            "(CONTRIBUTING.md, 'The shape of a notebook')."
        )
    end = english[1]
    block = ["", KOREAN_HEADING] + [f"- {g}" for g in goals]
    return "\n".join(lines[:end] + block + lines[end:])


def update_notebook(path: Path, goals: dict[str, list[str]], write: bool = True) -> bool:
    """Put the Korean goals into ``path``'s first cell; True if the notebook changed (or would)."""
    import nbformat

    if path.stem not in goals:
        raise KeyError(f"{path.name} has no entry in {GOALS_JSON.relative_to(ROOT)}; add its Korean goals there.")
    nb = nbformat.read(path, as_version=4)
    cell = nb.cells[0] if nb.cells else None
    if cell is None or cell.cell_type != "markdown":
        raise ValueError(f"{path.name}: the first cell must be the markdown title with the learning goals.")
    new = with_korean_goals(cell.source, goals[path.stem], path.name)
    if new == cell.source:
        return False
    if write:
        cell.source = new
        nbformat.write(nb, path)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", help="only notebooks whose names start with these")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a notebook would change")
    args = parser.parse_args(argv)
    goals = load_goals()
    paths = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if args.names:
        paths = [p for p in paths if any(p.stem.startswith(n) for n in args.names)]
        if not paths:
            print(f"No notebook in notebooks/ starts with any of {args.names}.", file=sys.stderr)
            return 2
    changed = [p for p in paths if update_notebook(p, goals, write=not args.check)]
    for path in changed:
        print(("would update: " if args.check else "updated: ") + str(path.relative_to(ROOT)))
    if not changed:
        print(f"{len(paths)} notebooks already carry their Korean goals.")
    return 1 if args.check and changed else 0


if __name__ == "__main__":
    sys.exit(main())
