"""Allen-style current-clamp protocols: command waveforms and their stimulus descriptions."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from patchatlas.core.recording import Epoch, Stimulus, StimulusKind
from patchatlas.errors import DataError

FloatArray = npt.NDArray[np.float64]

__all__ = ["DEFAULT_TIMING", "Protocol", "protocol"]

_PROTOCOL_NAMES = {
    StimulusKind.LONG_SQUARE: "Long Square",
    StimulusKind.SHORT_SQUARE: "Short Square",
    StimulusKind.RAMP: "Ramp",
    StimulusKind.NOISE: "Noise",
}

#: Default windows (s) per kind: stimulus start, stimulus duration, sweep duration.
DEFAULT_TIMING = {
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
    if k not in DEFAULT_TIMING or k is None:
        raise DataError(
            f"protocol: kind {kind!r} is not simulated; use one of "
            f"{[x.value for x in DEFAULT_TIMING]}"
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
    t_start, t_dur, t_sweep = DEFAULT_TIMING[k]
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
