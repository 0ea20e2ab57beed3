"""Metrics from confusion counts, bootstrap CIs, calibration."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score, f1_score

from patchatlas.celltyping import (
    bootstrap_metrics,
    calibration_table,
    classification_scores,
    confusion_table,
    per_class_scores,
)


def _noisy(n: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.choice(["a", "b", "c"], size=n, p=[0.6, 0.3, 0.1])
    p = y.copy()
    flip = rng.random(n) < 0.3
    p[flip] = rng.choice(["a", "b", "c"], size=int(flip.sum()))
    return y, p


def test_scores_match_sklearn() -> None:
    y, p = _noisy()
    s = classification_scores(y, p)
    assert s["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y, p))
    assert s["macro_f1"] == pytest.approx(f1_score(y, p, average="macro"))
    pc = per_class_scores(y, p)
    assert pc["n"].sum() == len(y)
    assert pc["recall"].mean() == pytest.approx(s["balanced_accuracy"])


def test_bootstrap_ci_and_paired_difference() -> None:
    y, p = _noisy()
    _, p2 = _noisy(seed=1)
    t = bootstrap_metrics(y, [p, p2], n_boot=300).set_index("metric")
    for m in ("balanced_accuracy", "macro_f1", "accuracy"):
        assert t.loc[m, "ci_low"] < t.loc[m, "mean"] < t.loc[m, "ci_high"]
    assert t.loc["accuracy", "n_repeats"] == 2 and t.loc["accuracy", "sd"] > 0
    same = bootstrap_metrics(y, [p], baseline=[p], n_boot=100).set_index("metric")
    assert (same["mean"] == 0).all() and (same["ci_high"] - same["ci_low"] == 0).all()
    worse = np.where(np.arange(len(y)) % 2 == 0, "a", p)
    d = bootstrap_metrics(y, [p], baseline=[worse], n_boot=300).set_index("metric")
    assert d.loc["balanced_accuracy", "ci_low"] > 0


def test_confusion_and_calibration() -> None:
    y, p = _noisy()
    c = confusion_table(y, p)
    assert c.to_numpy().sum() == len(y) and list(c.index) == ["a", "b", "c"]
    np.testing.assert_allclose(confusion_table(y, p, normalize=True).sum(axis=1), 1.0)
    other = confusion_table(["a", "b"], ["a", "z"], classes=["a", "b"])
    assert other.loc["b", "(other)"] == 1
    rng = np.random.default_rng(0)
    conf = rng.uniform(0.2, 1.0, 2000)
    correct = rng.random(2000) < conf  # calibrated by construction
    cal = calibration_table(correct, conf, bins=5)
    assert cal["accuracy"].is_monotonic_increasing
    assert cal.attrs["spearman"] == pytest.approx(1.0) and cal.attrs["auc"] > 0.6
    np.testing.assert_allclose(cal["accuracy"], cal["mean_confidence"], atol=0.06)
