"""Stored biophysical models: rows of the ``models`` table with ``kind="biophysical"``.

The ``models`` table is shared with the GLIF engine (``kind``, ``name``, ``parameters`` JSON,
``fit_scores`` JSON, ``provenance``); a biophysical row holds:

``parameters``
    ``model_kind`` (``perisomatic`` / ``all_active`` / ``custom``), ``values`` (every model
    parameter by flat key, ``"gbar_NaTs.soma"``), ``fitted`` (the keys the fit varied, with their
    bounds), ``model`` (geometry summary, conditions, source files: :meth:`BiophysModel.info`).
``fit_scores``
    ``errors`` (SD-normalised error per feature), ``total_error``, ``objectives``, ``targets``
    (recorded means and SDs per amplitude, with the recorded sweep numbers), ``features`` (model
    vs data per amplitude and feature), ``sweeps`` (the best model's voltage per target,
    min/max-downsampled, time from the stimulus onset: what the portal overlays on the recorded
    sweeps).

A model stored again under the same cell and name replaces the old row.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sqlalchemy import delete, insert, select

from patchatlas._version import __version__
from patchatlas.atlas import schema as S
from patchatlas.atlas.records import json_safe
from patchatlas.errors import AtlasError

if TYPE_CHECKING:  # pragma: no cover
    from patchatlas.atlas.api import Atlas
    from patchatlas.core.recording import Sweep

__all__ = ["KIND", "biophys_models", "store_biophys_model", "trace_payload"]

#: ``models.kind`` of biophysical models
KIND = "biophysical"
#: points kept per stored model sweep
TRACE_POINTS = 3000
T = S.Base.metadata.tables


def trace_payload(sweep: Sweep, *, points: int = TRACE_POINTS) -> dict[str, Any]:
    """A model sweep as stored: min/max-downsampled voltage, time from the stimulus onset.

    Parameters
    ----------
    sweep
        A simulated sweep (its stimulus window gives the onset).
    points
        About how many points to keep.

    Returns
    -------
    dict
        ``amplitude_pa``, ``t_s`` (s from the stimulus onset), ``v_mv``, ``stimulus_start_s``,
        ``stimulus_end_s`` (on the model's clock).
    """
    v = np.asarray(sweep.v, dtype=np.float64)
    t = np.asarray(sweep.t, dtype=np.float64)
    n = v.size
    if n > points:
        k = max(1, n // max(1, points // 2))
        m = (n // k) * k
        vb = v[:m].reshape(-1, k)
        tb = t[:m].reshape(-1, k)
        imin, imax = vb.argmin(axis=1), vb.argmax(axis=1)
        rows = np.arange(vb.shape[0])
        first = np.minimum(imin, imax)
        second = np.maximum(imin, imax)
        t = np.column_stack([tb[rows, first], tb[rows, second]]).ravel()
        v = np.column_stack([vb[rows, first], vb[rows, second]]).ravel()
    start = float(sweep.stimulus.start)
    onset = start if math.isfinite(start) else 0.0
    return {
        "amplitude_pa": float(sweep.stimulus.amplitude),
        "t_s": np.round(t - onset, 6).tolist(),
        "v_mv": np.round(v, 3).tolist(),
        "stimulus_start_s": start if math.isfinite(start) else None,
        "stimulus_end_s": float(sweep.stimulus.end) if math.isfinite(sweep.stimulus.end) else None,
    }


def store_biophys_model(
    atlas: Atlas,
    cell_id: str | int,
    model: Any,
    *,
    name: str | None = None,
    fit: Any = None,
    sweeps: Sequence[Sweep] = (),
    parameters: Mapping[str, Any] | None = None,
) -> int:
    """Store a biophysical model (and its fit scores) for a cell.

    Parameters
    ----------
    atlas
        The open atlas (writable).
    cell_id
        Cell name or database id.
    model
        The :class:`~patchatlas.models.biophys.BiophysModel` (for a fit: ``fit.model``).
    name
        Model name (default: the model's); a row with the same cell and name is replaced.
    fit
        The :class:`~patchatlas.models.biophys.FitResult` that produced it, if any (scores,
        targets, provenance).
    sweeps
        Model sweeps to keep for the portal's overlay (default: the fit's best-model sweeps).
    parameters
        Extra provenance parameters.

    Returns
    -------
    int
        The ``models`` row id.

    Raises
    ------
    patchatlas.errors.AtlasError
        Read-only atlas, unknown cell.
    """
    atlas.require_writable("store_biophys_model")
    pk, cell_name = atlas._cell_pk(cell_id)
    row_name = str(name or getattr(model, "name", "") or "biophysical")
    info = model.info()
    params: dict[str, Any] = {
        "model_kind": getattr(model, "kind", "custom"),
        "values": dict(model.parameters),
        "model": info,
    }
    scores: dict[str, Any] = {}
    prov_params: dict[str, Any] = {"model": info.get("provenance", {}), **dict(parameters or {})}
    if fit is not None:
        params["fitted"] = fit.provenance.get("bounds", {})
        scores = {
            "errors": dict(fit.errors),
            "total_error": float(fit.total_error),
            "objectives": list(fit.objectives),
            "targets": [t.as_dict() for t in fit.targets],
            "features": fit.feature_table().to_dict(orient="records"),
        }
        prov_params = {**{k: v for k, v in fit.provenance.items() if k != "model"}, **prov_params}
        if not sweeps:
            sweeps = list(getattr(fit, "sweeps", []) or [])
    if sweeps:
        scores["sweeps"] = [trace_payload(s) for s in sweeps]
    with atlas.engine.begin() as conn:
        mo = T["models"]
        conn.execute(
            delete(mo).where((mo.c.cell_id == pk) & (mo.c.name == row_name) & (mo.c.kind == KIND))
        )
        key = conn.execute(
            insert(T["provenance"]).values(
                engine="patchatlas.models.biophys",
                package_version=__version__,
                parameters=json_safe(prov_params),
                created_at=S._now(),
            )
        ).inserted_primary_key
        prov_id = int(key[0]) if key is not None else None
        key = conn.execute(
            insert(mo).values(
                cell_id=pk,
                kind=KIND,
                name=row_name,
                parameters=json_safe(params),
                fit_scores=json_safe(scores),
                provenance_id=prov_id,
            )
        ).inserted_primary_key
    if key is None:
        raise AtlasError(f"store_biophys_model: no id returned for {cell_name}/{row_name}")
    return int(key[0])


def biophys_models(atlas: Atlas, cell_id: str | int | None = None) -> pd.DataFrame:
    """Stored biophysical models, one row each.

    Parameters
    ----------
    atlas
        The open atlas.
    cell_id
        Cell name or id; None for every cell.

    Returns
    -------
    pandas.DataFrame
        ``model_id``, ``cell_id`` (name), ``name``, ``model_kind``, ``total_error``,
        ``n_parameters``, ``parameters`` (dict), ``fit_scores`` (dict).
    """
    mo, c = T["models"], T["cells"]
    stmt = (
        select(
            mo.c.id.label("model_id"),
            c.c.name.label("cell_id"),
            mo.c.name,
            mo.c.parameters,
            mo.c.fit_scores,
        )
        .select_from(mo.join(c, mo.c.cell_id == c.c.id))
        .where(mo.c.kind == KIND)
        .order_by(mo.c.id)
    )
    if cell_id is not None:
        pk, _ = atlas._cell_pk(cell_id)
        stmt = stmt.where(mo.c.cell_id == pk)
    with atlas.engine.connect() as conn:
        res = conn.execute(stmt)
        df = pd.DataFrame(res.fetchall(), columns=list(res.keys()))
    if df.empty:
        return pd.DataFrame(
            columns=[
                "model_id",
                "cell_id",
                "name",
                "model_kind",
                "total_error",
                "n_parameters",
                "parameters",
                "fit_scores",
            ]
        )
    df["model_kind"] = [(p or {}).get("model_kind") for p in df["parameters"]]
    df["total_error"] = [(f or {}).get("total_error") for f in df["fit_scores"]]
    df["n_parameters"] = [len((p or {}).get("fitted") or {}) for p in df["parameters"]]
    return df[
        [
            "model_id",
            "cell_id",
            "name",
            "model_kind",
            "total_error",
            "n_parameters",
            "parameters",
            "fit_scores",
        ]
    ]
