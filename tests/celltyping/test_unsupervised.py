"""Sparse PCA of feature blocks, clustering with BIC, stability, agreement, effect sizes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_blobs

from patchatlas.celltyping import (
    GaussianMixtureTypes,
    HierarchicalTypes,
    SparsePCABlocks,
    agreement,
    cluster_stability,
    contingency,
    effect_sizes,
    feature_separation,
    find_types,
    partition_bic,
)
from patchatlas.errors import DataError
from tests.celltyping.conftest import typed_features


def test_sparse_pca_blocks() -> None:
    x, _ = typed_features(n_feat=8)
    blocks = {"a": ["f0", "f1", "f2", "f3"], "b": [4, 5, 6, 7]}
    sp = SparsePCABlocks(blocks=blocks, n_components=3, random_state=0).fit(x)
    z = sp.transform(x)
    names = sp.get_feature_names_out()
    assert z.shape == (len(x), len(names)) and np.isfinite(z).all()
    assert {n.split("_")[0] for n in names} == {"a", "b"}
    np.testing.assert_allclose(z.mean(axis=0), 0.0, atol=1e-9)
    assert (sp.explained_["variance_fraction"] >= 0.01).all()
    np.testing.assert_allclose(sp.fit_transform(x), z)
    with pytest.raises(DataError, match="lacks"):
        SparsePCABlocks(blocks={"a": ["nope"]}).fit(x)


def test_clusterers_choose_the_number_of_types() -> None:
    x, y = make_blobs(n_samples=300, centers=3, cluster_std=0.6, random_state=0)
    g = GaussianMixtureTypes(max_clusters=6).fit(x)
    assert g.n_clusters_ == 3 and g.bic_["bic"].idxmin() == 2
    assert agreement(g.labels_, y).ari > 0.95
    np.testing.assert_array_equal(g.predict(x), g.labels_)
    assert np.bincount(g.labels_)[0] == np.bincount(g.labels_).max()  # largest first
    h = HierarchicalTypes(max_clusters=6).fit(x)
    assert h.n_clusters_ == 3 and agreement(h.labels_, y).ari > 0.95
    assert partition_bic(x, y) < partition_bic(x, np.zeros(len(x)))


def test_stability_separates_real_from_noise() -> None:
    x, _ = make_blobs(n_samples=240, centers=3, cluster_std=0.5, random_state=1)
    good = cluster_stability(GaussianMixtureTypes(3, 3), x, n_resamples=5)
    assert good.mean_ari > 0.9 and (good.per_cluster["jaccard_mean"] > 0.85).all()
    np.testing.assert_allclose(np.diag(good.co_clustering), good.per_cluster["co_clustering"])
    noise = np.random.default_rng(0).normal(size=(240, 2))
    bad = cluster_stability(GaussianMixtureTypes(6, 6), noise, n_resamples=5)
    assert bad.mean_ari < good.mean_ari - 0.2


def test_find_types_end_to_end() -> None:
    x, y = typed_features(n_per=50, n_types=3, n_feat=6, missing=0.05, seed=3)
    res = find_types(x, kind="e", max_clusters=6, n_resamples=4, compare=y)
    assert res.n_types == 3 and set(res.labels) == {"e1", "e2", "e3"}
    assert res.agreement is not None and res.agreement.ami > 0.8
    assert res.stability is not None and res.stability.mean_ari > 0.8
    assert res.confidence.between(0, 1).all()
    assert set(res.effect_sizes["type"]) == {"e1", "e2", "e3"}
    assert res.provenance["method"] == "gmm" and "TypingResult(e-types: 3 types" in repr(res)
    w = find_types(x, kind="m", method="ward", max_clusters=6, n_resamples=0)
    assert w.stability is None and w.confidence.isna().all() and w.n_types >= 2


def test_agreement_and_effect_sizes() -> None:
    a = np.array(["x", "x", "y", "y", None])
    b = np.array(["p", "p", "q", "q", "q"])
    ag = agreement(a, b)
    assert ag.n == 4 and ag.ami == pytest.approx(1.0) and ag.purity == 1.0
    assert contingency(a, b, normalize="rows").loc["x", "p"] == 1.0
    rng = np.random.default_rng(0)
    lab = np.repeat(["hi", "lo"], 50)
    df = pd.DataFrame(
        {"sep": np.r_[rng.normal(3, 1, 50), rng.normal(0, 1, 50)], "noise": rng.normal(size=100)}
    )
    es = effect_sizes(df, lab)
    hi = es[(es["type"] == "hi")].set_index("feature")
    assert hi.loc["sep", "cohens_d"] > 2 and hi.loc["sep", "auc"] > 0.95
    assert abs(hi.loc["noise", "auc"] - 0.5) < 0.2
    assert es[es["type"] == "hi"]["feature"].iloc[0] == "sep"  # sorted by separation
    fs = feature_separation(df, lab)
    assert fs["feature"].iloc[0] == "sep" and fs["epsilon2"].iloc[0] > 0.5
