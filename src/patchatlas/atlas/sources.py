"""Cell-level features with the engine that stored them: what patchatlas computed (``ephys``,
``morphology``) next to what was imported (``import:<dataset>``, e.g. Allen's own features of
fetched Allen cells), for cell-by-cell comparisons.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from sqlalchemy import literal, select, union_all

from patchatlas.atlas import schema as S
from patchatlas.atlas.api import Atlas

__all__ = ["features_by_engine"]

T = S.Base.metadata.tables


def features_by_engine(
    atlas: Atlas,
    *,
    cells: Sequence[str] | None = None,
    engines: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Cell-level ephys and morphology features, each with the engine that stored it.

    Parameters
    ----------
    atlas
        The atlas.
    cells
        Only these cells (names).
    engines
        Only these engines (``"ephys"``, ``"morphology"``, ``"import:allen_celltypes"`` ...).

    Returns
    -------
    pandas.DataFrame
        ``cell_id`` (name), ``kind`` (``"ephys"`` / ``"morphology"``), ``name``, ``value``
        (registry unit), ``unit``, ``native_name``, ``engine``; in storage order.
    """
    c, p = T["cells"], T["provenance"]
    f = T["ephys_features"]
    m, mf = T["morphologies"], T["morphology_features"]
    ephys = (
        select(
            c.c.name.label("cell_id"),
            literal("ephys").label("kind"),
            f.c.name,
            f.c.value,
            f.c.unit,
            f.c.native_name,
            p.c.engine,
            f.c.id.label("row"),
        )
        .select_from(f.join(c, f.c.cell_id == c.c.id).outerjoin(p, f.c.provenance_id == p.c.id))
        .where(f.c.level == "cell")
    )
    morph = select(
        c.c.name.label("cell_id"),
        literal("morphology").label("kind"),
        mf.c.name,
        mf.c.value,
        mf.c.unit,
        mf.c.native_name,
        p.c.engine,
        mf.c.id.label("row"),
    ).select_from(
        mf.join(m, mf.c.morphology_id == m.c.id)
        .join(c, m.c.cell_id == c.c.id)
        .outerjoin(p, mf.c.provenance_id == p.c.id)
    )
    if cells is not None:
        ephys = ephys.where(c.c.name.in_(list(cells)))
        morph = morph.where(c.c.name.in_(list(cells)))
    if engines is not None:
        ephys = ephys.where(p.c.engine.in_(list(engines)))
        morph = morph.where(p.c.engine.in_(list(engines)))
    stmt = union_all(ephys, morph)
    with atlas.engine.connect() as conn:
        res = conn.execute(stmt)
        df = pd.DataFrame(res.fetchall(), columns=list(res.keys()))
    if df.empty:
        return pd.DataFrame(
            columns=["cell_id", "kind", "name", "value", "unit", "native_name", "engine"]
        )
    df["value"] = pd.to_numeric(df["value"], errors="coerce").astype(float)
    df = df.sort_values(["kind", "row"], kind="stable").drop(columns="row")
    return df.reset_index(drop=True)
