"""In-fold expression preprocessing transformers.

scikit-learn's common estimator checks for every exported estimator: tests/test_estimators.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from patchatlas.errors import DataError
from patchatlas.transcriptomics import (
    CPM,
    GeneSetSelector,
    HighlyVariableGenes,
    Log,
    MeanDropoutSelector,
    cpm,
    make_preprocessor,
    match_genes,
)


def _counts(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n, p = 200, 60
    base = rng.gamma(2.0, 20.0, size=p)
    x = rng.poisson(base, size=(n, p)).astype(float)
    # genes 0-4: on/off (type-specific, bimodal), expressed high in half the cells
    on = rng.random(n) < 0.5
    x[:, :5] = np.where(on[:, None], rng.poisson(400, size=(n, 5)), 0)
    return x


def test_cpm_library_size_and_gene_length() -> None:
    x = np.array([[1.0, 3.0], [2.0, 2.0]])
    np.testing.assert_allclose(cpm(x).sum(axis=1), 1e6)
    out = cpm(x, library_size=[10.0, 100.0])
    np.testing.assert_allclose(out, [[1e5, 3e5], [2e4, 2e4]])
    gl = cpm(x, gene_lengths=[1000.0, 3000.0])
    np.testing.assert_allclose(gl[:, 1] / gl[:, 0], [1.0, 1 / 3])
    with pytest.raises(DataError, match="library size"):
        cpm(x, library_size=[0.0, 1.0])
    with pytest.raises(DataError, match="one value per cell"):
        cpm(x, library_size=[1.0])


def test_cpm_and_log_transformers() -> None:
    x = _counts()
    np.testing.assert_allclose(CPM().fit_transform(x).sum(axis=1), 1e6)
    np.testing.assert_allclose(Log().fit_transform(np.array([[0.0, 1.0, 3.0]])), [[0, 1, 2]])


def test_mean_dropout_picks_bimodal_genes() -> None:
    x = _counts()
    sel = MeanDropoutSelector(5, min_cells=5).fit(x)
    assert sel.get_support().sum() == 5
    np.testing.assert_array_equal(np.flatnonzero(sel.get_support()), np.arange(5))
    assert sel.transform(x).shape == (200, 5)


def test_hvg_variance() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(100, 10))
    x[:, 7] *= 10
    sel = HighlyVariableGenes(1).fit(x)
    assert np.flatnonzero(sel.get_support()).tolist() == [7]


def test_gene_set_selector_case_insensitive() -> None:
    names = ["Kcnc1", "Pvalb", "Scn1a", "Gad1"]
    assert match_genes(names, ["KCNC1", "SCN1A"]).tolist() == [True, False, True, False]
    x = np.arange(8.0).reshape(2, 4)
    sel = GeneSetSelector(genes=["KCNC1", "SCN1A"], feature_names=names).fit(x)
    np.testing.assert_array_equal(sel.transform(x), x[:, [0, 2]])
    assert list(sel.get_feature_names_out(np.array(names, dtype=object))) == ["Kcnc1", "Scn1a"]
    with pytest.raises(DataError, match="none of the genes"):
        GeneSetSelector(genes=["XYZ"], feature_names=names).fit(x)


def test_preprocessor_selection_is_fitted_on_training_rows_only() -> None:
    x = _counts()
    train, test = x[:100].copy(), x[100:].copy()
    # make gene 10 hugely variable in the test rows only: must not be selected
    test[:, 10] = np.where(np.arange(100) % 2 == 0, 5000.0, 0.0)
    pipe = make_preprocessor(normalize=True, log=True, select="hvg", n_genes=5)
    pipe.fit(train)
    assert not pipe.named_steps["select"].get_support()[10]
    out = pipe.transform(test)
    assert out.shape == (100, 5)
    z = pipe.transform(train)
    np.testing.assert_allclose(z.mean(axis=0), 0.0, atol=1e-9)
    md = make_preprocessor(log=True, select="mean_dropout", n_genes=5)
    assert [n for n, _ in md.steps] == ["select", "log", "zscore"]
    with pytest.raises(DataError, match="unknown gene selection"):
        make_preprocessor(select="nope")
