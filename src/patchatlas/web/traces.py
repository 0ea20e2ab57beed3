"""Trace preparation for display: min/max downsampling and the JSON of one sweep.

Display only: nothing here finds spikes or computes features. Spike markers, f-I points and the
phase plot come from the results stored in the atlas (:func:`patchatlas.ephys.analyze`, through
the ingest) and from :func:`patchatlas.ephys.phase_plane`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["clean", "downsample", "sweep_payload"]

FloatArray = npt.NDArray[np.float64]


def downsample(
    t: FloatArray, ys: list[FloatArray | None], points: int
) -> tuple[FloatArray, list[FloatArray | None]]:
    """Min/max decimation to about ``points`` samples, keeping every peak visible.

    Each bucket of samples contributes its minimum and its maximum of the first trace (in time
    order); the other traces are sampled at the same indices.

    Parameters
    ----------
    t
        Sample times (s).
    ys
        Traces sampled at ``t``; the first one (not None) decides which samples are kept.
    points
        About how many samples to keep (≤ 0: all).

    Returns
    -------
    t : numpy.ndarray
        The kept times (s).
    ys : list of numpy.ndarray or None
        Each trace at the kept samples.
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


def clean(a: npt.ArrayLike | None, digits: int) -> list[float | None] | None:
    """Values rounded to ``digits`` decimals for JSON, NaN and infinities as None.

    Parameters
    ----------
    a
        Values (None passes through).
    digits
        Decimals kept.

    Returns
    -------
    list or None
    """
    if a is None:
        return None
    r = np.round(np.asarray(a, dtype=float), digits)
    return [x if math.isfinite(x) else None for x in r.tolist()]


def sweep_payload(sweep: Any, *, points: int = 2000) -> dict[str, Any]:
    """JSON for one sweep: downsampled ``t`` (s), ``v`` (mV), ``i`` (pA, stimulus) and the
    stimulus description.

    Parameters
    ----------
    sweep
        A :class:`patchatlas.core.Sweep` with its resolved stimulus.
    points
        About how many samples to send (see :func:`downsample`).

    Returns
    -------
    dict
        ``number``, ``clamp_mode``, ``sampling_rate_hz``, ``n_samples``, ``n_points``, ``t``,
        ``v``, ``i`` and ``stimulus`` (``kind``, ``amplitude_pa``, ``start_s``, ``end_s``,
        ``name``).
    """
    t = np.asarray(sweep.t, dtype=float)
    v = np.asarray(sweep.v, dtype=float)
    i = None if sweep.i is None else np.asarray(sweep.i, dtype=float)
    td, (vd, idn) = downsample(t, [v, i], points)
    stim = sweep.stimulus
    return {
        "number": int(sweep.number),
        "clamp_mode": str(sweep.clamp_mode),
        "sampling_rate_hz": float(sweep.sampling_rate),
        "n_samples": len(v),
        "n_points": len(td),
        "t": clean(td, 6),
        "v": clean(vd, 3),
        "i": clean(idn, 3),
        "stimulus": {
            "kind": str(stim.kind),
            "amplitude_pa": None if not math.isfinite(stim.amplitude) else float(stim.amplitude),
            "start_s": None if not math.isfinite(stim.start) else float(stim.start),
            "end_s": None if not math.isfinite(stim.end) else float(stim.end),
            "name": stim.name,
        },
    }
