"""Morphology features through a registry with a convention tag per feature.

Three conventions, each a complete, documented set (list them with :func:`feature_registry`):

``allen``
    The Allen Cell Types Database whole-cell table (the ``nr__`` fields, named without the
    prefix), over all neurites (types 2, 3, 4), with the Allen conventions: compartments need both
    ends selected, soma→stem compartments are excluded from lengths, the root branch has order 1,
    contraction is Σ euclidean / Σ path, max path includes the soma→first-node compartment.
    21 of the 22 ``nr__`` columns: ``hausdorff_dimension`` (an L-Measure fractal dimension that
    neither neuron_morphology nor NeuroM computes) is not provided, because no exact definition
    or reference values are available here to validate one against.
``gouwens``
    The per-compartment skeleton_keys set of Gouwens et al. 2019/2020, with column names exactly
    as in skeleton_keys' wide feature tables (``axon_total_length``, ``basal_dendrite_bias_y``,
    ``none_early_branch_path``, ``soma_surface_area`` ...). Computed on upright, unscaled
    morphologies; depth features need the layer-aligned morphology (``aligned=``) and, for the
    PCs, several cells (:func:`features_table`) or stored loadings.
``neurom``
    NeuroM 4 definitions on the whole morphology (sections split at forks, root section order
    0, radial distance to section ends, contraction = mean of 1/tortuosity, NeuroM soma models).

Same name, different number is expected across conventions; ``differs`` in the registry says how.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from patchatlas.core.morphology import AXON, BASAL, Morphology, MorphologySet
from patchatlas.core.tree import (
    AUTO,
    ancestor_sum,
    chain_runs,
    nearest_marked_ancestor,
)
from patchatlas.errors import DataError
from patchatlas.morphology._forest import Forest, angle, frustum_area, frustum_volume
from patchatlas.morphology.depth import (
    depth_profiles,
    earth_movers_distance,
    overlap_fractions,
)

if TYPE_CHECKING:
    from patchatlas.morphology._depth_pca import DepthProfilePCA

__all__ = [
    "CONVENTIONS",
    "FeatureSpec",
    "feature_registry",
    "features",
    "features_table",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
CONVENTIONS = ("allen", "gouwens", "neurom")
ALLEN_NEURITES = (2, 3, 4)


@dataclass(frozen=True)
class FeatureSpec:
    """One registry entry.

    Attributes
    ----------
    name
        Output key.
    convention
        ``"allen"``, ``"gouwens"`` or ``"neurom"``.
    unit
        ``"µm"``, ``"µm²"``, ``"µm³"``, ``"rad"``, ``"count"``, ``"bins"``, ``"1"``.
    definition
        One-line definition.
    compartment
        ``axon``, ``basal_dendrite``, ``apical_dendrite``, ``all`` (neurites), ``soma``.
    requires
        Inputs needed beyond the node table (``"layer_aligned"``, ``"population"``).
    differs
        How the same name differs in another convention (empty when it does not).
    """

    name: str
    convention: str
    unit: str
    definition: str
    compartment: str = "all"
    requires: tuple[str, ...] = ()
    differs: str = ""


REGISTRY: dict[str, dict[str, FeatureSpec]] = {c: {} for c in CONVENTIONS}


def _reg(conv: str, name: str, unit: str, definition: str, **kw: Any) -> None:
    REGISTRY[conv][name] = FeatureSpec(name, conv, unit, definition, **kw)


# ---------------------------------------------------------------------------- allen registry
for _n, _u, _d, _x in [
    ("number_nodes", "count", "nodes of types 2-4", ""),
    ("number_stems", "count", "children of the soma root node", ""),
    ("number_tips", "count", "selected nodes without selected children", ""),
    (
        "number_bifurcations",
        "count",
        "Σ (children − 1) over branching nodes (a trifurcation counts 2)",
        "neurom counts sections with exactly 2 children",
    ),
    (
        "number_branches",
        "count",
        "roots + 2·(children − 1) per branching node (trifurcation = 2 bifurcations)",
        "neurom number_of_sections counts children, not implicit zero-length branches",
    ),
    (
        "max_branch_order",
        "count",
        "max branches on a root→tip path over the whole tree; stems are order 1",
        "neurom: root section is order 0",
    ),
    ("total_length", "µm", "Σ compartment lengths, soma→stem compartments excluded", ""),
    ("total_surface", "µm²", "Σ lateral frustum areas of the compartments", ""),
    ("total_volume", "µm³", "Σ frustum volumes of the compartments", ""),
    ("average_diameter", "µm", "2 × mean radius of the neurite nodes", ""),
    ("overall_width", "µm", "max − min of x over neurite nodes", ""),
    ("overall_height", "µm", "max − min of y over neurite nodes", ""),
    ("overall_depth", "µm", "max − min of z over neurite nodes", ""),
    (
        "max_euclidean_distance",
        "µm",
        "max distance of any neurite node from the soma root",
        "neurom max_radial_distance uses section end points only",
    ),
    (
        "max_path_distance",
        "µm",
        "longest soma→node path, including the soma→first-node compartment",
        "neurom starts at the first neurite node",
    ),
    (
        "average_contraction",
        "1",
        "Σ euclidean / Σ path over branches that start at a branch point",
        "neurom mean_contraction is a mean of per-section ratios over all sections",
    ),
    ("average_fragmentation", "1", "compartments per non-stem branch (ratio of sums)", ""),
    ("average_parent_daughter_ratio", "1", "mean of r_parent / r_child over compartments", ""),
    (
        "average_bifurcation_angle_local",
        "rad",
        "mean angle between the first compartments of the 2 children at bifurcations",
        "",
    ),
    (
        "average_bifurcation_angle_remote",
        "rad",
        "mean angle between the vectors to the next branch point or tip of the 2 children",
        "",
    ),
    ("soma_surface", "µm²", "4πr² of the soma root node", "neurom models 3-point/cylinder somata"),
]:
    _reg("allen", _n, _u, _d, differs=_x)

# ---------------------------------------------------------------------------- neurom registry
for _n, _u, _d in [
    ("number_of_neurites", "count", "neurite trees (non-soma roots or children of the soma)"),
    ("number_of_sections", "count", "unbranched sections (split at nodes with ≥ 2 children)"),
    ("number_of_bifurcations", "count", "sections with exactly 2 children"),
    ("number_of_forking_points", "count", "sections with 2 or more children"),
    ("number_of_leaves", "count", "sections without children"),
    ("total_length", "µm", "Σ section lengths (soma→first point excluded)"),
    ("total_area", "µm²", "Σ lateral frustum areas of the segments"),
    ("total_volume", "µm³", "Σ frustum volumes of the segments"),
    ("max_branch_order", "count", "max section depth; root sections are order 0"),
    ("max_radial_distance", "µm", "max distance of a terminal section end from the soma centre"),
    ("max_path_distance", "µm", "max path from the neurite's first point to a section end"),
    ("mean_local_bifurcation_angle", "rad", "mean angle to the first non-zero child segments"),
    ("mean_remote_bifurcation_angle", "rad", "mean angle to the child sections' last points"),
    ("mean_contraction", "1", "mean over sections of end-to-end distance / section length"),
    ("mean_partition_asymmetry", "1", "mean |n1 − n2| / (n1 + n2) of child subtree sections"),
    ("total_width", "µm", "max − min of x over neurite points"),
    ("total_height", "µm", "max − min of y over neurite points"),
    ("total_depth", "µm", "max − min of z over neurite points"),
    ("soma_radius", "µm", "NeuroM soma radius (point, 3-point cylinder, cylinders, contour)"),
    ("soma_surface_area", "µm²", "NeuroM soma area (sphere, 2πrh, Σ cylinder areas)"),
]:
    _reg("neurom", _n, _u, _d)

# ---------------------------------------------------------------------------- gouwens registry
GOUWENS_TYPES: dict[str, tuple[int, ...]] = {
    "axon": (2,),
    "basal_dendrite": (3,),
    "apical_dendrite": (4,),
    "dendrite": (3, 4),
}
_G_COMMON = [
    ("extent_x", "µm", "max − min of x over type-T nodes"),
    ("extent_y", "µm", "max − min of y over type-T nodes"),
    ("bias_x", "µm", "| max(x⁺) − |min(x⁻)| | relative to the soma (handedness ignored)"),
    ("bias_y", "µm", "max(y⁺) − |min(y⁻)| relative to the soma (signed, + toward pia)"),
    ("soma_percentile_x", "1", "fraction of type-T nodes left of the soma, folded into [0, 0.5]"),
    ("soma_percentile_y", "1", "fraction of type-T nodes below the soma"),
    ("total_length", "µm", "Σ compartments with both ends of type T"),
    ("max_euclidean_distance", "µm", "max node distance from the soma"),
    ("max_path_distance", "µm", "max soma→node path (soma→first-node compartment included)"),
    ("max_branch_order", "count", "Allen branch order over the whole tree, max over T nodes"),
    ("num_branches", "count", "T roots + 2·(children − 1) per branching T node"),
    ("mean_contraction", "1", "Σ euclid / Σ path over T branches starting at a branch point"),
    ("num_outer_bifurcations", "log10(n+1)", "branch points beyond ½ max distance, log10(n+1)"),
]
_G_DENDRITE = [
    ("total_surface_area", "µm²", "Σ lateral frustum areas of type-T compartments"),
    ("mean_diameter", "µm", "2 × mean radius of type-T nodes"),
    ("calculate_number_of_stems", "count", "soma children of type T"),
    ("stem_exit_down", "1", "fraction of T roots with θ ≤ 1/3 (θ = arccos(ŷ·v̂)/π, z × 3)"),
    ("stem_exit_side", "1", "fraction of T roots with 1/3 < θ ≤ 2/3"),
    ("stem_exit_up", "1", "fraction of T roots with θ > 2/3"),
]
for _c in GOUWENS_TYPES:
    for _n, _u, _d in _G_COMMON:
        _reg(
            "gouwens",
            f"{_c}_{_n}",
            _u,
            _d.replace("type T", _c).replace("T ", f"{_c} "),
            compartment=_c,
        )
    if _c != "axon":
        for _n, _u, _d in _G_DENDRITE:
            _reg("gouwens", f"{_c}_{_n}", _u, _d, compartment=_c)
_reg(
    "gouwens",
    "apical_dendrite_mean_moments_along_max_distance_projection",
    "1",
    "mean projection of apical branch points on the soma→farthest axis / max distance",
    compartment="apical_dendrite",
)
_reg(
    "gouwens",
    "apical_dendrite_std_moments_along_max_distance_projection",
    "1",
    "std of the same projections",
    compartment="apical_dendrite",
)
_reg(
    "gouwens",
    "axon_exit_theta",
    "1",
    "θ of the axon root closest to the soma (z × 3)",
    compartment="axon",
)
_reg(
    "gouwens",
    "axon_exit_distance",
    "µm",
    "distance of that root from the soma; 0 when its parent is the soma",
    compartment="axon",
)
_reg(
    "gouwens",
    "none_early_branch_path",
    "1",
    "max over branch points of the shorter child max path, / overall max path (all neurites)",
)
_reg(
    "gouwens",
    "soma_surface_area",
    "µm²",
    "4πr² of the soma node",
    compartment="soma",
    differs="neurom models 3-point/cylinder somata",
)
_reg(
    "gouwens",
    "soma_aligned_dist_from_pia",
    "µm",
    "−y of the soma in the layer-aligned cell",
    compartment="soma",
    requires=("layer_aligned",),
)
_reg(
    "gouwens",
    "axon_emd_with_basal_dendrite",
    "bins",
    "1-D Wasserstein distance between axon and basal depth profiles, in 5 µm bins",
    compartment="axon",
    requires=("layer_aligned",),
)
for _a, _b in (("axon", "basal_dendrite"), ("basal_dendrite", "axon")):
    for _k in ("above", "intersect", "below"):
        _reg(
            "gouwens",
            f"{_a}_frac_{_k}_{_b}",
            "1",
            f"fraction of {_a} depth-profile mass {_k} the overlap with {_b}",
            compartment=_a,
            requires=("layer_aligned",),
        )
for _c in ("axon", "apical_dendrite"):
    _reg(
        "gouwens",
        f"{_c}_depth_pc_0",
        "1",
        "PCA score of the layer-aligned depth profile (k = 0, 1, …)",
        compartment=_c,
        requires=("layer_aligned", "population"),
    )


def feature_registry(convention: str | None = None) -> Any:
    """The registry as a DataFrame (name, convention, unit, compartment, requires, definition,
    differs)."""
    import pandas as pd

    convs = CONVENTIONS if convention is None else (_check_conv(convention),)
    rows = [
        {
            "name": s.name,
            "convention": s.convention,
            "unit": s.unit,
            "compartment": s.compartment,
            "requires": ",".join(s.requires),
            "definition": s.definition,
            "differs": s.differs,
        }
        for c in convs
        for s in REGISTRY[c].values()
    ]
    return pd.DataFrame(rows)


def _check_conv(convention: str) -> str:
    if convention not in CONVENTIONS:
        raise DataError(f"unknown feature convention {convention!r}; choose one of {CONVENTIONS}")
    return convention


# ============================================================================ computations
def _allen(f: Forest) -> dict[str, FloatArray]:
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
    out.update(_lengths(f, v.comp, prefix=""))
    out["average_diameter"] = 2.0 * f.mean(f.r, v.mask)
    for ax, nm in enumerate(("overall_width", "overall_height", "overall_depth")):
        out[nm] = f.max(f.xyz[:, ax], v.mask) - f.min(f.xyz[:, ax], v.mask)
    out["max_euclidean_distance"] = f.max(f.dist, v.mask)
    out["max_path_distance"] = f.max(f.path_full, v.mask)
    out["average_contraction"] = _contraction(f, v)
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
    loc, rem, rows = _bif_angles(f, v.parent, v.nch, v.mask, v.branch_end)
    out["average_bifurcation_angle_local"] = f.mean_rows(rows, loc)
    out["average_bifurcation_angle_remote"] = f.mean_rows(rows, rem)
    out["soma_surface"] = 4.0 * np.pi * f.r[f.root] ** 2 * np.where(f.soma[f.root], 1.0, np.nan)
    return out


def _lengths(f: Forest, comp: npt.NDArray[np.bool_], *, prefix: str) -> dict[str, FloatArray]:
    r1, r2, L = f.r, f.r[f.pp], f.seg
    return {
        f"{prefix}total_length": f.sum(L, comp),
        f"{prefix}total_surface": f.sum(frustum_area(r1, r2, L), comp),
        f"{prefix}total_volume": f.sum(frustum_volume(r1, r2, L), comp),
    }


def _contraction(f: Forest, v: Any) -> FloatArray:
    """Σ euclid / Σ path over branches that start at a branch point (Allen)."""
    ends, starts, origin = v.branches()
    keep = v.parent[starts] >= 0
    ends, origin = ends[keep], origin[keep]
    path = v.path[ends] - v.path[origin]
    eu = np.linalg.norm(f.xyz[ends] - f.xyz[origin], axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return f.sum_rows(ends, eu) / f.sum_rows(ends, path)


def _first_moving_child(f: Forest, parent: IntArray, nch: IntArray, kids: IntArray) -> IntArray:
    """Follow single-child chains from ``kids`` past zero-length segments (NeuroM's
    ``skip_0_length``), a few steps at most."""
    out = kids.copy()
    only_child = np.full(f.n, -1, dtype=np.int64)
    one = (parent >= 0) & (nch[np.maximum(parent, 0)] == 1)
    only_child[parent[one]] = np.flatnonzero(one)
    bif_pt = parent[kids]
    for _ in range(8):
        same = np.all(f.xyz[out] == f.xyz[bif_pt], axis=1) & (only_child[out] >= 0)
        if not same.any():
            break
        out = np.where(same, only_child[out], out)
    return out


def _bif_angles(
    f: Forest,
    parent: IntArray,
    nch: IntArray,
    mask: npt.NDArray[np.bool_],
    branch_end: npt.NDArray[np.bool_],
    *,
    skip_zero: bool = False,
    runs: Any = AUTO,
    end_of: IntArray | None = None,
) -> tuple[FloatArray, FloatArray, IntArray]:
    """Local and remote angles at nodes with exactly two children under ``parent`` links."""
    bif = mask & (nch == 2)
    rows = np.flatnonzero(bif)
    if rows.size == 0:
        return np.zeros(0), np.zeros(0), rows
    kids = np.flatnonzero((parent >= 0) & bif[np.maximum(parent, 0)])
    kids = kids[np.argsort(parent[kids], kind="stable")]
    k0, k1 = kids[0::2], kids[1::2]
    b = parent[k0]
    first0, first1 = k0, k1
    if skip_zero:
        first = _first_moving_child(f, parent, nch, kids)  # k0 and k1 in one pass
        first0, first1 = first[0::2], first[1::2]
    loc = angle(f.xyz[first0] - f.xyz[b], f.xyz[first1] - f.xyz[b])
    if end_of is None:
        end_of = _section_end(parent, branch_end, runs=runs)
    rem = angle(f.xyz[end_of[k0]] - f.xyz[b], f.xyz[end_of[k1]] - f.xyz[b])
    return loc, rem, b


def _section_end(
    parent: IntArray, branch_end: npt.NDArray[np.bool_], *, runs: Any = AUTO
) -> IntArray:
    """For every node, the end row of the unbranched chain it belongs to (downwards).
    ``runs``: :func:`~patchatlas.core.tree.chain_runs` of ``parent`` if known."""
    n = parent.size
    # the chain of a node ends at the first branch_end at or below it: invert by labelling each
    # end's chain with nearest-marked-ancestor over "chain starts" (children of ends or roots)
    starts = (parent < 0) | branch_end[np.maximum(parent, 0)]
    chain = nearest_marked_ancestor(parent, starts, runs=runs)
    ends = np.flatnonzero(branch_end)
    end_of_chain = np.full(n, -1, dtype=np.int64)
    end_of_chain[chain[ends]] = ends
    return end_of_chain[chain]


def _zero_nan(a: FloatArray) -> FloatArray:
    """``nan_to_num(a, nan=0.0)`` for the short per-cell arrays (NaN: nothing selected)."""
    return np.where(a == a, a, 0.0)


def _neurom(f: Forest, cells: Sequence[Morphology]) -> dict[str, FloatArray]:
    out: dict[str, FloatArray] = {}
    neur = f.neurite
    pN = f.neurite_parent
    runs = chain_runs(pN)  # shared by every tree pass below (same parent array)
    has_pN = pN >= 0
    pN0 = np.maximum(pN, 0)
    nchN = np.bincount(pN[has_pN], minlength=f.n).astype(np.int64)
    roots = neur & ~has_pN
    forced = _forced_section_starts(f, cells) & neur & has_pN
    sec_start = roots | (neur & has_pN & (nchN[pN0] >= 2)) | forced
    sec_end = neur & (nchN != 1)
    sec_end[pN[forced]] = True
    leaves = neur & (nchN == 0)
    comp = neur & has_pN
    bif = neur & (nchN == 2)
    out["number_of_neurites"] = f.count(roots)
    out["number_of_sections"] = f.count(sec_start)
    out["number_of_bifurcations"] = f.count(bif)
    out["number_of_forking_points"] = f.count(neur & (nchN >= 2))
    out["number_of_leaves"] = f.count(leaves)
    # a Neurolucida child section starts with its own copy of the branch point: no segment
    # joins it to the parent section (MorphIO), so that zero-length link has no area/volume
    lens = _lengths(f, comp & ~(forced & (f.seg == 0)), prefix="")
    out["total_length"] = lens["total_length"]
    out["total_area"] = lens["total_surface"]
    out["total_volume"] = lens["total_volume"]
    order = ancestor_sum(pN, sec_start.astype(np.float64), runs=runs) - 1.0
    out["max_branch_order"] = _zero_nan(f.max(order, neur))
    sec_of = nearest_marked_ancestor(pN, sec_start, runs=runs)  # head row of each node's section
    ends = np.flatnonzero(sec_end)
    head = sec_of[ends]
    end_of_head = np.full(f.n, -1, dtype=np.int64)
    end_of_head[head] = ends
    center = _neurom_soma_centers(cells)
    d = f.xyz - center[f.cell]
    d_end = np.sqrt(np.add.reduce(d * d, axis=1))  # = np.linalg.norm(d, axis=1), bit for bit
    out["max_radial_distance"] = _zero_nan(f.max(d_end, leaves))
    pathN = ancestor_sum(pN, np.where(comp, f.seg, 0.0), runs=runs)
    out["max_path_distance"] = _zero_nan(f.max(pathN, sec_end))
    # (sections start exactly where a chain of _section_end starts: reuse the labels)
    end_of = end_of_head[np.maximum(sec_of, 0)]
    loc, rem, rows = _bif_angles(f, pN, nchN, neur, sec_end, skip_zero=True, end_of=end_of)
    out["mean_local_bifurcation_angle"] = f.mean_rows(rows, loc)
    out["mean_remote_bifurcation_angle"] = f.mean_rows(rows, rem)
    # contraction per section
    ph = pN[head]
    origin = np.where(ph >= 0, ph, head)
    L = pathN[ends] - pathN[origin]
    dE = f.xyz[ends] - f.xyz[origin]
    E = np.sqrt(np.add.reduce(dE * dE, axis=1))
    single = origin == ends
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(single, 1.0, E / L)
    out["mean_contraction"] = f.mean_rows(ends, ratio)
    # partition asymmetry: sections in each child subtree, on the (small) tree of sections
    heads = np.flatnonzero(sec_start)
    ph = pN[heads]
    parent_sec = np.where(ph >= 0, np.searchsorted(heads, sec_of[np.maximum(ph, 0)]), -1)
    depth = np.rint(order[heads]).astype(np.int64)  # branch order = depth among sections
    nsec = f.subtree_sum(parent_sec.astype(np.int64), np.ones(heads.size), depth=depth)
    kids = np.flatnonzero(has_pN & bif[pN0])
    kids = kids[np.argsort(pN[kids], kind="stable")]
    k_sec = np.searchsorted(heads, kids)
    n1, n2 = nsec[k_sec[0::2]], nsec[k_sec[1::2]]
    with np.errstate(invalid="ignore", divide="ignore"):
        pa = np.where((n1 == 1) & (n2 == 1), 0.0, np.abs(n1 - n2) / (n1 + n2))
    out["mean_partition_asymmetry"] = f.mean_rows(pN[kids[0::2]], pa)
    for ax, nm in enumerate(("total_width", "total_height", "total_depth")):
        out[nm] = _zero_nan(f.max(f.xyz[:, ax], neur) - f.min(f.xyz[:, ax], neur))
    radius, area = _neurom_soma(cells)
    out["soma_radius"] = radius
    out["soma_surface_area"] = area
    return out


def _forced_section_starts(f: Forest, cells: Sequence[Morphology]) -> npt.NDArray[np.bool_]:
    """Rows that start a section because the file says so (Neurolucida branch blocks)."""
    out = np.zeros(f.n, dtype=bool)
    for k, m in enumerate(cells):
        ids = m.meta.get("section_start_ids")
        if not ids:
            continue
        order = np.argsort(m.ids)
        pos = np.searchsorted(m.ids[order], np.asarray(ids, dtype=np.int64))
        pos = np.clip(pos, 0, len(m) - 1)
        rows = order[pos][m.ids[order][pos] == np.asarray(ids)]
        out[rows + int(f.offsets[k])] = True
    return out


def _neurom_soma_centers(morphs: Sequence[Morphology]) -> FloatArray:
    c = np.empty((len(morphs), 3))
    for k, m in enumerate(morphs):
        contour_soma = not m.has_soma or m.meta.get("format") == "asc"
        if m.soma_contour is not None and contour_soma:
            c[k] = m.soma_contour.mean(axis=0)
        else:
            c[k] = m.xyz[m.soma_rows[0]] if m.has_soma else m.xyz[0]
    return c


def _neuromorpho_three_point(m: Morphology, s: IntArray) -> bool:
    """MorphIO's NeuroMorpho 3-point soma: 2 points at y ± r beside the first, same x, z, r."""
    if s.size != 3 or not np.all(m.parent[s[1:]] == s[0]):
        return False
    a, r = m.xyz[s[0]], float(m.radius[s[0]])
    o = m.xyz[s[1:]]
    return bool(
        np.allclose(m.radius[s], r)
        and np.allclose(o[:, [0, 2]], a[[0, 2]])
        and np.allclose(np.sort(o[:, 1] - a[1]), [-r, r])
    )


def _neurom_soma(morphs: Sequence[Morphology]) -> tuple[FloatArray, FloatArray]:
    """NeuroM/MorphIO soma models: single point (sphere), NeuroMorpho 3-point cylinder
    (area 2πr·h), stacked cylinders (Σ lateral areas), contour (mean centroid distance)."""
    rad = np.full(len(morphs), np.nan)
    area = np.full(len(morphs), np.nan)
    for k, m in enumerate(morphs):  # one small computation per cell (≤ a few soma points)
        if m.soma_contour is not None and len(m.soma_contour):
            c = m.soma_contour
            r = float(np.linalg.norm(c - c.mean(axis=0), axis=1).mean())
            rad[k], area[k] = r, 4 * math.pi * r * r
            continue
        s = m.soma_rows
        if s.size == 0:
            continue
        if s.size == 1:
            r = float(m.radius[s[0]])
            rad[k], area[k] = r, 4 * math.pi * r * r
            continue
        if _neuromorpho_three_point(m, s):
            r = float(m.radius[s[0]])
            h = float(np.linalg.norm(m.xyz[s[1]] - m.xyz[s[2]]))
            a = 2 * math.pi * r * h
        else:
            # stacked cylinders along consecutive soma points (file order)
            p0, p1 = m.xyz[s[:-1]], m.xyz[s[1:]]
            r0, r1 = m.radius[s[:-1]], m.radius[s[1:]]
            a = float(frustum_area(r0, r1, np.linalg.norm(p1 - p0, axis=1)).sum())
        rad[k], area[k] = math.sqrt(a / (4 * math.pi)), a
    return rad, area


def _gouwens(
    f: Forest,
    *,
    aligned: Sequence[Morphology] | None,
    depth_pca: dict[str, DepthProfilePCA] | None,
    fit_pca: bool,
) -> dict[str, FloatArray]:
    out: dict[str, FloatArray] = {}
    nan = np.full(f.ncell, np.nan)
    for name, types in GOUWENS_TYPES.items():
        v = f.view(types)
        pre = f"{name}_"
        present = f.count(v.mask) > 0
        for ax, key in ((0, "x"), (1, "y")):
            hi = f.max(f.rel[:, ax], v.mask)
            lo = f.min(f.rel[:, ax], v.mask)
            out[pre + f"extent_{key}"] = hi - lo
            bias = np.maximum(hi, 0) - np.abs(np.minimum(lo, 0))
            out[pre + f"bias_{key}"] = np.abs(bias) if key == "x" else bias
            frac = f.mean((f.rel[:, ax] < 0).astype(np.float64), v.mask)
            out[pre + f"soma_percentile_{key}"] = np.minimum(frac, 1 - frac) if key == "x" else frac
        out[pre + "total_length"] = np.where(present, f.sum(f.seg, v.comp), np.nan)
        out[pre + "max_euclidean_distance"] = f.max(f.dist, v.mask)
        out[pre + "max_path_distance"] = f.max(f.path_full, v.mask)
        out[pre + "max_branch_order"] = f.max(f.order_full, v.mask)
        extra = np.where(v.bif, v.nch - 1, 0).astype(np.float64)
        nb = f.count(v.roots) + 2.0 * f.sum(extra, v.bif)
        out[pre + "num_branches"] = np.where(present, nb, np.nan)
        out[pre + "mean_contraction"] = _contraction(f, v)
        maxd = out[pre + "max_euclidean_distance"]
        outer = v.bif & (f.dist > 0.5 * maxd[f.cell])
        out[pre + "num_outer_bifurcations"] = np.where(
            present, np.log10(f.count(outer) + 1), np.nan
        )
        if name != "axon":
            r1, r2 = f.r, f.r[f.pp]
            out[pre + "total_surface_area"] = np.where(
                present, f.sum(frustum_area(r1, r2, f.seg), v.comp), np.nan
            )
            out[pre + "mean_diameter"] = 2.0 * f.mean(f.r, v.mask)
            stems = v.mask & f.has & f.soma[f.pp]
            out[pre + "calculate_number_of_stems"] = np.where(present, f.count(stems), np.nan)
            roots = np.flatnonzero(v.roots)
            theta = _exit_theta(f, roots)
            nroot = f.count_rows(roots)
            with np.errstate(invalid="ignore", divide="ignore"):
                down = f.sum_rows(roots, (theta <= 1 / 3).astype(float)) / nroot
                side = f.sum_rows(roots, ((theta > 1 / 3) & (theta <= 2 / 3)).astype(float)) / nroot
            out[pre + "stem_exit_down"] = down
            out[pre + "stem_exit_side"] = side
            out[pre + "stem_exit_up"] = np.where(nroot > 0, 1 - down - side, np.nan)
        else:
            roots = np.flatnonzero(v.roots)
            dist = f.dist[roots]
            # root closest to the soma, per cell
            order = np.lexsort((dist, f.cell[roots]))
            r_sorted = roots[order]
            first = np.ones(r_sorted.size, dtype=bool)
            first[1:] = f.cell[r_sorted[1:]] != f.cell[r_sorted[:-1]]
            chosen = r_sorted[first]
            th = nan.copy()
            di = nan.copy()
            th[f.cell[chosen]] = _exit_theta(f, chosen)
            on_soma = f.has[chosen] & f.soma[f.pp[chosen]]
            di[f.cell[chosen]] = np.where(on_soma, 0.0, f.dist[chosen])
            out["axon_exit_theta"] = th
            out["axon_exit_distance"] = di
        if name == "apical_dendrite":
            mean_m, std_m = _moments(f, v)
            out[pre + "mean_moments_along_max_distance_projection"] = mean_m
            out[pre + "std_moments_along_max_distance_projection"] = std_m
    out["none_early_branch_path"] = _early_branch_path(f)
    out["soma_surface_area"] = np.where(f.soma[f.root], 4.0 * np.pi * f.r[f.root] ** 2, np.nan)
    # depth features
    if aligned is not None:
        out.update(_depth_features(aligned, depth_pca=depth_pca, fit_pca=fit_pca))
    return out


def _exit_theta(f: Forest, rows: IntArray) -> FloatArray:
    v = f.xyz[rows] - f.center[f.cell[rows]]
    v = v * np.array([1.0, 1.0, 3.0])
    n = np.linalg.norm(v, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cosy = np.clip(v[:, 1] / n, -1.0, 1.0)
    return np.asarray(np.arccos(cosy) / np.pi, dtype=np.float64)


def _moments(f: Forest, v: Any) -> tuple[FloatArray, FloatArray]:
    far = f.max(f.dist, v.mask)
    # farthest node per cell
    w = np.where(v.mask, f.dist, -np.inf)
    idx = np.full(f.ncell, -1)
    if v.mask.any():
        order = np.lexsort((-w, f.cell))
        first = np.ones(order.size, dtype=bool)
        first[1:] = f.cell[order[1:]] != f.cell[order[:-1]]
        rows = order[first]
        idx[f.cell[rows]] = rows
    axis = np.where((idx >= 0)[:, None], f.rel[np.maximum(idx, 0)], np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        unit = axis / np.linalg.norm(axis, axis=1)[:, None]
    bif = np.flatnonzero(v.bif)
    proj = np.einsum("ij,ij->i", f.rel[bif], unit[f.cell[bif]]) / far[f.cell[bif]]
    return f.mean_rows(bif, proj), f.std_rows(bif, proj)


def _early_branch_path(f: Forest) -> FloatArray:
    from patchatlas.core.tree import nearest_marked_ancestor

    v = f.view(None)
    path = f.path_full
    # work on the tree of branches: a branch's deepest path is its end's path (paths grow along
    # a branch), and subtree maxima over branches are cheap (depth = branch order)
    heads = np.flatnonzero(v.branch_start)
    br_of = nearest_marked_ancestor(v.parent, v.branch_start)
    ph = v.parent[heads]
    parent_br = np.where(ph >= 0, np.searchsorted(heads, br_of[np.maximum(ph, 0)]), -1)
    end_path = np.full(heads.size, -np.inf)
    ends = np.flatnonzero(v.branch_end)
    np.maximum.at(end_path, np.searchsorted(heads, br_of[ends]), path[ends])
    smax = f.subtree_max(parent_br.astype(np.int64), end_path)
    kids = np.flatnonzero((v.parent >= 0) & v.bif[np.maximum(v.parent, 0)])
    b = v.parent[kids]
    lens = smax[np.searchsorted(heads, kids)] - path[b]
    shortest = np.full(f.n, np.inf)
    np.minimum.at(shortest, b, lens)
    bif = np.flatnonzero(v.bif)
    best = f.max_rows(bif, shortest[bif])
    with np.errstate(invalid="ignore", divide="ignore"):
        return best / f.max(path, v.mask)


def _depth_features(
    aligned: Sequence[Morphology],
    *,
    depth_pca: dict[str, DepthProfilePCA] | None,
    fit_pca: bool,
) -> dict[str, FloatArray]:
    out: dict[str, FloatArray] = {}
    prof = depth_profiles(aligned)
    names = {2: "axon", 3: "basal_dendrite", 4: "apical_dendrite"}
    out["soma_aligned_dist_from_pia"] = np.array([-m.xyz[m.root, 1] for m in aligned])
    out["axon_emd_with_basal_dendrite"] = earth_movers_distance(prof[AXON], prof[BASAL])
    for a, b in ((AXON, BASAL), (BASAL, AXON)):
        na, nb = names[a], names[b]
        fr = overlap_fractions(prof[a], prof[b])
        for k, key in enumerate(("above", "intersect", "below")):
            out[f"{na}_frac_{key}_{nb}"] = fr[:, k]
    for t, nm in names.items():
        if t == BASAL and not (depth_pca and nm in depth_pca):
            continue  # published sets project axon and apical profiles only
        pca = (depth_pca or {}).get(nm)
        x = prof[t]
        if pca is None and fit_pca and x.shape[0] >= 2 and x.sum() > 0:
            from patchatlas.morphology._depth_pca import DepthProfilePCA

            pca = DepthProfilePCA().fit(x)
        if pca is None:
            continue
        scores = pca.transform(x)
        for k in range(scores.shape[1]):
            out[f"{nm}_depth_pc_{k}"] = scores[:, k]
    return out


# ============================================================================ public API
_Compute = Callable[..., dict[str, FloatArray]]


def features_table(
    morphs: Sequence[Morphology] | MorphologySet,
    *,
    convention: str = "allen",
    aligned: Sequence[Morphology] | None = None,
    depth_pca: dict[str, DepthProfilePCA] | None = None,
    fit_pca: bool = True,
) -> Any:
    """Features of many cells at once (one packed forest; rows = cells, columns = features).

    Parameters
    ----------
    morphs
        Morphologies (for ``gouwens``: upright, unscaled, soma as root).
    convention
        ``"allen"``, ``"gouwens"`` or ``"neurom"``.
    aligned
        Layer-aligned versions of the same cells (gouwens depth features), same order.
    depth_pca
        Stored :class:`~patchatlas.morphology.depth.DepthProfilePCA` per compartment name
        (``"axon"`` ...) to project on; otherwise one is fitted over these cells (``fit_pca``).

    Returns
    -------
    pandas.DataFrame
        Indexed by cell name; NaN where a compartment is absent or an input is missing.
    """
    import pandas as pd

    names, cols = _compute(
        morphs, convention=convention, aligned=aligned, depth_pca=depth_pca, fit_pca=fit_pca
    )
    df = pd.DataFrame({k: np.asarray(v, dtype=np.float64) for k, v in cols.items()})
    df.index = pd.Index(list(names), name="cell")
    return df


#: Cells are processed in packs of about this many nodes: every temporary stays a few MB, so
#: freed blocks are reused instead of faulting fresh pages in (a 1,000-cell batch in one pack
#: peaked at 5.7 GB), and the per-pack numpy overhead is still negligible.
CHUNK_NODES = 262_144


def _node_chunks(cells: list[Morphology]) -> list[list[Morphology]]:
    """Consecutive runs of cells holding about :data:`CHUNK_NODES` nodes each."""
    sizes = np.fromiter((len(m) for m in cells), dtype=np.int64, count=len(cells))
    if sizes.sum() <= CHUNK_NODES:
        return [cells]
    pack = np.cumsum(sizes) // CHUNK_NODES
    cuts = np.flatnonzero(np.diff(pack)) + 1
    bounds = [0, *cuts.tolist(), len(cells)]
    return [cells[a:b] for a, b in itertools.pairwise(bounds) if b > a]


def _compute(
    morphs: Sequence[Morphology] | MorphologySet,
    *,
    convention: str,
    aligned: Sequence[Morphology] | None,
    depth_pca: dict[str, DepthProfilePCA] | None,
    fit_pca: bool,
) -> tuple[tuple[str, ...], dict[str, FloatArray]]:
    _check_conv(convention)
    if not isinstance(morphs, MorphologySet) and (convention != "gouwens" or aligned is None):
        chunks = _node_chunks(list(morphs))
        if len(chunks) > 1:
            parts = [
                _compute(c, convention=convention, aligned=None, depth_pca=None, fit_pca=False)
                for c in chunks
            ]
            if all(p[1].keys() == parts[0][1].keys() for p in parts):
                names = tuple(nm for p in parts for nm in p[0])
                return names, {
                    k: np.concatenate([np.asarray(p[1][k], dtype=np.float64) for p in parts])
                    for k in parts[0][1]
                }
    if isinstance(morphs, MorphologySet):
        ms = morphs
        cells: list[Morphology] = list(ms) if convention == "neurom" else []
    else:
        cells = list(morphs)
        if not cells:
            raise DataError("no morphologies given")
        empty = [m.label for m in cells if len(m) == 0]
        if empty:
            raise DataError(f"morphology {empty[0]} has no nodes; nothing to compute")
        ms = MorphologySet.pack(cells)
    if aligned is not None and len(aligned) != len(ms):
        raise DataError("aligned= must hold one layer-aligned morphology per cell, same order")
    f = Forest(ms)
    try:
        if convention == "allen":
            cols = _allen(f)
        elif convention == "neurom":
            cols = _neurom(f, cells)
        else:
            cols = _gouwens(f, aligned=aligned, depth_pca=depth_pca, fit_pca=fit_pca)
    finally:
        f.release()  # views point back at the forest: free its arrays now, not at the next GC
    return ms.names, cols


def features(
    morph: Morphology,
    *,
    convention: str = "allen",
    aligned: Morphology | None = None,
    depth_pca: dict[str, DepthProfilePCA] | None = None,
) -> dict[str, float]:
    """Features of one morphology as ``{name: value}`` (see :func:`features_table`).

    Parameters
    ----------
    morph
        The morphology.
    convention
        ``"allen"`` (default), ``"gouwens"`` or ``"neurom"``.
    aligned
        Layer-aligned version (gouwens depth features: soma depth, EMD, overlap fractions).
    depth_pca
        Stored PCA per compartment to project the depth profile on (no fitting for one cell).

    Examples
    --------
    >>> from patchatlas.datasets.morphology import synthetic_morphology
    >>> f = features(synthetic_morphology("pyramidal", seed=0))
    >>> f["total_length"] > 0
    True
    """
    _, cols = _compute(
        [morph],
        convention=convention,
        aligned=None if aligned is None else [aligned],
        depth_pca=depth_pca,
        fit_pca=False,
    )
    return {k: float(np.asarray(v, dtype=np.float64)[0]) for k, v in cols.items()}
