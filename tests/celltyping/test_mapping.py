"""Mapping transcriptomes onto a reference taxonomy, and its validation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from patchatlas.celltyping import (
    TaxonomyMapper,
    cross_validate_mapping,
    log_cpm,
    map_ttypes,
    select_markers,
)
from patchatlas.errors import DataError

anndata = pytest.importorskip("anndata")


def counts(
    n_per: int = 30, seed: int = 0, n_genes: int = 120
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Counts of 4 types in 2 families; genes 10k..10k+9 mark type k."""
    rng = np.random.default_rng(seed)
    types = np.repeat(["A1", "A2", "B1", "B2"], n_per)
    base = rng.gamma(2.0, 5.0, size=n_genes)
    mu = np.tile(base, (len(types), 1))
    for k, t in enumerate(["A1", "A2", "B1", "B2"]):
        mu[types == t, 10 * k : 10 * k + 10] *= 8.0
    mu[np.isin(types, ["A1", "A2"]), 40:50] *= 6.0  # family A markers
    x = rng.poisson(mu * rng.uniform(0.5, 1.5, size=(len(types), 1)))
    genes = [f"Gene{i}" for i in range(n_genes)]
    return x.astype(float), types, genes


def test_markers_and_mapper_recover_types() -> None:
    x, t, _ = counts()
    lx = log_cpm(x)
    mk = select_markers(lx, t, n_per_type=10)
    assert set(range(40)) & set(mk.tolist()) and len(mk) <= 40
    m = TaxonomyMapper(n_markers=10, n_bootstrap=50).fit(lx[::2], t[::2])
    assert (m.predict(lx[1::2]) == t[1::2]).mean() > 0.95
    proba = m.predict_proba(lx[1::2])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    # a 50:50 mixture of two types is a less confident call than a pure cell
    mix = 0.5 * (lx[t == "A1"][:5] + lx[t == "B1"][:5])
    assert m.predict_proba(mix).max(axis=1).mean() < proba.max(axis=1).mean()
    assert m.similarity(lx[:3]).shape == (3, 4)


def test_log_cpm_checks() -> None:
    np.testing.assert_allclose(log_cpm(np.array([[1.0, 3.0]])), np.log2([[250001, 750001]]))
    with pytest.raises(DataError, match="negative"):
        log_cpm(np.array([[-1.0, 2.0]]))
    with pytest.raises(DataError, match="library"):
        log_cpm(np.zeros((1, 2)))


def test_map_ttypes_matches_genes_by_name() -> None:
    x, t, genes = counts()
    fam = np.array([s[0] for s in t])
    ref = anndata.AnnData(X=x[::2], obs=pd.DataFrame({"t_type": t[::2], "family": fam[::2]}))
    ref.var_names = genes
    ref.obs_names = [f"r{i}" for i in range(ref.n_obs)]
    # the query has a shuffled subset of the genes, upper-case names
    order = np.random.default_rng(1).permutation(len(genes))[:100]
    q = anndata.AnnData(X=x[1::2][:, order])
    q.var_names = [genes[i].upper() for i in order]
    q.obs_names = [f"q{i}" for i in range(q.n_obs)]
    res = map_ttypes(q, ref, n_markers=10, n_bootstrap=40)
    assert res.n_genes_shared == 100
    tab = res.table
    assert (tab["t_type"].to_numpy() == t[1::2]).mean() > 0.9
    assert (tab["family"].to_numpy() == fam[1::2]).mean() > 0.95
    assert (tab["family_confidence"] >= tab["confidence"] - 1e-12).all()
    assert res.provenance["parameters"]["n_bootstrap"] == 40
    with pytest.raises(DataError, match="obs column"):
        map_ttypes(q, ref, label_key="cluster")


def test_cross_validate_mapping_reports_agreement_and_calibration() -> None:
    x, t, genes = counts(n_per=40)
    fam = np.array([s[0] for s in t])
    conf = np.where(np.arange(len(t)) % 5 == 0, 0.5, 0.95)
    ad = anndata.AnnData(X=x, obs=pd.DataFrame({"t_type": t, "family": fam, "conf": conf}))
    ad.var_names = genes
    ad.obs_names = [f"c{i}" for i in range(ad.n_obs)]
    v = cross_validate_mapping(ad, confidence_key="conf", n_folds=4, n_markers=10, n_bootstrap=30)
    assert list(v.cells.index) == list(ad.obs_names)
    assert v.accuracy("family") >= v.accuracy("type") > 0.9
    a = v.agreement.set_index(["level", "subset"])
    assert a.loc[("type", "confident"), "n"] == int((conf >= 0.7).sum())
    assert (a["ci_low"] <= a["accuracy"]).all()
    assert set(v.calibration["level"]) == {"type", "family"}
    assert all(s < len(t) * 0.8 for s in v.provenance["reference_sizes"])  # confident only
