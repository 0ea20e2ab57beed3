"""Private seam of :mod:`patchatlas.ephys`: analysis notes (filter lowered, non-uniform sampling,
duplicate time stamps ...) raised deep in the detection path.

Outside an analysis, :func:`note` is :func:`warnings.warn`. Inside :func:`collecting` (what
:func:`patchatlas.ephys.analyze` and the cell analysis use), notes are gathered in a context
variable instead, so that a recording reports each distinct note once (and records it in its
provenance) — without touching the process-wide warning filters, which is unsafe under the web
server's threads and on Dask workers.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from contextvars import ContextVar

__all__ = ["collecting", "collecting_here", "distinct", "note"]

_SINK: ContextVar[list[tuple[type[Warning], str]] | None] = ContextVar("_SINK", default=None)


def note(message: str, category: type[Warning], *, stacklevel: int = 2) -> None:
    """Report a note: collected when inside :func:`collecting`, else a warning."""
    sink = _SINK.get()
    if sink is None:
        warnings.warn(message, category, stacklevel=stacklevel + 1)
    else:
        sink.append((category, message))


@contextlib.contextmanager
def collecting() -> Iterator[list[tuple[type[Warning], str]]]:
    """Collect the notes raised inside the block (``(category, message)`` in order)."""
    sink: list[tuple[type[Warning], str]] = []
    token = _SINK.set(sink)
    try:
        yield sink
    finally:
        _SINK.reset(token)


@contextlib.contextmanager
def collecting_here() -> Iterator[list[tuple[type[Warning], str]] | None]:
    """Collect here unless an enclosing block already collects: yields the list when this is
    the outermost collector (the caller then reports the notes), else None."""
    if _SINK.get() is not None:
        yield None
        return
    with collecting() as sink:
        yield sink


def distinct(notes: list[tuple[type[Warning], str]]) -> list[tuple[type[Warning], str]]:
    """The notes without repeats, in first-seen order."""
    seen: set[tuple[type[Warning], str]] = set()
    out = []
    for n in notes:
        if n not in seen:
            seen.add(n)
            out.append(n)
    return out
