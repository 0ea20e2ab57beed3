"""Running models: stimuli in, core sweeps out, on Arbor (default) or NEURON.

:func:`simulate` is what :meth:`BiophysModel.simulate` calls; :func:`run_batch` is the batched
kernel of the fitting loop (many parameter sets × clamps in one call, raw soma voltage).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from patchatlas.core.recording import Stimulus, StimulusKind, Sweep
from patchatlas.errors import DataError, ParameterError
from patchatlas.models.biophys.model import BACKENDS
from patchatlas.models.biophys.protocols import CurrentClamp, from_waveform

if TYPE_CHECKING:  # pragma: no cover
    from patchatlas.models.biophys.model import BiophysModel

__all__ = ["backend_info", "run_batch", "simulate"]

FloatArray = npt.NDArray[np.float64]


def _backend(name: str) -> Any:
    if name == "arbor":
        from patchatlas.models.biophys import _arbor

        return _arbor
    if name == "neuron":
        from patchatlas.models.biophys import _neuron

        return _neuron
    raise ParameterError(f"unknown simulator backend {name!r}; use one of {BACKENDS}")


def backend_info() -> dict[str, dict[str, Any]]:
    """Which backends are installed, and their versions.

    Returns
    -------
    dict
        ``{"arbor": {"available": bool, "version": str | None}, "neuron": {...}}``.
    """
    out: dict[str, dict[str, Any]] = {}
    for name in BACKENDS:
        mod = _backend(name)
        ok = mod.available()
        out[name] = {"available": ok, "version": mod.version() if ok else None}
    return out


def run_batch(
    model: BiophysModel,
    parameter_sets: Sequence[Mapping[str, float] | None],
    clamps: Sequence[CurrentClamp],
    *,
    tstop_s: float,
    backend: str = "arbor",
    dt_s: float | None = None,
) -> FloatArray:
    """Soma voltage of every parameter set under every clamp (the fitting kernel).

    Parameters
    ----------
    model
        The model; each parameter set overrides some of its parameters (flat keys).
    parameter_sets
        One mapping (or None: the model as is) per cell to simulate.
    clamps
        Somatic current clamps.
    tstop_s
        Simulated time in s.
    backend
        ``"arbor"`` or ``"neuron"``.
    dt_s
        Integration step in s (default: the model's, 25 µs).

    Returns
    -------
    numpy.ndarray
        Voltage in mV before the junction potential, shape ``(K, S, n)``, sampled every ``dt``
        from 0 to ``tstop``.
    """
    dt = float(dt_s if dt_s is not None else model.dt_s)
    if not (math.isfinite(tstop_s) and tstop_s > 0):
        raise ParameterError(f"tstop_s must be > 0 s, got {tstop_s!r}")
    if not (math.isfinite(dt) and 0 < dt < tstop_s):
        raise ParameterError(f"dt_s must be > 0 and below tstop_s, got {dt!r}")
    if not parameter_sets or not clamps:
        return np.zeros((len(parameter_sets), len(clamps), 0))
    known = model.parameters
    for ps in parameter_sets:
        if ps:
            bad = [k for k in ps if k not in known]
            if bad:
                raise ParameterError(
                    f"{model.name or 'model'}: unknown parameter(s) {bad}; the model has: "
                    f"{', '.join(sorted(known))}"
                )
    mod = _backend(backend)
    v: FloatArray = mod.run(
        model, list(parameter_sets), list(clamps), tstop_ms=tstop_s * 1e3, dt_ms=dt * 1e3
    )
    return v


def _as_clamp(stim: Any, sampling_rate: float | None) -> tuple[CurrentClamp, float | None, float]:
    """(clamp, default output rate, default tstop) of a stimulus argument."""
    if isinstance(stim, CurrentClamp):
        return stim, None, stim.end
    if isinstance(stim, Sweep):
        if stim.i is None:
            raise DataError(f"sweep {stim.number}: it has no current trace to replay on the model")
        if not stim.uniform:
            raise DataError(f"sweep {stim.number}: only uniformly sampled sweeps can be replayed")
        desc = stim.stimulus if stim.stimulus.kind != StimulusKind.UNKNOWN else None
        clamp = from_waveform(
            stim.i,  # the whole command, holding current included (the cell received it)
            sampling_rate=stim.sampling_rate,
            stimulus=desc,
            t0=stim.t0,
        )
        return clamp, stim.sampling_rate, stim.t0 + (stim.n_samples - 1) / stim.sampling_rate
    try:
        arr = np.asarray(stim, dtype=np.float64)
    except (TypeError, ValueError):
        arr = np.zeros(0)
    if arr.ndim == 1 and arr.size:
        if sampling_rate is None:
            raise ParameterError(
                "simulate: an array stimulus needs sampling_rate= (samples per second)"
            )
        clamp = from_waveform(arr, sampling_rate=sampling_rate)
        return clamp, sampling_rate, (arr.size - 1) / sampling_rate
    raise ParameterError(
        "simulate: the stimulus must be a CurrentClamp (patchatlas.models.biophys.long_square "
        f"...), a Sweep to replay, or a 1-D array of pA; got {type(stim).__name__}"
    )


def simulate(
    model: BiophysModel,
    stimuli: Sequence[Any],
    *,
    sampling_rate: float | None = None,
    tstop_s: float | None = None,
    backend: str = "arbor",
    dt_s: float | None = None,
    first_number: int = 0,
) -> list[Sweep]:
    """Simulate stimuli on a model (one batch); one core sweep each.

    Parameters
    ----------
    model
        The model.
    stimuli
        Clamps, sweeps to replay, or arrays of pA (see :meth:`BiophysModel.simulate`).
    sampling_rate
        Output rate in Hz (default: a replayed sweep's rate, else ``1 / dt``).
    tstop_s
        Simulated time in s (default: the longest stimulus).
    backend
        ``"arbor"`` or ``"neuron"``.
    dt_s
        Integration step in s (default: the model's).
    first_number
        Sweep number of the first result.

    Returns
    -------
    list of Sweep
        Voltage in mV with the junction potential applied, the injected current in pA, each
        stimulus's description (``source="model"``).
    """
    if not stimuli:
        return []
    made = [_as_clamp(s, sampling_rate) for s in stimuli]
    clamps = [m[0] for m in made]
    dt = float(dt_s if dt_s is not None else model.dt_s)
    t_end = float(tstop_s) if tstop_s is not None else max(m[2] for m in made)
    v = run_batch(model, [None], clamps, tstop_s=t_end, backend=backend, dt_s=dt)[0]
    n_sim = v.shape[1]
    t_sim = np.arange(n_sim) * dt
    jp = model.conditions.junction_potential
    out = []
    for k, (clamp, rate0, _end) in enumerate(made):
        rate = sampling_rate or rate0 or 1.0 / dt
        if not (math.isfinite(rate) and rate > 0):
            raise ParameterError(f"sampling_rate must be > 0 Hz, got {rate!r}")
        n = math.floor(t_end * rate + 1e-9) + 1
        t = np.arange(n) / rate
        same_grid = abs(rate * dt - 1.0) < 1e-9 and n <= n_sim
        vk = v[k, :n] if same_grid else np.interp(t, t_sim, v[k])
        stim = clamp.stimulus
        if not isinstance(stim, Stimulus):  # pragma: no cover - defensive
            stim = Stimulus(source="model")
        out.append(
            Sweep(
                v=np.ascontiguousarray(vk - jp),
                i=clamp.at(t),
                sampling_rate=float(rate),
                number=first_number + k,
                stimulus=stim,
                metadata={
                    "model": model.name,
                    "model_kind": model.kind,
                    "backend": backend,
                    "dt_s": dt,
                    "junction_potential_mv": jp,
                },
            )
        )
    return out
