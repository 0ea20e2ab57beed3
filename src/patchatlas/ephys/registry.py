"""Feature registry: every electrophysiology feature patchatlas computes, with unit, one-line
definition, the window it uses and its convention (``allen`` = IPFX/Allen definition,
``patchatlas`` = our own, ``efel`` = eFEL's definition)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from functools import lru_cache
from types import MappingProxyType
from typing import Any

__all__ = ["FEATURES", "Feature", "feature_registry", "get_feature", "list_features", "units_of"]


@dataclass(frozen=True, slots=True)
class Feature:
    """One registry entry."""

    name: str
    level: str  # "spike", "sweep", "cell", "efel"
    unit: str
    definition: str
    window: str
    convention: str = "allen"

    def as_dict(self) -> dict[str, Any]:
        """Plain dict.

        Returns
        -------
        dict of str to Any
            ``name``, ``level``, ``unit``, ``definition``, ``window`` and ``convention``.
        """
        return asdict(self)


_W = "stimulus window [start, end]"
_SPK = "threshold → next threshold (window end for the last spike)"


def _s(name: str, unit: str, definition: str, window: str = _SPK, conv: str = "allen") -> Feature:
    return Feature(name, "spike", unit, definition, window, conv)


def _w(name: str, unit: str, definition: str, window: str = _W, conv: str = "allen") -> Feature:
    return Feature(name, "sweep", unit, definition, window, conv)


def _c(name: str, unit: str, definition: str, window: str, conv: str = "allen") -> Feature:
    return Feature(name, "cell", unit, definition, window, conv)


_POINT_DEFS = {
    "threshold": "last sample before the upstroke with filtered dV/dt ≤ 5 % of the sweep-mean "
    "upstroke",
    "peak": "maximum V between the spike's dV/dt candidate and the next",
    "trough": "minimum V from the peak to the next threshold",
    "fast_trough": "first sample after the steepest repolarisation with dV/dt ≥ 1 % of it",
    "adp": "after-depolarisation: zero crossing of the 1 kHz-filtered dV/dt within 5 ms of the "
    "fast trough",
    "slow_trough": "minimum V after the ADP / fast trough before the next spike ('detour' only)",
    "upstroke": "sample of maximum filtered dV/dt between threshold and peak",
    "downstroke": "sample of minimum filtered dV/dt between peak and trough",
}

_spike: list[Feature] = []
for _p, _d in _POINT_DEFS.items():
    _spike += [
        _s(f"{_p}_index", "sample", f"index of the {_p}: {_d}"),
        _s(f"{_p}_t", "s", f"time of the {_p} (sweep clock)"),
        _s(f"{_p}_v", "mV", f"membrane voltage at the {_p}"),
    ]
    if _p not in ("upstroke", "downstroke"):
        _spike.append(
            _s(f"{_p}_i", "pA", f"injected current at the {_p} (when a current is given)")
        )
_spike += [
    _s("upstroke", "V/s", "maximum filtered dV/dt between threshold and peak"),
    _s("downstroke", "V/s", "minimum filtered dV/dt between peak and trough"),
    _s("upstroke_downstroke_ratio", "1", "upstroke / −downstroke"),
    _s(
        "width",
        "s",
        "full width at half of the fast-trough→peak height (half threshold→peak when that level "
        "is below threshold), sample-quantised",
    ),
    _s("isi_type", "", "'direct' (no ADP, no later dip ≥ 0.5 mV) or 'detour'"),
    _s(
        "clipped",
        "bool",
        "V does not return to threshold + 1 mV before the window end, or no fast trough",
    ),
    _s(
        "in_window",
        "bool",
        "threshold inside the stimulus window (robust profile)",
        "whole sweep",
        "patchatlas",
    ),
]

_sweep = [
    _w("avg_rate", "Hz", "spikes with threshold in [start, end] / (end − start)"),
    _w("n_spikes", "1", "spikes with threshold in [start, end]", conv="patchatlas"),
    _w("latency", "s", "first threshold time − start"),
    _w("first_isi", "s", "first inter-spike interval (threshold times)"),
    _w("mean_isi", "s", "mean inter-spike interval"),
    _w("median_isi", "s", "median inter-spike interval"),
    _w("isi_cv", "1", "SD (ddof 0) / mean of the inter-spike intervals"),
    _w("adapt", "1", "mean of (ISI[k+1] − ISI[k]) / (ISI[k+1] + ISI[k])"),
    _w("burst_n", "1", "runs of ≥ 3 spikes with all ISIs ≤ 10 ms", conv="patchatlas"),
    _w(
        "burst_max_index",
        "1",
        "(mean ISI outside bursts − mean ISI inside) / (sum); NaN without bursts",
        conv="patchatlas",
    ),
    _w("pause_n", "1", "ISIs longer than 3 × the median ISI (≥ 3 ISIs)", conv="patchatlas"),
    _w("pause_frac", "1", "total pause duration / (end − start)", conv="patchatlas"),
    _w("v_baseline", "mV", "mean V before the stimulus", "[start − 100 ms, start)"),
    _w(
        "peak_deflect_v",
        "mV",
        "min V (hyperpolarising step) or max V (depolarising)",
        "[start, end)",
    ),
    _w("peak_deflect_index", "sample", "index of peak_deflect_v", "[start, end)"),
    _w(
        "sag",
        "1",
        "(v_peak_avg − v_ss) / (v_peak_avg − v_base): 5 ms around the minimum, last 30 ms of the "
        "step, 30 ms before it; hyperpolarising subthreshold sweeps only (NaN otherwise)",
        "[start − 30 ms, end)",
    ),
    _w("vm_for_sag", "mV", "minimum V of the sweep sag is measured on", "[start, end)"),
    _w("stim_amp", "pA", "stimulus amplitude relative to holding", "primary stimulus epoch"),
    _w(
        "n_spikes_outside_window",
        "1",
        "spikes with threshold outside [start, end] (robust)",
        "whole sweep",
        "patchatlas",
    ),
    _w(
        "depolarization_block",
        "bool",
        "train stops ≥ 20 % of the window (≥ 50 ms) before its end while V stays within 10 mV of "
        "the mean threshold (robust)",
        conv="patchatlas",
    ),
]

_LS = "long-square sweeps"
_cell = [
    _c("vrest", "mV", "mean v_baseline over long-square sweeps", _LS),
    _c(
        "ri",
        "MΩ",
        "slope of peak deflection vs amplitude over subthreshold sweeps in (−100, 0) "
        "pA (else (−200, 0))",
        _LS,
    ),
    _c(
        "tau",
        "ms",
        "mean single-exponential time constant (10 % of the deflection → minimum) "
        "over those sweeps; SNR ≥ 20, RMSE ≤ 1 mV",
        _LS,
    ),
    _c("tau_n_fits", "1", "accepted tau fits", _LS, "patchatlas"),
    _c("tau_rmse_mv", "mV", "mean RMSE of the accepted tau fits", _LS, "patchatlas"),
    _c("tau_r2_min", "1", "lowest R² of the accepted tau fits", _LS, "patchatlas"),
    _c("sag", "1", "sag of the subthreshold sweep whose minimum is closest to −100 mV", _LS),
    _c("vm_for_sag", "mV", "minimum V of that sweep", _LS),
    _c(
        "f_i_curve_slope",
        "Hz/pA",
        "least-squares slope of avg_rate vs amplitude over spiking long squares",
        _LS,
    ),
    _c("threshold_i_long_square", "pA", "rheobase: lowest positive amplitude with spikes", _LS),
    _c("rheobase_sweep_num", "1", "sweep number of the rheobase sweep", _LS),
    _c(
        "thumbnail_sweep_num",
        "1",
        "hero sweep: spiking, amplitude in (rheobase + 39, rheobase "
        "+ 61) pA, else closest to rheobase + 50",
        _LS,
    ),
    _c("adaptation", "1", "adapt of the hero sweep", _LS),
    _c("avg_isi", "ms", "mean ISI of the hero sweep", _LS),
    _c("avg_firing_rate", "Hz", "avg_rate of the hero sweep", _LS),
    _c("latency", "s", "latency of the rheobase sweep", _LS),
    _c(
        "threshold_i_short_square",
        "pA",
        "most common amplitude among spiking short squares (ties: the lower)",
        "short-square sweeps",
    ),
    _c(
        "threshold_i_ramp",
        "pA",
        "mean current at the first threshold of spiking ramps",
        "ramp sweeps",
    ),
]
_REC_FEATS = {
    "threshold_v": ("mV", "threshold V"),
    "threshold_t": ("s", "threshold time (sweep clock)"),
    "peak_v": ("mV", "peak V"),
    "peak_t": ("s", "peak time"),
    "trough_v": ("mV", "trough V"),
    "trough_t": ("s", "trough time"),
    "fast_trough_v": ("mV", "fast trough V"),
    "fast_trough_t": ("s", "fast trough time"),
    "slow_trough_v": ("mV", "slow trough V"),
    "slow_trough_t": ("s", "slow trough time"),
    "upstroke_downstroke_ratio": ("1", "upstroke / −downstroke"),
    "upstroke": ("V/s", "upstroke"),
    "downstroke": ("V/s", "downstroke"),
    "width": ("s", "width"),
}
for _f, (_u, _d) in _REC_FEATS.items():
    _cell += [
        _c(f"{_f}_long_square", _u, f"{_d} of the first spike of the rheobase sweep", _LS),
        _c(
            f"{_f}_short_square",
            _u,
            f"mean {_d} of the first spike over the spiking sweeps at threshold_i_short_square "
            "(allen profile: detected with dv_cutoff/thresh_frac estimated from the first ms "
            "after onset, IPFX rule)",
            "short-square sweeps",
        ),
        _c(f"{_f}_ramp", _u, f"mean {_d} of the first spike over spiking ramps", "ramp sweeps"),
    ]

_EF = "trace, interpolated to 0.1 ms"
_STIM = "[stim_start, stim_end]"
_efel = [
    Feature(n, "efel", u, d, w, "efel")
    for n, u, d, w in (
        ("Spikecount", "1", "−20 mV up/down crossing pairs (peaks) anywhere in the trace", _EF),
        ("Spikecount_stimint", "1", "peaks inside the stimulus", _STIM),
        ("peak_time", "ms", "time of each peak (last sample of a flat peak)", _EF),
        ("peak_voltage", "mV", "V at each peak", _EF),
        (
            "time_to_first_spike",
            "ms",
            "first peak time − stim_start (negative with spontaneous "
            "spikes; Allen latency uses the threshold inside the window)",
            _EF,
        ),
        ("mean_frequency", "Hz", "peaks in the stimulus / (last such peak − stim_start)", _STIM),
        ("all_ISI_values", "ms", "intervals between consecutive peaks", _EF),
        ("ISI_values", "ms", "all_ISI_values without the first", _EF),
        ("ISI_CV", "1", "SD (ddof 1) / mean of ISI_values (Allen isi_cv: ddof 0, all ISIs)", _EF),
        ("inv_first_ISI", "Hz", "1000 / first ISI", _EF),
        (
            "voltage_base",
            "mV",
            "mean V over [0.9 stim_start, stim_start)",
            "[0.9 stim_start, stim_start)",
        ),
        ("steady_state_voltage", "mV", "mean V after stim_end", "(stim_end, end]"),
        (
            "steady_state_voltage_stimend",
            "mV",
            "mean V over the last 10 % of the stimulus",
            "(stim_end − 10 %, stim_end]",
        ),
        ("minimum_voltage", "mV", "min V in the stimulus", _STIM),
        ("maximum_voltage", "mV", "max V in the stimulus", _STIM),
        (
            "sag_amplitude",
            "mV",
            "steady_state_voltage_stimend − minimum_voltage (hyperpolarising, no spikes)",
            _STIM,
        ),
        (
            "sag_ratio1",
            "1",
            "sag_amplitude / (voltage_base − minimum_voltage) (≈ Allen sag)",
            _STIM,
        ),
        (
            "sag_ratio2",
            "1",
            "(voltage_base − steady_state_voltage_stimend) / (voltage_base − minimum_voltage)",
            _STIM,
        ),
        (
            "ohmic_input_resistance_vb_ssse",
            "MΩ",
            "(steady_state_voltage_stimend − "
            "voltage_base) / stimulus current (single sweep; Allen ri is a multi-sweep slope)",
            _STIM,
        ),
        ("AP_height", "mV", "V at each peak (= peak_voltage)", _EF),
        ("time_to_second_spike", "ms", "second peak time − stim_start", _EF),
        ("time_to_last_spike", "ms", "last peak time − stim_start", _EF),
        ("inv_time_to_first_spike", "Hz", "1000 / time_to_first_spike", _EF),
        ("inv_second_ISI", "Hz", "1000 / second all_ISI_values entry", _EF),
        ("inv_third_ISI", "Hz", "1000 / third all_ISI_values entry", _EF),
        ("inv_fourth_ISI", "Hz", "1000 / fourth all_ISI_values entry", _EF),
        ("inv_fifth_ISI", "Hz", "1000 / fifth all_ISI_values entry", _EF),
        ("inv_last_ISI", "Hz", "1000 / last all_ISI_values entry", _EF),
        ("doublet_ISI", "ms", "first interval between peaks", _EF),
        (
            "AP_amplitude_from_voltagebase",
            "mV",
            "peak_voltage − voltage_base (Allen amplitudes are re threshold)",
            _EF,
        ),
        ("maximum_voltage_from_voltagebase", "mV", "maximum_voltage − voltage_base", _STIM),
        (
            "voltage_deflection_vb_ssse",
            "mV",
            "steady_state_voltage_stimend − voltage_base (Allen peak_deflect is the extreme V)",
            _STIM,
        ),
        ("min_voltage_between_spikes", "mV", "min V between consecutive peaks", _EF),
        (
            "adaptation_index2",
            "1",
            "mean of (ISI[k+1] − ISI[k]) / (ISI[k+1] + ISI[k]) over peak-time ISIs inside the "
            "stimulus, first ISI skipped (Allen adapt: threshold times, all ISIs)",
            _STIM,
        ),
        (
            "ISI_log_slope",
            "1",
            "least-squares slope of log(ISI_values[k]) vs log(k), k = 1, 2, ... (≥ 2 ISIs)",
            _EF,
        ),
        (
            "voltage_after_stim",
            "mV",
            "mean V from 25 % to 75 % of the time between stim_end and the trace end",
            "[stim_end + 25 %, stim_end + 75 %] of the post-stimulus time",
        ),
    )
]

_GV = "long-square sweeps"
_vectors = [
    Feature(n, "vector", u, d, w, "patchatlas")
    for n, u, d, w in (
        (
            "step_subthresh",
            "mV",
            "mean V in 140 bins, [start − 10 %, end + 20 %] of the step, at "
            "−90/−70/−50/−30/−10 pA (±5), concatenated (Gouwens-style)",
            _GV,
        ),
        (
            "subthresh_norm",
            "1",
            "the most hyperpolarised step's binned V, baseline-subtracted, "
            "divided by |peak deflection|",
            _GV,
        ),
        (
            "isi_shape",
            "mV",
            "mean V from fast trough to next threshold (100 points) of the hero "
            "sweep, minus mean threshold",
            "hero sweep",
        ),
        (
            "first_ap_v",
            "mV",
            "first AP of the rheobase sweep, threshold − 1 ms, 3 ms, 150 points",
            "rheobase sweep",
        ),
        ("first_ap_dv", "V/s", "derivative of first_ap_v (149 points)", "rheobase sweep"),
        ("psth", "Hz", "rate in 50 ms bins at rheobase + 0…100 pA (20 pA steps)", _GV),
        ("inst_freq", "Hz", "1/ISI averaged in 20 ms bins, same sweeps", _GV),
        *(
            (
                f"spiking_{f}",
                "",
                f"{f} averaged in 20 ms bins (by threshold time), same sweeps",
                _GV,
            )
            for f in (
                "upstroke_downstroke_ratio",
                "peak_v",
                "fast_trough_v",
                "threshold_v",
                "width",
            )
        ),
    )
]

FEATURES: tuple[Feature, ...] = (*_spike, *_sweep, *_cell, *_efel, *_vectors)
_BY_NAME = {(f.level, f.name): f for f in FEATURES}


def list_features(level: str | None = None) -> list[Feature]:
    """Registry entries, optionally of one ``level`` (spike, sweep, cell, efel, vector).

    Parameters
    ----------
    level
        ``"spike"``, ``"sweep"``, ``"cell"``, ``"efel"`` or ``"vector"``; None for all levels.
        Any other value gives an empty list.

    Returns
    -------
    list of Feature
        The entries in registry order.
    """
    return [f for f in FEATURES if level is None or f.level == level]


@lru_cache(maxsize=8)
def units_of(level: str) -> Mapping[str, str]:
    """Registry unit of every feature name of one level (a read-only mapping).

    Parameters
    ----------
    level
        ``"spike"``, ``"sweep"``, ``"cell"``, ``"efel"`` or ``"vector"``.

    Returns
    -------
    Mapping
        Name → unit.
    """
    return MappingProxyType({f.name: f.unit for f in list_features(level)})


def get_feature(name: str, level: str | None = None) -> Feature:
    """The entry for ``name`` (first match across levels unless ``level`` is given).

    Parameters
    ----------
    name
        Feature name, e.g. ``"ri"`` or ``"upstroke_downstroke_ratio"``.
    level
        Restrict the search to one level (``"spike"``, ``"sweep"``, ``"cell"``, ``"efel"``,
        ``"vector"``); None searches all, in that order.

    Returns
    -------
    Feature
        The registry entry.

    Raises
    ------
    patchatlas.errors.DataError
        No feature of that name (at that level).
    """
    from patchatlas.errors import DataError

    for f in FEATURES:
        if f.name == name and (level is None or f.level == level):
            return f
    raise DataError(f"no ephys feature named {name!r}; `patchatlas ephys list-features` lists them")


def feature_registry(level: str | None = None) -> Any:
    """The registry as a pandas DataFrame (name, level, unit, definition, window, convention).

    The common shape every modality publishes (``patchatlas.morphology.feature_registry`` too),
    read by the CLI and the web portal.

    Parameters
    ----------
    level
        Only the entries of one level (``"spike"``, ``"sweep"``, ``"cell"``, ``"efel"``,
        ``"vector"``); None for all.

    Returns
    -------
    pandas.DataFrame
        One row per feature with the columns ``name``, ``level``, ``unit``, ``definition``,
        ``window`` and ``convention``.
    """
    import pandas as pd

    return pd.DataFrame([f.as_dict() for f in list_features(level)])
