"""Classification metrics for typing: balanced accuracy and macro-F1 from confusion counts,
bootstrap confidence intervals over cells, confusion tables and calibration tables.

Metrics are computed from confusion counts so that thousands of bootstrap resamples cost one
matrix product: a resample is a vector of per-cell weights (how often each cell was drawn).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from patchatlas.errors import DataError

__all__ = [
    "bootstrap_metrics",
    "calibration_table",
    "classification_scores",
    "confusion_table",
    "per_class_scores",
]

Array = NDArray[np.float64]


def _codes(
    y_true: ArrayLike, y_pred: ArrayLike, classes: Sequence[Any] | None
) -> tuple[NDArray[np.intp], NDArray[np.intp], NDArray[Any]]:
    t = np.asarray(y_true).astype(str)
    p = np.asarray(y_pred).astype(str)
    if t.shape != p.shape:
        raise DataError(f"{t.shape[0]} true labels but {p.shape[0]} predictions")
    cls = np.asarray(classes).astype(str) if classes is not None else np.unique(t)
    pos = {c: i for i, c in enumerate(cls)}
    if any(c not in pos for c in np.unique(t)):
        raise DataError("a true label is missing from `classes`")
    ti = np.array([pos[c] for c in t], dtype=np.intp)
    # a prediction outside the classes counts as wrong for every class (index K)
    pi = np.array([pos.get(c, len(cls)) for c in p], dtype=np.intp)
    return ti, pi, cls


def _scores_from_counts(counts: Array, k: int) -> dict[str, Array]:
    """counts: (..., k, k + 1) confusion counts (rows true, columns predicted + 'other')."""
    tp = np.diagonal(counts[..., :k], axis1=-2, axis2=-1)
    support = counts.sum(axis=-1)
    predicted = counts[..., :k].sum(axis=-2)
    total = support.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = tp / support
        precision = np.where(predicted > 0, tp / np.where(predicted > 0, predicted, 1), 0.0)
        f1 = np.where(support + predicted > 0, 2 * tp / (support + predicted), 0.0)
    present = support > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        bacc = np.where(present, np.nan_to_num(recall), 0.0).sum(axis=-1) / present.sum(axis=-1)
        macro_f1 = np.where(present, f1, 0.0).sum(axis=-1) / present.sum(axis=-1)
        acc = tp.sum(axis=-1) / total
    return {
        "balanced_accuracy": bacc,
        "macro_f1": macro_f1,
        "accuracy": acc,
        "recall": recall,
        "precision": precision,
        "f1": f1,
    }


def classification_scores(
    y_true: ArrayLike, y_pred: ArrayLike, *, classes: Sequence[Any] | None = None
) -> dict[str, float]:
    """Balanced accuracy (mean per-class recall), macro-F1 and accuracy.

    Parameters
    ----------
    y_true, y_pred
        True and predicted labels of the same cells.
    classes
        The classes to average over (default: those in ``y_true``); classes without true
        cells are left out of the means.

    Returns
    -------
    dict
        ``balanced_accuracy``, ``macro_f1``, ``accuracy`` (fractions) and ``n``.
    """
    ti, pi, cls = _codes(y_true, y_pred, classes)
    k = len(cls)
    counts = np.zeros((k, k + 1))
    np.add.at(counts, (ti, pi), 1.0)
    s = _scores_from_counts(counts, k)
    return {
        "balanced_accuracy": float(s["balanced_accuracy"]),
        "macro_f1": float(s["macro_f1"]),
        "accuracy": float(s["accuracy"]),
        "n": len(ti),
    }


def per_class_scores(
    y_true: ArrayLike, y_pred: ArrayLike, *, classes: Sequence[Any] | None = None
) -> pd.DataFrame:
    """Recall, precision and F1 of each class.

    Parameters
    ----------
    y_true, y_pred
        True and predicted labels.
    classes
        Class order (default: sorted true labels).

    Returns
    -------
    pandas.DataFrame
        ``class``, ``n`` (true cells), ``n_predicted``, ``recall``, ``precision``, ``f1``.
    """
    ti, pi, cls = _codes(y_true, y_pred, classes)
    k = len(cls)
    counts = np.zeros((k, k + 1))
    np.add.at(counts, (ti, pi), 1.0)
    s = _scores_from_counts(counts, k)
    return pd.DataFrame(
        {
            "class": cls,
            "n": counts.sum(axis=1).astype(int),
            "n_predicted": counts[:, :k].sum(axis=0).astype(int),
            "recall": s["recall"],
            "precision": s["precision"],
            "f1": s["f1"],
        }
    )


def _bootstrap(
    y_true: ArrayLike,
    predictions: Sequence[ArrayLike],
    classes: Sequence[Any] | None,
    n_boot: int,
    seed: int,
) -> tuple[dict[str, Array], dict[str, Array], int]:
    """Per-repeat point values and the bootstrap distribution of the mean over repeats.

    The resamples depend only on ``y_true`` and ``seed``, so two calls with the same ones
    draw the same cells (paired comparisons)."""
    if not len(predictions):
        raise DataError("bootstrap_metrics: no predictions")
    codes = [_codes(y_true, p, classes) for p in predictions]
    ti, _, cls = codes[0]
    k, n = len(cls), len(ti)
    rng = np.random.default_rng(seed)
    weights = np.zeros((n_boot, n))
    for c in range(k):
        idx = np.flatnonzero(ti == c)
        if not len(idx):
            continue
        draws = rng.integers(0, len(idx), size=(n_boot, len(idx)))
        for b in range(n_boot):
            weights[b] += np.bincount(idx[draws[b]], minlength=n)
    names = ("balanced_accuracy", "macro_f1", "accuracy")
    per_rep: dict[str, list[Array]] = {m: [] for m in names}
    point: dict[str, list[float]] = {m: [] for m in names}
    for t, p, _ in codes:
        onehot = np.zeros((n, k * (k + 1)))
        onehot[np.arange(n), t * (k + 1) + p] = 1.0
        full = onehot.sum(axis=0).reshape(k, k + 1)
        boot = (weights @ onehot).reshape(n_boot, k, k + 1)
        s_full = _scores_from_counts(full, k)
        s_boot = _scores_from_counts(boot, k)
        for m in names:
            per_rep[m].append(np.asarray(s_boot[m]))
            point[m].append(float(s_full[m]))
    dist = {m: np.mean(per_rep[m], axis=0) for m in names}
    pts = {m: np.asarray(point[m]) for m in names}
    return pts, dist, n


def bootstrap_metrics(
    y_true: ArrayLike,
    predictions: Sequence[ArrayLike],
    *,
    classes: Sequence[Any] | None = None,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    baseline: Sequence[ArrayLike] | None = None,
) -> pd.DataFrame:
    """Mean over CV repeats of balanced accuracy, macro-F1 and accuracy, with a bootstrap CI.

    Each resample draws cells with replacement, stratified by true class, and recomputes the
    metric of every repeat's out-of-fold predictions on the same cells; the CI is the
    percentile interval of the mean over repeats. It covers the sampling of cells (the
    dominant uncertainty), which the spread over CV repeats alone understates.

    Parameters
    ----------
    y_true
        True labels.
    predictions
        One array of out-of-fold predictions per CV repeat (same cells, same order).
    classes
        Class order (default: the sorted true labels).
    n_boot
        Resamples.
    level
        Coverage of the interval.
    seed
        Random seed.
    baseline
        Predictions of another model on the same cells: the table then holds the paired
        difference (``predictions`` − ``baseline``) on identical resamples.

    Returns
    -------
    pandas.DataFrame
        One row per metric (``balanced_accuracy``, ``macro_f1``, ``accuracy``): ``mean``
        (over repeats), ``sd`` (over repeats), ``ci_low``, ``ci_high``, ``n_repeats``, ``n``.
    """
    pts, dist, n = _bootstrap(y_true, predictions, classes, n_boot, seed)
    if baseline is not None:
        bpts, bdist, _ = _bootstrap(y_true, baseline, classes, n_boot, seed)
        pts = {m: np.asarray([pts[m].mean() - bpts[m].mean()]) for m in pts}
        dist = {m: dist[m] - bdist[m] for m in dist}
    alpha = (1.0 - level) / 2.0
    rows = []
    for m in pts:
        p = pts[m]
        rows.append(
            {
                "metric": m,
                "mean": float(p.mean()),
                "sd": float(p.std(ddof=1)) if len(p) > 1 else 0.0,
                "ci_low": float(np.quantile(dist[m], alpha)),
                "ci_high": float(np.quantile(dist[m], 1.0 - alpha)),
                "n_repeats": len(predictions),
                "n": n,
            }
        )
    return pd.DataFrame(rows)


def confusion_table(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    *,
    classes: Sequence[Any] | None = None,
    normalize: bool = False,
) -> pd.DataFrame:
    """Confusion counts: rows true class, columns predicted class.

    Parameters
    ----------
    y_true, y_pred
        True and predicted labels (pool several CV repeats by concatenating them).
    classes
        Class order of rows and columns (default: sorted true labels); predictions outside it
        go to a column ``"(other)"`` when there are any.
    normalize
        Divide each row by its total (rows then hold per-class recall on the diagonal).

    Returns
    -------
    pandas.DataFrame
        Index ``true``, columns ``predicted``.
    """
    ti, pi, cls = _codes(y_true, y_pred, classes)
    k = len(cls)
    counts = np.zeros((k, k + 1))
    np.add.at(counts, (ti, pi), 1.0)
    cols = [*cls.tolist(), "(other)"]
    df = pd.DataFrame(counts, index=pd.Index(cls, name="true"), columns=cols)
    if df["(other)"].sum() == 0:
        df = df.drop(columns="(other)")
    df.columns.name = "predicted"
    if normalize:
        tot = df.sum(axis=1).replace(0, np.nan)
        return df.div(tot, axis=0).fillna(0.0)
    return df.astype(int)


def calibration_table(
    correct: ArrayLike,
    confidence: ArrayLike,
    *,
    bins: Sequence[float] | int = 5,
    n_boot: int = 1000,
    seed: int = 0,
) -> pd.DataFrame:
    """Accuracy per confidence bin (is a confident call more often right?).

    Parameters
    ----------
    correct
        Whether each call agrees with the truth (bool).
    confidence
        The caller's confidence of each call in [0, 1].
    bins
        Bin edges, or a number of equal-count (quantile) bins.
    n_boot
        Bootstrap resamples (within bin) for the accuracy CI.
    seed
        Random seed.

    Returns
    -------
    pandas.DataFrame
        One row per non-empty bin: ``bin_low``, ``bin_high``, ``n``, ``mean_confidence``,
        ``accuracy``, ``ci_low``, ``ci_high``. ``attrs["spearman"]`` holds the rank
        correlation of bin confidence and accuracy, ``attrs["auc"]`` the probability that a
        correct call has a higher confidence than a wrong one.
    """
    ok = np.asarray(correct, dtype=bool)
    conf = np.asarray(confidence, dtype=np.float64)
    if ok.shape != conf.shape:
        raise DataError(f"{ok.shape[0]} correctness flags but {conf.shape[0]} confidences")
    if isinstance(bins, int):
        edges = np.unique(np.quantile(conf, np.linspace(0, 1, bins + 1)))
    else:
        edges = np.asarray(bins, dtype=np.float64)
    if len(edges) < 2:
        edges = np.array([conf.min(), conf.max() + 1e-12])
    which = np.clip(np.searchsorted(edges, conf, side="right") - 1, 0, len(edges) - 2)
    rng = np.random.default_rng(seed)
    rows = []
    for b in range(len(edges) - 1):
        sel = which == b
        m = int(sel.sum())
        if not m:
            continue
        acc = float(ok[sel].mean())
        draws = rng.binomial(m, acc, size=n_boot) / m
        rows.append(
            {
                "bin_low": float(edges[b]),
                "bin_high": float(edges[b + 1]),
                "n": m,
                "mean_confidence": float(conf[sel].mean()),
                "accuracy": acc,
                "ci_low": float(np.quantile(draws, 0.025)),
                "ci_high": float(np.quantile(draws, 0.975)),
            }
        )
    df = pd.DataFrame(rows)
    from scipy.stats import mannwhitneyu, spearmanr

    if len(df) > 2:
        rho = spearmanr(df["mean_confidence"], df["accuracy"]).statistic
        df.attrs["spearman"] = float(rho) if np.isfinite(rho) else float("nan")
    else:
        df.attrs["spearman"] = float("nan")
    if ok.any() and (~ok).any():
        u = mannwhitneyu(conf[ok], conf[~ok]).statistic
        df.attrs["auc"] = float(u / (ok.sum() * (~ok).sum()))
    else:
        df.attrs["auc"] = float("nan")
    return df
