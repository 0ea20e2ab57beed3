"""Cell-level features: long-square, short-square and ramp analyses and the Allen cell record.

:func:`cell_features` returns the Allen Cell Types Database cell-record names (units: mV, MΩ,
ms for ``tau`` and ``avg_isi``, s for ``latency`` and the ``*_t_*`` times, which are times within
the sweep, pA, Hz/pA). Anything that cannot be computed is NaN; a recording with no usable
sweeps gives a dict of NaNs, never an exception.

Rules (Allen/IPFX long-square analysis, restated):

* sweeps are analysed with :func:`patchatlas.ephys.train.analyze_sweep` (stimulus window =
  analysis window); a sweep whose analysis fails is skipped and counted in ``n_sweeps_failed``;
* ``vrest``: mean ``v_baseline`` over long-square sweeps;
* spiking sweeps: ``avg_rate > 0``; ``rheobase_i`` (``threshold_i_long_square``): lowest
  positive amplitude among spiking long squares; ``rheobase_sweep_num``: that sweep;
* ``f_i_curve_slope``: least-squares slope of ``avg_rate`` vs amplitude over all spiking long
  squares (Hz/pA; NaN with fewer than two amplitudes);
* hero (thumbnail) sweep: the lowest-amplitude spiking sweep with amplitude in
  ``(rheobase + 39, rheobase + 61)`` pA, else the spiking sweep closest to rheobase + 50 pA
  (above rheobase); ``adaptation`` and ``avg_isi`` (ms) come from it, ``latency`` from the
  rheobase sweep;
* subthreshold sweeps: no spikes and amplitude < 0. ``sag``/``vm_for_sag``: the one whose peak
  deflection is closest to −100 mV. Membrane-property sweeps: subthreshold with amplitude in
  (−100, 0) pA (else (−200, 0)): ``ri`` = slope of peak deflection vs amplitude (MΩ); ``tau`` =
  mean of the accepted single-exponential fits (ms), with ``tau_n_fits`` and ``tau_rmse_mv``;
* short squares (``profile="allen"``): detection parameters are re-estimated from the sweeps
  themselves (:func:`short_square_parameters`, the IPFX short-square rule: a strong brief
  current charges the membrane passively faster than the 20 V/s default cutoff), then every
  short square is detected with them. The most common amplitude among spiking short squares
  (ties: the lower) is ``threshold_i_short_square``; ``*_short_square`` = mean first-spike
  features over those sweeps;
* ramps: ``*_ramp`` = mean first-spike features over spiking ramps; ``threshold_i_ramp`` the
  mean current at the first threshold;
* ``*_long_square``: first spike of the rheobase sweep.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from patchatlas.core.recording import ClampMode, Recording, StimulusKind, Sweep
from patchatlas.core.table import FeatureTable
from patchatlas.ephys.subthreshold import input_resistance, time_constant
from patchatlas.ephys.train import analyze_sweep, analyze_sweeps
from patchatlas.errors import PatchAtlasError

if TYPE_CHECKING:  # pragma: no cover
    from patchatlas.ephys.spikes import AllenParameters

log = logging.getLogger(__name__)

__all__ = [
    "CELL_RECORD_FIELDS",
    "ShortSquareParameters",
    "SweepResult",
    "analyze_recording",
    "analyze_sweep_set",
    "cell_features",
    "cell_record",
    "fi_curve",
    "short_square_detection",
    "short_square_parameters",
]

# Short-square detection-parameter estimate (IPFX 2.1.2 behaviour, measured by running it):
# dv_cutoff = CUTOFF_FACTOR x median passive dV/dt; thresh_frac = THRESH_FACTOR x median passive
# dV/dt / mean upstroke of the putative spikes at that cutoff, floored at THRESH_FRAC_FLOOR.
SSQ_WINDOW_S = 0.001
SSQ_CUTOFF_FACTOR = 1.1
SSQ_THRESH_FACTOR = 1.2
SSQ_THRESH_FRAC_FLOOR = 0.1

SAG_TARGET = -100.0
HERO_MIN_OFFSET = 39.0
HERO_MAX_OFFSET = 61.0

#: per-spike features reported for the first spike of each stimulus type
SPIKE_RECORD_FEATURES = (
    "threshold_v",
    "threshold_t",
    "threshold_i",
    "peak_v",
    "peak_t",
    "trough_v",
    "trough_t",
    "fast_trough_v",
    "fast_trough_t",
    "slow_trough_v",
    "slow_trough_t",
    "upstroke_downstroke_ratio",
    "upstroke",
    "downstroke",
    "width",
)
SUFFIXES = ("long_square", "short_square", "ramp")

CELL_RECORD_FIELDS: tuple[str, ...] = (
    "vrest",
    "ri",
    "sag",
    "tau",
    "vm_for_sag",
    "f_i_curve_slope",
    "adaptation",
    "latency",
    "avg_isi",
    "avg_firing_rate",
    "rheobase_sweep_num",
    "thumbnail_sweep_num",
    "threshold_i_long_square",
    "threshold_i_short_square",
    "threshold_i_ramp",
    *(f"{f}_{s}" for s in SUFFIXES for f in SPIKE_RECORD_FEATURES if f != "threshold_i"),
    "tau_n_fits",
    "tau_rmse_mv",
    "tau_r2_min",
    "n_sweeps",
    "n_sweeps_analyzed",
    "n_sweeps_failed",
    "n_long_square",
    "n_short_square",
    "n_ramp",
)


@dataclass
class SweepResult:
    """One analysed sweep: the sweep, its spike table and sweep features (or the error)."""

    sweep: Sweep
    spikes: FeatureTable | None = None
    features: dict[str, Any] = field(default_factory=dict)
    error: str = ""

    @property
    def ok(self) -> bool:
        """Whether the analysis succeeded."""
        return self.spikes is not None


@dataclass(frozen=True, slots=True)
class ShortSquareParameters:
    """Detection parameters estimated from a cell's short-square sweeps.

    Attributes
    ----------
    dv_cutoff
        Candidate dV/dt level (V/s) to detect the short squares with.
    thresh_frac
        Threshold fraction of the mean upstroke (floored at ``thresh_frac_floor``).
    thresh_frac_estimate
        The estimate before the floor (NaN when no putative spike was found).
    passive_dvdt
        Per sweep, the largest filtered dV/dt (V/s) in the window after stimulus onset.
    settled_dvdt
        Per sweep, the filtered dV/dt (V/s) at the end of that window.
    mean_upstroke
        Mean upstroke (V/s) of the putative spikes at ``dv_cutoff`` (NaN when none).
    n_putative
        Number of those putative spikes.
    """

    dv_cutoff: float
    thresh_frac: float
    thresh_frac_estimate: float
    passive_dvdt: tuple[float, ...]
    settled_dvdt: tuple[float, ...]
    mean_upstroke: float
    n_putative: int


def _putative_upstrokes(v: np.ndarray, dvdt: np.ndarray, cutoff: float) -> np.ndarray:
    """Upstrokes (V/s) of the putative spikes of one whole sweep at ``cutoff``.

    Candidates: upward crossings of ``cutoff`` by dV/dt; a later one counts only when dV/dt went
    below 0 since the previous one. Peak: the largest V from a candidate to the next (or the
    sweep end). Upstroke: the largest dV/dt from the candidate up to the peak.
    """
    if dvdt.size < 2:
        return np.empty(0)
    above = dvdt >= cutoff
    cand = np.flatnonzero(above[1:] & ~above[:-1]) + 1
    if above[0]:
        cand = np.r_[0, cand]
    if cand.size == 0:
        return np.empty(0)
    if cand.size > 1:
        neg = np.r_[0, np.cumsum(dvdt < 0)]  # neg[k] = number of negative samples before k
        went_below = neg[cand[1:]] - neg[cand[:-1]] > 0
        cand = cand[np.r_[True, went_below]]
    n = v.size
    ends = np.r_[cand[1:], n]
    # argmax of v per segment [cand_i, ends_i): sort by (segment, -v), first of each segment
    seg = np.repeat(np.arange(cand.size), ends - cand)
    idx = np.arange(cand[0], n)
    order = np.lexsort((-v[idx], seg))
    first = np.r_[0, np.cumsum(ends - cand)[:-1]]
    peaks = idx[order[first]]
    # upstroke: max dV/dt over [cand_i, peak_i) (dV/dt index k spans samples k → k + 1)
    hi = np.minimum(np.maximum(peaks, cand + 1), dvdt.size)
    lengths = hi - cand
    seg2 = np.repeat(np.arange(cand.size), lengths)
    pos = np.arange(lengths.sum()) - np.repeat(np.r_[0, np.cumsum(lengths)[:-1]], lengths)
    vals = dvdt[np.repeat(cand, lengths) + pos]
    out = np.full(cand.size, -np.inf)
    np.maximum.at(out, seg2, vals)
    return out


def short_square_parameters(
    sweeps: list[Sweep],
    *,
    window_s: float = SSQ_WINDOW_S,
    filter_khz: float | None = 10.0,
    thresh_frac_floor: float = SSQ_THRESH_FRAC_FLOOR,
) -> ShortSquareParameters | None:
    """Detection parameters for a cell's short squares, estimated from the sweeps (IPFX rule).

    A short square drives the membrane so hard that it charges *passively* at tens of V/s, which
    the default 20 V/s candidate cutoff and 5 % threshold fraction would read as spikes or as
    spike onsets. The rule (IPFX ``extract_data_set_features`` for short squares, restated from
    the notes and from running IPFX 2.1.2):

    1. per sweep, with ``a`` and ``b`` the samples nearest to onset and onset + ``window_s``
       (1 ms), the largest Bessel-filtered dV/dt ``p`` over ``[a, b)`` (the peak passive
       charging rate) and the dV/dt ``q`` at ``b`` (the rate the charging has settled to);
    2. ``dv_cutoff`` = 1.1 × median(p) over the sweeps;
    3. putative spikes at that cutoff over every whole sweep (upward crossings, re-armed when
       dV/dt goes below 0; peak = max V up to the next one; upstroke = max dV/dt up to the peak);
    4. ``thresh_frac`` = max(``thresh_frac_floor``, 1.2 × median(q) / mean upstroke of all
       putative spikes); with no putative spike, the floor.

    Parameters
    ----------
    sweeps
        The cell's short-square sweeps (current clamp; ``stimulus.start`` is the onset).
    window_s
        Length of the passive window after onset (s).
    filter_khz
        dV/dt Bessel cutoff (kHz), lowered like spike detection's where the rate requires.
    thresh_frac_floor
        Lowest threshold fraction returned.

    Returns
    -------
    ShortSquareParameters or None
        None when no sweep has a finite onset with a window inside it.
    """
    from patchatlas.ephys._dvdt import filtered_dvdt
    from patchatlas.ephys.spikes import time_index

    passive: list[float] = []
    settled: list[float] = []
    traces: list[tuple[np.ndarray, np.ndarray]] = []
    for sw in sweeps:
        s0 = sw.stimulus.start
        if not math.isfinite(s0) or sw.n_samples < 3:
            continue
        t = np.asarray(sw.t, dtype=np.float64)
        v = np.asarray(sw.v, dtype=np.float64)
        if not np.all(np.isfinite(v)):
            continue
        a, b = int(time_index(t, s0)), int(time_index(t, s0 + window_s))
        dvdt, _ = filtered_dvdt(t, v, filter_khz, warn=False)
        if not a < b < dvdt.size:
            continue
        passive.append(float(np.max(dvdt[a:b])))
        settled.append(float(dvdt[b]))
        traces.append((v, dvdt))
    if not passive:
        return None
    cutoff = SSQ_CUTOFF_FACTOR * float(np.median(passive))
    level = SSQ_THRESH_FACTOR * float(np.median(settled))
    ups = np.concatenate([_putative_upstrokes(v, d, cutoff) for v, d in traces])
    mean_up = float(ups.mean()) if ups.size else math.nan
    est = level / mean_up if ups.size and mean_up != 0 else math.nan
    frac = max(thresh_frac_floor, est) if math.isfinite(est) else thresh_frac_floor
    return ShortSquareParameters(
        dv_cutoff=cutoff,
        thresh_frac=float(frac),
        thresh_frac_estimate=float(est),
        passive_dvdt=tuple(passive),
        settled_dvdt=tuple(settled),
        mean_upstroke=mean_up,
        n_putative=int(ups.size),
    )


def analyze_recording(
    recording: Recording,
    *,
    profile: str = "allen",
    filter_khz: float | None = 10.0,
    adjust_short_squares: bool = True,
) -> list[SweepResult]:
    """Analyse every current-clamp sweep of a recording (spikes + sweep features).

    A sweep whose data cannot be analysed (:class:`~patchatlas.errors.PatchAtlasError`: NaN in
    the window, a window outside the sweep ...) is kept with ``error`` set; a bug is not caught.
    With ``profile="allen"`` and ``adjust_short_squares``, short squares are detected with the
    parameters :func:`short_square_parameters` estimates from them (the IPFX rule; recorded in
    each spike table's ``provenance["parameters"]``). :func:`patchatlas.ephys.analyze` wraps
    this with the cell record, QC and provenance.

    Parameters
    ----------
    recording
        The cell's sweeps.
    profile
        ``"allen"`` or ``"robust"``.
    filter_khz
        dV/dt filter cutoff (kHz).
    adjust_short_squares
        Estimate the short-square detection parameters (allen profile).

    Returns
    -------
    list of SweepResult
        One per current-clamp sweep, in order.
    """
    return analyze_sweep_set(
        recording,
        profile=profile,
        filter_khz=filter_khz,
        light=False,
        adjust_short_squares=adjust_short_squares,
    )[0]


def short_square_detection(
    sweeps: list[Sweep],
    *,
    filter_khz: float | None = 10.0,
    parameters: AllenParameters | None = None,
) -> AllenParameters | None:
    """Detection parameters for these short squares: ``dv_cutoff`` and ``thresh_frac`` from
    :func:`short_square_parameters`, the rest from ``parameters`` (default: IPFX defaults).

    Parameters
    ----------
    sweeps
        The cell's short-square sweeps.
    filter_khz
        dV/dt filter cutoff (kHz), when ``parameters`` is not given.
    parameters
        Base parameters to adjust.

    Returns
    -------
    AllenParameters or None
        None when no sweep allows the estimate.
    """
    from dataclasses import replace

    from patchatlas.ephys.spikes import AllenParameters

    fk = parameters.filter_khz if parameters is not None else filter_khz
    est = short_square_parameters(sweeps, filter_khz=fk)
    if est is None:
        return None
    base = parameters or AllenParameters(filter_khz=fk)
    return replace(base, dv_cutoff=est.dv_cutoff, thresh_frac=est.thresh_frac)


def _analyze_one(
    sw: Sweep,
    cell_id: str,
    profile: str,
    filter_khz: float | None,
    *,
    full: bool,
    parameters: AllenParameters | None = None,
) -> SweepResult:
    try:
        spikes, feats = analyze_sweep(
            sw, profile=profile, filter_khz=filter_khz, per_spike=full, parameters=parameters
        )
    except PatchAtlasError as exc:  # bad data in one sweep must not stop a cell
        log.info("recording %r sweep %s: not analysable: %s", cell_id, sw.number, exc)
        return SweepResult(sw, error=f"{type(exc).__name__}: {exc}")
    return SweepResult(sw, spikes, feats)


def analyze_sweep_set(
    recording: Recording,
    *,
    profile: str = "allen",
    filter_khz: float | None = 10.0,
    parameters: AllenParameters | None = None,
    light: bool = False,
    adjust_short_squares: bool = True,
) -> tuple[list[SweepResult], AllenParameters | None]:
    """Analyse every current-clamp sweep; the short-square parameters used (or None).

    With ``light``, long squares other than the rheobase sweep get threshold/peak columns only
    (the cell record reads per-spike features of no other long square, and spike counts and
    times do not depend on it). Spike detection is batched over the recording (identical to
    sweep by sweep). Notes raised on the way (a lowered filter ...) go through
    :mod:`patchatlas.ephys._notes`: once per distinct message when called inside
    :func:`patchatlas.ephys.analyze`.

    Parameters
    ----------
    recording
        The cell's sweeps.
    profile
        ``"allen"`` or ``"robust"``.
    filter_khz
        dV/dt filter cutoff (kHz) when ``parameters`` is not given.
    parameters
        Detection parameters for every sweep (short squares: adjusted from these).
    light
        Per-spike features only where the cell record reads them.
    adjust_short_squares
        Estimate the short-square detection parameters (allen profile).

    Returns
    -------
    results : list of SweepResult
        One per current-clamp sweep, in order.
    short_square : AllenParameters or None
        The parameters the short squares were detected with, when estimated.
    """
    import patchatlas.ephys._notes as _notes

    out: list[SweepResult] = []
    cid = recording.cell_id
    fk = parameters.filter_khz if parameters is not None else filter_khz
    owner = _notes.collecting_here()
    with owner as notes:
        sweeps = [sw for sw in recording if sw.clamp_mode == ClampMode.CURRENT_CLAMP]
        ssq_params = None
        if profile == "allen" and adjust_short_squares:
            ssq = [sw for sw in sweeps if sw.stimulus.kind == StimulusKind.SHORT_SQUARE]
            ssq_params = (
                short_square_detection(ssq, filter_khz=fk, parameters=parameters) if ssq else None
            )
        special = [
            ssq_params is not None and sw.stimulus.kind == StimulusKind.SHORT_SQUARE
            for sw in sweeps
        ]
        rest = [sw for sw, sp in zip(sweeps, special, strict=True) if not sp]
        fulls = [not (light and sw.stimulus.kind == StimulusKind.LONG_SQUARE) for sw in rest]
        done = iter(
            analyze_sweeps(
                rest, profile=profile, filter_khz=fk, per_spike=fulls, parameters=parameters
            )
        )
        ssq_sw = [sw for sw, sp in zip(sweeps, special, strict=True) if sp]
        ssq_done = iter(
            analyze_sweeps(ssq_sw, profile=profile, filter_khz=fk, parameters=ssq_params)
            if ssq_sw
            else []
        )
        for sw, sp in zip(sweeps, special, strict=True):
            r = next(ssq_done) if sp else next(done)
            if isinstance(r, Exception):  # a PatchAtlasError: analyze_sweeps lets bugs raise
                log.info("recording %r sweep %s: not analysable: %s", cid, sw.number, r)
                out.append(SweepResult(sw, error=f"{type(r).__name__}: {r}"))
            else:
                out.append(SweepResult(sw, r[0], r[1]))
        if light:
            ls = [
                j
                for j, r in enumerate(out)
                if r.ok and r.sweep.stimulus.kind == StimulusKind.LONG_SQUARE
            ]
            k = _rheobase_pick([out[j].features for j in ls])
            if k is not None:
                j = ls[k]
                redo = _analyze_one(
                    out[j].sweep, cid, profile, fk, full=True, parameters=parameters
                )
                if redo.ok:
                    out[j] = redo
    if notes is not None:  # the outermost collector reports each distinct note once
        for cat, msg in _notes.distinct(notes):
            _notes.note(f"{cid}: {msg}", cat, stacklevel=3)
    return out, ssq_params


def _rheobase_pick(feats: list[dict[str, Any]]) -> int | None:
    """Position of the rheobase sweep among long-square sweep features (None: no spiking one)."""
    if not feats:
        return None
    amps = np.array([f["stim_amp"] for f in feats], dtype=np.float64)
    rates = np.array([f["avg_rate"] for f in feats], dtype=np.float64)
    with np.errstate(invalid="ignore"):
        pos = np.flatnonzero((rates > 0) & np.isfinite(amps) & (amps > 0))
    if pos.size == 0:
        return None
    return int(pos[np.argmin(amps[pos])])


def _first_spike(res: SweepResult) -> dict[str, float]:
    sp = res.spikes
    out = dict.fromkeys(SPIKE_RECORD_FEATURES, math.nan)
    if sp is None or sp.n_rows == 0:
        return out
    for f in SPIKE_RECORD_FEATURES:
        if f in sp:
            out[f] = float(sp[f][0])
    return out


def _mean_first_spike(results: list[SweepResult]) -> dict[str, float]:
    rows = [_first_spike(r) for r in results]
    out = {}
    for f in SPIKE_RECORD_FEATURES:
        vals = np.array([r[f] for r in rows], dtype=np.float64)
        vals = vals[np.isfinite(vals)]
        out[f] = float(vals.mean()) if vals.size else math.nan
    return out


def fi_curve(results: list[SweepResult]) -> tuple[np.ndarray, np.ndarray]:
    """(amplitudes in pA, avg_rate in Hz) of analysed long-square sweeps, sorted by amplitude.

    Parameters
    ----------
    results
        Analysed sweeps (:func:`analyze_recording`); failed ones and sweeps that are not long
        squares are ignored.

    Returns
    -------
    tuple of (numpy.ndarray, numpy.ndarray)
        Stimulus amplitudes (pA) and mean firing rates over the stimulus window (Hz), float64,
        ascending by amplitude (stable for ties); sweeps with a non-finite amplitude or rate are
        left out.
    """
    ls = [r for r in results if r.ok and r.sweep.stimulus.kind == StimulusKind.LONG_SQUARE]
    amps = np.array([r.features["stim_amp"] for r in ls], dtype=np.float64)
    rates = np.array([r.features["avg_rate"] for r in ls], dtype=np.float64)
    ok = np.isfinite(amps) & np.isfinite(rates)
    order = np.argsort(amps[ok], kind="stable")
    return amps[ok][order], rates[ok][order]


def _long_square(ls: list[SweepResult], out: dict[str, Any]) -> None:
    if not ls:
        return
    feats = [r.features for r in ls]
    base = np.array([f["v_baseline"] for f in feats], dtype=np.float64)
    if np.isfinite(base).any():
        out["vrest"] = float(np.nanmean(base))
    amps = np.array([f["stim_amp"] for f in feats], dtype=np.float64)
    rates = np.array([f["avg_rate"] for f in feats], dtype=np.float64)
    spiking = np.flatnonzero((rates > 0) & np.isfinite(amps))
    pos = spiking[amps[spiking] > 0]
    if pos.size:
        k_rheo = int(pos[np.argmin(amps[pos])])
        rheo = float(amps[k_rheo])
        out["threshold_i_long_square"] = rheo
        out["rheobase_sweep_num"] = ls[k_rheo].sweep.number
        out["latency"] = float(feats[k_rheo]["latency"])
        first = _first_spike(ls[k_rheo])
        for f, val in first.items():
            if f != "threshold_i":
                out[f"{f}_long_square"] = val
        # hero sweep
        order = pos[np.argsort(amps[pos], kind="stable")]
        cand = order[
            (amps[order] > rheo + HERO_MIN_OFFSET) & (amps[order] < rheo + HERO_MAX_OFFSET)
        ]
        if cand.size:
            k_hero = int(cand[0])
        else:
            above = order[amps[order] > rheo]
            k_hero = (
                int(above[np.argmin(np.abs(amps[above] - (rheo + 50.0)))]) if above.size else -1
            )
        if k_hero >= 0:
            out["thumbnail_sweep_num"] = ls[k_hero].sweep.number
            out["adaptation"] = float(feats[k_hero]["adapt"])
            out["avg_isi"] = float(feats[k_hero]["mean_isi"]) * 1e3
            out["avg_firing_rate"] = float(feats[k_hero]["avg_rate"])
    if spiking.size >= 2 and float(np.ptp(amps[spiking])) > 0:
        a = np.vstack([amps[spiking], np.ones(spiking.size)]).T
        out["f_i_curve_slope"] = float(np.linalg.lstsq(a, rates[spiking], rcond=None)[0][0])

    sub = np.flatnonzero((rates == 0) & (amps < 0))
    if sub.size == 0:
        return
    defl = np.array([feats[k]["peak_deflect_v"] for k in sub], dtype=np.float64)
    if np.isfinite(defl).any():
        k_sag = int(sub[np.nanargmin(np.abs(defl - SAG_TARGET))])
        out["sag"] = float(feats[k_sag]["sag"])
        out["vm_for_sag"] = float(feats[k_sag]["vm_for_sag"])
    mem = sub[(amps[sub] > -100.0)]
    if mem.size == 0:
        mem = sub[(amps[sub] > -200.0)]
    if mem.size == 0:
        return
    out["ri"] = input_resistance(
        amps[mem],
        [feats[k]["peak_deflect_v"] for k in mem],
        baselines=[feats[k]["v_baseline"] for k in mem],
    )
    # each fit ends at its sweep's minimum, but no later than the median time-to-minimum of
    # the membrane-property sweeps (IPFX rule: long steps with slow drifts otherwise stretch
    # the fit window)
    traces = {k: np.asarray(ls[k].sweep.t, dtype=np.float64) for k in mem}  # built once
    t_peak = np.array(
        [
            float(traces[k][int(feats[k]["peak_deflect_index"])]) - ls[k].sweep.stimulus.start
            if math.isfinite(feats[k]["peak_deflect_index"])
            else math.nan
            for k in mem
        ]
    )
    med = float(np.nanmedian(t_peak)) if np.isfinite(t_peak).any() else math.nan
    fits = []
    for k, tp in zip(mem, t_peak, strict=True):
        sw = ls[k].sweep
        v = np.asarray(sw.v, dtype=np.float64)
        end = sw.stimulus.start + med if math.isfinite(med) and tp > med else None
        fits.append(time_constant(traces[k], v, sw.stimulus.start, sw.stimulus.end, peak_time=end))
    taus = np.array([f.tau for f in fits])
    good = np.isfinite(taus)
    out["tau_n_fits"] = int(good.sum())
    if good.any():
        out["tau"] = float(taus[good].mean()) * 1e3
        out["tau_rmse_mv"] = float(np.mean([f.rmse for f, g in zip(fits, good, strict=True) if g]))
        out["tau_r2_min"] = float(np.min([f.r2 for f, g in zip(fits, good, strict=True) if g]))


def _short_square(ss: list[SweepResult], out: dict[str, Any]) -> None:
    spiking = [r for r in ss if r.features.get("n_spikes", 0) > 0]
    if not spiking:
        return
    amps = [float(r.features["stim_amp"]) for r in spiking]
    counts = Counter(amps)
    top = max(counts.values())
    amp = min(a for a, c in counts.items() if c == top)
    out["threshold_i_short_square"] = amp
    common = [r for r, a in zip(spiking, amps, strict=True) if a == amp]
    for f, val in _mean_first_spike(common).items():
        if f != "threshold_i":
            out[f"{f}_short_square"] = val


def _ramp(rp: list[SweepResult], out: dict[str, Any]) -> None:
    spiking = [r for r in rp if r.spikes is not None and r.spikes.n_rows > 0]
    if not spiking:
        return
    mean = _mean_first_spike(spiking)
    for f, val in mean.items():
        if f == "threshold_i":
            out["threshold_i_ramp"] = val
        else:
            out[f"{f}_ramp"] = val


def cell_record(results: list[SweepResult], *, n_sweeps: int | None = None) -> dict[str, Any]:
    """The Allen cell record from analysed sweeps (see the module docs).

    Parameters
    ----------
    results
        Analysed sweeps (:func:`analyze_sweep_set`); those that failed count in
        ``n_sweeps_failed`` and are otherwise ignored.
    n_sweeps
        Number of sweeps of the recording to report as ``n_sweeps`` (default:
        ``len(results)``).

    Returns
    -------
    dict of str to Any
        Every name in :data:`CELL_RECORD_FIELDS`, NaN where not computable (``tau_n_fits`` 0).
        Units as in :func:`cell_features`: mV, MΩ (``ri``), ms (``tau``, ``avg_isi``), s
        (``latency``, ``*_t_*``, ``width_*``), pA (``threshold_i_*``), Hz (``avg_firing_rate``),
        Hz/pA (``f_i_curve_slope``), V/s (up/downstroke).
    """
    out: dict[str, Any] = dict.fromkeys(CELL_RECORD_FIELDS, math.nan)
    ok = [r for r in results if r.ok]
    out["n_sweeps"] = len(results) if n_sweeps is None else n_sweeps
    out["n_sweeps_analyzed"] = len(ok)
    out["n_sweeps_failed"] = len(results) - len(ok)
    out["tau_n_fits"] = 0
    by_kind: dict[StimulusKind, list[SweepResult]] = {}
    for r in ok:
        by_kind.setdefault(r.sweep.stimulus.kind, []).append(r)
    ls = by_kind.get(StimulusKind.LONG_SQUARE, [])
    ss = by_kind.get(StimulusKind.SHORT_SQUARE, [])
    rp = by_kind.get(StimulusKind.RAMP, [])
    out["n_long_square"], out["n_short_square"], out["n_ramp"] = len(ls), len(ss), len(rp)
    with np.errstate(all="ignore"):
        _long_square(ls, out)
        _short_square(ss, out)
        _ramp(rp, out)
    return out


def cell_features(
    recording: Recording,
    *,
    profile: str = "allen",
    filter_khz: float | None = 10.0,
    adjust_short_squares: bool = True,
) -> dict[str, Any]:
    """Allen cell-record features of one recording (one cell).

    Parameters
    ----------
    recording
        The cell's sweeps; stimulus kinds and windows come from each sweep's
        :class:`~patchatlas.core.recording.Stimulus` (inferred by the readers).
    profile
        ``"allen"`` or ``"robust"`` spike detection (see :func:`patchatlas.ephys.detect_spikes`).
    filter_khz
        dV/dt filter cutoff (kHz), lowered automatically where the sampling rate requires.
    adjust_short_squares
        With the allen profile, detect short squares with the parameters estimated from them
        (:func:`short_square_parameters`, as IPFX does); False: the default parameters.

    Returns
    -------
    dict
        Every name in :data:`CELL_RECORD_FIELDS` (NaN where not computable) plus ``profile``.
        Units: mV, MΩ (``ri``), ms (``tau``, ``avg_isi``), s (``latency``, ``*_t_*``), pA
        (``threshold_i_*``), Hz/pA (``f_i_curve_slope``), V/s (up/downstroke), s (``width_*``).
    """
    results, _ = analyze_sweep_set(
        recording,
        profile=profile,
        filter_khz=filter_khz,
        light=True,
        adjust_short_squares=adjust_short_squares,
    )
    out = cell_record(results, n_sweeps=len(recording))
    out["profile"] = profile
    return out
