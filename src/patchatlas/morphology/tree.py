"""Vectorised tree primitives over parent-index arrays (no recursion, no per-node Python loops).

A tree (or forest) is a ``parent`` array of row indices, ``-1`` for roots, with every parent row
before its children (topological order). Everything here is pointer jumping (O(n log depth)) or a
single ``bincount``/``reduceat``, so a 30 M-node forest of 3,000 cells is handled the same way as
one cell.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from patchatlas.errors import ValidationError

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

__all__ = [
    "ancestor_sum",
    "depth_and_cycles",
    "nearest_marked_ancestor",
    "subtree_max",
    "topological_order",
]


def depth_and_cycles(parent: IntArray) -> tuple[IntArray, BoolArray]:
    """Number of ancestors of each node, and a mask of nodes that never reach a root.

    Works for any order of rows. Nodes on (or hanging below) a parent cycle get ``depth=-1`` and
    ``True`` in the mask. Runs ``ceil(log2(n)) + 1`` rounds of pointer jumping at most, so a cycle
    can never make it hang.
    """
    n = parent.size
    p = parent.astype(np.int64, copy=True)
    d = (p >= 0).astype(np.int64)
    rounds = int(np.ceil(np.log2(max(n, 2)))) + 2
    for _ in range(rounds):
        m = p >= 0
        if not m.any():
            break
        pm = p[m]
        d[m] = d[m] + d[pm]
        p[m] = p[pm]
    bad = p >= 0
    d[bad] = -1
    return d, bad


def topological_order(parent: IntArray) -> IntArray:
    """A row permutation that puts every parent before its children (stable: keeps file order
    among nodes of equal depth, and the identity when the rows are already ordered)."""
    n = parent.size
    idx = np.arange(n, dtype=np.int64)
    if n == 0 or bool(np.all(parent < idx)):
        return idx
    depth, bad = depth_and_cycles(parent)
    if bad.any():
        raise ValidationError(
            f"parent links form a cycle through {int(bad.sum())} node(s) "
            "(rows " + ", ".join(map(str, np.flatnonzero(bad)[:10].tolist())) + ")"
        )
    return np.argsort(depth, kind="stable").astype(np.int64)


def ancestor_sum(parent: IntArray, values: FloatArray) -> FloatArray:
    """``out[i] = values[i] + values[parent[i]] + ...`` up to the root (inclusive sums)."""
    s = np.asarray(values, dtype=np.float64).copy()
    p = parent.copy()
    while True:
        m = p >= 0
        if not m.any():
            return s
        pm = p[m]
        s_new = s.copy()
        s_new[m] += s[pm]
        p_new = p.copy()
        p_new[m] = p[pm]
        s, p = s_new, p_new


def ancestor_count(parent: IntArray, marks: BoolArray) -> IntArray:
    """Number of marked nodes among a node and its ancestors."""
    return np.rint(ancestor_sum(parent, marks.astype(np.float64))).astype(np.int64)


def nearest_marked_ancestor(
    parent: IntArray, marks: BoolArray, *, inclusive: bool = True
) -> IntArray:
    """Row of the nearest marked node at or above each node (``-1`` when there is none).

    With ``inclusive=False`` the node itself is not considered.
    """
    n = parent.size
    if not inclusive:
        incl = nearest_marked_ancestor(parent, marks, inclusive=True)
        out = np.full(n, -1, dtype=np.int64)
        has_parent = parent >= 0
        out[has_parent] = incl[parent[has_parent]]
        return out
    idx = np.arange(n, dtype=np.int64)
    lab = np.where(marks, idx, -1)
    p = np.where(marks, -1, parent)
    while True:
        m = (lab < 0) & (p >= 0)
        if not m.any():
            return lab
        pm = p[m]
        lab_new = lab.copy()
        lab_new[m] = lab[pm]
        p_new = p.copy()
        p_new[m] = p[pm]
        # once a label is found, stop jumping
        p_new[lab_new >= 0] = -1
        lab, p = lab_new, p_new


def subtree_max(
    parent: IntArray, values: FloatArray, *, order: IntArray | None = None
) -> FloatArray:
    """``out[i] = max(values[j] for j in subtree(i))`` for a topologically ordered forest.

    Uses ``np.maximum.at`` level by level from the deepest level up (levels = tree depth), which is
    fine for the few features that need it; per-cell maxima use ``reduceat`` instead.
    """
    n = parent.size
    out = np.asarray(values, dtype=np.float64).copy()
    if n == 0:
        return out
    depth, _ = depth_and_cycles(parent)
    if order is None:
        order = np.argsort(-depth, kind="stable")
    # group rows by depth, deepest first
    d_sorted = depth[order]
    bounds = np.flatnonzero(np.diff(d_sorted)) + 1
    for rows in np.split(order, bounds):
        rows = rows[parent[rows] >= 0]
        if rows.size:
            np.maximum.at(out, parent[rows], out[rows])
    return out


def subtree_sum(parent: IntArray, values: FloatArray) -> FloatArray:
    """``out[i] = sum(values[j] for j in subtree(i))`` (via the ancestor-sum identity)."""
    n = parent.size
    vals = np.asarray(values, dtype=np.float64)
    out = vals.copy()
    if n == 0:
        return out
    depth, _ = depth_and_cycles(parent)
    order = np.argsort(-depth, kind="stable")
    d_sorted = depth[order]
    bounds = np.flatnonzero(np.diff(d_sorted)) + 1
    for rows in np.split(order, bounds):
        rows = rows[parent[rows] >= 0]
        if rows.size:
            out += np.bincount(parent[rows], weights=out[rows], minlength=n)
    return out


def as_int(a: Any) -> IntArray:
    """``np.asarray(a, int64)``."""
    return np.asarray(a, dtype=np.int64)
