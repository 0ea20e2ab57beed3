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
from typing import Annotated, Any

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

__all__ = ["CSV_COLUMNS", "cell_context", "failure_message", "router"]

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
    # values outside their physiological range never top a sort: they come after the valid
    # ones (and before the missing ones)
    if sort in snap.flags.columns:
        bad = snap.flags[sort].reindex(df.index, fill_value=False).to_numpy(dtype=bool)
        key = key.astype(float).mask(bad)
        order_ok = key[~bad].sort_values(ascending=not desc, na_position="last", kind="stable")
        order_bad = key.index[bad]
        valid = order_ok.index[order_ok.notna()]
        missing = order_ok.index[order_ok.isna()]
        return df.loc[valid.append(order_bad).append(missing)]
    order = key.sort_values(ascending=not desc, na_position="last", kind="stable").index
    return df.loc[order]


@router.get(
    "/cells",
    tags=["cells"],
    response_model=CellPageOut,
    responses={200: {"content": {"text/csv": {}}}},
)
def list_cells(
    request: Request,
    p: Portal,
    species: Annotated[list[str], Query(default_factory=list)],
    region: Annotated[list[str], Query(default_factory=list)],
    layer: Annotated[list[str], Query(default_factory=list)],
    cre_line: Annotated[list[str], Query(default_factory=list)],
    dendrite_type: Annotated[list[str], Query(default_factory=list)],
    t_type_family: Annotated[list[str], Query(default_factory=list)],
    subclass: Annotated[list[str], Query(default_factory=list)],
    dataset: Annotated[list[str], Query(default_factory=list)],
    qc: Annotated[
        list[str],
        Query(
            default_factory=list,
            description="passed, failed, not checked, outside physiological range",
        ),
    ],
    has_sweeps: bool | None = None,
    has_ephys: bool | None = None,
    has_morphology: bool | None = None,
    has_transcriptome: bool | None = None,
    has_model: bool | None = None,
    range: Annotated[
        list[str] | None,
        Query(description="numerical filter FEATURE:LOW..HIGH (inclusive; repeatable)"),
    ] = None,
    q: Annotated[
        str | None,
        Query(
            max_length=200,
            description="text in the cell id, t-type, subclass, Cre line, donor or dataset",
        ),
    ] = None,
    flagged: Annotated[
        str,
        Query(
            pattern="^(include|exclude)$",
            description="exclude: drop cells with a value outside its physiological range",
        ),
    ] = "include",
    sort: Annotated[str | None, Query(max_length=200)] = None,
    desc: bool = False,
    features: Annotated[
        list[str] | None,
        Query(
            description="feature columns to include in each row (repeatable, or "
            "comma-separated); CSV: default all cell-level features"
        ),
    ] = None,
    offset: Offset = 0,
    limit: Limit = 100,
    format: Annotated[
        str,
        Query(pattern="^(json|csv)$", description="csv: the whole selection, one row per cell"),
    ] = "json",
) -> Response:
    """Cells with their annotations, filtered by facets and feature ranges, sorted and paged.

    Facet parameters take several values (any of them matches); ``(unknown)`` matches a missing
    value. The response carries the facet counts of the whole filtered selection. With
    ``format=csv`` the answer is the whole selection (no paging) as CSV, one row per cell, the
    requested features as columns with their units in the header (``ri (MΩ)``).
    """
    snap = p.snapshot()
    local = {
        "species": species,
        "region": region,
        "layer": layer,
        "cre_line": cre_line,
        "dendrite_type": dendrite_type,
        "t_type_family": t_type_family,
        "subclass": subclass,
        "dataset": dataset,
        "qc": qc,
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
        mask = p.filter_mask(
            snap,
            filters,
            ranges=_parse_ranges(range or []),
            query=q,
            exclude_flagged=flagged == "exclude",
        )
    except AtlasError as exc:
        raise HTTPException(400, str(exc)) from exc
    df = _sorted(p, snap, snap.cells[mask], sort, desc)
    names = [n.strip() for f in features or [] for n in f.split(",") if n.strip()]
    if format == "csv":
        return _csv(p, snap, df, names or [n for n, _ in snap.numeric_features()])
    rows = df.iloc[offset : offset + limit].copy()
    for name in names:
        try:
            rows[name] = p.feature_column(snap, name).reindex(rows.index)
        except AtlasError as exc:
            raise HTTPException(400, str(exc)) from exc
    rows = rows[[c for c in rows.columns if c not in _INTERNAL]]
    out = page(len(df), offset, limit, records(rows.reset_index()))
    out["facets"] = p.facet_counts(snap, mask)
    return json_response(request, out)


#: snapshot columns the API does not list as annotations
_INTERNAL = ("n_flagged",)
#: annotation columns of the CSV download, in order
CSV_COLUMNS = (
    "datasets",
    "species",
    "region",
    "layer",
    "depth_um",
    "cre_line",
    "reporter",
    "dendrite_type",
    "t_type_family",
    "subclass",
    "t_type",
    "t_type_confidence",
    "donor",
    "qc_status",
    "qc_failed",
)


def _csv(p: PortalData, snap: Snapshot, df: pd.DataFrame, names: list[str]) -> Response:
    units = p.feature_units(snap)
    out = pd.DataFrame(index=df.index)
    for col in CSV_COLUMNS:
        if col == "datasets":
            out["datasets"] = df["datasets"].map(lambda v: ";".join(v))
        elif col in df.columns:
            out[col] = df[col]
    header = {}
    for name in names:
        try:
            out[name] = p.feature_column(snap, name).reindex(df.index)
        except AtlasError as exc:
            raise HTTPException(400, str(exc)) from exc
        if name in snap.flags.columns:
            out[f"{name}_outside_range"] = snap.flags[name].reindex(df.index, fill_value=False)
        unit = units.get(name)
        stated = unit and unit != "1" and not name.endswith(f"({unit})")
        header[name] = f"{name} ({unit})" if stated else name
    out = out.rename(columns=header)
    out.index.name = "cell_id"
    body = out.to_csv(float_format="%.6g", lineterminator="\n")
    return Response(
        body.encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": 'attachment; filename="patchatlas-cells.csv"',
            "Cache-Control": "no-cache",
        },
    )


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
    info.update(cell_context(p, snap, name))
    return json_response(request, info)


def cell_context(p: PortalData, snap: Snapshot, name: str) -> dict[str, Any]:
    """What the portal adds to a cell's stored record: its datasets (with citation and
    licence), each annotation's origin, its QC status and the values outside their
    physiological range.

    Parameters
    ----------
    p
        The portal.
    snap
        The current snapshot.
    name
        The cell's name.

    Returns
    -------
    dict
        ``datasets`` (dicts of :func:`patchatlas.atlas.portal.dataset_info`), ``labels``
        (field, value, native, dataset, source), ``qc_status``, ``qc_failed`` and
        ``out_of_range`` (feature, value, unit, low, high, note).
    """
    from patchatlas.core.vocabulary import PHYSIOLOGICAL_RANGES

    infos = {d["name"]: d for d in p.dataset_info(snap)}
    out: dict[str, Any] = {"datasets": [], "labels": [], "out_of_range": []}
    if name not in snap.cells.index:
        return out
    row = snap.cells.loc[name]
    out["datasets"] = [infos.get(d, {"name": d}) for d in row["datasets"]]
    out["labels"] = records(Q.cell_labels(p.atlas, name))
    out["qc_status"] = row["qc_status"]
    out["qc_failed"] = row["qc_failed"] if isinstance(row["qc_failed"], str) else None
    if name in snap.flags.index:
        bad = snap.flags.loc[name]
        for feat in bad.index[bad.to_numpy(dtype=bool)]:
            r = PHYSIOLOGICAL_RANGES[str(feat)]
            out["out_of_range"].append(
                {
                    "feature": str(feat),
                    "value": float(snap.ephys.loc[name, feat]),
                    "unit": r.unit,
                    "low": r.low,
                    "high": r.high,
                    "note": r.note,
                }
            )
    return out


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
