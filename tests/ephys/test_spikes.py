"""Spike detection: Allen SDK fixtures, IPFX bug regressions, bad input."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from patchatlas.ephys import detect_spikes
from patchatlas.ephys._dvdt import (
    FilterCutoffWarning,
    NonUniformSamplingWarning,
    bessel_filtfilt,
    filtered_dvdt,
)
from patchatlas.ephys.spikes import SPIKE_COLUMNS, time_index
from patchatlas.errors import DataError, StimulusError


def _load(ephys_data: Path, name: str) -> tuple[np.ndarray, np.ndarray]:
    d = np.loadtxt(ephys_data / "text_allensdk" / name)
    return d[:, 0], d[:, 1]


def synthetic_train(
    fs: float = 50e3, dur: float = 1.0, times: tuple[float, ...] = (0.3, 0.5, 0.7), dtype=float
) -> tuple[np.ndarray, np.ndarray]:
    """A -70 mV trace with spike-shaped transients (fast rise to +30 mV, slower decay)."""
    t = np.arange(int(dur * fs)) / fs
    v = np.full(t.size, -70.0)
    for t0 in times:
        x = t - t0
        rise = (x >= 0) & (x < 0.0005)
        v[rise] = -50.0 + 80.0 * (x[rise] / 0.0005) ** 2
        fall = (x >= 0.0005) & (x < 0.03)
        y = x[fall] - 0.0005
        v[fall] = (
            -70.0 + 100.0 * np.exp(-y / 0.0006) - 4.0 * (np.exp(-y / 0.004) - np.exp(-y / 0.0006))
        )
        pre = (x >= -0.003) & (x < 0)
        v[pre] = -70.0 + 20.0 * (1 + x[pre] / 0.003) ** 3
    v += np.random.default_rng(1).normal(0.0, 0.01, t.size)
    return t.astype(dtype), v


def test_allen_var_dt_fixture(ephys_data: Path) -> None:
    t, v = _load(ephys_data, "spike_test_var_dt.txt")
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        tab = detect_spikes(t, v)
    assert list(tab["threshold_index"]) == [73, 183, 314, 463, 616, 770]
    # explicit, never silent: a warning and a provenance record
    assert any(issubclass(w.category, NonUniformSamplingWarning) for w in rec)
    assert tab.provenance["filter"]["applied"] is False
    assert "not uniform" in tab.provenance["filter"]["note"]
    assert tab.provenance["duplicate_samples_dropped"] == 1


def test_allen_high_init_dvdt_fixture(ephys_data: Path) -> None:
    t, v = _load(ephys_data, "spike_test_high_init_dvdt.txt")
    tab = detect_spikes(t, v)
    assert list(tab["threshold_index"]) == [11222, 16258, 24060]
    assert tab.provenance["filter"]["used_khz"] == 10.0


def test_allen_pair_fixture(ephys_data: Path) -> None:
    t, v = _load(ephys_data, "spike_test_pair.txt")
    tab = detect_spikes(t, v)
    assert tab.n_rows == 2
    assert np.all(tab["peak_v"] > tab["threshold_v"])
    df = tab.to_pandas()
    assert list(df.columns[: len(SPIKE_COLUMNS)]) == list(SPIKE_COLUMNS)
    assert df.attrs["provenance"]["profile"] == "allen"


def test_bessel_filtfilt_equals_scipy() -> None:
    from scipy import signal

    rng = np.random.default_rng(0)
    x = np.cumsum(rng.normal(size=5000))
    b, a = signal.bessel(4, 0.4, "low")
    assert np.allclose(bessel_filtfilt(x, 10e3, 50e3), signal.filtfilt(b, a, x), atol=1e-12)
    x2 = rng.normal(size=(3, 400))
    assert np.allclose(
        bessel_filtfilt(x2, 10e3, 50e3), signal.filtfilt(b, a, x2, axis=-1), atol=1e-12
    )


@pytest.mark.parametrize("fs", [20e3, 10e3, 4e3])
def test_low_sampling_rate_lowers_cutoff_and_warns(fs: float) -> None:
    """IPFX bug 1: fs <= 20 kHz with the 10 kHz default raises there; here it is lowered."""
    t, v = synthetic_train(fs=fs)
    with pytest.warns(FilterCutoffWarning):
        tab = detect_spikes(t, v)
    f = tab.provenance["filter"]
    assert f["applied"] is True
    assert f["used_khz"] == pytest.approx(0.25 * fs / 1e3)
    assert f["requested_khz"] == 10.0
    assert tab.n_rows == 3


def test_float32_timestamps_are_still_filtered() -> None:
    """IPFX bug 2: float32 time stamps made IPFX skip the filter silently."""
    t64, v = synthetic_train(fs=50e3, dur=3.0, times=(2.5, 2.7))
    t32 = t64.astype(np.float32).astype(np.float64)
    assert not np.allclose(np.diff(t32), np.diff(t32)[0], rtol=0, atol=1e-8)  # IPFX's test fails
    d64, _i64 = filtered_dvdt(t64, v, 10.0)
    d32, i32 = filtered_dvdt(t32, v, 10.0)
    assert i32.applied and i32.uniform
    assert np.allclose(d32, d64, rtol=1e-6, atol=1e-6)
    a, b = detect_spikes(t64, v), detect_spikes(t32, v)
    assert list(a["threshold_index"]) == list(b["threshold_index"])
    assert np.allclose(a["upstroke"], b["upstroke"], rtol=1e-5)


def test_unfiltered_option_and_window() -> None:
    t, v = synthetic_train()
    tab = detect_spikes(t, v, filter_khz=None, start=0.4, end=0.9)
    assert tab.provenance["filter"]["applied"] is False
    assert tab.n_rows == 2
    assert np.all(tab["threshold_t"] > 0.39)


def test_robust_profile_reports_out_of_window_spikes() -> None:
    t, v = synthetic_train(times=(0.1, 0.5, 0.7))
    tab = detect_spikes(t, v, start=0.3, end=0.9, profile="robust")
    assert tab.n_rows == 3
    assert list(tab["in_window"]) == [False, True, True]
    allen = detect_spikes(t, v, start=0.3, end=0.9)
    assert allen.n_rows == 2


def test_robust_profile_keeps_attenuated_spikes() -> None:
    """IPFX bug 3: spikes whose filtered upstroke stays below 20 V/s are missed."""
    t, v = synthetic_train(times=(0.2, 0.4))
    # a slow, small spike: ~12 V/s peak dV/dt, 10 mV high, peak at -20 mV
    x = t - 0.7
    up = (x >= -0.05) & (x < 0)
    v[up] = -70.0 + 25.0 * (x[up] + 0.05) / 0.05
    m = (x >= 0) & (x < 0.006)
    v[m] = -45.0 + 25.0 * np.sin(np.pi * x[m] / 0.006)
    down = (x >= 0.006) & (x < 0.056)
    v[down] = -45.0 - 25.0 * (x[down] - 0.006) / 0.05
    allen = detect_spikes(t, v)
    robust = detect_spikes(t, v, profile="robust")
    assert allen.n_rows == 2
    assert robust.n_rows == 3
    assert robust.provenance["dv_cutoff_used"] < 20.0


def test_time_index_matches_argmin() -> None:
    t = np.arange(1000) / 20e3
    for x in (0.0, 0.012345, 0.01235, 0.0499, 1.0, -1.0, 0.025):
        assert time_index(t, x) == int(np.argmin(np.abs(t - x)))


def test_no_spikes_gives_empty_table_with_all_columns() -> None:
    t = np.arange(5000) / 20e3
    tab = detect_spikes(t, np.full(t.size, -70.0), filter_khz=5)
    assert tab.n_rows == 0
    assert set(SPIKE_COLUMNS) <= set(tab)
    assert tab.to_pandas().empty


@pytest.mark.parametrize(
    ("kwargs", "err"),
    [
        ({"start": 5.0, "end": 6.0}, StimulusError),
        ({"start": 0.5, "end": 0.2}, StimulusError),
    ],
)
def test_bad_windows(kwargs: dict, err: type) -> None:
    t, v = synthetic_train()
    with pytest.raises(err, match="window"):
        detect_spikes(t, v, **kwargs)


def test_bad_traces() -> None:
    t, v = synthetic_train()
    with pytest.raises(DataError, match="samples"):
        detect_spikes(t, v[:-1])
    v2 = v.copy()
    v2[1000] = np.nan
    with pytest.raises(DataError, match="NaN"):
        detect_spikes(t, v2)
    # NaN outside the window is fine
    assert detect_spikes(t, v2, start=0.2, end=0.9).n_rows == 3
    with pytest.raises(DataError, match="decrease"):
        detect_spikes(t[::-1], v)
    with pytest.raises(DataError, match="profile"):
        detect_spikes(t, v, profile="nope")
    assert detect_spikes(t[:2], v[:2]).n_rows == 0
    assert detect_spikes(np.empty(0), np.empty(0)).n_rows == 0


def test_flat_and_clipped_traces() -> None:
    t = np.arange(20000) / 20e3
    assert detect_spikes(t, np.zeros(t.size), filter_khz=5).n_rows == 0
    # amplifier saturation: a square clipped at +100 mV is not a spike train crash
    v = np.where((t > 0.3) & (t < 0.6), 100.0, -70.0)
    tab = detect_spikes(t, v, filter_khz=5)
    assert tab.n_rows <= 1


def test_robust_flags_depolarisation_block() -> None:
    t, v = synthetic_train(times=(0.32, 0.36, 0.40))
    blocked = v.copy()
    late = t > 0.45
    blocked[late & (t < 0.95)] = -38.0 + np.random.default_rng(2).normal(
        0, 0.01, (late & (t < 0.95)).sum()
    )
    tab = detect_spikes(t, blocked, start=0.3, end=0.9, profile="robust")
    assert tab.provenance["depolarization_block"] is True
    normal = detect_spikes(t, v, start=0.3, end=0.9, profile="robust")
    assert normal.provenance["depolarization_block"] is False


def test_nan_time_stamps_are_a_clear_error() -> None:
    t, v = synthetic_train()
    t = t.copy()
    t[10] = np.nan
    with pytest.raises(DataError, match="time stamps"):
        detect_spikes(t, v)
