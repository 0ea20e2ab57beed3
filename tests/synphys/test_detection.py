"""Connection detection: the operating point of the automated call, the learned classifier."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from patchatlas.synphys import call_connection, norm_pvalue


def _features(rng: np.random.Generator, n: int, effect: float = 0.0) -> pd.DataFrame:
    fg = rng.normal(0, 1, (n, 2))
    bg = rng.normal(0, 1, (n, 2))
    fg[:, 0] += effect
    return pd.DataFrame({
        "clamp_mode": "ic", "ex_qc": True, "in_qc": False, "baseline_found": True,
        "fg_pos_dec_amp": fg[:, 0], "bg_pos_dec_amp": bg[:, 0],
        "fg_neg_dec_amp": -np.abs(fg[:, 1]), "bg_neg_dec_amp": -np.abs(bg[:, 1]),
    })  # fmt: skip


def test_norm_pvalue() -> None:
    expect = [0.0, np.log(1 - np.log(0.1)), np.log(1 + 300 * np.log(10)), 7.0]
    np.testing.assert_allclose(norm_pvalue([1.0, 0.1, 1e-300, 0.0]), expect)
    assert np.isnan(norm_pvalue(np.nan))


def test_operating_point_bounds_false_calls() -> None:
    # without a synapse, foreground and background are exchangeable: at most alpha of the
    # unconnected pairs are called connected
    rng = np.random.default_rng(0)
    alpha = 0.05
    calls = [call_connection(_features(rng, 40), alpha=alpha).connected for _ in range(400)]
    assert np.mean(calls) <= alpha + 0.02
    hit = call_connection(_features(rng, 40, effect=1.5), alpha=1e-3)
    assert hit.connected and hit.synapse_type == "ex" and hit.p_value < 1e-3
    few = call_connection(_features(rng, 5), alpha=1e-3)
    assert few.connected is None


def test_classifier_operating_point() -> None:
    pytest.importorskip("sklearn")
    from patchatlas.synphys import ConnectionClassifier

    rng = np.random.default_rng(1)
    n = 600
    y = rng.random(n) < 0.15
    X = rng.normal(size=(n, 3)) + np.where(y[:, None], [3.0, 2.0, 0.0], 0.0)
    clf = ConnectionClassifier(target_fpr=0.02).fit(X[:400], y[:400])
    p = clf.predict_proba(X[400:])
    assert p.shape == (200, 2) and np.allclose(p.sum(axis=1), 1)
    pred = clf.predict(X[400:])
    neg = ~y[400:]
    assert pred[neg].mean() <= 0.06  # the operating point (2 %) holds out of sample, roughly
    assert pred[~neg].mean() > 0.5
    assert 0 < clf.threshold_ < 1
