"""Patch-seq views of a cell: its transcriptome against its type, and its features placed on its
type's distributions.

Nothing here computes science: the expression profile is
:func:`patchatlas.transcriptomics.cell_profile` on the matrix the atlas links
(:func:`patchatlas.atlas.portal.read_counts`), the distributions are
:func:`patchatlas.atlas.portal.distribution`.
"""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
import pandas as pd
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response

from patchatlas.atlas import AtlasError
from patchatlas.atlas import portal as Q
from patchatlas.errors import PatchAtlasError
from patchatlas.web.api._common import Portal, cell_name, json_response
from patchatlas.web.service import PortalData, Snapshot, records

__all__ = ["CONTEXT_FEATURES", "router"]

router = APIRouter()

#: the features placed on the type's distribution by default (those the cell has)
CONTEXT_FEATURES: tuple[str, ...] = (
    "vrest",
    "ri",
    "tau",
    "threshold_i_long_square",
    "sag",
    "f_i_curve_slope",
    "upstroke_downstroke_ratio_long_square",
    "threshold_v_long_square",
    "peak_v_long_square",
    "avg_firing_rate",
)
LEVELS = ("t_type", "subclass", "t_type_family")


def _group(snap: Snapshot, name: str, by: str) -> tuple[str | None, pd.Index]:
    value: Any = snap.cells.at[name, by] if name in snap.cells.index else None
    if value is None or pd.isna(value):
        return None, pd.Index([])
    col = snap.cells[by].astype("string")
    return str(value), snap.cells.index[(col == str(value)).fillna(False).to_numpy(dtype=bool)]


def _counts(p: PortalData, snap: Snapshot, link: dict[str, Any]) -> pd.DataFrame:
    key = f"counts:{link['dataset']}"
    counts: pd.DataFrame = snap.memo(key, lambda: Q.read_counts(link["path"], link["format"]))
    return counts


@router.get("/cells/{cell_id:path}/transcriptome", tags=["patchseq"])
def cell_transcriptome(
    request: Request,
    p: Portal,
    cell_id: str,
    by: Annotated[str, Query(pattern="^(t_type|subclass|t_type_family)$")] = "t_type",
    n_top: Annotated[int, Query(ge=0, le=200)] = 20,
) -> Response:
    """A Patch-seq cell's transcriptome: library size, genes detected, t-type with confidence,
    and the marker genes and its most expressed genes (CPM) next to the mean of its type
    (``by``), from the expression matrix the atlas links to it. ``samples`` is empty for a cell
    without a linked transcriptome; ``message`` says why no profile is shown."""
    from patchatlas.core.vocabulary import MARKER_GENES
    from patchatlas.transcriptomics import cell_profile

    name = cell_name(p, cell_id)
    snap = p.snapshot()
    links = Q.cell_transcriptome(p.atlas, name)
    row = snap.cells.loc[name] if name in snap.cells.index else None
    out: dict[str, Any] = {
        "cell_id": name,
        "t_type": None if row is None else row["t_type"],
        "t_type_confidence": None if row is None else row["t_type_confidence"],
        "subclass": None if row is None else row["subclass"],
        "samples": [{k: v for k, v in s.items() if k != "path"} for s in links],
        "by": by,
        "reference": None,
        "genes": [],
        "markers": MARKER_GENES,
        "message": None,
    }
    if not links:
        out["message"] = "no transcriptome is linked to this cell in the atlas"
        return json_response(request, out)
    link = links[0]
    group, members = _group(snap, name, by)
    try:
        counts = _counts(p, snap, link)
        samples = Q.transcriptome_samples(p.atlas, link["dataset"])
        ref = samples[samples["cell_id"].isin(members)] if group is not None else samples[:0]
        lib = pd.Series(samples["library_size"].to_numpy(), index=samples["sample_id"])
        prof = cell_profile(
            counts,
            str(link["sample_id"]),
            ref["sample_id"].astype(str).tolist(),
            library_size=lib,
            markers=list(MARKER_GENES),
            n_top=n_top,
        )
    except PatchAtlasError as exc:
        out["message"] = f"the expression matrix {link['dataset']} cannot be read: {exc}"
        return json_response(request, out)
    out["reference"] = {"level": by, "name": group, "n_cells": len(ref)}
    out["genes"] = records(prof)
    out["units"] = {"cpm": "counts per million reads (library size)"}
    return json_response(request, out)


@router.get("/cells/{cell_id:path}/context", tags=["patchseq"])
def feature_context(
    request: Request,
    p: Portal,
    cell_id: str,
    by: Annotated[str, Query(pattern="^(t_type|subclass|t_type_family)$")] = "t_type",
    features: Annotated[list[str] | None, Query(max_length=40)] = None,
) -> Response:
    """The cell's features placed on the distribution of its type (``by``): per feature the
    group's size, quartiles, a histogram and the cell's percentile, with units."""
    name = cell_name(p, cell_id)
    snap = p.snapshot()
    group, members = _group(snap, name, by)
    units = p.feature_units(snap)
    wanted = list(features or [])
    if not wanted:
        have: list[str] = list(snap.ephys.columns) if name in snap.ephys.index else []
        row: Any = snap.ephys.loc[name] if have else None
        wanted = [f for f in CONTEXT_FEATURES if f in have and pd.notna(row[f])]
    out = []
    for feat in wanted:
        try:
            col = p.feature_column(snap, feat)
        except AtlasError as exc:
            raise HTTPException(400, str(exc)) from exc
        value = col.get(name)
        flags = snap.flags[feat] if feat in snap.flags.columns else None
        grp = col.reindex(members)
        if flags is not None:  # values outside their range are not part of the distribution
            grp = grp[~flags.reindex(grp.index, fill_value=False).to_numpy(dtype=bool)]
        d = Q.distribution(grp.to_numpy(dtype=float), None if value is None else float(value))
        d.update(
            feature=feat,
            unit=units.get(feat),
            flagged=bool(flags.get(name, False)) if flags is not None else False,
        )
        out.append(d)
    return json_response(
        request, {"cell_id": name, "by": by, "group": group, "features": out}, max_age=0
    )


@router.get("/type-summary/{level}/{name:path}", tags=["patchseq"])
def type_summary(
    request: Request,
    p: Portal,
    level: str,
    name: str,
    n_examples: Annotated[int, Query(ge=0, le=100)] = 12,
) -> Response:
    """One cell type (``level``: ``t_type``, ``subclass`` or ``t_type_family``): its cells per
    dataset and species, the distribution of the summary features in the type against all
    cells, and example cells (most data first, then highest t-type confidence)."""
    if level not in LEVELS:
        raise HTTPException(404, f"no type level {level!r}; use one of {', '.join(LEVELS)}")
    snap = p.snapshot()
    col = snap.cells[level].astype("string")
    mask = (col == name).fillna(False).to_numpy(dtype=bool)
    members = snap.cells[mask]
    if members.empty:
        raise HTTPException(404, f"no cell of {level} {name!r} in this atlas")
    units = p.feature_units(snap)
    per_dataset: dict[str, int] = {}
    for ds in members["datasets"]:
        for d in ds or ["(no dataset)"]:
            per_dataset[d] = per_dataset.get(d, 0) + 1
    feats = []
    have = [f for f in CONTEXT_FEATURES if f in snap.ephys.columns]
    for feat in have:
        colv = p.feature_column(snap, feat)
        ok = colv.index
        if feat in snap.flags.columns:
            ok = colv.index[~snap.flags[feat].reindex(colv.index, fill_value=False).to_numpy()]
        allv = colv.reindex(ok).to_numpy(dtype=float)
        inv = colv.reindex(members.index.intersection(ok)).to_numpy(dtype=float)
        d_all = Q.distribution(allv, None)
        d_in = Q.distribution(inv, None, bins=24)
        if d_in["n"] == 0:
            continue
        # both histograms on the same edges: the type's counts over all cells' range
        edges = d_all["edges"]
        fin = inv[np.isfinite(inv)]
        counts: Any = np.histogram(fin, bins=np.asarray(edges))[0] if edges else []
        feats.append(
            {
                "feature": feat,
                "unit": units.get(feat),
                "type": {k: d_in[k] for k in ("n", "q1", "median", "q3")},
                "all": {k: d_all[k] for k in ("n", "q1", "median", "q3")},
                "edges": edges,
                "counts_all": d_all["counts"],
                "counts_type": [int(c) for c in counts],
            }
        )
    score = members[["has_sweeps", "has_morphology", "has_transcriptome", "has_ephys"]]
    order = (
        pd.DataFrame(
            {
                "n": score.sum(axis=1).to_numpy(),
                "conf": pd.to_numeric(members["t_type_confidence"], errors="coerce").fillna(0),
            },
            index=members.index,
        )
        .sort_values(["n", "conf"], ascending=False, kind="stable")
        .index[:n_examples]
    )
    examples = members.loc[order, ["t_type", "subclass", "species", "region", "layer"]]
    ex = records(examples.reset_index())
    for row, (_, m) in zip(ex, members.loc[order].iterrows(), strict=True):
        row["datasets"] = m["datasets"]
        row["data"] = [k for k in ("has_sweeps", "has_morphology", "has_transcriptome") if m[k]]
    return json_response(
        request,
        {
            "level": level,
            "name": name,
            "n_cells": len(members),
            "per_dataset": per_dataset,
            "species": members["species"].astype("string").value_counts().to_dict(),
            "features": feats,
            "examples": ex,
        },
    )
