"""Feature preparation: the in-fold transformer, wide tables from any source, IPFX names."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from patchatlas.celltyping import (
    FeaturePreparer,
    feature_blocks,
    feature_matrix,
    ipfx_canonical,
)
from patchatlas.errors import DataError, ParameterError


def test_preparer_learns_only_from_fit_rows(typed: tuple[pd.DataFrame, np.ndarray]) -> None:
    x, _ = typed
    train, test = x.iloc[:150], x.iloc[150:].copy()
    a = FeaturePreparer().fit(train)
    test.iloc[:, 1] = 1e6  # wild test values change nothing that was learned
    b = FeaturePreparer().fit(train)
    np.testing.assert_array_equal(a.medians_, b.medians_)
    np.testing.assert_array_equal(a.quantiles_, b.quantiles_)
    z = a.transform(test)
    assert np.isfinite(z).all()
    assert z[:, 1].min() > 5.0  # beyond the training range: clipped at the top quantile
    # statistics are the training ones, not those of all rows
    full = FeaturePreparer().fit(x)
    assert full.quantiles_.shape[0] == 200 and a.quantiles_.shape[0] == 150
    assert not np.allclose(full.medians_, a.medians_)


def test_preparer_log_indicators_and_table(typed: tuple[pd.DataFrame, np.ndarray]) -> None:
    x, _ = typed
    p = FeaturePreparer(scaling="standard").fit(x)
    assert p.log_mask_[0] and not p.log_mask_[1:].any()  # only the skewed positive column
    assert len(p.indicator_columns_) == x.shape[1]  # every column has ~10 % missing
    z = p.transform(x)
    assert z.shape == (len(x), 2 * x.shape[1])
    np.testing.assert_array_equal(z[:, x.shape[1] :], x.isna().to_numpy(float))
    np.testing.assert_allclose(z[:, : x.shape[1]].mean(axis=0), 0.0, atol=1e-9)
    names = p.get_feature_names_out()
    assert names[0] == "log(f0)" and names[-1] == "missing(f7)"
    tab = p.scaling_table()
    assert list(tab["feature"]) == list(x.columns)
    assert tab.loc[0, "log"] and tab["missing_fraction"].between(0.02, 0.2).all()


def test_preparer_quantile_output_is_normal(typed: tuple[pd.DataFrame, np.ndarray]) -> None:
    x, _ = typed
    z = FeaturePreparer(missing_indicators=False).fit_transform(x.dropna())
    assert abs(float(np.median(z))) < 0.1 and 0.8 < float(z.std()) < 1.2


def test_preparer_bad_parameters() -> None:
    with pytest.raises(ParameterError, match="scaling"):
        FeaturePreparer(scaling="minmax").fit(np.ones((3, 2)))
    with pytest.raises(ParameterError, match="log"):
        FeaturePreparer(log="yes").fit(np.ones((3, 2)))


def test_feature_matrix_from_every_source() -> None:
    long = pd.DataFrame(
        {
            "cell": ["a", "a", "b"],
            "name": ["ri", "tau", "ri"],
            "value": [100.0, "12.5", 80.0],
        }
    )
    w = feature_matrix(long)
    assert w.loc["a", "tau"] == 12.5 and np.isnan(w.loc["b", "tau"])

    class Result:  # duck-typed EphysResult: its Allen cell record
        def __init__(self) -> None:
            self.cell = {"ri": 150.0, "vrest": -70.0}

    m = feature_matrix({"c1": Result(), "c2": {"ri": 90.0}})
    assert m.loc["c1", "vrest"] == -70.0 and np.isnan(m.loc["c2", "vrest"])
    v = feature_matrix({"c1": {"ri": 1.0}}, vectors={"c1": {"psth": [1, 2, 3]}})
    assert list(v.columns) == ["ri", "psth_0", "psth_1", "psth_2"]
    assert v.attrs["blocks"] == {"scalar": ["ri"], "psth": ["psth_0", "psth_1", "psth_2"]}
    assert list(feature_matrix(w, features=["tau", "x"]).columns) == ["tau", "x"]
    with pytest.raises(DataError, match="name"):
        feature_matrix(long.rename(columns={"name": "feature"}))
    with pytest.raises(DataError):
        feature_matrix([1, 2])  # type: ignore[arg-type]


def test_ipfx_names_harmonised() -> None:
    g = pd.DataFrame(
        {
            "rheo_threshold_v": [-40.0],
            "rheo_peak_v": [30.0],
            "rheo_fast_trough_v": [-55.0],
            "hero_first_isi": [0.02],
        }
    )
    out = ipfx_canonical(g)
    assert out.loc[0, "threshold_v_rheo"] == -40.0
    assert out.loc[0, "peak_deltav_rheo"] == 70.0
    assert out.loc[0, "fast_trough_deltav_rheo"] == -15.0
    assert out.loc[0, "first_isi_inv_hero"] == pytest.approx(50.0)
    assert "rheo_threshold_v" not in out.columns
    assert feature_blocks(["a_1", "a_2", "ri", "width_rheo"]) == {
        "a": ["a_1", "a_2"],
        "scalar": ["ri", "width_rheo"],
    }
