"""The ``allen`` convention: the Allen Cell Types Database whole-cell ``nr__`` features.

Over all neurites (types 2, 3, 4); compartments need both ends selected, soma→stem compartments
are excluded from lengths, the root branch has order 1, contraction is Σ euclidean / Σ path, max
path includes the soma→first-node compartment. Definitions: :mod:`patchatlas.morphology.registry`.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from patchatlas.morphology._forest import Forest
from patchatlas.morphology._measures import bif_angles, contraction, lengths

FloatArray = npt.NDArray[np.float64]
#: node types the Allen features run over (axon, basal and apical dendrite)
ALLEN_NEURITES = (2, 3, 4)


def allen_features(f: Forest) -> dict[str, FloatArray]:
    v = f.view(ALLEN_NEURITES)
    out: dict[str, FloatArray] = {}
    out["number_nodes"] = f.count(v.mask)
    stems = f.neurite & f.has & (f.pp == f.root[f.cell]) & f.soma[f.root][f.cell]
    out["number_stems"] = f.count(stems)
    out["number_tips"] = f.count(v.tips)
    extra = np.where(v.bif, v.nch - 1, 0).astype(np.float64)
    out["number_bifurcations"] = f.sum(extra, v.bif)
    out["number_branches"] = f.count(v.roots) + 2.0 * out["number_bifurcations"]
    out["max_branch_order"] = f.max(f.order_full, v.mask)
    out.update(lengths(f, v.comp, prefix=""))
    out["average_diameter"] = 2.0 * f.mean(f.r, v.mask)
    for ax, nm in enumerate(("overall_width", "overall_height", "overall_depth")):
        out[nm] = f.max(f.xyz[:, ax], v.mask) - f.min(f.xyz[:, ax], v.mask)
    out["max_euclidean_distance"] = f.max(f.dist, v.mask)
    out["max_path_distance"] = f.max(f.path_full, v.mask)
    out["average_contraction"] = contraction(f, v)
    ends, starts, _ = v.branches()
    nonstem = v.parent[starts] >= 0
    in_nonstem = v.comp & v.mask
    bo = v.branch_of
    in_nonstem = in_nonstem & (v.parent[np.maximum(bo, 0)] >= 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["average_fragmentation"] = f.count(in_nonstem) / f.count_rows(ends[nonstem])
        ratio_ok = v.comp & (f.r > 0)
        out["average_parent_daughter_ratio"] = f.mean(
            f.r[f.pp] / np.where(f.r > 0, f.r, 1.0), ratio_ok
        )
    loc, rem, rows = bif_angles(f, v.parent, v.nch, v.mask, v.branch_end)
    out["average_bifurcation_angle_local"] = f.mean_rows(rows, loc)
    out["average_bifurcation_angle_remote"] = f.mean_rows(rows, rem)
    out["soma_surface"] = 4.0 * np.pi * f.r[f.root] ** 2 * np.where(f.soma[f.root], 1.0, np.nan)
    return out
