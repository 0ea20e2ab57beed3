"""Connectivity statistics: binomial intervals, class × class tables, distance bins."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from patchatlas.errors import DataError, ParameterError
from patchatlas.synphys import (
    connectivity_by_distance,
    connectivity_matrix,
    proportion_ci,
)


def test_clopper_pearson_pinned_values() -> None:
    # the values the synaptic-physiology issue pins (scipy beta quantiles)
    lo, hi = proportion_ci(12, 32)
    assert lo == pytest.approx(0.2110, abs=5e-5) and hi == pytest.approx(0.5631, abs=5e-5)
    lo, hi = proportion_ci(0, 23)
    assert lo == 0.0 and hi == pytest.approx(0.1482, abs=5e-5)
    lo, hi = proportion_ci(23, 23)
    assert hi == 1.0 and lo == pytest.approx(1 - 0.1482, abs=5e-5)


def test_clopper_pearson_is_the_beta_quantile_interval() -> None:
    for k, n, alpha in [(1, 10, 0.05), (7, 9, 0.1), (50, 400, 0.01)]:
        lo, hi = proportion_ci(k, n, alpha=alpha)
        assert lo == pytest.approx(stats.beta.ppf(alpha / 2, k, n - k + 1))
        assert hi == pytest.approx(stats.beta.ppf(1 - alpha / 2, k + 1, n - k))


def test_wilson_interval() -> None:
    lo, hi = proportion_ci(5, 20, method="wilson")
    assert lo == pytest.approx(0.1119, abs=1e-3) and hi == pytest.approx(0.4687, abs=1e-3)
    lo, hi = proportion_ci(0, 10, method="wilson")
    assert lo == 0.0 and 0 < hi < 0.35


def test_coverage_and_order() -> None:
    # the exact interval is wider than Wilson's and contains the estimate
    for k, n in [(0, 5), (3, 17), (12, 32), (40, 41)]:
        cp = proportion_ci(k, n)
        w = proportion_ci(k, n, method="wilson")
        assert cp[0] <= k / n <= cp[1] and w[0] <= k / n <= w[1]
        assert cp[1] - cp[0] >= w[1] - w[0]


def test_nothing_tested_gives_nan() -> None:
    lo, hi = proportion_ci(0, 0)
    assert np.isnan(lo) and np.isnan(hi)


@pytest.mark.parametrize(
    ("k", "n", "kwargs"),
    [
        (3, 2, {}),
        (-1, 2, {}),
        (1.5, 2, {}),
        (True, 2, {}),
        (1, 2, {"method": "exact"}),
        (1, 2, {"alpha": 0.0}),
        (1, 2, {"alpha": 1.5}),
    ],
)
def test_bad_arguments(k, n, kwargs) -> None:
    with pytest.raises(ParameterError, match="proportion_ci"):
        proportion_ci(k, n, **kwargs)


def _pairs(seed: int = 0, n: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    classes = np.array(["Pvalb", "Sst", "L5 IT", None], dtype=object)
    return pd.DataFrame(
        {
            "pre_subclass": rng.choice(classes, n),
            "post_subclass": rng.choice(classes, n),
            "distance_um": np.where(rng.random(n) < 0.05, np.nan, rng.uniform(0, 200, n)),
            "connected": pd.array(
                np.where(rng.random(n) < 0.1, None, rng.random(n) < 0.3), dtype="boolean"
            ),
        },
        index=np.repeat(np.arange(n // 2), 2),  # a duplicated index must not matter
    )


def test_matrix_counts_match_a_direct_count() -> None:
    pairs = _pairs()
    mx = connectivity_matrix(pairs, by="subclass")
    called = pairs[pairs["connected"].notna()]
    assert mx["n_tested"].sum() == len(called)
    assert mx["n_connected"].sum() == int(called["connected"].sum())
    classes = sorted({"Pvalb", "Sst", "L5 IT", "(unknown)"})
    assert list(mx["pre"].unique()) == classes and len(mx) == len(classes) ** 2
    row = mx[(mx["pre"] == "Sst") & (mx["post"] == "Pvalb")].iloc[0]
    sel = called[(called["pre_subclass"] == "Sst") & (called["post_subclass"] == "Pvalb")]
    assert row["n_tested"] == len(sel) and row["n_connected"] == int(sel["connected"].sum())
    assert row["probability"] == pytest.approx(sel["connected"].mean())
    assert (row["ci_low"], row["ci_high"]) == pytest.approx(
        proportion_ci(int(row["n_connected"]), int(row["n_tested"]))
    )


def test_matrix_with_chosen_classes_and_wilson() -> None:
    pairs = _pairs(1)
    mx = connectivity_matrix(pairs, by="subclass", classes=["Sst", "Pvalb"], method="wilson")
    assert mx[["pre", "post"]].values.tolist() == [
        ["Sst", "Sst"],
        ["Sst", "Pvalb"],
        ["Pvalb", "Sst"],
        ["Pvalb", "Pvalb"],
    ]
    r = mx.iloc[1]
    assert (r["ci_low"], r["ci_high"]) == pytest.approx(
        proportion_ci(int(r["n_connected"]), int(r["n_tested"]), method="wilson")
    )


def test_matrix_empty_cells_have_no_probability() -> None:
    pairs = pd.DataFrame(
        {
            "pre_layer": ["5", "6", "4"],
            "post_layer": ["5", "5", "4"],
            "connected": [True, False, None],
        }
    )
    mx = connectivity_matrix(pairs, by="layer").set_index(["pre", "post"])
    assert mx.loc[("5", "5"), "n_tested"] == 1 and mx.loc[("6", "5"), "n_connected"] == 0
    assert "4" not in set(mx.index.get_level_values("pre"))  # pairs without a call are left out
    assert mx.loc[("6", "6"), "n_tested"] == 0 and np.isnan(mx.loc[("6", "6"), "probability"])


def test_distance_bins_match_a_direct_count() -> None:
    pairs = _pairs(2)
    out = connectivity_by_distance(pairs, bin_um=50)
    called = pairs[pairs["connected"].notna() & pairs["distance_um"].notna()]
    assert out["n_tested"].sum() == len(called)
    assert (np.diff(out["from_um"]) > 0).all()
    np.testing.assert_allclose(out["to_um"] - out["from_um"], 50)
    first = called[called["distance_um"] < 50]
    assert out.iloc[0]["n_tested"] == len(first)
    assert out.iloc[0]["probability"] == pytest.approx(first["connected"].mean())


def test_distance_bins_skip_empty_bins() -> None:
    pairs = pd.DataFrame({"distance_um": [5.0, 130.0], "connected": [True, False]})
    out = connectivity_by_distance(pairs, bin_um=25)
    assert out["from_um"].tolist() == [0.0, 125.0]
    assert connectivity_by_distance(pairs.iloc[:0], bin_um=25).empty


@pytest.mark.parametrize("bin_um", [0.0, -5.0, float("nan"), float("inf"), 1e-300])
def test_bad_bin_width(bin_um: float) -> None:
    pairs = pd.DataFrame({"distance_um": [5.0, 130.0], "connected": [True, False]})
    with pytest.raises(ParameterError, match="bin_um"):
        connectivity_by_distance(pairs, bin_um=bin_um)


def test_bad_tables() -> None:
    with pytest.raises(DataError, match="connected"):
        connectivity_matrix(pd.DataFrame({"pre_x": ["a"], "post_x": ["b"]}), by="x")
    with pytest.raises(DataError, match="pre_t_type"):
        connectivity_matrix(pd.DataFrame({"connected": [True]}), by="t_type")
    with pytest.raises(DataError, match="booleans"):
        connectivity_by_distance(pd.DataFrame({"distance_um": [1.0], "connected": ["yes"]}))
    with pytest.raises(DataError, match="negative"):
        connectivity_by_distance(pd.DataFrame({"distance_um": [-1.0], "connected": [True]}))
    with pytest.raises(DataError, match="distance_um"):
        connectivity_by_distance(pd.DataFrame({"connected": [True]}))
