"""Presynaptic stimulation: square pulses in the command, the spikes they evoke, probe protocols.

* :func:`find_pulses` reads the pulses of a current-clamp command (onset, duration, amplitude);
* :func:`detect_evoked_spikes` finds the spike each pulse evoked in the presynaptic voltage and
  returns its *time of maximal dV/dt*, the alignment point of every later step (Allen:
  ``first_spike_time``); a pulse that evoked no spike gets NaN;
* :func:`protocol` describes a train: induction frequency (Hz, rounded) and recovery delay (s,
  snapped to the Allen set 125, 250, 500, 1000, 2000, 4000 ms when within 5 ms).

The spike rule: within ``[onset + edge, min(offset + max_delay, next onset))`` (samples within
``edge`` of the pulse offset masked, where the command step leaves an artefact in dV/dt), the
largest dV/dt must exceed ``threshold`` (30 mV/ms) and the voltage must rise above
``min_peak`` (-20 mV) within 2 ms of it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from patchatlas.errors import DataError, ParameterError

__all__ = ["RECOVERY_DELAYS", "detect_evoked_spikes", "find_pulses", "protocol"]

FloatArray = npt.NDArray[np.float64]

#: recovery delays of the Allen probe protocol (s)
RECOVERY_DELAYS: tuple[float, ...] = (0.125, 0.25, 0.5, 1.0, 2.0, 4.0)


def find_pulses(
    command: npt.ArrayLike,
    dt: float,
    *,
    t0: float = 0.0,
    min_amplitude: float = 50.0,
    relative: float = 0.5,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Square depolarising pulses in a current command.

    A sample belongs to a pulse when the command exceeds its median by more than
    ``max(min_amplitude, relative * largest excursion)``; consecutive samples form one pulse.

    Parameters
    ----------
    command
        The command current (pA).
    dt
        Sampling interval (s).
    t0
        Time of the first sample (s).
    min_amplitude
        Smallest pulse height above the holding current (pA).
    relative
        Fraction of the largest excursion a pulse must reach (ignores small test pulses).

    Returns
    -------
    onsets, durations, amplitudes : numpy.ndarray
        Onset times (s), durations (s) and mean heights above the holding current (pA); empty
        when the command holds no pulse.
    """
    c = np.asarray(command, dtype=np.float64)
    if c.ndim != 1 or c.size < 2:
        raise DataError("find_pulses: the command must be a 1-D trace of at least 2 samples")
    if not dt > 0:
        raise ParameterError(f"find_pulses(dt={dt!r}): give the sampling interval in s")
    finite = np.isfinite(c)
    if not finite.any():
        empty = np.zeros(0)
        return empty, empty.copy(), empty.copy()
    base = float(np.median(c[finite]))
    d = np.where(finite, c - base, 0.0)
    top = float(d.max())
    level = max(float(min_amplitude), relative * top)
    if top <= level and top < min_amplitude:
        empty = np.zeros(0)
        return empty, empty.copy(), empty.copy()
    on = d > level
    edges = np.diff(on.astype(np.int8), prepend=0, append=0)
    starts = np.flatnonzero(edges == 1)
    stops = np.flatnonzero(edges == -1)
    sums = np.concatenate([[0.0], np.cumsum(d)])
    amps = np.asarray((sums[stops] - sums[starts]) / np.maximum(stops - starts, 1), np.float64)
    onsets = np.asarray(t0 + starts * dt, dtype=np.float64)
    return onsets, np.asarray((stops - starts) * dt, dtype=np.float64), amps


def detect_evoked_spikes(
    v: npt.ArrayLike,
    dt: float,
    onsets: Sequence[float] | FloatArray,
    durations: Sequence[float] | FloatArray | None = None,
    *,
    t0: float = 0.0,
    threshold: float = 30.0,
    edge: float = 0.4e-3,
    max_delay: float = 3e-3,
    min_peak: float | None = -20.0,
) -> FloatArray:
    """The spike each presynaptic pulse evoked: time of maximal dV/dt, NaN for none.

    Parameters
    ----------
    v
        Presynaptic membrane potential (mV), current clamp.
    dt
        Sampling interval (s).
    onsets
        Pulse onsets (s, same clock as ``t0``).
    durations
        Pulse durations (s); NaN or None: 2 ms.
    t0
        Time of the first sample of ``v`` (s).
    threshold
        Smallest peak dV/dt of a spike (mV/ms).
    edge
        Time masked after the onset and around the offset of the pulse (s).
    max_delay
        How long after the pulse offset a spike may start (s).
    min_peak
        The voltage must exceed this (mV) within 2 ms after the maximal slope (None: no check).

    Returns
    -------
    numpy.ndarray
        One spike time (s) per pulse, NaN where the pulse evoked no spike.
    """
    vv = np.asarray(v, dtype=np.float64)
    on = np.asarray(onsets, dtype=np.float64)
    n = on.size
    dur = np.full(n, 2e-3) if durations is None else np.asarray(durations, dtype=np.float64)
    dur = np.where(np.isfinite(dur) & (dur > 0), dur, 2e-3)
    out = np.full(n, np.nan)
    if n == 0 or vv.size < 3:
        return out
    slope = np.gradient(vv, dt) * 1e-3  # mV/ms
    slope = np.where(np.isfinite(slope), slope, -np.inf)
    nxt = np.append(on[1:], np.inf)
    for k in range(n):
        t_on, t_off = on[k], on[k] + dur[k]
        a = math.ceil((t_on + edge - t0) / dt)
        b = math.floor((min(t_off + max_delay, nxt[k]) - t0) / dt)
        a, b = max(a, 0), min(b, vv.size - 1)
        if b <= a:
            continue
        seg = slope[a:b].copy()
        idx = np.arange(a, b) * dt + t0
        seg[np.abs(idx - t_off) < edge] = -np.inf
        j = int(np.argmax(seg))
        if not seg[j] > threshold:
            continue
        i = a + j
        if min_peak is not None:
            stop = min(vv.size, i + max(1, round(2e-3 / dt)))
            if not np.nanmax(vv[i:stop]) > min_peak:
                continue
        out[k] = t0 + i * dt
    return out


def protocol(onsets: Sequence[float] | FloatArray) -> tuple[float, float]:
    """Induction frequency and recovery delay of a pulse train.

    Parameters
    ----------
    onsets
        Pulse onsets (s), increasing.

    Returns
    -------
    induction_frequency : float
        ``round(1 / (t2 - t1))`` (Hz); NaN for fewer than 2 pulses.
    recovery_delay : float
        The longest interval between pulses (s), snapped to :data:`RECOVERY_DELAYS` when within
        5 ms and rounded to 1 ms otherwise; NaN for fewer than 3 pulses or when the longest
        interval is not longer than the induction interval (a regular train).
    """
    on = np.asarray(onsets, dtype=np.float64)
    if on.size < 2:
        return math.nan, math.nan
    freq = float(round(1.0 / (on[1] - on[0])))
    if on.size < 3:
        return freq, math.nan
    gaps = np.diff(on)
    longest = float(gaps.max())
    if longest <= 1.5 * float(gaps[0]):
        return freq, math.nan
    for d in RECOVERY_DELAYS:
        if abs(longest - d) <= 5e-3:
            return freq, d
    return freq, round(longest, 3)
