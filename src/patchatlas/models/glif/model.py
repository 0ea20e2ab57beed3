"""GLIF models: :class:`GlifModel` (one parameter set) and :func:`simulate_many` (a batch).

Units: stimulus in pA, time in s, voltages in mV (absolute: E_L + the model's relative V).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from patchatlas._version import __version__
from patchatlas.errors import DataError, ParameterError
from patchatlas.models.glif import _backend
from patchatlas.models.glif._params import (
    LEVEL_NAMES,
    METHODS,
    P_V0,
    GlifParameters,
    Method,
    from_allen_dict,
    step_vector,
    step_vectors,
    to_allen_dict,
)

FloatArray = npt.NDArray[np.float64]

__all__ = ["GlifModel", "GlifSimulation", "simulate_many"]

#: spike-time buffer per simulation: at most one spike per this many samples
_SPIKE_BUFFER_SAMPLES = 4


def _stimulus(stimulus_pA: Any, where: str = "stimulus_pA") -> FloatArray:
    arr = np.ascontiguousarray(np.asarray(stimulus_pA, dtype=np.float64))
    if arr.ndim != 1:
        raise DataError(f"{where} must be 1-D (one value per time step, pA), got {arr.shape}")
    if arr.shape[0] < 2:
        raise DataError(f"{where} needs at least 2 samples, got {arr.shape[0]}")
    if not np.isfinite(arr).all():
        raise DataError(f"{where} holds NaN or inf; give a finite current in pA")
    return arr


def _check_dt(dt: float) -> float:
    dt = float(dt)
    if not (math.isfinite(dt) and dt > 0):
        raise ParameterError(f"dt must be a positive number of seconds, got {dt!r}")
    return dt


@dataclass(frozen=True)
class GlifSimulation:
    """The response of a GLIF model to a stimulus.

    Attributes
    ----------
    voltage
        Membrane potential (mV, absolute), one value per stimulus sample; ``voltage[k]`` is the
        state at ``t0 + k·dt`` (before sample ``k`` of the stimulus acts). NaN during spike cuts.
    threshold
        Total threshold Θ∞ + Θ_s + Θ_v (mV, absolute), NaN during spike cuts.
    spike_times
        Threshold crossings (s), linearly interpolated between samples.
    dt
        Time step (s).
    t0
        Time of the first sample (s).
    method
        ``"exact"`` or ``"euler"``.
    backend
        ``"numba"`` or ``"numpy"``.
    n_bad_resets
        Resets that left V above the threshold (the Allen simulator stops there; here the model
        spikes again at the next step).
    """

    voltage: FloatArray
    threshold: FloatArray
    spike_times: FloatArray
    dt: float
    t0: float
    method: str
    backend: str
    n_bad_resets: int = 0

    @property
    def t(self) -> FloatArray:
        """Sample times (s)."""
        return np.asarray(self.t0 + np.arange(self.voltage.shape[0]) * self.dt, dtype=np.float64)

    @property
    def n_spikes(self) -> int:
        """Number of spikes."""
        return int(self.spike_times.shape[0])


class GlifModel:
    """One generalized leaky integrate-and-fire model (Teeter et al. 2018, GLIF1–5).

    Parameters
    ----------
    parameters
        The model (:class:`GlifParameters`, library units: mV, pA, MΩ, pF, s).
    name
        A label (default ``"GLIF<level>"``).

    Examples
    --------
    >>> from patchatlas.io import read_glif_config  # doctest: +SKIP
    >>> model = GlifModel.from_allen_config(read_glif_config("566283540_neuron_config.json"))
    >>> sim = model.simulate(np.full(20000, 150.0), 5e-5)  # doctest: +SKIP
    """

    def __init__(self, parameters: GlifParameters, *, name: str | None = None) -> None:
        if not isinstance(parameters, GlifParameters):
            raise ParameterError(
                f"GlifModel takes GlifParameters, got {type(parameters).__name__}; use "
                "GlifModel.from_allen_config(config) for an Allen neuron_config"
            )
        self.parameters = parameters
        self.name = name or f"GLIF{parameters.level}"

    # construction ------------------------------------------------------------------------
    @classmethod
    def from_allen_config(
        cls, config: Mapping[str, Any], *, name: str | None = None, where: str = "config"
    ) -> GlifModel:
        """A model from an Allen ``neuron_config`` dict.

        The engine reads no files: get the dict from a ``*_neuron_config.json`` with
        :func:`patchatlas.io.read_glif_config` (which also accepts the download's
        ``{"<model id>": {...}}`` wrapping).

        Parameters
        ----------
        config
            The neuron_config (SI units, voltages relative to ``El_reference``).
        name
            Label (default: the model id when the config is wrapped under it, else ``GLIF<n>``).
        where
            The config's source, for error messages.

        Returns
        -------
        GlifModel
            The model at the config's level.

        Raises
        ------
        patchatlas.errors.ParameterError
            The dict is not a GLIF neuron_config (a biophysical fit, model metadata, missing
            fields) or its methods are none of the five levels.
        """
        if not isinstance(config, Mapping):
            raise ParameterError(
                f"{where}: from_allen_config takes the neuron_config as a dict, got "
                f"{type(config).__name__}; read a file with patchatlas.io.read_glif_config(path)"
            )
        cfg = dict(config)
        if name is None and len(cfg) == 1:
            (key,) = cfg
            name = str(key) if str(key).isdigit() else None
        params = from_allen_dict(cfg, where=where)
        return cls(params, name=name or f"GLIF{params.level}")

    def to_allen_config(self, *, dt: float = 5e-5) -> dict[str, Any]:
        """The model as an Allen ``neuron_config`` dict (what the Allen SDK reads).

        Parameters
        ----------
        dt
            The config's ``dt`` (s); the spike cut is stored in samples of it.

        Returns
        -------
        dict
            SI units, voltages relative to ``El_reference``, the optimised coefficients in
            ``coeffs``.
        """
        return to_allen_dict(self.parameters, dt=dt)

    # attributes ---------------------------------------------------------------------------
    @property
    def level(self) -> int:
        """1 … 5."""
        return self.parameters.level

    @property
    def level_name(self) -> str:
        """``"LIF"``, ``"LIF-R"``, ``"LIF-ASC"``, ``"LIF-R-ASC"`` or ``"LIF-R-ASC-A"``."""
        return LEVEL_NAMES[self.level]

    def __repr__(self) -> str:
        p = self.parameters
        return (
            f"GlifModel({self.name!r}, level={p.level} {LEVEL_NAMES[p.level]}, E_L={p.El:.1f} mV, "
            f"R={p.g and 1e3 / p.g:.1f} MΩ, C={p.capacitance:.1f} pF, Θ∞={p.threshold:.2f} mV)"
        )

    def provenance(self) -> dict[str, Any]:
        """Package version and the model's parameters (JSON-friendly).

        Returns
        -------
        dict
            ``package_version``, ``name``, ``level``, ``parameters``.
        """
        return {
            "package_version": __version__,
            "name": self.name,
            "level": self.level,
            "parameters": self.parameters.as_dict(),
        }

    # simulation ---------------------------------------------------------------------------
    def simulate(
        self,
        stimulus_pA: Any,
        dt: float,
        *,
        method: Method = "exact",
        t0: float = 0.0,
        v_init: float | None = None,
    ) -> GlifSimulation:
        """Simulate the model's response to an injected current.

        Parameters
        ----------
        stimulus_pA
            Injected current (pA), one value per time step, held constant over the step.
        dt
            Time step (s).
        method
            ``"exact"`` (exact exponential integration) or ``"euler"`` (the Allen simulator's
            forward-Euler scheme and spike-cut timing).
        t0
            Time of the first sample (s).
        v_init
            Initial membrane potential (mV, absolute); default the model's (E_L unless set).

        Returns
        -------
        GlifSimulation
            Voltage and threshold (mV), interpolated spike times (s).
        """
        stim = _stimulus(stimulus_pA)
        dt = _check_dt(dt)
        vec = step_vector(self.parameters, dt, method)
        if v_init is not None:
            vec[P_V0] = float(v_init) - self.parameters.El
        n = stim.shape[0]
        v = np.empty(n)
        th = np.empty(n)
        spikes = np.empty(n // _SPIKE_BUFFER_SAMPLES + 2)
        kern = _backend.kernel()
        backend = "numpy" if kern.__name__.endswith("_numpy") else "numba"
        ns, nb = kern.run(stim, vec, v, th, spikes, np.empty(0, dtype=np.int64))
        el = self.parameters.El
        return GlifSimulation(
            voltage=v + el,
            threshold=th + el,
            spike_times=t0 + spikes[: min(ns, spikes.shape[0])] * dt,
            dt=dt,
            t0=t0,
            method=method,
            backend=backend,
            n_bad_resets=int(nb),
        )

    def simulate_forced(
        self,
        stimulus_pA: Any,
        dt: float,
        spike_samples: Any,
        *,
        method: Method = "exact",
    ) -> tuple[FloatArray, FloatArray]:
        """The forced-spike paradigm: reset at the recorded spikes, not at model crossings.

        Parameters
        ----------
        stimulus_pA
            Injected current (pA) per step.
        dt
            Time step (s).
        spike_samples
            Sample indices of the recorded spikes (threshold crossings), sorted.
        method
            ``"exact"`` or ``"euler"``.

        Returns
        -------
        voltage, threshold : numpy.ndarray
            mV relative to E_L, NaN during the spike cuts.
        """
        stim = _stimulus(stimulus_pA)
        forced = np.asarray(spike_samples, dtype=np.int64)
        if forced.ndim != 1 or (forced.size > 1 and np.any(np.diff(forced) < 0)):
            raise DataError("spike_samples must be a sorted 1-D array of sample indices")
        vec = step_vector(self.parameters, _check_dt(dt), method)
        n = stim.shape[0]
        v, th = np.empty(n), np.empty(n)
        if forced.size == 0:  # no spike to force: a free run without the threshold
            vec = vec.copy()
            forced = np.array([n + 10], dtype=np.int64)
        spikes = np.empty(forced.shape[0] + 1)
        _backend.kernel().run(stim, vec, v, th, spikes, forced)
        return v, th


def simulate_many(
    models: Sequence[GlifModel] | Sequence[GlifParameters],
    stimulus_pA: Any,
    dt: float,
    *,
    method: Method = "exact",
    max_rate: float = 1000.0,
) -> list[FloatArray]:
    """Simulate many models at once (in parallel threads with numba): spike times only.

    Parameters
    ----------
    models
        The models (or their parameters).
    stimulus_pA
        One stimulus for all, shape ``(n,)``, or one per model, shape ``(len(models), n)`` (pA).
    dt
        Time step (s).
    method
        ``"exact"`` or ``"euler"``.
    max_rate
        Spike times kept per model: at most ``max_rate`` × duration (Hz); more are counted
        but dropped.

    Returns
    -------
    list of numpy.ndarray
        Spike times (s) of each model.
    """
    if method not in METHODS:
        raise ParameterError(f"method must be one of {METHODS}, got {method!r}")
    params = [m.parameters if isinstance(m, GlifModel) else m for m in models]
    if not params:
        return []
    stim = np.ascontiguousarray(np.asarray(stimulus_pA, dtype=np.float64))
    if stim.ndim == 1:
        stim = stim[None, :]
    if stim.ndim != 2 or stim.shape[0] not in (1, len(params)):
        raise DataError(
            f"stimulus_pA must be (n,) or ({len(params)}, n), got {np.shape(stimulus_pA)}"
        )
    if not np.isfinite(stim).all():
        raise DataError("stimulus_pA holds NaN or inf")
    dt = _check_dt(dt)
    vecs = step_vectors(params, dt, method)
    n = stim.shape[1]
    cap = max(4, math.ceil(max_rate * n * dt) + 2)
    spikes = np.empty((len(params), cap))
    counts = np.zeros(len(params), dtype=np.int64)
    bad = np.zeros(len(params), dtype=np.int64)
    _backend.kernel().run_many(stim, vecs, spikes, counts, bad)
    return [spikes[r, : min(int(counts[r]), cap)] * dt for r in range(len(params))]
