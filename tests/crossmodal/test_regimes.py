"""Regimes, baselines and evaluation on small synthetic data (incl. leakage guards)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pytest
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.preprocessing import StandardScaler

from patchatlas.crossmodal import (
    CrossModalRegressor,
    GroupMeans,
    LookupRegressor,
    cross_validate,
    make_estimator,
    paired_difference,
    summarize,
    within_type_interval,
    within_type_r2,
)
from patchatlas.errors import DataError


def _typed(n_types: int = 8, per: int = 25, seed: int = 0):  # type: ignore[no-untyped-def]
    """Cells of types with type-level expression/physiology plus a within-type gene effect."""
    rng = np.random.default_rng(seed)
    types = np.repeat([f"t{i}" for i in range(n_types)], per)
    fams = np.array([f"F{int(t[1:]) % 2}" for t in types])
    k = len(types)
    type_x = rng.normal(size=(n_types, 30))
    x = type_x[np.repeat(np.arange(n_types), per)] + 0.5 * rng.normal(size=(k, 30))
    beta = np.zeros((30, 3))
    beta[:5] = rng.normal(size=(5, 3))
    type_y = rng.normal(size=(n_types, 3)) * 2
    y = type_y[np.repeat(np.arange(n_types), per)] + x @ beta * 0.5 + 0.2 * rng.normal(size=(k, 3))
    return x, y, types, fams


def test_group_means_fallback() -> None:
    v = np.array([[1.0], [3.0], [10.0], [20.0]])
    gm = GroupMeans(v, ["a", "a", "b", "c"], ["F", "F", "G", "G"])
    out, src = gm.lookup(["a", "z", "z", "b"], ["F", "G", "H", "G"])
    np.testing.assert_allclose(out[:, 0], [2.0, 15.0, 8.5, 10.0])
    assert src.tolist() == [2, 1, 0, 2]


def test_lookup_baselines() -> None:
    y = np.array([[1.0], [3.0], [10.0]])
    lk = LookupRegressor("type").fit(None, y, types=["a", "a", "b"], families=["F", "F", "F"])
    np.testing.assert_allclose(
        lk.predict(None, types=["b", "a", "new"], families=["F"] * 3)[:, 0], [10.0, 2.0, 14 / 3]
    )
    glob = LookupRegressor("global").fit(None, y)
    np.testing.assert_allclose(glob.predict(None, types=["x", "y"]), [[14 / 3], [14 / 3]])
    with pytest.raises(DataError, match="types"):
        LookupRegressor("type").fit(None, y)


def test_type_average_is_fit_on_type_means() -> None:
    x, y, t, f = _typed()

    class Spy(BaseEstimator):  # type: ignore[misc]
        def fit(self, X: Any, y: Any) -> Spy:
            self.n_rows_ = len(X)
            self.coef_ = np.zeros((y.shape[1], X.shape[1]))
            return self

        def predict(self, X: Any) -> Any:
            return np.zeros((len(X), self.coef_.shape[0]))

    ta = CrossModalRegressor(Spy(), "type_average").fit(x, y, types=t, families=f)
    assert ta.model_.n_rows_ == 8
    sc = CrossModalRegressor(Spy(), "single_cell").fit(x, y)
    assert sc.model_.n_rows_ == len(x)
    with pytest.raises(DataError, match="needs types"):
        CrossModalRegressor("ridge", "type_average").fit(x, y)
    with pytest.raises(DataError, match="unknown regime"):
        CrossModalRegressor("ridge", "nope").fit(x, y)


def test_type_denoised_predicts_constant_within_type() -> None:
    x, y, t, f = _typed()
    est = CrossModalRegressor("ridge", "type_denoised").fit(x, y, types=t, families=f)
    p = est.predict(x, types=t, families=f)
    for ty in np.unique(t):
        assert np.ptp(p[t == ty], axis=0).max() < 1e-9


def test_regimes_on_synthetic_cv() -> None:
    x, y, t, f = _typed()
    specs = [
        "single_cell:ridge",
        "type_average:ridge",
        "type_plus_residual:ridge",
        "type_lookup",
        "global_mean",
    ]
    res = cross_validate(x, y, types=t, families=f, specs=specs, n_repeats=2, n_folds=5)
    s = summarize(res).set_index(["regime", "model"])
    # global mean ≈ 0, within-type signal planted → residual model beats the lookup
    assert s.loc[("global_mean", "-"), "r2"] < 0.05
    assert s.loc[("type_plus_residual", "ridge"), "r2"] > s.loc[("type_lookup", "-"), "r2"]
    w = within_type_interval(res, "type_plus_residual:ridge", n_boot=200)
    assert w["ci_low"] > 0.1
    assert s.loc[("type_lookup", "-"), "within_type_r2"] == pytest.approx(0.0, abs=1e-12)
    d = paired_difference(res, "single_cell:ridge", "type_average:ridge", n_boot=200)
    assert d["ci_low"] <= d["mean"] <= d["ci_high"]
    assert len(d["per_feature"]) == 3
    assert set(res.scores.columns) >= {
        "dataset",
        "regime",
        "model",
        "feature",
        "repeat",
        "r2",
        "r",
        "within_type_r2",
    }
    assert len(res.scores) == len(specs) * 2 * 3


def test_within_type_r2_definition() -> None:
    y = np.array([[1.0], [2.0], [3.0], [4.0]])
    m = np.array([[1.5], [1.5], [3.5], [3.5]])
    assert within_type_r2(y, m, m)[0] == pytest.approx(0.0)
    assert within_type_r2(y, y, m)[0] == pytest.approx(1.0)


class _RowSpy(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Records the row ids (first column) it is fitted on; drops the id column."""

    seen: ClassVar[list[set[int]]] = []

    def fit(self, X: Any, y: Any = None) -> _RowSpy:
        _RowSpy.seen.append(set(np.asarray(X)[:, 0].astype(int).tolist()))
        self.scaler_ = StandardScaler().fit(np.asarray(X)[:, 1:])
        return self

    def transform(self, X: Any) -> Any:
        return self.scaler_.transform(np.asarray(X)[:, 1:])


@pytest.mark.parametrize("scheme", ["stratified", "held_out_type"])
def test_preprocessing_never_sees_test_cells(scheme: str) -> None:
    x, y, t, f = _typed()
    ids = np.arange(len(x), dtype=float)[:, None]
    _RowSpy.seen = []
    specs = ["single_cell:ridge", "type_average:ridge", "type_plus_residual:ridge"]
    res = cross_validate(
        np.hstack([ids, x]),
        y,
        types=t,
        families=f,
        specs=specs,
        n_repeats=1,
        n_folds=4,
        scheme=scheme,
        preprocess=_RowSpy(),
    )
    from patchatlas.crossmodal.evaluation import _folds

    folds = _folds(4, scheme, t, 0)
    assert len(_RowSpy.seen) == len(folds) * len(specs)
    for k, (tr, te) in enumerate(folds):
        for seen in _RowSpy.seen[k * len(specs) : (k + 1) * len(specs)]:
            assert seen == set(tr.tolist())
            assert not seen & set(te.tolist())
    if scheme == "held_out_type":
        for tr, te in folds:
            assert not set(t[tr]) & set(t[te])
    assert np.isfinite(res.predictions["single_cell:ridge"]).all()


def test_make_estimator_errors() -> None:
    with pytest.raises(DataError, match="bad spec"):
        make_estimator("ridge")
    assert isinstance(make_estimator("family_lookup"), LookupRegressor)


def test_permutation_gene_importance_finds_planted_genes() -> None:
    from patchatlas.crossmodal import permutation_gene_importance

    rng = np.random.default_rng(5)
    x = rng.normal(size=(300, 12))
    y = np.column_stack(
        [2 * x[:, 3] + 0.1 * rng.normal(size=300), -x[:, 7] + 0.1 * rng.normal(size=300)]
    )
    est = CrossModalRegressor("ridge").fit(x[:200], y[:200])
    names = [f"g{i}" for i in range(12)]
    imp = permutation_gene_importance(est, x[200:], y[200:], names, ["a", "b"], top=2)
    first = imp[imp["rank"] == 1].set_index("feature")["gene"]
    assert first["a"] == "g3" and first["b"] == "g7"
    assert imp.loc[imp["rank"] == 1, "importance"].min() > 0.5
    with pytest.raises(DataError, match="gene names"):
        permutation_gene_importance(est, x, y, names[:3], ["a", "b"])
