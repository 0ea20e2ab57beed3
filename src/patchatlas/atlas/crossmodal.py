"""Stored expression → physiology results: write and read the ``crossmodal_*`` tables.

The scores are the tidy table of :func:`patchatlas.crossmodal.cross_validate` (and of
``results.csv`` from ``patchatlas crossmodal benchmark``); the optional predictions are the
long table of :func:`patchatlas.crossmodal.prediction_table` (``predictions.csv``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import delete, insert, select

from patchatlas._version import __version__
from patchatlas.atlas import schema as S
from patchatlas.atlas.api import Atlas
from patchatlas.atlas.records import json_safe
from patchatlas.errors import AtlasError

__all__ = [
    "PREDICTION_COLUMNS",
    "SCORE_COLUMNS",
    "crossmodal_predictions",
    "crossmodal_runs",
    "crossmodal_scores",
    "store_crossmodal",
    "store_crossmodal_report",
]

SCORE_COLUMNS = ("dataset", "regime", "model", "feature", "repeat", "r2", "r", "within_type_r2")
PREDICTION_COLUMNS = ("regime", "model", "feature", "cell", "t_type", "observed", "predicted")
T = S.Base.metadata.tables


def _floats(s: pd.Series) -> list[float | None]:
    arr = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float)
    return [float(v) if np.isfinite(v) else None for v in arr]


def _strs(s: pd.Series) -> list[str | None]:
    return [None if pd.isna(v) else str(v) for v in s.tolist()]


def _check(df: pd.DataFrame, required: Sequence[str], what: str) -> None:
    if not isinstance(df, pd.DataFrame):
        raise AtlasError(f"store_crossmodal: {what} must be a DataFrame, got {type(df).__name__}")
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise AtlasError(
            f"store_crossmodal: the {what} table lacks columns {missing} (has "
            f"{list(df.columns)}); pass the tidy results of `patchatlas crossmodal benchmark`"
        )


def store_crossmodal(
    atlas: Atlas,
    scores: pd.DataFrame,
    predictions: pd.DataFrame | None = None,
    *,
    name: str | None = None,
    source: str | None = None,
    parameters: Mapping[str, Any] | None = None,
) -> int:
    """Store one benchmark's scores (and optional predictions); a run of the same name is replaced.

    Parameters
    ----------
    atlas
        The open atlas.
    scores
        Columns dataset, regime, model, feature, repeat, r2, r, within_type_r2 (``dataset`` and
        ``within_type_r2`` may be missing).
    predictions
        Columns regime, model, feature, cell, t_type, observed, predicted (``t_type`` optional).
    name
        Run name (default: the dataset name, else ``"crossmodal"``).
    source, parameters
        Where the results came from and how they were computed (provenance).

    Returns
    -------
    int
        The run id.
    """
    _check(scores, ("regime", "model", "feature", "r2"), "scores")
    if predictions is not None:
        _check(
            predictions,
            ("regime", "model", "feature", "cell", "observed", "predicted"),
            "predictions",
        )
    datasets: Any = scores["dataset"].dropna().astype(str).unique() if "dataset" in scores else []
    dataset = ", ".join(sorted(datasets)) or None
    run_name = name or dataset or "crossmodal"
    sc = scores.reset_index(drop=True)
    n = len(sc)
    repeat = (
        pd.to_numeric(sc["repeat"], errors="coerce") if "repeat" in sc else pd.Series([np.nan] * n)
    )
    score_rows = [
        {
            "regime": rg,
            "model": md,
            "feature": ft,
            "repeat": None if not np.isfinite(rp) else int(rp),
            "r2": r2,
            "r": r,
            "within_type_r2": wt,
        }
        for rg, md, ft, rp, r2, r, wt in zip(
            _strs(sc["regime"]),
            _strs(sc["model"]),
            _strs(sc["feature"]),
            repeat.to_numpy(dtype=float),
            _floats(sc["r2"]),
            _floats(sc["r"]) if "r" in sc else [None] * n,
            _floats(sc["within_type_r2"]) if "within_type_r2" in sc else [None] * n,
            strict=True,
        )
    ]
    atlas.require_writable("store_crossmodal")
    with atlas.engine.begin() as conn:
        runs = T["crossmodal_runs"]
        conn.execute(delete(runs).where(runs.c.name == run_name))
        for tname in ("crossmodal_scores", "crossmodal_predictions"):  # SQLite without FK cascade
            t = T[tname]
            conn.execute(delete(t).where(t.c.run_id.not_in(select(runs.c.id))))
        key = conn.execute(
            insert(runs).values(
                name=run_name,
                dataset=dataset,
                source=source,
                parameters=json_safe(dict(parameters or {})),
                package_version=__version__,
                created_at=S._now(),
            )
        ).inserted_primary_key
        if key is None:
            raise AtlasError(f"store_crossmodal: the atlas returned no id for run {run_name!r}")
        run_id = int(key[0])
        if score_rows:
            conn.execute(
                insert(T["crossmodal_scores"]), [{**r, "run_id": run_id} for r in score_rows]
            )
        if predictions is not None and len(predictions):
            pr = predictions.reset_index(drop=True)
            tt = _strs(pr["t_type"]) if "t_type" in pr else [None] * len(pr)
            rows = [
                {
                    "run_id": run_id,
                    "regime": a,
                    "model": b,
                    "feature": c,
                    "cell_name": d,
                    "t_type": e,
                    "observed": f,
                    "predicted": g,
                }
                for a, b, c, d, e, f, g in zip(
                    _strs(pr["regime"]),
                    _strs(pr["model"]),
                    _strs(pr["feature"]),
                    _strs(pr["cell"]),
                    tt,
                    _floats(pr["observed"]),
                    _floats(pr["predicted"]),
                    strict=True,
                )
            ]
            conn.execute(insert(T["crossmodal_predictions"]), rows)
    return run_id


def store_crossmodal_report(
    atlas: Atlas,
    report: Any,
    *,
    cells: Sequence[str] | None = None,
    name: str | None = None,
    repeat: int = 0,
) -> int:
    """Store a :class:`patchatlas.crossmodal.BenchmarkReport`: its scores and the out-of-fold
    predictions of CV repeat ``repeat`` (``cells``: names in the dataset's row order).

    Parameters
    ----------
    atlas
        The open atlas (writable).
    report
        Output of :func:`patchatlas.crossmodal.run_benchmark`.
    cells
        Cell names in the row order of the benchmark's dataset (default ``cell_0`` ...).
    name
        Run name (default: the dataset name); a run of the same name is replaced.
    repeat
        Which CV repeat's predictions to store.

    Returns
    -------
    int
        The run id; the CV parameters are stored as its provenance.

    Raises
    ------
    patchatlas.errors.DataError
        ``cells`` of the wrong length, or ``repeat`` out of range.
    patchatlas.errors.AtlasError
        The atlas is open read-only.
    """
    from patchatlas.crossmodal import prediction_table

    pred = prediction_table(report.result, cells=cells, repeat=repeat)
    return store_crossmodal(
        atlas,
        report.scores,
        pred,
        name=name,
        source="patchatlas.crossmodal.run_benchmark",
        parameters=dict(report.result.params),
    )


def crossmodal_runs(atlas: Atlas) -> pd.DataFrame:
    """The stored runs (id, name, dataset, source, parameters, package_version, created_at).

    Parameters
    ----------
    atlas
        The open atlas.

    Returns
    -------
    pandas.DataFrame
        One row per run, oldest first.
    """
    t = T["crossmodal_runs"]
    with atlas.engine.connect() as conn:
        res = conn.execute(select(t).order_by(t.c.id))
        return pd.DataFrame(res.fetchall(), columns=list(res.keys()))


def _run_id(atlas: Atlas, run: str | int | None) -> int | None:
    runs = crossmodal_runs(atlas)
    if runs.empty:
        return None
    if run is None:
        return int(runs["id"].iloc[-1])
    hit = runs[(runs["name"] == str(run)) | (runs["id"].astype(str) == str(run))]
    if hit.empty:
        raise AtlasError(
            f"no crossmodal run {run!r} in this atlas; stored runs: {runs['name'].tolist()}"
        )
    return int(hit["id"].iloc[0])


def crossmodal_scores(atlas: Atlas, run: str | int | None = None) -> pd.DataFrame:
    """Scores of one run (default: the latest): regime, model, feature, repeat, r2, r,
    within_type_r2 (empty when none is stored).

    Parameters
    ----------
    atlas
        The open atlas.
    run
        Run name or id (default: the latest run).

    Returns
    -------
    pandas.DataFrame
        The scores, in stored order.

    Raises
    ------
    patchatlas.errors.AtlasError
        No run of that name or id.
    """
    cols = ["regime", "model", "feature", "repeat", "r2", "r", "within_type_r2"]
    rid = _run_id(atlas, run)
    if rid is None:
        return pd.DataFrame(columns=cols)
    t = T["crossmodal_scores"]
    with atlas.engine.connect() as conn:
        res = conn.execute(
            select(*[t.c[c] for c in cols]).where(t.c.run_id == rid).order_by(t.c.id)
        )
        return pd.DataFrame(res.fetchall(), columns=cols)


def crossmodal_predictions(
    atlas: Atlas,
    run: str | int | None = None,
    *,
    feature: str | None = None,
    regime: str | None = None,
    model: str | None = None,
) -> pd.DataFrame:
    """Stored predictions of one run (default: the latest), optionally of one feature / regime /
    model: regime, model, feature, cell, t_type, observed, predicted.

    Parameters
    ----------
    atlas
        The open atlas.
    run
        Run name or id (default: the latest run).
    feature, regime, model
        Keep only the rows with this feature / regime / model (``None``: all).

    Returns
    -------
    pandas.DataFrame
        The predictions (empty when none are stored), in stored order.

    Raises
    ------
    patchatlas.errors.AtlasError
        No run of that name or id.
    """
    cols = list(PREDICTION_COLUMNS)
    rid = _run_id(atlas, run)
    if rid is None:
        return pd.DataFrame(columns=cols)
    t = T["crossmodal_predictions"]
    stmt = select(
        t.c.regime, t.c.model, t.c.feature, t.c.cell_name, t.c.t_type, t.c.observed, t.c.predicted
    ).where(t.c.run_id == rid)
    for col, val in (("feature", feature), ("regime", regime), ("model", model)):
        if val is not None:
            stmt = stmt.where(t.c[col] == val)
    with atlas.engine.connect() as conn:
        res = conn.execute(stmt.order_by(t.c.id))
        return pd.DataFrame(res.fetchall(), columns=cols)
