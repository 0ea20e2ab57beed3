"""NeuroM/MorphIO soma models (radius, area) and soma centres, shared by the ``neurom``
convention and Sholl analysis."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from patchatlas.core.morphology import Morphology
from patchatlas.morphology._forest import frustum_area

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def neurom_soma_centers(morphs: Sequence[Morphology]) -> FloatArray:
    c = np.empty((len(morphs), 3))
    for k, m in enumerate(morphs):
        contour_soma = not m.has_soma or m.meta.get("format") in ("asc", "h5")
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


def neurom_soma(morphs: Sequence[Morphology]) -> tuple[FloatArray, FloatArray]:
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
