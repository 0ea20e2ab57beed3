"""Cells and search: the atlas summary, the cell listing (facets, ranges, sort, paging), one
cell, its QC, and the column-wise data of the Cell Feature Search page.

Its router holds the catch-all ``/cells/{cell_id:path}``, so it is included after every router
with a ``/cells/{cell_id:path}/...`` route.
"""

from __future__ import annotations

import gzip
import hashlib
import math
from pathlib import Path
from typing import Annotated

import pandas as pd
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response

from patchatlas.atlas import AtlasError
from patchatlas.atlas import portal as Q
from patchatlas.web.api._common import (
    CellPageOut,
    Limit,
    Offset,
    Portal,
    cell_name,
    json_response,
    page,
)
from patchatlas.web.service import AVAILABILITY, PortalData, Snapshot, records

__all__ = ["failure_message", "router"]

router = APIRouter()


def failure_message(n_failed: int, atlas_url: str) -> str | None:
    """What the portal says about recorded ingest failures (None when there are none).

    Parameters
    ----------
    n_failed
        Files whose cells failed to ingest.
    atlas_url
        The atlas URL as shown to users (password hidden).

    Returns
    -------
    str or None
    """
    if n_failed <= 0:
        return None
    files = "file" if n_failed == 1 else "files"
    return (
        f"{n_failed} {files} failed to ingest; list them with `patchatlas atlas errors {atlas_url}`"
    )


@router.get("/atlas", tags=["atlas"])
def atlas_summary(request: Request, p: Portal) -> Response:
    """Atlas URL (password hidden), schema revision, row counts, data version, and the ingest
    failures recorded (``ingest_failures``: how many files failed, a message saying how to list
    them, the latest ingest run)."""
    settings = request.app.state.settings
    summary = p.atlas.summary()
    summary["data_version"] = p.snapshot().etag
    summary["writable"] = settings.token is not None
    failures = Q.ingest_failures(p.atlas)
    last = failures["last_run"]
    if last is not None and last.get("source"):
        last["source"] = Path(str(last["source"])).name  # no server paths
    failures["message"] = failure_message(failures["n_failed"], settings.atlas_url)
    summary["ingest_failures"] = failures
    return json_response(request, summary)


def _parse_ranges(ranges: list[str]) -> dict[str, tuple[float | None, float | None]]:
    out: dict[str, tuple[float | None, float | None]] = {}
    for r in ranges:
        name, sep, span = r.rpartition(":")
        lo_s, sep2, hi_s = span.partition("..")
        if not sep or not sep2 or not name:
            raise HTTPException(400, f"range {r!r}: write it as FEATURE:LOW..HIGH (either empty)")
        try:
            lo = float(lo_s) if lo_s.strip() else None
            hi = float(hi_s) if hi_s.strip() else None
        except ValueError as exc:
            raise HTTPException(400, f"range {r!r}: bounds must be numbers") from exc
        if (lo is not None and not math.isfinite(lo)) or (hi is not None and not math.isfinite(hi)):
            raise HTTPException(400, f"range {r!r}: bounds must be finite")
        out[name] = (lo, hi)
    return out


def _sorted(
    p: PortalData, snap: Snapshot, df: pd.DataFrame, sort: str | None, desc: bool
) -> pd.DataFrame:
    if not sort or sort == "cell_id":
        return df.sort_index(ascending=not desc)
    if sort in df.columns:
        key = df[sort]
    else:
        try:
            key = p.feature_column(snap, sort).reindex(df.index)
        except AtlasError as exc:
            raise HTTPException(400, str(exc)) from exc
    order = key.sort_values(ascending=not desc, na_position="last", kind="stable").index
    return df.loc[order]


@router.get("/cells", tags=["cells"], response_model=CellPageOut)
def list_cells(
    request: Request,
    p: Portal,
    species: Annotated[list[str], Query(default_factory=list)],
    region: Annotated[list[str], Query(default_factory=list)],
    layer: Annotated[list[str], Query(default_factory=list)],
    cre_line: Annotated[list[str], Query(default_factory=list)],
    dendrite_type: Annotated[list[str], Query(default_factory=list)],
    t_type_family: Annotated[list[str], Query(default_factory=list)],
    dataset: Annotated[list[str], Query(default_factory=list)],
    has_sweeps: bool | None = None,
    has_ephys: bool | None = None,
    has_morphology: bool | None = None,
    has_transcriptome: bool | None = None,
    has_model: bool | None = None,
    range: Annotated[
        list[str] | None,
        Query(description="numerical filter FEATURE:LOW..HIGH (inclusive; repeatable)"),
    ] = None,
    q: Annotated[str | None, Query(max_length=200, description="text in name/t-type")] = None,
    sort: Annotated[str | None, Query(max_length=200)] = None,
    desc: bool = False,
    features: Annotated[
        list[str] | None, Query(description="feature columns to include in each row")
    ] = None,
    offset: Offset = 0,
    limit: Limit = 100,
) -> Response:
    """Cells with their annotations, filtered by facets and feature ranges, sorted and paged.

    Facet parameters take several values (any of them matches); ``(unknown)`` matches a missing
    value. The response carries the facet counts of the whole filtered selection.
    """
    snap = p.snapshot()
    local = {
        "species": species,
        "region": region,
        "layer": layer,
        "cre_line": cre_line,
        "dendrite_type": dendrite_type,
        "t_type_family": t_type_family,
        "dataset": dataset,
    }
    filters: dict[str, list[str]] = {k: v for k, v in local.items() if v}
    flags = {
        "has_sweeps": has_sweeps,
        "has_ephys": has_ephys,
        "has_morphology": has_morphology,
        "has_transcriptome": has_transcriptome,
        "has_model": has_model,
    }
    for k, v in flags.items():
        if v is not None:
            filters[k] = [str(v).lower()]
    try:
        mask = p.filter_mask(snap, filters, ranges=_parse_ranges(range or []), query=q)
    except AtlasError as exc:
        raise HTTPException(400, str(exc)) from exc
    df = _sorted(p, snap, snap.cells[mask], sort, desc)
    rows = df.iloc[offset : offset + limit].copy()
    for name in features or []:
        try:
            rows[name] = p.feature_column(snap, name).reindex(rows.index)
        except AtlasError as exc:
            raise HTTPException(400, str(exc)) from exc
    out = page(len(df), offset, limit, records(rows.reset_index()))
    out["facets"] = p.facet_counts(snap, mask)
    return json_response(request, out)


@router.get("/cells/{cell_id:path}/qc", tags=["cells"])
def cell_qc(request: Request, p: Portal, cell_id: str) -> Response:
    """A cell's QC checks (sweep, check, passed, value, message)."""
    name = cell_name(p, cell_id)
    return json_response(request, {"cell_id": name, "qc": records(Q.qc(p.atlas, name))})


@router.get("/cells/{cell_id:path}", tags=["cells"])
def one_cell(request: Request, p: Portal, cell_id: str) -> Response:
    """Everything stored about one cell: annotations, donor, files, counts, data availability,
    annotations added through the portal."""
    name = cell_name(p, cell_id)
    info = p.atlas.cell(name)
    info.pop("content_key", None)
    for f in info.get("files", []):
        f["path"] = Path(str(f["path"])).name
    snap = p.snapshot()
    if name in snap.cells.index:
        row = snap.cells.loc[name]
        info["t_type_family"] = row["t_type_family"]
        for k in AVAILABILITY:
            info[k] = bool(row[k])
    meta = info.get("metadata") or {}
    info["annotations"] = meta.get(Q.ANNOTATIONS_KEY, {}) if isinstance(meta, dict) else {}
    return json_response(request, info)


@router.get("/search", tags=["cells"])
def search_data(request: Request, p: Portal) -> Response:
    """Column-wise data behind the Cell Feature Search page (facets, availability, cell-level
    numerical features of every cell)."""
    snap = p.snapshot()
    body = p.search_payload(snap)
    if "gzip" not in request.headers.get("accept-encoding", ""):
        return json_response(request, body)
    # the payload is large (all cells): send it compressed once per data version
    gz: bytes = snap.memo("search.gz", lambda: gzip.compress(body, 6))
    etag = '"' + hashlib.sha1(body).hexdigest()[:20] + '-gz"'
    headers = {
        "ETag": etag,
        "Cache-Control": "public, max-age=0, must-revalidate",
        "Vary": "Accept-Encoding",
    }
    inm = request.headers.get("if-none-match")
    if inm and etag in [t.strip() for t in inm.split(",")]:
        return Response(status_code=304, headers=headers)
    headers["Content-Encoding"] = "gzip"
    return Response(gz, media_type="application/json", headers=headers)


@router.get("/search/values", tags=["cells"])
def search_values(
    request: Request,
    p: Portal,
    names: Annotated[list[str], Query(min_length=1, max_length=50)],
) -> Response:
    """Values of numerical features in the cell order of ``/api/search`` (for the features that
    ``/api/search`` lists but does not include)."""
    snap = p.snapshot()
    try:
        values = p.feature_values(snap, names)
    except AtlasError as exc:
        raise HTTPException(400, str(exc)) from exc
    return json_response(request, {"version": snap.etag, "values": values})
