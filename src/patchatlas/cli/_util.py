"""Small helpers shared by CLI modules (formatting only; no science here)."""

from __future__ import annotations

import math
from typing import Any

from rich.console import Console
from rich.table import Table


def console() -> Console:
    """A console that writes to stdout without colour codes when piped."""
    con = Console(highlight=False, soft_wrap=False)
    if not con.is_terminal:
        con.width = max(con.width, 160)
    return con


def fmt(x: Any, digits: int = 4) -> str:
    """Compact number formatting for tables (NaN → '–')."""
    if isinstance(x, float):
        if math.isnan(x):
            return "–"
        return f"{x:.{digits}g}"
    return str(x)


def table(title: str, columns: list[str], rows: list[list[Any]]) -> Table:
    """A rich table with the given columns and rows (values formatted with :func:`fmt`)."""
    t = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
    for c in columns:
        t.add_column(c, justify="right" if c not in ("kind", "clamp", "stimulus") else "left")
    for r in rows:
        t.add_row(*[fmt(v) for v in r])
    return t


def frame_table(title: str, frame: Any, *, index_name: str | None = None) -> Table:
    """A rich table of a pandas DataFrame (index as the first column)."""
    cols = [index_name or str(frame.index.name or "")] + [str(c) for c in frame.columns]
    rows = [
        [idx, *row] for idx, row in zip(frame.index, frame.itertuples(index=False), strict=True)
    ]
    return table(title, cols, rows)
