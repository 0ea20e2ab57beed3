"""eFEL-name layer: common eFEL features under eFEL's names **and definitions** (convention
``efel``), for users who compare with eFEL-based pipelines (BluePyEfe, BluePyOpt).

Definitions follow eFEL 5.7 (restated; times in ms as eFEL reports them, voltages in mV):
spikes are **-20 mV crossings** (peak = maximum between an upward and the next downward
crossing of ``threshold``), *not* the Allen dV/dt detection; a crossing pair anywhere in the
trace counts (``Spikecount``), ``Spikecount_stimint`` only those with the peak inside the
stimulus. eFEL first interpolates every trace to a 0.1 ms grid; this layer does the same
(``interp_step``), so on 10 kHz recordings both see the same samples.

Where eFEL and Allen definitions differ (see ``docs/ephys_parity.md`` and the registry):
latency is peak-based and may be negative (``time_to_first_spike``), ``mean_frequency``
divides by the time to the last spike, ``ISI_CV`` uses ddof 1 and drops the first ISI, the
baseline is the last 10 % before the stimulus, and the sag ratios use the last 10 % of the
stimulus as steady state, ``adaptation_index2`` uses peak times and skips the first ISI, and
amplitudes are measured from ``voltage_base`` (Allen: from the threshold).

Every name in :data:`EFEL_FEATURES` is compared with eFEL 5.7 itself in
``tests/ephys/test_efel_parity.py`` (36 names).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["EFEL_FEATURES", "efel_features"]

FloatArray = npt.NDArray[np.float64]

EFEL_FEATURES = (
    "Spikecount",
    "Spikecount_stimint",
    "peak_time",
    "peak_voltage",
    "time_to_first_spike",
    "mean_frequency",
    "all_ISI_values",
    "ISI_values",
    "ISI_CV",
    "inv_first_ISI",
    "voltage_base",
    "steady_state_voltage",
    "steady_state_voltage_stimend",
    "minimum_voltage",
    "maximum_voltage",
    "sag_amplitude",
    "sag_ratio1",
    "sag_ratio2",
    "ohmic_input_resistance_vb_ssse",
    "AP_height",
    "time_to_second_spike",
    "time_to_last_spike",
    "inv_time_to_first_spike",
    "inv_second_ISI",
    "inv_third_ISI",
    "inv_fourth_ISI",
    "inv_fifth_ISI",
    "inv_last_ISI",
    "doublet_ISI",
    "AP_amplitude_from_voltagebase",
    "maximum_voltage_from_voltagebase",
    "voltage_deflection_vb_ssse",
    "min_voltage_between_spikes",
    "adaptation_index2",
    "voltage_after_stim",
    "ISI_log_slope",
)


def _interp(t_ms: FloatArray, v: FloatArray, step: float) -> tuple[FloatArray, FloatArray]:
    n = math.floor((t_ms[-1] - t_ms[0]) / step + 1e-9) + 1
    grid = t_ms[0] + np.arange(n) * step
    if grid.size == t_ms.size and np.allclose(grid, t_ms, rtol=0, atol=1e-9 * step):
        return t_ms, v
    return grid, np.interp(grid, t_ms, v)


def efel_features(
    t: npt.ArrayLike,
    v: npt.ArrayLike,
    stim_start: float,
    stim_end: float,
    *,
    stimulus_current: float | None = None,
    threshold: float = -20.0,
    interp_step: float = 0.1,
) -> dict[str, Any]:
    """eFEL-named features of one trace.

    Parameters
    ----------
    t, v
        Time in **s** (patchatlas units; converted to ms internally) and V in mV.
    stim_start, stim_end
        Stimulus window in s.
    stimulus_current
        Step amplitude in pA (for ``ohmic_input_resistance_vb_ssse``, MΩ).
    threshold
        Spike detection level (mV), eFEL's ``Threshold``.
    interp_step
        eFEL's ``interp_step`` in ms.

    Returns
    -------
    dict
        eFEL name → value (scalars as floats, per-spike values as arrays; times in ms, as eFEL);
        NaN (or empty arrays) where eFEL returns nothing.
    """
    tm, vv = _interp(np.asarray(t, float) * 1e3, np.asarray(v, float), interp_step)
    s0, s1 = stim_start * 1e3, stim_end * 1e3
    nan = math.nan
    out: dict[str, Any] = {}
    above = vv >= threshold
    up = np.flatnonzero(~above[:-1] & above[1:]) + 1
    down = np.flatnonzero(above[:-1] & ~above[1:]) + 1
    # pair each upward crossing with the next downward crossing
    j = np.searchsorted(down, up)
    ok = j < down.size
    up, dn = up[ok], down[j[ok]]
    if up.size:
        keep = np.concatenate(([True], up[1:] >= dn[:-1]))
        up, dn = up[keep], dn[keep]
    from patchatlas.ephys._segments import seg_argext, seg_last_where

    peaks = np.empty(0, np.int64)
    if up.size:
        first = seg_argext(vv, up, dn, mode="max")
        # eFEL takes the last sample of a flat peak
        peaks = seg_last_where(vv, up, dn, vv[first], op=">=")
    pt = tm[peaks]
    pv = vv[peaks]
    inside = (pt >= s0) & (pt <= s1)
    out["Spikecount"] = float(peaks.size)
    out["Spikecount_stimint"] = float(inside.sum())
    out["peak_time"] = pt
    out["peak_voltage"] = pv
    out["time_to_first_spike"] = float(pt[0] - s0) if pt.size else nan
    n_in = int(inside.sum())
    out["mean_frequency"] = (
        1000.0 * n_in / (float(pt[inside][-1]) - s0) if n_in and pt[inside][-1] > s0 else nan
    )
    isi = np.diff(pt)
    out["all_ISI_values"] = isi
    out["ISI_values"] = isi[1:]
    out["ISI_CV"] = float(np.std(isi[1:], ddof=1) / np.mean(isi[1:])) if isi[1:].size >= 2 else nan
    out["inv_first_ISI"] = 1000.0 / float(isi[0]) if isi.size else nan

    def mean_between(m: npt.NDArray[np.bool_]) -> float:
        return float(vv[m].mean()) if m.any() else nan

    vb = mean_between((tm >= 0.9 * s0) & (tm < s0))
    out["voltage_base"] = vb
    out["steady_state_voltage"] = float(vv[tm > s1].mean()) if (tm > s1).any() else nan
    ss_end = mean_between((tm > s1 - 0.1 * (s1 - s0)) & (tm <= s1))
    out["steady_state_voltage_stimend"] = ss_end
    stim = (tm >= s0) & (tm <= s1)
    vmin = float(vv[stim].min()) if stim.any() else nan
    out["minimum_voltage"] = vmin
    out["maximum_voltage"] = float(vv[stim].max()) if stim.any() else nan
    sag_amp = ss_end - vmin
    # eFEL defines the sag only for hyperpolarising responses (steady state below baseline)
    out["sag_amplitude"] = sag_amp if sag_amp > 0 and n_in == 0 and ss_end < vb else nan
    den = vb - vmin
    out["sag_ratio1"] = out["sag_amplitude"] / den if den else nan
    out["sag_ratio2"] = (vb - ss_end) / den if den else nan
    if stimulus_current:
        out["ohmic_input_resistance_vb_ssse"] = (ss_end - vb) / (stimulus_current * 1e-3)
    else:
        out["ohmic_input_resistance_vb_ssse"] = nan
    _more(out, tm, vv, peaks, s0, s1)
    return out


def _inv(x: float) -> float:
    return 1000.0 / x if x and math.isfinite(x) else math.nan


def _more(
    out: dict[str, Any],
    tm: FloatArray,
    vv: FloatArray,
    peaks: npt.NDArray[np.int64],
    s0: float,
    s1: float,
) -> None:
    """Spike-timing, amplitude-from-baseline, deflection and after-stimulus features."""
    nan = math.nan
    pt, pv = out["peak_time"], out["peak_voltage"]
    isi = out["all_ISI_values"]
    vb = out["voltage_base"]
    out["AP_height"] = pv
    out["time_to_second_spike"] = float(pt[1] - s0) if pt.size > 1 else nan
    out["time_to_last_spike"] = float(pt[-1] - s0) if pt.size else nan
    out["inv_time_to_first_spike"] = _inv(out["time_to_first_spike"])
    for k, name in enumerate(("second", "third", "fourth", "fifth"), start=1):
        out[f"inv_{name}_ISI"] = _inv(float(isi[k])) if isi.size > k else nan
    out["inv_last_ISI"] = _inv(float(isi[-1])) if isi.size else nan
    out["doublet_ISI"] = float(isi[0]) if isi.size else nan
    out["AP_amplitude_from_voltagebase"] = pv - vb
    out["maximum_voltage_from_voltagebase"] = out["maximum_voltage"] - vb
    out["voltage_deflection_vb_ssse"] = out["steady_state_voltage_stimend"] - vb
    # minima between consecutive peaks
    if peaks.size > 1:
        from patchatlas.ephys._segments import seg_argext

        mins = seg_argext(vv, peaks[:-1], peaks[1:], mode="min")
        out["min_voltage_between_spikes"] = vv[mins]
    else:
        out["min_voltage_between_spikes"] = np.empty(0)
    # adaptation_index2: mean normalised difference of consecutive ISIs, first ISI skipped
    inside = pt[(pt >= s0) & (pt <= s1)]
    isi_in = np.diff(inside)[1:]
    if isi_in.size >= 2:
        a, b = isi_in[:-1], isi_in[1:]
        out["adaptation_index2"] = float(np.mean((b - a) / (b + a)))
    else:
        out["adaptation_index2"] = nan
    # ISI trend over ISI_values (first ISI skipped): least-squares slope of log ISI vs log k
    iv = out["ISI_values"]
    if iv.size >= 2 and np.all(iv > 0):
        lk = np.log(np.arange(1, iv.size + 1, dtype=np.float64))
        li = np.log(iv)
        lk_c = lk - lk.mean()
        out["ISI_log_slope"] = float(np.dot(lk_c, li - li.mean()) / np.dot(lk_c, lk_c))
    else:
        out["ISI_log_slope"] = nan
    after = tm > s1
    if after.any():
        t_end = float(tm[-1])
        w = (tm >= s1 + 0.25 * (t_end - s1)) & (tm <= s1 + 0.75 * (t_end - s1))
        out["voltage_after_stim"] = float(vv[w].mean()) if w.any() else nan
    else:
        out["voltage_after_stim"] = nan
