"""Conductance-based point neurons and Allen-style protocols (the demo-data simulator).

The models are the single-compartment Hodgkin-Huxley-type cells of Pospischil et al. (2008,
*Biol Cybern* 99:427-441): Traub-Miles fast Na\\ :sup:`+` and delayed-rectifier K\\ :sup:`+`
currents with a threshold shift ``v_traub``, a slow non-inactivating K\\ :sup:`+` current
(M-current, Yamada et al. 1989) for spike-frequency adaptation, a low-threshold T-type Ca\\
:sup:`2+` current (Destexhe et al. 1998, as used by Pospischil et al.) for rebound bursts and an
L-type Ca\\ :sup:`2+` current (Reuveni et al. 1993, as used by Pospischil et al.) for intrinsic
bursting. An optional hyperpolarisation-activated cation current (HCN, Ih; Kole et al. 2006,
*J Neurosci* 26:1677) gives the sag of hyperpolarising steps. The equations are written from the
published papers. Ca\\ :sup:`2+` reversal is fixed (no Ca\\ :sup:`2+` concentration dynamics).

Integration is exponential Euler (every gate relaxes exactly towards its steady state over a step
at the voltage of the step's start; the membrane equation is integrated exactly with the
conductances of the step's start), on a fixed grid, with rate functions tabulated on a 0.02 mV
grid. All sweeps of a protocol (and all cells of a demo dataset) are integrated together: the
state is a ``(n_sweeps, n_gates)`` array and the Python loop runs only over time steps.

Noise: an Ornstein-Uhlenbeck current (default 4 pA SD, 5 ms correlation time) is injected, and
white recording noise (default 0.03 mV SD) is added to the recorded voltage.

Units follow the package: s, mV, pA, pF, nS (densities in mS/cm², areas in µm²).

Modules: :mod:`~patchatlas.models.pointneuron.neuron` (models and presets),
:mod:`~patchatlas.models.pointneuron.protocols` (command waveforms),
:mod:`~patchatlas.models.pointneuron.simulation` (entry points); the channel kinetics
(``_kinetics``) and the integrator loop (``_euler``) are internal.

Examples
--------
>>> from patchatlas.models.pointneuron import simulate_cell
>>> rec = simulate_cell("rs_pyramidal", seed=0)  # doctest: +SKIP
>>> rec.sweep_table()  # doctest: +SKIP
"""

from __future__ import annotations

from patchatlas.models.pointneuron.neuron import PRESETS, NeuronModel, get_model
from patchatlas.models.pointneuron.protocols import DEFAULT_TIMING, Protocol, protocol
from patchatlas.models.pointneuron.simulation import (
    DEFAULT_AMPLITUDES,
    noise_amplitudes,
    ramp_amplitude,
    simulate,
    simulate_cell,
    simulate_cells,
)

__all__ = [
    "DEFAULT_AMPLITUDES",
    "DEFAULT_TIMING",
    "PRESETS",
    "NeuronModel",
    "Protocol",
    "get_model",
    "noise_amplitudes",
    "protocol",
    "ramp_amplitude",
    "simulate",
    "simulate_cell",
    "simulate_cells",
]
