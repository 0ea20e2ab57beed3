"""Arbor backend (internal): a :class:`BiophysModel` as Arbor cable cells, many per simulation.

Internal API (used by :mod:`~patchatlas.models.biophys.simulation`):

``run(model, parameter_sets, clamps, tstop_ms, dt_ms) -> ndarray``
    Soma voltage (mV, before the junction potential) of every parameter set × clamp, shape
    ``(K, S, n_steps + 1)``, sampled every ``dt_ms`` from 0.

How the geometry maps onto Arbor: every section becomes a chain of Arbor segments (one per pair
of 3-D points, frustums as in NEURON); a child attached at ``x`` of its parent is attached to the
distal end of the parent's segment ending at ``x`` (points are inserted where needed, e.g. the
soma centre). Control-volume boundaries are placed at ``k / nseg`` of every section
(``cv_policy_explicit``), so Arbor's compartments are NEURON's segments. The segment tree, the
label dictionary and the CV policy are built once per geometry and cached; a batch of parameter
sets becomes one simulation with one cell per (parameter set, clamp) — the "build once, mutate
parameters" of the fitting loop, with Arbor's vectorised mechanism kernels running over all
cells at once.

Mechanisms come from Arbor's built-in catalogues (``default``: ``pas``, ``hh``, ``nernst`` ...;
``allen``: the 16 Allen mechanisms). Global mechanism parameters (``pas`` ``e``,
``Ih`` ``ehcn`` ...) become derived mechanisms (``pas/e=-80``). Calcium's reversal potential
follows the Nernst equation when a mechanism writes the internal calcium concentration (as
NEURON does); sodium and potassium reversals are fixed per group.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from patchatlas.errors import MechanismError, MissingDependencyError, ParameterError

if TYPE_CHECKING:  # pragma: no cover
    from patchatlas.models.biophys.geometry import CableTree
    from patchatlas.models.biophys.model import BiophysModel
    from patchatlas.models.biophys.protocols import CurrentClamp

FloatArray = npt.NDArray[np.float64]

__all__ = ["available", "catalogue_names", "run", "version"]

#: SWC-style tags of the section groups in Arbor (others get 5, 6, ...)
_TAGS = {"soma": 1, "axon": 2, "dend": 3, "apic": 4}
_ION_OF = {"ena": "na", "ek": "k", "eca": "ca", "na": "na", "k": "k", "ca": "ca"}


def _arbor() -> Any:
    try:
        import arbor
    except ImportError as exc:
        raise MissingDependencyError(
            "the Arbor backend needs arbor: pip install 'patchatlas[models]' (or pip install arbor)"
        ) from exc
    return arbor


def available() -> bool:
    """Whether arbor is importable."""
    try:
        _arbor()
    except MissingDependencyError:
        return False
    return True


def version() -> str:
    """Arbor's version string."""
    return str(_arbor().__version__)


_CATALOGUE: Any = None


def _catalogue() -> Any:
    global _CATALOGUE
    if _CATALOGUE is None:
        A = _arbor()
        cat = A.default_catalogue()
        cat.extend(A.allen_catalogue(), "")
        _CATALOGUE = cat
    return _CATALOGUE


def catalogue_names() -> list[str]:
    """Names of the mechanisms the Arbor backend provides (default and allen catalogues)."""
    return sorted(_catalogue())


# ------------------------------------------------------------------------------------ geometry


@dataclass
class _Geometry:
    tree: Any  # arbor.segment_tree
    labels: Any  # arbor.label_dict
    policy: Any  # arbor.cv_policy
    n_cv: int


_GEOMETRY: weakref.WeakKeyDictionary[CableTree, _Geometry] = weakref.WeakKeyDictionary()


def _geometry(tree: CableTree) -> _Geometry:
    got = _GEOMETRY.get(tree)
    if got is None:
        got = _build_geometry(tree)
        _GEOMETRY[tree] = got
    return got


def _build_geometry(tree: CableTree) -> _Geometry:
    A = _arbor()
    secs = tree.sections
    # attachment fractions each section must offer its children
    need: list[set[float]] = [set() for _ in secs]
    for s in secs:
        if s.parent >= 0 and 0.0 < s.parent_x < 1.0:
            need[s.parent].add(float(s.parent_x))
    tags = dict(_TAGS)
    for g in tree.groups:
        tags.setdefault(g, max(tags.values()) + 1)

    st = A.segment_tree()
    seg_prox: list[tuple[float, ...]] = []  # (x, y, z, r) of each segment's proximal point
    seg_dist: list[tuple[float, ...]] = []
    seg_parent: list[int] = []
    end_seg: list[dict[float, int]] = []  # per section: fraction -> segment ending there
    sec_segs: list[list[int]] = []  # per section: its segments, proximal to distal
    sec_seg_arc: list[FloatArray] = []  # per section: arc (µm) at each segment's distal end
    for k, s in enumerate(secs):
        pts = s.points
        arc = s.arc
        length = arc[-1]
        extra = sorted(x * length for x in need[k])
        if extra:
            ins = [e for e in extra if not np.any(np.isclose(arc, e, rtol=0, atol=1e-9))]
            if ins:
                xyzd = np.column_stack([np.interp(ins, arc, pts[:, j]) for j in range(4)])
                pts = np.vstack([pts, xyzd])
                arc = np.concatenate([arc, ins])
                order = np.argsort(arc, kind="stable")
                pts, arc = pts[order], arc[order]
        parent_seg = A.mnpos if s.parent < 0 else _attach(s.parent, s.parent_x, end_seg, secs)
        ids = []
        tag = tags[s.group]
        for j in range(len(pts) - 1):
            p, d = pts[j], pts[j + 1]
            prox = A.mpoint(p[0], p[1], p[2], p[3] / 2)
            dist = A.mpoint(d[0], d[1], d[2], d[3] / 2)
            sid = st.append(parent_seg, prox, dist, tag=tag)
            seg_prox.append((p[0], p[1], p[2], p[3] / 2))
            seg_dist.append((d[0], d[1], d[2], d[3] / 2))
            seg_parent.append(-1 if parent_seg == A.mnpos else int(parent_seg))
            ids.append(sid)
            parent_seg = sid
        ends = {}
        seg_arc = arc[1:]
        for x in (*need[k], 1.0):
            j = int(np.argmin(np.abs(seg_arc - x * length)))
            ends[float(x)] = ids[j]
        end_seg.append(ends)
        sec_segs.append(ids)
        sec_seg_arc.append(np.asarray(seg_arc, dtype=np.float64))

    morph = A.morphology(st)
    seg_branch, seg_offset, branch_len = _branch_map(morph, seg_prox, seg_dist, seg_parent)

    def location(k: int, x: float) -> tuple[int, float]:
        """Arbor (branch, pos) of location ``x`` of section ``k`` (a fork point is given as the
        distal end of the proximal segment: one location, not one per branch)."""
        ids, seg_arc = sec_segs[k], sec_seg_arc[k]
        starts = np.concatenate([[0.0], seg_arc[:-1]])
        a = x * seg_arc[-1]
        j = int(np.clip(np.searchsorted(seg_arc, a, side="left"), 0, len(ids) - 1))
        sid = ids[j]
        b = seg_branch[sid]
        pos = (seg_offset[sid] + (a - starts[j])) / branch_len[b]
        return int(b), float(round(min(max(pos, 0.0), 1.0), 12))

    # CV boundaries at k/nseg of every section
    locs: set[tuple[int, float]] = set()
    for k, s in enumerate(secs):
        for i in range(s.nseg + 1):
            locs.add(location(k, i / s.nseg))
    expr = "(sum " + " ".join(f"(location {b} {p!r})" for b, p in sorted(locs)) + ")"
    policy = A.cv_policy_explicit(expr)

    labels = A.label_dict()
    for g in tree.groups:
        labels[g] = f"(tag {tags[g]})"
    b, p = location(0, 0.5)
    labels["center"] = f"(location {b} {p!r})"
    return _Geometry(st, labels, policy, tree.n_segments)


def _attach(parent: int, x: float, end_seg: list[dict[float, int]], secs: Any) -> Any:
    """The Arbor segment whose distal end is at ``x`` of section ``parent``."""
    if x <= 0.0:
        p = secs[parent]
        if p.parent < 0:
            return _arbor().mnpos
        return _attach(p.parent, p.parent_x, end_seg, secs)
    ends = end_seg[parent]
    key = min(ends, key=lambda e: abs(e - x))
    return ends[key]


def _branch_map(
    morph: Any,
    prox: list[tuple[float, ...]],
    dist: list[tuple[float, ...]],
    parent: list[int],
) -> tuple[list[int], list[float], list[float]]:
    """For every segment id: its Arbor branch and the path offset (µm) of its proximal end
    along the branch; and every branch's length. Branches are matched to our segment chains by
    the coordinates of their first segment (Arbor numbers branches itself)."""
    n = len(prox)
    n_children = np.zeros(n + 1, dtype=np.int64)
    roots = 0
    for p in parent:
        if p < 0:
            roots += 1
        else:
            n_children[p] += 1
    # our branches: chains of segments where each link's parent has exactly one child (and
    # roots start a branch)
    first_of: dict[tuple[float, ...], int] = {}
    starts = [i for i in range(n) if parent[i] < 0 or n_children[parent[i]] != 1]
    nxt: dict[int, int] = {}
    for i in range(n):
        p = parent[i]
        if p >= 0 and n_children[p] == 1:
            nxt[p] = i
    chains: list[list[int]] = []
    for s0 in starts:
        chain = [s0]
        while chain[-1] in nxt:
            chain.append(nxt[chain[-1]])
        first_of[prox[s0] + dist[s0]] = len(chains)
        chains.append(chain)
    seg_branch = [0] * n
    seg_offset = [0.0] * n
    branch_len = [0.0] * morph.num_branches
    if morph.num_branches != len(chains):
        raise RuntimeError(
            f"Arbor made {morph.num_branches} branches of {len(chains)} expected cable chains"
        )
    for b in range(morph.num_branches):
        segs = morph.branch_segments(b)
        m0 = segs[0]
        key = (
            m0.prox.x,
            m0.prox.y,
            m0.prox.z,
            m0.prox.radius,
            m0.dist.x,
            m0.dist.y,
            m0.dist.z,
            m0.dist.radius,
        )
        c = first_of.get(tuple(float(v) for v in key))
        if c is None or len(chains[c]) != len(segs):
            raise RuntimeError(f"cannot match Arbor branch {b} to the model's cable chains")
        off = 0.0
        for sid in chains[c]:
            seg_branch[sid] = b
            seg_offset[sid] = off
            off += float(np.linalg.norm(np.subtract(dist[sid][:3], prox[sid][:3])))
        branch_len[b] = off
    return seg_branch, seg_offset, branch_len


# ------------------------------------------------------------------------------------ decor


def _mechanism_plan(
    model: BiophysModel,
) -> list[tuple[str, str, dict[str, float], dict[str, float], str]]:
    """(group, mechanism, range parameters, global parameters, origin) per mechanism, checked
    against the catalogues."""
    cat = _catalogue()
    plan = []
    where = model.source or model.name or "model"
    for m in model.mechanisms:
        if m.name not in cat:
            raise MechanismError(
                f"{where}: {m.origin or 'a mechanism entry'} names mechanism {m.name!r}, which "
                "Arbor's catalogues (default, allen) do not have; use the NEURON backend "
                "with its .mod file (backend='neuron', modfiles=...) or a catalogue that has it"
            )
        info = cat[m.name]
        rng, glob = {}, {}
        for p, v in m.parameters.items():
            if p in info.parameters:
                rng[p] = float(v)
            elif p in info.globals:
                glob[p] = float(v)
            else:
                raise MechanismError(
                    f"{where}: {m.origin or m.name} sets {p!r}, which mechanism {m.name!r} does "
                    f"not have (parameters: {', '.join(sorted([*info.parameters, *info.globals]))})"
                )
        plan.append((m.group, m.name, rng, glob, m.origin))
    return plan


def _writes_cai(model: BiophysModel) -> bool:
    cat = _catalogue()
    for m in model.mechanisms:
        info = cat[m.name]
        ion = info.ions.get("ca") if hasattr(info.ions, "get") else None
        if ion is not None and getattr(ion, "write_int_con", False):
            return True
    return False


def _decor(
    model: BiophysModel,
    plan: Sequence[tuple[str, str, dict[str, float], dict[str, float], str]],
    values: Mapping[str, float] | None,
    clamp: CurrentClamp,
) -> Any:
    A = _arbor()
    U = A.units
    c = model.conditions
    dec = A.decor()
    dec.set_property(Vm=c.v_init * U.mV, tempK=(c.celsius + 273.15) * U.Kelvin)
    cm = dict(model.cm)
    ra = dict(model.ra)
    if values:
        for key, v in values.items():
            name, _, group = key.rpartition(".")
            if name == "cm":
                cm[group] = float(v)
            elif name == "Ra":
                ra[group] = float(v)
    for g in model.geometry.groups:
        # µF/cm² -> F/m²
        dec.paint(f'"{g}"', cm=cm[g] * 1e-2 * U.F / U.m2, rL=ra[g] * U.Ohm * U.cm)
    if _writes_cai(model):
        dec.set_ion("ca", method=A.mechanism("nernst/x=ca"))
    for g, ions in c.reversal.items():
        if g not in model.geometry.groups:
            continue
        for ion, e in ions.items():
            dec.paint(f'"{g}"', ion=_ION_OF.get(ion, ion), rev_pot=float(e) * U.mV)
    for group, name, rng, glob, _origin in plan:
        rng = dict(rng)
        glob = dict(glob)
        if values:
            for p in list(rng):
                key = f"{p}_{name}.{group}"
                if key in values:
                    rng[p] = float(values[key])
            for p in list(glob):
                key = f"{p}_{name}.{group}"
                if key in values:
                    glob[p] = float(values[key])
        mech = name
        if glob:
            mech = name + "/" + ",".join(f"{p}={v!r}" for p, v in sorted(glob.items()))
        dec.paint(f'"{group}"', A.density(mech, rng))
    env = [
        (float(t) * 1e3 * U.ms, float(a) * 1e-3 * U.nA)
        for t, a in zip(clamp.times, clamp.amplitudes, strict=True)
    ]
    if env and env[0][0].value > 0:
        env.insert(0, (0.0 * U.ms, 0.0 * U.nA))
    dec.place('"center"', A.i_clamp(env))
    return dec


# ------------------------------------------------------------------------------------ running


def run(
    model: BiophysModel,
    parameter_sets: Sequence[Mapping[str, float] | None],
    clamps: Sequence[CurrentClamp],
    *,
    tstop_ms: float,
    dt_ms: float,
    threads: int = 1,
) -> FloatArray:
    """Simulate every parameter set under every clamp in one Arbor simulation.

    Parameters
    ----------
    model
        The model (its parameters are the defaults of every set).
    parameter_sets
        Flat-key overrides per cell (None: the model as it is).
    clamps
        Somatic current clamps.
    tstop_ms, dt_ms
        Simulated time and integration step (ms).
    threads
        Arbor worker threads.

    Returns
    -------
    numpy.ndarray
        Soma-centre voltage in mV, shape ``(K, S, n)`` with ``n = round(tstop / dt) + 1``
        samples at ``0, dt, 2 dt, ...``.
    """
    A = _arbor()
    U = A.units
    geo = _geometry(model.geometry)
    plan = _mechanism_plan(model)
    props = A.neuron_cable_properties()
    props.catalogue = _catalogue()
    cells = [(k, s) for k in range(len(parameter_sets)) for s in range(len(clamps))]

    class _Recipe(A.recipe):  # type: ignore[misc,name-defined]
        def __init__(self) -> None:
            A.recipe.__init__(self)

        def num_cells(self) -> int:
            return len(cells)

        def cell_kind(self, gid: int) -> Any:
            return A.cell_kind.cable

        def cell_description(self, gid: int) -> Any:
            k, s = cells[gid]
            dec = _decor(model, plan, parameter_sets[k], clamps[s])
            return A.cable_cell(geo.tree, dec, geo.labels, geo.policy)

        def probes(self, gid: int) -> list[Any]:
            return [A.cable_probe_membrane_voltage('"center"', "Um")]

        def global_properties(self, kind: Any) -> Any:
            return props

    n = round(tstop_ms / dt_ms) + 1
    ctx = A.context(threads=max(1, int(threads)))
    recipe = _Recipe()
    # all cells in one cell group: the mechanism kernels run over the CVs of every cell at once
    hints = {A.cell_kind.cable: A.partition_hint(cpu_group_size=max(1, len(cells)))}
    try:
        decomp = A.partition_load_balance(recipe, ctx, hints)
        sim = A.simulation(recipe, ctx, decomp)
    except RuntimeError as exc:  # arbor reports bad decor / catalogue problems this way
        raise ParameterError(
            f"{model.source or model.name}: Arbor cannot build the cell ({exc})"
        ) from exc
    handles = [
        sim.sample((gid, "Um"), A.regular_schedule(0.0 * U.ms, dt_ms * U.ms, None))
        for gid in range(len(cells))
    ]
    sim.run(tstop_ms * U.ms + 0.5 * dt_ms * U.ms, dt_ms * U.ms)
    out = np.empty((len(parameter_sets), len(clamps), n), dtype=np.float64)
    for gid, h in enumerate(handles):
        k, s = cells[gid]
        data, _meta = sim.samples(h)[0]
        v = np.asarray(data[:, 1], dtype=np.float64)
        if v.size < n:
            v = np.concatenate([v, np.full(n - v.size, v[-1] if v.size else np.nan)])
        out[k, s] = v[:n]
    return out
