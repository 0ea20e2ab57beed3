"""Models and cell types: fitted models (per cell and all), the GLIF models' held-out scores and
their voltage over a recorded sweep, cell counts per transcriptomic class, and a feature's
distribution per class.

The GLIF trace is :meth:`patchatlas.models.glif.GlifModel.simulate` of the stored model on the
sweep's recorded stimulus (the library's simulation; nothing is fitted here)."""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
import pandas as pd
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response

from patchatlas.atlas import AtlasError
from patchatlas.atlas import portal as Q
from patchatlas.errors import PatchAtlasError
from patchatlas.web import traces
from patchatlas.web.api._common import (
    Limit,
    Offset,
    PageOut,
    Portal,
    cell_name,
    json_response,
    load_sweep,
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


#: the held-out scores the GLIF table shows (keys of the stored ``fit_scores["test"]``)
GLIF_SCORES = ("count_relative", "gamma_4ms", "ev_4ms", "ev_10ms", "ev_ratio_10ms")


def _glif_rows(df: pd.DataFrame) -> list[dict[str, Any]]:
    rows = []
    for r in df.to_dict("records"):
        fs: dict[str, Any] = r["fit_scores"] if isinstance(r["fit_scores"], dict) else {}
        test = fs.get("test") or {}
        base = fs.get("baseline_test") or {}
        rows.append(
            {
                "model_id": int(r["model_id"]),
                "cell_id": r["cell_id"],
                "name": r["name"],
                **{f"test_{k}": test.get(k) for k in GLIF_SCORES},
                "lif_count_relative": base.get("count_relative"),
                "lif_ev_10ms": base.get("ev_10ms"),
                "test_sweeps": fs.get("test_sweeps") or [],
                "identifiability": fs.get("identifiability", ""),
            }
        )
    return rows


@router.get("/models/glif", tags=["models"])
def glif_models(
    request: Request,
    p: Portal,
    cell: Annotated[str | None, Query(max_length=300)] = None,
) -> Response:
    """GLIF models with their held-out scores next to the plain LIF's (per cell and level)."""
    name = cell_name(p, cell) if cell else None
    df = Q.models(p.atlas, name)
    df = df[df["kind"] == "glif"] if len(df) else df
    return json_response(request, {"cell_id": name, "models": _glif_rows(df)})


@router.get("/cells/{cell_id:path}/models/{model_id}/trace", tags=["models"])
def glif_trace(
    request: Request,
    p: Portal,
    cell_id: str,
    model_id: int,
    sweep: Annotated[int | None, Query(ge=0)] = None,
    points: Annotated[int, Query(ge=100, le=20000)] = 2000,
) -> Response:
    """A stored GLIF model's voltage and spikes over a recorded sweep (default: its last
    held-out sweep): the model simulated on the sweep's recorded stimulus."""
    from patchatlas.models.glif import GlifModel

    name = cell_name(p, cell_id)
    df = Q.models(p.atlas, name)
    row = df[(df["model_id"] == model_id) & (df["kind"] == "glif")]
    if row.empty:
        raise HTTPException(404, f"cell {name!r} has no GLIF model {model_id}")
    rec = row.iloc[0]
    scores = rec["fit_scores"] if isinstance(rec["fit_scores"], dict) else {}
    table = p.atlas.sweeps(name).table
    held = list(scores.get("test_sweeps") or [])
    wanted = sweep if sweep is not None else (held[-1] if held else None)
    if wanted is None:
        raise HTTPException(
            400, f"cell {name!r}: give ?sweep=NUMBER (the model has no held-out sweep)"
        )
    hit = np.flatnonzero(table["number"].to_numpy() == wanted)
    if not len(hit):
        raise HTTPException(404, f"cell {name!r} has no sweep number {wanted}")
    index = int(hit[0])
    sw = load_sweep(p, name, index, table.iloc[index])
    if sw.i is None:
        raise HTTPException(
            400, f"cell {name!r}: sweep {wanted} has no current trace to drive the model"
        )
    try:
        model = GlifModel.from_allen_config(rec["parameters"], where=f"model {model_id}")
        sim = model.simulate(np.asarray(sw.i, float), sw.dt, v_init=float(sw.v[0]))
    except PatchAtlasError as exc:
        raise HTTPException(400, f"cell {name!r}, model {model_id}: {exc}") from exc
    t = sw.t0 + np.arange(sw.n_samples) * sw.dt
    td, (vd, vm, th) = traces.downsample(
        t, [np.asarray(sw.v, float), sim.voltage, sim.threshold], points
    )
    return json_response(
        request,
        {
            "cell_id": name,
            "model_id": model_id,
            "name": rec["name"],
            "sweep_number": wanted,
            "sweep_index": index,
            "held_out": wanted in (scores.get("test_sweeps") or []),
            "t": traces.clean(td, 5),
            "v_data": traces.clean(vd, 2),
            "v_model": traces.clean(vm, 2),
            "threshold": traces.clean(th, 2),
            "model_spike_times": traces.clean(sim.spike_times + sw.t0, 5),
            "test_scores": scores.get("test") or {},
        },
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
