"""TTypeClassifier and the repeated-CV evaluation with baselines."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from patchatlas.celltyping import (
    TTypeClassifier,
    TTypePrediction,
    predict_ttypes,
    prediction_markdown,
)
from patchatlas.errors import DataError, ParameterError
from tests.celltyping.conftest import typed_features


def test_classifier_fits_raw_features_with_nans(typed: tuple[pd.DataFrame, np.ndarray]) -> None:
    x, y = typed
    clf = TTypeClassifier().fit(x.iloc[::2], y[::2])
    assert list(clf.classes_) == ["T0", "T1", "T2", "T3"]
    assert clf.C_ in (1.0, 3.0, 10.0) and set(clf.inner_scores_) == {1.0, 3.0, 10.0}
    assert clf.temperature_ > 0
    proba = clf.predict_proba(x.iloc[1::2])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    pred = clf.predict(x.iloc[1::2])
    np.testing.assert_array_equal(pred, clf.classes_[proba.argmax(axis=1)])
    assert (pred == y[1::2]).mean() > 0.9
    assert list(clf.feature_names_in_) == list(x.columns)


@pytest.mark.parametrize("model", ["logistic", "forest"])
def test_other_models(typed: tuple[pd.DataFrame, np.ndarray], model: str) -> None:
    x, y = typed
    clf = TTypeClassifier(model=model, C=1.0).fit(x.iloc[::2], y[::2])
    assert (clf.predict(x.iloc[1::2]) == y[1::2]).mean() > 0.85


def test_classifier_errors(typed: tuple[pd.DataFrame, np.ndarray]) -> None:
    x, y = typed
    with pytest.raises(DataError, match="one class"):
        TTypeClassifier().fit(x, np.full(len(x), "A"))
    with pytest.raises(ParameterError, match="model"):
        TTypeClassifier(model="tree").fit(x, y)
    with pytest.raises(ValueError, match="features"):
        TTypeClassifier().fit(x, y).predict(x.iloc[:, :3].to_numpy())


def test_small_classes_fall_back_to_the_default_c() -> None:
    x, y = typed_features(n_per=2, n_types=3)
    clf = TTypeClassifier().fit(x, y)  # 2 cells per class < 3 inner folds
    assert clf.C_ == 3.0 and clf.inner_scores_ == {} and clf.temperature_ == 1.0


def test_predict_ttypes_against_baselines() -> None:
    x, y = typed_features(n_per=40, n_types=4, seed=1)
    y = y.astype(object)
    y[:3] = "rare"  # a class too small to evaluate
    y[3] = None  # an unlabelled cell
    res = predict_ttypes(
        x, y, level="type", n_repeats=2, n_folds=4, min_cells=10, reference=True, n_boot=200
    )
    assert isinstance(res, TTypePrediction)
    assert res.dropped == {"rare": 3} and len(res.cells) == len(x) - 4
    assert res.metric() > 0.9
    assert res.metric("majority") == pytest.approx(0.25)
    assert res.metric("shuffled") < 0.5
    assert res.metric("reference_forest") > 0.8
    s = res.summary.set_index(["model", "metric"])
    row = s.loc[("classifier", "balanced_accuracy")]
    assert row["ci_low"] <= row["mean"] <= row["ci_high"] and row["n_repeats"] == 2
    assert res.confusion.to_numpy().sum() == 2 * len(res.cells)
    d = res.differences.set_index(["versus", "metric"])
    assert d.loc[("majority", "balanced_accuracy"), "ci_low"] > 0.5
    p = res.predictions
    assert set(p["model"]) == {"classifier", "majority", "shuffled", "reference_forest"}
    assert len(p[p["model"] == "shuffled"]) == len(res.cells)  # one shuffled repeat
    assert res.provenance["n_folds"] == 4 and res.provenance["estimator"] == "TTypeClassifier"
    text = prediction_markdown(res)
    assert "balanced accuracy" in text and "rare (3)" in text


def test_predict_ttypes_progress_and_errors() -> None:
    x, y = typed_features(n_per=15, n_types=2)
    calls: list[tuple[int, int]] = []
    predict_ttypes(
        x,
        y,
        n_repeats=1,
        n_folds=3,
        min_cells=5,
        shuffled_repeats=0,
        n_boot=50,
        progress=lambda d, t: calls.append((d, t)),
    )
    assert calls[-1] == (3, 3)
    with pytest.raises(DataError, match="fewer than 2 classes"):
        predict_ttypes(x, y, min_cells=100)
    with pytest.raises(DataError, match="labels"):
        predict_ttypes(x, y[:-1])
