"""The ``neurom`` convention: NeuroM 4 definitions on the whole morphology.

Sections split at forks (and where a Neurolucida file starts a branch block), root section order
0, radial distance to section ends, contraction = mean of 1/tortuosity, NeuroM soma models.
Definitions: :mod:`patchatlas.morphology.registry`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from patchatlas.core.morphology import Morphology
from patchatlas.core.tree import ancestor_sum, chain_runs, nearest_marked_ancestor
from patchatlas.morphology._forest import Forest
from patchatlas.morphology._measures import bif_angles, lengths
from patchatlas.morphology._soma import neurom_soma, neurom_soma_centers

FloatArray = npt.NDArray[np.float64]


def _zero_nan(a: FloatArray) -> FloatArray:
    """``nan_to_num(a, nan=0.0)`` for the short per-cell arrays (NaN: nothing selected)."""
    return np.where(a == a, a, 0.0)


def neurom_features(f: Forest, cells: Sequence[Morphology]) -> dict[str, FloatArray]:
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
    lens = lengths(f, comp & ~(forced & (f.seg == 0)), prefix="")
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
    center = neurom_soma_centers(cells)
    d = f.xyz - center[f.cell]
    d_end = np.sqrt(np.add.reduce(d * d, axis=1))  # = np.linalg.norm(d, axis=1), bit for bit
    out["max_radial_distance"] = _zero_nan(f.max(d_end, leaves))
    pathN = ancestor_sum(pN, np.where(comp, f.seg, 0.0), runs=runs)
    out["max_path_distance"] = _zero_nan(f.max(pathN, sec_end))
    # (sections start exactly where a chain of section_end starts: reuse the labels)
    end_of = end_of_head[np.maximum(sec_of, 0)]
    loc, rem, rows = bif_angles(f, pN, nchN, neur, sec_end, skip_zero=True, end_of=end_of)
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
    radius, area = neurom_soma(cells)
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
