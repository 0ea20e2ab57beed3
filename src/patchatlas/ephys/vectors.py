"""Gouwens-style feature vectors (Gouwens et al. 2019 Nat Neurosci; 2020 Cell) from long squares.

The vector families and their sampling follow the published descriptions (restated in
``../shared/notes/ephys.md`` §2.1); the exact IPFX windows are not reproduced, so the
convention is ``patchatlas`` ("Gouwens-style"), not ``allen``. Every vector has a fixed length
for a given protocol, with NaN where a sweep is missing:

* ``step_subthresh``: for target amplitudes −90, −70, −50, −30, −10 pA (±5 pA), the mean V in
  ``n_sub`` (140) equal bins from ``start − 0.1 × duration`` to ``end + 0.2 × duration``;
  concatenated (5 × 140).
* ``subthresh_norm``: the sweep closest to −90 pA (the most hyperpolarising), baseline-subtracted
  and divided by |its peak deflection| (140).
* ``isi_shape``: mean over the ISIs of the hero sweep of V from each fast trough to the next
  threshold, resampled to 100 points, minus the mean threshold (100).
* ``first_ap_v`` / ``first_ap_dv``: V of the first spike of the rheobase sweep from threshold
  − 1 ms, 3 ms long, resampled to 150 points; and its derivative in V/s (149).
* ``psth``: firing rate (Hz) in 50 ms bins over the step, for the sweeps at rheobase + 0, 20,
  40, 60, 80, 100 pA (±5 pA; NaN when absent).
* ``inst_freq``: instantaneous frequency (1/ISI, Hz) averaged in 20 ms bins, same sweeps.
* ``spiking_{upstroke_downstroke_ratio, peak_v, fast_trough_v, threshold_v, width}``: the
  per-spike feature averaged in 20 ms bins (by threshold time), same sweeps.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from patchatlas.core.recording import Recording, StimulusKind
from patchatlas.ephys.cell import SweepResult, analyze_recording

__all__ = ["feature_vectors"]

FloatArray = npt.NDArray[np.float64]

SUB_TARGETS = (-90.0, -70.0, -50.0, -30.0, -10.0)
SUPRA_OFFSETS = (0.0, 20.0, 40.0, 60.0, 80.0, 100.0)
SPIKING_FEATURES = ("upstroke_downstroke_ratio", "peak_v", "fast_trough_v", "threshold_v", "width")


def _closest(results: list[SweepResult], amp: float, tol: float = 5.0) -> SweepResult | None:
    best, dist = None, tol + 1e-9
    for r in results:
        d = abs(float(r.features["stim_amp"]) - amp)
        if d <= dist:
            best, dist = r, d
    return best


def _binned_mean(t_: npt.ArrayLike, v_: npt.ArrayLike, a: float, b: float, n: int) -> FloatArray:
    t = np.asarray(t_, dtype=np.float64)
    v = np.asarray(v_, dtype=np.float64)
    edges = np.linspace(a, b, n + 1)
    idx = np.searchsorted(t, edges)
    sums = np.add.reduceat(v, np.minimum(idx[:-1], v.size - 1)) if v.size else np.zeros(n)
    counts = np.diff(idx)
    out = np.full(n, np.nan)
    ok = counts > 0
    out[ok] = sums[ok] / counts[ok]
    return out


def _bin_values(
    times: FloatArray, vals: FloatArray, a: float, b: float, width: float
) -> FloatArray:
    n = max(1, round((b - a) / width))
    k = np.floor((times - a) / width).astype(np.int64)
    ok = (k >= 0) & (k < n) & np.isfinite(vals)
    s = np.bincount(k[ok], weights=vals[ok], minlength=n)
    c = np.bincount(k[ok], minlength=n)
    out = np.full(n, np.nan)
    out[c > 0] = s[c > 0] / c[c > 0]
    return out


def feature_vectors(
    recording: Recording,
    *,
    profile: str = "allen",
    results: list[SweepResult] | None = None,
    n_sub: int = 140,
) -> dict[str, Any]:
    """Gouwens-style feature vectors of a cell (dict name → 1-D float array; see module docs).

    Parameters
    ----------
    recording
        The cell's sweeps; only its long squares are used.
    profile
        ``"allen"`` or ``"robust"`` spike detection, used when ``results`` is None.
    results
        Sweeps already analysed with :func:`patchatlas.ephys.cell.analyze_recording` (saves
        analysing ``recording`` again); None analyses it.
    n_sub
        Number of bins per subthreshold sweep in ``step_subthresh`` and ``subthresh_norm``.

    Returns
    -------
    dict of str to Any
        Name → 1-D float64 array: ``step_subthresh`` (mV, ``5 × n_sub``), ``subthresh_norm``
        (dimensionless), ``isi_shape`` and ``first_ap_v`` (mV), ``first_ap_dv`` (V/s),
        ``psth`` and ``inst_freq`` (Hz) and ``spiking_*`` (registry units). Empty without an
        analysed long square; ``subthresh_norm`` is absent without a subthreshold one, the
        spiking families without a spiking one (and ``isi_shape`` without a usable
        inter-spike interval).
    """
    res = results if results is not None else analyze_recording(recording, profile=profile)
    ls = [r for r in res if r.ok and r.sweep.stimulus.kind == StimulusKind.LONG_SQUARE]
    out: dict[str, Any] = {}
    if not ls:
        return out
    dur = float(np.median([r.sweep.stimulus.duration for r in ls]))
    sub = [r for r in ls if r.features["n_spikes"] == 0 and r.features["stim_amp"] < 0]
    blocks = []
    for amp in SUB_TARGETS:
        r = _closest(sub, amp)
        if r is None:
            blocks.append(np.full(n_sub, np.nan))
            continue
        s = r.sweep.stimulus
        blocks.append(
            _binned_mean(
                r.sweep.t,
                np.asarray(r.sweep.v, float),
                s.start - 0.1 * dur,
                s.end + 0.2 * dur,
                n_sub,
            )
        )
    out["step_subthresh"] = np.concatenate(blocks)
    r = min(sub, key=lambda q: abs(q.features["stim_amp"] - SUB_TARGETS[0]), default=None)
    if r is not None:
        base = r.features["v_baseline"]
        defl = r.features["peak_deflect_v"] - base
        blk = blocks[0] if _closest(sub, SUB_TARGETS[0]) is r else None
        if blk is None:
            s = r.sweep.stimulus
            blk = _binned_mean(
                r.sweep.t,
                np.asarray(r.sweep.v, float),
                s.start - 0.1 * dur,
                s.end + 0.2 * dur,
                n_sub,
            )
        out["subthresh_norm"] = (
            (blk - base) / abs(defl) if defl and math.isfinite(defl) else blk * np.nan
        )
    spiking = sorted(
        (q for q in ls if q.features["n_spikes"] > 0 and q.features["stim_amp"] > 0),
        key=lambda q: q.features["stim_amp"],
    )
    if not spiking:
        return out
    rheo = spiking[0]
    rheo_amp = float(rheo.features["stim_amp"])
    # first AP waveform
    sp = rheo.spikes
    assert sp is not None
    t, v = rheo.sweep.t, np.asarray(rheo.sweep.v, float)
    t0 = float(sp["threshold_t"][0]) - 0.001
    grid = t0 + np.arange(150) * (0.003 / 150)
    wave = np.interp(grid, t, v, left=np.nan, right=np.nan)
    out["first_ap_v"] = wave
    out["first_ap_dv"] = np.diff(wave) / (0.003 / 150) * 1e-3
    # ISI shape from the hero sweep (first sweep >= rheobase + 40 pA with >= 2 spikes, else rheo)
    hero = next(
        (
            q
            for q in spiking
            if q.features["stim_amp"] >= rheo_amp + 39 and q.features["n_spikes"] >= 2
        ),
        rheo,
    )
    hs = hero.spikes
    assert hs is not None
    if hs.n_rows >= 2:
        ft, thr = hs["fast_trough_t"][:-1], hs["threshold_t"][1:]
        ok = np.isfinite(ft) & (thr > ft)
        if ok.any():
            ht, hv = hero.sweep.t, np.asarray(hero.sweep.v, float)
            frac = np.linspace(0.0, 1.0, 100)
            pts = ft[ok, None] + (thr[ok] - ft[ok])[:, None] * frac[None, :]
            shapes = np.interp(pts.ravel(), ht, hv).reshape(pts.shape)
            out["isi_shape"] = shapes.mean(axis=0) - float(np.nanmean(hs["threshold_v"]))
    # PSTH, instantaneous frequency and binned spike features at rheobase + 0 ... 100 pA
    psth, inst = [], []
    spk: dict[str, list[FloatArray]] = {f: [] for f in SPIKING_FEATURES}
    for off in SUPRA_OFFSETS:
        q = _closest(spiking, rheo_amp + off)
        s0 = ls[0].sweep.stimulus
        a, b = (q.sweep.stimulus.start, q.sweep.stimulus.end) if q else (s0.start, s0.end)
        n50, n20 = max(1, round((b - a) / 0.05)), max(1, round((b - a) / 0.02))
        if q is None or q.spikes is None:
            psth.append(np.full(n50, np.nan))
            inst.append(np.full(n20, np.nan))
            for f in SPIKING_FEATURES:
                spk[f].append(np.full(n20, np.nan))
            continue
        tt = q.spikes["threshold_t"]
        counts = np.histogram(tt, bins=np.linspace(a, b, n50 + 1))[0]
        psth.append(counts / 0.05)
        if tt.size >= 2:
            mids = 0.5 * (tt[1:] + tt[:-1])
            inst.append(_bin_values(mids, 1.0 / np.diff(tt), a, b, 0.02))
        else:
            inst.append(np.zeros(n20))
        for f in SPIKING_FEATURES:
            spk[f].append(_bin_values(tt, np.asarray(q.spikes[f], float), a, b, 0.02))
    out["psth"] = np.concatenate(psth)
    out["inst_freq"] = np.concatenate(inst)
    for f in SPIKING_FEATURES:
        out[f"spiking_{f}"] = np.concatenate(spk[f])
    return out
