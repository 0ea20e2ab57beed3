"""Stored cell-type assignments: write and read the ``celltype_*`` tables (revision 0006).

A *run* is one typing of cells — its ``kind`` (``t``, ``e``, ``m``, ``me``), ``level``
(``family``, ``subclass``, ``type``, ``cluster`` ...), ``method`` (``taxonomy_mapping``,
``ttype_classifier``, ``gmm`` ...), the fitted model's description and its cross-validated
scores. Each cell typed by the run gets one assignment: ``label`` and ``confidence``.
Cells are matched by their atlas name; names the atlas does not hold are reported, not stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import delete, func, insert, select

from patchatlas._version import __version__
from patchatlas.atlas import schema as S
from patchatlas.atlas.api import Atlas
from patchatlas.atlas.records import json_safe
from patchatlas.errors import AtlasError

__all__ = [
    "ASSIGNMENT_COLUMNS",
    "KINDS",
    "cell_type_assignments",
    "cell_type_columns",
    "cell_type_runs",
    "store_cell_types",
    "type_summary",
]

T = S.Base.metadata.tables
KINDS = ("t", "e", "m", "me")
ASSIGNMENT_COLUMNS = (
    "run",
    "kind",
    "level",
    "method",
    "cell",
    "label",
    "confidence",
)


def store_cell_types(
    atlas: Atlas,
    assignments: pd.DataFrame,
    *,
    name: str,
    kind: str,
    level: str,
    method: str,
    model: Mapping[str, Any] | None = None,
    scores: Mapping[str, Any] | None = None,
    parameters: Mapping[str, Any] | None = None,
    source: str | None = None,
) -> dict[str, Any]:
    """Store one typing run; a run of the same name is replaced.

    Parameters
    ----------
    atlas
        The open atlas (writable).
    assignments
        Columns ``cell`` (atlas cell name; or the index when there is no ``cell`` column),
        ``label`` and optionally ``confidence`` (0–1).
    name
        Run name (unique in the atlas).
    kind
        ``"t"``, ``"e"``, ``"m"`` or ``"me"``.
    level
        Taxonomy level or ``"cluster"``.
    method
        How the labels were made (``"taxonomy_mapping"``, ``"ttype_classifier"``, ``"gmm"`` ...).
    model
        The model's description (class, parameters, training data) — its provenance.
    scores
        Its evaluation (e.g. cross-validated balanced accuracy with CI).
    parameters
        Other parameters of the run.
    source
        Where the assignments came from (command, file).

    Returns
    -------
    dict
        ``run_id``, ``n_stored``, ``n_unknown`` (cells not in the atlas) and ``unknown``
        (up to 10 of their names).

    Raises
    ------
    patchatlas.errors.AtlasError
        Read-only atlas, an unknown ``kind``, missing columns, or no assignment names a cell
        of the atlas.
    """
    if kind not in KINDS:
        raise AtlasError(f"store_cell_types: kind={kind!r}; use one of {', '.join(KINDS)}")
    df = assignments.copy()
    if "cell" not in df.columns:
        df = df.rename_axis("cell").reset_index()
    if "label" not in df.columns:
        raise AtlasError(
            f"store_cell_types: the assignments lack a 'label' column (have {list(df.columns)})"
        )
    df = df[df["label"].notna()]
    df["cell"] = df["cell"].astype(str)
    df = df.drop_duplicates("cell", keep="last")
    conf = (
        pd.to_numeric(df["confidence"], errors="coerce").to_numpy(dtype=float)
        if "confidence" in df.columns
        else np.full(len(df), np.nan)
    )
    atlas.require_writable("store_cell_types")
    cells = T["cells"]
    with atlas.engine.connect() as conn:
        ids = {r[0]: r[1] for r in conn.execute(select(cells.c.name, cells.c.id))}
    known = df["cell"].isin(set(ids)).to_numpy()
    unknown = df.loc[~known, "cell"].tolist()
    if len(df) and not known.any():
        raise AtlasError(
            f"store_cell_types: none of the {len(df)} cells (e.g. {unknown[:3]}) is in this "
            "atlas; import the dataset first (patchatlas atlas import)"
        )
    rows = [
        {
            "cell_id": int(ids[c]),
            "label": str(lab),
            "confidence": float(v) if np.isfinite(v) else None,
        }
        for c, lab, v in zip(
            df.loc[known, "cell"], df.loc[known, "label"], conf[known], strict=True
        )
    ]
    runs = T["celltype_runs"]
    with atlas.engine.begin() as conn:
        conn.execute(delete(runs).where(runs.c.name == name))
        t = T["celltype_assignments"]  # SQLite without FK cascade
        conn.execute(delete(t).where(t.c.run_id.not_in(select(runs.c.id))))
        key = conn.execute(
            insert(runs).values(
                name=name,
                kind=kind,
                level=level,
                method=method,
                model=json_safe(dict(model or {})),
                scores=json_safe(dict(scores or {})),
                parameters=json_safe(dict(parameters or {})),
                source=source,
                package_version=__version__,
                created_at=S._now(),
            )
        ).inserted_primary_key
        if key is None:
            raise AtlasError(f"store_cell_types: the atlas returned no id for run {name!r}")
        run_id = int(key[0])
        if rows:
            conn.execute(insert(t), [{**r, "run_id": run_id} for r in rows])
    return {
        "run_id": run_id,
        "n_stored": len(rows),
        "n_unknown": len(unknown),
        "unknown": unknown[:10],
    }


def cell_type_runs(atlas: Atlas, *, kind: str | None = None) -> pd.DataFrame:
    """The stored typing runs, oldest first, with their number of assigned cells.

    Parameters
    ----------
    atlas
        The open atlas.
    kind
        Only runs of this kind (``t``, ``e``, ``m``, ``me``).

    Returns
    -------
    pandas.DataFrame
        ``id``, ``name``, ``kind``, ``level``, ``method``, ``model``, ``scores``,
        ``parameters``, ``source``, ``package_version``, ``created_at``, ``n_cells``.
    """
    runs, a = T["celltype_runs"], T["celltype_assignments"]
    stmt = select(runs).order_by(runs.c.id)
    if kind is not None:
        stmt = stmt.where(runs.c.kind == kind)
    with atlas.engine.connect() as conn:
        res = conn.execute(stmt)
        df = pd.DataFrame(res.fetchall(), columns=list(res.keys()))
        counts: dict[Any, int] = dict(
            [
                tuple(r)
                for r in conn.execute(select(a.c.run_id, func.count(a.c.id)).group_by(a.c.run_id))
            ]
        )
    df["n_cells"] = [int(counts.get(i, 0)) for i in df["id"]] if len(df) else []
    return df


def _run_ids(atlas: Atlas, run: str | int | None) -> list[int]:
    runs = cell_type_runs(atlas)
    if run is None:
        return [int(i) for i in runs["id"]] if len(runs) else []
    if runs.empty:
        raise AtlasError(f"no cell-type run {run!r} in this atlas; none is stored")
    hit = runs[(runs["name"] == str(run)) | (runs["id"].astype(str) == str(run))]
    if hit.empty:
        raise AtlasError(
            f"no cell-type run {run!r} in this atlas; stored runs: {runs['name'].tolist()}"
        )
    return [int(hit["id"].iloc[0])]


def cell_type_assignments(
    atlas: Atlas,
    run: str | int | None = None,
    *,
    cell: str | int | None = None,
    kind: str | None = None,
) -> pd.DataFrame:
    """Stored assignments, optionally of one run, one cell or one kind.

    Parameters
    ----------
    atlas
        The open atlas.
    run
        Run name or id (default: all runs).
    cell
        Cell name or database id (default: all cells).
    kind
        Only runs of this kind.

    Returns
    -------
    pandas.DataFrame
        Columns of :data:`ASSIGNMENT_COLUMNS` (``run`` is the run name), in run then cell
        order.

    Raises
    ------
    patchatlas.errors.AtlasError
        No run of that name / id, or no such cell.
    """
    ids = _run_ids(atlas, run)
    cols = list(ASSIGNMENT_COLUMNS)
    if not ids:
        return pd.DataFrame(columns=cols)
    runs, a, c = T["celltype_runs"], T["celltype_assignments"], T["cells"]
    stmt = (
        select(
            runs.c.name.label("run"),
            runs.c.kind,
            runs.c.level,
            runs.c.method,
            c.c.name.label("cell"),
            a.c.label,
            a.c.confidence,
        )
        .select_from(a.join(runs, a.c.run_id == runs.c.id).join(c, a.c.cell_id == c.c.id))
        .where(a.c.run_id.in_(ids))
    )
    if kind is not None:
        stmt = stmt.where(runs.c.kind == kind)
    if cell is not None:
        cond = c.c.id == cell if isinstance(cell, int) else c.c.name == str(cell)
        with atlas.engine.connect() as conn:
            pk = conn.execute(select(c.c.id).where(cond)).scalar()
        if pk is None:
            raise AtlasError(f"no cell {cell!r} in the atlas; list them with atlas.cells()")
        stmt = stmt.where(a.c.cell_id == pk)
    with atlas.engine.connect() as conn:
        res = conn.execute(stmt.order_by(a.c.run_id, a.c.id))
        return pd.DataFrame(res.fetchall(), columns=cols)


def cell_type_columns(atlas: Atlas) -> pd.DataFrame:
    """One column per kind of type, from the latest run of that kind (for facets and colours).

    Parameters
    ----------
    atlas
        The open atlas.

    Returns
    -------
    pandas.DataFrame
        Indexed by cell name; columns ``e_type``, ``m_type``, ``me_type`` and
        ``t_type_predicted`` (kind ``t``), each from the newest run of its kind (missing
        where the cell has no assignment).
    """
    names = {"e": "e_type", "m": "m_type", "me": "me_type", "t": "t_type_predicted"}
    runs = cell_type_runs(atlas)
    out = pd.DataFrame(columns=list(names.values()), dtype="string")
    if runs.empty:
        return out
    parts = []
    for kind, col in names.items():
        sel = runs[runs["kind"] == kind]
        if sel.empty:
            continue
        a = cell_type_assignments(atlas, int(sel["id"].iloc[-1]))
        parts.append(a.set_index("cell")["label"].astype("string").rename(col))
    if not parts:
        return out
    wide = pd.concat(parts, axis=1)
    return wide.reindex(columns=list(names.values())).astype("string")


def type_summary(atlas: Atlas, run: str | int) -> pd.DataFrame:
    """Per type of one run: number of cells and confidence.

    Parameters
    ----------
    atlas
        The open atlas.
    run
        Run name or id.

    Returns
    -------
    pandas.DataFrame
        ``label``, ``n_cells``, ``mean_confidence``, ``median_confidence``, largest first.
    """
    a = cell_type_assignments(atlas, run)
    if a.empty:
        return pd.DataFrame(columns=["label", "n_cells", "mean_confidence", "median_confidence"])
    conf = pd.to_numeric(a["confidence"], errors="coerce")
    g = conf.groupby(a["label"])
    df = pd.DataFrame(
        {
            "n_cells": a.groupby("label").size(),
            "mean_confidence": g.mean(),
            "median_confidence": g.median(),
        }
    )
    df = df.sort_values("n_cells", ascending=False).rename_axis("label").reset_index()
    return df
