"""What the API's routers share: the portal dependency, JSON answers with ETags, paging, the
error responses, cell-name resolution and sweep loading.

This is the private seam of :mod:`patchatlas.web.api`; its routers import from here and nothing
else in the package imports it.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
from fastapi import Depends, HTTPException, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel

from patchatlas.atlas import AtlasError
from patchatlas.atlas import portal as Q
from patchatlas.errors import PatchAtlasError
from patchatlas.web.service import PortalData, to_jsonable

__all__ = [
    "ERRORS",
    "MAX_LIMIT",
    "WRITE_ERRORS",
    "CellPageOut",
    "Limit",
    "Message",
    "Offset",
    "PageOut",
    "Portal",
    "cell_name",
    "dumps",
    "json_response",
    "load_sweep",
    "page",
    "portal",
    "sweep_row",
]

MAX_LIMIT = 1000


class Message(BaseModel):
    """An error message."""

    detail: str


ERRORS: dict[int | str, dict[str, Any]] = {
    304: {"description": "Not modified (the If-None-Match ETag matched)"},
    400: {"model": Message, "description": "Bad request (unknown feature, bad range ...)"},
    404: {"model": Message, "description": "No such cell, sweep, pair or file"},
}
WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Message, "description": "Missing or wrong token"},
    403: {"model": Message, "description": "Read-only portal (no --token-file)"},
    409: {"model": Message, "description": "A file of that name exists already"},
    413: {"model": Message, "description": "Upload larger than the limit"},
    415: {"model": Message, "description": "File type not accepted"},
}


def portal(request: Request) -> PortalData:
    """The app's :class:`~patchatlas.web.service.PortalData`.

    Parameters
    ----------
    request
        The request (its app holds the portal).

    Returns
    -------
    PortalData
    """
    p: PortalData = request.app.state.portal
    return p


Portal = Annotated[PortalData, Depends(portal)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="rows per page")]
Offset = Annotated[int, Query(ge=0, le=10**9, description="first row")]


class PageOut(BaseModel):
    """A page of rows."""

    total: int
    offset: int
    limit: int
    next_offset: int | None
    items: list[dict[str, Any]]


class CellPageOut(PageOut):
    """A page of cells with the facet counts of the whole selection."""

    facets: dict[str, dict[str, int]]


def dumps(data: Any) -> bytes:
    """Compact JSON of ``data`` (NaN → null, numpy → Python).

    Parameters
    ----------
    data
        Plain data (dicts, lists, numbers, strings, numpy values).

    Returns
    -------
    bytes
    """
    return json.dumps(to_jsonable(data), separators=(",", ":"), allow_nan=False).encode()


def json_response(request: Request, data: Any, *, max_age: int = 0) -> Response:
    """JSON with a content ETag; answers 304 when the client's ``If-None-Match`` matches.

    Parameters
    ----------
    request
        The request (for ``If-None-Match``).
    data
        The answer (plain data, or JSON bytes).
    max_age
        ``Cache-Control`` max-age (s).

    Returns
    -------
    fastapi.responses.Response
    """
    body = data if isinstance(data, bytes) else dumps(data)
    etag = '"' + hashlib.sha1(body).hexdigest()[:20] + '"'
    headers = {"ETag": etag, "Cache-Control": f"public, max-age={max_age}, must-revalidate"}
    inm = request.headers.get("if-none-match")
    if inm and etag in [t.strip() for t in inm.split(",")]:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


def page(total: int, offset: int, limit: int, items: list[dict[str, Any]]) -> dict[str, Any]:
    """One page of a listing (see :class:`PageOut`).

    Parameters
    ----------
    total
        Rows in the whole listing.
    offset, limit
        The page asked for.
    items
        Its rows.

    Returns
    -------
    dict
    """
    nxt = offset + limit if offset + limit < total else None
    return {"total": total, "offset": offset, "limit": limit, "next_offset": nxt, "items": items}


def cell_name(p: PortalData, cell_id: str) -> str:
    """The stored name of ``cell_id``.

    Parameters
    ----------
    p
        The portal.
    cell_id
        Cell name (or database id as text).

    Returns
    -------
    str

    Raises
    ------
    fastapi.HTTPException
        404 when the atlas has no such cell.
    """
    snap = p.snapshot()
    if cell_id in snap.cells.index:
        return cell_id
    try:
        return Q.cell_name(p.atlas, cell_id)
    except AtlasError as exc:
        raise HTTPException(404, str(exc)) from exc


def sweep_row(p: PortalData, cell_id: str, index: int) -> tuple[str, pd.Series]:
    """A cell's name and the row of its sweep table at position ``index``.

    Parameters
    ----------
    p
        The portal.
    cell_id
        Cell name.
    index
        Row of the sweep in ``/cells/{cell_id}/sweeps``.

    Returns
    -------
    name : str
    row : pandas.Series
        ``number``, ``recording_id``, ``kind``, ``path`` ... of the sweep.

    Raises
    ------
    fastapi.HTTPException
        404 for an unknown cell or sweep.
    """
    name = cell_name(p, cell_id)
    table = p.atlas.sweeps(name).table.reset_index(drop=True)
    if not 0 <= index < len(table):
        raise HTTPException(404, f"cell {name!r} has {len(table)} sweeps; no index {index}")
    return name, table.iloc[index]


def load_sweep(p: PortalData, name: str, index: int, row: pd.Series) -> Any:
    """The trace of a sweep, read (through the portal's cache) from its source file.

    Parameters
    ----------
    p
        The portal.
    name
        Cell name (for messages).
    index
        Row of the sweep in the cell's sweep table (for messages).
    row
        Its row, from :func:`sweep_row`.

    Returns
    -------
    patchatlas.core.Sweep

    Raises
    ------
    fastapi.HTTPException
        404 when the sweep has no source file or the file is gone; 500 when it cannot be read.
    """
    path = row["path"]
    if path is None or (isinstance(path, float) and math.isnan(path)):
        raise HTTPException(404, f"cell {name!r}: sweep {index} has no source file")
    if not Path(str(path)).is_file():
        raise HTTPException(
            404, f"cell {name!r}: the source file {Path(str(path)).name} of sweep {index} is gone"
        )
    try:
        return p.recording(str(path)).sweep(int(row["number"]))
    except (PatchAtlasError, OSError) as exc:  # unreadable source: say why
        raise HTTPException(500, f"cell {name!r}: reading sweep {index} failed: {exc}") from exc
