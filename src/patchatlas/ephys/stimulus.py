"""Stimulus inference from the command waveform alone.

No ontology, no test-pulse assumption: a sweep's command current is cut into pieces that are
flat (steps), move at a constant rate (ramps) or move irregularly (noise); pieces away from the
holding level become :class:`~patchatlas.core.recording.Epoch` objects. Across the sweeps of one
protocol, epochs are aligned on their windows, so a step whose amplitude happens to be 0 pA in
one sweep still gets its window, and the *primary* epoch (the one feature extraction uses) is the
first window whose amplitude changes from sweep to sweep — which picks the test step over a fixed
pre-pulse. Allen stimulus names, when a file carries them, can override the kind through
:class:`StimulusOntology`.

Kind rules (documented thresholds, overridable through the keyword arguments):

* a step shorter than ``short_max`` (50 ms) is a ``short_square``; longer, a ``long_square``;
* at least two equal short steps at a regular interval make a ``square_pulse_train``;
* a piece moving at a constant rate for at least ``ramp_min`` (20 ms) is a ``ramp``; its
  amplitude is the level reached at its end (the Allen convention);
* a piece moving irregularly is ``noise`` (amplitude: RMS about the holding level);
* a short step that ends before another epoch starts, in the first 10 % of the sweep, is a
  ``test_pulse`` and is never primary.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from patchatlas.core.ontology import StimulusOntology, kind_from_name
from patchatlas.core.recording import (
    DeclaredStimulus,
    Epoch,
    Recording,
    Stimulus,
    StimulusKind,
    Sweep,
)

__all__ = [
    "StimulusOntology",
    "apply_names",
    "infer_epochs",
    "infer_recording_stimuli",
    "infer_stimulus",
    "kind_from_name",
    "resolve_stimuli",
    "stimulus_from_epochs",
]

_SHORT_MAX = 0.05
_RAMP_MIN = 0.02


@dataclass(frozen=True, slots=True)
class _Piece:
    start: int  # sample index, inclusive
    end: int  # sample index, exclusive
    kind: str  # "flat", "ramp", "noise"
    level: float  # flat: median level; ramp: level at end; noise: RMS about holding
    slope: float  # pA per sample for ramps


def _noise_sigma(d: npt.NDArray[np.float64]) -> float:
    """Robust per-sample noise of a trace from its first difference (MAD estimator)."""
    if d.size == 0:
        return 0.0
    med = float(np.median(d))
    return float(1.4826 * np.median(np.abs(d - med)) / math.sqrt(2.0))


def _holding_level(x: npt.NDArray[np.float64], tol: float) -> float:
    """The most common level of the trace (the holding current), robust to steps and ramps."""
    lo = float(np.min(x))
    bins = np.floor((x - lo) / tol).astype(np.int64)
    counts = np.bincount(bins)
    top = int(np.argmax(counts))
    sel = x[(bins >= top - 1) & (bins <= top + 1)]
    return float(np.median(sel))


def _pieces_clean(x: npt.NDArray[np.float64], tol: float, rel_eps: float) -> list[_Piece]:
    """Cut an exact (digitally generated) command into flat, ramp and noise pieces.

    A sample is "moving" when it differs from the previous one by more than the number format's
    rounding (``rel_eps`` of the largest level): flat stretches of a generated command repeat one
    value exactly, while ramps and (even slow, band-limited) noise change at every sample.
    """
    d = np.diff(x)
    scale = max(float(np.max(np.abs(x))), 1.0)
    eps = max(rel_eps * scale, 1e-12)
    moving = np.abs(d) > eps
    jump = np.abs(d) > tol
    # A jump is a boundary on its own; between jumps, runs of flat vs moving samples.
    cls = np.where(jump, 2, moving.astype(np.int8))
    # Consecutive jumps are not edges but an irregular waveform (noise): class "moving".
    if np.any(jump):
        runs = np.flatnonzero(np.diff(np.concatenate(([0], jump.astype(np.int8), [0]))))
        for a, b in zip(runs[::2], runs[1::2], strict=True):
            if b - a >= 4:
                cls[a:b] = 1
    change = np.flatnonzero(np.diff(cls) != 0) + 1
    bounds = np.concatenate(([0], change, [d.size]))
    pieces: list[_Piece] = []
    for a, b in itertools.pairwise(bounds):
        c = int(cls[a])
        # diff index k describes the move from sample k to k+1
        if c == 2:
            continue  # the jump itself: the sample after it starts the next piece
        # diff run [a, b) spans samples a..b inclusive
        s0, s1 = int(a), int(b) + 1
        seg = x[s0:s1]
        if c == 0:
            pieces.append(_Piece(s0, s1, "flat", float(np.median(seg)), 0.0))
        else:
            dd = d[a:b]
            mean_d = float(np.mean(dd))
            monotone = bool(np.all(np.sign(dd) == np.sign(mean_d)))
            spread = float(np.std(dd))
            if monotone and spread <= 0.05 * abs(mean_d) + eps:
                pieces.append(_Piece(s0, s1, "ramp", float(seg[-1]), mean_d))
            else:
                pieces.append(_Piece(s0, s1, "noise", float("nan"), 0.0))
    return _merge_flat(pieces, tol)


def _merge_flat(pieces: list[_Piece], tol: float) -> list[_Piece]:
    out: list[_Piece] = []
    for p in pieces:
        if out and p.kind == out[-1].kind == "flat" and abs(p.level - out[-1].level) <= tol:
            q = out[-1]
            out[-1] = _Piece(q.start, p.end, "flat", q.level, 0.0)
        elif out and p.kind == out[-1].kind == "noise" and p.start - out[-1].end <= 2:
            q = out[-1]
            out[-1] = _Piece(q.start, p.end, "noise", q.level, 0.0)
        else:
            out.append(p)
    return out


def _pieces_noisy(
    x: npt.NDArray[np.float64], holding: float, tol: float, fs: float
) -> list[_Piece]:
    """Cut a recorded (noisy) current into steps/ramps: runs away from the holding level."""
    from scipy.ndimage import median_filter

    w = max(3, round(5e-4 * fs) | 1)
    xs = median_filter(x, size=w, mode="nearest")
    active = np.abs(xs - holding) > tol
    edges = np.flatnonzero(np.diff(active.astype(np.int8))) + 1
    bounds = np.concatenate(([0], edges, [x.size]))
    pieces: list[_Piece] = []
    for a, b in itertools.pairwise(bounds):
        a, b = int(a), int(b)
        if not active[a]:
            pieces.append(_Piece(a, b, "flat", holding, 0.0))
            continue
        seg = xs[a:b]
        if b - a >= 8:
            k = np.arange(b - a, dtype=np.float64)
            slope, icept = np.polyfit(k, seg, 1)
            rise = float(slope * (b - a))
            resid = float(np.std(seg - (icept + slope * k)))
            if abs(rise) > 3.0 * tol and resid < 0.25 * abs(rise):
                pieces.append(_Piece(a, b, "ramp", float(icept + slope * (b - a)), float(slope)))
                continue
        pieces.append(_Piece(a, b, "flat", float(np.median(seg)), 0.0))
    return pieces


def infer_epochs(
    i: npt.ArrayLike,
    sampling_rate: float,
    *,
    t0: float = 0.0,
    abs_tol: float = 0.5,
) -> tuple[float, list[Epoch]]:
    """Cut a command current into epochs.

    Parameters
    ----------
    i
        Command current in pA, 1-D.
    sampling_rate
        Hz.
    t0
        Time of the first sample in s; epoch windows are reported on this clock.
    abs_tol
        Smallest level change (pA) that counts as a step.

    Returns
    -------
    holding, epochs
        The holding level in pA, and the non-baseline epochs in time order, with amplitudes
        relative to the holding level. Windows are ``[start, end)`` in s.
    """
    raw = np.asarray(i)
    # rounding of the stored number format: float32 commands (ABF, NWB) jitter at ~1e-7
    rel_eps = 1e-6 if raw.dtype == np.float32 else 1e-9
    x = raw.astype(np.float64, copy=False)
    if x.ndim != 1 or x.size < 2 or not np.all(np.isfinite(x)):
        finite = x[np.isfinite(x)] if x.ndim == 1 else np.empty(0)
        return (float(np.median(finite)) if finite.size else 0.0), []
    fs = float(sampling_rate)
    d = np.diff(x)
    sigma = _noise_sigma(d)
    span = float(np.max(x) - np.min(x))
    tol = max(abs_tol, 8.0 * sigma, 1e-4 * span)
    clean = sigma <= 1e-3 * max(span, 1.0) or float(np.mean(d == 0.0)) > 0.5
    if clean:
        pieces = _pieces_clean(x, tol, rel_eps)
        # Protocols start at the holding level (ABF's pre-epoch holding period, MIES/Allen
        # sweeps, ...); fall back to the most common level when the sweep starts mid-epoch.
        first = pieces[0] if pieces else None
        if first is not None and first.kind == "flat":
            holding = first.level
        else:
            holding = _holding_level(x, tol)
    else:
        head = x[: max(10, x.size // 50)]
        holding = float(np.median(head))
        xsigma = _noise_sigma(x[np.abs(x - holding) < 10 * tol] - holding) * math.sqrt(2.0)
        pieces = _pieces_noisy(x, holding, max(tol, 6.0 * xsigma, 2.0), fs)

    epochs: list[Epoch] = []
    for p in pieces:
        start = t0 + p.start / fs
        end = t0 + p.end / fs
        if p.kind == "flat":
            amp = p.level - holding
            if abs(amp) <= tol:
                continue
            epochs.append(Epoch("step", start, end, _round(amp)))
        elif p.kind == "ramp":
            if (p.end - p.start) / fs < _RAMP_MIN:
                # A few moving samples between two levels: part of a step edge.
                continue
            start_level = p.level - p.slope * (p.end - p.start)
            amp = p.level - holding
            # A ramp that starts at the holding level starts where the line leaves it.
            if abs(start_level - holding) > tol and p.slope != 0:
                k0 = (holding - start_level) / p.slope
                if 0 < k0 < p.end - p.start:
                    start = t0 + (p.start + k0) / fs
            epochs.append(Epoch("ramp", start, end, _round(amp), slope=_round(p.slope * fs)))
        else:
            seg = x[p.start : p.end] - holding
            rms = float(np.sqrt(np.mean(seg * seg)))
            if rms <= tol:
                continue
            epochs.append(Epoch("noise", start, end, _round(rms)))
    return _round(holding), _group_trains(_mark_test_pulse(epochs, t0, x.size / fs))


def _round(x: float) -> float:
    """Round away float32 noise (1e-3 pA resolution), keep NaN."""
    return float(round(x, 3)) if math.isfinite(x) else x


def _mark_test_pulse(epochs: list[Epoch], t0: float, duration: float) -> list[Epoch]:
    if len(epochs) < 2:
        return epochs
    first, nxt = epochs[0], epochs[1]
    if (
        first.kind == "step"
        and first.duration <= _SHORT_MAX
        and first.end - t0 <= 0.1 * duration
        and nxt.start - first.end >= first.duration
    ):
        return [Epoch("test_pulse", first.start, first.end, first.amplitude), *epochs[1:]]
    return epochs


def _group_trains(epochs: list[Epoch]) -> list[Epoch]:
    """Merge runs of >= 2 equal short steps at a regular interval into one pulse-train epoch."""
    out: list[Epoch] = []
    k = 0
    while k < len(epochs):
        e = epochs[k]
        run = [e]
        if e.kind == "step" and e.duration <= _SHORT_MAX:
            j = k + 1
            while j < len(epochs):
                f = epochs[j]
                same = (
                    f.kind == "step"
                    and abs(f.duration - e.duration) <= 0.1 * e.duration + 1e-9
                    and abs(f.amplitude - e.amplitude) <= max(0.5, 0.01 * abs(e.amplitude))
                )
                if not same:
                    break
                if len(run) >= 2:
                    period = run[1].start - run[0].start
                    if abs((f.start - run[-1].start) - period) > 0.05 * period + 1e-6:
                        break
                run.append(f)
                j += 1
        if len(run) >= 2:
            out.append(
                Epoch("pulse_train", run[0].start, run[-1].end, e.amplitude, n_pulses=len(run))
            )
        else:
            out.append(e)
        k += len(run)
    return out


_KIND_OF_EPOCH = {
    "ramp": StimulusKind.RAMP,
    "noise": StimulusKind.NOISE,
    "pulse_train": StimulusKind.SQUARE_PULSE_TRAIN,
}


def _kind_of(epoch: Epoch, short_max: float) -> StimulusKind:
    if epoch.kind in _KIND_OF_EPOCH:
        return _KIND_OF_EPOCH[epoch.kind]
    if epoch.kind in ("step", "test_pulse"):
        return StimulusKind.SHORT_SQUARE if epoch.duration < short_max else StimulusKind.LONG_SQUARE
    return StimulusKind.UNKNOWN


def _primary(epochs: Sequence[Epoch]) -> Epoch | None:
    """The epoch a single sweep is about: largest |amplitude| x duration, test pulses excluded."""
    cands = [e for e in epochs if e.kind != "test_pulse"]
    if not cands:
        return None
    return max(cands, key=lambda e: abs(e.amplitude) * max(e.duration, 1e-4))


def stimulus_from_epochs(
    epochs: Sequence[Epoch],
    *,
    holding: float = 0.0,
    name: str | None = None,
    source: str = "header",
    short_max: float = _SHORT_MAX,
) -> Stimulus:
    """Describe a sweep from a known list of non-baseline epochs (file header, protocol note).

    The primary epoch follows the single-sweep rule (largest |amplitude| x duration, test pulses
    excluded).

    Parameters
    ----------
    epochs
        The non-baseline epochs (windows in s, amplitudes in pA relative to holding), any order.
    holding
        Holding current (pA).
    name
        Stimulus/protocol name to keep with the description.
    source
        Where the description comes from (``"header"``, ``"note"``, ...), kept as
        ``Stimulus.source``.
    short_max
        Steps shorter than this (s) are short squares.

    Returns
    -------
    Stimulus
        Kind, amplitude (pA) and window (s) of the primary epoch, with all epochs sorted by
        start; an ``unknown`` stimulus (amplitude 0, NaN window) when no epoch other than a
        test pulse is given.
    """
    epochs = tuple(sorted(epochs, key=lambda e: e.start))
    prim = _primary(epochs)
    if prim is None:
        return Stimulus(
            StimulusKind.UNKNOWN, 0.0, math.nan, math.nan, epochs, holding, name, source
        )
    return Stimulus(
        _kind_of(prim, short_max),
        prim.amplitude,
        prim.start,
        prim.end,
        epochs,
        holding,
        name,
        source,
    )


def infer_stimulus(
    i: npt.ArrayLike | None,
    sampling_rate: float,
    *,
    t0: float = 0.0,
    name: str | None = None,
    short_max: float = _SHORT_MAX,
    abs_tol: float = 0.5,
) -> Stimulus:
    """Describe one sweep's stimulus from its command current.

    Parameters
    ----------
    i
        Command current (pA); ``None`` gives an ``unknown`` stimulus.
    sampling_rate
        Hz.
    t0
        Time of the first sample (s).
    name
        Stimulus/protocol name to keep with the description.
    short_max
        Steps shorter than this (s) are short squares.
    abs_tol
        Smallest step (pA).

    Returns
    -------
    Stimulus
        Kind, amplitude (pA) and window (s) of the primary epoch, the holding level (pA) and
        all epochs (:func:`infer_epochs`), source ``"inferred"``; source ``"none"`` when ``i``
        is None.
    """
    if i is None:
        return Stimulus(name=name, source="none")
    holding, epochs = infer_epochs(i, sampling_rate, t0=t0, abs_tol=abs_tol)
    return stimulus_from_epochs(
        epochs, holding=holding, name=name, source="inferred", short_max=short_max
    )


def infer_recording_stimuli(
    sweeps: Sequence[Sweep],
    *,
    short_max: float = _SHORT_MAX,
    abs_tol: float = 0.5,
) -> list[Stimulus]:
    """Infer the stimuli of a protocol's sweeps together.

    Sweeps are grouped by stimulus name, length and sampling rate. Within a group, epoch windows
    are aligned across sweeps (within 2 samples); each sweep gets an amplitude in every window
    (0 when its command stays at holding there), and the primary window is the first one whose
    amplitude differs between sweeps. Groups of one sweep, or whose windows never vary, fall
    back to the single-sweep rule (largest |amplitude| x duration).

    Parameters
    ----------
    sweeps
        The sweeps of a recording. Only current-clamp sweeps with a command current are
        inferred; the others keep their stimulus (source ``"none"`` when they have no current).
        Only sweeps with a uniform time axis are grouped.
    short_max
        Steps shorter than this (s) are short squares.
    abs_tol
        Smallest step (pA); also the smallest amplitude change across sweeps that makes a
        window the primary one.

    Returns
    -------
    list of Stimulus
        One per sweep, in order.
    """
    singles = [
        infer_stimulus(
            s.i if s.clamp_mode == "current_clamp" else None,
            s.sampling_rate,
            t0=s.t0,
            name=s.stimulus.name,
            short_max=short_max,
            abs_tol=abs_tol,
        )
        if s.i is not None and s.clamp_mode == "current_clamp"
        else s.stimulus.with_(source="none" if s.i is None else s.stimulus.source)
        for s in sweeps
    ]
    groups: dict[tuple[Any, ...], list[int]] = {}
    for k, s in enumerate(sweeps):
        if s.i is None or s.clamp_mode != "current_clamp" or not s.uniform:
            continue
        groups.setdefault((s.stimulus.name, s.n_samples, s.sampling_rate, s.t0), []).append(k)

    out = list(singles)
    for members in groups.values():
        if len(members) < 2:
            continue
        fs = sweeps[members[0]].sampling_rate
        tol_t = 2.5 / fs
        windows: list[tuple[float, float, str]] = []
        for k in members:
            for e in singles[k].epochs:
                if e.kind == "noise":
                    continue
                if not any(
                    abs(e.start - w0) <= tol_t and abs(e.end - w1) <= tol_t and ek == e.kind
                    for w0, w1, ek in windows
                ):
                    windows.append((e.start, e.end, e.kind))
        windows.sort()
        if not windows:
            continue
        amps = np.zeros((len(members), len(windows)))
        for r, k in enumerate(members):
            for c, (w0, w1, wk) in enumerate(windows):
                match = [
                    e
                    for e in singles[k].epochs
                    if abs(e.start - w0) <= tol_t and abs(e.end - w1) <= tol_t and e.kind == wk
                ]
                amps[r, c] = match[0].amplitude if match else 0.0
        varying = [
            c
            for c, (_, _, wk) in enumerate(windows)
            if wk != "test_pulse" and float(np.ptp(amps[:, c])) > abs_tol
        ]
        if not varying:
            continue
        c = varying[0]
        w0, w1, wk = windows[c]
        proto = Epoch(wk, w0, w1, 0.0)
        for r, k in enumerate(members):
            single = singles[k]
            epochs = single.epochs
            amp = float(amps[r, c])
            match = [e for e in epochs if abs(e.start - w0) <= tol_t and abs(e.end - w1) <= tol_t]
            prim = match[0] if match else Epoch(proto.kind, w0, w1, amp)
            if not match:
                # Record the zero-amplitude step so every sweep of the protocol lists the window.
                epochs = tuple(sorted((*epochs, prim), key=lambda e: e.start))
            out[k] = single.with_(
                kind=_kind_of(prim, short_max),
                amplitude=_round(amp),
                start=w0,
                end=w1,
                epochs=epochs,
            )
    return out


# --------------------------------------------------------------------------------------------
# Allen stimulus ontology
# --------------------------------------------------------------------------------------------


def resolve_stimuli(
    recording: Recording,
    *,
    short_max: float = _SHORT_MAX,
    abs_tol: float = 0.5,
) -> Recording:
    """Give every sweep its stimulus: inferred from the command, overridden by what is declared.

    Readers (:mod:`patchatlas.io`) leave :attr:`~patchatlas.core.Sweep.stimulus` as the file
    names it and record any further statement in :attr:`~patchatlas.core.Sweep.declared`
    (:class:`~patchatlas.core.DeclaredStimulus`). This infers the protocol's stimuli together
    (:func:`infer_recording_stimuli`; sweeps without a uniform time axis are not inferred) and
    applies the statements:

    * ``origin="note"`` — the programmed epochs define the stimulus
      (:func:`stimulus_from_epochs`, source ``"note"``); the inferred primary amplitude is kept
      as ``sweep.metadata["measured_amplitude_pa"]``;
    * a stated ``kind`` that differs from the inferred one replaces it (source ``"…+name"``);
    * stated numbers (amplitude, window, holding) replace the inferred ones; ``origin="file"``
      also sets the name, ``origin="user"`` marks the source ``"user"``.

    :func:`patchatlas.read` calls this; call it yourself on a recording from
    :func:`patchatlas.io.read` or one you built, after changing its commands.

    Parameters
    ----------
    recording
        The recording; its sweeps' ``stimulus`` is replaced in place.
    short_max
        Steps shorter than this (s) are short squares.
    abs_tol
        Smallest step (pA).

    Returns
    -------
    Recording
        The same recording.
    """
    sweeps = recording.sweeps
    stimuli = infer_recording_stimuli(sweeps, short_max=short_max, abs_tol=abs_tol)
    for sw, inferred in zip(sweeps, stimuli, strict=True):
        if not sw.uniform:  # inference needs a uniform time axis
            inferred = Stimulus(name=sw.stimulus.name, source="none")
        sw.stimulus = _apply_declared(sw, inferred, short_max)
    return recording


def _apply_declared(sw: Sweep, stim: Stimulus, short_max: float) -> Stimulus:
    d: DeclaredStimulus | None = sw.declared
    if d is None:
        return stim
    if d.origin == "note" and d.epochs:
        prim = [e for e in stim.epochs if e.kind != "test_pulse"]
        if prim:
            sw.metadata["measured_amplitude_pa"] = max(
                prim, key=lambda e: abs(e.amplitude)
            ).amplitude
        return stimulus_from_epochs(
            list(d.epochs), name=sw.stimulus.name, source=d.source or "note", short_max=short_max
        )
    if d.kind is not None and d.kind is not stim.kind:
        stim = stim.with_(kind=d.kind, source=f"{stim.source}+name")
    changes: dict[str, Any] = {
        k: float(v)
        for k in ("amplitude", "start", "end", "holding")
        if math.isfinite(v := getattr(d, k))
    }
    if d.origin == "file" or d.name:
        changes["name"] = d.name
    if d.origin in ("file", "user"):
        changes["source"] = d.source or d.origin
    return stim.with_(**changes) if changes else stim


def apply_names(
    stimuli: Sequence[Stimulus], kinds: Mapping[int, StimulusKind | None]
) -> list[Stimulus]:
    """Override inferred kinds where a name-derived kind is known (index → kind).

    Parameters
    ----------
    stimuli
        Stimuli, e.g. from :func:`infer_recording_stimuli`.
    kinds
        Position in ``stimuli`` → kind derived from the stimulus name (e.g. by
        :func:`kind_from_name`); None entries and positions out of range are ignored.

    Returns
    -------
    list of Stimulus
        A copy of ``stimuli`` in which each overridden stimulus has the given kind and source
        ``"ontology"``.
    """
    out = list(stimuli)
    for k, kind in kinds.items():
        if kind is not None and 0 <= k < len(out):
            out[k] = out[k].with_(kind=kind, source="ontology")
    return out
