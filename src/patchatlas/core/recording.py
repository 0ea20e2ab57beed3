"""The electrophysiology data model: :class:`Recording` of :class:`Sweep` objects.

Units inside patchatlas: time in s, voltage in mV, current in pA, sampling rate in Hz. Readers
convert on the way in; nothing downstream converts again.

Arrays are plain numpy arrays, kept as the reader produced them (no copy). A sweep sampled on a
uniform grid stores only ``t0`` and ``sampling_rate``; :attr:`Sweep.t` is built on demand. A sweep
with non-uniform time stamps (text exports of variable-step simulations) stores its time vector.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from patchatlas.errors import DataError, IndexOutOfRangeError, ParameterError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = [
    "SWEEP_TABLE_COLUMNS",
    "ClampMode",
    "DeclaredStimulus",
    "Epoch",
    "PlausibilityFinding",
    "Recording",
    "Stimulus",
    "StimulusKind",
    "Sweep",
]

FloatArray = npt.NDArray[np.floating[Any]]

# Columns of :meth:`Recording.sweep_table` (also the sweep rows the atlas stores).
SWEEP_TABLE_COLUMNS: tuple[str, ...] = (
    "number",
    "clamp_mode",
    "kind",
    "amplitude_pa",
    "start_s",
    "end_s",
    "sampling_rate_hz",
    "duration_s",
    "stimulus_name",
)


class StimulusKind(StrEnum):
    """What a sweep's stimulus is, as far as feature extraction is concerned."""

    LONG_SQUARE = "long_square"
    SHORT_SQUARE = "short_square"
    RAMP = "ramp"
    NOISE = "noise"
    SQUARE_PULSE_TRAIN = "square_pulse_train"
    UNKNOWN = "unknown"


def _enum(cls: Any, value: Any, what: str) -> Any:
    """``cls(value)``, or a :class:`~patchatlas.errors.ParameterError` listing the choices."""
    try:
        return cls(value)
    except ValueError:
        choices = ", ".join(m.value for m in cls)
        raise ParameterError(f"unknown {what} {value!r}; use one of: {choices}") from None


class ClampMode(StrEnum):
    """Amplifier mode of a sweep."""

    CURRENT_CLAMP = "current_clamp"
    VOLTAGE_CLAMP = "voltage_clamp"


@dataclass(frozen=True, slots=True)
class Epoch:
    """One piece of a command waveform.

    Attributes
    ----------
    kind
        ``"step"``, ``"ramp"``, ``"pulse_train"``, ``"noise"`` or ``"test_pulse"``.
    start, end
        Window in s, from the start of the sweep; ``end`` is exclusive.
    amplitude
        Level relative to the holding current, in pA. For a ramp, the level reached at ``end``;
        for a pulse train, the pulse height; for noise, the RMS.
    slope
        pA/s for ramps, 0 otherwise.
    n_pulses
        Number of pulses of a pulse train (1 otherwise).
    """

    kind: str
    start: float
    end: float
    amplitude: float
    slope: float = 0.0
    n_pulses: int = 1

    @property
    def duration(self) -> float:
        """Length of the epoch in s."""
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class Stimulus:
    """The stimulus of one sweep: its kind, the primary epoch's amplitude and window, all epochs.

    ``start``/``end`` delimit the primary epoch, the one feature extraction uses (the step of a
    step protocol; the varying step when a protocol also has fixed pre-pulses). ``holding`` is the
    baseline command current in pA, which amplitudes are relative to.
    """

    kind: StimulusKind = StimulusKind.UNKNOWN
    amplitude: float = math.nan
    start: float = math.nan
    end: float = math.nan
    epochs: tuple[Epoch, ...] = ()
    holding: float = 0.0
    name: str | None = None
    source: str = "inferred"

    @property
    def duration(self) -> float:
        """Length of the primary epoch in s (NaN when unknown)."""
        return self.end - self.start

    def with_(self, **changes: Any) -> Stimulus:
        """Return a copy with some fields changed.

        Parameters
        ----------
        **changes
            Field name → new value (``kind=...``, ``amplitude=...`` in pA, ``start=``/``end=``
            in s ...).

        Returns
        -------
        Stimulus
            The new stimulus; the original is unchanged.
        """
        return replace(self, **changes)


@dataclass(frozen=True, slots=True)
class DeclaredStimulus:
    """What a file (or the user, when reading) *states* about a sweep's stimulus.

    Readers record it in :attr:`Sweep.declared` and leave :attr:`Sweep.stimulus` unresolved;
    :func:`patchatlas.ephys.resolve_stimuli` (called by :func:`patchatlas.read`) infers the
    stimulus from the command waveform and lets these statements override the inference.
    Numeric fields left NaN and ``kind=None`` state nothing.

    Attributes
    ----------
    origin
        What kind of statement this is:

        ``"name"``
            only ``kind``, implied by a stimulus name or code (Allen ``"Long Square"`` ...);
        ``"note"``
            ``epochs`` is the protocol as programmed (an Igor wave note): it defines the
            stimulus, and the inferred amplitude is kept as ``measured_amplitude_pa``;
        ``"user"``
            a window (``start``/``end``) given when reading;
        ``"file"``
            values a file stores verbatim (e.g. written by :func:`patchatlas.io.write_nwb`):
            every stated field wins, and ``name`` is applied even when None.
    kind
        Stimulus kind.
    amplitude, start, end, holding
        Primary-epoch amplitude (pA), window (s, sweep clock) and holding current (pA).
    name
        Stimulus name to report.
    epochs
        Programmed epochs (sweep clock), for ``origin="note"``.
    source
        The :attr:`Stimulus.source` to report (default: ``origin``).
    """

    origin: str = "file"
    kind: StimulusKind | None = None
    amplitude: float = math.nan
    start: float = math.nan
    end: float = math.nan
    holding: float = math.nan
    name: str | None = None
    epochs: tuple[Epoch, ...] = ()
    source: str | None = None


@dataclass(frozen=True, slots=True)
class PlausibilityFinding:
    """A reader's finding about whether a file's values can be what its header says they are.

    Readers check every recording after reading it (membrane voltage in a physiological range,
    currents neither absurdly large nor small, no all-NaN traces, ...; see
    :mod:`patchatlas.io`). Findings that leave the data usable are warnings, kept in
    :attr:`Recording.plausibility` (and stored with the recording by the ingest); findings that
    make the data meaningless make the reader raise instead.

    Attributes
    ----------
    check
        Stable name of the check (``"membrane_voltage_range"``, ``"current_scale"``,
        ``"all_nan"``, ``"command_unavailable"``, ``"channel_roles"`` ...).
    severity
        ``"warning"`` or ``"error"`` (an error is only kept when the user asked to read an
        implausible file anyway).
    message
        What was found, naming the file.
    sweeps
        Sweep numbers concerned (empty: the whole recording).
    """

    check: str
    severity: str
    message: str
    sweeps: tuple[int, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form.

        Returns
        -------
        dict
            ``check``, ``severity``, ``message`` and ``sweeps`` (a list of sweep numbers).
        """
        return {
            "check": self.check,
            "severity": self.severity,
            "message": self.message,
            "sweeps": list(self.sweeps),
        }


#: uniform time axes up to this many samples are cached (shared, read-only)
_GRID_CACHE_MAX_SAMPLES = 2_000_000


@lru_cache(maxsize=8)
def _time_grid(n: int, rate: float, t0: float) -> FloatArray:
    t = t0 + np.arange(n, dtype=np.float64) / rate
    t.flags.writeable = False
    return t


@dataclass(eq=False, slots=True)
class Sweep:
    """One sweep: a voltage trace, a current trace and what drove them.

    Parameters
    ----------
    v
        Membrane voltage in mV (current clamp: recorded; voltage clamp: command).
    i
        Current in pA (current clamp: the command, or the recorded current when no command is
        known; voltage clamp: recorded). ``None`` when the file has no current at all.
    sampling_rate
        Samples per second (Hz). For non-uniform sweeps, the median rate.
    number
        Sweep number as the acquisition software numbered it.
    clamp_mode
        :class:`ClampMode`.
    stimulus
        :class:`Stimulus` description (inferred or read).
    t0
        Time of the first sample in s.
    time
        Explicit time stamps in s, only for sweeps whose sampling is not uniform.
    i_recorded
        The recorded current in pA when a file holds both the command and the measured current.
    metadata
        Free-form per-sweep metadata (protocol name, gains, lab-notebook entries ...).
    declared
        What the file states about the stimulus (:class:`DeclaredStimulus`), resolved against
        the command waveform by :func:`patchatlas.ephys.resolve_stimuli`; None when it states
        nothing beyond the stimulus name.
    """

    v: FloatArray
    i: FloatArray | None
    sampling_rate: float
    number: int = 0
    clamp_mode: ClampMode = ClampMode.CURRENT_CLAMP
    stimulus: Stimulus = field(default_factory=Stimulus)
    t0: float = 0.0
    time: FloatArray | None = None
    i_recorded: FloatArray | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    declared: DeclaredStimulus | None = None

    def __post_init__(self) -> None:
        if self.v.ndim != 1:
            raise DataError(f"sweep {self.number}: v must be 1-D, got shape {self.v.shape}")
        n = self.v.shape[0]
        for name in ("i", "time", "i_recorded"):
            arr = getattr(self, name)
            if arr is not None and arr.shape != (n,):
                raise DataError(
                    f"sweep {self.number}: {name} has shape {arr.shape}, v has {(n,)}; "
                    "traces of one sweep must have equal length"
                )
        if not (math.isfinite(self.sampling_rate) and self.sampling_rate > 0):
            raise DataError(
                f"sweep {self.number}: sampling_rate must be a positive number of Hz, "
                f"got {self.sampling_rate!r}"
            )
        self.clamp_mode = ClampMode(self.clamp_mode)

    @property
    def n_samples(self) -> int:
        """Number of samples."""
        return int(self.v.shape[0])

    @property
    def dt(self) -> float:
        """Sampling interval in s (the median one for non-uniform sweeps)."""
        return 1.0 / self.sampling_rate

    @property
    def duration(self) -> float:
        """Length of the sweep in s."""
        if self.time is not None and self.n_samples:
            return float(self.time[-1] - self.time[0]) + self.dt
        return self.n_samples / self.sampling_rate

    @property
    def uniform(self) -> bool:
        """True when the sweep is sampled on a uniform grid."""
        return self.time is None

    @property
    def t(self) -> FloatArray:
        """Time stamps in s (float64, built from ``t0`` and the rate when uniform).

        Uniform axes are cached and shared between sweeps of the same length, rate and start,
        so they are read-only: copy before modifying (``sweep.t.copy()``).
        """
        if self.time is not None:
            return self.time
        n = self.n_samples
        if n <= _GRID_CACHE_MAX_SAMPLES:
            # the sweeps of a recording share one read-only axis (no fresh allocation and page
            # faults per access)
            return _time_grid(n, float(self.sampling_rate), float(self.t0))
        return self.t0 + np.arange(n, dtype=np.float64) / self.sampling_rate

    def index_of(self, time: float) -> int:
        """Index of the first sample at or after ``time`` (clipped to the sweep).

        Parameters
        ----------
        time
            Time in s, on the sweep's clock (the one of :attr:`t`).

        Returns
        -------
        int
            Sample index, between 0 and :attr:`n_samples` (``n_samples`` when ``time`` is
            after the last sample).
        """
        if self.time is not None:
            k = int(np.searchsorted(self.time, time, side="left"))
        else:
            k = math.ceil(round((time - self.t0) * self.sampling_rate, 9))
        return min(max(k, 0), self.n_samples)

    def __repr__(self) -> str:
        s = self.stimulus
        return (
            f"Sweep(number={self.number}, {self.clamp_mode.value}, {self.n_samples} samples at "
            f"{self.sampling_rate:g} Hz, stimulus={s.kind.value} {s.amplitude:g} pA "
            f"[{s.start:g}, {s.end:g}) s)"
        )


@dataclass(eq=False)
class Recording:
    """A cell's (or a file's) ordered sweeps plus cell and session metadata.

    Parameters
    ----------
    sweeps
        The sweeps, in acquisition order.
    cell_id
        Identifier of the cell (defaults to the file stem).
    source
        File the recording came from, if any.
    format
        Reader that produced it (``"abf2"``, ``"nwb2"``, ``"nwb1-allen"`` ...).
    metadata
        Cell and session metadata (species, subject, protocol, institution ...).
    plausibility
        The reader's plausibility findings (:class:`PlausibilityFinding`): empty when every
        check passed.
    """

    sweeps: list[Sweep]
    cell_id: str = ""
    source: Path | None = None
    format: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    plausibility: list[PlausibilityFinding] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.sweeps)

    def __iter__(self) -> Iterator[Sweep]:
        return iter(self.sweeps)

    def __getitem__(self, index: int) -> Sweep:
        n = len(self.sweeps)
        if not isinstance(index, int | np.integer) or isinstance(index, bool):
            raise ParameterError(
                f"recording {self.cell_id!r}: sweeps are addressed by position (an int), got "
                f"{type(index).__name__}; use rec.sweep(number) for a sweep number"
            )
        if not -n <= int(index) < n:
            raise IndexOutOfRangeError(
                f"recording {self.cell_id!r} has {n} sweeps; position {index} is out of range "
                "(rec.sweep(number) looks a sweep up by its acquisition number)"
            )
        return self.sweeps[int(index)]

    @property
    def sweep_numbers(self) -> list[int]:
        """Sweep numbers in order."""
        return [s.number for s in self.sweeps]

    def sweep(self, number: int) -> Sweep:
        """Return the sweep with acquisition number ``number``.

        Parameters
        ----------
        number
            The sweep's acquisition number (``Sweep.number``), not its position; use
            ``rec[k]`` for position ``k``.

        Returns
        -------
        Sweep
            The first sweep with that number.

        Raises
        ------
        patchatlas.errors.DataError
            No sweep has that number (the message lists the numbers there are).
        """
        for s in self.sweeps:
            if s.number == number:
                return s
        raise DataError(
            f"recording {self.cell_id!r} has no sweep number {number}; it has {self.sweep_numbers}"
        )

    def select(
        self,
        *,
        kind: StimulusKind | str | Sequence[StimulusKind | str] | None = None,
        clamp_mode: ClampMode | str | None = None,
    ) -> list[Sweep]:
        """Sweeps whose stimulus kind and clamp mode match.

        Parameters
        ----------
        kind
            A stimulus kind (``"long_square"``, :attr:`StimulusKind.RAMP` ...) or several;
            ``None`` keeps every kind.
        clamp_mode
            ``"current_clamp"`` or ``"voltage_clamp"`` (or a :class:`ClampMode`); ``None``
            keeps both.

        Returns
        -------
        list of Sweep
            The matching sweeps, in recording order.

        Raises
        ------
        patchatlas.errors.ParameterError
            An unknown kind or clamp mode (the message lists the choices).
        """
        kinds: set[str] | None = None
        if kind is not None:
            seq = [kind] if isinstance(kind, str) else list(kind)
            kinds = {_enum(StimulusKind, k, "kind").value for k in seq}
        mode = None if clamp_mode is None else _enum(ClampMode, clamp_mode, "clamp_mode")
        out = []
        for s in self.sweeps:
            if kinds is not None and s.stimulus.kind.value not in kinds:
                continue
            if mode is not None and s.clamp_mode != mode:
                continue
            out.append(s)
        return out

    def sweep_table(self) -> pd.DataFrame:
        """One row per sweep: number, clamp mode, kind, amplitude, window, rate, duration.

        Returns
        -------
        pandas.DataFrame
            Columns :data:`SWEEP_TABLE_COLUMNS`: ``number``, ``clamp_mode``, ``kind``,
            ``amplitude_pa`` (pA), ``start_s`` and ``end_s`` (the primary epoch, s),
            ``sampling_rate_hz`` (Hz), ``duration_s`` (s) and ``stimulus_name``.
        """
        import pandas as pd

        rows = [
            {
                "number": s.number,
                "clamp_mode": s.clamp_mode.value,
                "kind": s.stimulus.kind.value,
                "amplitude_pa": s.stimulus.amplitude,
                "start_s": s.stimulus.start,
                "end_s": s.stimulus.end,
                "sampling_rate_hz": s.sampling_rate,
                "duration_s": s.duration,
                "stimulus_name": s.stimulus.name or "",
            }
            for s in self.sweeps
        ]
        return pd.DataFrame(rows, columns=list(SWEEP_TABLE_COLUMNS))

    def __repr__(self) -> str:
        return (
            f"Recording({self.cell_id!r}, {len(self.sweeps)} sweeps, format={self.format!r}, "
            f"source={str(self.source) if self.source else None!r})"
        )
