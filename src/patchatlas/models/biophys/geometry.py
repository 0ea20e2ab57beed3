"""Cable geometry of a biophysical model: unbranched sections with 3-D points and a segment count.

A :class:`CableTree` is what both simulators build: NEURON makes one ``Section`` per entry (3-D
points via ``pt3dadd``, ``nseg`` segments) and Arbor makes the same cables from a segment tree with
the same control-volume boundaries. It is built from a reconstruction
(:class:`~patchatlas.core.Morphology`) the way NEURON's Import3d builds sections from an SWC file,
so that an Allen model runs on the geometry its fit was made on:

* the soma (type 1) becomes one cylinder ``soma[0]`` of length and diameter ``2 r`` (``r`` the
  radius of the soma root node) along x through the soma centre: its membrane area is that of the
  sphere ``4 π r²``;
* neurites become sections between branch points (a node with two or more children ends a
  section, so does a change of SWC type); a section that starts at a branch point begins with
  that point, a section whose parent is the soma begins at its own first node and is attached to
  the soma centre, ``soma[0](0.5)``;
* groups follow NEURON's names: ``soma`` (1), ``axon`` (2), ``dend`` (3), ``apic`` (4); other
  types are treated as ``dend``;
* every section gets ``nseg = 1 + 2 int(L / 40 µm)`` segments (the Allen rule) unless told
  otherwise.

The Allen axon replacement (the reconstructed axon is deleted and replaced by two 30 µm
sections, ``axon[0]`` and ``axon[1]``):

``"stub"``
    1 µm diameter, ``axon[0]`` attached to ``soma[0](0.5)`` (perisomatic models, and all-active
    models run with ``--axon_type stub``).
``"truncated"``
    the legacy all-active rule: ``axon[0]`` takes the diameter of the middle segment of the first
    reconstructed axon section, ``axon[1]`` the diameter of the middle segment of the first axon
    section whose midpoint lies more than 60 µm (path distance) from ``soma[0](0)`` (else the
    first one's), and ``axon[0]`` is attached to ``soma[0](1)``.
``"reconstructed"``
    keep the reconstructed axon.

Lengths in µm; diameters in µm (the model works with diameters, as NEURON does; SWC radii are
doubled).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from patchatlas.core.morphology import APICAL, AXON, BASAL, SOMA, Morphology
from patchatlas.errors import ParameterError, ValidationError

__all__ = [
    "AXON_HANDLING",
    "GROUP_OF_TYPE",
    "CableTree",
    "Section",
    "allen_nseg",
    "ball_and_stick",
    "cable_tree",
    "describe",
]

FloatArray = npt.NDArray[np.float64]

#: SWC structure type → section group (NEURON's Import3d names)
GROUP_OF_TYPE: dict[int, str] = {SOMA: "soma", AXON: "axon", BASAL: "dend", APICAL: "apic"}
#: ways to treat the reconstructed axon
AXON_HANDLING = ("stub", "truncated", "reconstructed")
#: length and diameter of each of the two replacement axon sections (µm)
STUB_LENGTH_UM = 30.0
STUB_DIAMETER_UM = 1.0
#: the legacy all-active rule reads the diameter of the first axon section beyond this distance
TRUNCATED_DISTANCE_UM = 60.0

AxonHandling = Literal["stub", "truncated", "reconstructed"]


def allen_nseg(length_um: float) -> int:
    """The Allen segment count of a section: ``1 + 2 int(L / 40 µm)`` (always odd).

    Parameters
    ----------
    length_um
        Section length in µm.

    Returns
    -------
    int
        Number of segments (compartments) of the section.
    """
    return 1 + 2 * int(length_um / 40.0)


@dataclass(frozen=True, eq=False)
class Section:
    """One unbranched cable.

    Attributes
    ----------
    name
        NEURON-style name (``"soma[0]"``, ``"dend[12]"``).
    group
        Section group (``"soma"``, ``"axon"``, ``"dend"``, ``"apic"``).
    parent
        Index of the parent section in :attr:`CableTree.sections` (-1 for the root).
    parent_x
        Where on the parent the section's 0 end is attached (0-1 along the parent).
    points
        ``(n, 4)`` array of 3-D points: x, y, z (µm) and diameter (µm); ``n >= 2``.
    nseg
        Number of segments (compartments).
    """

    name: str
    group: str
    parent: int
    parent_x: float
    points: FloatArray
    nseg: int = 1

    @property
    def arc(self) -> FloatArray:
        """Cumulative path length (µm) at each 3-D point, from 0 to :attr:`length`."""
        d = np.linalg.norm(np.diff(self.points[:, :3], axis=0), axis=1)
        return np.concatenate([[0.0], np.cumsum(d)])

    @property
    def length(self) -> float:
        """Section length L in µm."""
        return float(self.arc[-1])

    @property
    def area(self) -> float:
        """Lateral membrane area of the frustums between the 3-D points (µm²)."""
        return float(_frustum_area(self.points))

    def mean_diameter(self, a: float = 0.0, b: float = 1.0) -> float:
        """Length-weighted mean diameter between arc fractions ``a`` and ``b`` (µm).

        Parameters
        ----------
        a, b
            Start and end as fractions (0-1) of the section length, ``a < b``.

        Returns
        -------
        float
            ``∫ d(s) ds / (s_b − s_a)`` with the diameter linear between 3-D points (what
            NEURON reports as the ``diam`` of a segment).
        """
        arc = self.arc
        length = arc[-1]
        if not length > 0:
            return float(self.points[0, 3])
        sa, sb = a * length, b * length
        inner = (arc > sa) & (arc < sb)
        s = np.concatenate([[sa], arc[inner], [sb]])
        d = np.interp(s, arc, self.points[:, 3])
        return float(np.trapezoid(d, s) / (sb - sa))

    def segment_diameter(self, x: float = 0.5) -> float:
        """The ``diam`` of the segment containing ``x`` (µm), as NEURON reports ``sec(x).diam``.

        Parameters
        ----------
        x
            Position along the section (0-1).

        Returns
        -------
        float
            Mean diameter over that segment.
        """
        k = min(int(x * self.nseg), self.nseg - 1)
        return self.mean_diameter(k / self.nseg, (k + 1) / self.nseg)


def _frustum_area(points: FloatArray) -> float:
    if len(points) < 2:
        return 0.0
    h = np.linalg.norm(np.diff(points[:, :3], axis=0), axis=1)
    r1, r2 = points[:-1, 3] / 2, points[1:, 3] / 2
    slant = np.sqrt(h**2 + (r1 - r2) ** 2)
    return float(np.sum(math.pi * (r1 + r2) * slant))


@dataclass(frozen=True, eq=False)
class CableTree:
    """The sections of a model cell, parents before children.

    Attributes
    ----------
    sections
        The sections; ``sections[0]`` is the soma.
    name
        A label (the reconstruction's name).
    axon
        How the axon was made (``"stub"``, ``"truncated"``, ``"reconstructed"`` or ``"none"``).
    notes
        What was changed while building (sections dropped, defaults used ...).
    """

    sections: tuple[Section, ...]
    name: str = ""
    axon: str = "reconstructed"
    notes: tuple[str, ...] = field(default=())

    def __len__(self) -> int:
        return len(self.sections)

    def __repr__(self) -> str:
        counts: dict[str, int] = {}
        for s in self.sections:
            counts[s.group] = counts.get(s.group, 0) + 1
        desc = ", ".join(f"{k} {v}" for k, v in counts.items())
        return (
            f"CableTree({self.name!r}: {len(self.sections)} sections ({desc}), "
            f"{self.n_segments} segments, axon={self.axon!r})"
        )

    @property
    def groups(self) -> tuple[str, ...]:
        """Section groups present, in order of first appearance."""
        return tuple(dict.fromkeys(s.group for s in self.sections))

    def indices(self, group: str) -> list[int]:
        """Indices of the sections of a group.

        Parameters
        ----------
        group
            Section group name (``"soma"``, ``"dend"`` ...); ``"all"`` for every section.

        Returns
        -------
        list of int
            Positions in :attr:`sections` (empty when the group is absent).
        """
        if group == "all":
            return list(range(len(self.sections)))
        return [k for k, s in enumerate(self.sections) if s.group == group]

    @property
    def n_segments(self) -> int:
        """Total number of segments (compartments)."""
        return int(sum(s.nseg for s in self.sections))

    def area(self, group: str = "all") -> float:
        """Membrane area of a group of sections (µm²).

        Parameters
        ----------
        group
            Section group, or ``"all"``.

        Returns
        -------
        float
            Sum of the frustum areas.
        """
        return float(sum(self.sections[k].area for k in self.indices(group)))

    def with_nseg(self, nseg: int | Callable[[float], int]) -> CableTree:
        """A copy with another segment count per section.

        Parameters
        ----------
        nseg
            A fixed count for every section, or a function of the section length (µm).

        Returns
        -------
        CableTree
            The same sections with new ``nseg``.
        """
        rule = _nseg_rule(nseg)
        secs = tuple(replace(s, nseg=rule(s.length)) for s in self.sections)
        return replace(self, sections=secs)

    def path_distance(self, index: int, x: float) -> float:
        """Path distance (µm) from ``soma[0](0)`` to location ``x`` of section ``index``.

        Parameters
        ----------
        index
            Section index.
        x
            Position along it (0-1).

        Returns
        -------
        float
            Sum of the lengths along the path through the attachment points.
        """
        total = x * self.sections[index].length
        k = index
        while self.sections[k].parent >= 0:
            s = self.sections[k]
            total += s.parent_x * self.sections[s.parent].length
            k = s.parent
        return float(total)


def _nseg_rule(nseg: int | str | Callable[[float], int]) -> Callable[[float], int]:
    if nseg == "allen":
        return allen_nseg
    if isinstance(nseg, int | np.integer) and not isinstance(nseg, bool):
        if nseg < 1:
            raise ParameterError(f"nseg must be >= 1, got {nseg}")
        n = int(nseg)
        return lambda _length: n
    if callable(nseg):
        return lambda length: max(1, int(nseg(length)))
    raise ParameterError(f"nseg must be 'allen', a positive int or a function, got {nseg!r}")


def cable_tree(
    morphology: Morphology,
    *,
    axon: AxonHandling = "stub",
    nseg: int | str | Callable[[float], int] = "allen",
    name: str | None = None,
) -> CableTree:
    """Build the model sections of a reconstruction (NEURON Import3d rules, Allen axon).

    Parameters
    ----------
    morphology
        The reconstruction (µm), with a soma (at least one node of type 1).
    axon
        ``"stub"``, ``"truncated"`` or ``"reconstructed"`` (see the module notes).
    nseg
        ``"allen"`` (``1 + 2 int(L / 40 µm)``), a fixed count, or a function of the length.
    name
        Label (default: the morphology's).

    Returns
    -------
    CableTree
        Soma first, then the neurite sections, then the replacement axon.

    Raises
    ------
    patchatlas.errors.ValidationError
        The morphology has no soma, or a soma of zero radius.
    patchatlas.errors.ParameterError
        Unknown ``axon`` or ``nseg``.
    """
    if axon not in AXON_HANDLING:
        raise ParameterError(f"unknown axon handling {axon!r}; use one of {AXON_HANDLING}")
    rule = _nseg_rule(nseg)
    label = name if name is not None else morphology.label
    where = morphology.source or label
    if not morphology.has_soma:
        raise ValidationError(
            f"morphology {where}: no soma (no node of type 1); a biophysical model needs a "
            "soma to attach its neurites and its current clamp: add the soma node(s) to the "
            "reconstruction"
        )
    r = float(morphology.soma_radius)
    if not (math.isfinite(r) and r > 0):
        raise ValidationError(
            f"morphology {where}: the soma radius is {r!r} µm; a model needs a positive soma "
            "radius (fix the soma node's radius in the file)"
        )
    c = np.asarray(morphology.soma_center, dtype=np.float64)
    soma_pts = np.array(
        [[c[0] - r, c[1], c[2], 2 * r], [c[0], c[1], c[2], 2 * r], [c[0] + r, c[1], c[2], 2 * r]]
    )
    sections: list[Section] = [Section("soma[0]", "soma", -1, 0.5, soma_pts, rule(2 * r))]
    notes: list[str] = []

    types = morphology.types
    parent = morphology.parent
    is_soma = types == SOMA
    n = len(morphology)
    n_child = np.bincount(parent[parent >= 0], minlength=n)
    # the single child of a node with exactly one child (-1 otherwise)
    only_child = np.full(n, -1, dtype=np.int64)
    rows = np.arange(n)
    has_p = parent >= 0
    single = has_p & (n_child[np.maximum(parent, 0)] == 1)
    only_child[parent[single]] = rows[single]
    # section starts: neurite nodes whose parent is the soma / missing, a branch point, or of
    # another type
    pnt = np.maximum(parent, 0)
    start = (~is_soma) & ((parent < 0) | is_soma[pnt] | (n_child[pnt] != 1) | (types[pnt] != types))
    section_of = np.full(n, -1, dtype=np.int64)
    counters: dict[str, int] = {}
    dropped = 0
    for s0 in np.flatnonzero(start):
        chain = [int(s0)]
        k = int(only_child[s0])
        while k >= 0 and not start[k]:
            chain.append(k)
            k = int(only_child[k])
        p = int(parent[s0])
        pts = np.column_stack([morphology.xyz[chain], 2 * morphology.radius[chain]])
        if p >= 0 and not is_soma[p]:
            psec, px = int(section_of[p]), 1.0
            pts = np.vstack([[*morphology.xyz[p], 2 * morphology.radius[p]], pts])
        else:
            psec, px = 0, 0.5
        pts = _dedupe(pts)
        if psec < 0 or len(pts) < 2:
            # a zero-length stub (one node off the soma) or a child of a dropped section
            dropped += 1
            continue
        group = GROUP_OF_TYPE.get(int(types[s0]), "dend")
        idx = counters.get(group, 0)
        counters[group] = idx + 1
        sec = Section(f"{group}[{idx}]", group, psec, px, pts, rule(_length(pts)))
        section_of[chain] = len(sections)
        sections.append(sec)
    if dropped:
        notes.append(f"{dropped} zero-length neurite section(s) dropped (a single node)")
    tree = CableTree(tuple(sections), label, "reconstructed", tuple(notes))
    if axon == "reconstructed":
        return tree
    return _replace_axon(tree, axon, rule)


def _length(points: FloatArray) -> float:
    return float(np.linalg.norm(np.diff(points[:, :3], axis=0), axis=1).sum())


def _dedupe(points: FloatArray) -> FloatArray:
    """Drop 3-D points that repeat the previous one (zero-length pieces)."""
    if len(points) < 2:
        return points
    step = np.linalg.norm(np.diff(points[:, :3], axis=0), axis=1)
    keep = np.concatenate([[True], step > 0])
    return np.asarray(points[keep], dtype=np.float64)


def _replace_axon(tree: CableTree, how: str, rule: Callable[[float], int]) -> CableTree:
    secs = list(tree.sections)
    axon_idx = [k for k, s in enumerate(secs) if s.group == "axon"]
    notes = list(tree.notes)
    d0 = d1 = STUB_DIAMETER_UM
    attach_x = 0.5
    if how == "truncated":
        attach_x = 1.0
        if axon_idx:
            d0 = d1 = secs[axon_idx[0]].segment_diameter(0.5)
            for k in axon_idx:
                if tree.path_distance(k, 0.5) > TRUNCATED_DISTANCE_UM:
                    d1 = secs[k].segment_diameter(0.5)
                    break
        else:
            notes.append("no reconstructed axon: the truncated axon uses 1 µm diameters")
    # delete the axon and everything attached to it
    removed = np.zeros(len(secs), dtype=bool)
    for k, s in enumerate(secs):
        removed[k] = s.group == "axon" or (s.parent >= 0 and removed[s.parent])
    new_index = np.cumsum(~removed) - 1
    kept: list[Section] = []
    for k, s in enumerate(secs):
        if removed[k]:
            continue
        par = int(new_index[s.parent]) if s.parent >= 0 else -1
        kept.append(replace(s, parent=par))
    if removed.sum() > len(axon_idx):
        notes.append(
            f"{int(removed.sum()) - len(axon_idx)} non-axon section(s) on the axon removed"
        )
    soma = kept[0].points
    cx, cy, cz = soma[1, :3]
    y0 = cy - soma[1, 3] / 2
    a0 = np.array([[cx, y0, cz, d0], [cx, y0 - STUB_LENGTH_UM, cz, d0]])
    a1 = np.array([[cx, y0 - STUB_LENGTH_UM, cz, d1], [cx, y0 - 2 * STUB_LENGTH_UM, cz, d1]])
    kept.append(Section("axon[0]", "axon", 0, attach_x, a0, rule(STUB_LENGTH_UM)))
    kept.append(Section("axon[1]", "axon", len(kept) - 1, 1.0, a1, rule(STUB_LENGTH_UM)))
    return CableTree(tuple(kept), tree.name, how, tuple(notes))


def ball_and_stick(
    *,
    soma_diameter_um: float = 20.0,
    dendrite_length_um: float = 200.0,
    dendrite_diameter_um: float = 2.0,
    n_dendrites: int = 1,
    axon: bool = True,
    nseg: int | str | Callable[[float], int] = "allen",
    name: str = "ball_and_stick",
) -> CableTree:
    """A small synthetic cell: a soma, straight dendrites and optionally the Allen stub axon.

    Parameters
    ----------
    soma_diameter_um
        Soma length and diameter (µm).
    dendrite_length_um, dendrite_diameter_um
        Length and diameter of each dendrite (µm).
    n_dendrites
        Number of dendrites, attached to ``soma[0](0.5)`` and spread in the x-y plane.
    axon
        Add the two-section 60 µm × 1 µm stub axon.
    nseg
        Segment rule (as in :func:`cable_tree`).
    name
        Label.

    Returns
    -------
    CableTree
        Sections ``soma[0]``, ``dend[0..]`` and ``axon[0..1]``.
    """
    if not (soma_diameter_um > 0 and dendrite_length_um > 0 and dendrite_diameter_um > 0):
        raise ParameterError("ball_and_stick: lengths and diameters must be positive")
    rule = _nseg_rule(nseg)
    r = soma_diameter_um / 2
    soma = np.array([[-r, 0, 0, 2 * r], [0, 0, 0, 2 * r], [r, 0, 0, 2 * r]], dtype=np.float64)
    secs = [Section("soma[0]", "soma", -1, 0.5, soma, rule(2 * r))]
    for k in range(max(0, int(n_dendrites))):
        ang = math.pi / 2 + (k * 2 * math.pi / max(1, n_dendrites))
        u = np.array([math.cos(ang), math.sin(ang), 0.0])
        p0 = u * r
        p1 = p0 + u * dendrite_length_um
        pts = np.array([[*p0, dendrite_diameter_um], [*p1, dendrite_diameter_um]])
        secs.append(Section(f"dend[{k}]", "dend", 0, 0.5, pts, rule(dendrite_length_um)))
    tree = CableTree(tuple(secs), name, "none")
    if not axon:
        return tree
    return _replace_axon(tree, "stub", rule)


def describe(tree: CableTree) -> dict[str, Any]:
    """Summary numbers of a cable tree (for provenance and reports).

    Parameters
    ----------
    tree
        The sections.

    Returns
    -------
    dict
        ``n_sections``, ``n_segments``, ``axon``, ``area_um2`` per group and in total.
    """
    return {
        "n_sections": len(tree.sections),
        "n_segments": tree.n_segments,
        "axon": tree.axon,
        "area_um2": {g: round(tree.area(g), 3) for g in (*tree.groups, "all")},
    }
