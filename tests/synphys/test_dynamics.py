"""Short-term plasticity metrics on hand-built tables, adjusted CV, Tsodyks-Markram."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from patchatlas.errors import DataError, ParameterError
from patchatlas.synphys import adjusted_cv, fit_tsodyks_markram, stp_metrics, tsodyks_markram


def _table(amps: np.ndarray, freq: float = 50.0, delay: float = 0.25) -> pd.DataFrame:
    rows = []
    for s, sweep in enumerate(amps):
        for k, a in enumerate(sweep):
            rows.append({"sweep": s, "pulse": k + 1, "induction_frequency": freq,
                         "recovery_delay": delay, "clamp_mode": "ic",
                         "previous_pulse_dt": 10.0 if k == 0 else 0.02, "amp": a,
                         "bg_amp": 0.0})  # fmt: skip
    return pd.DataFrame(rows)


def test_stp_definitions_on_a_hand_built_train() -> None:
    base = np.array([1.0, 0.6, 0.5, 0.45, 0.4, 0.36, 0.34, 0.32, 0.8, 0.5, 0.45, 0.4])
    amps = np.stack([base * f for f in (0.9, 1.0, 1.1)])
    summary, protocols, _pulses = stp_metrics(_table(amps), sign=1)
    a90 = float(np.percentile(amps, 90))
    assert summary["a90"] == pytest.approx(a90)
    # per sweep, then the median over sweeps
    assert summary["stp_initial_50hz"] == pytest.approx(np.median((amps[:, 1] - amps[:, 0]) / a90))
    ind = (np.median(amps[:, 5:8], axis=1) - amps[:, 0]) / a90
    assert summary["stp_induction_50hz"] == pytest.approx(np.median(ind))
    rec = np.median(amps[:, 8:12] - amps[:, 0:4], axis=1) / a90
    assert summary["stp_recovery_250ms"] == pytest.approx(np.median(rec))
    assert summary["stp_recovery_single_250ms"] == pytest.approx(
        np.median((amps[:, 8] - amps[:, 0]) / a90)
    )
    assert summary["paired_pulse_ratio_50hz"] == pytest.approx(0.6)
    assert len(protocols) == 1 and protocols["n_sweeps"].iloc[0] == 3


def test_per_pulse_aggregates_differ_across_pulses() -> None:
    # aisynphys bug §6.1: the 12 per-pulse lists aliased one list (every slot the same)
    rng = np.random.default_rng(0)
    amps = np.linspace(1.0, 0.3, 12)[None, :] * (1 + 0.1 * rng.standard_normal((6, 12)))
    _, _, pulses = stp_metrics(_table(amps), sign=1)
    assert len(pulses) == 12
    np.testing.assert_allclose(pulses["mean"], amps.mean(axis=0))
    assert pulses["mean"].nunique() == 12 and (pulses["n"] == 6).all()


def test_inhibitory_normaliser_and_bad_input() -> None:
    amps = -np.abs(np.linspace(1.0, 0.4, 12))[None, :].repeat(2, axis=0)
    summary, _, _ = stp_metrics(_table(amps), sign=-1)
    assert summary["a90"] == pytest.approx(np.percentile(amps, 10)) and summary["a90"] < 0
    assert summary["stp_initial_50hz"] < 0  # depression is negative for both signs
    with pytest.raises(ParameterError):
        stp_metrics(_table(amps), sign=0)
    with pytest.raises(DataError):
        stp_metrics(pd.DataFrame({"amp": [1.0]}), sign=1)
    empty, _, _ = stp_metrics(_table(amps).iloc[:0], sign=1)
    assert math.isnan(empty["stp_initial_50hz"])


def test_adjusted_cv_is_nan_safe() -> None:
    rng = np.random.default_rng(1)
    x = 1.0 + 0.3 * rng.standard_normal(400)
    noise = 0.1 * rng.standard_normal(400)
    expect = math.log(math.sqrt(np.var(x, ddof=1) - np.var(noise, ddof=1)) / abs(np.median(x)))
    assert adjusted_cv(x, noise) == pytest.approx(expect)
    assert math.isnan(adjusted_cv(x[:2], noise))
    assert math.isnan(adjusted_cv(0.01 * x, noise))  # SD below the noise
    assert math.isnan(adjusted_cv(np.r_[x, np.nan], np.r_[noise, np.nan])) is False


def test_tsodyks_markram_model_and_fit() -> None:
    t50 = np.r_[np.arange(8) * 0.02, 0.14 + 0.25 + np.arange(4) * 0.02]
    t20 = np.r_[np.arange(8) * 0.05, 0.35 + 0.25 + np.arange(4) * 0.05]
    eff = tsodyks_markram(t50, 0.5, 0.4, 0.02)
    assert eff[0] == 0.5 and np.all(np.diff(eff[:8]) < 0)  # rested first, then depression
    fac = tsodyks_markram(t50, 0.1, 0.05, 0.5)
    assert fac[1] > fac[0]  # facilitation
    # a grid of parameters evaluates at once
    assert tsodyks_markram(t50, np.array([0.2, 0.5]), 0.4, 0.0).shape == (2, 12)
    for u, tr, tf in ((0.5, 0.4, 0.02), (0.15, 0.1, 0.3)):
        trains = [(t, 2.0 * tsodyks_markram(t, u, tr, tf)) for t in (t50, t20)]
        fit = fit_tsodyks_markram(trains)
        assert pytest.approx(u, rel=1e-3) == fit.U
        assert fit.tau_rec == pytest.approx(tr, rel=1e-3)
        assert fit.tau_facil == pytest.approx(tf, rel=1e-2)
        assert fit.amp == pytest.approx(2.0, rel=1e-3) and fit.r2 == pytest.approx(1.0)
    with pytest.raises(DataError):
        fit_tsodyks_markram([(t50[:2], np.ones(2))])
