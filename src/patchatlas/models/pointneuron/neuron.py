"""Single-compartment conductance-based neuron models and the named presets."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from patchatlas.errors import DataError
from patchatlas.models.pointneuron._kinetics import rest_potentials, ss_conductance, ss_current

__all__ = ["PRESETS", "NeuronModel", "get_model"]


@dataclass(frozen=True, slots=True)
class NeuronModel:
    """Parameters of a single-compartment conductance-based neuron.

    Conductances are densities in mS/cm², the membrane area is in µm², the specific capacitance
    in µF/cm², potentials in mV and the M-current's peak time constant in ms (at 36 °C, the
    temperature of the published rate functions).

    Attributes
    ----------
    name
        Short identifier (the preset name for presets).
    description
        One line saying what the model is.
    area_um2, cm
        Membrane area and specific capacitance; ``C = cm · area``.
    g_leak, e_leak
        Leak conductance and reversal.
    g_na, g_kd, v_traub
        Traub-Miles Na⁺ and delayed-rectifier K⁺ conductances and their threshold shift.
    g_m, tau_max_m
        M-current conductance and its peak activation time constant (ms).
    g_t
        T-type Ca²⁺ conductance (rebound bursts).
    g_l
        L-type Ca²⁺ conductance (intrinsic bursts).
    g_h, e_h
        HCN (Ih) conductance and reversal (sag).
    e_na, e_k, e_ca
        Reversal potentials.
    """

    name: str = "custom"
    description: str = ""
    area_um2: float = 6000.0
    cm: float = 1.0
    g_leak: float = 0.09
    e_leak: float = -70.0
    g_na: float = 50.0
    g_kd: float = 5.0
    v_traub: float = -55.0
    g_m: float = 0.07
    tau_max_m: float = 1000.0
    g_t: float = 0.0
    g_l: float = 0.0
    g_h: float = 0.0
    e_na: float = 50.0
    e_k: float = -90.0
    e_ca: float = 120.0
    e_h: float = -45.0

    def __post_init__(self) -> None:
        for f in ("area_um2", "cm", "g_leak", "tau_max_m"):
            x = getattr(self, f)
            if not (math.isfinite(x) and x > 0):
                raise DataError(f"NeuronModel {self.name!r}: {f} must be > 0, got {x!r}")
        for f in ("g_na", "g_kd", "g_m", "g_t", "g_l", "g_h"):
            x = getattr(self, f)
            if not (math.isfinite(x) and x >= 0):
                raise DataError(f"NeuronModel {self.name!r}: {f} must be >= 0, got {x!r}")

    @property
    def capacitance_pf(self) -> float:
        """Membrane capacitance in pF."""
        return self.cm * self.area_um2 * 1e-2

    def conductance_ns(self, density: float) -> float:
        """Convert a density (mS/cm²) on this cell's area to nS.

        Parameters
        ----------
        density
            Conductance density in mS/cm² (``g_na``, ``g_leak`` ...).

        Returns
        -------
        float
            The cell's total conductance in nS (``density · area_um2 · 1e-2``).
        """
        return density * self.area_um2 * 1e-2

    def with_(self, **changes: Any) -> NeuronModel:
        """Return a copy with some parameters changed.

        Parameters
        ----------
        **changes
            Parameter name → new value (``g_m=0.0``, ``name="no_adaptation"`` ...), in the
            units of the attributes.

        Returns
        -------
        NeuronModel
            The new model; the original is unchanged.

        Raises
        ------
        patchatlas.errors.DataError
            A new value out of range (area, capacitance, leak or ``tau_max_m`` ≤ 0, a negative
            conductance).
        """
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """All parameters as a plain dict (for metadata and provenance).

        Returns
        -------
        dict
            Attribute name → value; ``NeuronModel(**d)`` rebuilds the model.
        """
        return asdict(self)

    def resting_potential(self) -> float:
        """Steady-state resting potential (mV) without injected current.

        Returns
        -------
        float
            The potential in mV where the total steady-state membrane current is zero.
        """
        return float(rest_potentials([self])[0])

    def input_resistance(self) -> float:
        """Steady-state input resistance at rest (MΩ): 1 / slope of the steady-state I-V.

        Returns
        -------
        float
            Input resistance in MΩ, from the steady-state currents at rest ± 0.5 mV.
        """
        v0 = self.resting_potential()
        i = ss_current(self, np.array([v0 - 0.5, v0 + 0.5]))
        return float(1e3 / (i[1] - i[0]))

    def membrane_time_constant(self) -> float:
        """Membrane time constant at rest (s): capacitance / total chord conductance at rest.

        This is the time constant of small, fast voltage changes (gates frozen at rest); slow
        gates (Ih, M-current) add slower components to step responses.

        Returns
        -------
        float
            The time constant in s.
        """
        v0 = self.resting_potential()
        g = ss_conductance(self, np.array([v0]))[0]
        return float(self.capacitance_pf / g * 1e-3)

    def ground_truth(self) -> dict[str, float]:
        """Passive properties at rest, for checking feature extraction on simulated data.

        Returns
        -------
        dict of str to float
            ``v_rest_mv`` (mV), ``input_resistance_mohm`` (MΩ), ``capacitance_pf`` (pF) and
            ``tau_s`` (s).
        """
        return {
            "v_rest_mv": self.resting_potential(),
            "input_resistance_mohm": self.input_resistance(),
            "capacitance_pf": self.capacitance_pf,
            "tau_s": self.membrane_time_constant(),
        }


PRESETS: dict[str, NeuronModel] = {
    "rs_pyramidal": NeuronModel(
        name="rs_pyramidal",
        description="regular-spiking pyramidal cell: M-current adaptation, Ih sag",
        area_um2=6200.0,
        g_leak=0.1,
        e_leak=-72.0,
        g_na=50.0,
        g_kd=5.0,
        v_traub=-55.0,
        g_m=0.07,
        tau_max_m=1000.0,
        g_h=0.1,
    ),
    "fs_interneuron": NeuronModel(
        name="fs_interneuron",
        description="fast-spiking interneuron: narrow spikes, high rates, no adaptation current",
        area_um2=3500.0,
        g_leak=0.25,
        e_leak=-70.0,
        g_na=50.0,
        g_kd=10.0,
        v_traub=-57.0,
        g_m=0.0,
    ),
    "lts_interneuron": NeuronModel(
        name="lts_interneuron",
        description="low-threshold-spiking cell: T-type Ca²⁺ current, rebound bursts",
        area_um2=5000.0,
        g_leak=0.08,
        e_leak=-75.0,
        g_na=50.0,
        g_kd=4.0,
        v_traub=-50.0,
        g_m=0.03,
        tau_max_m=4000.0,
        g_t=0.5,
        g_h=0.01,
    ),
    "ib_pyramidal": NeuronModel(
        name="ib_pyramidal",
        description="intrinsically bursting pyramidal cell: L-type Ca²⁺ current, initial burst",
        area_um2=7000.0,
        g_leak=0.07,
        e_leak=-75.0,
        g_na=50.0,
        g_kd=5.0,
        v_traub=-55.0,
        g_m=0.12,
        tau_max_m=400.0,
        g_l=0.14,
        g_h=0.03,
    ),
}
"""Named presets: four firing types of Pospischil et al. (2008), sized to patch-clamp values."""


def get_model(model: NeuronModel | str) -> NeuronModel:
    """Return ``model`` itself or the preset of that name.

    Parameters
    ----------
    model
        A :class:`NeuronModel`, or the name of one of :data:`PRESETS` (``"rs_pyramidal"``,
        ``"fs_interneuron"``, ``"lts_interneuron"``, ``"ib_pyramidal"``).

    Returns
    -------
    NeuronModel
        The model.

    Raises
    ------
    patchatlas.errors.DataError
        When a name is not a preset.
    """
    if isinstance(model, NeuronModel):
        return model
    try:
        return PRESETS[model]
    except KeyError:
        raise DataError(
            f"unknown neuron model preset {model!r}; choose one of {sorted(PRESETS)} "
            "or pass a NeuronModel"
        ) from None
