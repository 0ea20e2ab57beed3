"""Tree measures shared by the conventions: compartment lengths/areas/volumes, branch
contraction, bifurcation angles and section ends, over a packed :class:`Forest`."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from patchatlas.core.tree import AUTO, nearest_marked_ancestor
from patchatlas.morphology._forest import Forest, angle, frustum_area, frustum_volume

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def lengths(f: Forest, comp: npt.NDArray[np.bool_], *, prefix: str) -> dict[str, FloatArray]:
    r1, r2, L = f.r, f.r[f.pp], f.seg
    return {
        f"{prefix}total_length": f.sum(L, comp),
        f"{prefix}total_surface": f.sum(frustum_area(r1, r2, L), comp),
        f"{prefix}total_volume": f.sum(frustum_volume(r1, r2, L), comp),
    }


def contraction(f: Forest, v: Any) -> FloatArray:
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


def bif_angles(
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
        end_of = section_end(parent, branch_end, runs=runs)
    rem = angle(f.xyz[end_of[k0]] - f.xyz[b], f.xyz[end_of[k1]] - f.xyz[b])
    return loc, rem, b


def section_end(
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
