"""Cell types: stored typing runs (t-, e-, m-, me-types), per-type summaries (size, confidence,
feature distributions, confusion against the published t-types) and a cell's assignments.

Nothing is computed here beyond quartiles for display: the assignments are
:mod:`patchatlas.atlas.celltypes` queries, the contingency and effect sizes are
:func:`patchatlas.celltyping.contingency` and :func:`patchatlas.celltyping.effect_sizes`.
"""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
import pandas as pd
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response

from patchatlas.atlas import AtlasError
from patchatlas.atlas import celltypes as CT
from patchatlas.web.api._common import Portal, cell_name, json_response
from patchatlas.web.service import PortalData, Snapshot, records

__all__ = ["router"]

router = APIRouter()

Against = Annotated[str, Query(pattern="^(t_type|subclass|t_type_family)$")]


def _runs(p: PortalData) -> pd.DataFrame:
    return CT.cell_type_runs(p.atlas)


def _run_row(p: PortalData, run: str | None) -> dict[str, Any]:
    runs = _runs(p)
    if runs.empty:
        raise HTTPException(404, "no cell-type run is stored in this atlas")
    if run is None:
        row = runs.iloc[-1]
    else:
        hit = runs[(runs["name"] == run) | (runs["id"].astype(str) == run)]
        if hit.empty:
            raise HTTPException(404, f"no cell-type run {run!r}; stored: {runs['name'].tolist()}")
        row = hit.iloc[0]
    return {k: row[k] for k in runs.columns}


def _assigned(p: PortalData, snap: Snapshot, run: str) -> pd.DataFrame:
    out: pd.DataFrame = snap.memo(
        f"celltypes:{run}", lambda: CT.cell_type_assignments(p.atlas, run)
    )
    return out


@router.get("/celltypes", tags=["types"])
def celltype_runs(request: Request, p: Portal) -> Response:
    """The stored typing runs (kind, level, method, model provenance, scores, cells typed) and
    the number of cells per type of each."""
    runs = _runs(p)
    out = []
    for r in runs.to_dict("records"):
        summ = CT.type_summary(p.atlas, int(r["id"]))
        out.append({**r, "types": records(summ)})
    return json_response(request, {"runs": out})


@router.get("/celltypes/types", tags=["types"])
def celltype_types(
    request: Request,
    p: Portal,
    run: Annotated[str | None, Query(max_length=200)] = None,
    against: Against = "t_type",
) -> Response:
    """Per type of one run (default: the latest): size and confidence, and the confusion of the
    run's labels against the cells' published t-types (or subclass / t-type family)."""
    from patchatlas.celltyping import contingency

    row = _run_row(p, run)
    snap = p.snapshot()
    a = _assigned(p, snap, str(row["name"]))
    summ = CT.type_summary(p.atlas, int(row["id"]))
    ref: Any = snap.cells[against].reindex(a["cell"].astype(str)).to_numpy() if len(a) else []
    tab = contingency(a["label"].to_numpy(), ref) if len(a) else pd.DataFrame()
    return json_response(
        request,
        {
            "run": row,
            "against": against,
            "types": records(summ),
            "confusion": {
                "rows": [str(i) for i in tab.index],
                "columns": [str(c) for c in tab.columns],
                "counts": tab.to_numpy(dtype=int).tolist(),
            },
        },
    )


@router.get("/celltypes/type", tags=["types"])
def celltype_type(
    request: Request,
    p: Portal,
    label: Annotated[str, Query(max_length=200)],
    run: Annotated[str | None, Query(max_length=200)] = None,
    against: Against = "t_type",
    n_features: Annotated[int, Query(ge=1, le=50)] = 8,
) -> Response:
    """One type of a run: its cells, their confidence, the features that set it apart (one-vs-
    rest effect sizes) with their distributions in the type and in all typed cells, and where
    its cells fall among the published t-types."""
    from patchatlas.celltyping import effect_sizes

    row = _run_row(p, run)
    snap = p.snapshot()
    a = _assigned(p, snap, str(row["name"]))
    sel = a[a["label"] == label]
    if sel.empty:
        raise HTTPException(404, f"run {row['name']!r} has no type {label!r}")
    cells = a["cell"].astype(str)
    feats = pd.concat([snap.ephys, snap.morph], axis=1).reindex(cells)
    feats = feats.loc[:, feats.notna().sum() >= 5]
    es = snap.memo(
        f"celltypes:effects:{row['name']}",
        lambda: effect_sizes(feats, a["label"].to_numpy()) if feats.shape[1] else pd.DataFrame(),
    )
    top = es[es["type"] == label].head(n_features) if len(es) else es
    dists = []
    inside = cells.isin(sel["cell"].astype(str)).to_numpy()
    for r in top.to_dict("records") if len(top) else []:
        col = feats[r["feature"]].to_numpy(dtype=float)
        entry: dict[str, Any] = {str(k): v for k, v in r.items()}
        for key, mask in (("type", inside), ("all", np.ones(len(col), bool))):
            v = col[mask & np.isfinite(col)]
            q = np.percentile(v, [5, 25, 50, 75, 95]).tolist() if len(v) else [None] * 5
            entry[key] = dict(zip(("p05", "q1", "median", "q3", "p95"), q, strict=True))
        dists.append(entry)
    ref = snap.cells[against].reindex(sel["cell"].astype(str))
    counts = ref.fillna("(none)").astype(str).value_counts()
    conf = pd.to_numeric(sel["confidence"], errors="coerce")
    return json_response(
        request,
        {
            "run": row,
            "label": label,
            "n_cells": len(sel),
            "mean_confidence": float(conf.mean()) if conf.notna().any() else None,
            "cells": records(sel[["cell", "confidence"]].head(500)),
            "features": dists,
            "against": against,
            "composition": [{"name": str(k), "n": int(v)} for k, v in counts.items()],
        },
    )


@router.get("/cells/{cell_id:path}/celltypes", tags=["types"])
def cell_celltypes(request: Request, p: Portal, cell_id: str) -> Response:
    """A cell's type assignments (every run): kind, level, method, label, confidence, and the
    run's scores (model provenance)."""
    name = cell_name(p, cell_id)
    try:
        a = CT.cell_type_assignments(p.atlas, cell=name)
    except AtlasError as exc:  # pragma: no cover - cell_name checked it exists
        raise HTTPException(404, str(exc)) from exc
    runs = _runs(p).set_index("name") if len(a) else pd.DataFrame()
    out = []
    for r in a.to_dict("records"):
        info = runs.loc[r["run"]] if r["run"] in runs.index else None
        out.append(
            {
                **r,
                "scores": info["scores"] if info is not None else None,
                "created_at": info["created_at"] if info is not None else None,
            }
        )
    return json_response(request, {"cell_id": name, "assignments": out})
