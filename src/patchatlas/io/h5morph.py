"""MorphIO / NeuroM HDF5 morphologies (``.h5``, versions 1, 1.1 and 2), read with h5py.

Layouts (MorphIO's specification):

``v1`` / ``v1.1``
    ``/points`` (n, 4: x, y, z, diameter in µm) and ``/structure`` (sections, 3: first point,
    section type, parent section); v1.1 adds ``/metadata`` (version, cell family) and optional
    perimeters and organelles, which are ignored.
``v2`` (Brion)
    ``/neuron1/raw/points`` (n, 4), ``/neuron1/structure/raw`` (sections, 2: first point,
    parent section) and ``/neuron1/structure/sectiontype`` (sections, 1). MorphIO 3.4+ no longer
    reads v2; the layout is the same tree, so it reads here into the same node table.

A section runs from its first point to the next section's first point. Sections of type 1 are
the soma: its points form a contour (or one point), read like a Neurolucida ``CellBody``: one
soma node at the centroid, the mean centroid distance as radius, the points in
``Morphology.soma_contour`` (one point: a sphere of that point's radius). Every other point is a
node, so a child section keeps its first point (by convention a copy of the parent section's
last point); the ``neurom`` convention starts a section there (``meta["section_start_ids"]``) and
counts no segment into it, as MorphIO does. Node ids are 1 (soma) then the points in file order.
Diameters are halved to radii.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from patchatlas.errors import CorruptFileError, ReadError, UnsupportedFormatError
from patchatlas.io._common import check_file, wrap_errors

if TYPE_CHECKING:
    from patchatlas.core.morphology import Morphology

__all__ = ["read_h5_morphology"]

_MAX_BYTES = 1 << 30
_HINT = "a MorphIO/NeuroM .h5 morphology has /points and /structure (v1) or /neuron1 (v2)"


def _dataset(h5: Any, name: str, path: Path, cols: tuple[int, ...]) -> npt.NDArray[Any]:
    ds = h5.get(name)
    if ds is None or not hasattr(ds, "shape"):
        raise CorruptFileError(path, f"has no {name} dataset", _HINT)
    shape = tuple(ds.shape)
    if len(shape) != 2 or shape[1] not in cols:
        raise CorruptFileError(path, f"{name} has shape {shape}; expected (n, {cols[0]})")
    nbytes = int(np.prod(shape, dtype=np.float64)) * ds.dtype.itemsize
    if nbytes > 64 * max(os.path.getsize(path), 1) and nbytes > _MAX_BYTES:
        raise CorruptFileError(path, f"{name} declares {nbytes} bytes in a smaller file")
    if ds.dtype.kind not in "fiu":
        raise CorruptFileError(path, f"{name} holds {ds.dtype} values, not numbers")
    return np.asarray(ds[()])


def _layout(h5: Any, path: Path) -> tuple[int, Any, Any, Any, Any]:
    """(version, points (n, 4), first point per section, type per section, parent per
    section)."""
    if "points" in h5 and "structure" in h5:
        pts = _dataset(h5, "points", path, (4,))
        st = _dataset(h5, "structure", path, (3,))
        version = 1
        meta = h5.get("metadata")
        if meta is not None and "version" in meta.attrs:
            v = np.asarray(meta.attrs["version"]).reshape(-1)
            version = int(v[0]) if v.size else 1
        return version, pts, st[:, 0], st[:, 1], st[:, 2]
    if "neuron1" in h5:
        pts = _dataset(h5, "neuron1/raw/points", path, (4,))
        st = _dataset(h5, "neuron1/structure/raw", path, (2,))
        types = _dataset(h5, "neuron1/structure/sectiontype", path, (1,))[:, 0]
        if types.shape[0] != st.shape[0]:
            raise CorruptFileError(
                path,
                f"{st.shape[0]} sections but {types.shape[0]} section types",
            )
        return 2, pts, st[:, 0], types, st[:, 1]
    raise UnsupportedFormatError(path, "is not a MorphIO/NeuroM HDF5 morphology", _HINT)


def _build(
    points: npt.ArrayLike,
    first: npt.ArrayLike,
    types: npt.ArrayLike,
    parents: npt.ArrayLike,
    *,
    name: str = "",
    source: str | None = None,
    version: int = 1,
) -> Morphology:
    """Build a :class:`~patchatlas.core.Morphology` from HDF5-morphology arrays.

    Parameters
    ----------
    points
        ``(n, 4)``: x, y, z and diameter of every point, in µm.
    first
        First point of every section (increasing).
    types
        Section type of every section (1 soma, 2 axon, 3 basal, 4 apical ...).
    parents
        Parent section of every section (-1 for roots).
    name
        Label of the morphology.
    source
        Path named in error messages.
    version
        Layout version, kept in ``meta["h5_version"]``.

    Returns
    -------
    Morphology
        See the module docs: a soma node at the centroid of the soma points, every other point
        a node (µm, radii), ``meta`` with ``format="h5"``, ``h5_version``, ``n_neurites`` and
        ``section_start_ids``.

    Raises
    ------
    patchatlas.errors.CorruptFileError
        Section offsets that decrease or point past the points, a parent that is not an
        earlier section, non-finite coordinates, or no points at all.
    """
    from patchatlas.core.morphology import Morphology

    where = Path(source) if source else None
    pts = np.asarray(points, dtype=np.float64)
    start = np.asarray(first, dtype=np.int64).reshape(-1)
    stype = np.asarray(types, dtype=np.int64).reshape(-1)
    spar = np.asarray(parents, dtype=np.int64).reshape(-1)
    n, ns = pts.shape[0], start.shape[0]
    if n == 0 or ns == 0:
        raise CorruptFileError(where, "holds no points or no sections")
    if not (stype.shape[0] == spar.shape[0] == ns):
        raise CorruptFileError(where, "sections have different numbers of starts, types, parents")
    if start[0] != 0 or np.any(np.diff(start) <= 0) or start[-1] >= n:
        raise CorruptFileError(
            where, "section start offsets must begin at 0, increase and stay inside the points"
        )
    idx = np.arange(ns)
    bad = (spar >= idx) | (spar < -1)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise CorruptFileError(
            where, f"section {k} has parent {int(spar[k])}: a parent must be an earlier section"
        )
    if not np.all(np.isfinite(pts)):
        raise CorruptFileError(where, "points hold NaN or infinite values")
    end = np.append(start[1:], n)
    sec_of_point = np.repeat(idx, end - start)
    soma_sec = stype == 1
    soma_pts = soma_sec[sec_of_point]
    have_soma = bool(soma_pts.any())
    neur = np.flatnonzero(~soma_pts)  # neurite points, file order
    # node rows: [soma] + neurite points; row of each neurite point
    shift = int(have_soma)
    row_of_point = np.full(n, -1, dtype=np.int64)
    row_of_point[neur] = np.arange(neur.size) + shift
    # parent row of each neurite point: the previous point of its section, else the last point
    # of the parent section (a neurite), else the soma (or none)
    parent_row = np.empty(neur.size, dtype=np.int64)
    first_in_sec = start[sec_of_point[neur]] == neur
    parent_row[~first_in_sec] = row_of_point[neur[~first_in_sec] - 1]
    heads = neur[first_in_sec]
    psec = spar[sec_of_point[heads]]
    attach = np.where(psec >= 0, psec, 0)
    to_neurite = (psec >= 0) & ~soma_sec[attach]
    head_parent = np.where(
        to_neurite,
        row_of_point[end[attach] - 1],
        np.where((psec >= 0) & soma_sec[attach] & have_soma, 0, -1),
    )
    parent_row[first_in_sec] = head_parent
    forced = row_of_point[heads[to_neurite]]
    contour = pts[soma_pts, :3] if have_soma else None
    soma_xyz: list[Any] = []
    soma_r: list[float] = []
    if contour is not None:
        c = contour.mean(axis=0)
        if contour.shape[0] == 1:
            r = float(pts[soma_pts, 3][0]) / 2.0
        else:
            r = float(np.linalg.norm(contour - c, axis=1).mean())
        soma_xyz, soma_r = [c], [r]
    ids = np.arange(1, neur.size + shift + 1, dtype=np.int64)
    all_types = np.concatenate([[1] * shift, stype[sec_of_point[neur]]]).astype(np.int64)
    xyz = np.vstack([np.asarray(soma_xyz).reshape(-1, 3), pts[neur, :3]])
    radius = np.concatenate([np.asarray(soma_r, dtype=np.float64), pts[neur, 3] / 2.0])
    parent_ids = np.concatenate([[-1] * shift, np.where(parent_row >= 0, parent_row + 1, -1)])
    return Morphology.from_arrays(
        ids,
        all_types,
        xyz,
        radius,
        parent_ids.astype(np.int64),
        name=name,
        source=source,
        soma_contour=contour if contour is not None and contour.shape[0] > 1 else None,
        meta={
            "format": "h5",
            "h5_version": version,
            "n_neurites": int(np.sum(~to_neurite)),
            "section_start_ids": (forced + 1).tolist(),
        },
    )


def read_h5_morphology(
    path: str | Path, *, name: str | None = None, max_bytes: int | None = _MAX_BYTES
) -> Morphology:
    """Read a MorphIO/NeuroM HDF5 morphology (``.h5``, v1, v1.1 or v2).

    Parameters
    ----------
    path
        The ``.h5`` file.
    name
        Label (default: the file stem).
    max_bytes
        Refuse larger files before reading (``None``: no limit).

    Returns
    -------
    Morphology
        The node table in µm (see the module docs); ``meta["format"] == "h5"``.

    Raises
    ------
    patchatlas.errors.UnsupportedFormatError
        An HDF5 file that is not a morphology (an NWB or AnnData file ...).
    patchatlas.errors.ReadError
        Missing, empty, oversize, not HDF5, truncated or malformed file.
    """
    p = Path(path)
    check_file(p)
    size = p.stat().st_size
    if max_bytes is not None and size > max_bytes:
        raise ReadError(
            p,
            f"is {size / 2**20:.0f} MiB, over the {max_bytes / 2**20:.0f} MiB limit",
            "pass max_bytes=None to read it anyway",
        )
    with p.open("rb") as fh:
        sig = fh.read(8)
    if sig != b"\x89HDF\r\n\x1a\n":
        raise UnsupportedFormatError(p, "is not an HDF5 file", _HINT)
    import h5py

    with wrap_errors(p, "an HDF5 morphology"), h5py.File(p, "r") as h5:
        version, pts, first, types, parents = _layout(h5, p)
    with wrap_errors(p, "an HDF5 morphology"):
        return _build(
            pts,
            first,
            types,
            parents,
            name=name if name is not None else p.stem,
            source=str(p),
            version=version,
        )
