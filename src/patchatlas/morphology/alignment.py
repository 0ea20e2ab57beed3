"""Upright transform and layer alignment from pia / white-matter / layer drawings.

Clean-room implementation of the published procedure (Gouwens et al. 2019; notes §4):

1. **Depth field**: φ solves Laplace's equation on a grid between the pia (φ = 0) and the white
   matter (φ = 1) polylines, with no-flux sides; its gradient gives the local cortical axis.
2. **Upright**: the morphology is moved so its soma sits on the drawn soma centre, then rotated
   about the soma so that −∇φ at the soma (toward pia) points to +y.
3. **Layer alignment**: every node is marched along the field lines, up and down, until it leaves
   its layer polygon; its fractional depth f in the layer maps to
   ``y = −(top_ref + f · thickness_ref)`` with reference layer depths (default: the mouse ME/MET
   averages). x becomes the upright x relative to the soma, z is unchanged.

The marching is vectorised over nodes on a raster (grid lookups, no per-node polygon tests).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cached_property

import numpy as np
import numpy.typing as npt

from patchatlas.core.morphology import LayerDrawings, Morphology
from patchatlas.errors import DataError

__all__ = [
    "MOUSE_LAYER_DEPTHS",
    "DepthField",
    "LayerDrawings",
    "layer_align",
    "soma_depth",
    "upright",
    "upright_angle",
]

FloatArray = npt.NDArray[np.float64]

#: Top of each layer (µm from pia) averaged over mouse ME/MET cells (skeleton_keys test file).
MOUSE_LAYER_DEPTHS: dict[str, float] = {
    "2/3": 115.1112491335,
    "4": 333.4658190171,
    "5": 453.6227158132,
    "6a": 687.6482650269,
    "6b": 883.1308910545,
    "wm": 922.5861720311,
}
LAYER_ORDER = ("1", "2/3", "4", "5", "6a", "6b")


# ------------------------------------------------------------------------------ geometry helpers
def _points_in_polygon(pts: FloatArray, poly: FloatArray) -> npt.NDArray[np.bool_]:
    """Even-odd rule, vectorised over points (chunked over edges)."""
    x, y = pts[:, 0], pts[:, 1]
    inside = np.zeros(len(pts), dtype=bool)
    a = poly
    b = np.roll(poly, -1, axis=0)
    for (x1, y1), (x2, y2) in zip(a, b, strict=True):
        cond = (y1 > y) != (y2 > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            xint = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
        inside ^= cond & (x < xint)
    return inside


def _dist_to_polyline(pts: FloatArray, line: FloatArray) -> FloatArray:
    a = line[:-1][None, :, :]
    b = line[1:][None, :, :]
    p = pts[:, None, :]
    ab = b - a
    t = np.clip(np.sum((p - a) * ab, axis=2) / np.maximum(np.sum(ab * ab, axis=2), 1e-12), 0, 1)
    q = a + t[..., None] * ab
    return np.asarray(np.min(np.linalg.norm(p - q, axis=2), axis=1), dtype=np.float64)


class DepthField:
    """Laplace depth field φ (0 at pia, 1 at white matter) on a regular grid.

    Parameters
    ----------
    drawings
        The layer drawings (µm).
    spacing
        Grid spacing in µm (default 5).
    """

    def __init__(self, drawings: LayerDrawings, *, spacing: float = 5.0) -> None:
        import scipy.sparse as sp
        import scipy.sparse.linalg as spla

        self.drawings = drawings
        self.h = float(spacing)
        pts = np.vstack([drawings.pia, drawings.wm])
        lo = pts.min(axis=0) - 4 * self.h
        hi = pts.max(axis=0) + 4 * self.h
        self.origin = lo
        nx = int(np.ceil((hi[0] - lo[0]) / self.h)) + 1
        ny = int(np.ceil((hi[1] - lo[1]) / self.h)) + 1
        if nx * ny > 4_000_000:
            raise DataError("layer drawings span too large an area for the depth-field grid")
        self.shape = (ny, nx)
        gx, gy = np.meshgrid(lo[0] + self.h * np.arange(nx), lo[1] + self.h * np.arange(ny))
        grid = np.column_stack([gx.ravel(), gy.ravel()])
        region = np.vstack([drawings.pia, drawings.wm[::-1]])
        inside = _points_in_polygon(grid, region)
        d_pia = _dist_to_polyline(grid, drawings.pia)
        d_wm = _dist_to_polyline(grid, drawings.wm)
        near_pia = d_pia <= 0.75 * self.h
        near_wm = (d_wm <= 0.75 * self.h) & ~near_pia
        active = inside | near_pia | near_wm
        fixed = near_pia | near_wm
        unknown = active & ~fixed
        n = grid.shape[0]
        idx = np.full(n, -1, dtype=np.int64)
        idx[unknown] = np.arange(int(unknown.sum()))
        phi = np.full(n, np.nan)
        phi[near_pia] = 0.0
        phi[near_wm] = 1.0
        rows, cols, vals = [], [], []
        rhs = np.zeros(int(unknown.sum()))
        u = np.flatnonzero(unknown)
        iy, ix = np.divmod(u, nx)
        diag = np.zeros(u.size)
        for dy, dx in ((0, 1), (0, -1), (1, 0), (-1, 0)):
            jy, jx = iy + dy, ix + dx
            ok = (jy >= 0) & (jy < ny) & (jx >= 0) & (jx < nx)
            j = np.where(ok, jy * nx + jx, 0)
            ok &= active[j]  # no-flux across the domain edge
            diag += ok
            is_unknown = ok & unknown[j]
            rows.append(idx[u[is_unknown]])
            cols.append(idx[j[is_unknown]])
            vals.append(-np.ones(int(is_unknown.sum())))
            is_fixed = ok & fixed[j]
            np.add.at(rhs, idx[u[is_fixed]], phi[j[is_fixed]])
        rows.append(idx[u])
        cols.append(idx[u])
        vals.append(np.maximum(diag, 1.0))
        a = sp.csr_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
            shape=(u.size, u.size),
        )
        phi[u] = spla.spsolve(a.tocsc(), rhs)
        # fill outside cells from the nearest active value along rows/cols (for lookups near edges)
        field = phi.reshape(ny, nx)
        self.active = active.reshape(ny, nx)
        self.phi = _fill_nearest(field)
        gy_, gx_ = np.gradient(self.phi, self.h)
        self.grad = np.stack([gx_, gy_], axis=-1)

    def _interp(self, arr: npt.NDArray[np.float64], pts: FloatArray) -> npt.NDArray[np.float64]:
        f = (pts - self.origin) / self.h
        ny, nx = self.shape
        fx = np.clip(f[:, 0], 0, nx - 1.000001)
        fy = np.clip(f[:, 1], 0, ny - 1.000001)
        x0 = np.floor(fx).astype(np.int64)
        y0 = np.floor(fy).astype(np.int64)
        tx = (fx - x0)[:, None] if arr.ndim == 3 else fx - x0
        ty = (fy - y0)[:, None] if arr.ndim == 3 else fy - y0
        v00, v01 = arr[y0, x0], arr[y0, x0 + 1]
        v10, v11 = arr[y0 + 1, x0], arr[y0 + 1, x0 + 1]
        out = (1 - ty) * ((1 - tx) * v00 + tx * v01) + ty * ((1 - tx) * v10 + tx * v11)
        return np.asarray(out, dtype=np.float64)

    def value(self, pts: npt.ArrayLike) -> FloatArray:
        """φ at points ``(n, 2)`` (µm).

        Parameters
        ----------
        pts
            Points ``(n, 2)`` or one point ``(2,)``, in µm in the drawings' frame.

        Returns
        -------
        numpy.ndarray
            φ per point, bilinearly interpolated (0 at pia, 1 at white matter; points off the
            grid take the nearest grid value).
        """
        return self._interp(self.phi, np.atleast_2d(np.asarray(pts, dtype=np.float64)))

    def gradient(self, pts: npt.ArrayLike) -> FloatArray:
        """∇φ at points ``(n, 2)`` (points toward white matter).

        Parameters
        ----------
        pts
            Points ``(n, 2)`` or one point ``(2,)``, in µm in the drawings' frame.

        Returns
        -------
        numpy.ndarray
            ``(n, 2)`` gradient in 1/µm, bilinearly interpolated.
        """
        return self._interp(self.grad, np.atleast_2d(np.asarray(pts, dtype=np.float64)))

    @cached_property
    def layer_raster(self) -> npt.NDArray[np.int64]:
        """Index into ``LAYER_ORDER`` of the layer polygon containing each grid cell (−1: none;
        ``len(LAYER_ORDER)`` below white matter)."""
        ny, nx = self.shape
        gx, gy = np.meshgrid(
            self.origin[0] + self.h * np.arange(nx), self.origin[1] + self.h * np.arange(ny)
        )
        grid = np.column_stack([gx.ravel(), gy.ravel()])
        lab = np.full(grid.shape[0], -1, dtype=np.int64)
        for k, key in enumerate(LAYER_ORDER):
            poly = self.drawings.layers.get(key)
            if poly is not None and len(poly) >= 3:
                lab[(lab < 0) & _points_in_polygon(grid, poly)] = k
        return lab.reshape(ny, nx)

    def layer_of(self, pts: FloatArray) -> npt.NDArray[np.int64]:
        """Layer index at points (nearest raster cell).

        Parameters
        ----------
        pts
            Points ``(n, 2)`` in µm in the drawings' frame.

        Returns
        -------
        numpy.ndarray of int64
            Index into ``LAYER_ORDER`` (``"1"``, ``"2/3"``, ``"4"``, ``"5"``, ``"6a"``,
            ``"6b"``) of the layer polygon at each point, −1 outside every polygon.
        """
        f = np.rint((pts - self.origin) / self.h).astype(np.int64)
        ny, nx = self.shape
        fx = np.clip(f[:, 0], 0, nx - 1)
        fy = np.clip(f[:, 1], 0, ny - 1)
        out: npt.NDArray[np.int64] = self.layer_raster[fy, fx]
        return out


def _fill_nearest(field: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    from scipy import ndimage

    bad = ~np.isfinite(field)
    if not bad.any():
        return field
    idx = ndimage.distance_transform_edt(bad, return_distances=False, return_indices=True)
    return np.asarray(field[tuple(idx)], dtype=np.float64)


def upright_angle(field: DepthField, point: npt.ArrayLike | None = None) -> float:
    """Rotation (radians, counter-clockwise) that turns −∇φ at ``point`` (default: the soma
    drawing centre) to +y.

    Parameters
    ----------
    field
        The depth field of the cell's drawings.
    point
        ``(x, y)`` in µm in the drawings' frame (default: the drawn soma centre).

    Returns
    -------
    float
        The angle in radians.

    Raises
    ------
    patchatlas.errors.DataError
        The field has no (finite, non-zero) gradient at the point.
    """
    p = field.drawings.soma_center if point is None else np.asarray(point, dtype=np.float64)
    g = field.gradient(p.reshape(1, 2))[0]
    v = -g  # toward pia
    if not np.all(np.isfinite(v)) or np.linalg.norm(v) == 0:
        raise DataError("the depth field has no gradient at the soma; check the drawings")
    return float(np.pi / 2 - np.arctan2(v[1], v[0]))


def _rotation(theta: float) -> FloatArray:
    c, s = np.cos(theta), np.sin(theta)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def upright(
    morph: Morphology, drawings: LayerDrawings, *, field: DepthField | None = None
) -> Morphology:
    """Rotate a morphology so that pia is +y, about its soma; soma placed at the origin.

    The angle is that of the depth field at the drawn soma centre (:func:`upright_angle`).

    Parameters
    ----------
    morph
        Morphology in its raw (slice image) orientation, µm.
    drawings
        Pia / white matter / soma / layer drawings of this cell (µm).
    field
        The :class:`DepthField` of ``drawings``, when already computed (it is the costly part).

    Returns
    -------
    Morphology
        The rotated copy (rotation about z; z unchanged), soma at the origin; the angle in
        ``meta["upright_angle_rad"]``.

    Raises
    ------
    patchatlas.errors.DataError
        The drawings span too large an area for the field grid, or the field has no gradient
        at the soma.
    """
    fld = field or DepthField(drawings)
    theta = upright_angle(fld)
    shifted = morph.translated(-morph.soma_center)
    out = shifted.transformed(_rotation(theta))
    meta = dict(out.meta)
    meta["upright_angle_rad"] = theta
    return out.replace(meta=meta)


def layer_align(
    morph: Morphology,
    drawings: LayerDrawings,
    *,
    reference_depths: Mapping[str, float] = MOUSE_LAYER_DEPTHS,
    field: DepthField | None = None,
    step: float = 1.0,
    max_steps: int = 2000,
) -> Morphology:
    """Layer-aligned copy: pia at y = 0, depth = −y stretched layer by layer to the reference.

    Parameters
    ----------
    morph
        Morphology in its raw (slice image) orientation.
    drawings
        Pia / white matter / soma / layer polygons of this cell (µm).
    reference_depths
        Top of each layer below pia (keys ``"2/3"``, ``"4"``, ``"5"``, ``"6a"``, ``"6b"``,
        ``"wm"``; layer 1 starts at 0).
    field
        The :class:`DepthField` of ``drawings``, when already computed (it is the costly part).
    step, max_steps
        Marching step (µm) along field lines and its bound (nodes never loop forever).

    Returns
    -------
    Morphology
        x = upright x relative to the soma, y = −aligned depth, z unchanged. Nodes outside every
        layer polygon above white matter get NaN depth (listed in ``meta["unaligned_nodes"]``);
        nodes below white matter get ``−(wm_ref + distance below WM)``.
    """
    fld = field or DepthField(drawings)
    tops = [0.0] + [float(reference_depths[k]) for k in LAYER_ORDER[1:]]
    bottoms = [*tops[1:], float(reference_depths["wm"])]
    theta = upright_angle(fld)
    # nodes in the drawings' frame: soma on the drawn soma centre
    pts = morph.xyz[:, :2] - morph.soma_center[:2] + drawings.soma_center
    lay = fld.layer_of(pts)
    wm_idx = len(LAYER_ORDER)

    def march(direction: float) -> FloatArray:
        pos = pts.copy()
        dist = np.zeros(len(pts))
        active = lay >= 0
        for _ in range(max_steps):
            if not active.any():
                break
            g = fld.gradient(pos[active])
            norm = np.linalg.norm(g, axis=1)
            norm[norm == 0] = 1.0
            nxt = pos[active] + direction * step * g / norm[:, None]
            same = fld.layer_of(nxt) == lay[active]
            idx = np.flatnonzero(active)
            moved = idx[same]
            pos[moved] = nxt[same]
            dist[moved] += step
            active[idx[~same]] = False
        return dist

    up = march(-1.0)  # toward pia
    down = march(+1.0)
    depth = np.full(len(pts), np.nan)
    inl = (lay >= 0) & (lay < wm_idx)
    tot = up + down
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(tot > 0, up / tot, 0.0)
    tops_a, bots_a = np.asarray(tops), np.asarray(bottoms)
    li = np.where(inl, lay, 0)
    depth[inl] = tops_a[li[inl]] + frac[inl] * (bots_a[li[inl]] - tops_a[li[inl]])
    below = ~inl & (fld.value(pts) >= 1.0)
    if below.any():
        depth[below] = float(reference_depths["wm"]) + _dist_to_polyline(pts[below], drawings.wm)
    rot = _rotation(theta)
    rel = (morph.xyz - morph.soma_center) @ rot.T
    xyz = np.column_stack([rel[:, 0], -depth, morph.xyz[:, 2]])
    meta = dict(morph.meta)
    meta.update(
        {
            "layer_aligned": True,
            "upright_angle_rad": theta,
            "unaligned_nodes": int(np.isnan(depth).sum()),
        }
    )
    return morph.replace(xyz=xyz, meta=meta, soma_contour=None)


def soma_depth(
    morph: Morphology,
    drawings: LayerDrawings,
    *,
    reference_depths: Mapping[str, float] = MOUSE_LAYER_DEPTHS,
    field: DepthField | None = None,
) -> float:
    """Layer-aligned soma depth below pia (µm).

    Parameters
    ----------
    morph
        Morphology in its raw (slice image) orientation, µm.
    drawings
        Pia / white matter / soma / layer drawings of this cell (µm).
    reference_depths
        Top of each layer below pia in µm (as :func:`layer_align`).
    field
        The :class:`DepthField` of ``drawings``, when already computed.

    Returns
    -------
    float
        Depth of the soma centre in µm below pia after layer alignment (NaN when the soma is
        outside every layer polygon above white matter).
    """
    soma_only = Morphology(
        ids=np.array([1]),
        types=np.array([1]),
        xyz=morph.soma_center.reshape(1, 3),
        radius=np.array([morph.soma_radius]),
        parent=np.array([-1]),
        name=morph.name,
    )
    al = layer_align(soma_only, drawings, reference_depths=reference_depths, field=field)
    return float(-al.xyz[0, 1])


def drawings_layers(drawings: LayerDrawings) -> Sequence[str]:
    """Layer keys present in the drawings, in cortical order."""
    return [k for k in LAYER_ORDER if k in drawings.layers]
