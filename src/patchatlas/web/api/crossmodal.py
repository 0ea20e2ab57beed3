"""Expression → physiology results stored in the atlas: R² per feature per regime, and the
out-of-fold predictions behind the predicted-vs-observed plots."""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
import pandas as pd
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from patchatlas.atlas import crossmodal as X
from patchatlas.web.api._common import Portal, json_response
from patchatlas.web.service import records

__all__ = ["router"]

router = APIRouter()


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
