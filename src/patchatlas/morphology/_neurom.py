"""The ``neurom`` convention: NeuroM 4 definitions, on the whole morphology or per neurite type.

Sections split at forks (and where a Neurolucida or HDF5 file starts a child section), root
section order 0, radial distance to section ends, contraction = mean of 1/tortuosity, NeuroM soma
models. Definitions: :mod:`patchatlas.morphology.registry`.

Per neurite type (NeuroM's ``neurite_type=``): a neurite's type is the type of its root (first
section), as NeuroM has it without ``use_subtrees``; ``axon``, ``basal_dendrite`` and
``apical_dendrite`` select the neurites whose root is of type 2, 3 or 4, ``all`` every neurite.
The tree passes (sections, branch orders, path distances, angles, subtree sizes) run once over
the whole forest; only the final per-cell reductions are repeated per type, on the nodes of the
selected neurites. Soma features do not depend on the neurite type.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from patchatlas.core.morphology import Morphology
from patchatlas.core.tree import ancestor_sum, chain_runs, nearest_marked_ancestor
from patchatlas.morphology._forest import Forest, frustum_area, frustum_volume
from patchatlas.morphology._measures import bif_angles
from patchatlas.morphology._soma import neurom_soma, neurom_soma_centers

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: NeuroM neurite types and the root (SWC) type each selects (``all``: every neurite)
NEURITE_TYPES: dict[str, int | None] = {
    "all": None,
    "axon": 2,
    "basal_dendrite": 3,
    "apical_dendrite": 4,
}


def _zero_nan(a: FloatArray) -> FloatArray:
    """``nan_to_num(a, nan=0.0)`` for the short per-cell arrays (NaN: nothing selected)."""
    return np.where(a == a, a, 0.0)


@dataclass
class _Arrays:
    """Everything the reductions need, computed once over the forest."""

    neur: BoolArray
    roots: BoolArray
    sec_start: BoolArray
    sec_end: BoolArray
    leaves: BoolArray
    bif: BoolArray
    fork: BoolArray
    seg_mask: BoolArray  # segments counted in lengths, areas, volumes
    seg_len: FloatArray
    seg_area: FloatArray
    seg_vol: FloatArray
    order: FloatArray
    d_end: FloatArray
    path: FloatArray
    angle_rows: IntArray
    local: FloatArray
    remote: FloatArray
    contraction_rows: IntArray
    contraction: FloatArray
    asym_rows: IntArray
    asymmetry: FloatArray
    root_type: IntArray  # type of each node's neurite root (-1 for the soma)


def _arrays(f: Forest, cells: Sequence[Morphology]) -> _Arrays:
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
    # a Neurolucida / HDF5 child section starts with its own copy of the branch point: no
    # segment joins it to the parent section (MorphIO), so that zero-length link has no
    # area/volume
    seg_mask = comp & ~(forced & (f.seg == 0))
    r1, r2, L = f.r, f.r[f.pp], f.seg
    order = ancestor_sum(pN, sec_start.astype(np.float64), runs=runs) - 1.0
    sec_of = nearest_marked_ancestor(pN, sec_start, runs=runs)  # head row of each section
    ends = np.flatnonzero(sec_end)
    head = sec_of[ends]
    end_of_head = np.full(f.n, -1, dtype=np.int64)
    end_of_head[head] = ends
    center = neurom_soma_centers(cells)
    d = f.xyz - center[f.cell]
    d_end = np.sqrt(np.add.reduce(d * d, axis=1))  # = np.linalg.norm(d, axis=1), bit for bit
    pathN = ancestor_sum(pN, np.where(comp, f.seg, 0.0), runs=runs)
    # (sections start exactly where a chain of section_end starts: reuse the labels)
    end_of = end_of_head[np.maximum(sec_of, 0)]
    loc, rem, rows = bif_angles(f, pN, nchN, neur, sec_end, skip_zero=True, end_of=end_of)
    # contraction per section
    ph = pN[head]
    origin = np.where(ph >= 0, ph, head)
    Lsec = pathN[ends] - pathN[origin]
    dE = f.xyz[ends] - f.xyz[origin]
    E = np.sqrt(np.add.reduce(dE * dE, axis=1))
    single = origin == ends
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(single, 1.0, E / Lsec)
    # partition asymmetry: sections in each child subtree, on the (small) tree of sections
    bif = neur & (nchN == 2)
    heads = np.flatnonzero(sec_start)
    hp = pN[heads]
    parent_sec = np.where(hp >= 0, np.searchsorted(heads, sec_of[np.maximum(hp, 0)]), -1)
    depth = np.rint(order[heads]).astype(np.int64)  # branch order = depth among sections
    nsec = f.subtree_sum(parent_sec.astype(np.int64), np.ones(heads.size), depth=depth)
    kids = np.flatnonzero(has_pN & bif[pN0])
    kids = kids[np.argsort(pN[kids], kind="stable")]
    k_sec = np.searchsorted(heads, kids)
    n1, n2 = nsec[k_sec[0::2]], nsec[k_sec[1::2]]
    with np.errstate(invalid="ignore", divide="ignore"):
        pa = np.where((n1 == 1) & (n2 == 1), 0.0, np.abs(n1 - n2) / (n1 + n2))
    root_of = nearest_marked_ancestor(pN, roots, runs=runs)
    root_type = np.where(root_of >= 0, f.t[np.maximum(root_of, 0)], -1)
    return _Arrays(
        neur=neur,
        roots=roots,
        sec_start=sec_start,
        sec_end=sec_end,
        leaves=leaves,
        bif=bif,
        fork=neur & (nchN >= 2),
        seg_mask=seg_mask,
        seg_len=L,
        seg_area=frustum_area(r1, r2, L),
        seg_vol=frustum_volume(r1, r2, L),
        order=order,
        d_end=d_end,
        path=pathN,
        angle_rows=rows,
        local=loc,
        remote=rem,
        contraction_rows=ends,
        contraction=ratio,
        asym_rows=pN[kids[0::2]],
        asymmetry=pa,
        root_type=root_type.astype(np.int64),
    )


def _reduce(f: Forest, a: _Arrays, sel: BoolArray | None) -> dict[str, FloatArray]:
    """Per-cell features over the nodes ``sel`` selects (``None``: every neurite)."""

    def m(mask: BoolArray) -> BoolArray:
        return mask if sel is None else mask & sel

    def rows(r: IntArray, v: FloatArray) -> tuple[IntArray, FloatArray]:
        if sel is None:
            return r, v
        keep = sel[r]
        return r[keep], v[keep]

    out: dict[str, FloatArray] = {}
    out["number_of_neurites"] = f.count(m(a.roots))
    out["number_of_sections"] = f.count(m(a.sec_start))
    out["number_of_bifurcations"] = f.count(m(a.bif))
    out["number_of_forking_points"] = f.count(m(a.fork))
    out["number_of_leaves"] = f.count(m(a.leaves))
    seg = m(a.seg_mask)
    out["total_length"] = f.sum(a.seg_len, seg)
    out["total_area"] = f.sum(a.seg_area, seg)
    out["total_volume"] = f.sum(a.seg_vol, seg)
    neur = m(a.neur)
    out["max_branch_order"] = _zero_nan(f.max(a.order, neur))
    out["max_radial_distance"] = _zero_nan(f.max(a.d_end, m(a.leaves)))
    out["max_path_distance"] = _zero_nan(f.max(a.path, m(a.sec_end)))
    r, v = rows(a.angle_rows, a.local)
    out["mean_local_bifurcation_angle"] = f.mean_rows(r, v)
    r, v = rows(a.angle_rows, a.remote)
    out["mean_remote_bifurcation_angle"] = f.mean_rows(r, v)
    r, v = rows(a.contraction_rows, a.contraction)
    out["mean_contraction"] = f.mean_rows(r, v)
    r, v = rows(a.asym_rows, a.asymmetry)
    out["mean_partition_asymmetry"] = f.mean_rows(r, v)
    for ax, nm in enumerate(("total_width", "total_height", "total_depth")):
        out[nm] = _zero_nan(f.max(f.xyz[:, ax], neur) - f.min(f.xyz[:, ax], neur))
    return out


class _Groups:
    """Per-cell reductions split by neurite type in one call each: rows are grouped by
    (cell, type class), the same sums, counts, maxima and minima as :class:`Forest`'s per-cell
    reductions on each type's nodes (element order within a group is kept, so the values are
    bit-identical)."""

    K = 4  # type classes: axon, basal, apical, anything else (custom types, the soma)

    def __init__(self, f: Forest, root_type: IntArray) -> None:
        cls = np.full(f.n, self.K - 1, dtype=np.int64)
        for k, t in enumerate((2, 3, 4)):
            cls[root_type == t] = k
        self.g = f.cell * self.K + cls
        self.ncell = f.ncell
        self.size = f.ncell * self.K

    def _shape(self, a: npt.NDArray[Any]) -> FloatArray:
        return np.asarray(a, dtype=np.float64).reshape(self.ncell, self.K)

    def count(self, mask: BoolArray) -> FloatArray:
        return self._shape(np.bincount(self.g[mask], minlength=self.size))

    def sum(self, values: FloatArray, mask: BoolArray) -> FloatArray:
        return self._shape(np.bincount(self.g[mask], weights=values[mask], minlength=self.size))

    def _extreme(self, op: np.ufunc, start: float, values: FloatArray, mask: BoolArray) -> Any:
        out = np.full(self.size, start)
        op.at(out, self.g[mask], values[mask])
        return self._shape(np.where(np.isfinite(out), out, np.nan))

    def max(self, values: FloatArray, mask: BoolArray) -> FloatArray:
        return self._extreme(np.maximum, -np.inf, values, mask)  # type: ignore[no-any-return]

    def min(self, values: FloatArray, mask: BoolArray) -> FloatArray:
        return self._extreme(np.minimum, np.inf, values, mask)  # type: ignore[no-any-return]

    def mean_rows(self, rows: IntArray, values: FloatArray) -> FloatArray:
        gr = self.g[rows]
        c = np.bincount(gr, minlength=self.size)
        s = np.bincount(gr, weights=values, minlength=self.size)
        with np.errstate(invalid="ignore", divide="ignore"):
            return self._shape(np.where(c > 0, s / np.maximum(c, 1), np.nan))


def _reduce_by_type(f: Forest, a: _Arrays) -> FloatArray:
    """The features of :func:`_reduce` for every type class at once: ``(features, cells, K)``,
    in :data:`_FEATURES` order."""
    gr = _Groups(f, a.root_type)
    seg = a.seg_mask
    cols = [
        gr.count(a.roots),
        gr.count(a.sec_start),
        gr.count(a.bif),
        gr.count(a.fork),
        gr.count(a.leaves),
        gr.sum(a.seg_len, seg),
        gr.sum(a.seg_area, seg),
        gr.sum(a.seg_vol, seg),
        _zero_nan(gr.max(a.order, a.neur)),
        _zero_nan(gr.max(a.d_end, a.leaves)),
        _zero_nan(gr.max(a.path, a.sec_end)),
        gr.mean_rows(a.angle_rows, a.local),
        gr.mean_rows(a.angle_rows, a.remote),
        gr.mean_rows(a.contraction_rows, a.contraction),
        gr.mean_rows(a.asym_rows, a.asymmetry),
    ]
    for ax in range(3):
        x = f.xyz[:, ax]
        cols.append(_zero_nan(gr.max(x, a.neur) - gr.min(x, a.neur)))
    return np.stack(cols)


#: the features :func:`_reduce` computes, in order
_FEATURES = (
    "number_of_neurites",
    "number_of_sections",
    "number_of_bifurcations",
    "number_of_forking_points",
    "number_of_leaves",
    "total_length",
    "total_area",
    "total_volume",
    "max_branch_order",
    "max_radial_distance",
    "max_path_distance",
    "mean_local_bifurcation_angle",
    "mean_remote_bifurcation_angle",
    "mean_contraction",
    "mean_partition_asymmetry",
    "total_width",
    "total_height",
    "total_depth",
)


def neurom_features_by_type(
    f: Forest, cells: Sequence[Morphology], neurite_types: Sequence[str] = ("all",)
) -> dict[str, dict[str, FloatArray]]:
    """The ``neurom`` features per neurite type: ``{type: {feature: per-cell values}}``.

    ``neurite_types`` are keys of :data:`NEURITE_TYPES` (checked by the caller). The tree
    passes run once; ``all`` is reduced over every neurite, the other types together in one
    grouped reduction per feature.
    """
    a = _arrays(f, cells)
    radius, area = neurom_soma(cells)
    out: dict[str, dict[str, FloatArray]] = {}
    grouped = None
    for t in neurite_types:
        want = NEURITE_TYPES[t]
        if want is None:
            feats = _reduce(f, a, None)
        else:
            if grouped is None:
                grouped = _reduce_by_type(f, a)
            k = want - 2  # the type class of 2, 3, 4
            feats = {name: grouped[j, :, k] for j, name in enumerate(_FEATURES)}
        feats["soma_radius"] = radius
        feats["soma_surface_area"] = area
        out[t] = feats
    return out


def neurom_features(f: Forest, cells: Sequence[Morphology]) -> dict[str, FloatArray]:
    """The ``neurom`` features over every neurite (NeuroM's default ``neurite_type``)."""
    return neurom_features_by_type(f, cells, ("all",))["all"]


def _forced_section_starts(f: Forest, cells: Sequence[Morphology]) -> npt.NDArray[np.bool_]:
    """Rows that start a section because the file says so (Neurolucida branch blocks, HDF5
    child sections)."""
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
