"""The multipatch (synaptic physiology) data model: an experiment of simultaneously patched cells.

A :class:`MultipatchExperiment` holds the cells patched together in one slice (each on an
electrode / headstage, with its position, layer and class), the *synchronous sweeps*
(:class:`SyncSweep`: one :class:`~patchatlas.core.recording.Sweep` per electrode, recorded at the
same time) and, per sweep, the presynaptic stimulation (:class:`PulseTrain`: which electrode was
stimulated, the pulse onsets, and the spikes the presynaptic cell fired). Every ordered pair of
cells (pre → post) is a candidate connection (:class:`CellPair`), with its intersomatic,
lateral and vertical distances.

Readers in :mod:`patchatlas.io` build these objects; the synaptic-physiology engine
(:mod:`patchatlas.synphys`) consumes them. Units: s, mV, pA, µm.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from patchatlas.core.recording import Sweep
from patchatlas.errors import DataError, IndexOutOfRangeError

__all__ = [
    "CellPair",
    "MultipatchCell",
    "MultipatchExperiment",
    "PulseTrain",
    "SyncSweep",
]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class MultipatchCell:
    """One patched cell of a multipatch experiment.

    Attributes
    ----------
    electrode
        Electrode / headstage id, unique within the experiment (``"1"``, ``"HS3"`` ...).
    cell_id
        Name of the cell in an atlas (default: ``"<experiment>/<electrode>"``, set by the
        experiment).
    position_um
        Soma position (x, y, z) in µm in the slice frame, or None when not recorded.
    pia_direction
        Unit vector pointing to the pia in the same frame (splits distances into lateral and
        vertical), or None.
    layer, cell_class, cre_line, t_type
        Annotations (cortical layer, class label such as ``"pv"`` / ``"gc"``, Cre line, t-type).
    depth_um
        Depth of the soma below the slice surface (µm), or NaN.
    metadata
        Anything else the file holds about the cell.
    """

    electrode: str
    cell_id: str = ""
    position_um: tuple[float, float, float] | None = None
    pia_direction: tuple[float, float, float] | None = None
    layer: str | None = None
    cell_class: str | None = None
    cre_line: str | None = None
    t_type: str | None = None
    depth_um: float = math.nan
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class PulseTrain:
    """The presynaptic stimulation of one electrode in one synchronous sweep.

    Attributes
    ----------
    electrode
        The stimulated electrode.
    onsets
        Pulse onset times (s, sweep clock), increasing.
    durations
        Pulse durations (s), one per onset (NaN where unknown).
    amplitudes
        Pulse amplitudes (pA, current clamp; mV, voltage clamp), one per onset.
    spike_times
        Time of the spike each pulse evoked (s; the alignment point downstream), NaN for a pulse
        that evoked none; None until spikes have been detected.
    """

    electrode: str
    onsets: FloatArray
    durations: FloatArray | None = None
    amplitudes: FloatArray | None = None
    spike_times: FloatArray | None = None

    def __post_init__(self) -> None:
        self.onsets = np.asarray(self.onsets, dtype=np.float64)
        if self.onsets.ndim != 1:
            raise DataError(f"pulse train on electrode {self.electrode}: onsets must be 1-D")
        if self.onsets.size > 1 and np.any(np.diff(self.onsets) <= 0):
            raise DataError(
                f"pulse train on electrode {self.electrode}: onsets must increase strictly"
            )
        n = self.onsets.size
        for name in ("durations", "amplitudes", "spike_times"):
            val = getattr(self, name)
            if val is None:
                continue
            arr = np.asarray(val, dtype=np.float64)
            if arr.shape != (n,):
                raise DataError(
                    f"pulse train on electrode {self.electrode}: {name} has shape {arr.shape}, "
                    f"expected ({n},) (one per pulse)"
                )
            setattr(self, name, arr)

    @property
    def n_pulses(self) -> int:
        """Number of pulses."""
        return int(self.onsets.size)

    @property
    def n_spikes(self) -> int:
        """Number of pulses that evoked a spike (0 before detection)."""
        if self.spike_times is None:
            return 0
        return int(np.isfinite(self.spike_times).sum())

    @property
    def induction_frequency(self) -> float:
        """Pulse rate of the first two pulses (Hz; NaN with fewer than two pulses)."""
        if self.onsets.size < 2:
            return math.nan
        return float(1.0 / (self.onsets[1] - self.onsets[0]))


@dataclass
class SyncSweep:
    """Sweeps recorded at the same time on several electrodes, plus the stimulation.

    Attributes
    ----------
    number
        Sweep number (shared by the electrodes).
    sweeps
        Electrode → its :class:`~patchatlas.core.recording.Sweep`.
    trains
        Electrode → the :class:`PulseTrain` delivered there (only stimulated electrodes).
    """

    number: int
    sweeps: dict[str, Sweep]
    trains: dict[str, PulseTrain] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = set(self.trains) - set(self.sweeps)
        if unknown:
            raise DataError(
                f"synchronous sweep {self.number}: pulse trains on electrodes {sorted(unknown)} "
                f"that recorded nothing (electrodes: {sorted(self.sweeps)})"
            )


@dataclass(frozen=True)
class CellPair:
    """An ordered pair of cells of one experiment: a candidate connection pre → post.

    Attributes
    ----------
    pre, post
        Electrodes of the presynaptic and postsynaptic cells.
    distance_um
        Intersomatic distance (µm; NaN without positions).
    lateral_distance_um, vertical_distance_um
        The distance split along the pia direction of the presynaptic cell (vertical) and across
        it (lateral); NaN without a pia direction.
    """

    pre: str
    post: str
    distance_um: float = math.nan
    lateral_distance_um: float = math.nan
    vertical_distance_um: float = math.nan


@dataclass
class MultipatchExperiment:
    """Cells patched together in one slice, their synchronous sweeps and stimulation.

    Parameters
    ----------
    name
        Experiment id (unique in an atlas).
    cells
        The patched cells (their electrodes must be unique).
    sweeps
        Synchronous sweeps, in acquisition order.
    species
        ``"mouse"``, ``"human"`` ...
    metadata
        Slice and session metadata (region, age, temperature, internal solution ...).
    source
        File the experiment was read from.
    """

    name: str
    cells: Sequence[MultipatchCell]
    sweeps: list[SyncSweep] = field(default_factory=list)
    species: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    source: str | None = None

    def __post_init__(self) -> None:
        seen: set[str] = set()
        named = []
        for c in self.cells:
            if c.electrode in seen:
                raise DataError(f"experiment {self.name!r}: electrode {c.electrode!r} used twice")
            seen.add(c.electrode)
            if not c.cell_id:
                c = MultipatchCell(**{**c.__dict__, "cell_id": f"{self.name}/{c.electrode}"})
            named.append(c)
        self.cells = tuple(named)
        for sw in self.sweeps:
            stray = set(sw.sweeps) - seen
            if stray:
                raise DataError(
                    f"experiment {self.name!r}: sweep {sw.number} has electrodes "
                    f"{sorted(stray)} without a cell"
                )

    @property
    def electrodes(self) -> list[str]:
        """Electrodes with a cell, in order."""
        return [c.electrode for c in self.cells]

    def cell(self, electrode: str) -> MultipatchCell:
        """The cell on ``electrode``.

        Parameters
        ----------
        electrode
            Electrode id.

        Returns
        -------
        MultipatchCell
        """
        for c in self.cells:
            if c.electrode == electrode:
                return c
        raise IndexOutOfRangeError(
            f"experiment {self.name!r} has no cell on electrode {electrode!r}; "
            f"electrodes: {self.electrodes}"
        )

    def __iter__(self) -> Iterator[SyncSweep]:
        return iter(self.sweeps)

    def __len__(self) -> int:
        return len(self.sweeps)

    def pairs(self) -> list[CellPair]:
        """Every ordered pair of distinct cells (pre → post) with its distances.

        Returns
        -------
        list of CellPair
            ``n * (n - 1)`` pairs for ``n`` cells, pre-major order.
        """
        out = []
        for a in self.cells:
            for b in self.cells:
                if a.electrode != b.electrode:
                    out.append(pair_distances(a, b))
        return out


def pair_distances(pre: MultipatchCell, post: MultipatchCell) -> CellPair:
    """The :class:`CellPair` of two cells with its distances (NaN where positions are missing).

    Parameters
    ----------
    pre, post
        The presynaptic and postsynaptic cells.

    Returns
    -------
    CellPair
        Intersomatic distance (µm); lateral and vertical components along the presynaptic
        cell's pia direction (the postsynaptic one's when the presynaptic cell has none).
    """
    if pre.position_um is None or post.position_um is None:
        return CellPair(pre.electrode, post.electrode)
    d = np.asarray(post.position_um, float) - np.asarray(pre.position_um, float)
    dist = float(np.linalg.norm(d))
    pia = pre.pia_direction or post.pia_direction
    if pia is None:
        return CellPair(pre.electrode, post.electrode, dist)
    u = np.asarray(pia, float)
    norm = float(np.linalg.norm(u))
    if norm == 0 or not math.isfinite(norm):
        return CellPair(pre.electrode, post.electrode, dist)
    vertical = abs(float(d @ (u / norm)))
    lateral = math.sqrt(max(dist * dist - vertical * vertical, 0.0))
    return CellPair(pre.electrode, post.electrode, dist, lateral, vertical)
