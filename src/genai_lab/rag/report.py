"""Small tables for notebooks, without pandas: rows of dicts rendered as Markdown."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def _cell(value: Any, floatfmt: str) -> str:
    if isinstance(value, bool) or value is None:
        return "-" if value is None else str(value)
    if isinstance(value, float):
        return "-" if value != value else format(value, floatfmt)  # NaN -> "-"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value).replace("|", "\\|")


def markdown_table(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str] | None = None,
    floatfmt: str = ".3f",
    formats: Mapping[str, str] | None = None,
) -> str:
    """A Markdown table of ``rows`` (dicts); ``columns`` picks and orders them (default: the first
    row's keys); ``formats`` overrides ``floatfmt`` per column, e.g. ``{"qps": ",.0f"}``."""
    if not rows:
        return "(no rows)"
    columns = list(columns or rows[0].keys())
    formats = dict(formats or {})
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        cells = [_cell(row.get(c), formats.get(c, floatfmt)) for c in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def show_table(rows: Sequence[Mapping[str, Any]], **kwargs: Any) -> None:
    """Display :func:`markdown_table` as rendered Markdown in Jupyter, as text elsewhere."""
    text = markdown_table(rows, **kwargs)
    try:
        from IPython import get_ipython
        from IPython.display import Markdown, display

        if get_ipython() is not None:
            display(Markdown(text))
            return
    except ImportError:  # pragma: no cover
        pass
    print(text)
