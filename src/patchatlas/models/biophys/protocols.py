"""Current-clamp protocols as piecewise-linear envelopes (what both simulators inject).

A :class:`CurrentClamp` is a list of ``(time, amplitude)`` breakpoints with linear interpolation
between them; a repeated time is a step (the later amplitude holds from that time on). Arbor's
``i_clamp`` envelope and NEURON's ``Vector.play`` (continuous) take the same list, so both
backends inject the same current. Each clamp also carries the
:class:`~patchatlas.core.Stimulus` that describes it, so a simulated sweep goes through
:func:`patchatlas.ephys.analyze` exactly like a recorded one.

Times in s, currents in pA (the backends convert to ms and nA).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from patchatlas.core.recording import Epoch, Stimulus, StimulusKind
from patchatlas.errors import DataError, ParameterError

__all__ = [
    "PROTOCOLS",
    "CurrentClamp",
    "from_waveform",
    "long_square",
    "parse_protocol",
    "ramp",
    "short_square",
]

FloatArray = npt.NDArray[np.float64]

#: the Allen short-square duration (s)
SHORT_SQUARE_S = 3e-3


@dataclass(frozen=True, eq=False)
class CurrentClamp:
    """A somatic current clamp.

    Attributes
    ----------
    times
        Breakpoint times in s (non-decreasing; a repeated time is a step).
    amplitudes
        Current at each breakpoint in pA (positive = depolarising); before the first breakpoint
        the current is 0, after the last it holds the last value.
    stimulus
        The core description (kind, amplitude, window, epochs) given to the simulated sweep.
    """

    times: FloatArray
    amplitudes: FloatArray
    stimulus: Stimulus

    def __post_init__(self) -> None:
        t, a = self.times, self.amplitudes
        if t.ndim != 1 or t.shape != a.shape or t.size == 0:
            raise DataError(
                f"current clamp: times and amplitudes must be equal-length 1-D arrays, got "
                f"{t.shape} and {a.shape}"
            )
        if not (np.all(np.isfinite(t)) and np.all(np.isfinite(a))):
            raise DataError("current clamp: times and amplitudes must be finite")
        if np.any(np.diff(t) < 0):
            raise DataError("current clamp: breakpoint times must not decrease")

    def at(self, t: npt.ArrayLike) -> FloatArray:
        """The injected current (pA) at times ``t`` (s), right-continuous at steps.

        Parameters
        ----------
        t
            Times in s.

        Returns
        -------
        numpy.ndarray
            Current in pA, same shape as ``t``.
        """
        tt = np.asarray(t, dtype=np.float64)
        times, amps = self.times, self.amplitudes
        k = np.searchsorted(times, tt, side="right") - 1
        before = k < 0
        k = np.clip(k, 0, len(times) - 1)
        k1 = np.minimum(k + 1, len(times) - 1)
        span = times[k1] - times[k]
        with np.errstate(invalid="ignore", divide="ignore"):
            frac = np.where(span > 0, (tt - times[k]) / span, 0.0)
        frac = np.clip(frac, 0.0, 1.0)
        out = amps[k] + frac * (amps[k1] - amps[k])
        out[before] = 0.0
        return out

    @property
    def end(self) -> float:
        """Time of the last breakpoint (s)."""
        return float(self.times[-1])


def _check_window(delay_s: float, duration_s: float, what: str) -> None:
    if not (math.isfinite(delay_s) and delay_s >= 0):
        raise ParameterError(f"{what}: delay_s must be >= 0 s, got {delay_s!r}")
    if not (math.isfinite(duration_s) and duration_s > 0):
        raise ParameterError(f"{what}: duration_s must be > 0 s, got {duration_s!r}")


def long_square(
    amplitude_pa: float, *, delay_s: float = 1.0, duration_s: float = 1.0
) -> CurrentClamp:
    """A step of ``amplitude_pa`` from ``delay_s`` for ``duration_s`` (Allen long square: 1 s).

    Parameters
    ----------
    amplitude_pa
        Step amplitude in pA.
    delay_s, duration_s
        Step onset and length in s.

    Returns
    -------
    CurrentClamp
        The step, described as a ``long_square`` stimulus.
    """
    return _square(amplitude_pa, delay_s, duration_s, StimulusKind.LONG_SQUARE, "Long Square")


def short_square(
    amplitude_pa: float, *, delay_s: float = 1.0, duration_s: float = SHORT_SQUARE_S
) -> CurrentClamp:
    """A brief step (Allen short square: 3 ms).

    Parameters
    ----------
    amplitude_pa
        Step amplitude in pA.
    delay_s, duration_s
        Step onset and length in s.

    Returns
    -------
    CurrentClamp
        The step, described as a ``short_square`` stimulus.
    """
    return _square(amplitude_pa, delay_s, duration_s, StimulusKind.SHORT_SQUARE, "Short Square")


def _square(amp: float, delay: float, dur: float, kind: StimulusKind, name: str) -> CurrentClamp:
    _check_window(delay, dur, name)
    if not math.isfinite(amp):
        raise ParameterError(f"{name}: amplitude must be a finite number of pA, got {amp!r}")
    end = delay + dur
    t = np.array([delay, delay, end, end], dtype=np.float64)
    a = np.array([0.0, amp, amp, 0.0], dtype=np.float64)
    stim = Stimulus(
        kind=kind,
        amplitude=float(amp),
        start=float(delay),
        end=float(end),
        epochs=(Epoch("step", float(delay), float(end), float(amp)),),
        name=name,
        source="model",
    )
    return CurrentClamp(t, a, stim)


def ramp(
    slope_pa_per_s: float = 25.0, *, delay_s: float = 1.0, duration_s: float = 10.0
) -> CurrentClamp:
    """A linear ramp from 0 pA at ``delay_s`` (Allen ramp: 25 pA/s).

    Parameters
    ----------
    slope_pa_per_s
        Ramp slope in pA/s.
    delay_s, duration_s
        Ramp onset and length in s; the current drops to 0 at the end.

    Returns
    -------
    CurrentClamp
        The ramp, described as a ``ramp`` stimulus.
    """
    _check_window(delay_s, duration_s, "ramp")
    end = delay_s + duration_s
    top = slope_pa_per_s * duration_s
    t = np.array([delay_s, end, end], dtype=np.float64)
    a = np.array([0.0, top, 0.0], dtype=np.float64)
    stim = Stimulus(
        kind=StimulusKind.RAMP,
        amplitude=float(top),
        start=float(delay_s),
        end=float(end),
        epochs=(Epoch("ramp", float(delay_s), float(end), float(top), float(slope_pa_per_s)),),
        name="Ramp",
        source="model",
    )
    return CurrentClamp(t, a, stim)


def from_waveform(
    current_pa: npt.ArrayLike,
    *,
    sampling_rate: float,
    stimulus: Stimulus | None = None,
    t0: float = 0.0,
) -> CurrentClamp:
    """An arbitrary current sampled at ``sampling_rate`` (held over each sample interval).

    Runs of equal samples are merged into one level, so a recorded step or pulse protocol
    becomes a handful of breakpoints; a noise waveform keeps one level per sample.

    Parameters
    ----------
    current_pa
        Current in pA, one value per sample.
    sampling_rate
        Samples per second (Hz).
    stimulus
        Its description (default: an ``unknown`` stimulus over the whole waveform).
    t0
        Time of the first sample in s.

    Returns
    -------
    CurrentClamp
        The waveform as breakpoints.
    """
    i = np.asarray(current_pa, dtype=np.float64)
    if i.ndim != 1 or i.size == 0:
        raise DataError(f"current waveform must be a non-empty 1-D array, got shape {i.shape}")
    if not np.all(np.isfinite(i)):
        raise DataError("current waveform contains NaN or infinite values")
    if not (math.isfinite(sampling_rate) and sampling_rate > 0):
        raise ParameterError(f"sampling_rate must be > 0 Hz, got {sampling_rate!r}")
    dt = 1.0 / sampling_rate
    change = np.flatnonzero(np.diff(i) != 0) + 1
    starts = np.concatenate([[0], change])
    levels = i[starts]
    ts = t0 + starts * dt
    # level j holds from T_j to T_{j+1}: breakpoints (T_0, L_0), (T_1, L_0), (T_1, L_1), ...
    # (T_end, L_last)
    t = np.concatenate([[ts[0]], np.repeat(ts[1:], 2), [t0 + i.size * dt]])
    a = np.repeat(levels, 2)
    stim = stimulus or Stimulus(
        kind=StimulusKind.UNKNOWN,
        start=float(t0),
        end=float(t0 + i.size * dt),
        name="waveform",
        source="model",
    )
    return CurrentClamp(t, a, stim)


#: protocol names :func:`parse_protocol` understands
PROTOCOLS = ("long_square", "short_square", "ramp")


def parse_protocol(spec: str, *, delay_s: float = 1.0) -> CurrentClamp:
    """A clamp from a text spec: ``long_square:AMP_pA``, ``short_square:AMP_pA``,
    ``ramp:SLOPE_pA_per_s``.

    Parameters
    ----------
    spec
        ``NAME:VALUE`` (the CLI's ``--protocol``).
    delay_s
        Onset in s.

    Returns
    -------
    CurrentClamp
        The protocol.

    Raises
    ------
    patchatlas.errors.ParameterError
        Unknown protocol name or a value that is not a number.
    """
    name, sep, value = spec.partition(":")
    name = name.strip().lower()
    if name not in PROTOCOLS or not sep:
        raise ParameterError(
            f"unknown protocol {spec!r}; use long_square:AMP_pA, short_square:AMP_pA or "
            "ramp:SLOPE_pA_per_s"
        )
    try:
        x = float(value.lower().removesuffix("pa/s").removesuffix("pa"))
    except ValueError:
        raise ParameterError(f"protocol {spec!r}: {value!r} is not a number") from None
    if name == "long_square":
        return long_square(x, delay_s=delay_s)
    if name == "short_square":
        return short_square(x, delay_s=delay_s)
    return ramp(x, delay_s=delay_s)
