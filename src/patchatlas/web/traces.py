"""Trace preparation for display: min/max downsampling, spike markers, f-I points, phase plots.

These are display helpers for the portal (what to draw), not the ephys feature engines: spike
markers are upward crossings of ``threshold_mv`` and are labelled as such on the page; stored
spike-level features are shown instead when the atlas holds them.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["crossings", "downsample", "phase_plot", "sweep_payload"]

FloatArray = npt.NDArray[np.float64]


def downsample(
    t: FloatArray, ys: list[FloatArray | None], points: int
) -> tuple[FloatArray, list[FloatArray | None]]:
    """Min/max decimation to about ``points`` samples, keeping every peak visible.

    Each bucket of samples contributes its minimum and its maximum of the first trace (in time
    order); the other traces are sampled at the same indices.
    """
    n = len(t)
    if points <= 0 or n <= points:
        return t, ys
    buckets = max(points // 2, 1)
    size = math.ceil(n / buckets)
    pad = buckets * size - n
    main = ys[0]
    assert main is not None
    padded = np.concatenate([main, np.full(pad, main[-1])]) if pad else main
    blocks = padded.reshape(buckets, size)
    base = np.arange(buckets) * size
    imin = base + np.argmin(blocks, axis=1)
    imax = base + np.argmax(blocks, axis=1)
    idx = np.sort(np.concatenate([imin, imax]))
    idx = idx[idx < n]
    idx = np.unique(idx)
    return t[idx], [None if y is None else y[idx] for y in ys]


def crossings(t: FloatArray, v: FloatArray, *, threshold_mv: float = -20.0) -> FloatArray:
    """Times where ``v`` crosses ``threshold_mv`` upwards (display spike markers)."""
    above = v >= threshold_mv
    idx = np.flatnonzero(~above[:-1] & above[1:]) + 1
    return t[idx]


def phase_plot(
    t: FloatArray,
    v: FloatArray,
    *,
    threshold_mv: float = -20.0,
    before_s: float = 0.002,
    after_s: float = 0.004,
) -> dict[str, list[float]] | None:
    """dV/dt (mV/ms) against V (mV) around the first upward crossing; None without a spike."""
    ts = crossings(t, v, threshold_mv=threshold_mv)
    if len(ts) == 0:
        return None
    i0 = int(np.searchsorted(t, ts[0]))
    dt = float(np.median(np.diff(t[: min(len(t), 1000)]))) if len(t) > 1 else 1.0
    lo = max(i0 - int(before_s / dt), 1)
    hi = min(i0 + int(after_s / dt), len(v) - 1)
    seg_t, seg_v = t[lo:hi], v[lo:hi]
    dvdt = np.gradient(seg_v, seg_t) / 1000.0  # mV/s -> mV/ms
    return {"v": seg_v.round(3).tolist(), "dvdt": dvdt.round(3).tolist()}


def _clean(a: FloatArray | None, digits: int) -> list[float | None] | None:
    if a is None:
        return None
    r = np.round(a.astype(float), digits)
    return [x if math.isfinite(x) else None for x in r.tolist()]


def sweep_payload(sweep: Any, *, points: int = 2000, threshold_mv: float = -20.0) -> dict[str, Any]:
    """JSON for one sweep: downsampled ``t`` (s), ``v`` (mV), ``i`` (pA, stimulus) plus the
    stimulus description and display spike markers (computed on the full-resolution trace)."""
    t = np.asarray(sweep.t, dtype=float)
    v = np.asarray(sweep.v, dtype=float)
    i = None if sweep.i is None else np.asarray(sweep.i, dtype=float)
    spikes = crossings(t, v, threshold_mv=threshold_mv) if len(v) > 1 else np.array([])
    td, (vd, idn) = downsample(t, [v, i], points)
    stim = sweep.stimulus
    return {
        "number": int(sweep.number),
        "clamp_mode": str(sweep.clamp_mode),
        "sampling_rate_hz": float(sweep.sampling_rate),
        "n_samples": len(v),
        "n_points": len(td),
        "t": _clean(td, 6),
        "v": _clean(vd, 3),
        "i": _clean(idn, 3),
        "stimulus": {
            "kind": str(stim.kind),
            "amplitude_pa": None if not math.isfinite(stim.amplitude) else float(stim.amplitude),
            "start_s": None if not math.isfinite(stim.start) else float(stim.start),
            "end_s": None if not math.isfinite(stim.end) else float(stim.end),
            "name": stim.name,
        },
        "spike_times_s": _clean(spikes, 6),
        "spike_marker_rule": f"upward crossing of {threshold_mv:g} mV",
    }
