"""Sweep (spike-train) features and the per-sweep entry point :func:`sweep_features`.

Windows (``start``/``end`` are the stimulus window of the sweep):

* ``avg_rate``: spikes with threshold in ``[start, end]`` / (end − start), Hz.
* ``latency``: first threshold time − start, s.
* ``first_isi``, ``mean_isi``, ``median_isi``: inter-spike intervals of threshold times of the
  spikes in ``[start, end]``, s. ``isi_cv``: SD (ddof 0) / mean of those ISIs.
* ``adapt``: mean over consecutive ISI pairs of ``(ISI[k+1] − ISI[k]) / (ISI[k+1] + ISI[k])``.
* ``burst_n``, ``burst_max_index``: bursts are maximal runs of ≥ 3 spikes whose ISIs are all at
  most ``burst_max_isi`` (10 ms); the burstiness index of a burst is
  ``(mean ISI outside − mean ISI inside) / (sum)``; ``patchatlas`` convention (IPFX's cost-based
  bursts crash in 2.1.2).
* ``pause_n``, ``pause_frac``: ISIs longer than ``pause_factor`` (3) × the median ISI (≥ 3 ISIs);
  ``pause_frac`` = their total duration / (end − start); ``patchatlas`` convention.
* ``v_baseline``: mean V over ``[start − 100 ms, start)``.
* ``peak_deflect_v``/``peak_deflect_index``: extreme V in ``[start, end)`` in the stimulus
  direction; ``sag`` and ``vm_for_sag`` for hyperpolarising steps (see
  :mod:`patchatlas.ephys.subthreshold`); ``stim_amp``: stimulus amplitude (pA).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

import patchatlas.ephys._backend as backend
from patchatlas.core.recording import Sweep
from patchatlas.core.table import FeatureTable
from patchatlas.ephys._detect import detect, finish, prepare
from patchatlas.ephys.spikes import AllenParameters
from patchatlas.ephys.subthreshold import baseline_voltage, sag, voltage_deflection
from patchatlas.errors import PatchAtlasError

FloatArray = npt.NDArray[np.float64]

__all__ = [
    "SWEEP_FEATURES",
    "analysis_window",
    "analyze_sweep",
    "analyze_sweeps",
    "spike_train_features",
    "sweep_features",
]

#: spike-train features of :func:`spike_train_features`, in its order
TRAIN_FEATURES = (
    "avg_rate",
    "n_spikes",
    "latency",
    "first_isi",
    "mean_isi",
    "median_isi",
    "isi_cv",
    "adapt",
    "burst_n",
    "burst_max_index",
    "pause_n",
    "pause_frac",
)
#: subthreshold features of a sweep, in the order :func:`sweep_features` adds them
SUBTHRESHOLD_FEATURES = (
    "stim_amp",
    "v_baseline",
    "peak_deflect_v",
    "peak_deflect_index",
    "sag",
    "vm_for_sag",
)
SWEEP_FEATURES = (*TRAIN_FEATURES, *SUBTHRESHOLD_FEATURES)


def _norm_diff_mean(isis: FloatArray) -> float:
    if isis.size < 2:
        return math.nan
    s = isis[1:] + isis[:-1]
    if np.all(np.abs(s) <= 1e-8):  # np.allclose(s, 0.0), without its overhead
        return 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        nd = (isis[1:] - isis[:-1]) / s
    nd[(isis[1:] == 0) & (isis[:-1] == 0)] = 0.0
    return float(np.nanmean(nd))


def spike_train_features(
    threshold_t: npt.ArrayLike,
    start: float,
    end: float,
    *,
    burst_max_isi: float = 0.010,
    pause_factor: float = 3.0,
    all_spikes: bool = False,
) -> dict[str, float]:
    """Train features from threshold times (s) of spikes in one sweep (see module docs).

    ``avg_rate`` counts spikes with threshold in ``[start, end]``. With ``all_spikes`` (the
    Allen convention) latency and intervals use every spike given; otherwise only those.

    Parameters
    ----------
    threshold_t
        Threshold times of the detected spikes (s), ascending.
    start, end
        Analysis (stimulus) window (s). When ``end - start`` is not finite, every spike is
        counted, ``avg_rate`` is NaN and ``pause_frac`` is 0.
    burst_max_isi
        Longest inter-spike interval that counts as inside a burst (s).
    pause_factor
        An ISI longer than ``pause_factor`` times the median ISI is a pause (needs at least 3
        ISIs).
    all_spikes
        Use every spike given (not only those in ``[start, end]``) for latency, ISIs, bursts
        and pauses.

    Returns
    -------
    dict of str to float
        One value per name of ``TRAIN_FEATURES``: ``avg_rate`` (Hz), ``n_spikes``, ``latency``
        and the ISI statistics (s), ``isi_cv`` and ``adapt`` (dimensionless), burst and pause
        counts, ``burst_max_index`` and ``pause_frac`` (dimensionless). Undefined values are
        NaN; the burst and pause counts and ``pause_frac`` are 0 when there is no burst or
        pause.
    """
    tt = np.asarray(threshold_t, dtype=np.float64)
    out: dict[str, float] = dict.fromkeys(TRAIN_FEATURES, math.nan)
    dur = end - start
    in_w = tt[(tt >= start) & (tt <= end)] if math.isfinite(dur) else tt
    out["n_spikes"] = float(in_w.size)
    out["avg_rate"] = in_w.size / dur if math.isfinite(dur) and dur > 0 else math.nan
    if all_spikes:
        in_w = tt
    out["burst_n"] = 0.0
    out["pause_n"] = 0.0
    out["pause_frac"] = 0.0
    if in_w.size == 0:
        out["burst_max_index"] = math.nan
        return out
    out["latency"] = float(in_w[0] - start) if math.isfinite(start) else math.nan
    isis = np.diff(in_w)
    if isis.size:
        mean = float(isis.mean())
        out["first_isi"] = float(isis[0])
        out["mean_isi"] = mean
        median = float(np.median(isis))
        out["median_isi"] = median
        out["isi_cv"] = float(isis.std() / mean) if mean > 0 else math.nan
        out["adapt"] = _norm_diff_mean(isis)
        # bursts: runs of >= 2 consecutive short ISIs
        short = isis <= burst_max_isi
        edges = np.diff(np.concatenate(([0], short.astype(np.int8), [0])))
        r0, r1 = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        runs = (r1 - r0) >= 2
        out["burst_n"] = float(runs.sum())
        if runs.any() and (~short).any():
            inside = float(isis[short].mean())
            outside = float(isis[~short].mean())
            out["burst_max_index"] = (outside - inside) / (outside + inside)
        if isis.size >= 3:
            long_ = isis > pause_factor * median
            out["pause_n"] = float(long_.sum())
            if math.isfinite(dur) and dur > 0:
                out["pause_frac"] = float(isis[long_].sum() / dur)
    return out


def analysis_window(sweep: Sweep, t: FloatArray | None = None) -> tuple[float, float]:
    """The window (s) a sweep is analysed in: its stimulus window, clipped to the last sample.

    Parameters
    ----------
    sweep
        The sweep.
    t
        Its time axis (default: ``sweep.t``).

    Returns
    -------
    (start, end)
        In s, sweep clock; ``(nan, nan)`` when the stimulus window is unknown or outside the
        sweep (the whole sweep is then analysed and window-dependent features are NaN).
    """
    s, e = sweep.stimulus.start, sweep.stimulus.end
    t0 = sweep.t0
    t1 = t0 + sweep.duration
    n = sweep.n_samples
    if math.isfinite(s) and math.isfinite(e) and e > s and s < t1 and e > t0 and n:
        last = float(t[-1]) if t is not None else float(sweep.t[-1])
        return s, min(e, last)
    return math.nan, math.nan


def _detect_args(
    sweep: Sweep,
    profile: str,
    filter_khz: float | None,
    per_spike: bool,
    parameters: AllenParameters | None = None,
) -> Any:
    t = np.asarray(sweep.t, dtype=np.float64)
    v = np.asarray(sweep.v, dtype=np.float64)
    s, e = analysis_window(sweep, t)
    i = None if sweep.i is None else np.asarray(sweep.i, dtype=np.float64)
    kw = {
        "start": None if math.isnan(s) else s,
        "end": None if math.isnan(e) else e,
        "profile": profile,
        "filter_khz": filter_khz,
        "i": i,
        "full": per_spike,
        "grid": sweep.uniform,
        "parameters": parameters,
    }
    return t, v, s, e, kw


def analyze_sweep(
    sweep: Sweep,
    *,
    profile: str = "allen",
    filter_khz: float | None = 10.0,
    per_spike: bool = True,
    parameters: AllenParameters | None = None,
) -> tuple[FeatureTable, dict[str, Any]]:
    """Spikes and sweep features of one sweep (the stimulus window is the analysis window).

    Parameters
    ----------
    sweep
        A current-clamp sweep.
    profile
        ``"allen"`` or ``"robust"``.
    filter_khz
        dV/dt filter cutoff (kHz).
    per_spike
        False: the spike table has only the threshold and peak columns; the spikes and every
        sweep feature are the same, at about half the cost.
    parameters
        :class:`~patchatlas.ephys.spikes.AllenParameters`, overriding every detection
        parameter, ``filter_khz`` included.

    Returns
    -------
    spikes : FeatureTable
        One row per detected spike.
    features : dict
        The sweep features (see the module docs) plus ``sweep_number``, ``stimulus_kind`` and
        ``filter_khz_used``.

    Raises
    ------
    patchatlas.errors.PatchAtlasError
        Malformed traces (NaN in the window, time running backwards ...).
    """
    t, v, s, e, kw = _detect_args(sweep, profile, filter_khz, per_spike, parameters)
    spikes = detect(t, v, **kw)
    return spikes, _features(sweep, t, v, s, e, spikes, profile)


def analyze_sweeps(
    sweeps: list[Sweep],
    *,
    profile: str = "allen",
    filter_khz: float | None = 10.0,
    per_spike: list[bool] | None = None,
    parameters: AllenParameters | None = None,
) -> list[tuple[FeatureTable, dict[str, Any]] | Exception]:
    """:func:`analyze_sweep` of many sweeps, spike detection batched over them.

    On the NumPy backend the sweeps (typically one recording) that share a sampling step and
    filter are detected in one pass (:mod:`patchatlas.ephys._batched`; identical results to the
    per-sweep path); the compiled kernel takes them one by one. A sweep
    whose data cannot be analysed (a :class:`~patchatlas.errors.PatchAtlasError`) gets the
    exception in its place instead of stopping the others; anything else (a bug) propagates.

    Parameters
    ----------
    sweeps
        The sweeps.
    profile
        ``"allen"`` or ``"robust"``.
    filter_khz
        dV/dt filter cutoff (kHz).
    per_spike
        Per sweep, whether to compute every per-spike feature (False: threshold/peak only).
    parameters
        Detection parameters for every sweep.

    Returns
    -------
    list
        Per sweep ``(spikes, features)`` or the :class:`~patchatlas.errors.PatchAtlasError`.
    """
    from patchatlas.ephys._batched import BATCH_BUDGET

    full = [True] * len(sweeps) if per_spike is None else list(per_spike)
    res: list[Any] = [None] * len(sweeps)
    # sweeps the backend batches are handled in batches of at most BATCH_BUDGET samples, the
    # others one by one, and every batch is finished before the next is set up (memory stays
    # warm and small)
    pending: list[tuple[int, Any, tuple[Any, ...]]] = []

    def done(k: int, table: FeatureTable, a: tuple[Any, ...]) -> None:
        t, v, s, e = a
        try:
            res[k] = (table, _features(sweeps[k], t, v, s, e, table, profile))
        except PatchAtlasError as exc:
            res[k] = exc

    def flush() -> None:
        if not pending:
            return
        preps = [pr for _, pr, _ in pending]
        idxs: list[dict[str, Any] | None]
        try:
            idxs = list(backend.indices_many(preps))
        except PatchAtlasError:  # pragma: no cover - the batch failed: find the sweep
            idxs = []
            for k, pr, _ in pending:
                try:
                    idxs.append(backend.indices(pr))
                except PatchAtlasError as exc:
                    res[k] = exc
                    idxs.append(None)
        for (k, pr, a), idx in zip(pending, idxs, strict=True):
            if idx is not None:
                try:
                    table = finish(pr, idx)
                except PatchAtlasError as exc:
                    res[k] = exc
                    continue
                done(k, table, a)
        pending.clear()

    size = 0
    for k, sw in enumerate(sweeps):
        try:
            t, v, s, e, kw = _detect_args(sw, profile, filter_khz, full[k], parameters)
            pr = prepare(t, v, **kw)
            if not isinstance(pr, FeatureTable) and not backend.batches(pr):
                pr = finish(pr, backend.indices(pr))
        except PatchAtlasError as exc:  # bad data: reported per sweep, like analyze_sweep raising
            res[k] = exc
            continue
        if isinstance(pr, FeatureTable):
            done(k, pr, (t, v, s, e))
            continue
        pending.append((k, pr, (t, v, s, e)))
        size += pr.v.size
        if size >= BATCH_BUDGET:
            flush()
            size = 0
    flush()
    return res


def _features(
    sweep: Sweep,
    t: FloatArray,
    v: FloatArray,
    s: float,
    e: float,
    spikes: FeatureTable,
    profile: str,
) -> dict[str, Any]:
    thr_t = spikes["threshold_t"]
    if profile == "allen":
        # the compiled kernel's values when it is the backend (None: computed here, below)
        vals = backend.allen_sweep_features(t, v, thr_t, s, e, float(sweep.stimulus.amplitude))
        if vals is not None:
            out: dict[str, Any] = {
                "sweep_number": sweep.number,
                "stimulus_kind": sweep.stimulus.kind.value,
            }
            out.update(vals)
            out["filter_khz_used"] = (spikes.provenance.get("filter") or {}).get("used_khz")
            return out
    robust = profile == "robust" and "in_window" in spikes
    if robust:
        thr_t = thr_t[spikes["in_window"]]
    feats: dict[str, Any] = {
        "sweep_number": sweep.number,
        "stimulus_kind": sweep.stimulus.kind.value,
    }
    # allen: like IPFX, intervals and latency use every detected spike (a threshold may fall a
    # few samples before the window start); robust: only spikes inside the window
    feats.update(spike_train_features(thr_t, s, e, all_spikes=not robust))
    if profile == "robust" and "in_window" in spikes:
        feats["n_spikes_outside_window"] = float((~spikes["in_window"]).sum())
        feats["depolarization_block"] = bool(spikes.provenance.get("depolarization_block", False))
    amp = float(sweep.stimulus.amplitude)
    feats["stim_amp"] = amp
    feats["v_baseline"] = baseline_voltage(t, v, s, 0.1) if math.isfinite(s) else math.nan
    if profile == "robust" and math.isfinite(s):
        a = int(np.searchsorted(t, s - 0.1))
        b = int(np.searchsorted(t, s))
        feats["v_baseline"] = float(np.median(v[a:b])) if b > a else math.nan
    direction = "min" if amp < 0 else "max"
    if math.isfinite(s):
        pv, pk = voltage_deflection(t, v, s, e, direction)
    else:
        pv, pk = math.nan, -1
    feats["peak_deflect_v"] = pv
    feats["peak_deflect_index"] = float(pk) if pk >= 0 else math.nan
    feats["sag"] = math.nan
    feats["vm_for_sag"] = math.nan
    if math.isfinite(s) and amp < 0 and feats["n_spikes"] == 0:
        feats["sag"], feats["vm_for_sag"] = sag(t, v, s, e)
    feats["filter_khz_used"] = (spikes.provenance.get("filter") or {}).get("used_khz")
    return feats


def sweep_features(
    sweep: Sweep, *, profile: str = "allen", filter_khz: float | None = 10.0
) -> dict[str, Any]:
    """Spike-train and subthreshold features of one sweep (see the module docs for windows).

    Parameters
    ----------
    sweep
        A current-clamp :class:`~patchatlas.core.recording.Sweep`; its stimulus window is the
        analysis window (the whole sweep, with window-dependent features NaN, when unknown).
    profile
        ``"allen"`` or ``"robust"`` (see :func:`patchatlas.ephys.detect_spikes`).
    filter_khz
        dV/dt filter cutoff (kHz), lowered automatically where the sampling rate requires.

    Returns
    -------
    dict
        Feature name → value (floats, NaN where undefined) plus ``sweep_number``,
        ``stimulus_kind`` and ``filter_khz_used``.

    Raises
    ------
    PatchAtlasError
        Malformed traces (NaN in the window, time running backwards ...).
    """
    _, feats = analyze_sweep(sweep, profile=profile, filter_khz=filter_khz)
    return feats


def safe_analyze(
    sweep: Sweep, *, profile: str = "allen", filter_khz: float | None = 10.0
) -> tuple[FeatureTable | None, dict[str, Any] | None, str]:
    """:func:`analyze_sweep` that reports a bad sweep instead of raising: (spikes, feats, error)."""
    try:
        spikes, feats = analyze_sweep(sweep, profile=profile, filter_khz=filter_khz)
    except PatchAtlasError as exc:
        return None, None, str(exc)
    return spikes, feats, ""
