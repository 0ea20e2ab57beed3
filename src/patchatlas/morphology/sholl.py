"""Sholl analysis by difference arrays (O(n log R + R) per cell, batched over cells).

A compartment (neurite node → neurite parent) crosses the sphere of radius r around the soma
centre when ``d_min ≤ r ≤ d_max`` for its two end distances (both ends inclusive, as NeuroM's
``sholl_crossings``). Each compartment adds +1 at the first radius ≥ d_min and −1 after the last
radius ≤ d_max; a cumulative sum gives the counts for all radii at once.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from patchatlas.core.morphology import SOMA, Morphology, MorphologySet
from patchatlas.errors import DataError
from patchatlas.morphology._forest import node_chunks
from patchatlas.morphology._soma import neurom_soma, neurom_soma_centers

__all__ = ["sholl_crossings", "sholl_frequency", "sholl_matrix"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def _centers(morphs: Sequence[Morphology]) -> FloatArray:
    return neurom_soma_centers(morphs)


def sholl_matrix(
    morphs: Sequence[Morphology],
    radii: npt.ArrayLike,
    *,
    centers: npt.ArrayLike | None = None,
    types: Sequence[int] | None = None,
) -> IntArray:
    """Crossing counts ``(n_cells, n_radii)`` for many cells in one pass.

    Parameters
    ----------
    morphs
        Morphologies.
    radii
        Sorted radii (µm), shared by all cells.
    centers
        ``(n_cells, 3)`` sphere centres (default: the soma centre of each cell, NeuroM's choice).
    types
        Restrict to compartments whose child node has one of these types (default: all neurites).

    Returns
    -------
    numpy.ndarray of int64
        ``counts[k, j]``: compartments of cell ``k`` crossing the sphere of radius ``radii[j]``
        (both end distances inclusive).

    Raises
    ------
    patchatlas.errors.DataError
        Radii not in increasing order.
    """
    cells = list(morphs)
    r = np.asarray(radii, dtype=np.float64).ravel()
    if r.size and np.any(np.diff(r) < 0):
        raise DataError("Sholl radii must be sorted in increasing order")
    c = _centers(cells) if centers is None else np.asarray(centers, dtype=np.float64)
    chunks = node_chunks(cells)
    if len(chunks) > 1:  # bounded temporaries (see _forest.CHUNK_NODES)
        out, k = [], 0
        for ch in chunks:
            out.append(sholl_matrix(ch, r, centers=c[k : k + len(ch)], types=types))
            k += len(ch)
        return np.concatenate(out, axis=0)
    ms = MorphologySet.pack(cells)
    p = ms.parent
    has = p >= 0
    pp = np.where(has, p, 0)
    neur = ms.types != SOMA
    comp = has & neur & neur[pp]
    if types is not None:
        comp &= np.isin(ms.types, types)
    rows = np.flatnonzero(comp)
    cell = ms.cell[rows]
    d2a = np.sum((ms.xyz[rows] - c[cell]) ** 2, axis=1)
    d2b = np.sum((ms.xyz[pp[rows]] - c[cell]) ** 2, axis=1)
    lo2, hi2 = np.minimum(d2a, d2b), np.maximum(d2a, d2b)
    r2 = r * r
    nr = r.size
    lo = np.searchsorted(r2, lo2, side="left")
    hi = np.searchsorted(r2, hi2, side="right")
    width = nr + 1
    diff = np.bincount(cell * width + lo, minlength=len(cells) * width)
    diff -= np.bincount(cell * width + hi, minlength=len(cells) * width)
    counts = np.cumsum(diff.reshape(len(cells), width), axis=1)[:, :nr]
    return counts.astype(np.int64)


def sholl_crossings(
    morph: Morphology,
    radii: npt.ArrayLike,
    *,
    center: npt.ArrayLike | None = None,
    types: Sequence[int] | None = None,
) -> IntArray:
    """Number of compartments crossing each radius around ``center`` (default: soma centre).

    Parameters
    ----------
    morph
        The morphology.
    radii
        Radii in µm, in increasing order.
    center
        Sphere centre ``(x, y, z)`` in µm (default: the soma centre, as NeuroM).
    types
        Restrict to compartments whose child node has one of these SWC types (default: all
        neurites).

    Returns
    -------
    numpy.ndarray of int64
        One count per radius.

    Raises
    ------
    patchatlas.errors.DataError
        Radii not in increasing order.
    """
    centers = None if center is None else np.asarray(center, dtype=np.float64).reshape(1, 3)
    out: IntArray = sholl_matrix([morph], radii, centers=centers, types=types)[0]
    return out


def sholl_frequency(
    morph: Morphology,
    *,
    step: float = 10.0,
    convention: str = "neurom",
    types: Sequence[int] | None = None,
) -> IntArray:
    """Sholl profile at radii ``soma_radius, soma_radius + step, …`` up to the farthest point.

    With ``convention="neurom"`` the radii are exactly NeuroM's ``sholl_frequency`` ones
    (``np.arange(r_soma, r_soma + max distance, step)``, NeuroM soma radius); with
    ``"patchatlas"`` they start at 0.

    Parameters
    ----------
    morph
        The morphology.
    step
        Spacing of the radii in µm.
    convention
        ``"neurom"`` or ``"patchatlas"`` (radii ``0, step, …`` up to one step past the
        farthest neurite point).
    types
        Restrict to compartments whose child node has one of these SWC types (default: all
        neurites).

    Returns
    -------
    numpy.ndarray of int64
        Crossings per radius; empty when the morphology has no neurite node.

    Raises
    ------
    patchatlas.errors.DataError
        A step ≤ 0 or an unknown convention.
    """
    if step <= 0:
        raise DataError("Sholl step must be positive")
    c = _centers([morph])
    neur = morph.types != SOMA
    if not neur.any():
        return np.zeros(0, dtype=np.int64)
    maxd = float(np.max(np.linalg.norm(morph.xyz[neur] - c[0], axis=1)))
    if convention == "neurom":
        r0 = float(neurom_soma([morph])[0][0])
        r0 = 0.0 if not np.isfinite(r0) else r0
        radii = np.arange(r0, r0 + maxd, step)
    elif convention == "patchatlas":
        radii = np.arange(0.0, maxd + step, step)
    else:
        raise DataError(f"unknown Sholl convention {convention!r}; use 'neurom' or 'patchatlas'")
    return sholl_crossings(morph, radii, center=c[0], types=types)
