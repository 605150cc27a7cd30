"""Tables for notebooks and scripts, through ``tabulate``: the package's one table printer.

``markdown_table`` renders rows of dicts as a GitHub-flavoured Markdown table (any tabulate format
via ``fmt``); ``show_table`` displays it rendered in Jupyter and as text elsewhere.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from tabulate import tabulate


def _cell(value: Any, floatfmt: str) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return "-" if math.isnan(value) else format(value, floatfmt)
    if isinstance(value, int):
        return f"{value:,}"
    return str(value).replace("|", "\\|")


def markdown_table(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str] | None = None,
    floatfmt: str = ".3f",
    formats: Mapping[str, str] | None = None,
    fmt: str = "github",
) -> str:
    """A table of ``rows`` (dicts). ``columns`` picks and orders the keys (default: every key, in
    order of first appearance); ``formats`` overrides ``floatfmt`` per column, e.g.
    ``{"qps": ",.0f"}``; a missing value or NaN prints as ``-``."""
    if not rows:
        return "(no rows)"
    if columns is None:
        seen: dict[str, None] = {}
        for row in rows:
            seen.update(dict.fromkeys(row))
        columns = list(seen)
    per_column = dict(formats or {})
    body = [[_cell(row.get(c), per_column.get(c, floatfmt)) for c in columns] for row in rows]
    return str(tabulate(body, headers=list(columns), tablefmt=fmt, disable_numparse=True))


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
