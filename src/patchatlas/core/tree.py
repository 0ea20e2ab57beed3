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
    "chain_runs",
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

    Parameters
    ----------
    parent
        Parent row of each node, ``-1`` for roots.

    Returns
    -------
    depth : numpy.ndarray of int64
        Number of ancestors of each node (0 for roots, -1 on or below a cycle).
    in_cycle : numpy.ndarray of bool
        True for the nodes that never reach a root.
    """
    n = parent.size
    p = parent.astype(np.int64, copy=True)
    d = (p >= 0).astype(np.int64)
    rounds = int(np.ceil(np.log2(max(n, 2)))) + 2
    act = np.flatnonzero(p >= 0)
    for _ in range(rounds):
        if not act.size:
            break
        pa = p[act]
        d[act] += d[pa]
        p[act] = p[pa]
        act = act[p[act] >= 0]
    bad = p >= 0
    d[bad] = -1
    return d, bad


def topological_order(parent: IntArray) -> IntArray:
    """A row permutation that puts every parent before its children (stable: keeps file order
    among nodes of equal depth, and the identity when the rows are already ordered).

    Parameters
    ----------
    parent
        Parent row of each node, ``-1`` for roots, rows in any order.

    Returns
    -------
    numpy.ndarray of int64
        ``perm`` such that the rows ``perm`` are in topological order (by depth).

    Raises
    ------
    patchatlas.errors.ValidationError
        The parent links form a cycle.
    """
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


#: ``(run_id per row, first row per run, parent run per run)``: see :func:`chain_runs`
Runs = tuple[IntArray, IntArray, IntArray]


class _Auto:
    """Default of ``runs=``: compute the chain runs of ``parent`` on the spot."""


AUTO = _Auto()


def chain_runs(parent: IntArray) -> Runs | None:
    """The chains of consecutive rows of ``parent`` (see :func:`ancestor_sum`), or None.

    Compute it once and pass it as ``runs=`` to several :func:`ancestor_sum` /
    :func:`nearest_marked_ancestor` calls over the same ``parent`` array.

    Parameters
    ----------
    parent
        Parent row of each node, ``-1`` for roots, in topological order.

    Returns
    -------
    tuple of numpy.ndarray or None
        ``(run id of each row, first row of each run, parent run of each run)``, where a run
        is a stretch with ``parent[i] == i - 1``; ``None`` when compressing would not pay
        (fewer than 64 rows, more than a quarter as many runs as rows, or rows out of order).
    """
    return _runs(parent)


def _runs(parent: IntArray) -> Runs | None:
    """Chains of consecutive rows (``parent[i] == i - 1``), as SWC files write unbranched
    stretches: ``(run_id per row, first row per run, parent run per run)``, or None when the
    compression would not pay (few chains, or rows not topologically ordered)."""
    n = parent.size
    if n < 64:
        return None
    idx = np.arange(n, dtype=np.int64)
    if not bool(np.all(parent < idx)):
        return None
    start = np.ones(n, dtype=bool)
    start[1:] = parent[1:] != idx[:-1]
    n_runs = int(start.sum())
    if n_runs > n // 4:
        return None
    run_id = np.cumsum(start) - 1
    first = np.flatnonzero(start)
    pr = parent[first]
    run_parent = np.where(pr >= 0, run_id[np.maximum(pr, 0)], -1)
    return run_id, first, run_parent


def _jump_sum(parent: IntArray, values: FloatArray) -> FloatArray:
    s = np.asarray(values, dtype=np.float64).copy()
    p = parent.astype(np.int64, copy=True)
    act = np.flatnonzero(p >= 0)
    while act.size:
        pa = p[act]
        s[act] += s[pa]  # right-hand side is gathered first: a synchronous update
        p[act] = p[pa]
        act = act[p[act] >= 0]
    return s


def ancestor_sum(
    parent: IntArray, values: FloatArray, *, runs: Runs | _Auto | None = AUTO
) -> FloatArray:
    """``out[i] = values[i] + values[parent[i]] + ...`` up to the root (inclusive sums).

    Chains of consecutive rows are summed with ``cumsum``; the much smaller tree of chains is
    solved by pointer jumping on a shrinking active set (``ceil(log2(depth))`` rounds).

    Parameters
    ----------
    parent
        Parent row of each node, ``-1`` for roots, every parent before its children.
    values
        One value per node (a segment length in µm, a 0/1 mark ...).
    runs
        :func:`chain_runs` of ``parent`` when already known; by default it is computed here;
        ``None`` skips the chain compression.

    Returns
    -------
    numpy.ndarray of float64
        Sum of ``values`` over each node and all its ancestors (a path length from the root,
        for segment lengths).
    """
    v = np.asarray(values, dtype=np.float64)
    if isinstance(runs, _Auto):
        runs = _runs(parent)
    if runs is None:
        return _jump_sum(parent, v)
    run_id, first, run_parent = runs
    cs = np.cumsum(v)
    before = np.where(first > 0, cs[np.maximum(first - 1, 0)], 0.0)
    within = cs - before[run_id]
    pr = parent[first]
    attach = np.where(pr >= 0, within[np.maximum(pr, 0)], 0.0)
    # B[r] = attach[r] + B[run_parent[r]]
    b = ancestor_sum(run_parent, attach)
    return np.asarray(within + b[run_id], dtype=np.float64)


def ancestor_count(parent: IntArray, marks: BoolArray) -> IntArray:
    """Number of marked nodes among a node and its ancestors."""
    return np.rint(ancestor_sum(parent, marks.astype(np.float64))).astype(np.int64)


def nearest_marked_ancestor(
    parent: IntArray,
    marks: BoolArray,
    *,
    inclusive: bool = True,
    runs: Runs | _Auto | None = AUTO,
) -> IntArray:
    """Row of the nearest marked node at or above each node (``-1`` when there is none).

    Parameters
    ----------
    parent
        Parent row of each node, ``-1`` for roots, every parent before its children.
    marks
        True for the marked nodes (branch points, a compartment's first node ...).
    inclusive
        Whether a marked node is its own nearest marked ancestor; with ``False`` the search
        starts at its parent.
    runs
        :func:`chain_runs` of ``parent`` when already known; by default it is computed here;
        ``None`` skips the chain compression.

    Returns
    -------
    numpy.ndarray of int64
        Row of the nearest marked node at or above (or strictly above) each node, ``-1`` when
        there is none.
    """
    n = parent.size
    if not inclusive:
        incl = nearest_marked_ancestor(parent, marks, inclusive=True, runs=runs)
        out = np.full(n, -1, dtype=np.int64)
        has_parent = parent >= 0
        out[has_parent] = incl[parent[has_parent]]
        return out
    idx = np.arange(n, dtype=np.int64)
    if isinstance(runs, _Auto):
        runs = _runs(parent)
    if runs is not None:
        run_id, first, run_parent = runs
        acc = np.maximum.accumulate(np.where(marks, idx, -1))
        local = np.where(acc >= first[run_id], acc, -1)
        pr = parent[first]
        attach = np.where(pr >= 0, local[np.maximum(pr, 0)], -1)
        # nearest labelled run at or above each run, through the run tree
        run_lab = _nearest_label(run_parent, attach)
        return np.where(local >= 0, local, run_lab[run_id])
    return _nearest_label(parent, np.where(marks, idx, -1))


def _nearest_label(parent: IntArray, labels: IntArray) -> IntArray:
    """First label ``>= 0`` found at or above each node (``-1`` if none)."""
    lab = labels.astype(np.int64, copy=True)
    p = np.where(lab >= 0, -1, parent).astype(np.int64)
    act = np.flatnonzero(p >= 0)
    while act.size:
        pa = p[act]
        lab[act] = lab[pa]
        p[act] = np.where(lab[act] >= 0, -1, p[pa])
        act = act[p[act] >= 0]
    return lab


def subtree_max(
    parent: IntArray, values: FloatArray, *, order: IntArray | None = None
) -> FloatArray:
    """``out[i] = max(values[j] for j in subtree(i))`` for a topologically ordered forest.

    Uses ``np.maximum.at`` level by level from the deepest level up (levels = tree depth), which is
    fine for the few features that need it; per-cell maxima use ``reduceat`` instead.

    Parameters
    ----------
    parent
        Parent row of each node, ``-1`` for roots, every parent before its children.
    values
        One value per node.
    order
        Ignored: the levels are recomputed from ``parent`` (kept so that existing calls
        still work).

    Returns
    -------
    numpy.ndarray of float64
        The largest value in each node's subtree (the node included).
    """
    n = parent.size
    out = np.asarray(values, dtype=np.float64).copy()
    if n == 0:
        return out
    for rows in _levels_deepest_first(parent):
        np.maximum.at(out, parent[rows], out[rows])
    return out


def subtree_sum(
    parent: IntArray, values: FloatArray, *, depth: IntArray | None = None
) -> FloatArray:
    """``out[i] = sum(values[j] for j in subtree(i))``, level by level from the deepest.

    ``depth``: number of ancestors of each node, when already known (saves a tree pass).
    """
    n = parent.size
    vals = np.asarray(values, dtype=np.float64)
    out = vals.copy()
    if n == 0:
        return out
    for rows in _levels_deepest_first(parent, depth=depth):
        np.add.at(out, parent[rows], out[rows])
    return out


def _levels_deepest_first(parent: IntArray, *, depth: IntArray | None = None) -> list[IntArray]:
    """Non-root rows grouped by depth, deepest level first."""
    if depth is not None:
        pass
    elif parent.size and bool(np.all(parent < np.arange(parent.size))):
        depth = np.rint(ancestor_sum(parent, (parent >= 0).astype(np.float64))).astype(np.int64)
    else:
        depth, _ = depth_and_cycles(parent)
    rows = np.flatnonzero(parent >= 0)
    order = rows[np.argsort(-depth[rows], kind="stable")]
    d_sorted = depth[order]
    bounds = np.flatnonzero(np.diff(d_sorted)) + 1
    return np.split(order, bounds)


def as_int(a: Any) -> IntArray:
    """``np.asarray(a, int64)``."""
    return np.asarray(a, dtype=np.int64)
