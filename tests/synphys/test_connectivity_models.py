"""Distance profile, distance adjustment, correction model, probed pairs; the dentate data."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from patchatlas.errors import DataError, ParameterError
from patchatlas.synphys import (
    CorrectionModel,
    connectivity_by_distance,
    connectivity_matrix,
    corrected_connectivity,
    distance_adjusted_connectivity,
    fit_correction_model,
    fit_distance_profile,
    gaussian_weights,
    pair_was_probed,
    proportion_ci,
)


def _distances_with_mean_weight(n: int, m: float, sigma: float = 100.0) -> np.ndarray:
    return np.full(n, sigma * math.sqrt(-2 * math.log(m)))


def test_published_targets() -> None:
    # 12 connected of 32 probed: 37.50 %, 95 % CI 21.10-56.31 %
    lo, hi = proportion_ci(12, 32)
    assert (lo, hi) == pytest.approx((0.21100, 0.56308), abs=5e-6)
    # with a mean Gaussian weight of 0.7634 (sigma 100 µm): 49.12 %, CI 27.64-73.75 %
    r = distance_adjusted_connectivity(_distances_with_mean_weight(32, 0.7634),
                                       np.arange(32) < 12)  # fmt: skip
    assert r["probability"] == 0.375 and r["mean_weight"] == pytest.approx(0.7634)
    assert r["adjusted_probability"] == pytest.approx(0.4912, abs=5e-5)
    assert r["adjusted_ci_low"] == pytest.approx(0.2764, abs=5e-5)
    assert r["adjusted_ci_high"] == pytest.approx(0.7375, abs=1e-4)
    # 0 of 23: CI 0-14.82 %; with the mean weight of 295.6 µm-apart pairs: 0-24.64 %
    r0 = distance_adjusted_connectivity(np.full(23, 295.6), np.zeros(23, bool))
    assert r0["ci_low"] == 0.0 and r0["ci_high"] == pytest.approx(0.14819, abs=5e-6)
    m = float(gaussian_weights(295.6, 100.0))
    assert r0["adjusted_ci_high"] == pytest.approx(0.14819 / m, rel=1e-4)
    assert r0["adjusted_probability"] == 0.0


def test_sigma_is_used() -> None:
    # aisynphys bug §6.8: the intended sigma was silently replaced by 100 µm
    d, y = np.linspace(20, 200, 40), np.arange(40) % 3 == 0
    a = distance_adjusted_connectivity(d, y, sigma=100.0)
    b = distance_adjusted_connectivity(d, y, sigma=125.0)
    assert b["mean_weight"] > a["mean_weight"]
    assert b["adjusted_probability"] < a["adjusted_probability"]
    with pytest.raises(ParameterError):
        distance_adjusted_connectivity(d, y, sigma=0)


def test_gaussian_mle_recovers_truth() -> None:
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 300, 3000)
    y = rng.random(3000) < 0.3 * np.exp(-(x**2) / (2 * 100.0**2))
    fit = fit_distance_profile(x, y)
    assert fit.p_max == pytest.approx(0.3, abs=0.05) and fit.sigma == pytest.approx(100, abs=15)
    assert fit.ci_low < fit.p_max < fit.ci_high
    fixed = fit_distance_profile(x, y, sigma=100.0)
    assert fixed.sigma_fixed and fixed.sigma == 100.0
    assert fixed.log_likelihood <= fit.log_likelihood + 1e-9


def test_profile_interval_coverage() -> None:
    # 95 % profile-likelihood intervals of p_max (sigma fixed) cover the truth ~95 % of the time
    rng = np.random.default_rng(3)
    hits, n_rep = 0, 200
    for _ in range(n_rep):
        x = rng.uniform(0, 250, 150)
        y = rng.random(150) < 0.25 * np.exp(-(x**2) / (2 * 100.0**2))
        f = fit_distance_profile(x, y, sigma=100.0)
        hits += f.ci_low <= 0.25 <= f.ci_high
    # within the 99 % range of Binomial(200, 0.95) (and above it: intervals may overcover)
    assert hits >= stats.binom.ppf(0.005, n_rep, 0.95)


def test_zero_connections_do_not_hang() -> None:
    # aisynphys bug §6.2: the zero-connection branch stopped in pdb.set_trace()
    x = np.linspace(10, 300, 60)
    f = fit_distance_profile(x, np.zeros(60, bool))
    # with sigma free and no connection, p_max is not identifiable: the interval is [0, 1]
    assert f.p_max == 0.0 and f.ci_low == 0.0 and f.ci_high == 1.0
    f2 = fit_distance_profile(x, np.zeros(60, bool), sigma=100.0)
    assert f2.p_max == 0.0 and 0 < f2.ci_high < 1
    df = pd.DataFrame({"lateral_distance_um": x, "connected": np.zeros(60, bool)})
    model = fit_correction_model(df)
    assert model.p_max == pytest.approx(1e-6, abs=1e-5)
    r = corrected_connectivity(df, model)
    assert r["corrected_probability"] == 0.0 and 0 < r["ci_high"] < 1


def test_correction_model_recovers_shapes() -> None:
    from scipy.special import erf

    rng = np.random.default_rng(1)
    n = 4000
    x, ax, z = rng.uniform(0, 250, n), rng.uniform(0, 400, n), rng.uniform(0, 150, n)
    p = 0.4 * np.exp(-(x**2) / 2e4) * np.where(ax < 200, 0.4, 1.0)
    p *= 0.5 * (1 + erf((z - 40) / (math.sqrt(2) * 30)))
    df = pd.DataFrame({"lateral_distance_um": x, "pre_axon_length_um": ax,
                       "pair_depth_um": z, "connected": rng.random(n) < p})  # fmt: skip
    m = fit_correction_model(df)
    assert m.p_max == pytest.approx(0.4, abs=0.06)
    assert m.axon_adjustment == pytest.approx(0.4, abs=0.1)
    assert m.depth_mu == pytest.approx(40, abs=15)
    r = corrected_connectivity(df, m)
    assert r["ci_low"] < r["corrected_probability"] < r["ci_high"]
    assert r["corrected_probability"] > r["probability"]
    # factors of a metric missing for a pair are 1
    f = CorrectionModel(p_max=0.5).factors({"distance": np.array([np.nan, 0.0])})
    np.testing.assert_allclose(f, [1.0, 1.0])


def test_probed_rule_is_explicit() -> None:
    ex, inh = np.array([10, 11, 3, 30]), np.array([0, 0, 20, 0])
    np.testing.assert_array_equal(pair_was_probed(ex, inh), [False, True, True, True])
    np.testing.assert_array_equal(
        pair_was_probed(ex, inh, inclusive=True), [True, True, True, True]
    )
    sign = ["ex", "ex", "ex", "in"]
    np.testing.assert_array_equal(pair_was_probed(ex, inh, sign), [False, True, False, False])
    with pytest.raises(DataError):
        pair_was_probed([1, 2], [1])


def test_dentate_counts_and_distance(synphys_data: Path) -> None:
    from patchatlas.io.connection_matrix import read_connection_matrices
    from patchatlas.pipeline.synphys import pair_table

    exps = read_connection_matrices(synphys_data / "dentate_pv_gc_connectivity")
    assert len(exps) == 215
    pairs = pair_table(exps)
    m = connectivity_matrix(pairs, by="class", classes=["PV", "GC"]).set_index(["pre", "post"])
    assert tuple(m.loc[("PV", "GC"), ["n_connected", "n_tested"]]) == (318, 1285)
    assert tuple(m.loc[("GC", "PV"), ["n_connected", "n_tested"]]) == (107, 1285)
    assert tuple(m.loc[("PV", "PV"), ["n_connected", "n_tested"]]) == (45, 154)
    assert tuple(m.loc[("GC", "GC"), ["n_connected", "n_tested"]]) == (0, 4642)
    pv = pairs[(pairs.pre_class == "PV") & (pairs.post_class == "PV")]
    # gap junctions: 33 coupled PV-PV pairs, each marked once in the files
    assert int(pv["electrical"].sum()) == 2 * 33
    # connection probability falls with distance
    assert pv["distance_um"].median() == pytest.approx(143, abs=1)
    assert pv.loc[pv.connected.astype(bool), "distance_um"].median() == pytest.approx(90, abs=1)
    for a, b in (("PV", "PV"), ("PV", "GC"), ("GC", "PV")):
        sub = pairs[(pairs.pre_class == a) & (pairs.post_class == b)]
        prof = fit_distance_profile(sub["distance_um"].to_numpy(float),
                                    sub["connected"].astype(bool).to_numpy())  # fmt: skip
        assert prof.sigma < 300 and prof.ci_low > 0
        near = sub[sub.distance_um < 100]["connected"].astype(bool).mean()
        far = sub[sub.distance_um >= 200]["connected"].astype(bool).mean()
        assert near > far
    bins = connectivity_by_distance(pairs[pairs.pre_class != pairs.post_class], bin_um=50)
    assert bins["probability"].iloc[0] > bins["probability"].iloc[-1]
