"""The ``gouwens`` convention: the per-compartment skeleton_keys set of Gouwens et al.

Computed on upright, unscaled morphologies; the depth features (soma depth, EMD, overlap
fractions, depth-profile PCs) need the layer-aligned cells. Definitions:
:mod:`patchatlas.morphology.registry`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from patchatlas.core.morphology import AXON, BASAL, Morphology
from patchatlas.core.tree import nearest_marked_ancestor
from patchatlas.morphology._forest import Forest, frustum_area
from patchatlas.morphology._measures import contraction
from patchatlas.morphology.depth import (
    depth_profiles,
    earth_movers_distance,
    overlap_fractions,
)
from patchatlas.morphology.registry import GOUWENS_TYPES

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

if TYPE_CHECKING:  # pragma: no cover
    from patchatlas.morphology._depth_pca import DepthProfilePCA


def gouwens_features(
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
        out[pre + "mean_contraction"] = contraction(f, v)
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
