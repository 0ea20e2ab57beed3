"""The simulator-independent description of a biophysical model: :class:`BiophysModel`.

A model is a :class:`~patchatlas.models.biophys.geometry.CableTree` (sections, 3-D points,
segments) plus, per section group, the membrane mechanisms and their parameters, the passive
cable properties and the conditions (temperature, reversal potentials, initial voltage,
junction potential). Both backends (Arbor, NEURON) build their cell from this object alone.

Parameters are addressed by flat keys ``"<name>.<group>"`` as in the Allen fit files:
``"gbar_NaTs.soma"`` (parameter ``gbar`` of mechanism ``NaTs`` on the soma), ``"g_pas.dend"``,
``"e_pas.axon"``, ``"gamma_CaDynamics.soma"``, ``"cm.soma"`` (µF/cm²) and ``"Ra.soma"`` (Ω·cm).
Units are NEURON's: conductance densities in S/cm², voltages in mV, times in ms inside mechanism
parameters (``decay_CaDynamics``), temperature in °C.

Simulation (:meth:`BiophysModel.simulate_step`, :meth:`BiophysModel.simulate`) returns core
:class:`~patchatlas.core.Sweep` objects: time in s, voltage in mV with the fit's junction
potential applied as Allen does (``v_recorded = v_model − junction_potential``, so a −14 mV
junction potential raises the model's voltage by 14 mV), current in pA.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from patchatlas.errors import ParameterError, SectionGroupError

if TYPE_CHECKING:  # pragma: no cover
    from patchatlas.core.recording import Recording, Stimulus, Sweep
    from patchatlas.models.biophys.geometry import CableTree
    from patchatlas.models.biophys.protocols import CurrentClamp

__all__ = ["BACKENDS", "BiophysModel", "Conditions", "Mechanism", "parameter_key"]

#: simulators the models run on (Arbor by default)
BACKENDS = ("arbor", "neuron")
#: passive cable parameters addressed as "<name>.<group>" (besides mechanism parameters)
PASSIVE_NAMES = ("cm", "Ra")


def parameter_key(name: str, group: str) -> str:
    """The flat key of a model parameter: ``"<name>.<group>"``.

    Parameters
    ----------
    name
        ``"<param>_<mechanism>"`` (``"gbar_NaTs"``, ``"g_pas"``) or ``"cm"`` / ``"Ra"``.
    group
        Section group.

    Returns
    -------
    str
        E.g. ``"gbar_NaTs.soma"``.
    """
    return f"{name}.{group}"


@dataclass(frozen=True)
class Mechanism:
    """A density mechanism inserted in every section of a group.

    Attributes
    ----------
    name
        Mechanism name as the simulators know it (``"NaTs"``, ``"pas"``, ``"CaDynamics"``).
    group
        Section group (``"soma"``, ``"axon"``, ``"dend"``, ``"apic"``).
    parameters
        Parameter name → value (``{"gbar": 0.26}``), NEURON units.
    origin
        Where it came from, for messages (``"fit.json genome[2]"``).
    """

    name: str
    group: str
    parameters: Mapping[str, float] = field(default_factory=dict)
    origin: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "parameters", {str(k): float(v) for k, v in self.parameters.items()}
        )


@dataclass(frozen=True)
class Conditions:
    """Temperature, initial voltage, reversal potentials and the junction potential.

    Attributes
    ----------
    celsius
        Temperature in °C.
    v_init
        Initial membrane voltage in mV (model voltage, before the junction potential).
    junction_potential
        Liquid junction potential of the fit in mV (Allen: −14); simulated sweeps report
        ``v − junction_potential``.
    reversal
        Section group → ion → reversal potential in mV (``{"soma": {"na": 53, "k": -107}}``).
        Ions not given keep the simulators' defaults (na 50, k −77 mV); calcium's reversal
        follows the Nernst equation where a mechanism changes the internal concentration.
    """

    celsius: float = 34.0
    v_init: float = -80.0
    junction_potential: float = 0.0
    reversal: Mapping[str, Mapping[str, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        rev = {str(g): {str(i): float(e) for i, e in v.items()} for g, v in self.reversal.items()}
        object.__setattr__(self, "reversal", rev)


@dataclass(frozen=True, eq=False)
class BiophysModel:
    """A multi-compartment conductance-based model of one cell.

    Attributes
    ----------
    geometry
        The sections (:class:`~patchatlas.models.biophys.geometry.CableTree`).
    mechanisms
        Density mechanisms per group (``pas`` included).
    cm
        Specific membrane capacitance per group (µF/cm²).
    ra
        Axial resistivity per group (Ω·cm).
    conditions
        :class:`Conditions`.
    name
        A label (the model or specimen id).
    kind
        ``"perisomatic"``, ``"all_active"`` or ``"custom"``.
    source
        The fit file it was loaded from (for messages and provenance).
    modfiles
        Folder with the NMODL files of its mechanisms (NEURON backend); None: none known.
    dt_s
        Integration step in s (NEURON's default 0.025 ms, used by the Allen runs).
    provenance
        How it was made: loader, axon handling, segment rule, package version ...
    """

    geometry: CableTree
    mechanisms: tuple[Mechanism, ...]
    cm: Mapping[str, float]
    ra: Mapping[str, float]
    conditions: Conditions = field(default_factory=Conditions)
    name: str = ""
    kind: str = "custom"
    source: str = ""
    modfiles: str | None = None
    dt_s: float = 25e-6
    provenance: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # plain copies (picklable: models travel to pool and Dask workers)
        object.__setattr__(self, "cm", {str(k): float(v) for k, v in self.cm.items()})
        object.__setattr__(self, "ra", {str(k): float(v) for k, v in self.ra.items()})
        object.__setattr__(self, "provenance", dict(self.provenance))
        present = set(self.geometry.groups)
        where = self.source or self.name or "model"
        for m in self.mechanisms:
            if m.group not in present:
                raise SectionGroupError(
                    f"{where}: {m.origin or m.name} puts {m.name!r} on section group "
                    f"{m.group!r}, which this morphology does not have (groups: "
                    f"{', '.join(sorted(present))})"
                )
        for g in present:
            if g not in self.cm or g not in self.ra:
                raise ParameterError(
                    f"{where}: section group {g!r} has no membrane capacitance or axial "
                    "resistivity; give cm and Ra for every group"
                )
        if not (math.isfinite(self.dt_s) and self.dt_s > 0):
            raise ParameterError(f"{where}: dt_s must be > 0 s, got {self.dt_s!r}")

    def __repr__(self) -> str:
        return (
            f"BiophysModel({self.name!r}, {self.kind}, {len(self.geometry.sections)} sections, "
            f"{self.geometry.n_segments} segments, {len(self.mechanisms)} mechanisms, "
            f"{self.conditions.celsius:g} °C)"
        )

    # ------------------------------------------------------------------ parameters
    @property
    def parameters(self) -> dict[str, float]:
        """Every parameter by flat key (``"gbar_NaTs.soma"``, ``"cm.dend"`` ...)."""
        out: dict[str, float] = {}
        for g, v in self.cm.items():
            out[parameter_key("cm", g)] = float(v)
        for g, v in self.ra.items():
            out[parameter_key("Ra", g)] = float(v)
        for m in self.mechanisms:
            for p, v in m.parameters.items():
                out[parameter_key(f"{p}_{m.name}", m.group)] = float(v)
        return out

    def with_parameters(
        self, values: Mapping[str, float] | None = None, **kw: float
    ) -> BiophysModel:
        """A copy with some parameters changed (the geometry is shared, not copied).

        Parameters
        ----------
        values
            Flat key → value (``{"gbar_NaTs.soma": 0.3}``).
        **kw
            More values; keys given as keyword arguments cannot contain dots, so use
            ``values`` for those.

        Returns
        -------
        BiophysModel
            The changed model.

        Raises
        ------
        patchatlas.errors.ParameterError
            A key names no parameter of the model (the message lists them).
        """
        changes = {**(values or {}), **kw}
        if not changes:
            return self
        known = self.parameters
        bad = [k for k in changes if k not in known]
        if bad:
            raise ParameterError(
                f"{self.name or 'model'}: unknown parameter(s) {bad}; the model has: "
                f"{', '.join(sorted(known))}"
            )
        cm, ra = dict(self.cm), dict(self.ra)
        mechs = []
        for m in self.mechanisms:
            params = dict(m.parameters)
            for p in params:
                key = parameter_key(f"{p}_{m.name}", m.group)
                if key in changes:
                    params[p] = float(changes[key])
            mechs.append(replace(m, parameters=params))
        for key, v in changes.items():
            name, _, group = key.rpartition(".")
            if name == "cm":
                cm[group] = float(v)
            elif name == "Ra":
                ra[group] = float(v)
        return replace(self, mechanisms=tuple(mechs), cm=cm, ra=ra)

    # ------------------------------------------------------------------ simulation
    def simulate(
        self,
        stimulus: CurrentClamp | Sweep | Any,
        *,
        sampling_rate: float | None = None,
        tstop_s: float | None = None,
        backend: str = "arbor",
        number: int = 0,
    ) -> Sweep:
        """Simulate a somatic current clamp; the soma voltage as a core sweep.

        Parameters
        ----------
        stimulus
            A :class:`~patchatlas.models.biophys.protocols.CurrentClamp`; a recorded
            :class:`~patchatlas.core.Sweep` (its command current ``i`` is replayed and its
            stimulus description kept); or an array of currents in pA sampled at
            ``sampling_rate``.
        sampling_rate
            Output samples per second (Hz); for an array stimulus also its rate (required
            then). Default: the sweep's rate for a sweep, else one sample per integration step.
        tstop_s
            Simulated time in s (default: the end of the stimulus, or the sweep's length).
        backend
            ``"arbor"`` (default) or ``"neuron"``.
        number
            Sweep number of the result.

        Returns
        -------
        Sweep
            ``v`` in mV (junction potential applied), ``i`` in pA, the stimulus description;
            ``metadata`` names the model, backend and step.
        """
        from patchatlas.models.biophys.simulation import simulate

        return simulate(
            self,
            [stimulus],
            sampling_rate=sampling_rate,
            tstop_s=tstop_s,
            backend=backend,
            first_number=number,
        )[0]

    def simulate_step(
        self,
        amplitude_pa: float,
        *,
        delay_s: float = 1.0,
        duration_s: float = 1.0,
        tstop_s: float = 3.0,
        backend: str = "arbor",
        sampling_rate: float | None = None,
    ) -> Sweep:
        """Simulate a somatic current step (the Allen long square by default).

        Parameters
        ----------
        amplitude_pa
            Step amplitude in pA.
        delay_s, duration_s
            Step onset and length in s.
        tstop_s
            Simulated time in s.
        backend
            ``"arbor"`` (default) or ``"neuron"``.
        sampling_rate
            Output samples per second (default: one per integration step, 40 kHz).

        Returns
        -------
        Sweep
            t in s (from 0), v in mV with the fit's junction potential applied as Allen does,
            i in pA; the stimulus is a ``long_square`` of ``amplitude_pa``.
        """
        from patchatlas.models.biophys.protocols import long_square

        clamp = long_square(amplitude_pa, delay_s=delay_s, duration_s=duration_s)
        return self.simulate(clamp, tstop_s=tstop_s, backend=backend, sampling_rate=sampling_rate)

    def simulate_steps(
        self,
        amplitudes_pa: Sequence[float],
        *,
        delay_s: float = 1.0,
        duration_s: float = 1.0,
        tstop_s: float = 3.0,
        backend: str = "arbor",
        sampling_rate: float | None = None,
    ) -> Recording:
        """Simulate a series of steps (an f-I protocol) in one batch; one sweep per amplitude.

        Parameters
        ----------
        amplitudes_pa
            Step amplitudes in pA.
        delay_s, duration_s, tstop_s, backend, sampling_rate
            As in :meth:`simulate_step`.

        Returns
        -------
        Recording
            Sweeps numbered 0, 1, ... in the order of ``amplitudes_pa``; ``cell_id`` is the
            model's name.
        """
        from patchatlas.core.recording import Recording
        from patchatlas.models.biophys.protocols import long_square
        from patchatlas.models.biophys.simulation import simulate

        clamps = [long_square(a, delay_s=delay_s, duration_s=duration_s) for a in amplitudes_pa]
        sweeps = simulate(
            self, clamps, tstop_s=tstop_s, backend=backend, sampling_rate=sampling_rate
        )
        return Recording(
            sweeps, cell_id=self.name or "model", format=f"model-{backend}", metadata=self.info()
        )

    def info(self) -> dict[str, Any]:
        """A JSON-friendly summary (name, kind, source, geometry, conditions, parameters).

        Returns
        -------
        dict
            What the atlas stores as the model's provenance and parameters.
        """
        from patchatlas.models.biophys.geometry import describe

        c = self.conditions
        return {
            "name": self.name,
            "kind": self.kind,
            "source": self.source,
            "geometry": describe(self.geometry),
            "conditions": {
                "celsius": c.celsius,
                "v_init": c.v_init,
                "junction_potential": c.junction_potential,
                "reversal": {g: dict(v) for g, v in c.reversal.items()},
            },
            "dt_s": self.dt_s,
            "provenance": dict(self.provenance),
        }


def stimulus_of(obj: Any) -> Stimulus | None:
    """The core stimulus description of a clamp or sweep (None for a bare array).

    Parameters
    ----------
    obj
        A clamp, a sweep or an array.

    Returns
    -------
    Stimulus or None
        Its description.
    """
    return getattr(obj, "stimulus", None)
