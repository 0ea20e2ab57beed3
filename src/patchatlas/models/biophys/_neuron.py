"""NEURON backend (internal): the reference simulator, as an optional extra.

Internal API (as :mod:`~patchatlas.models.biophys._arbor`):
``run(model, parameter_sets, clamps, tstop_ms, dt_ms) -> ndarray (K, S, n)``.

The cell is built once per geometry and mechanism set (one NEURON ``Section`` per model section,
its 3-D points added with ``pt3dadd``, ``nseg`` set, attached with ``connect``) and kept for the
process; each run only sets parameters (``cm``, ``Ra``, mechanism range and global variables,
reversal potentials) and integrates with ``ParallelContext.psolve`` at a fixed step (backward
Euler, ``secondorder = 0``, NEURON's default). The current clamp is an ``IClamp`` on
``soma[0](0.5)`` whose amplitude is played from the clamp's breakpoints (``Vector.play``,
continuous), the voltage recorded at ``soma[0](0.5)`` every step.

Mechanisms NEURON lacks are compiled from the model's ``modfiles`` folder into the user cache on
first use (:mod:`~patchatlas.models.biophys._nmodl`) and loaded once per process.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from patchatlas.errors import MechanismError, MissingDependencyError

if TYPE_CHECKING:  # pragma: no cover
    from patchatlas.models.biophys.geometry import CableTree
    from patchatlas.models.biophys.model import BiophysModel
    from patchatlas.models.biophys.protocols import CurrentClamp

FloatArray = npt.NDArray[np.float64]

__all__ = ["available", "load_mechanisms", "run", "version"]

#: mechanisms every NEURON has
_BUILTIN = {"pas", "hh", "extracellular", "fastpas"}
_ION_VAR = {"na": "ena", "k": "ek", "ca": "eca"}

_LOADED: set[str] = set()  # mechanism library folders loaded into this process


def _neuron() -> Any:
    try:
        import neuron
    except ImportError as exc:
        raise MissingDependencyError(
            "backend='neuron' needs NEURON: pip install 'patchatlas[neuron]' (or pip install "
            "neuron; a C++ compiler compiles the models' .mod files on first use). Without it "
            "every model runs on Arbor, the default backend (backend='arbor')."
        ) from exc
    return neuron


def available() -> bool:
    """Whether NEURON is importable."""
    try:
        _neuron()
    except MissingDependencyError:
        return False
    return True


def version() -> str:
    """NEURON's version string."""
    return str(_neuron().__version__)


def _has_mechanism(h: Any, name: str) -> bool:
    mt = h.MechanismType(0)
    sref = h.ref("")
    for i in range(int(mt.count())):
        mt.select(i)
        mt.selected(sref)
        if sref[0] == name:
            return True
    return False


def load_mechanisms(model: BiophysModel) -> None:
    """Make sure NEURON has every mechanism of ``model`` (compiling its ``modfiles`` if needed).

    Parameters
    ----------
    model
        The model.

    Raises
    ------
    patchatlas.errors.MechanismError
        A mechanism is neither built into NEURON nor in the model's ``modfiles`` folder, or the
        model has no ``modfiles`` folder to compile.
    """
    from patchatlas.models.biophys import _nmodl

    neuron = _neuron()
    h = neuron.h
    where = model.source or model.name or "model"
    missing = {m.name: m for m in model.mechanisms if not _has_mechanism(h, m.name)}
    if not missing:
        return
    if not model.modfiles:
        first = next(iter(missing.values()))
        raise MechanismError(
            f"{where}: NEURON does not have mechanism(s) {sorted(missing)} "
            f"(first used by {first.origin or first.name}); give the folder of the model's .mod "
            "files (load_allen_model(..., modfiles=...); an Allen download has modfiles/ beside "
            "the fit), or use backend='arbor', whose Allen catalogue has them built in"
        )
    provided = _nmodl.mechanism_names(model.modfiles)
    absent = [n for n in missing if n not in provided]
    if absent:
        m = missing[absent[0]]
        raise MechanismError(
            f"{where}: {m.origin or m.name} needs mechanism {absent[0]!r}, but "
            f"{model.modfiles} has no .mod file defining it (it defines: "
            f"{', '.join(sorted(provided))})"
        )
    lib = _nmodl.compiled_library(model.modfiles, neuron_version=str(neuron.__version__))
    key = str(lib)
    if key not in _LOADED:
        ok = neuron.load_mechanisms(key, warn_if_already_loaded=False)
        if not ok:
            raise MechanismError(f"{where}: NEURON could not load the mechanisms compiled in {lib}")
        _LOADED.add(key)
    still = [n for n in missing if not _has_mechanism(h, n)]
    if still:
        raise MechanismError(
            f"{where}: NEURON still lacks {still} after loading {lib}: another library with "
            "the same mechanism names is loaded in this process; use a fresh process"
        )


class _Cell:
    """The NEURON sections of one geometry with one set of inserted mechanisms."""

    def __init__(self, tree: CableTree, inserted: frozenset[tuple[str, str]]) -> None:
        h = _neuron().h
        self.sections: list[Any] = []
        self.by_group: dict[str, list[Any]] = {}
        for k, s in enumerate(tree.sections):
            sec = h.Section(name=f"pa{id(self):x}_{s.name}")
            for x, y, z, d in s.points:
                sec.pt3dadd(float(x), float(y), float(z), float(d))
            sec.nseg = int(s.nseg)
            if s.parent >= 0:
                sec.connect(self.sections[s.parent](float(s.parent_x)), 0.0)
            self.sections.append(sec)
            self.by_group.setdefault(s.group, []).append(sec)
            assert len(self.sections) == k + 1
        for group, mech in inserted:
            for sec in self.by_group.get(group, []):
                sec.insert(mech)
        self.soma = self.sections[0]
        self.stim = h.IClamp(self.soma(0.5))
        self.stim.delay = 0.0
        self.stim.dur = 1e12
        self.stim.amp = 0.0


_CELLS: weakref.WeakKeyDictionary[CableTree, dict[frozenset[tuple[str, str]], _Cell]] = (
    weakref.WeakKeyDictionary()
)


def _cell(model: BiophysModel) -> _Cell:
    inserted = frozenset((m.group, m.name) for m in model.mechanisms)
    per_tree = _CELLS.setdefault(model.geometry, {})
    cell = per_tree.get(inserted)
    if cell is None:
        cell = _Cell(model.geometry, inserted)
        per_tree[inserted] = cell
    return cell


def _configure(
    h: Any, cell: _Cell, model: BiophysModel, values: Mapping[str, float] | None
) -> None:
    vals = model.parameters
    if values:
        vals.update({k: float(v) for k, v in values.items()})
    for g, secs in cell.by_group.items():
        cmv, rav = vals[f"cm.{g}"], vals[f"Ra.{g}"]
        for sec in secs:
            sec.cm = cmv
            sec.Ra = rav
    globals_set: dict[str, float] = {}
    for m in model.mechanisms:
        secs = cell.by_group.get(m.group, [])
        for p in m.parameters:
            v = vals[f"{p}_{m.name}.{m.group}"]
            attr = f"{p}_{m.name}"
            if not secs:
                continue
            try:
                for sec in secs:
                    setattr(sec, attr, v)
            except (AttributeError, NameError, LookupError, ValueError):
                # a GLOBAL (not RANGE) parameter: one value for the whole simulation
                if not hasattr(h, attr):
                    raise MechanismError(
                        f"{model.source or model.name}: {m.origin or m.name} sets {p!r}, which "
                        f"NEURON's mechanism {m.name!r} does not have"
                    ) from None
                if attr in globals_set and globals_set[attr] != v:
                    raise MechanismError(
                        f"{model.source or model.name}: {attr} is a GLOBAL of {m.name!r} in "
                        "NEURON and the model gives it different values per group"
                    ) from None
                setattr(h, attr, v)
                globals_set[attr] = v
    for g, ions in model.conditions.reversal.items():
        for ion, e in ions.items():
            var = _ION_VAR.get(ion, f"e{ion}")
            for sec in cell.by_group.get(g, []):
                if h.ismembrane(f"{ion}_ion", sec=sec):
                    setattr(sec, var, float(e))
    h.celsius = model.conditions.celsius


def run(
    model: BiophysModel,
    parameter_sets: Sequence[Mapping[str, float] | None],
    clamps: Sequence[CurrentClamp],
    *,
    tstop_ms: float,
    dt_ms: float,
    threads: int = 1,
) -> FloatArray:
    """Simulate every parameter set under every clamp (one after another, same cell).

    Parameters
    ----------
    model
        The model.
    parameter_sets
        Flat-key overrides per run (None: the model as it is).
    clamps
        Somatic current clamps.
    tstop_ms, dt_ms
        Simulated time and fixed integration step (ms).
    threads
        Unused (NEURON runs single-threaded here).

    Returns
    -------
    numpy.ndarray
        Voltage at ``soma[0](0.5)`` in mV, shape ``(K, S, n)``, ``n = round(tstop / dt) + 1``.
    """
    neuron = _neuron()
    h = neuron.h
    h.load_file("stdrun.hoc")
    load_mechanisms(model)
    cell = _cell(model)
    pc = h.ParallelContext()
    pc.set_maxstep(10)
    h.cvode_active(0)
    h.secondorder = 0
    h.dt = dt_ms
    h.steps_per_ms = 1.0 / dt_ms
    n = round(tstop_ms / dt_ms) + 1
    out = np.empty((len(parameter_sets), len(clamps), n), dtype=np.float64)
    vrec = h.Vector()
    for k, values in enumerate(parameter_sets):
        _configure(h, cell, model, values)
        for s, clamp in enumerate(clamps):
            t = np.asarray(clamp.times, dtype=np.float64) * 1e3
            a = np.asarray(clamp.amplitudes, dtype=np.float64) * 1e-3
            if t[0] > 0:
                t = np.concatenate([[0.0], [t[0]], t])
                a = np.concatenate([[0.0], [0.0], a])
            t = np.concatenate([t, [max(tstop_ms, t[-1]) + 10 * dt_ms]])
            a = np.concatenate([a, [a[-1]]])
            tvec, avec = h.Vector(t), h.Vector(a)
            avec.play(cell.stim._ref_amp, tvec, 1)
            vrec.record(cell.soma(0.5)._ref_v, dt_ms)
            h.finitialize(model.conditions.v_init)
            pc.psolve(tstop_ms)
            v = vrec.as_numpy().copy()
            avec.play_remove()
            vrec.play_remove()
            if v.size < n:
                v = np.concatenate([v, np.full(n - v.size, v[-1] if v.size else np.nan)])
            out[k, s] = v[:n]
    cell.stim.amp = 0.0
    return out
