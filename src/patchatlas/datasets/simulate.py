"""Conductance-based point neurons and Allen-style protocols: the demo-data simulator.

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

Examples
--------
>>> from patchatlas.datasets.simulate import simulate_cell
>>> rec = simulate_cell("rs_pyramidal", seed=0)  # doctest: +SKIP
>>> rec.sweep_table()  # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.special import exprel

from patchatlas.core.recording import Epoch, Recording, Stimulus, StimulusKind, Sweep
from patchatlas.errors import DataError

__all__ = [
    "DEFAULT_AMPLITUDES",
    "PRESETS",
    "NeuronModel",
    "Protocol",
    "demo_dataset",
    "get_model",
    "noise_amplitudes",
    "protocol",
    "ramp_amplitude",
    "simulate",
    "simulate_cell",
]

FloatArray = npt.NDArray[np.float64]

# Voltage grid of the rate tables (mV).
_V_MIN = -200.0
_V_MAX = 120.0
_DV = 0.02
# Multirate integration: when every sweep is below its model's v_traub + _SLOW_ABOVE_TRAUB mV
# (subthreshold), changes by less than _SLOW_MAX_RATE mV/ms, and the command is constant, one
# step covers _SLOW_BLOCK samples.
_SLOW_BLOCK = 5
_SLOW_ABOVE_TRAUB = 5.0
_SLOW_MAX_RATE = 0.3


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
        """Convert a density (mS/cm²) on this cell's area to nS."""
        return density * self.area_um2 * 1e-2

    def with_(self, **changes: Any) -> NeuronModel:
        """Return a copy with some parameters changed."""
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """All parameters as a plain dict (for metadata and provenance)."""
        return asdict(self)

    def resting_potential(self) -> float:
        """Steady-state resting potential (mV) without injected current."""
        return float(_rest_potentials([self])[0])

    def input_resistance(self) -> float:
        """Steady-state input resistance at rest (MΩ): 1 / slope of the steady-state I-V."""
        v0 = self.resting_potential()
        i = _ss_current(self, np.array([v0 - 0.5, v0 + 0.5]))
        return float(1e3 / (i[1] - i[0]))

    def membrane_time_constant(self) -> float:
        """Membrane time constant at rest (s): capacitance / total chord conductance at rest.

        This is the time constant of small, fast voltage changes (gates frozen at rest); slow
        gates (Ih, M-current) add slower components to step responses.
        """
        v0 = self.resting_potential()
        g = _ss_conductance(self, np.array([v0]))[0]
        return float(self.capacitance_pf / g * 1e-3)

    def ground_truth(self) -> dict[str, float]:
        """Passive properties at rest, for checking feature extraction on simulated data."""
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

    Raises
    ------
    DataError
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


# --------------------------------------------------------------------------------------------
# Rate functions (ms⁻¹ and ms, V in mV) as published
# --------------------------------------------------------------------------------------------


def _ab(x_over_y: FloatArray, k: float, y: float) -> FloatArray:
    """k·x / (exp(x/y) − 1) written as k·y / exprel(x/y) (no 0/0 at x = 0)."""
    return np.asarray(k * y / exprel(x_over_y), dtype=np.float64)


def _gates(model: NeuronModel, v: FloatArray) -> dict[str, tuple[FloatArray, FloatArray]]:
    """Steady state and time constant (ms) of every gate on the voltage grid ``v``."""
    v2 = v - model.v_traub
    out: dict[str, tuple[FloatArray, FloatArray]] = {}

    def ab(a: FloatArray, b: FloatArray) -> tuple[FloatArray, FloatArray]:
        s = a + b
        return a / s, 1.0 / s

    # Traub-Miles Na (m^3 h) and K delayed rectifier (n^4), Pospischil et al. 2008 eqs. 3-6.
    out["m"] = ab(_ab((13.0 - v2) / 4.0, 0.32, 4.0), _ab((v2 - 40.0) / 5.0, 0.28, 5.0))
    out["h"] = ab(0.128 * np.exp((17.0 - v2) / 18.0), 4.0 / (1.0 + np.exp((40.0 - v2) / 5.0)))
    out["n"] = ab(_ab((15.0 - v2) / 5.0, 0.032, 5.0), 0.5 * np.exp((10.0 - v2) / 40.0))
    # M-current (p), eqs. 7-8.
    vm = v + 35.0
    out["p"] = (
        1.0 / (1.0 + np.exp(-vm / 10.0)),
        model.tau_max_m / (3.3 * np.exp(vm / 20.0) + np.exp(-vm / 20.0)),
    )
    # T-type Ca (s_inf^2 u), Vx = 2 mV, eqs. 11-13; s is instantaneous.
    vx = v + 2.0
    out["s"] = (1.0 / (1.0 + np.exp(-(vx + 57.0) / 6.2)), np.zeros_like(v))
    out["u"] = (
        1.0 / (1.0 + np.exp((vx + 81.0) / 4.0)),
        (30.8 + (211.4 + np.exp((vx + 113.2) / 5.0)) / (1.0 + np.exp((vx + 84.0) / 3.2))) / 3.7,
    )
    # L-type Ca (q^2 r), eqs. 9-10.
    out["q"] = ab(_ab((-27.0 - v) / 3.8, 0.055, 3.8), 0.94 * np.exp((-75.0 - v) / 17.0))
    out["r"] = ab(
        0.000457 * np.exp((-13.0 - v) / 50.0), 0.0065 / (np.exp((-15.0 - v) / 28.0) + 1.0)
    )
    # HCN (Kole, Hallermann & Stuart 2006).
    out["hcn"] = ab(_ab((v + 154.9) / 11.9, 0.00643, 11.9), 0.193 * np.exp(v / 33.1))
    return out


# Channel: (name, activation gate, its power, inactivation gate or None, conductance attribute,
# reversal attribute). "leak" has no gate.
_CHANNELS: tuple[tuple[str, str | None, int, str | None, str, str], ...] = (
    ("leak", None, 1, None, "g_leak", "e_leak"),
    ("na", "m", 3, "h", "g_na", "e_na"),
    ("kd", "n", 4, None, "g_kd", "e_k"),
    ("m", "p", 1, None, "g_m", "e_k"),
    ("t", "s", 2, "u", "g_t", "e_ca"),
    ("l", "q", 2, "r", "g_l", "e_ca"),
    ("h", "hcn", 1, None, "g_h", "e_h"),
)


def _channels_in(models: Sequence[NeuronModel]) -> list[int]:
    return [
        k for k, ch in enumerate(_CHANNELS) if k == 0 or any(getattr(m, ch[4]) > 0 for m in models)
    ]


def _tables(
    model: NeuronModel, chans: Sequence[int], v: FloatArray, dt_ms: float
) -> tuple[FloatArray, FloatArray]:
    """Steady states (nV, 2·nc) and decay factors exp(−dt/τ) (nV, 2·nc) of the gates.

    Columns: activation gates of the channels, then their inactivation gates (constant 1 for
    channels without inactivation and for the leak).
    """
    g = _gates(model, v)
    nc = len(chans)
    inf = np.ones((v.size, 2 * nc))
    dec = np.ones((v.size, 2 * nc))
    for c, k in enumerate(chans):
        _, act, _, inact, _, _ = _CHANNELS[k]
        for col, gate in ((c, act), (nc + c, inact)):
            if gate is None:
                continue
            x, tau = g[gate]
            inf[:, col] = x
            with np.errstate(divide="ignore", over="ignore"):
                dec[:, col] = np.where(tau > 0, np.exp(-dt_ms / np.maximum(tau, 1e-300)), 0.0)
    return inf, dec


def _ss_current(model: NeuronModel, v: FloatArray) -> FloatArray:
    """Steady-state membrane current (pA, outward positive) on the grid ``v``."""
    chans = _channels_in([model])
    inf, _ = _tables(model, chans, v, 0.01)
    nc = len(chans)
    total = np.zeros_like(v)
    for c, k in enumerate(chans):
        _, _, power, _, gattr, eattr = _CHANNELS[k]
        open_ = inf[:, c] ** power * inf[:, nc + c]
        total += model.conductance_ns(getattr(model, gattr)) * open_ * (v - getattr(model, eattr))
    return total


def _ss_conductance(model: NeuronModel, v: FloatArray) -> FloatArray:
    """Total steady-state chord conductance (nS) on the grid ``v``."""
    chans = _channels_in([model])
    inf, _ = _tables(model, chans, v, 0.01)
    nc = len(chans)
    total = np.zeros_like(v)
    for c, k in enumerate(chans):
        _, _, power, _, gattr, _ = _CHANNELS[k]
        total += model.conductance_ns(getattr(model, gattr)) * inf[:, c] ** power * inf[:, nc + c]
    return total


def _rest_potentials(models: Sequence[NeuronModel]) -> FloatArray:
    """Most hyperpolarised stable zero of the steady-state current for each model (mV)."""
    v = np.arange(_V_MIN, _V_MAX, 0.01)
    out = np.empty(len(models))
    for k, m in enumerate(models):
        i = _ss_current(m, v)
        up = np.flatnonzero((i[:-1] < 0) & (i[1:] >= 0))
        if up.size == 0:
            raise DataError(
                f"NeuronModel {m.name!r} has no stable resting potential in "
                f"[{_V_MIN}, {_V_MAX}] mV; check its reversal potentials and conductances"
            )
        j = int(up[0])
        out[k] = v[j] - i[j] * (v[j + 1] - v[j]) / (i[j + 1] - i[j])
    return out


# --------------------------------------------------------------------------------------------
# Integrator
# --------------------------------------------------------------------------------------------


def simulate(
    model: NeuronModel | str | Sequence[NeuronModel | str],
    command_pa: npt.ArrayLike,
    *,
    sampling_rate: float = 50e3,
    dt: float = 2e-5,
    seed: int | np.random.Generator | None = 0,
    current_noise_pa: float = 4.0,
    current_noise_tau: float = 5e-3,
    recording_noise_mv: float = 0.03,
    v_init: float | npt.ArrayLike | None = None,
    multirate: bool = True,
) -> FloatArray:
    """Integrate the membrane voltage of every sweep of a command at once.

    Parameters
    ----------
    model
        A :class:`NeuronModel` or preset name for all sweeps, or one per sweep (cells of
        different types are integrated in the same batch).
    command_pa
        Injected current in pA, shape ``(n_sweeps, n_samples)`` (or ``(n_samples,)``), one value
        per sample, held over the sample interval.
    sampling_rate
        Samples per second of the command and the returned voltage (Hz).
    dt
        Integration step in s; ``1 / sampling_rate`` must be a whole multiple of it. The default
        20 µs equals the 50 kHz sample interval; against a 5 µs reference it gives the same
        spike counts, with spike times drifting by < 1 ms over a 1 s train (see
        ``benchmarks/RESULTS-datasets.md``).
    seed
        Seed or generator of the current and recording noise.
    current_noise_pa, current_noise_tau
        Stationary SD (pA) and correlation time (s) of the Ornstein-Uhlenbeck current noise.
    recording_noise_mv
        SD of the white noise added to the recorded voltage (mV).
    v_init
        Initial voltage (mV); by default each model's resting potential, with all gates at
        their steady state.
    multirate
        While every sweep is below ``v_traub + 5`` mV and changes by less than 0.3 mV/ms, and
        the command is constant, take one step per 5 samples and interpolate the samples in
        between (about 4× faster on quiet stretches; spike times move by < 0.3 ms, ramp
        threshold crossings by ~1 ms, see ``benchmarks/RESULTS-datasets.md``). Set ``False``
        to integrate every sample at ``dt``.

    Returns
    -------
    numpy.ndarray
        Membrane voltage in mV, shape ``(n_sweeps, n_samples)``; sample ``j`` is the voltage at
        time ``j / sampling_rate``.

    Raises
    ------
    DataError
        On a malformed command, a ``dt`` that does not divide the sample interval, unknown
        models, or a voltage that leaves the tabulated range (-200 to 120 mV; a command far too
        large for the cell).
    """
    cmd = np.asarray(command_pa, dtype=np.float64)
    squeeze = cmd.ndim == 1
    if squeeze:
        cmd = cmd[None, :]
    if cmd.ndim != 2 or cmd.shape[1] < 1 or cmd.shape[0] < 1:
        raise DataError(
            f"simulate: command_pa must have shape (n_sweeps, n_samples), got {cmd.shape}"
        )
    if not np.all(np.isfinite(cmd)):
        raise DataError("simulate: command_pa contains NaN or infinite values")
    n, _n_samples = cmd.shape
    if isinstance(model, (NeuronModel, str)):
        models = [get_model(model)] * n
    else:
        models = [get_model(m) for m in model]
        if len(models) != n:
            raise DataError(
                f"simulate: got {len(models)} models for {n} sweeps; pass one model or one "
                "per sweep"
            )
    if not (math.isfinite(sampling_rate) and sampling_rate > 0):
        raise DataError(f"simulate: sampling_rate must be > 0 Hz, got {sampling_rate!r}")
    ratio = 1.0 / (sampling_rate * dt)
    sub = round(ratio)
    if not (dt > 0 and sub >= 1 and abs(ratio - sub) < 1e-6):
        raise DataError(
            f"simulate: the sample interval 1/{sampling_rate:g} s must be a whole multiple of "
            f"dt = {dt:g} s"
        )
    rngs = [seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)]
    res = _integrate(
        models,
        cmd,
        groups=[n],
        rngs=rngs,
        sub=sub,
        dt=dt,
        current_noise_pa=current_noise_pa,
        current_noise_tau=current_noise_tau,
        recording_noise_mv=recording_noise_mv,
        v_init=v_init,
        multirate=multirate,
    )
    return res[0] if squeeze else res


def _simulate_groups(
    models: Sequence[NeuronModel],
    cmd: FloatArray,
    *,
    groups: Sequence[int],
    seeds: Sequence[int],
    sampling_rate: float,
    dt: float,
) -> FloatArray:
    """Integrate rows in groups (cells) that each draw their noise from their own seed."""
    sub = round(1.0 / (sampling_rate * dt))
    return _integrate(
        models,
        cmd,
        groups=groups,
        rngs=[np.random.default_rng(s) for s in seeds],
        sub=sub,
        dt=dt,
        current_noise_pa=4.0,
        current_noise_tau=5e-3,
        recording_noise_mv=0.03,
        v_init=None,
    )


def _check_range(v: FloatArray, where: str) -> None:
    lo, hi = float(np.min(v)), float(np.max(v))
    if lo < _V_MIN + 1.0 or hi > _V_MAX - 1.0:
        raise DataError(
            f"simulate: the membrane voltage left [{_V_MIN:g}, {_V_MAX:g}] mV ({lo:.0f} to "
            f"{hi:.0f} mV) in {where}; reduce the injected current"
        )


def _integrate(
    models: Sequence[NeuronModel],
    cmd: FloatArray,
    *,
    groups: Sequence[int],
    rngs: Sequence[np.random.Generator],
    sub: int,
    dt: float,
    current_noise_pa: float,
    current_noise_tau: float,
    recording_noise_mv: float,
    v_init: float | npt.ArrayLike | None,
    multirate: bool = True,
) -> FloatArray:
    """The exponential-Euler loop; noise of row group g comes from ``rngs[g]``."""
    n, n_samples = cmd.shape
    dt_ms = dt * 1e3

    def draw(shape0: int) -> FloatArray:
        return np.concatenate(
            [r.standard_normal((shape0, g)) for r, g in zip(rngs, groups, strict=True)], axis=1
        )

    uniq: list[NeuronModel] = []
    row_model = np.empty(n, dtype=np.intp)
    for r, m in enumerate(models):
        if m not in uniq:
            uniq.append(m)
        row_model[r] = uniq.index(m)
    chans = _channels_in(uniq)
    nc = len(chans)
    vgrid = np.arange(_V_MIN, _V_MAX + _DV / 2, _DV)
    nv = vgrid.size
    two_nc = 2 * nc

    def stacked(step_ms: float) -> FloatArray:
        # One row per (model, voltage): [decay (2nc) | inf·(1 − decay) (2nc)], so that a gate
        # update is g ← g·decay + inf·(1 − decay): two in-place operations per step.
        parts = []
        for m in uniq:
            inf, dec_ = _tables(m, chans, vgrid, step_ms)
            parts.append(np.concatenate([dec_, inf * (1.0 - dec_)], axis=1))
        return np.concatenate(parts, axis=0)

    table = stacked(dt_ms)
    table_slow = stacked(dt_ms * sub * _SLOW_BLOCK)
    # Long (multirate) steps only while every row is below this voltage (mV), see _SLOW_*.
    v_slow = np.array([m.v_traub + _SLOW_ABOVE_TRAUB for m in uniq])[row_model]
    gbar_all = np.array(
        [[m.conductance_ns(getattr(m, _CHANNELS[k][4])) for k in chans] for m in uniq]
    )
    erev_all = np.array([[getattr(m, _CHANNELS[k][5]) for k in chans] for m in uniq])
    single = len(uniq) == 1
    if single:
        # One model: conductances and reversals fold into one (nc, 2) matrix, leak included.
        powers = np.array([_CHANNELS[k][2] for k in chans], dtype=np.float64)
        e_mat = np.stack([gbar_all[0], gbar_all[0] * erev_all[0]], axis=1)
        gbar = ge_rows = leak = np.zeros((n, 0))
        shared_e = True
        first = 0
    else:
        powers = np.array([_CHANNELS[k][2] for k in chans[1:]], dtype=np.float64)
        gbar = gbar_all[row_model, 1:]
        erev = erev_all[:, 1:]
        # Leak (column 0) is constant: its g and g·E are added as a (n, 2) array.
        leak = np.stack([gbar_all[:, 0], gbar_all[:, 0] * erev_all[:, 0]], axis=1)[row_model]
        shared_e = bool(np.all(erev == erev[:1]))
        e_mat = np.stack([np.ones(nc - 1), erev[0]], axis=1)  # (nc-1, 2)
        ge_rows = gbar if shared_e else gbar * erev_all[row_model, 1:]
        first = 1
    neg_dt_over_c = -dt_ms / np.array([m.capacitance_pf for m in uniq])[row_model]

    if v_init is None:
        v = _rest_potentials(uniq)[row_model]
    else:
        v = np.broadcast_to(np.asarray(v_init, dtype=np.float64), (n,)).copy()
    inv_dv = 1.0 / _DV
    _check_range(v, "v_init")
    # Table row of voltage v for row r: floor(v/dv + shift_r), shift_r = row offset + rounding.
    shift = (row_model * nv).astype(np.float64) - _V_MIN * inv_dv + 0.5
    idx = (v * inv_dv + shift).astype(np.intp)
    gates = np.concatenate([_tables(m, chans, vgrid, dt_ms)[0] for m in uniq], axis=0)[idx].copy()
    # Views into the gate state (kept valid by in-place updates); column 0/nc is the leak.
    act = gates[:, first:nc]
    inact = gates[:, nc + first :]

    # Ornstein-Uhlenbeck current noise, exact AR(1) discretisation on the dt grid, generated
    # chunk by chunk with a linear filter along time (no per-step Python work).
    from scipy.signal import lfilter

    ou_a = math.exp(-dt / current_noise_tau) if current_noise_tau > 0 else 0.0
    ou_b = current_noise_pa * math.sqrt(1.0 - ou_a * ou_a)
    x_last = draw(1)[0] * current_noise_pa
    out = np.empty((n_samples, n))
    # Chunks of samples share one block of pre-drawn noise; a whole number of slow blocks.
    chunk = max(_SLOW_BLOCK, (20000 // sub) // _SLOW_BLOCK * _SLOW_BLOCK)
    opn = np.empty((n, nc - first))
    gs = np.empty((n, 2))
    vinf = np.empty(n)
    dec = np.empty(n)
    vf = np.empty(n)
    row = np.empty((n, 2 * two_nc))
    row_dec = row[:, :two_nc]
    row_inf = row[:, two_nc:]

    def step(drive_now: FloatArray, tab: FloatArray, ndc: FloatArray) -> None:
        # Conductances from the gates at the step's start, then the exact solution of the
        # linear membrane equation over the step, then every gate relaxed at the new voltage.
        np.power(act, powers, out=opn)
        opn[...] *= inact
        if single:
            np.matmul(opn, e_mat, out=gs)
        else:
            if shared_e:
                opn[...] *= gbar
                np.matmul(opn, e_mat, out=gs)
            else:
                gs[:, 0] = np.einsum("ij,ij->i", opn, gbar)
                gs[:, 1] = np.einsum("ij,ij->i", opn, ge_rows)
            gs[...] += leak
        np.add(gs[:, 1], drive_now, out=vinf)
        vinf[...] /= gs[:, 0]
        np.multiply(gs[:, 0], ndc, out=dec)
        np.exp(dec, out=dec)
        v[...] -= vinf
        v[...] *= dec
        v[...] += vinf
        np.multiply(v, inv_dv, out=vf)
        vf[...] += shift
        idx[...] = vf
        # mode="clip" only guards the table's ends; voltages are range-checked per chunk.
        np.take(tab, idx, axis=0, out=row, mode="clip")
        gates[...] *= row_dec
        gates[...] += row_inf

    kb = _SLOW_BLOCK
    # Largest change per sample (mV) that still counts as quiet: _SLOW_MAX_RATE mV/ms.
    max_dv = _SLOW_MAX_RATE * dt_ms * sub
    neg_slow_dt_over_c = neg_dt_over_c * (kb * sub)
    frac = (np.arange(kb, dtype=np.float64) / kb)[:, None]
    drive = np.empty((0, n))
    drive_blocks = np.empty((0, n))
    quiet_blocks = np.zeros(0, dtype=bool)
    m_ = 0
    j = 0
    while j < n_samples:
        jj = j % chunk
        if jj == 0:
            if j:
                _check_range(out[j - chunk : j], f"the sweeps at {j / (sub * dt):g} s")
            m_ = min(chunk, n_samples - j)
            if current_noise_pa > 0:
                xi = draw(m_ * sub) * ou_b
                xs, _ = lfilter([1.0], [1.0, -ou_a], xi, axis=0, zi=(ou_a * x_last)[None, :])
                x_last = xs[-1].copy()
            else:
                xs = np.zeros((m_ * sub, n))
            c = cmd[:, j : j + m_].T
            drive = xs + np.repeat(c, sub, axis=0)
            nb = m_ // kb
            if multirate and nb:
                drive_blocks = drive[: nb * kb * sub].reshape(nb, kb * sub, n).mean(axis=1)
                cb = c[: nb * kb].reshape(nb, kb, n)
                quiet_blocks = np.all(np.ptp(cb, axis=1) <= 0.5, axis=1)
            else:
                quiet_blocks = np.zeros(nb, dtype=bool)
        if (
            jj % kb == 0
            and jj + kb <= m_
            and quiet_blocks[jj // kb]
            and j > 0
            and np.all(v < v_slow)
            and np.all(np.abs(v - out[j - 1]) < max_dv)
        ):
            # Subthreshold everywhere and a constant command: one step over the whole block,
            # the samples in between interpolated linearly.
            v_old = v.copy()
            step(drive_blocks[jj // kb], table_slow, neg_slow_dt_over_c)
            out[j : j + kb] = v_old + (v - v_old) * frac
            j += kb
            continue
        out[j] = v
        base = jj * sub
        for s_ in range(sub):
            step(drive[base + s_], table, neg_dt_over_c)
        j += 1
    _check_range(out[max(0, n_samples - chunk) :], "the sweeps' end")
    res = np.ascontiguousarray(out.T)
    if recording_noise_mv > 0:
        res += draw(n_samples).T * recording_noise_mv
    return res


# --------------------------------------------------------------------------------------------
# Protocols
# --------------------------------------------------------------------------------------------

_PROTOCOL_NAMES = {
    StimulusKind.LONG_SQUARE: "Long Square",
    StimulusKind.SHORT_SQUARE: "Short Square",
    StimulusKind.RAMP: "Ramp",
    StimulusKind.NOISE: "Noise",
}

#: Default windows (s) per kind: stimulus start, stimulus duration, sweep duration.
_DEFAULT_TIMING = {
    StimulusKind.LONG_SQUARE: (1.02, 1.0, 3.0),
    StimulusKind.SHORT_SQUARE: (1.02, 3e-3, 1.5),
    StimulusKind.RAMP: (1.02, math.nan, math.nan),
    StimulusKind.NOISE: (1.02, 3.0, 4.5),
}


@dataclass(frozen=True, slots=True)
class Protocol:
    """Command waveforms of one protocol and their stimulus descriptions.

    Attributes
    ----------
    name
        Allen-style stimulus name (``"Long Square"``, ``"Short Square"``, ``"Ramp"``).
    kind
        :class:`~patchatlas.core.recording.StimulusKind` of every sweep.
    command
        Injected current in pA, shape ``(n_sweeps, n_samples)``.
    stimuli
        One :class:`~patchatlas.core.recording.Stimulus` per sweep (``source="simulated"``).
    sampling_rate
        Hz.
    lengths
        Each sweep's own number of samples (ramps of different final levels differ in length;
        ``command`` is zero-padded to the longest).
    """

    name: str
    kind: StimulusKind
    command: FloatArray
    stimuli: tuple[Stimulus, ...]
    sampling_rate: float
    lengths: tuple[int, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.command.ndim != 2 or len(self.stimuli) != self.command.shape[0]:
            raise DataError(
                f"Protocol {self.name!r}: command must be (n_sweeps, n_samples) with one "
                f"stimulus per sweep; got {self.command.shape} and {len(self.stimuli)} stimuli"
            )
        if not self.lengths:
            object.__setattr__(self, "lengths", (self.command.shape[1],) * self.command.shape[0])
        elif (
            len(self.lengths) != self.command.shape[0] or max(self.lengths) > self.command.shape[1]
        ):
            raise DataError(
                f"Protocol {self.name!r}: lengths {self.lengths} do not fit a command of shape "
                f"{self.command.shape}"
            )

    @property
    def n_sweeps(self) -> int:
        """Number of sweeps."""
        return int(self.command.shape[0])


def protocol(
    kind: StimulusKind | str,
    amplitudes: Sequence[float] | npt.ArrayLike,
    *,
    sampling_rate: float = 50e3,
    start: float | None = None,
    duration: float | None = None,
    sweep_duration: float | None = None,
    ramp_slope: float = 25.0,
    ramp_tail: float = 0.5,
    noise_cv: float = 0.2,
    noise_band: tuple[float, float] = (1.0, 100.0),
    noise_seed: int = 0,
) -> Protocol:
    """Build the command waveforms of an Allen-style current-clamp protocol.

    Parameters
    ----------
    kind
        ``"long_square"`` (default 1 s step at 1.02 s in a 3 s sweep), ``"short_square"``
        (3 ms step at 1.02 s in a 1.5 s sweep), ``"ramp"`` (from 0 at 1.02 s, rising at
        ``ramp_slope``) or ``"noise"`` (3 s of pink noise at 1.02 s in a 4.5 s sweep).
    amplitudes
        One amplitude per sweep in pA: the step level; for a ramp the level reached at its end
        (the Allen convention), which sets the ramp's duration; for noise the mean level, around
        which the noise has SD ``noise_cv · amplitude`` (the description's amplitude is then
        the RMS about 0 pA, as for inferred noise epochs).
    sampling_rate
        Hz.
    start, duration, sweep_duration
        Override the stimulus start (s), stimulus duration (s; not for ramps) and sweep length
        (s). Sweeps of a ramp protocol last ``start + amplitude / ramp_slope + ramp_tail``
        unless ``sweep_duration`` is given; the command is then zero-padded to the longest.
    ramp_slope, ramp_tail
        Ramp rate (pA/s) and the time recorded after the ramp ends (s).
    noise_cv, noise_band, noise_seed
        Noise SD relative to the mean level, its band (Hz; power ∝ 1/f inside it) and the seed
        of the waveform, which is the same for every sweep (as Allen's noise stimuli).

    Returns
    -------
    Protocol
        Commands (pA) plus one stimulus description per sweep. ``lengths`` gives each sweep's
        own number of samples (ramps of different amplitudes differ).

    Raises
    ------
    DataError
        For an unsupported kind, no amplitudes, non-finite values or windows outside the sweep.
    """
    try:
        k = StimulusKind(kind)
    except ValueError:
        k = None
    if k not in _DEFAULT_TIMING or k is None:
        raise DataError(
            f"protocol: kind {kind!r} is not simulated; use one of "
            f"{[x.value for x in _DEFAULT_TIMING]}"
        )
    amps = np.atleast_1d(np.asarray(amplitudes, dtype=np.float64))
    if amps.ndim != 1 or amps.size == 0 or not np.all(np.isfinite(amps)):
        raise DataError(
            f"protocol {k.value}: amplitudes must be a non-empty 1-D list of finite pA values, "
            f"got {amplitudes!r}"
        )
    if not (math.isfinite(sampling_rate) and sampling_rate > 0):
        raise DataError(f"protocol {k.value}: sampling_rate must be > 0 Hz, got {sampling_rate!r}")
    fs = float(sampling_rate)
    t_start, t_dur, t_sweep = _DEFAULT_TIMING[k]
    t_start = t_start if start is None else float(start)
    name = _PROTOCOL_NAMES[k]
    i0 = round(t_start * fs)
    if k is StimulusKind.RAMP:
        if not (ramp_slope > 0 and math.isfinite(ramp_slope)):
            raise DataError(f"protocol ramp: ramp_slope must be > 0 pA/s, got {ramp_slope!r}")
        if np.any(amps <= 0):
            raise DataError("protocol ramp: ramp amplitudes (final levels) must be > 0 pA")
        n_ramp = np.maximum(np.rint(amps / ramp_slope * fs).astype(np.int64), 1)
        lengths = i0 + n_ramp + round(ramp_tail * fs)
        if sweep_duration is not None:
            lengths = np.full_like(lengths, round(sweep_duration * fs))
        i1 = i0 + n_ramp
    else:
        if k is StimulusKind.NOISE and not (
            noise_cv > 0 and 0 < noise_band[0] < noise_band[1] < fs / 2
        ):
            raise DataError(
                f"protocol noise: need noise_cv > 0 and 0 < band < Nyquist, got {noise_cv!r}, "
                f"{noise_band!r}"
            )
        t_dur = t_dur if duration is None else float(duration)
        t_sweep = t_sweep if sweep_duration is None else float(sweep_duration)
        n_step = round(t_dur * fs)
        i1 = np.full(amps.size, i0 + n_step, dtype=np.int64)
        lengths = np.full(amps.size, round(t_sweep * fs), dtype=np.int64)
    if i0 < 1 or np.any(i1 <= i0) or np.any(i1 > lengths):
        raise DataError(
            f"protocol {k.value}: the stimulus window must start after the first sample and end "
            f"inside the sweep (start {t_start:g} s, sweep {lengths.max() / fs:g} s)"
        )
    command = np.zeros((amps.size, int(lengths.max())))
    stimuli = []
    for r, a in enumerate(amps):
        a_ = float(a)
        e = int(i1[r])
        if k is StimulusKind.RAMP:
            # Samples i0 .. e-1 rise by slope/fs each, from slope/fs to exactly the amplitude
            # (held over each sample interval); the described window is [i0, e) / fs.
            slope = a_ / (e - i0) * fs
            command[r, i0:e] = slope * (np.arange(1, e - i0 + 1) / fs)
            epoch = Epoch("ramp", i0 / fs, e / fs, a_, slope=slope)
        elif k is StimulusKind.NOISE:
            wave = a_ * (1.0 + noise_cv * _pink(e - i0, fs, noise_band, noise_seed))
            command[r, i0:e] = wave
            a_ = round(float(np.sqrt(np.mean(wave * wave))), 3)
            epoch = Epoch("noise", i0 / fs, e / fs, a_)
        else:
            command[r, i0:e] = a_
            epoch = Epoch("step", i0 / fs, e / fs, a_)
        stimuli.append(Stimulus(k, a_, i0 / fs, e / fs, (epoch,), 0.0, name, source="simulated"))
    return Protocol(name, k, command, tuple(stimuli), fs, tuple(int(x) for x in lengths))


def _pink(n: int, fs: float, band: tuple[float, float], seed: int) -> FloatArray:
    """Unit-SD noise of n samples with power ∝ 1/f inside ``band`` (Hz), zero outside."""
    rng = np.random.default_rng(seed)
    f = np.fft.rfftfreq(n, 1.0 / fs)
    spec = rng.standard_normal(f.size) + 1j * rng.standard_normal(f.size)
    inside = (f >= band[0]) & (f <= band[1])
    spec = np.where(inside, spec / np.sqrt(np.maximum(f, 1e-12)), 0.0)
    x = np.fft.irfft(spec, n)
    x -= x.mean()
    sd = float(x.std())
    return x / sd if sd > 0 else x


# --------------------------------------------------------------------------------------------
# Cells and the demo dataset
# --------------------------------------------------------------------------------------------

#: Default amplitudes (pA) per protocol; ramp and noise levels are set per model (see
#: :func:`ramp_amplitude` and :func:`noise_amplitudes`).
DEFAULT_AMPLITUDES: dict[str, tuple[float, ...]] = {
    "long_square": tuple(float(a) for a in range(-110, 251, 20)),
    "short_square": tuple(float(a) for a in range(200, 1001, 100)),
}


def _fold_current(model: NeuronModel) -> float:
    """Top of the fold of the steady-state I-V above rest (pA): about the slow-ramp rheobase."""
    v = np.arange(model.resting_potential(), -20.0, 0.01)
    i = _ss_current(model, v)
    down = np.flatnonzero(np.diff(i) < 0)
    return float(i[down[0]]) if down.size else float(i[np.argmin(np.abs(v + 50.0))])


def ramp_amplitude(model: NeuronModel | str, *, margin: float = 20.0) -> float:
    """Final level (pA) for a ramp that crosses the model's rheobase and then some.

    The slow-ramp rheobase of these models is close to the top of the fold of their
    steady-state I-V curve; the ramp ends ``margin`` pA above it, rounded up to 10 pA, so the
    sweep stops soon after firing starts (as Allen's acquisition stops ramps).
    """
    fold = _fold_current(get_model(model))
    return float(math.ceil((fold + margin) / 10.0) * 10.0)


def noise_amplitudes(model: NeuronModel | str) -> tuple[float, ...]:
    """Mean levels (pA) for noise sweeps: 0.75, 1 and 1.5 × the slow-ramp rheobase estimate.

    These are the multiples of rheobase Allen's noise stimuli use, rounded to 10 pA.
    """
    fold = _fold_current(get_model(model))
    return tuple(float(round(f * fold / 10.0) * 10.0) for f in (0.75, 1.0, 1.5))


def _cell_protocols(
    model: NeuronModel,
    protocols: Sequence[str],
    amplitudes: Mapping[str, Sequence[float]] | None,
    sampling_rate: float,
) -> list[Protocol]:
    out = []
    for p in protocols:
        k = StimulusKind(p) if p in {x.value for x in StimulusKind} else None
        if k is None or k not in _DEFAULT_TIMING:
            raise DataError(
                f"simulate_cell: protocol {p!r} is not simulated; use some of "
                f"{[x.value for x in _DEFAULT_TIMING]}"
            )
        if amplitudes is not None and p in amplitudes:
            amps: Sequence[float] = amplitudes[p]
        elif k is StimulusKind.RAMP:
            amps = [ramp_amplitude(model)]
        elif k is StimulusKind.NOISE:
            amps = noise_amplitudes(model)
        else:
            amps = DEFAULT_AMPLITUDES[p]
        out.append(protocol(k, amps, sampling_rate=sampling_rate))
    return out


def _recording(
    model: NeuronModel,
    protos: Sequence[Protocol],
    v: FloatArray,
    *,
    seed: int,
    dt: float,
    noise: Mapping[str, float],
) -> Recording:
    from patchatlas._version import __version__

    sweeps = []
    row = 0
    number = 1
    for p in protos:
        for r in range(p.n_sweeps):
            n = p.lengths[r]
            sweeps.append(
                Sweep(
                    v=v[row, :n].copy(),
                    i=p.command[r, :n].copy(),
                    sampling_rate=p.sampling_rate,
                    number=number,
                    stimulus=p.stimuli[r],
                    metadata={"protocol": p.name},
                )
            )
            row += 1
            number += 1
    return Recording(
        sweeps,
        cell_id=f"sim_{model.name}_s{seed}",
        format="simulated",
        metadata={
            "species": "synthetic",
            "model": model.name,
            "model_description": model.description,
            "model_parameters": model.to_dict(),
            "model_truth": model.ground_truth(),
            "seed": seed,
            "generator": "patchatlas.datasets.simulate",
            "patchatlas_version": __version__,
            "integration": {"method": "exponential Euler", "dt_s": dt},
            "noise": dict(noise),
            "reference": "Pospischil et al. 2008 Biol Cybern 99:427; Ih: Kole et al. 2006",
        },
    )


def _stack(protos: Sequence[Protocol]) -> FloatArray:
    n = max(p.command.shape[1] for p in protos)
    return np.concatenate(
        [np.pad(p.command, ((0, 0), (0, n - p.command.shape[1]))) for p in protos], axis=0
    )


def simulate_cell(
    model: NeuronModel | str,
    *,
    seed: int = 0,
    protocols: Sequence[str] = ("long_square", "short_square", "ramp"),
    amplitudes: Mapping[str, Sequence[float]] | None = None,
    sampling_rate: float = 50e3,
    dt: float = 2e-5,
    current_noise_pa: float = 4.0,
    current_noise_tau: float = 5e-3,
    recording_noise_mv: float = 0.03,
) -> Recording:
    """Simulate one cell's recording session.

    Parameters
    ----------
    model
        Preset name (see :data:`PRESETS`) or a :class:`NeuronModel`.
    seed
        Seed of the noise; the same seed gives the same recording.
    protocols
        Protocol kinds in acquisition order (``"long_square"``, ``"short_square"``,
        ``"ramp"``, ``"noise"``; noise is not in the default because its 3 s of changing
        command take fine steps throughout).
    amplitudes
        Amplitudes (pA) per protocol kind, overriding :data:`DEFAULT_AMPLITUDES` (and
        :func:`ramp_amplitude` for ramps).
    sampling_rate, dt, current_noise_pa, current_noise_tau, recording_noise_mv
        As in :func:`simulate`.

    Returns
    -------
    Recording
        Sweeps numbered from 1 in acquisition order, each with its command current and a
        ``source="simulated"`` stimulus description; cell metadata hold the model name and
        parameters, ``species="synthetic"`` and the seed.
    """
    m = get_model(model)
    protos = _cell_protocols(m, protocols, amplitudes, sampling_rate)
    if not protos:
        raise DataError("simulate_cell: no protocols given")
    noise = {
        "current_noise_pa": current_noise_pa,
        "current_noise_tau_s": current_noise_tau,
        "recording_noise_mv": recording_noise_mv,
    }
    v = simulate(
        m,
        _stack(protos),
        sampling_rate=sampling_rate,
        dt=dt,
        seed=seed,
        current_noise_pa=current_noise_pa,
        current_noise_tau=current_noise_tau,
        recording_noise_mv=recording_noise_mv,
    )
    return _recording(m, protos, v, seed=seed, dt=dt, noise=noise)


def demo_dataset(
    n_cells: int = 4,
    seed: int = 0,
    *,
    presets: Sequence[str] | None = None,
    protocols: Sequence[str] = ("long_square", "short_square", "ramp"),
    amplitudes: Mapping[str, Sequence[float]] | None = None,
    sampling_rate: float = 50e3,
    dt: float = 2e-5,
) -> list[Recording]:
    """Simulate a small dataset of cells of different firing types.

    Cell ``k`` uses preset ``presets[k % len(presets)]`` (default: all :data:`PRESETS` in
    order) and noise seed ``seed + k``. All cells are integrated in one batch, which is much
    faster than one :func:`simulate_cell` call per cell (the traces are statistically the
    same as :func:`simulate_cell`'s, not bit-identical: the batch shares its step sizes).
    ``amplitudes`` overrides the default amplitudes per protocol kind, as in
    :func:`simulate_cell`.

    Returns
    -------
    list of Recording
        One per cell, ``cell_id`` ``"sim_<preset>_s<seed>"``.
    """
    if n_cells < 1:
        raise DataError(f"demo_dataset: n_cells must be >= 1, got {n_cells}")
    names = list(presets) if presets is not None else list(PRESETS)
    if not names:
        raise DataError("demo_dataset: presets is empty")
    models = [get_model(names[k % len(names)]) for k in range(n_cells)]
    cell_protos = [_cell_protocols(m, protocols, amplitudes, sampling_rate) for m in models]
    all_protos = [p for ps in cell_protos for p in ps]
    rows = [sum(p.n_sweeps for p in ps) for ps in cell_protos]
    row_models = [m for m, n in zip(models, rows, strict=True) for _ in range(n)]
    seeds = [seed + k for k in range(n_cells)]
    v = _simulate_groups(
        row_models,
        _stack(all_protos),
        groups=rows,
        seeds=seeds,
        sampling_rate=sampling_rate,
        dt=dt,
    )
    out = []
    r0 = 0
    noise = {"current_noise_pa": 4.0, "current_noise_tau_s": 5e-3, "recording_noise_mv": 0.03}
    for m, ps, n, s in zip(models, cell_protos, rows, seeds, strict=True):
        out.append(_recording(m, ps, v[r0 : r0 + n], seed=s, dt=dt, noise=noise))
        r0 += n
    return out
