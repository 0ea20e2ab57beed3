"""Biophysical models: the stored fits (``/models/biophysical``) and, per cell, the stored model
sweeps the cell page overlays on the recorded ones (``/cells/{id}/models/biophysical``).

Nothing is simulated here: the model traces are the ones stored with the fit
(:func:`patchatlas.atlas.models_biophys.store_biophys_model`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from patchatlas.atlas.models_biophys import biophys_models
from patchatlas.web.api._common import (
    Limit,
    Offset,
    PageOut,
    Portal,
    cell_name,
    json_response,
    page,
)

__all__ = ["router"]

router = APIRouter()


def _summary(row: Mapping[Any, Any]) -> dict[str, Any]:
    params = row.get("parameters") or {}
    scores = row.get("fit_scores") or {}
    fitted = params.get("fitted") or {}
    values = params.get("values") or {}
    return {
        "model_id": row["model_id"],
        "cell_id": row["cell_id"],
        "name": row["name"],
        "model_kind": row["model_kind"],
        "total_error": scores.get("total_error"),
        "n_fitted": len(fitted),
        "fitted": {k: values.get(k) for k in fitted},
        "errors": scores.get("errors", {}),
        "backend": ((params.get("model") or {}).get("provenance") or {}).get("backend"),
    }


@router.get("/models/biophysical", tags=["models"], response_model=PageOut)
def list_biophys_models(
    request: Request, p: Portal, offset: Offset = 0, limit: Limit = 100
) -> Response:
    """Stored biophysical models of all cells: fitted conductances and feature errors, paged."""
    df = biophys_models(p.atlas)
    rows = [_summary(r) for r in df.to_dict(orient="records")]
    return json_response(request, page(len(rows), offset, limit, rows[offset : offset + limit]))


@router.get("/cells/{cell_id:path}/models/biophysical", tags=["models"])
def cell_biophys_models(request: Request, p: Portal, cell_id: str) -> Response:
    """A cell's biophysical models with the stored model sweeps (time from the stimulus onset,
    mV) and the recorded sweep numbers each was fitted to, for the model-vs-data overlay."""
    name = cell_name(p, cell_id)
    out = []
    for r in biophys_models(p.atlas, name).to_dict(orient="records"):
        scores = r.get("fit_scores") or {}
        targets = scores.get("targets") or []
        sweeps = scores.get("sweeps") or []
        for k, s in enumerate(sweeps):
            s["data_sweeps"] = targets[k].get("sweeps", []) if k < len(targets) else []
        out.append({**_summary(r), "features": scores.get("features", []), "sweeps": sweeps})
    return json_response(request, {"cell_id": name, "models": out})
