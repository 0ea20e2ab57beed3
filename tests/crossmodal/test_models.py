"""Models: sparse RRR and leave-one-out ridge on synthetic data.

scikit-learn's common estimator checks for every exported estimator: tests/test_estimators.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import cross_val_predict

from patchatlas.crossmodal import RidgeLOO, SparseRRR, make_model
from patchatlas.errors import DataError


def _planted(n: int = 300, p: int = 80, q: int = 6, seed: int = 0):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, p))
    true = np.zeros((p, q))
    genes = [3, 17, 40, 41, 66]
    w = rng.normal(size=(len(genes), 2))
    v, _ = np.linalg.qr(rng.normal(size=(q, 2)))
    true[genes] = w @ v.T
    y = x @ true + 0.3 * rng.normal(size=(n, q))
    return x, y, genes, true


def test_srrr_recovers_planted_genes_and_rank() -> None:
    x, y, genes, true = _planted()
    m = SparseRRR(rank=2, n_genes=5).fit(x, y)
    assert sorted(np.flatnonzero(m.support_).tolist()) == genes
    assert m.n_genes_selected_ == 5
    np.testing.assert_allclose(m.V_.T @ m.V_, np.eye(2), atol=1e-8)
    assert np.linalg.matrix_rank(m.coef_) == 2
    # relaxed refit without extra shrinkage ≈ the true coefficients
    m0 = SparseRRR(rank=2, n_genes=5, relaxed_ridge=1e-8).fit(x, y)
    np.testing.assert_allclose(m0.coef_.T, true, atol=0.1)
    assert m.latent(x).shape == (300, 2)


def test_srrr_lambda_mode_and_unrelaxed_shrinks() -> None:
    x, y, _, _ = _planted(seed=1)
    big = SparseRRR(rank=2, n_genes=None, penalty=10.0).fit(x, y)
    assert big.n_genes_selected_ == 0
    np.testing.assert_allclose(big.predict(x), np.tile(y.mean(axis=0), (len(x), 1)))
    strict = SparseRRR(rank=2, n_genes=5, relaxed=False).fit(x, y)
    relaxed = SparseRRR(rank=2, n_genes=5, relaxed=True).fit(x, y)
    assert np.abs(strict.coef_).sum() < np.abs(relaxed.coef_).sum()


def test_srrr_cv_beats_chance() -> None:
    x, y, _, _ = _planted(seed=2)
    pred = cross_val_predict(SparseRRR(rank=2, n_genes=5), x, y, cv=5)
    r2 = 1 - ((y - pred) ** 2).sum(0) / ((y - y.mean(0)) ** 2).sum(0)
    assert r2.mean() > 0.5


def test_ridge_loo_matches_sklearn_ridgecv() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(60, 20))
    y = x[:, :3] @ rng.normal(size=(3, 4)) + rng.normal(size=(60, 4))
    alphas = np.logspace(-2, 3, 12)
    ours = RidgeLOO(alphas=alphas).fit(x, y)
    ref = RidgeCV(alphas=alphas, alpha_per_target=True).fit(x, y)
    np.testing.assert_allclose(ours.alpha_, ref.alpha_)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(ours.predict(x), ref.predict(x), rtol=1e-6, atol=1e-8)
    # p > n goes through the cells × cells Gram
    xw = rng.normal(size=(30, 50))
    yw = rng.normal(size=30)
    a = RidgeLOO(alphas=alphas).fit(xw, yw)
    b = RidgeCV(alphas=alphas).fit(xw, yw)
    assert a.alpha_ == pytest.approx(b.alpha_)
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-6, atol=1e-8)
    # weights = duplicated rows for the fit
    w = rng.integers(1, 4, size=60)
    aw = RidgeLOO(alphas=[10.0]).fit(x, y, sample_weight=w)
    ad = RidgeLOO(alphas=[10.0]).fit(np.repeat(x, w, axis=0), np.repeat(y, w, axis=0))
    np.testing.assert_allclose(aw.coef_, ad.coef_, rtol=1e-8)
    with pytest.raises(DataError, match="alphas"):
        RidgeLOO(alphas=[-1.0]).fit(x, y)


@pytest.mark.parametrize("name", ["ridge", "srrr", "enet", "pca_ridge", "gbm"])
def test_make_model_all_fit(name: str) -> None:
    x, y, _, _ = _planted(n=80, p=70, q=3)
    kw = {"n_components": 5} if name == "pca_ridge" else {}
    if name == "srrr":
        kw = {"rank": 2, "n_genes": 5}
    if name == "gbm":
        kw = {"max_iter": 10}
    m = make_model(name, **kw).fit(x, y)
    assert m.predict(x).shape == (80, 3)
    with pytest.raises(DataError, match="unknown model"):
        make_model("nope")


def test_ridge_leave_group_out_is_exact() -> None:
    from sklearn.linear_model import Ridge

    rng = np.random.default_rng(4)
    x = rng.normal(size=(40, 12))
    y = rng.normal(size=(40, 2))
    groups = np.repeat(np.arange(8), 5)
    alphas = [0.5, 5.0, 50.0]
    m = RidgeLOO(alphas=alphas).fit(x, y, groups=groups)
    brute = np.zeros((3, 2))
    for i, a in enumerate(alphas):
        err = np.zeros_like(y)
        for g in range(8):
            te = groups == g
            err[te] = y[te] - Ridge(alpha=a).fit(x[~te], y[~te]).predict(x[te])
        brute[i] = np.mean(err**2, axis=0)
    np.testing.assert_allclose(m.loo_mse_, brute, rtol=1e-8)
