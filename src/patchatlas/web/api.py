"""The REST API (``/api/...``): read-only endpoints, plus token-protected writes."""

from __future__ import annotations

import hashlib
import json
import math
import tempfile
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
from fastapi import (
    APIRouter,
    Depends,
    File,
    Form,
    Header,
    HTTPException,
    Query,
    Request,
    UploadFile,
)
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, Field
from starlette.background import BackgroundTask

from patchatlas.atlas import AtlasError
from patchatlas.atlas import portal as Q
from patchatlas.web import traces
from patchatlas.web.service import (
    AVAILABILITY,
    PortalData,
    Snapshot,
    records,
    to_jsonable,
)
from patchatlas.web.service import (
    t_type_family as family_of,
)

__all__ = ["router"]


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
router = APIRouter(prefix="/api", responses=ERRORS)

MAX_LIMIT = 1000


# ----------------------------------------------------------------------------------- helpers


def portal(request: Request) -> PortalData:
    """The app's :class:`PortalData`."""
    p: PortalData = request.app.state.portal
    return p


Portal = Annotated[PortalData, Depends(portal)]


def json_response(request: Request, data: Any, *, max_age: int = 0) -> Response:
    """JSON with a content ETag; answers 304 when the client's ``If-None-Match`` matches."""
    body = data if isinstance(data, bytes) else _dumps(data)
    etag = '"' + hashlib.sha1(body).hexdigest()[:20] + '"'
    headers = {"ETag": etag, "Cache-Control": f"public, max-age={max_age}, must-revalidate"}
    inm = request.headers.get("if-none-match")
    if inm and etag in [t.strip() for t in inm.split(",")]:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


def _dumps(data: Any) -> bytes:
    return json.dumps(to_jsonable(data), separators=(",", ":"), allow_nan=False).encode()


def cell_name(p: PortalData, cell_id: str) -> str:
    """The stored name of ``cell_id`` (404 when unknown)."""
    snap = p.snapshot()
    if cell_id in snap.cells.index:
        return cell_id
    try:
        _, name = p.atlas._cell_pk(cell_id)
    except AtlasError as exc:
        raise HTTPException(404, str(exc)) from exc
    return name


def _page(total: int, offset: int, limit: int, items: list[dict[str, Any]]) -> dict[str, Any]:
    nxt = offset + limit if offset + limit < total else None
    return {"total": total, "offset": offset, "limit": limit, "next_offset": nxt, "items": items}


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


class AnnotationIn(BaseModel):
    """A free-text annotation of a cell."""

    key: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.\- ]+$")
    value: str = Field(max_length=10_000)


Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="rows per page")]
Offset = Annotated[int, Query(ge=0, le=10**9, description="first row")]


# ----------------------------------------------------------------------------------- atlas


@router.get("/atlas", tags=["atlas"])
def atlas_summary(request: Request, p: Portal) -> Response:
    """Atlas URL (password hidden), schema revision, row counts and data version."""
    summary = p.atlas.summary()
    summary["data_version"] = p.snapshot().etag
    summary["writable"] = request.app.state.settings.token is not None
    return json_response(request, summary)


# ----------------------------------------------------------------------------------- cells


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
    page = df.iloc[offset : offset + limit].copy()
    for name in features or []:
        try:
            page[name] = p.feature_column(snap, name).reindex(page.index)
        except AtlasError as exc:
            raise HTTPException(400, str(exc)) from exc
    out = _page(len(df), offset, limit, records(page.reset_index()))
    out["facets"] = p.facet_counts(snap, mask)
    return json_response(request, out)


@router.get("/cells/{cell_id:path}/sweeps/{index}/phase", tags=["sweeps"])
def sweep_phase(request: Request, p: Portal, cell_id: str, index: int) -> Response:
    """First-AP phase plot of a sweep: dV/dt (mV/ms) against V (mV); ``null`` without a spike."""
    sweep = _load_sweep(p, cell_id, index)
    out = traces.phase_plot(np.asarray(sweep.t, float), np.asarray(sweep.v, float))
    return json_response(request, {"index": index, "phase": out}, max_age=3600)


@router.get("/cells/{cell_id:path}/sweeps/{index}", tags=["sweeps"])
def sweep_trace(
    request: Request,
    p: Portal,
    cell_id: str,
    index: int,
    points: Annotated[int, Query(ge=10, le=200_000, description="about this many points")] = 2000,
) -> Response:
    """One sweep's response and stimulus, min/max-downsampled to about ``points`` samples (the
    spike markers are found on the full-resolution trace). ``index`` is the row of the sweep in
    ``/sweeps``."""
    sweep = _load_sweep(p, cell_id, index)
    payload = traces.sweep_payload(sweep, points=points)
    payload["index"] = index
    return json_response(request, payload, max_age=3600)


@router.get("/cells/{cell_id:path}/sweeps", tags=["sweeps"], response_model=PageOut)
def sweep_table(
    request: Request, p: Portal, cell_id: str, offset: Offset = 0, limit: Limit = 1000
) -> Response:
    """A cell's sweeps (metadata; ``index`` addresses one in ``/sweeps/{index}``)."""
    name = cell_name(p, cell_id)
    table = p.atlas.sweeps(name).table.reset_index(drop=True)
    table.insert(0, "index", np.arange(len(table)))
    table["path"] = table["path"].map(lambda s: None if s is None else Path(str(s)).name)
    return json_response(
        request, _page(len(table), offset, limit, records(table.iloc[offset : offset + limit]))
    )


@router.get("/cells/{cell_id:path}/fi", tags=["sweeps"])
def fi_curve(request: Request, p: Portal, cell_id: str) -> Response:
    """f-I curve: firing rate (Hz) of each long-square sweep against its amplitude (pA).

    Uses stored sweep-level ``avg_rate`` features when present, else the display spike markers
    counted over the stimulus window (``source`` says which)."""
    name = cell_name(p, cell_id)
    table = p.atlas.sweeps(name).table.reset_index(drop=True)
    sw = p.atlas.ephys_features("sweep", wide=False, cells=[name])
    stored = sw[sw["name"].isin(["avg_rate", "mean_firing_rate", "firing_rate"])]
    points: list[dict[str, Any]] = []
    source = "none"
    if not stored.empty:
        source = "stored features"
        amp = dict(zip(table["number"], table["amplitude_pa"], strict=False))
        for r in stored.itertuples():
            points.append({"amplitude_pa": amp.get(r.sweep_number), "rate_hz": r.value})
    else:
        steps = table[table["kind"].astype(str).isin(["long_square", "step", "square"])]
        for idx in steps.index[:60]:
            try:
                sweep = _load_sweep(p, name, int(idx))
            except HTTPException:
                break
            start, end = sweep.stimulus.start, sweep.stimulus.end
            if not (math.isfinite(start) and math.isfinite(end)) or end <= start:
                continue
            t = np.asarray(sweep.t, float)
            spk = traces.crossings(t, np.asarray(sweep.v, float))
            n = int(((spk >= start) & (spk <= end)).sum())
            points.append({"amplitude_pa": sweep.stimulus.amplitude, "rate_hz": n / (end - start)})
        if points:
            source = "display spike markers (upward crossing of -20 mV)"
    points = [x for x in points if x["amplitude_pa"] is not None]
    points.sort(key=lambda x: x["amplitude_pa"])
    return json_response(request, {"cell_id": name, "source": source, "points": points})


def _nwb_writer() -> Any:
    import patchatlas.io as pio

    return getattr(pio, "write_nwb", None)


@router.get(
    "/cells/{cell_id:path}/nwb",
    tags=["sweeps"],
    responses={200: {"content": {"application/x-nwb": {}}}, 501: {}},
)
def cell_nwb(p: Portal, cell_id: str, recording: Annotated[int, Query(ge=0)] = 0) -> Response:
    """Full-resolution NWB 2 file of one of the cell's recordings (needs
    ``patchatlas.io.write_nwb`` and pynwb)."""
    name = cell_name(p, cell_id)
    writer = _nwb_writer()
    if writer is None:
        raise HTTPException(
            501,
            "NWB download needs patchatlas.io.write_nwb, which this patchatlas does not have yet; "
            "use the sweep JSON (/sweeps/{index}?points=...) or the source file meanwhile",
        )
    table = p.atlas.sweeps(name).table
    paths = list(dict.fromkeys(str(x) for x in table["path"].dropna()))
    if recording >= len(paths):
        raise HTTPException(404, f"cell {name!r} has {len(paths)} recordings with source files")
    rec = p.recording(paths[recording])
    tmpdir = tempfile.mkdtemp(prefix="patchatlas-nwb-")
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)
    try:
        out = Path(writer(rec, Path(tmpdir) / f"{safe}_{recording}.nwb", overwrite=True))
    except Exception as exc:
        _rmtree(tmpdir)
        raise HTTPException(500, f"writing NWB for cell {name!r} failed: {exc}") from exc
    return FileResponse(
        out,
        media_type="application/x-nwb",
        filename=out.name,
        background=BackgroundTask(_rmtree, tmpdir),
    )


def _rmtree(path: str) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


@router.get("/cells/{cell_id:path}/features", tags=["features"])
def cell_features(
    request: Request,
    p: Portal,
    cell_id: str,
    level: Annotated[str, Query(pattern="^(cell|sweep|spike)$")] = "cell",
) -> Response:
    """A cell's ephys features (long table) with their definitions where the registry has them,
    and its morphology features."""
    from patchatlas.web.registry import definitions

    name = cell_name(p, cell_id)
    df = p.atlas.ephys_features(level, wide=False, cells=[name])  # type: ignore[arg-type]
    df = df.drop(columns=["provenance_id", "level"], errors="ignore")
    defs = definitions()
    df["definition"] = [defs.get(n, {}).get("definition") for n in df["name"]]
    snap = p.snapshot()
    morph: dict[str, Any] = {}
    if name in snap.morph.index:
        morph = {str(k): v for k, v in snap.morph.loc[name].dropna().items()}
    return json_response(
        request, {"cell_id": name, "level": level, "ephys": records(df), "morphology": morph}
    )


@router.get("/cells/{cell_id:path}/qc", tags=["cells"])
def cell_qc(request: Request, p: Portal, cell_id: str) -> Response:
    """A cell's QC checks (sweep, check, passed, value, message)."""
    name = cell_name(p, cell_id)
    return json_response(request, {"cell_id": name, "qc": records(Q.qc(p.atlas, name))})


@router.get("/cells/{cell_id:path}/models", tags=["models"])
def cell_models(request: Request, p: Portal, cell_id: str) -> Response:
    """A cell's fitted models (GLIF / biophysical): parameters and fit scores."""
    name = cell_name(p, cell_id)
    return json_response(request, {"cell_id": name, "models": records(Q.models(p.atlas, name))})


def _morph(p: PortalData, cell_id: str) -> Any:
    name = cell_name(p, cell_id)
    try:
        return p.atlas.morphology(name)
    except AtlasError as exc:
        raise HTTPException(404, str(exc)) from exc


@router.get(
    "/cells/{cell_id:path}/morphology.swc",
    tags=["morphology"],
    responses={200: {"content": {"text/plain": {}}}},
)
def cell_swc(p: Portal, cell_id: str) -> Response:
    """Download the cell's reconstruction as SWC (the stored source file)."""
    m = _morph(p, cell_id)
    src = Path(m.source) if m.source else None
    if src is None or src.suffix.lower() != ".swc":
        raise HTTPException(404, f"cell {m.cell_id!r}: the reconstruction has no SWC source file")
    if not src.is_file():
        raise HTTPException(404, f"cell {m.cell_id!r}: the SWC file {src.name} is missing")
    return FileResponse(
        src,
        media_type="text/plain",
        filename=src.name,
        headers={"Cache-Control": "public, max-age=3600"},
    )


@router.get("/cells/{cell_id:path}/morphology", tags=["morphology"])
def cell_morphology(request: Request, p: Portal, cell_id: str) -> Response:
    """The cell's reconstruction: features, validation issues and whether an SWC is available
    (rendered by the morphology viewer page)."""
    m = _morph(p, cell_id)
    src = Path(m.source) if m.source else None
    has_swc = bool(src and src.suffix.lower() == ".swc" and src.is_file())
    meta = Q.morphology_metadata(p.atlas, m.cell_id)
    aligned, layers = _layer_layout(meta)
    try:
        pia_y = float(meta.get("pia_y", 0.0))
    except (TypeError, ValueError):
        pia_y = 0.0
    return json_response(
        request,
        {
            "cell_id": m.cell_id,
            "features": dict(m.features.items()),
            "issues": records(m.issues),
            "swc_url": f"/api/cells/{m.cell_id}/morphology.swc" if has_swc else None,
            "layer_aligned": aligned,
            "layer_boundaries": layers,
            "pia_y": pia_y if (aligned or layers) else None,
        },
    )


def _layer_layout(meta: dict[str, Any]) -> tuple[bool, list[dict[str, Any]]]:
    """Whether the stored reconstruction is layer-aligned (pia at y = 0, depth = −y) and the
    tops of its layers below pia (µm): the stored ``layer_depths``, else for an aligned one the
    reference depths it was aligned to (:data:`patchatlas.morphology.alignment.MOUSE_LAYER_DEPTHS`
    unless the metadata names others)."""
    aligned = bool(meta.get("layer_aligned"))
    depths = meta.get("layer_depths") or meta.get("reference_depths")
    if not isinstance(depths, dict) and aligned:
        try:
            from patchatlas.morphology.alignment import MOUSE_LAYER_DEPTHS
        except ImportError:  # the morphology extra is not installed
            depths = None
        else:
            depths = {"1": 0.0, **MOUSE_LAYER_DEPTHS}
    layers: list[dict[str, Any]] = []
    if isinstance(depths, dict):
        for name, top in depths.items():
            try:
                val = float(top)
            except (TypeError, ValueError):
                continue
            if math.isfinite(val):
                layers.append({"layer": str(name), "top_um": val})
        layers.sort(key=lambda x: x["top_um"])
    return aligned, layers


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


# ----------------------------------------------------------------------------------- features


@router.get("/features/registry", tags=["features"])
def feature_registry(request: Request, p: Portal) -> Response:
    """Every feature the atlas holds (name, kind, level, unit, native name, number of cells),
    with its definition, stimulus window and convention where the registry has an entry."""
    from patchatlas.web.registry import definitions

    cat = p.snapshot().catalog.copy()
    defs = definitions()
    for col in ("definition", "window", "convention"):
        cat[col] = [defs.get(n, {}).get(col) for n in cat["name"]]
    return json_response(request, {"features": records(cat)})


@router.get("/features", tags=["features"], response_model=PageOut)
def features_table(
    request: Request,
    p: Portal,
    kind: Annotated[str, Query(pattern="^(ephys|morphology)$")] = "ephys",
    names: Annotated[list[str] | None, Query()] = None,
    offset: Offset = 0,
    limit: Limit = 100,
) -> Response:
    """Wide table of cell-level features (one row per cell), paged."""
    snap = p.snapshot()
    df = snap.ephys if kind == "ephys" else snap.morph
    if names:
        missing = [n for n in names if n not in df.columns]
        if missing:
            raise HTTPException(400, f"unknown {kind} features: {', '.join(missing)}")
        df = df[names]
    page = df.iloc[offset : offset + limit].reset_index()
    return json_response(request, _page(len(df), offset, limit, records(page)))


# ----------------------------------------------------------------------------------- models, types


@router.get("/models", tags=["models"], response_model=PageOut)
def list_models(
    request: Request,
    p: Portal,
    kind: Annotated[str | None, Query(max_length=50)] = None,
    offset: Offset = 0,
    limit: Limit = 100,
) -> Response:
    """Fitted models of all cells (GLIF / biophysical), paged."""
    df = Q.models(p.atlas)
    if kind:
        df = df[df["kind"] == kind]
    return json_response(
        request, _page(len(df), offset, limit, records(df.iloc[offset : offset + limit]))
    )


@router.get("/types", tags=["types"])
def cell_types(request: Request, p: Portal) -> Response:
    """Cell counts per t-type family, subclass and t-type (with mean t-type confidence)."""
    cells = p.snapshot().cells
    out: dict[str, Any] = {}
    for col in ("t_type_family", "subclass", "t_type", "dendrite_type"):
        g = cells.groupby(cells[col].astype("string"), dropna=True)
        counts = g.size()
        conf = g["t_type_confidence"].mean() if col == "t_type" else None
        out[col] = [
            {
                "name": str(k),
                "n_cells": int(v),
                **(
                    {"mean_confidence": None if conf is None else conf.get(k)}
                    if col == "t_type"
                    else {}
                ),
            }
            for k, v in counts.sort_values(ascending=False).items()
        ]
    return json_response(request, out)


@router.get("/types/physiology", tags=["types"])
def type_physiology(
    request: Request,
    p: Portal,
    feature: Annotated[str | None, Query(max_length=200)] = None,
    by: Annotated[str, Query(pattern="^(t_type_family|subclass|t_type)$")] = "t_type_family",
) -> Response:
    """Expression → physiology at the type level: a feature's distribution (n, median,
    quartiles) per transcriptomic class, and the fraction of its variance the classes explain
    (between-class R²)."""
    snap = p.snapshot()
    feats = [n for n, _ in snap.numeric_features()]
    if feature is None:
        feature = feats[0] if feats else None
    if feature is None:
        return json_response(request, {"feature": None, "by": by, "groups": [], "r2": None})
    try:
        vals = p.feature_column(snap, feature).reindex(snap.cells.index)
    except AtlasError as exc:
        raise HTTPException(400, str(exc)) from exc
    df = pd.DataFrame({"g": snap.cells[by].astype("string"), "x": vals}).dropna()
    groups = []
    for g, s in df.groupby("g")["x"]:
        q1, med, q3 = np.percentile(s.to_numpy(float), [25, 50, 75])
        groups.append({"name": str(g), "n": len(s), "q1": q1, "median": med, "q3": q3})
    r2 = None
    if len(df) > 1 and df["g"].nunique() > 1:
        total = float(((df["x"] - df["x"].mean()) ** 2).sum())
        within = float(((df["x"] - df.groupby("g")["x"].transform("mean")) ** 2).sum())
        r2 = 1.0 - within / total if total > 0 else None
    groups.sort(key=lambda x: -x["n"])
    return json_response(
        request, {"feature": feature, "by": by, "features": feats, "groups": groups, "r2": r2}
    )


def _spec(regime: Any, model: Any) -> str:
    return str(regime) if model in (None, "-", "") or pd.isna(model) else f"{regime}:{model}"


@router.get("/crossmodal", tags=["types"])
def crossmodal_results(
    request: Request,
    p: Portal,
    run: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """Stored expression → physiology benchmark results (default: the latest run): R² per
    feature per regime (mean and SD over CV repeats, with r and within-type R²), and the best
    features of the best single-cell model (for the predicted-vs-observed plots)."""
    from patchatlas.atlas import crossmodal as X

    runs = X.crossmodal_runs(p.atlas)
    empty: dict[str, Any] = {
        "runs": [],
        "run": None,
        "specs": [],
        "features": [],
        "r2": [],
        "best": None,
    }
    if runs.empty:
        return json_response(request, empty)
    sc = X.crossmodal_scores(p.atlas, run)
    rid = int(runs["id"].iloc[-1]) if run is None else None
    this = (
        runs[runs["id"] == rid]
        if rid is not None
        else runs[(runs["name"] == run) | (runs["id"].astype(str) == run)]
    )
    sc = sc.assign(spec=[_spec(a, b) for a, b in zip(sc["regime"], sc["model"], strict=True)])
    specs = list(dict.fromkeys(sc["spec"]))
    feats = list(dict.fromkeys(sc["feature"]))
    agg = (
        sc.groupby(["spec", "feature"], sort=False)
        .agg(
            regime=("regime", "first"),
            model=("model", "first"),
            r2=("r2", "mean"),
            r2_sd=("r2", "std"),
            r=("r", "mean"),
            within_type_r2=("within_type_r2", "mean"),
            n_repeats=("r2", "size"),
        )
        .reset_index()
    )
    per_spec = agg.groupby("spec", sort=False)["r2"].mean()
    models = [s for s in specs if ":" in s]
    best_spec = None
    if models:
        sc_models = [s for s in models if s.startswith("single_cell:")] or models
        best_spec = max(sc_models, key=lambda s: float(per_spec.get(s, -np.inf)))
    best = None
    if best_spec is not None:
        top = agg[agg["spec"] == best_spec].sort_values("r2", ascending=False)
        best = {"spec": best_spec, "features": [str(f) for f in top["feature"].head(4)]}
    n_pred = len(X.crossmodal_predictions(p.atlas, run, feature=feats[0])) if feats else 0
    return json_response(
        request,
        {
            "runs": records(runs.drop(columns=["parameters"], errors="ignore")),
            "run": records(this)[0] if len(this) else None,
            "specs": specs,
            "features": feats,
            "mean_r2": {str(k): v for k, v in per_spec.items()},
            "r2": records(agg),
            "best": best,
            "has_predictions": n_pred > 0,
        },
    )


@router.get("/crossmodal/predictions", tags=["types"])
def crossmodal_predictions(
    request: Request,
    p: Portal,
    feature: Annotated[str, Query(max_length=200)],
    spec: Annotated[str, Query(max_length=200)],
    run: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """Out-of-fold predicted vs observed values of one feature under one ``regime:model`` spec
    (or baseline name), with the R² of these points."""
    from patchatlas.atlas import crossmodal as X

    regime, _, model = spec.partition(":")
    df = X.crossmodal_predictions(p.atlas, run, feature=feature, regime=regime, model=model or "-")
    obs = df["observed"].to_numpy(dtype=float)
    pred = df["predicted"].to_numpy(dtype=float)
    ok = np.isfinite(obs) & np.isfinite(pred)
    r2 = None
    if ok.sum() > 1:
        sst = float(((obs[ok] - obs[ok].mean()) ** 2).sum())
        r2 = 1.0 - float(((obs[ok] - pred[ok]) ** 2).sum()) / sst if sst > 0 else None
    return json_response(
        request,
        {
            "feature": feature,
            "spec": spec,
            "n": int(ok.sum()),
            "r2": r2,
            "points": records(df[["cell", "t_type", "observed", "predicted"]]),
        },
    )


# ----------------------------------------------------------------------------------- synphys


@router.get("/pairs", tags=["connectivity"], response_model=PageOut)
def list_pairs(
    request: Request,
    p: Portal,
    connected: bool | None = None,
    offset: Offset = 0,
    limit: Limit = 100,
) -> Response:
    """Tested pre → post pairs with their connection calls, paged."""
    df = _connections(p)
    if connected is not None:
        df = df[df["connected"].astype("boolean").fillna(False) == connected]
    return json_response(
        request, _page(len(df), offset, limit, records(df.iloc[offset : offset + limit]))
    )


@router.get("/pairs/{pair_id}", tags=["connectivity"])
def one_pair(request: Request, p: Portal, pair_id: int) -> Response:
    """One pair, its connection call and its synapse measurements."""
    df = _connections(p)
    row = df[df["pair_id"] == pair_id]
    if row.empty:
        raise HTTPException(404, f"no pair {pair_id} in the atlas; list them at /api/pairs")
    out = records(row)[0]
    out["measurements"] = records(Q.synapse_measurements(p.atlas, pair_id))
    return json_response(request, out)


def _connections(p: PortalData) -> pd.DataFrame:
    snap = p.snapshot()
    df: pd.DataFrame = snap.memo("connections", lambda: Q.connections(p.atlas))
    return df


def wilson(k: int, n: int, z: float = 1.959964) -> tuple[float | None, float | None]:
    """Wilson score 95 % interval of a proportion k/n."""
    if n == 0:
        return None, None
    ph = k / n
    den = 1 + z * z / n
    c = (ph + z * z / (2 * n)) / den
    h = z * math.sqrt(ph * (1 - ph) / n + z * z / (4 * n * n)) / den
    return max(0.0, c - h), min(1.0, c + h)


@router.get("/connectivity", tags=["connectivity"])
def connectivity_matrix(
    request: Request,
    p: Portal,
    by: Annotated[str, Query(pattern="^(t_type_family|subclass|t_type|layer)$")] = "t_type_family",
) -> Response:
    """Class × class connection probability: tested and connected pair counts, probability and
    Wilson 95 % interval per (pre class, post class)."""
    df = _connections(p)
    df = df[df["connected"].notna()]
    if by == "t_type_family":
        pre = family_of(df["pre_subclass"], df["pre_t_type"]).fillna("(unknown)")
        post = family_of(df["post_subclass"], df["post_t_type"]).fillna("(unknown)")
    else:
        pre = df[f"pre_{by}"].astype("string").fillna("(unknown)")
        post = df[f"post_{by}"].astype("string").fillna("(unknown)")
    classes = sorted(set(pre) | set(post))
    grid = pd.DataFrame(
        {"pre": pre.to_numpy(), "post": post.to_numpy(), "c": df["connected"].astype(bool)}
    )
    agg = grid.groupby(["pre", "post"])["c"].agg(["size", "sum"])
    tested = agg["size"].to_dict()
    connected = agg["sum"].to_dict()
    cells = []
    for a in classes:
        for b in classes:
            n = int(tested.get((a, b), 0))
            k = int(connected.get((a, b), 0))
            lo, hi = wilson(k, n)
            cells.append(
                {
                    "pre": a,
                    "post": b,
                    "n_tested": n,
                    "n_connected": k,
                    "probability": k / n if n else None,
                    "ci_low": lo,
                    "ci_high": hi,
                }
            )
    return json_response(request, {"by": by, "classes": classes, "matrix": cells})


@router.get("/connectivity/distance", tags=["connectivity"])
def connectivity_distance(
    request: Request,
    p: Portal,
    bin_um: Annotated[float, Query(gt=0, le=10_000)] = 25.0,
) -> Response:
    """Connection probability against intersomatic distance (bins of ``bin_um`` µm) with Wilson
    95 % intervals."""
    df = _connections(p)
    df = df[df["connected"].notna() & df["distance_um"].notna()]
    bins = []
    if not df.empty:
        d = df["distance_um"].to_numpy(float)
        idx = np.floor(d / bin_um).astype(int)
        conn = df["connected"].astype(bool).to_numpy()
        for b in np.unique(idx):
            m = idx == b
            n, k = int(m.sum()), int(conn[m].sum())
            lo, hi = wilson(k, n)
            bins.append(
                {
                    "from_um": float(b * bin_um),
                    "to_um": float((b + 1) * bin_um),
                    "n_tested": n,
                    "n_connected": k,
                    "probability": k / n,
                    "ci_low": lo,
                    "ci_high": hi,
                }
            )
    return json_response(request, {"bin_um": bin_um, "bins": bins})


# ----------------------------------------------------------------------------------- search data


@router.get("/search", tags=["cells"])
def search_data(request: Request, p: Portal) -> Response:
    """Column-wise data behind the Cell Feature Search page (facets, availability, cell-level
    numerical features of every cell)."""
    snap = p.snapshot()
    body = p.search_payload(snap)
    if "gzip" not in request.headers.get("accept-encoding", ""):
        return json_response(request, body)
    # the payload is large (all cells): send it compressed once per data version
    import gzip

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


# ----------------------------------------------------------------------------------- writes


def require_token(request: Request, authorization: Annotated[str | None, Header()] = None) -> None:
    """Refuse writes without the portal's token (401) or on a read-only portal (403)."""
    from patchatlas.web.security import check_token

    status = check_token(request.app.state.settings.token, authorization)
    if status == 403:
        raise HTTPException(403, "this portal is read-only; start it with --token-file to write")
    if status == 401:
        raise HTTPException(
            401,
            "writing needs the portal's token: send 'Authorization: Bearer <token>'",
            headers={"WWW-Authenticate": "Bearer"},
        )


Writer = Annotated[None, Depends(require_token)]


@router.post("/annotations/{cell_id:path}", tags=["writes"], responses=WRITE_ERRORS)
def add_annotation(
    request: Request, p: Portal, _w: Writer, cell_id: str, body: AnnotationIn
) -> Response:
    """Set an annotation ``key = value`` on a cell (token needed)."""
    name = cell_name(p, cell_id)
    notes = Q.annotate(p.atlas, name, body.key, body.value)
    p.invalidate()
    return json_response(request, {"cell_id": name, "annotations": notes})


@router.post("/uploads", tags=["writes"], status_code=201, responses=WRITE_ERRORS)
async def upload(
    request: Request,
    p: Portal,
    _w: Writer,
    file: Annotated[UploadFile, File(description="the file to store")],
    ingest: Annotated[bool, Form()] = False,
) -> Response:
    """Store an uploaded file under ``<data dir>/uploads/`` (token needed); with ``ingest=true``
    also ingest it into the atlas. Size limit, type check and atomic write."""
    from patchatlas.web.security import UploadRejected, save_upload

    settings = request.app.state.settings
    if settings.data_dir is None:
        raise HTTPException(403, "uploads are disabled: start the portal with a data folder")

    async def chunks() -> Any:
        while True:
            data = await file.read(1 << 20)
            if not data:
                break
            yield data

    folder = Path(settings.data_dir) / "uploads"
    try:
        path = await save_upload(
            chunks(), file.filename or "", folder, max_bytes=settings.max_upload_bytes
        )
    except UploadRejected as exc:
        raise HTTPException(exc.status, str(exc)) from exc
    out: dict[str, Any] = {"stored": path.name, "size": path.stat().st_size, "ingest": None}
    if ingest:
        from patchatlas.pipeline import ingest as run_ingest

        batch = path.parent / (path.stem + ".ingest")
        batch.mkdir(exist_ok=True)
        target = batch / path.name
        path.replace(target)
        summary = run_ingest(batch, p.atlas)
        p.invalidate()
        out["stored"] = f"{batch.name}/{target.name}"
        out["ingest"] = {
            "done": summary.done,
            "skipped": summary.skipped,
            "failed": summary.failed,
        }
    return Response(_dumps(out), status_code=201, media_type="application/json")


# ----------------------------------------------------------------------------------- internal


def _load_sweep(p: PortalData, cell_id: str, index: int) -> Any:
    name = cell_name(p, cell_id)
    table = p.atlas.sweeps(name).table.reset_index(drop=True)
    if not 0 <= index < len(table):
        raise HTTPException(404, f"cell {name!r} has {len(table)} sweeps; no index {index}")
    row = table.iloc[index]
    path = row["path"]
    if path is None or (isinstance(path, float) and math.isnan(path)):
        raise HTTPException(404, f"cell {name!r}: sweep {index} has no source file")
    if not Path(str(path)).is_file():
        raise HTTPException(
            404, f"cell {name!r}: the source file {Path(str(path)).name} of sweep {index} is gone"
        )
    try:
        return p.recording(str(path)).sweep(int(row["number"]))
    except Exception as exc:  # unreadable source: report, don't crash the worker
        raise HTTPException(500, f"cell {name!r}: reading sweep {index} failed: {exc}") from exc
