"""Structured validation of morphologies, strictness profiles and explicit, logged repairs.

:func:`validate` returns a :class:`ValidationReport` (a list of :class:`Issue`) and never changes
the morphology. Profiles decide severities and whether errors raise:

``lenient``
    Report everything; never raise.
``analysis`` (default)
    What feature extraction needs: raise :class:`~patchatlas.errors.ValidationError` on errors
    (non-finite coordinates, missing parents, duplicated ids, several somata, ...).
``neuron``
    NEURON / Allen-compatible for modelling: also one root, sorted ids, types 1–4 only,
    immediate soma children that do not branch, no disconnected pieces.

Repairs happen only with ``repair=True`` (or :func:`repair`); each one is logged at WARNING and
recorded in ``morph.meta["repairs"]`` of the returned copy.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Literal

import numpy as np
import numpy.typing as npt

from patchatlas.core.morphology import AXON, SOMA, Issue, Morphology, Severity
from patchatlas.core.tree import nearest_marked_ancestor
from patchatlas.errors import ValidationError

__all__ = ["CHECKS", "PROFILES", "ValidationReport", "repair", "validate"]

log = logging.getLogger("patchatlas.morphology")

Profile = Literal["lenient", "analysis", "neuron"]
PROFILES: tuple[str, ...] = ("lenient", "analysis", "neuron")

#: code -> (default severity, one-line description); the registry of checks.
CHECKS: dict[str, tuple[Severity, str]] = {
    "EMPTY": ("error", "the morphology has no nodes"),
    "NON_FINITE": ("error", "a coordinate or radius is NaN or infinite"),
    "NEGATIVE_RADIUS": ("error", "a radius is negative"),
    "DUPLICATE_ID": ("error", "an id is used by more than one row (first row kept)"),
    "MISSING_PARENT": ("error", "a parent id is not in the file (child kept as a root)"),
    "MULTIPLE_SOMATA": ("error", "more than one separate soma"),
    "SOMA_WITH_NEURITE_PARENT": ("error", "a soma node's parent is a neurite node"),
    "NEGATIVE_TYPE": ("error", "a structure type is negative"),
    "NO_SOMA": ("warning", "no soma node (type 1)"),
    "DISCONNECTED_NEURITE": ("warning", "a neurite piece is not connected to the soma"),
    "SOMA_BRANCHING": ("warning", "a soma node has several soma children (not a 3-point soma)"),
    "SOMA_NON_CONFORM": ("warning", "3-point soma that is not the NeuroMorpho (y ± r) layout"),
    "SECTION_TYPE_CHANGED": ("warning", "type changes along a branch without a branch point"),
    "UNDEFINED_TYPE": ("warning", "nodes of type 0 (undefined)"),
    "CUSTOM_TYPE": ("info", "nodes with a type other than 0–4"),
    "ZERO_RADIUS": ("warning", "neurite nodes with radius below 0.007 µm"),
    "CONSTRICTION": ("warning", "a node much narrower (< 20 %) than both its parent and child"),
    "Z_JUMP": ("warning", "a compartment jumps more than 30 µm along z"),
    "ROOT_NODE_JUMP": ("warning", "a neurite starts farther than 2 soma radii from the soma"),
    "DANGLING_AXON": ("warning", "an axon starts more than 12 µm outside the soma surface"),
    "NEURITE_ON_NON_ROOT_SOMA": ("info", "a neurite hangs off a soma node other than the root"),
    "MULTIFURCATION": ("info", "a neurite node has three or more children"),
    "ZERO_LENGTH_COMPARTMENT": ("info", "a neurite compartment is shorter than 0.01 µm"),
    "UNSORTED": ("info", "rows were reordered parent-before-child"),
    "FLOAT_IDS": ("info", "ids written as floats"),
    "EXTRA_COLUMNS": ("warning", "lines with more than 7 columns"),
    "COMMA_SEPARATED": ("info", "comma-separated values"),
    "NON_SEQUENTIAL_IDS": ("info", "ids are not 1..n in file order"),
    "SOMA_CHILD_BRANCHES": ("info", "an immediate child of the soma branches"),
    "NO_AXON": ("info", "no axon nodes"),
    "NO_DENDRITE": ("info", "no dendrite nodes"),
}

_NEURON_ESCALATE = {
    "DISCONNECTED_NEURITE",
    "UNSORTED",
    "NON_SEQUENTIAL_IDS",
    "SOMA_CHILD_BRANCHES",
    "UNDEFINED_TYPE",
    "CUSTOM_TYPE",
    "NO_SOMA",
    "SOMA_BRANCHING",
}


class ValidationReport(list[Issue]):
    """The issues found, in check order, plus the (possibly repaired) morphology."""

    def __init__(
        self, issues: Iterable[Issue], morphology: Morphology, profile: str, repairs: list[str]
    ) -> None:
        super().__init__(issues)
        self.morphology = morphology
        self.profile = profile
        self.repairs = repairs

    @property
    def errors(self) -> list[Issue]:
        """Issues of severity ``error``."""
        return [i for i in self if i.severity == "error"]

    @property
    def ok(self) -> bool:
        """True when there is no error."""
        return not self.errors

    @property
    def codes(self) -> set[str]:
        """Set of issue codes."""
        return {i.code for i in self}

    def to_dicts(self) -> list[dict[str, object]]:
        """JSON-friendly list.

        Returns
        -------
        list of dict
            :meth:`patchatlas.core.Issue.to_dict` of each issue, in order.
        """
        return [i.to_dict() for i in self]


def _ids(morph: Morphology, rows: npt.NDArray[np.int64]) -> tuple[int, ...]:
    return tuple(int(v) for v in morph.ids[rows[:200]])


def _lines(morph: Morphology, rows: npt.NDArray[np.int64]) -> tuple[int, ...]:
    if morph.lines is None:
        return ()
    return tuple(int(v) for v in morph.lines[rows[:200]])


def _issue(morph: Morphology, code: str, rows: npt.NDArray[np.int64], msg: str) -> Issue:
    return Issue(code, CHECKS[code][0], _ids(morph, rows), msg, _lines(morph, rows))


def _find(morph: Morphology) -> list[Issue]:
    n = len(morph)
    out: list[Issue] = []
    if n == 0:
        return [Issue("EMPTY", "error", (), "the morphology has no nodes")]
    t, p, xyz, r = morph.types, morph.parent, morph.xyz, morph.radius
    has_p = p >= 0
    pp = np.where(has_p, p, 0)
    soma = t == SOMA
    neurite = ~soma

    bad = ~np.isfinite(xyz).all(axis=1) | ~np.isfinite(r)
    if bad.any():
        rows = np.flatnonzero(bad)
        out.append(_issue(morph, "NON_FINITE", rows, f"{rows.size} node(s) have NaN/inf values"))
    neg = np.isfinite(r) & (r < 0)
    if neg.any():
        rows = np.flatnonzero(neg)
        out.append(_issue(morph, "NEGATIVE_RADIUS", rows, f"{rows.size} negative radius value(s)"))
    if (t < 0).any():
        rows = np.flatnonzero(t < 0)
        out.append(_issue(morph, "NEGATIVE_TYPE", rows, f"{rows.size} node(s) of negative type"))

    # soma structure
    soma_root = soma & ~(has_p & soma[pp])  # first node of each connected soma piece
    if not soma.any():
        if morph.soma_contour is None:
            out.append(Issue("NO_SOMA", "warning", (), "no soma node (type 1)"))
    elif int(soma_root.sum()) > 1:
        rows = np.flatnonzero(soma_root)
        out.append(
            _issue(
                morph,
                "MULTIPLE_SOMATA",
                rows,
                f"{rows.size} separate somata (soma pieces start at nodes "
                f"{', '.join(map(str, _ids(morph, rows)[:5]))})",
            )
        )
    soma_np = soma & has_p & ~soma[pp]
    if soma_np.any():
        rows = np.flatnonzero(soma_np)
        out.append(
            _issue(
                morph, "SOMA_WITH_NEURITE_PARENT", rows, "soma node(s) whose parent is a neurite"
            )
        )
    n_soma_children = np.bincount(p[has_p & soma], minlength=n)
    branching_soma = soma & (n_soma_children >= 2)
    three_point = False
    if int(soma.sum()) == 3:
        s_rows = np.flatnonzero(soma)
        a = s_rows[0]
        others = s_rows[1:]
        three_point = bool(np.all(p[others] == a))
        chain = bool(p[others[0]] == a and p[others[1]] == others[0])
        conform = three_point and bool(
            np.allclose(xyz[others, 0], xyz[a, 0])
            and np.allclose(xyz[others, 2], xyz[a, 2])
            and np.allclose(np.sort(xyz[others, 1] - xyz[a, 1]), [-r[a], r[a]], rtol=1e-3)
        )
        if (three_point or chain) and not conform:
            out.append(
                _issue(
                    morph,
                    "SOMA_NON_CONFORM",
                    s_rows,
                    "3-point soma not in the NeuroMorpho layout (x, y ± r, z) around node "
                    f"{int(morph.ids[a])}",
                )
            )
    if branching_soma.any() and not three_point:
        rows = np.flatnonzero(branching_soma)
        out.append(_issue(morph, "SOMA_BRANCHING", rows, "soma node(s) with several soma children"))
    if soma.any():
        off_root = neurite & has_p & soma[pp] & (pp != morph.root)
        if off_root.any():
            rows = np.flatnonzero(off_root)
            out.append(
                _issue(
                    morph,
                    "NEURITE_ON_NON_ROOT_SOMA",
                    rows,
                    f"{rows.size} neurite(s) attached to a soma node other than the root "
                    "(MorphIO drops these)",
                )
            )

    # connectivity
    disconnected = neurite & ~has_p
    if disconnected.any() and soma.any():
        rows = np.flatnonzero(disconnected)
        out.append(
            _issue(
                morph,
                "DISCONNECTED_NEURITE",
                rows,
                f"{rows.size} neurite piece(s) not connected to the soma",
            )
        )

    # types
    tchange = neurite & has_p & ~soma[pp] & (t != t[pp]) & (morph.n_children[pp] == 1)
    if tchange.any():
        rows = np.flatnonzero(tchange)
        pairs = ", ".join(
            f"{int(morph.ids[pp[k]])}({int(t[pp[k]])})→{int(morph.ids[k])}({int(t[k])})"
            for k in rows[:3]
        )
        out.append(
            _issue(
                morph,
                "SECTION_TYPE_CHANGED",
                rows,
                f"type changes without a branch point at {pairs}; types are kept per node",
            )
        )
    if (t == 0).any():
        rows = np.flatnonzero(t == 0)
        out.append(_issue(morph, "UNDEFINED_TYPE", rows, f"{rows.size} node(s) of type 0"))
    custom = t > 4
    if custom.any():
        rows = np.flatnonzero(custom)
        kinds = sorted(set(t[custom].tolist()))
        out.append(
            _issue(morph, "CUSTOM_TYPE", rows, f"{rows.size} node(s) of custom type(s) {kinds}")
        )

    # radii and geometry (neurites only)
    small = neurite & np.isfinite(r) & (r >= 0) & (r < 0.007)
    if small.any():
        rows = np.flatnonzero(small)
        out.append(_issue(morph, "ZERO_RADIUS", rows, f"{rows.size} neurite radius value(s) ≈ 0"))
    only_child = np.zeros(n, dtype=bool)
    only_child[p[has_p]] = True
    nchild = morph.n_children
    # child radius of single-child nodes: the child row is unique, find it by scatter
    child_r = np.full(n, np.nan)
    one = has_p & (nchild[pp] == 1)
    child_r[p[one]] = r[one]
    constr = (
        neurite
        & has_p
        & ~soma[pp]
        & (nchild == 1)
        & (r < 0.2 * r[pp])
        & (r < 0.2 * child_r)
        & (r >= 0.007)
    )
    if constr.any():
        rows = np.flatnonzero(constr)
        out.append(
            _issue(
                morph, "CONSTRICTION", rows, f"{rows.size} node(s) much narrower than neighbours"
            )
        )
    dz = np.abs(xyz[:, 2] - xyz[pp, 2])
    zj = has_p & neurite & (dz > 30.0)
    if zj.any():
        rows = np.flatnonzero(zj)
        out.append(
            _issue(morph, "Z_JUMP", rows, f"{rows.size} compartment(s) jump more than 30 µm in z")
        )
    if soma.any():
        c = morph.soma_center
        rs = morph.soma_radius
        first = neurite & has_p & soma[pp]
        dist = np.linalg.norm(xyz - c, axis=1)
        jump = first & (dist > 2.0 * rs)
        if jump.any():
            rows = np.flatnonzero(jump)
            out.append(
                _issue(
                    morph,
                    "ROOT_NODE_JUMP",
                    rows,
                    f"{rows.size} neurite(s) start more than 2 soma radii ({2 * rs:.3g} µm) from "
                    "the soma centre",
                )
            )
        axon_start = (t == AXON) & (~has_p | ~(t[pp] == AXON))
        dangling = axon_start & (dist - rs > 12.0)
        # an axon leaving a dendrite is not dangling
        dangling &= ~(has_p & ~soma[pp])
        if dangling.any():
            rows = np.flatnonzero(dangling)
            out.append(
                _issue(
                    morph,
                    "DANGLING_AXON",
                    rows,
                    f"axon starts {float(dist[rows[0]] - rs):.3g} µm outside the soma surface",
                )
            )
        kids = has_p & soma[pp] & neurite
        stem_rows = np.flatnonzero(kids)
        if stem_rows.size and (nchild[stem_rows] > 1).any():
            rows = stem_rows[nchild[stem_rows] > 1]
            out.append(
                _issue(
                    morph,
                    "SOMA_CHILD_BRANCHES",
                    rows,
                    "immediate soma children that branch (NEURON/Allen expect an unbranched "
                    "first compartment)",
                )
            )
    multi = neurite & (nchild >= 3)
    if multi.any():
        rows = np.flatnonzero(multi)
        out.append(
            _issue(morph, "MULTIFURCATION", rows, f"{rows.size} node(s) with 3 or more children")
        )
    zl = neurite & has_p & ~soma[pp] & (morph.segment_length < 0.01)
    if zl.any():
        rows = np.flatnonzero(zl)
        out.append(
            _issue(
                morph,
                "ZERO_LENGTH_COMPARTMENT",
                rows,
                f"{rows.size} compartment(s) shorter than 0.01 µm",
            )
        )
    if not np.array_equal(morph.ids, np.arange(1, n + 1)):
        out.append(Issue("NON_SEQUENTIAL_IDS", "info", (), "ids are not 1..n in row order"))
    if not (t == AXON).any():
        out.append(Issue("NO_AXON", "info", (), "no axon nodes (type 2)"))
    if not np.isin(t, (3, 4)).any():
        out.append(Issue("NO_DENDRITE", "info", (), "no dendrite nodes (type 3 or 4)"))
    return out


def _apply_profile(issues: list[Issue], profile: str) -> list[Issue]:
    if profile != "neuron":
        return issues
    out = []
    for i in issues:
        if i.code in _NEURON_ESCALATE and i.severity != "error":
            out.append(Issue(i.code, "error", i.node_ids, i.message, i.lines))
        else:
            out.append(i)
    return out


def validate(
    morph: Morphology,
    *,
    profile: Profile | str = "analysis",
    repair: bool = False,
    raise_on_error: bool | None = None,
) -> ValidationReport:
    """Check a morphology and return the issues found.

    Parameters
    ----------
    morph
        The morphology (not modified).
    profile
        ``"lenient"``, ``"analysis"`` or ``"neuron"`` (see the module docstring).
    repair
        Apply :func:`repair` first; the report then describes the repaired copy, available as
        ``report.morphology``, and lists what was done in ``report.repairs``.
    raise_on_error
        Raise :class:`~patchatlas.errors.ValidationError` when an error remains. Default: True for
        ``analysis`` and ``neuron``, False for ``lenient``.

    Returns
    -------
    ValidationReport
        A list of :class:`Issue` (reading issues first, then the checks).
    """
    if profile not in PROFILES:
        raise ValidationError(f"unknown validation profile {profile!r}; choose one of {PROFILES}")
    repairs: list[str] = []
    target = morph
    if repair:
        target = globals()["repair"](morph)
        repairs = list(target.meta.get("repairs", []))
    reading = list(target.issues)
    checks = _find(target)
    issues = _apply_profile(reading + checks, profile)
    report = ValidationReport(issues, target, profile, repairs)
    if raise_on_error is None:
        raise_on_error = profile != "lenient"
    if raise_on_error and not report.ok:
        errs = "; ".join(str(i) for i in report.errors[:5])
        raise ValidationError(
            f"{morph.label}: {len(report.errors)} validation error(s) under profile "
            f"{profile!r}: {errs} (use profile='lenient' to inspect, or repair=True)"
        )
    return report


def repair(
    morph: Morphology,
    *,
    disconnected: Literal["attach", "drop", "keep"] = "attach",
    drop_non_finite: bool = True,
) -> Morphology:
    """Return a repaired copy; every change is logged and listed in ``meta["repairs"]``.

    The repairs:

    * nodes with NaN/inf coordinates or radius are removed with their subtrees;
    * negative radii are replaced by their absolute value;
    * disconnected neurite pieces (missing parents) are attached to the nearest node of the
      soma's tree (``disconnected="attach"``), removed (``"drop"``) or kept;
    * duplicated ids were already resolved on reading (first row kept) and stay listed as issues.

    Parameters
    ----------
    morph
        The morphology to repair (left unchanged).
    disconnected
        What to do with neurite pieces not connected to the soma: ``"attach"`` (to the
        nearest node of the soma's tree, by Euclidean distance), ``"drop"`` or ``"keep"``.
        Without a soma, pieces are kept.
    drop_non_finite
        Remove nodes with NaN/inf coordinates or radius, with their subtrees.

    Returns
    -------
    Morphology
        The repaired copy; ``meta["repairs"]`` lists the repairs in words (each is also
        logged as a warning) and ``MISSING_PARENT`` issues are dropped unless
        ``disconnected="keep"``.
    """
    repairs: list[str] = list(morph.meta.get("repairs", []))
    m = morph

    def note(msg: str) -> None:
        log.warning("%s: repair: %s", morph.label, msg)
        repairs.append(msg)

    if drop_non_finite:
        bad = ~np.isfinite(m.xyz).all(axis=1) | ~np.isfinite(m.radius)
        if bad.any():
            dead = _with_subtrees(m, bad)
            note(f"removed {int(dead.sum())} node(s) with non-finite values (with subtrees)")
            m = _subset(m, ~dead)
    if (m.radius < 0).any():
        k = int((m.radius < 0).sum())
        note(f"replaced {k} negative radius value(s) by their absolute value")
        m = m.replace(radius=np.abs(m.radius))
    if disconnected != "keep" and m.has_soma:
        neurite_roots = np.flatnonzero((m.types != SOMA) & (m.parent < 0))
        if neurite_roots.size:
            root_of = nearest_marked_ancestor(m.parent, m.parent < 0)
            main = root_of == m.root
            if disconnected == "drop":
                note(f"removed {int((~main).sum())} node(s) in pieces not connected to the soma")
                m = _subset(m, main)
            else:
                par = m.parent.copy()
                main_rows = np.flatnonzero(main)
                for rr in neurite_roots:  # one per piece; pieces are few
                    d = np.linalg.norm(m.xyz[main_rows] - m.xyz[rr], axis=1)
                    par[rr] = main_rows[int(np.argmin(d))]
                pid = np.where(par >= 0, m.ids[np.maximum(par, 0)], -1)
                note(
                    f"attached {neurite_roots.size} disconnected piece(s) to the nearest node of "
                    "the soma's tree"
                )
                m = Morphology.from_arrays(
                    m.ids,
                    m.types,
                    m.xyz,
                    m.radius,
                    pid,
                    name=m.name,
                    source=m.source,
                    lines=m.lines,
                    soma_contour=m.soma_contour,
                    meta=dict(m.meta),
                )
    keep_issues = tuple(
        i for i in morph.issues if i.code not in ("MISSING_PARENT",) or disconnected == "keep"
    )
    meta = dict(m.meta)
    meta["repairs"] = repairs
    return m.replace(meta=meta, issues=keep_issues)


def _with_subtrees(m: Morphology, mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    hit = nearest_marked_ancestor(m.parent, mask)
    return np.asarray(hit >= 0)


def _subset(m: Morphology, keep: npt.NDArray[np.bool_]) -> Morphology:
    new_row = np.cumsum(keep) - 1
    par = m.parent[keep]
    ok = par >= 0
    par_keep = np.zeros(par.shape, dtype=bool)
    par_keep[ok] = keep[par[ok]]
    new_par = np.where(ok & par_keep, new_row[np.maximum(par, 0)], -1)
    return Morphology(
        ids=m.ids[keep],
        types=m.types[keep],
        xyz=m.xyz[keep],
        radius=m.radius[keep],
        parent=new_par.astype(np.int64),
        name=m.name,
        source=m.source,
        lines=None if m.lines is None else m.lines[keep],
        issues=m.issues,
        soma_contour=m.soma_contour,
        meta=dict(m.meta),
    )
