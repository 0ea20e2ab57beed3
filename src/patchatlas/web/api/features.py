"""Features and the registry: a cell's features with their definitions, every feature the atlas
holds (with registry definitions, windows and conventions), and the wide cell-level tables."""

from __future__ import annotations

from typing import Annotated, Any

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


@router.get("/cells/{cell_id:path}/features", tags=["features"])
def cell_features(
    request: Request,
    p: Portal,
    cell_id: str,
    level: Annotated[str, Query(pattern="^(cell|sweep|spike)$")] = "cell",
) -> Response:
    """A cell's ephys features (long table) with their definitions where the registry has them,
    and its morphology features."""
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
