"""Synthetic recordings of known GLIF cells (ground truth for the fitting and the benchmarks).

:func:`synthetic_recording` drives a :class:`~patchatlas.models.glif.GlifModel` with
Allen-style protocols (long squares around rheobase, short squares around the short-square
threshold, and two pink-noise stimuli, "Noise 1" and "Noise 2", each repeated), adds an
Ornstein-Uhlenbeck input current (so repeats differ) and white recording noise, and paints a
spike waveform over each spike cut (a GLIF model has no spike shape; the painted spikes start at
the model's threshold crossing, peak at a jittered height and land on the model's reset value
at the end of the cut) so that the recording goes through the same spike detection as real data.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from patchatlas.core.recording import Recording, Stimulus, StimulusKind, Sweep
from patchatlas.errors import ParameterError
from patchatlas.models.glif.model import GlifModel

FloatArray = npt.NDArray[np.float64]

__all__ = ["rheobase", "synthetic_recording"]

#: long-square amplitudes relative to rheobase
STEP_FACTORS: tuple[float, ...] = (-0.6, -0.3, 0.4, 0.8, 1.15, 1.4, 1.7, 2.0, 2.4)


def rheobase(model: GlifModel) -> float:
    """The steady-state rheobase of a model (pA): the current whose steady V reaches Θ∞.

    Parameters
    ----------
    model
        The model.

    Returns
    -------
    float
        ``Θ∞ × g`` in pA.
    """
    p = model.parameters
    return p.threshold * p.g


def _ou(n: int, dt: float, sd: float, tau: float, rng: np.random.Generator) -> FloatArray:
    from scipy.signal import lfilter

    if sd <= 0:
        return np.zeros(n)
    a = math.exp(-dt / tau)
    white = rng.standard_normal(n) * sd * math.sqrt(1 - a * a)
    return np.asarray(lfilter([1.0], [1.0, -a], white))


def _pink(n: int, dt: float, rng: np.random.Generator) -> FloatArray:
    """Unit-variance 1/f noise between 1 and 100 Hz."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, dt)
    band = (f >= 1.0) & (f <= 100.0)
    spec[~band] = 0
    spec[band] /= np.sqrt(f[band])
    x = np.fft.irfft(spec, n)
    return np.asarray(x / x.std())


def _paint(
    v: FloatArray, sim_v: FloatArray, spikes: FloatArray, dt: float, rng: np.random.Generator
) -> None:
    """Spike waveforms over the NaN stretches of ``sim_v`` (in place in ``v``)."""
    nan = ~np.isfinite(sim_v)
    starts = np.flatnonzero(nan & ~np.roll(nan, 1))
    for s in starts:
        e = s
        while e < nan.shape[0] and nan[e]:
            e += 1
        v0 = v[s - 1] if s > 0 else v[0]
        v1 = sim_v[e] if e < sim_v.shape[0] else v0
        n = e - s
        peak = 25.0 + 5.0 * rng.standard_normal()
        trough = min(v0, v1) - 3.0 - 3.0 * abs(rng.standard_normal())
        t = np.arange(1, n + 1) * dt
        rise = min(4e-4, 0.3 * n * dt)
        fall = min(1.2e-3, 0.7 * n * dt)
        seg = np.empty(n)
        up = t <= rise
        seg[up] = v0 + (peak - v0) * t[up] / rise
        down = (t > rise) & (t <= rise + fall)
        seg[down] = peak + (trough - peak) * (t[down] - rise) / fall
        rest = t > rise + fall
        if rest.any():
            tail = t[rest] - rise - fall
            span = max(n * dt - rise - fall, dt)
            seg[rest] = trough + (v1 - trough) * tail / span
        v[s:e] = seg


def synthetic_recording(
    model: GlifModel,
    *,
    dt: float = 5e-5,
    steps: Sequence[float] = STEP_FACTORS,
    short_squares: int = 5,
    noise_repeats: int = 2,
    noise_duration: float = 3.0,
    input_noise_pa: float = 5.0,
    recording_noise_mv: float = 0.1,
    method: str = "exact",
    seed: int = 0,
    cell_id: str = "synthetic_glif",
) -> Recording:
    """Simulate a recording of a known GLIF cell under Allen-style protocols.

    Parameters
    ----------
    model
        The ground-truth model.
    dt
        Sampling interval (s).
    steps
        Long-square amplitudes as multiples of the rheobase (:func:`rheobase`); 1 s steps.
    short_squares
        Number of 3 ms short squares, 4 % apart around the short-square threshold (0: none).
    noise_repeats
        Repeats of each of "Noise 1" and "Noise 2" (0: no noise sweeps): three 1/3-long epochs
        of pink noise at 0.75, 1 and 1.5 × rheobase with a coefficient of variation of 0.2.
    noise_duration
        Length of the noise stimulus (s).
    input_noise_pa
        SD of an Ornstein-Uhlenbeck input current (5 ms correlation time; pA).
    recording_noise_mv
        SD of white noise added to the recorded voltage (mV).
    method
        Integration method of the ground truth.
    seed
        Random seed.
    cell_id
        The recording's cell id.

    Returns
    -------
    Recording
        Current-clamp sweeps with ``i`` the *command* (without the input noise) and ``v`` the
        response with spikes painted in; ``metadata["ground_truth"]`` holds the parameters.
    """
    if dt <= 0 or noise_repeats < 0 or short_squares < 0:
        raise ParameterError("synthetic_recording: dt > 0, noise_repeats >= 0, short_squares >= 0")
    rng = np.random.default_rng(seed)
    p = model.parameters
    rheo = rheobase(model)
    commands: list[tuple[FloatArray, Stimulus]] = []
    pre, step_len, post = 0.2, 1.0, 0.3
    n_step = round((pre + step_len + post) / dt)
    a, b = round(pre / dt), round((pre + step_len) / dt)
    for f in steps:
        cmd = np.zeros(n_step)
        cmd[a:b] = f * rheo
        commands.append(
            (
                cmd,
                Stimulus(
                    StimulusKind.LONG_SQUARE, f * rheo, pre, pre + step_len, name="Long Square"
                ),
            )
        )
    if short_squares:
        tau = p.tau_m
        i_ss = rheo / (1.0 - math.exp(-3e-3 / tau))
        n_ss = round(0.3 / dt)
        w = round(3e-3 / dt)
        for k in range(short_squares):
            amp = i_ss * (0.96 + 0.04 * k)
            cmd = np.zeros(n_ss)
            cmd[a // 2 : a // 2 + w] = amp
            commands.append(
                (
                    cmd,
                    Stimulus(
                        StimulusKind.SHORT_SQUARE,
                        amp,
                        a // 2 * dt,
                        (a // 2 + w) * dt,
                        name="Short Square",
                    ),
                )
            )
    if noise_repeats:
        n_noise = round(noise_duration / dt)
        lead = round(pre / dt)
        for label in ("Noise 1", "Noise 2"):
            third = n_noise // 3
            means = np.repeat([0.75, 1.0, 1.5], third)
            means = np.concatenate([means, np.full(n_noise - means.size, 1.5)])
            shape = means * rheo * (1.0 + 0.2 * _pink(n_noise, dt, rng))
            cmd = np.zeros(n_noise + 2 * lead)
            cmd[lead : lead + n_noise] = shape
            stim = Stimulus(
                StimulusKind.NOISE, float(rheo), lead * dt, (lead + n_noise) * dt, name=label
            )
            commands.extend((cmd, stim) for _ in range(noise_repeats))
    sweeps = []
    for num, (cmd, stim) in enumerate(commands):
        drive = cmd + _ou(cmd.shape[0], dt, input_noise_pa, 5e-3, rng)
        sim = model.simulate(drive, dt, method=method)  # type: ignore[arg-type]
        v = sim.voltage.copy()
        _paint(v, sim.voltage, sim.spike_times, dt, rng)
        v = v + recording_noise_mv * rng.standard_normal(v.shape[0])
        sweeps.append(
            Sweep(
                v=v,
                i=cmd.copy(),
                sampling_rate=1.0 / dt,
                number=num,
                stimulus=stim,
                metadata={"model_spike_times": sim.spike_times.tolist()},
            )
        )
    return Recording(
        sweeps=sweeps,
        cell_id=cell_id,
        format="synthetic",
        metadata={"ground_truth": p.as_dict(), "model": model.name},
    )
