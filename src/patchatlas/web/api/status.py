"""Ingest status and provenance: the datasets of the atlas (with citation and licence), the
ingest runs, the files that failed with their reasons (what ``patchatlas atlas errors``
prints), and every provenance record (engine, version, parameters) with what points at it.

Server paths are never sent: files are named by their base name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from patchatlas.atlas import portal as Q
from patchatlas.web.api._common import Portal, json_response
from patchatlas.web.service import records

__all__ = ["router", "strip_paths"]

router = APIRouter()


def strip_paths(value: Any) -> Any:
    """``value`` with every string that is an absolute path reduced to its base name
    (recursively in dicts and lists).

    Parameters
    ----------
    value
        Plain data.

    Returns
    -------
    Any
    """
    if isinstance(value, dict):
        return {k: strip_paths(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [strip_paths(v) for v in value]
    if isinstance(value, str) and (value.startswith("/") or value[1:3] == ":\\"):
        return Path(value).name
    return value


@router.get("/datasets", tags=["status"])
def datasets(request: Request, p: Portal) -> Response:
    """The datasets of the atlas: cells, title, citation, DOI, licence, upstream location,
    tables and import time."""
    snap = p.snapshot()
    info = p.dataset_info(snap)
    return json_response(request, {"datasets": strip_paths(info)})


@router.get("/ingest/runs", tags=["status"])
def ingest_runs(
    request: Request, p: Portal, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> Response:
    """The latest ingest runs, newest first: source folder (base name), start and end,
    cells done / skipped / failed, parameters and package version."""
    runs = Q.ingest_runs(p.atlas, limit=limit)
    return json_response(request, {"runs": strip_paths(records(runs))})


@router.get("/ingest/errors", tags=["status"])
def ingest_errors(request: Request, p: Portal) -> Response:
    """The files whose cells currently fail to ingest, with stage, error type and reason
    (``patchatlas atlas errors``)."""
    from patchatlas.web.app import public_message

    df = p.atlas.errors()
    out = strip_paths(records(df))
    url = request.app.state.settings.atlas_url
    for row in out:
        row["reason"] = public_message(str(row.get("reason") or ""), url)
    return json_response(request, {"n_failed": len(out), "errors": out})


@router.get("/provenance", tags=["status"])
def provenance(request: Request, p: Portal) -> Response:
    """Every provenance record (engine, package version, parameters, time) with the number of
    features, QC results, morphologies and labels that point at it."""
    df = p.snapshot().memo("provenance", lambda: Q.provenance(p.atlas))
    return json_response(request, {"provenance": strip_paths(records(df))})
