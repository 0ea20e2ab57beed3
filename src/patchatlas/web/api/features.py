"""Features and the registry: a cell's features with their definitions, every feature the atlas
holds (with registry definitions, windows and conventions), and the wide cell-level tables."""

from __future__ import annotations

from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response

from patchatlas.web.api._common import (
    Limit,
    Offset,
    PageOut,
    Portal,
    cell_name,
    json_response,
    page,
)
from patchatlas.web.registry import definitions
from patchatlas.web.service import records

__all__ = ["router"]

router = APIRouter()


@router.get(
    "/cells/{cell_id:path}/features",
    tags=["features"],
    responses={200: {"content": {"text/csv": {}}}},
)
def cell_features(
    request: Request,
    p: Portal,
    cell_id: str,
    level: Annotated[str, Query(pattern="^(cell|sweep|spike)$")] = "cell",
    format: Annotated[str, Query(pattern="^(json|csv)$")] = "json",
) -> Response:
    """A cell's ephys features (long table: value, unit, native name, definition where the
    registry has one, and ``origin``: the imported table or the engine and version that
    computed it) and its morphology features. ``format=csv``: the ephys rows of ``level``
    (and, for ``level=cell``, the morphology features) as CSV."""
    name = cell_name(p, cell_id)
    df = p.atlas.ephys_features(level, wide=False, cells=[name])  # type: ignore[arg-type]
    origins = p.origins(p.snapshot())
    df["origin"] = [
        None if pd.isna(i) else origins.get(int(i)) for i in df.get("provenance_id", [])
    ]
    df = df.drop(columns=["provenance_id", "level"], errors="ignore")
    defs = definitions()
    df["definition"] = [defs.get(n, {}).get("definition") for n in df["name"]]
    snap = p.snapshot()
    morph: dict[str, Any] = {}
    if name in snap.morph.index:
        morph = {str(k): v for k, v in snap.morph.loc[name].dropna().items()}
    if format == "csv":
        cols = [
            c
            for c in (
                "recording_id",
                "sweep_number",
                "spike_index",
                "name",
                "value",
                "unit",
                "native_name",
                "origin",
            )
            if c in df.columns and (level != "cell" or c not in ("sweep_number", "spike_index"))
        ]
        out = df[cols].copy()
        out.insert(0, "kind", "ephys")
        out.insert(0, "cell_id", name)
        if level == "cell" and morph:
            m = pd.DataFrame(
                {
                    "cell_id": name,
                    "kind": "morphology",
                    "name": list(morph),
                    "value": list(morph.values()),
                }
            )
            out = pd.concat([out, m], ignore_index=True)
        if "recording_id" in out.columns and level == "cell":
            out = out.drop(columns="recording_id")
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)
        return Response(
            out.to_csv(index=False, float_format="%.6g", lineterminator="\n").encode(),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="{safe}_{level}_features.csv"',
                "Cache-Control": "no-cache",
            },
        )
    return json_response(
        request, {"cell_id": name, "level": level, "ephys": records(df), "morphology": morph}
    )


@router.get("/features/registry", tags=["features"])
def feature_registry(request: Request, p: Portal) -> Response:
    """Every feature the atlas holds (name, kind, level, unit, native name, number of cells),
    with its definition, stimulus window and convention where the registry has an entry."""
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
    rows = df.iloc[offset : offset + limit].reset_index()
    return json_response(request, page(len(df), offset, limit, records(rows)))
