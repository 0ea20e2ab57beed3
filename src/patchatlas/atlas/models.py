"""Fitted neuron models in the atlas: write and read the ``models`` table.

A model record is a plain dict: ``kind`` (``"glif"``, ``"biophys"`` ...), ``name`` (``"GLIF3"``),
``parameters`` (for GLIF the Allen ``neuron_config``) and ``fit_scores`` (train and held-out
scores, identifiability notes). Storing the models of one kind for a cell replaces that cell's
earlier models of the same kind (one provenance row per call: engine ``models:<kind>``, package
version, fitting parameters). The table is used as it is (no schema change).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
from sqlalchemy import delete, insert, select

from patchatlas.atlas import schema as S
from patchatlas.atlas.api import Atlas
from patchatlas.atlas.records import json_safe
from patchatlas.atlas.store import get_or_create_cell, insert_provenance
from patchatlas.errors import AtlasError

__all__ = ["read_models", "store_models"]

T = S.Base.metadata.tables


def store_models(
    atlas: Atlas,
    cell_id: str,
    records: Sequence[Mapping[str, Any]],
    *,
    kind: str,
    provenance: Mapping[str, Any] | None = None,
) -> list[int]:
    """Store a cell's fitted models of one kind, replacing the ones stored before.

    Parameters
    ----------
    atlas
        The open atlas (writable).
    cell_id
        The cell's name (created when the atlas does not hold it yet).
    records
        Model records: ``name``, ``parameters`` (dict), ``fit_scores`` (dict); a record's
        ``kind``, when given, must equal ``kind``.
    kind
        The model family (``"glif"``); earlier models of this kind of the cell are removed.
    provenance
        How the models were fitted (stored with the package version).

    Returns
    -------
    list of int
        The new model ids.

    Raises
    ------
    patchatlas.errors.AtlasError
        The atlas is read-only, or a record is malformed.
    """
    atlas.require_writable("store_models")
    if not kind or not isinstance(kind, str):
        raise AtlasError(f"store_models: kind must be a non-empty string, got {kind!r}")
    rows = []
    for r in records:
        if not isinstance(r, Mapping) or not isinstance(r.get("parameters", {}), Mapping):
            raise AtlasError(
                f"store_models({cell_id!r}): a model record must be a dict with a 'parameters' "
                f"dict, got {type(r).__name__}"
            )
        if r.get("kind", kind) != kind:
            raise AtlasError(
                f"store_models({cell_id!r}): record of kind {r.get('kind')!r} in a {kind!r} call"
            )
        rows.append(
            {
                "kind": kind,
                "name": None if r.get("name") is None else str(r["name"]),
                "parameters": json_safe(dict(r.get("parameters") or {})),
                "fit_scores": json_safe(dict(r.get("fit_scores") or {})),
            }
        )
    mo = T["models"]
    ids: list[int] = []
    with atlas.engine.begin() as conn:
        pk = get_or_create_cell(conn, str(cell_id), {})
        conn.execute(delete(mo).where(mo.c.cell_id == pk, mo.c.kind == kind))
        if not rows:
            return ids
        prov = insert_provenance(conn, f"models:{kind}", dict(provenance or {}))
        for row in rows:
            res = conn.execute(insert(mo).values(cell_id=pk, provenance_id=prov, **row))
            key = res.inserted_primary_key
            if key is None:
                raise AtlasError(f"store_models({cell_id!r}): the atlas returned no model id")
            ids.append(int(key[0]))
    return ids


def read_models(
    atlas: Atlas, cell_id: str | int | None = None, *, kind: str | None = None
) -> pd.DataFrame:
    """Stored models, with their provenance.

    Parameters
    ----------
    atlas
        The open atlas.
    cell_id
        A cell's name or id (default: every cell).
    kind
        Only models of this kind (``"glif"``).

    Returns
    -------
    pandas.DataFrame
        ``model_id, cell_id (name), kind, name, parameters, fit_scores, package_version,
        fitted_with`` (the provenance parameters), ``created_at``; dict columns hold dicts.

    Raises
    ------
    patchatlas.errors.AtlasError
        ``cell_id`` names no cell.
    """
    mo, c, pv = T["models"], T["cells"], T["provenance"]
    stmt = (
        select(
            mo.c.id.label("model_id"),
            c.c.name.label("cell_id"),
            mo.c.kind,
            mo.c.name,
            mo.c.parameters,
            mo.c.fit_scores,
            pv.c.package_version,
            pv.c.parameters.label("fitted_with"),
            pv.c.created_at,
        )
        .select_from(mo.join(c, mo.c.cell_id == c.c.id))
        .outerjoin(pv, mo.c.provenance_id == pv.c.id)
        .order_by(c.c.name, mo.c.name, mo.c.id)
    )
    if kind is not None:
        stmt = stmt.where(mo.c.kind == kind)
    with atlas.engine.connect() as conn:
        if cell_id is not None:
            col = c.c.id if isinstance(cell_id, int) else c.c.name
            pk = conn.execute(select(c.c.id).where(col == cell_id)).scalar_one_or_none()
            if pk is None:
                raise AtlasError(f"no cell {cell_id!r} in this atlas")
            stmt = stmt.where(mo.c.cell_id == pk)
        res = conn.execute(stmt)
        return pd.DataFrame(res.fetchall(), columns=list(res.keys()))
