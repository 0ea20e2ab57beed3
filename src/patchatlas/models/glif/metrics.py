"""How well a model's spikes match recorded spikes.

* Teeter et al. (2018)'s **explained-variance ratio**: each spike train becomes a binary train at
  the sweep's time step convolved with a normalised Gaussian (σ = 10 ms, window 10σ);
  ``EV(x, y) = (var x + var y − var(x − y)) / (var x + var y)``; the data's EV is the mean over
  repeats i of EV(PSTH, trial_i) with the PSTH the mean of the convolved repeats *including*
  trial i; the model's EV is the mean over repeats of EV(trial_i, model); the ratio is
  model EV / data EV (needs ≥ 2 repeats of one stimulus);
* the same ratio over σ ∈ {1, 4, 10, 20} ms (:func:`ev_curve`);
* the **coincidence factor** Γ (Kistler et al. 1997; Jolivet et al. 2008) with a ±4 ms window;
* the **spike-count error** over sweeps.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from patchatlas.errors import DataError, ParameterError

FloatArray = npt.NDArray[np.float64]

__all__ = [
    "EV_SIGMAS",
    "coincidence_factor",
    "ev_curve",
    "explained_variance",
    "explained_variance_ratio",
    "smoothed_train",
    "spike_count_error",
]

#: σ (s) of the EV curve
EV_SIGMAS: tuple[float, ...] = (0.001, 0.004, 0.01, 0.02)


def smoothed_train(spike_times: Any, dt: float, duration: float, sigma: float = 0.01) -> FloatArray:
    """A spike train as a binary train at ``dt`` convolved with a normalised Gaussian.

    Parameters
    ----------
    spike_times
        Spike times (s, from the start of the sweep); times outside ``[0, duration)`` are
        dropped.
    dt
        Bin width (s): the sweep's time step.
    duration
        Length of the train (s).
    sigma
        Standard deviation of the Gaussian (s); the kernel spans 10σ.

    Returns
    -------
    numpy.ndarray
        ``round(duration / dt)`` values (spikes per bin, smoothed).
    """
    if not (dt > 0 and duration > 0 and sigma > 0):
        raise ParameterError(
            f"smoothed_train: dt, duration and sigma must be > 0 s, got {dt}, {duration}, {sigma}"
        )
    n = round(duration / dt)
    train = np.zeros(n)
    idx = np.floor(np.asarray(spike_times, dtype=float) / dt).astype(np.int64)
    idx = idx[(idx >= 0) & (idx < n)]
    if not idx.size:
        return train
    half = round(5 * sigma / dt)
    offsets = np.arange(-half, half + 1)
    kernel = np.exp(-0.5 * (offsets * dt / sigma) ** 2)
    kernel /= kernel.sum()
    # the convolution of the binary train, written as a sum of kernels at the spikes ("same"
    # mode: the kernel is centred on each spike and cut at the ends)
    pos = idx[:, None] + offsets[None, :]
    ok = (pos >= 0) & (pos < n)
    np.add.at(train, pos[ok], np.broadcast_to(kernel, pos.shape)[ok])
    return train


def explained_variance(x: Any, y: Any) -> float:
    """``(var x + var y − var(x − y)) / (var x + var y)``; NaN when both are constant.

    Parameters
    ----------
    x, y
        Two smoothed spike trains of equal length.

    Returns
    -------
    float
        1 for identical trains, 0 for uncorrelated ones.
    """
    a, b = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if a.shape != b.shape:
        raise DataError(f"explained_variance: trains differ in length ({a.shape} vs {b.shape})")
    den = a.var() + b.var()
    if den <= 0:
        return math.nan
    return float((den - (a - b).var()) / den)


def _trains(trials: Sequence[Any], dt: float, duration: float, sigma: float) -> list[FloatArray]:
    return [smoothed_train(t, dt, duration, sigma) for t in trials]


def explained_variance_ratio(
    data_trials: Sequence[Any],
    model_spikes: Any,
    dt: float,
    duration: float,
    *,
    sigma: float = 0.01,
) -> dict[str, float]:
    """Teeter et al. (2018)'s explained-variance ratio of a deterministic model.

    Parameters
    ----------
    data_trials
        Spike times (s) of each repeat of one stimulus (≥ 2 repeats for the ratio).
    model_spikes
        The model's spike times (s) on that stimulus.
    dt
        The sweep's time step (s).
    duration
        Length of the compared window (s).
    sigma
        Gaussian σ (s); Teeter's headline metric uses 10 ms.

    Returns
    -------
    dict
        ``data_ev`` (NaN with one repeat), ``model_ev`` and ``ratio`` (model / data; NaN
        when the data EV is NaN or 0).
    """
    if len(data_trials) < 1:
        raise DataError("explained_variance_ratio: no data trial")
    trains = _trains(data_trials, dt, duration, sigma)
    model = smoothed_train(model_spikes, dt, duration, sigma)
    model_ev = float(np.nanmean([explained_variance(tr, model) for tr in trains]))
    data_ev = math.nan
    if len(trains) >= 2:
        psth = np.mean(trains, axis=0)
        data_ev = float(np.nanmean([explained_variance(psth, tr) for tr in trains]))
    ratio = model_ev / data_ev if math.isfinite(data_ev) and data_ev > 0 else math.nan
    return {"data_ev": data_ev, "model_ev": model_ev, "ratio": ratio}


def ev_curve(
    data_trials: Sequence[Any],
    model_spikes: Any,
    dt: float,
    duration: float,
    *,
    sigmas: Sequence[float] = EV_SIGMAS,
) -> dict[float, dict[str, float]]:
    """:func:`explained_variance_ratio` at several σ.

    Parameters
    ----------
    data_trials, model_spikes, dt, duration
        As in :func:`explained_variance_ratio`.
    sigmas
        Gaussian σ values (s); default 1, 4, 10, 20 ms.

    Returns
    -------
    dict
        σ (s) → ``{"data_ev", "model_ev", "ratio"}``.
    """
    return {
        float(s): explained_variance_ratio(data_trials, model_spikes, dt, duration, sigma=s)
        for s in sigmas
    }


def coincidence_factor(
    data_spikes: Any, model_spikes: Any, duration: float, *, window: float = 0.004
) -> float:
    """Coincidence factor Γ of two spike trains (Kistler et al. 1997).

    ``Γ = (N_coinc − 2 ν Δ N_data) / (½ (N_data + N_model) (1 − 2 ν Δ))`` with ν the model's
    rate and N_coinc the data spikes matched one-to-one to a model spike within ±Δ.

    Parameters
    ----------
    data_spikes, model_spikes
        Spike times (s).
    duration
        Length of the compared window (s), for the model's rate.
    window
        Δ (s); default ±4 ms.

    Returns
    -------
    float
        1 for identical trains, about 0 for chance; NaN when neither train has a spike.
    """
    d = np.sort(np.asarray(data_spikes, dtype=float))
    m = np.sort(np.asarray(model_spikes, dtype=float))
    nd, nm = d.size, m.size
    if nd + nm == 0:
        return math.nan
    if duration <= 0 or window <= 0:
        raise ParameterError(
            f"coincidence_factor: duration and window must be > 0, got {duration}, {window}"
        )
    # one-to-one matching (both sorted: a greedy pass is optimal for an interval tolerance)
    i = j = coinc = 0
    while i < nd and j < nm:
        if abs(d[i] - m[j]) <= window:
            coinc += 1
            i += 1
            j += 1
        elif d[i] < m[j]:
            i += 1
        else:
            j += 1
    rate = nm / duration
    expected = 2 * rate * window * nd
    norm = 1.0 - 2 * rate * window
    if norm <= 0:
        return math.nan
    return float((coinc - expected) / (0.5 * (nd + nm)) / norm)


def spike_count_error(data_counts: Any, model_counts: Any) -> dict[str, float]:
    """Spike-count error over sweeps.

    Parameters
    ----------
    data_counts, model_counts
        Spikes per sweep (same order).

    Returns
    -------
    dict
        ``mae`` (mean |model − data| per sweep), ``relative`` (Σ|model − data| / Σ data; NaN
        without data spikes) and ``bias`` (mean model − data).
    """
    d = np.asarray(data_counts, dtype=float)
    m = np.asarray(model_counts, dtype=float)
    if d.shape != m.shape:
        raise DataError(f"spike_count_error: {d.shape} data counts vs {m.shape} model counts")
    if d.size == 0:
        return {"mae": math.nan, "relative": math.nan, "bias": math.nan}
    diff = m - d
    tot = d.sum()
    return {
        "mae": float(np.abs(diff).mean()),
        "relative": float(np.abs(diff).sum() / tot) if tot > 0 else math.nan,
        "bias": float(diff.mean()),
    }
