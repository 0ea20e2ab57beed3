"""Models and cell types: fitted models (per cell and all), cell counts per transcriptomic
class, and a feature's distribution per class."""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
import pandas as pd
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response

from patchatlas.atlas import AtlasError
from patchatlas.atlas import portal as Q
from patchatlas.web.api._common import (
    Limit,
    Offset,
    PageOut,
    Portal,
    cell_name,
    json_response,
    page,
)
from patchatlas.web.service import records

__all__ = ["router"]

router = APIRouter()


@router.get("/cells/{cell_id:path}/models", tags=["models"])
def cell_models(request: Request, p: Portal, cell_id: str) -> Response:
    """A cell's fitted models (GLIF / biophysical): parameters and fit scores."""
    name = cell_name(p, cell_id)
    return json_response(request, {"cell_id": name, "models": records(Q.models(p.atlas, name))})


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
        request, page(len(df), offset, limit, records(df.iloc[offset : offset + limit]))
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
