"""Generate ``labs/`` from ``solutions/``: the solutions are the single source of every lab.

In a solution notebook, the code a learner must write sits between two marker lines::

    def count_parameters(model):
        ### BEGIN SOLUTION
        return sum(p.numel() for p in model.parameters())
        ### END SOLUTION

The generated lab keeps everything else and replaces each marked block (markers included) with a
stub at the same indentation::

        # YOUR CODE HERE
        raise NotImplementedError("Exercise: implement count_parameters (see the instructions above).")

Markdown cells may hold marked blocks too (written answers); they become ``*Your answer here.*``.
Outputs are cleared in the lab. Cells whose first line is ``# CHECK`` are check cells: they pass on
the solution and, on the unsolved lab, fail with the stub's message or an assertion's hint.

Run ``python -m genai_lab.cli labs`` (or ``make labs``) after editing a solution; a test fails when
``labs/`` is stale.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from pathlib import Path

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
CHECK_PREFIX = "# CHECK"
STUB_COMMENT = "# YOUR CODE HERE"
MARKDOWN_STUB = "*Your answer here.*"
_DEF = re.compile(r"^(\s*)(?:async\s+)?def\s+([A-Za-z_][A-Za-z0-9_]*)|^(\s*)class\s+([A-Za-z_][A-Za-z0-9_]*)")


class MarkerError(ValueError):
    """A solution notebook's markers are malformed (nested, unmatched or unterminated)."""


@dataclass(frozen=True)
class Location:
    notebook: str
    cell: int

    def __str__(self) -> str:
        return f"{self.notebook}, cell {self.cell}"


def _enclosing_name(lines: list[str], index: int, indent: int) -> str | None:
    """The name of the def/class the marker sits in, for a precise stub message."""
    for line in reversed(lines[:index]):
        match = _DEF.match(line)
        if match:
            own_indent = len(match.group(1) if match.group(1) is not None else match.group(3))
            if own_indent < indent:
                return match.group(2) or match.group(4)
    return None


def strip_solution(source: str, where: Location, markdown: bool = False) -> str:
    """Replace every marked block in one cell's source with a stub. Raises :class:`MarkerError`."""
    lines = source.split("\n")
    out: list[str] = []
    begin_at: int | None = None
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if stripped.startswith(BEGIN):
            if begin_at is not None:
                raise MarkerError(
                    f"{where}, line {number}: nested '{BEGIN}' (the block opened on line "
                    f"{begin_at} is not closed). Close it with '{END}' first."
                )
            begin_at = number
            indent = len(line) - len(line.lstrip())
            pad = line[:indent]
            if markdown:
                out.append(pad + MARKDOWN_STUB)
            else:
                name = _enclosing_name(lines, number - 1, indent)
                what = f"implement {name}" if name else "write the code for this cell"
                out.append(pad + STUB_COMMENT)
                out.append(
                    pad + f'raise NotImplementedError("Exercise: {what} '
                    '(replace this line with your code; see the instructions above).")'
                )
        elif stripped.startswith(END):
            if begin_at is None:
                raise MarkerError(f"{where}, line {number}: '{END}' without a matching '{BEGIN}'.")
            begin_at = None
        elif begin_at is None:
            out.append(line)
    if begin_at is not None:
        raise MarkerError(f"{where}, line {begin_at}: '{BEGIN}' is never closed with '{END}'.")
    return "\n".join(out)


def is_check_cell(cell: dict) -> bool:
    return cell.get("cell_type") == "code" and "".join(cell.get("source", "")).lstrip().startswith(
        CHECK_PREFIX
    )


def make_lab(solution: dict, name: str = "notebook") -> dict:
    """The lab notebook (as nbformat JSON) generated from a solution notebook."""
    lab = copy.deepcopy(solution)
    found = 0
    for index, cell in enumerate(lab["cells"]):
        source = "".join(cell.get("source", ""))
        if BEGIN in source or END in source:
            found += 1
            cell["source"] = strip_solution(
                source, Location(name, index), markdown=cell["cell_type"] == "markdown"
            )
        else:
            cell["source"] = source
        if cell["cell_type"] == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
            cell.get("metadata", {}).pop("execution", None)
    if not found:
        raise MarkerError(f"{name}: no '{BEGIN}' block, so the lab would equal the solution.")
    # Only stable notebook metadata: executing the solution must not make the lab stale.
    lab["metadata"] = {
        "kernelspec": solution.get("metadata", {}).get(
            "kernelspec", {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
        ),
        "language_info": {"name": "python"},
    }
    lab["metadata"]["genai_lab"] = {
        "generated_from": f"solutions/{name}",
        "note": "Generated by `make labs`; edit the solution, not this file.",
    }
    return lab


def lab_text(solution_path: Path) -> str:
    """The exact text the lab file for ``solution_path`` must have."""
    import nbformat

    solution = nbformat.read(solution_path, as_version=4)
    lab = nbformat.from_dict(make_lab(solution, solution_path.name))
    return nbformat.writes(lab) + "\n"


def generate_labs(solutions_dir: Path, labs_dir: Path, check_only: bool = False) -> list[Path]:
    """Write (or, with ``check_only``, compare) every lab. Returns the labs that changed/are stale."""
    from genai_lab.results import atomic_write_text

    changed = []
    solutions = sorted(solutions_dir.glob("*.ipynb"))
    expected = {labs_dir / s.name for s in solutions}
    for solution in solutions:
        target = labs_dir / solution.name
        text = lab_text(solution)
        current = target.read_text(encoding="utf-8") if target.exists() else None
        if current != text:
            changed.append(target)
            if not check_only:
                atomic_write_text(target, text)
    for orphan in sorted(set(labs_dir.glob("*.ipynb")) - expected):
        changed.append(orphan)
        if not check_only:
            orphan.unlink()
    return changed
