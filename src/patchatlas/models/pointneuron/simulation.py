"""Simulation entry points: a command on models (:func:`simulate`), one cell's recording session
(:func:`simulate_cell`) or several cells in one batch (:func:`simulate_cells`)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

from patchatlas.core.recording import Recording, StimulusKind, Sweep
from patchatlas.errors import DataError
from patchatlas.models.pointneuron._euler import integrate
from patchatlas.models.pointneuron._kinetics import ss_current
from patchatlas.models.pointneuron.neuron import NeuronModel, get_model
from patchatlas.models.pointneuron.protocols import DEFAULT_TIMING, Protocol, protocol

FloatArray = npt.NDArray[np.float64]

__all__ = [
    "DEFAULT_AMPLITUDES",
    "noise_amplitudes",
    "ramp_amplitude",
    "simulate",
    "simulate_cell",
    "simulate_cells",
]


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
    res = integrate(
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
    return integrate(
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


#: Default amplitudes (pA) per protocol; ramp and noise levels are set per model (see
#: :func:`ramp_amplitude` and :func:`noise_amplitudes`).
DEFAULT_AMPLITUDES: dict[str, tuple[float, ...]] = {
    "long_square": tuple(float(a) for a in range(-110, 251, 20)),
    "short_square": tuple(float(a) for a in range(200, 1001, 100)),
}


def _fold_current(model: NeuronModel) -> float:
    """Top of the fold of the steady-state I-V above rest (pA): about the slow-ramp rheobase."""
    v = np.arange(model.resting_potential(), -20.0, 0.01)
    i = ss_current(model, v)
    down = np.flatnonzero(np.diff(i) < 0)
    return float(i[down[0]]) if down.size else float(i[np.argmin(np.abs(v + 50.0))])


def ramp_amplitude(model: NeuronModel | str, *, margin: float = 20.0) -> float:
    """Final level (pA) for a ramp that crosses the model's rheobase and then some.

    The slow-ramp rheobase of these models is close to the top of the fold of their
    steady-state I-V curve; the ramp ends ``margin`` pA above it, rounded up to 10 pA, so the
    sweep stops soon after firing starts (as Allen's acquisition stops ramps).

    Parameters
    ----------
    model
        A :class:`~patchatlas.models.pointneuron.NeuronModel` or a preset name.
    margin
        How far above the rheobase estimate the ramp ends, in pA.

    Returns
    -------
    float
        The ramp's final current in pA.

    Raises
    ------
    patchatlas.errors.DataError
        An unknown preset name.
    """
    fold = _fold_current(get_model(model))
    return float(math.ceil((fold + margin) / 10.0) * 10.0)


def noise_amplitudes(model: NeuronModel | str) -> tuple[float, ...]:
    """Mean levels (pA) for noise sweeps: 0.75, 1 and 1.5 × the slow-ramp rheobase estimate.

    These are the multiples of rheobase Allen's noise stimuli use, rounded to 10 pA.

    Parameters
    ----------
    model
        A :class:`~patchatlas.models.pointneuron.NeuronModel` or a preset name.

    Returns
    -------
    tuple of float
        The three mean currents in pA.

    Raises
    ------
    patchatlas.errors.DataError
        An unknown preset name.
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
        if k is None or k not in DEFAULT_TIMING:
            raise DataError(
                f"simulate_cell: protocol {p!r} is not simulated; use some of "
                f"{[x.value for x in DEFAULT_TIMING]}"
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
            "generator": "patchatlas.models.pointneuron",
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


def simulate_cells(
    models: Sequence[NeuronModel | str],
    *,
    seeds: Sequence[int],
    protocols: Sequence[str] = ("long_square", "short_square", "ramp"),
    amplitudes: Mapping[str, Sequence[float]] | None = None,
    sampling_rate: float = 50e3,
    dt: float = 2e-5,
) -> list[Recording]:
    """Simulate the recording sessions of several cells in one batch.

    All cells are integrated together, which is much faster than one :func:`simulate_cell` call
    per cell (the traces are statistically the same as :func:`simulate_cell`'s, not
    bit-identical: the batch shares its step sizes). Noise is at :func:`simulate`'s defaults.

    Parameters
    ----------
    models
        One preset name or :class:`~patchatlas.models.pointneuron.NeuronModel` per cell.
    seeds
        One noise seed per cell; cell ``k`` draws its noise from ``seeds[k]`` only.
    protocols, amplitudes, sampling_rate, dt
        As in :func:`simulate_cell`.

    Returns
    -------
    list of Recording
        One per model, in order, each as :func:`simulate_cell` describes it (``cell_id``
        ``"sim_<model>_s<seed>"``).

    Raises
    ------
    DataError
        When ``seeds`` does not give one seed per model, or for unknown presets or protocols.
    """
    ms = [get_model(m) for m in models]
    if len(seeds) != len(ms):
        raise DataError(
            f"simulate_cells: got {len(seeds)} seeds for {len(ms)} models; pass one seed per model"
        )
    if not ms:
        raise DataError("simulate_cells: no models given")
    cell_protos = [_cell_protocols(m, protocols, amplitudes, sampling_rate) for m in ms]
    all_protos = [p for ps in cell_protos for p in ps]
    rows = [sum(p.n_sweeps for p in ps) for ps in cell_protos]
    row_models = [m for m, n in zip(ms, rows, strict=True) for _ in range(n)]
    v = _simulate_groups(
        row_models,
        _stack(all_protos),
        groups=rows,
        seeds=list(seeds),
        sampling_rate=sampling_rate,
        dt=dt,
    )
    out = []
    r0 = 0
    noise = {"current_noise_pa": 4.0, "current_noise_tau_s": 5e-3, "recording_noise_mv": 0.03}
    for m, ps, n, s in zip(ms, cell_protos, rows, seeds, strict=True):
        out.append(_recording(m, ps, v[r0 : r0 + n], seed=s, dt=dt, noise=noise))
        r0 += n
    return out
