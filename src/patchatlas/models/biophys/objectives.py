"""Fitting targets and feature errors: the Allen feature list, SD-normalised, from the ephys engine.

Both the data and the model go through :func:`patchatlas.ephys.analyze`; this module only
aggregates its per-spike values into the sweep-level quantities the Allen fits use and scores a
model sweep against a target:

=========================  ==========================================================  ======
feature                    definition (long-square sweep, stimulus window)              unit
=========================  ==========================================================  ======
``avg_rate``               spikes / stimulus duration (ephys sweep feature)             Hz
``peak_v``                 mean spike peak                                              mV
``fast_trough_v``          mean fast trough                                             mV
``slow_trough_delta_v``    mean of ``slow_trough_v − fast_trough_v`` over spikes         mV
``slow_trough_delta_time`` mean of ``(slow_trough_t − fast_trough_t) / ISI`` over spikes   1
                           with a following spike
``v_baseline``             mean V before the stimulus (ephys sweep feature)             mV
``width``                  mean spike width at half height                              s
``adapt``                  adaptation index (ephys sweep feature)                       1
``latency``                stimulus onset → first spike threshold                       s
``isi_cv``                 ISI coefficient of variation                                 1
``mean_isi``               mean ISI                                                     s
``first_isi``              first ISI                                                    s
=========================  ==========================================================  ======

A target holds, per feature, the mean over the recorded sweeps of that amplitude and an SD: the SD
across those sweeps when there are several, floored at ``max(absolute floor, 10 % of |mean|)``
(absolute floors: 1 Hz, 2 mV, 0.05, 0.1 ms, 0.02, 2 ms, 0.05, 2 ms, 2 ms for the features in the
table's order where they apply). The error of a model sweep is ``|model − mean| / SD`` per
feature; a feature the data has and the model lacks (no spikes, a single spike for ISI features)
scores the ``penalty`` (20 SDs).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from patchatlas.core.recording import StimulusKind
from patchatlas.errors import DataError, ParameterError

if TYPE_CHECKING:  # pragma: no cover
    from patchatlas.ephys.analysis import EphysResult, SweepAnalysis

__all__ = [
    "ALLEN_FEATURES",
    "FEATURE_GROUPS",
    "FEATURE_UNITS",
    "FitTarget",
    "feature_errors",
    "sweep_fit_features",
    "targets_from_ephys",
]

#: the features of the Allen biophysical fits, in order
ALLEN_FEATURES = (
    "avg_rate",
    "peak_v",
    "fast_trough_v",
    "slow_trough_delta_v",
    "slow_trough_delta_time",
    "v_baseline",
    "width",
    "adapt",
    "latency",
    "isi_cv",
    "mean_isi",
    "first_isi",
)
FEATURE_UNITS = {
    "avg_rate": "Hz",
    "peak_v": "mV",
    "fast_trough_v": "mV",
    "slow_trough_delta_v": "mV",
    "slow_trough_delta_time": "1",
    "v_baseline": "mV",
    "width": "s",
    "adapt": "1",
    "latency": "s",
    "isi_cv": "1",
    "mean_isi": "s",
    "first_isi": "s",
}
#: objective groups of :func:`~patchatlas.models.biophys.fit` with ``objectives="groups"``: each
#: objective is the mean SD-normalised error of its features (NSGA-II selects well on a few
#: objectives; with one objective per feature most of a small population is non-dominated)
FEATURE_GROUPS: dict[str, tuple[str, ...]] = {
    "firing": ("avg_rate", "latency", "first_isi", "mean_isi", "isi_cv", "adapt"),
    "spike_shape": ("peak_v", "fast_trough_v", "width"),
    "ahp": ("slow_trough_delta_v", "slow_trough_delta_time"),
    "baseline": ("v_baseline",),
}

#: absolute SD floors (feature units)
SD_FLOOR = {
    "avg_rate": 1.0,
    "peak_v": 2.0,
    "fast_trough_v": 2.0,
    "slow_trough_delta_v": 2.0,
    "slow_trough_delta_time": 0.05,
    "v_baseline": 2.0,
    "width": 1e-4,
    "adapt": 0.02,
    "latency": 2e-3,
    "isi_cv": 0.05,
    "mean_isi": 2e-3,
    "first_isi": 2e-3,
}
#: relative SD floor (fraction of |mean|)
SD_RELATIVE = 0.1


@dataclass(frozen=True)
class FitTarget:
    """The recorded features at one long-square amplitude.

    Attributes
    ----------
    amplitude_pa
        Step amplitude in pA.
    duration_s
        Step duration in s.
    features
        Feature name → ``(mean, sd)`` in feature units (only features the data defines).
    sweeps
        The recorded sweep numbers behind it.
    """

    amplitude_pa: float
    duration_s: float
    features: Mapping[str, tuple[float, float]]
    sweeps: tuple[int, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form (for provenance and the atlas).

        Returns
        -------
        dict
            ``amplitude_pa``, ``duration_s``, ``sweeps`` and ``features`` (name → [mean, sd]).
        """
        return {
            "amplitude_pa": self.amplitude_pa,
            "duration_s": self.duration_s,
            "sweeps": list(self.sweeps),
            "features": {k: [float(m), float(s)] for k, (m, s) in self.features.items()},
        }


def _mean(a: Any) -> float:
    x = np.asarray(a, dtype=np.float64)
    x = x[np.isfinite(x)]
    return float(x.mean()) if x.size else math.nan


def sweep_fit_features(sa: SweepAnalysis) -> dict[str, float]:
    """The fit features of one analysed sweep (NaN where undefined).

    Parameters
    ----------
    sa
        A sweep's analysis from :func:`patchatlas.ephys.analyze`.

    Returns
    -------
    dict
        Every name of :data:`ALLEN_FEATURES` → value in :data:`FEATURE_UNITS`.
    """
    f = sa.features
    out = dict.fromkeys(ALLEN_FEATURES, math.nan)
    for k in ("avg_rate", "v_baseline", "adapt", "latency", "isi_cv", "mean_isi", "first_isi"):
        v = f.get(k, math.nan)
        out[k] = float(v) if v is not None else math.nan
    sp = sa.spikes
    if sp is None or len(sp) == 0:
        if not math.isfinite(out["avg_rate"]):
            out["avg_rate"] = 0.0
        return out
    inw = np.asarray(sp["in_window"], dtype=bool)
    if not inw.any():
        return out

    def col(name: str) -> np.ndarray:
        return (
            np.asarray(sp[name], dtype=np.float64)[inw]
            if name in sp
            else np.full(inw.sum(), np.nan)
        )

    out["peak_v"] = _mean(col("peak_v"))
    out["fast_trough_v"] = _mean(col("fast_trough_v"))
    out["width"] = _mean(col("width"))
    ftv, stv = col("fast_trough_v"), col("slow_trough_v")
    out["slow_trough_delta_v"] = _mean(stv - ftv)
    th = col("threshold_t")
    if th.size > 1:
        ftt, stt = col("fast_trough_t"), col("slow_trough_t")
        isi = np.diff(th)
        with np.errstate(invalid="ignore", divide="ignore"):
            out["slow_trough_delta_time"] = _mean((stt[:-1] - ftt[:-1]) / isi)
    return out


def _sd(
    values: np.ndarray, name: str, mean: float, relative: float = SD_RELATIVE, scale: float = 1.0
) -> float:
    floor = max(scale * SD_FLOOR.get(name, 0.0), relative * abs(mean))
    sd = float(np.std(values, ddof=1)) if values.size > 1 else 0.0
    return max(sd, floor) if floor > 0 else (sd if sd > 0 else 1.0)


def targets_from_ephys(
    result: EphysResult,
    *,
    amplitudes: Sequence[float] | None = None,
    n_amplitudes: int = 2,
    features: Sequence[str] = ALLEN_FEATURES,
    tolerance_pa: float = 1.0,
    sd_relative: float = SD_RELATIVE,
    sd_floor_scale: float = 1.0,
) -> list[FitTarget]:
    """Fitting targets from a cell's analysed long-square sweeps.

    Parameters
    ----------
    result
        :func:`patchatlas.ephys.analyze` of the cell's recording.
    amplitudes
        Long-square amplitudes (pA) to fit; sweeps within ``tolerance_pa`` of each are pooled
        (mean and SD). Default: ``n_amplitudes`` spiking amplitudes spread over the spiking
        range (the middle and the highest for 2).
    n_amplitudes
        How many amplitudes to choose when ``amplitudes`` is None.
    features
        Feature names (a subset of :data:`ALLEN_FEATURES`).
    tolerance_pa
        Amplitude tolerance for pooling sweeps.
    sd_relative
        Relative SD floor (fraction of ``|mean|``, default 0.1).
    sd_floor_scale
        Factor on the absolute SD floors (e.g. 0.1 for noise-free synthetic targets).

    Returns
    -------
    list of FitTarget
        One per amplitude, features the data defines only.

    Raises
    ------
    patchatlas.errors.DataError
        The recording has no analysed long-square sweep (or none at a requested amplitude).
    patchatlas.errors.ParameterError
        An unknown feature name.
    """
    bad = [f for f in features if f not in ALLEN_FEATURES]
    if bad:
        raise ParameterError(f"unknown fit feature(s) {bad}; use names of {ALLEN_FEATURES}")
    longs = [s for s in result.sweeps if s.ok and s.sweep.stimulus.kind == StimulusKind.LONG_SQUARE]
    if not longs:
        raise DataError(
            f"{result.cell_id}: no analysed long-square sweep to fit (fits use long squares)"
        )
    amps = np.array([float(s.sweep.stimulus.amplitude) for s in longs])
    if amplitudes is None:
        spiking = np.unique(np.round(amps[[s.n_spikes > 0 for s in longs]]))
        if spiking.size == 0:
            raise DataError(f"{result.cell_id}: no spiking long-square sweep to fit")
        k = max(1, min(int(n_amplitudes), spiking.size))
        idx = np.unique(
            np.round(np.linspace(spiking.size - 1, (spiking.size - 1) / 2, k)).astype(int)
        )
        chosen = [float(spiking[i]) for i in sorted(idx)]
    else:
        chosen = [float(a) for a in amplitudes]
    out = []
    for a in chosen:
        members = [s for s, x in zip(longs, amps, strict=True) if abs(x - a) <= tolerance_pa]
        if not members:
            raise DataError(
                f"{result.cell_id}: no analysed long-square sweep at {a:g} pA (have "
                f"{sorted(set(np.round(amps, 1).tolist()))})"
            )
        per = [sweep_fit_features(s) for s in members]
        feats: dict[str, tuple[float, float]] = {}
        for name in features:
            vals = np.array([p[name] for p in per], dtype=np.float64)
            vals = vals[np.isfinite(vals)]
            if vals.size == 0:
                continue
            m = float(vals.mean())
            feats[name] = (m, _sd(vals, name, m, sd_relative, sd_floor_scale))
        dur = float(np.median([s.sweep.stimulus.duration for s in members]))
        out.append(FitTarget(a, dur, feats, tuple(s.number for s in members)))
    return out


def feature_errors(
    model_features: Mapping[str, float], target: FitTarget, *, penalty: float = 20.0
) -> dict[str, float]:
    """SD-normalised errors of a model sweep's features against a target.

    Parameters
    ----------
    model_features
        :func:`sweep_fit_features` of the model sweep.
    target
        The recorded target.
    penalty
        Error (in SDs) of a feature the target has and the model does not.

    Returns
    -------
    dict
        Feature → ``|model − mean| / sd`` for every feature of the target.
    """
    out = {}
    for name, (m, sd) in target.features.items():
        v = model_features.get(name, math.nan)
        out[name] = abs(v - m) / sd if math.isfinite(v) else float(penalty)
    return out
