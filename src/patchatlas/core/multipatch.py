"""The multipatch (synaptic physiology) data model: an experiment of simultaneously patched cells.

A :class:`MultipatchExperiment` holds the cells patched together in one slice (each on an
electrode / headstage, with its position, layer and class), the *synchronous sweeps*
(:class:`SyncSweep`: one :class:`~patchatlas.core.recording.Sweep` per electrode, recorded at the
same time) and, per sweep, the presynaptic stimulation (:class:`PulseTrain`: which electrode was
stimulated, the pulse onsets, and the spikes the presynaptic cell fired). Every ordered pair of
cells (pre → post) is a candidate connection (:class:`CellPair`), with its intersomatic,
lateral and vertical distances. Connection calls made elsewhere (by an expert, or published as a
connection matrix) travel with the experiment as :class:`ConnectionCall` objects; an experiment
may consist of calls and distances only (no sweeps).

A headstage that recorded sweeps but holds no cell is kept (:attr:`MultipatchExperiment.
electrodes_without_cell`) rather than rejected: the analysis reports the pairs it would have
formed, and analyses the others.

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
    "ConnectionCall",
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

    @property
    def recovery_delay(self) -> float:
        """Longest interval between consecutive pulses (s): the recovery delay of an
        induction-recovery train (NaN with fewer than three pulses)."""
        if self.onsets.size < 3:
            return math.nan
        return float(np.max(np.diff(self.onsets)))


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
    start_time
        Start of the sweep on the experiment's clock (s; NaN when unknown). Needed to tell how
        long before a pulse the previous presynaptic spike was (resting-state responses).
    """

    number: int
    sweeps: dict[str, Sweep]
    trains: dict[str, PulseTrain] = field(default_factory=dict)
    start_time: float = math.nan

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


@dataclass(frozen=True)
class ConnectionCall:
    """A connection call for an ordered pair, made outside the analysis (e.g. by an expert).

    Calls carried by an experiment win over the automated call of :mod:`patchatlas.synphys`.

    Attributes
    ----------
    pre, post
        Electrodes of the presynaptic and postsynaptic cells.
    connected
        A chemical synapse pre → post (None: not called).
    synapse_type
        ``"ex"``, ``"in"`` or None (unknown / no synapse).
    electrical
        A gap junction between the two cells (None: not called).
    source
        Who made the call (``"manual"``, ``"published"``, ``"aisynphys"`` ...).
    """

    pre: str
    post: str
    connected: bool | None = None
    synapse_type: str | None = None
    electrical: bool | None = None
    source: str = "manual"

    def __post_init__(self) -> None:
        if self.synapse_type not in (None, "ex", "in"):
            raise DataError(
                f"connection call {self.pre}->{self.post}: synapse_type "
                f"{self.synapse_type!r} is not 'ex', 'in' or None"
            )
        if self.pre == self.post:
            raise DataError(f"connection call {self.pre}->{self.post}: a cell paired with itself")


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
    calls
        Connection calls made outside the analysis (:class:`ConnectionCall`); they win over
        automated calls.
    distances_um
        ``(pre, post) → distance`` (µm) for pairs whose cells have no positions (a published
        distance matrix); positions, when present, take precedence.

    Attributes
    ----------
    electrodes_without_cell
        Electrodes that recorded sweeps but hold no cell (sorted); their pairs are reported,
        not analysed.
    """

    name: str
    cells: Sequence[MultipatchCell]
    sweeps: list[SyncSweep] = field(default_factory=list)
    species: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    source: str | None = None
    calls: list[ConnectionCall] = field(default_factory=list)
    distances_um: dict[tuple[str, str], float] = field(default_factory=dict)

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
        stray: set[str] = set()
        for sw in self.sweeps:
            stray |= set(sw.sweeps) - seen
        self.electrodes_without_cell: list[str] = sorted(stray)
        for call in self.calls:
            missing = {call.pre, call.post} - seen
            if missing:
                raise DataError(
                    f"experiment {self.name!r}: connection call {call.pre}->{call.post} names "
                    f"electrodes {sorted(missing)} without a cell"
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
                    pair = pair_distances(a, b)
                    known = self.distances_um.get((a.electrode, b.electrode))
                    if math.isnan(pair.distance_um) and known is not None:
                        pair = CellPair(a.electrode, b.electrode, abs(float(known)))
                    out.append(pair)
        return out

    def call(self, pre: str, post: str) -> ConnectionCall | None:
        """The connection call carried for ``pre → post`` (the last one given), or None.

        Parameters
        ----------
        pre, post
            Electrodes.

        Returns
        -------
        ConnectionCall or None
        """
        found = None
        for c in self.calls:
            if c.pre == pre and c.post == post:
                found = c
        return found


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
