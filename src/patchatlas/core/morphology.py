"""The morphology data model: a columnar node table in topological order.

A :class:`Morphology` holds one reconstruction as arrays (original id, type, x/y/z, radius,
parent row index), rows ordered so that every parent comes before its children. Types are kept
per node, so an axon that leaves a dendrite without a branch point stays an axon (MorphIO merges
it into the dendrite). A :class:`MorphologySet` packs many cells into one forest with CSR-style
offsets, so that features for thousands of cells are a handful of numpy calls.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from patchatlas.core.tree import depth_and_cycles, topological_order
from patchatlas.errors import DataError, ValidationError

__all__ = [
    "APICAL",
    "AXON",
    "BASAL",
    "SOMA",
    "TYPE_NAMES",
    "Issue",
    "LayerDrawings",
    "Morphology",
    "MorphologySet",
    "Severity",
    "layer_key",
]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

UNDEFINED, SOMA, AXON, BASAL, APICAL = 0, 1, 2, 3, 4
TYPE_NAMES: dict[int, str] = {
    0: "undefined",
    1: "soma",
    2: "axon",
    3: "basal_dendrite",
    4: "apical_dendrite",
    5: "custom",
    6: "unspecified_neurite",
    7: "glia",
}

Severity = Literal["error", "warning", "info"]
_SEVERITY_RANK = {"info": 0, "warning": 1, "error": 2}


@dataclass(frozen=True)
class Issue:
    """One validation finding.

    Attributes
    ----------
    code
        Stable machine-readable code (``"MISSING_PARENT"``, ``"MULTIPLE_SOMATA"`` ...).
    severity
        ``"error"``, ``"warning"`` or ``"info"`` (profiles may raise or lower it).
    node_ids
        Original (file) ids of the nodes concerned.
    message
        What is wrong, in words.
    lines
        1-based line numbers in the source file, when known.
    """

    code: str
    severity: Severity
    node_ids: tuple[int, ...]
    message: str
    lines: tuple[int, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form.

        Returns
        -------
        dict
            ``code``, ``severity``, ``node_ids`` (list), ``lines`` (list) and ``message``.
        """
        return {
            "code": self.code,
            "severity": self.severity,
            "node_ids": list(self.node_ids),
            "lines": list(self.lines),
            "message": self.message,
        }

    def __str__(self) -> str:
        ids = ""
        if self.node_ids:
            shown = ", ".join(map(str, self.node_ids[:8]))
            more = f" (+{len(self.node_ids) - 8} more)" if len(self.node_ids) > 8 else ""
            ids = f" [nodes {shown}{more}]"
        return f"{self.severity.upper()} {self.code}: {self.message}{ids}"


def _ids(a: IntArray, max_n: int = 50) -> tuple[int, ...]:
    return tuple(int(v) for v in a[:max_n])


@dataclass(frozen=True, eq=False)
class Morphology:
    """One neuron reconstruction as a node table (µm), rows in topological order.

    Attributes
    ----------
    ids
        Original node ids (as in the file).
    types
        SWC structure type per node (1 soma, 2 axon, 3 basal, 4 apical, others kept as given).
    xyz
        ``(n, 3)`` coordinates in µm.
    radius
        Radius per node in µm (SWC stores radii; ASC diameters are halved on read).
    parent
        Row index of each node's parent, ``-1`` for roots; ``parent[i] < i`` always.
    name
        A label (specimen id or file stem).
    source
        Path of the file it came from, for messages.
    lines
        1-based source line of each node (``None`` when not read from text).
    issues
        Findings recorded while reading (duplicates dropped, missing parents, ...); they are
        reported again by :func:`patchatlas.morphology.validate`.
    soma_contour
        ``(m, 3)`` soma outline points from Neurolucida files, else ``None``.
    meta
        Free-form metadata (specimen id, repairs applied, transforms ...).
    """

    ids: IntArray
    types: IntArray
    xyz: FloatArray
    radius: FloatArray
    parent: IntArray
    name: str = ""
    source: str | None = None
    lines: IntArray | None = None
    issues: tuple[Issue, ...] = ()
    soma_contour: FloatArray | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = self.ids.shape[0]
        for nm, a, shape in (
            ("types", self.types, (n,)),
            ("xyz", self.xyz, (n, 3)),
            ("radius", self.radius, (n,)),
            ("parent", self.parent, (n,)),
        ):
            if a.shape != shape:
                raise DataError(
                    f"morphology {self.label}: {nm} has shape {a.shape}, expected {shape}"
                )
        if n and not bool(np.all(self.parent < np.arange(n))):
            raise DataError(
                f"morphology {self.label}: rows are not in topological order "
                "(build it with Morphology.from_arrays, which sorts them)"
            )

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_arrays(
        cls,
        ids: npt.ArrayLike,
        types: npt.ArrayLike,
        xyz: npt.ArrayLike,
        radius: npt.ArrayLike,
        parent_ids: npt.ArrayLike,
        *,
        name: str = "",
        source: str | None = None,
        lines: npt.ArrayLike | None = None,
        soma_contour: npt.ArrayLike | None = None,
        meta: dict[str, Any] | None = None,
        issues: Sequence[Issue] = (),
    ) -> Morphology:
        """Build a morphology from SWC-like columns in any row order.

        Parent ids are mapped to rows, rows are sorted topologically (stable), duplicated ids
        keep their first row and a missing parent makes its child a root; each of these is
        recorded as an :class:`Issue`, never done silently.

        Parameters
        ----------
        ids
            Node ids, one per node (any integers, as in the file).
        types
            SWC structure type per node (1 soma, 2 axon, 3 basal, 4 apical ...).
        xyz
            Coordinates in µm, reshaped to ``(n, 3)``.
        radius
            Radius per node in µm.
        parent_ids
            The *id* (not the row) of each node's parent; ``-1`` (or ``0`` when no node has id
            0) marks a root.
        name
            Label of the morphology (specimen id or file stem), used in messages.
        source
            Path of the file it came from, for messages.
        lines
            1-based source line of each node, when read from text.
        soma_contour
            ``(m, 3)`` soma outline points in µm (Neurolucida files), else ``None``.
        meta
            Free-form metadata, copied into :attr:`meta`.
        issues
            Findings of the reader, kept ahead of those found here.

        Returns
        -------
        Morphology
            The node table with rows in topological order and ``parent`` as row indices; the
            issues found (``DUPLICATE_ID``, ``MISSING_PARENT``, ``UNSORTED``) in ``issues``.

        Raises
        ------
        patchatlas.errors.DataError
            The id, type, radius and parent columns differ in length.
        patchatlas.errors.ValidationError
            Parent links form a cycle (including a node that is its own parent).
        """
        label = name or source or "morphology"
        ids_a = np.asarray(ids, dtype=np.int64).ravel()
        n = ids_a.size
        types_a = np.asarray(types, dtype=np.int64).ravel()
        xyz_a = np.asarray(xyz, dtype=np.float64).reshape(n, 3)
        rad_a = np.asarray(radius, dtype=np.float64).ravel()
        par_a = np.asarray(parent_ids, dtype=np.int64).ravel()
        lines_a = None if lines is None else np.asarray(lines, dtype=np.int64).ravel()
        if not (types_a.size == rad_a.size == par_a.size == n):
            raise DataError(f"{label}: id, type, radius and parent columns differ in length")
        found: list[Issue] = list(issues)
        contour = None if soma_contour is None else np.asarray(soma_contour, dtype=np.float64)

        def build(parent_rows: IntArray) -> Morphology:
            # the column arrays as they are when called (the general path reorders them)
            return cls(
                ids=ids_a,
                types=types_a,
                xyz=xyz_a,
                radius=rad_a,
                parent=parent_rows,
                name=name,
                source=source,
                lines=lines_a,
                issues=tuple(found),
                soma_contour=contour,
                meta=dict(meta or {}),
            )

        if n and int(ids_a[0]) >= 0 and int(ids_a[-1]) - int(ids_a[0]) == n - 1:
            # the common case (ids first..first+n-1 in order, every parent an earlier id or
            # -1): rows are already unique, resolved and in topological order
            first = int(ids_a[0])
            row = par_a - first
            idx = np.arange(n, dtype=np.int64)
            if (
                bool(np.all(np.diff(ids_a) == 1))
                and bool(np.all((par_a == -1) | ((row >= 0) & (row < idx))))
                and not (first > 0 and bool(np.any(par_a == 0)))
            ):
                return build(np.where(par_a == -1, -1, row))

        def ln(rows: IntArray) -> tuple[int, ...]:
            return () if lines_a is None else _ids(lines_a[rows])

        # duplicated ids: keep the first row of each id
        order = np.argsort(ids_a, kind="stable")
        sorted_ids = ids_a[order]
        dup_sorted = np.zeros(n, dtype=bool)
        if n > 1:
            dup_sorted[1:] = sorted_ids[1:] == sorted_ids[:-1]
        if dup_sorted.any():
            drop = order[dup_sorted]
            found.append(
                Issue(
                    "DUPLICATE_ID",
                    "error",
                    _ids(ids_a[drop]),
                    f"{drop.size} row(s) repeat an id already used; the first row of each id is "
                    "kept and the repeats are not part of the tree",
                    ln(drop),
                )
            )
            keep = np.ones(n, dtype=bool)
            keep[drop] = False
            ids_a, types_a, xyz_a, rad_a, par_a = (
                ids_a[keep],
                types_a[keep],
                xyz_a[keep],
                rad_a[keep],
                par_a[keep],
            )
            if lines_a is not None:
                lines_a = lines_a[keep]
            n = ids_a.size
            order = np.argsort(ids_a, kind="stable")
            sorted_ids = ids_a[order]

        # parent id -> row
        pos = np.searchsorted(sorted_ids, par_a)
        pos_c = np.minimum(pos, max(n - 1, 0))
        hit = (n > 0) & (sorted_ids[pos_c] == par_a) if n else np.zeros(0, dtype=bool)
        parent_row = np.where(hit, order[pos_c] if n else pos_c, -1).astype(np.int64)
        self_parent = hit & (parent_row == np.arange(n))
        if self_parent.any():
            raise ValidationError(
                f"{label}: node(s) {list(_ids(ids_a[self_parent], 10))} are their own parent "
                "(a cycle); fix the parent column"
            )
        missing = (~hit) & (par_a >= 0)
        # parent 0 / -1 / negative with no such node are roots, as tools write them
        missing &= ~((par_a == 0) & ~np.isin(0, sorted_ids))
        if missing.any():
            rows = np.flatnonzero(missing)
            found.append(
                Issue(
                    "MISSING_PARENT",
                    "error",
                    _ids(ids_a[rows]),
                    f"{rows.size} node(s) name a parent id that is not in the file "
                    f"(e.g. node {int(ids_a[rows[0]])} → parent {int(par_a[rows[0]])}); "
                    "they are kept as the roots of disconnected pieces",
                    ln(rows),
                )
            )
        # cycles (impossible when every parent row precedes its child: skip the check then)
        sorted_rows = bool(np.all(parent_row < np.arange(n)))
        bad = np.zeros(n, dtype=bool) if sorted_rows else depth_and_cycles(parent_row)[1]
        if bad.any():
            raise ValidationError(
                f"{label}: parent links form a cycle through node(s) "
                f"{list(_ids(ids_a[bad], 10))}; fix the parent column"
            )
        perm = np.arange(n) if sorted_rows else topological_order(parent_row)
        if not sorted_rows and not np.array_equal(perm, np.arange(n)):
            inv = np.empty(n, dtype=np.int64)
            inv[perm] = np.arange(n)
            pr = parent_row[perm]
            parent_row = np.where(pr >= 0, inv[np.maximum(pr, 0)], -1)
            ids_a, types_a, xyz_a, rad_a = ids_a[perm], types_a[perm], xyz_a[perm], rad_a[perm]
            if lines_a is not None:
                lines_a = lines_a[perm]
            found.append(
                Issue(
                    "UNSORTED",
                    "info",
                    (),
                    "rows were not in parent-before-child order; they were reordered "
                    "(original ids and line numbers are kept)",
                )
            )
        return build(parent_row)

    def replace(self, **changes: Any) -> Morphology:
        """A copy with some fields replaced (derived arrays are recomputed lazily).

        Parameters
        ----------
        **changes
            Field name → new value (``xyz=...``, ``name=...``, ``meta=...`` ...).

        Returns
        -------
        Morphology
            The new morphology; the original is unchanged.
        """
        return dataclasses.replace(self, **changes)

    # ------------------------------------------------------------------ basic views
    @property
    def label(self) -> str:
        """Name used in messages: name, else source, else ``"morphology"``."""
        return self.name or self.source or "morphology"

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return len(self)

    def __repr__(self) -> str:
        counts = ", ".join(
            f"{TYPE_NAMES.get(int(t), f'type{int(t)}')}={int(c)}"
            for t, c in zip(*np.unique(self.types, return_counts=True), strict=True)
        )
        return f"Morphology({self.label!r}, {len(self)} nodes: {counts})"

    @cached_property
    def n_children(self) -> IntArray:
        """Number of children of each node."""
        p = self.parent
        return np.bincount(p[p >= 0], minlength=len(self)).astype(np.int64)

    @cached_property
    def segment_length(self) -> FloatArray:
        """Length of the compartment from each node to its parent (0 for roots)."""
        p = self.parent
        d = np.zeros(len(self))
        m = p >= 0
        d[m] = np.linalg.norm(self.xyz[m] - self.xyz[p[m]], axis=1)
        return d

    @cached_property
    def roots(self) -> IntArray:
        """Rows with no parent."""
        return np.flatnonzero(self.parent < 0)

    @cached_property
    def soma_rows(self) -> IntArray:
        """Rows of type 1."""
        return np.flatnonzero(self.types == SOMA)

    @cached_property
    def root(self) -> int:
        """Row of the soma root: the first soma node that is a root, else the first soma node,
        else row 0."""
        soma_roots = np.flatnonzero((self.types == SOMA) & (self.parent < 0))
        if soma_roots.size:
            return int(soma_roots[0])
        if self.soma_rows.size:
            return int(self.soma_rows[0])
        return 0

    @property
    def has_soma(self) -> bool:
        """Whether any node has type 1."""
        return bool(self.soma_rows.size)

    @cached_property
    def soma_center(self) -> FloatArray:
        """Soma centre: the soma root node (Allen convention), or the contour centroid."""
        if self.soma_rows.size:
            return np.asarray(self.xyz[self.root], dtype=np.float64).copy()
        if self.soma_contour is not None and len(self.soma_contour):
            return np.asarray(self.soma_contour.mean(axis=0), dtype=np.float64)
        return np.zeros(3) if len(self) == 0 else np.asarray(self.xyz[0], dtype=np.float64).copy()

    @cached_property
    def soma_radius(self) -> float:
        """Radius of the soma root node (Allen convention), or the mean contour radius."""
        if self.soma_rows.size:
            return float(self.radius[self.root])
        if self.soma_contour is not None and len(self.soma_contour):
            c = self.soma_contour
            return float(np.linalg.norm(c - c.mean(axis=0), axis=1).mean())
        return float("nan")

    def type_mask(self, types: int | Sequence[int]) -> npt.NDArray[np.bool_]:
        """Boolean mask of nodes whose type is in ``types``.

        Parameters
        ----------
        types
            One SWC type or several (``AXON``, ``(BASAL, APICAL)`` ...).

        Returns
        -------
        numpy.ndarray of bool
            One entry per node (row).
        """
        return np.isin(self.types, np.atleast_1d(np.asarray(types, dtype=np.int64)))

    def counts_by_type(self) -> dict[str, int]:
        """Number of nodes per compartment name.

        Returns
        -------
        dict of str to int
            Compartment name (``"soma"``, ``"axon"``, ``"basal_dendrite"`` ... or ``"type<k>"``
            for other SWC types) → number of nodes, for the types present.
        """
        u, c = np.unique(self.types, return_counts=True)
        return {TYPE_NAMES.get(int(t), f"type{int(t)}"): int(k) for t, k in zip(u, c, strict=True)}

    def to_frame(self) -> Any:
        """The node table as a pandas DataFrame.

        Returns
        -------
        pandas.DataFrame
            SWC columns ``id``, ``type``, ``x``, ``y``, ``z`` (µm), ``radius`` (µm) and
            ``parent`` (the parent's original id, ``-1`` for roots), one row per node in row
            order.
        """
        import pandas as pd

        pid = np.where(self.parent >= 0, self.ids[np.maximum(self.parent, 0)], -1)
        return pd.DataFrame(
            {
                "id": self.ids,
                "type": self.types,
                "x": self.xyz[:, 0],
                "y": self.xyz[:, 1],
                "z": self.xyz[:, 2],
                "radius": self.radius,
                "parent": pid,
            }
        )

    def transformed(
        self, matrix: npt.ArrayLike, *, offset: npt.ArrayLike = (0.0, 0.0, 0.0)
    ) -> Morphology:
        """A copy with coordinates ``xyz @ matrix.T + offset`` (radii unchanged).

        Parameters
        ----------
        matrix
            A 3 × 3 linear map (rotation, scaling, shear) applied to every point.
        offset
            Translation in µm added after the linear map.

        Returns
        -------
        Morphology
            The transformed copy (the soma contour, when there is one, is transformed too).
        """
        m = np.asarray(matrix, dtype=np.float64).reshape(3, 3)
        off = np.asarray(offset, dtype=np.float64).reshape(3)
        contour = None if self.soma_contour is None else self.soma_contour @ m.T + off
        return self.replace(xyz=self.xyz @ m.T + off, soma_contour=contour)

    def translated(self, offset: npt.ArrayLike) -> Morphology:
        """A copy shifted by ``offset``.

        Parameters
        ----------
        offset
            ``(dx, dy, dz)`` in µm added to every point (and to the soma contour).

        Returns
        -------
        Morphology
            The shifted copy.
        """
        return self.transformed(np.eye(3), offset=offset)


@dataclass(frozen=True, eq=False)
class MorphologySet:
    """Many morphologies packed into one forest (CSR-style ``offsets``) for batch features.

    Rows of cell ``k`` are ``offsets[k]:offsets[k+1]``; ``parent`` holds global row indices, so
    tree algorithms run once over all cells. ``cell`` gives the cell index of each row.
    """

    types: IntArray
    xyz: FloatArray
    radius: FloatArray
    parent: IntArray
    offsets: IntArray
    roots: IntArray
    names: tuple[str, ...]

    @classmethod
    def pack(cls, morphs: Sequence[Morphology]) -> MorphologySet:
        """Concatenate cells; each cell's soma root row is kept in ``roots``.

        Parameters
        ----------
        morphs
            The morphologies, in the order of the set's cell indices.

        Returns
        -------
        MorphologySet
            One forest; parents are global row indices. A single cell's arrays are used as
            they are, not copied.

        Raises
        ------
        patchatlas.errors.DataError
            ``morphs`` is empty.
        """
        if not morphs:
            raise DataError("cannot pack an empty list of morphologies")
        if len(morphs) == 1:  # one cell: its arrays as they are (read-only use), no copies
            m = morphs[0]
            return cls(
                types=m.types.astype(np.int64, copy=False),
                xyz=m.xyz.astype(np.float64, copy=False),
                radius=m.radius.astype(np.float64, copy=False),
                parent=m.parent.astype(np.int64, copy=False),
                offsets=np.array([0, len(m)], dtype=np.int64),
                roots=np.array([m.root], dtype=np.int64),
                names=(m.label,),
            )
        sizes = np.array([len(m) for m in morphs], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        shift = np.repeat(offsets[:-1], sizes)
        parent = np.concatenate([m.parent for m in morphs])
        parent = np.where(parent >= 0, parent + shift, -1).astype(np.int64, copy=False)
        return cls(
            types=np.concatenate([m.types for m in morphs]).astype(np.int64, copy=False),
            xyz=np.concatenate([m.xyz for m in morphs]).astype(np.float64, copy=False),
            radius=np.concatenate([m.radius for m in morphs]).astype(np.float64, copy=False),
            parent=parent,
            offsets=offsets,
            roots=np.array([m.root for m in morphs], dtype=np.int64) + offsets[:-1],
            names=tuple(m.label for m in morphs),
        )

    def __len__(self) -> int:
        return int(self.offsets.size - 1)

    @property
    def n_nodes(self) -> int:
        """Total rows over all cells."""
        return int(self.offsets[-1])

    @cached_property
    def cell(self) -> IntArray:
        """Cell index of each row."""
        if len(self) == 1:
            return np.zeros(self.n_nodes, dtype=np.int64)
        return np.repeat(np.arange(len(self), dtype=np.int64), np.diff(self.offsets))

    def __getitem__(self, k: int) -> Morphology:
        a, b = int(self.offsets[k]), int(self.offsets[k + 1])
        par = self.parent[a:b]
        return Morphology(
            ids=np.arange(1, b - a + 1, dtype=np.int64),
            types=self.types[a:b].copy(),
            xyz=self.xyz[a:b].copy(),
            radius=self.radius[a:b].copy(),
            parent=np.where(par >= 0, par - a, -1),
            name=self.names[k],
        )

    def __iter__(self) -> Iterator[Morphology]:
        for k in range(len(self)):
            yield self[k]


def check_order(parent: IntArray) -> None:
    """Raise :class:`ValidationError` unless ``parent[i] < i`` for all rows."""
    if parent.size and not bool(np.all(parent < np.arange(parent.size))):
        raise ValidationError("node table is not in topological order")


def worst(issues: Sequence[Issue]) -> Severity | None:
    """Highest severity in ``issues`` (``None`` when empty)."""
    if not issues:
        return None
    return max((i.severity for i in issues), key=_SEVERITY_RANK.__getitem__)


# ------------------------------------------------------------------------------ layer drawings


def layer_key(name: str) -> str:
    """Canonical layer name: ``"Layer2/3"``, ``"L2/3"``, ``"2/3"`` → ``"2/3"``.

    Parameters
    ----------
    name
        A layer label as drawn or annotated.

    Returns
    -------
    str
        The lower-case layer key.
    """
    k = name.strip().lower().replace("layer", "").strip()
    if k.startswith("l") and len(k) > 1:
        k = k[1:]
    return k.strip()


@dataclass(frozen=True)
class LayerDrawings:
    """Pia, white matter, soma outline and layer polygons in µm (image frame).

    Build with :meth:`from_dict` from a skeleton_keys ``*_surfaces_and_layers.json`` structure
    (pixel paths × ``resolution``); :func:`patchatlas.io.layers.read_layer_drawings` reads
    the file. Used by :mod:`patchatlas.morphology.alignment`.
    """

    pia: FloatArray
    wm: FloatArray
    soma_center: FloatArray
    layers: dict[str, FloatArray] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], *, name: str = "layer drawings") -> LayerDrawings:
        """From the skeleton_keys JSON structure (paths in pixels with a ``resolution``).

        Parameters
        ----------
        d
            The parsed JSON: ``pia_path``, ``wm_path``, ``soma_path`` (each ``{"path": [[x,
            y], ...], "resolution": µm per pixel}``; the soma may give a ``center``) and
            ``layer_polygons`` (each with a ``name``).
        name
            What to call the drawings in error messages (the file name, usually).

        Returns
        -------
        LayerDrawings
            Paths in µm; layer names normalised by :func:`layer_key`; the soma centre is the
            given ``center`` or the mean of the soma path.

        Raises
        ------
        patchatlas.errors.DataError
            A path is missing or malformed, or pia / white matter has fewer than 2 points.
        """
        try:

            def path(entry: Mapping[str, Any]) -> FloatArray:
                return np.asarray(entry["path"], dtype=np.float64).reshape(-1, 2) * float(
                    entry.get("resolution", 1.0)
                )

            pia = path(d["pia_path"])
            wm = path(d["wm_path"])
            soma = d.get("soma_path")
            if soma is None:
                raise DataError(f"{name}: no soma_path")
            if "center" in soma and soma["center"] is not None:
                center = np.asarray(soma["center"], dtype=np.float64)[:2] * float(
                    soma.get("resolution", 1.0)
                )
            else:
                center = path(soma).mean(axis=0)
            layers = {}
            for poly in d.get("layer_polygons", []):
                layers[layer_key(str(poly["name"]))] = path(poly)
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(
                f"{name}: not a surfaces-and-layers structure ({type(exc).__name__}: {exc}); "
                "expected pia_path, wm_path, soma_path and layer_polygons"
            ) from exc
        if len(pia) < 2 or len(wm) < 2:
            raise DataError(f"{name}: pia and white-matter paths need at least 2 points each")
        return cls(pia=pia, wm=wm, soma_center=center, layers=layers)
