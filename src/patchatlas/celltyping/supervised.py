"""Supervised t-type prediction from physiology (and morphology): :class:`TTypeClassifier` and
its honest evaluation, :func:`predict_ttypes`.

:class:`TTypeClassifier` takes the raw feature table (NaNs allowed). Inside ``fit`` it learns a
:class:`~patchatlas.celltyping.FeaturePreparer` (log of skewed features, missing indicators,
median imputation, quantile → normal scaling), chooses the regularisation by an inner
stratified CV on the training cells (balanced accuracy), fits a class-balanced RBF support
vector machine and calibrates its scores to probabilities on the inner-CV (out-of-fold)
decision values. Nothing is learned from cells outside ``fit``'s ``X``, so inside an outer CV
the test fold is never seen.

:func:`predict_ttypes` runs repeated stratified K-fold CV of the classifier, the baselines
(majority class; the same classifier trained on shuffled labels) and optionally a reference
(a plain class-balanced random forest on median-imputed features) on identical folds, and
returns one :class:`TTypePrediction` with scores, bootstrap CIs, confusion matrix, per-class
scores, calibration and the out-of-fold predictions.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from patchatlas._version import __version__
from patchatlas.celltyping.features import FeaturePreparer
from patchatlas.celltyping.metrics import (
    bootstrap_metrics,
    calibration_table,
    classification_scores,
    confusion_table,
    per_class_scores,
)
from patchatlas.errors import DataError, ParameterError

__all__ = [
    "MODELS",
    "TTypeClassifier",
    "TTypePrediction",
    "predict_ttypes",
    "prediction_markdown",
    "reference_forest",
]

Array = NDArray[np.float64]
Progress = Callable[[int, int], None]

#: Model families of :class:`TTypeClassifier`.
MODELS = ("svm", "logistic", "forest")


def _fit_temperature(d: Array, y: NDArray[np.intp], w: Array | None) -> float:
    """The T minimising the (weighted) negative log-likelihood of softmax(d / T)."""
    from scipy.optimize import minimize_scalar

    weights = np.ones(len(y)) if w is None else np.asarray(w, dtype=np.float64)

    def nll(log_t: float) -> float:
        p = _softmax(d / np.exp(log_t))
        return float(-(weights * np.log(np.clip(p[np.arange(len(y)), y], 1e-12, None))).sum())

    res = minimize_scalar(nll, bounds=(-4.0, 4.0), method="bounded")
    return float(np.exp(res.x))


def _softmax(d: Array) -> Array:
    z = d - d.max(axis=1, keepdims=True)
    e = np.exp(z)
    out: Array = e / e.sum(axis=1, keepdims=True)
    return out


class TTypeClassifier(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """Predict transcriptomic types from a raw feature table (ephys, morphology, or both).

    Parameters
    ----------
    model
        ``"svm"`` (RBF support vector machine, default), ``"logistic"`` (multinomial logistic
        regression) or ``"forest"`` (random forest, 300 trees).
    C
        Regularisation of ``svm`` / ``logistic`` (inverse strength); ``None`` chooses it from
        ``C_grid`` by inner CV on the training cells.
    C_grid
        Candidates for ``C``.
    inner_folds
        Folds of the inner CV (choice of ``C`` and calibration); with fewer cells per class
        than this, ``C`` is the middle of ``C_grid`` and probabilities are a softmax of the
        decision values.
    class_weight
        ``"balanced"`` (weights inversely proportional to class size, default), ``None`` or a
        dict class → weight.
    scaling
        Scaling of :class:`~patchatlas.celltyping.FeaturePreparer` (``"quantile"`` default).
    log
        Log transform of :class:`~patchatlas.celltyping.FeaturePreparer` (``"auto"``).
    missing_indicators
        Append missing-value indicators.
    calibrate
        Map ``svm`` decision values to probabilities by temperature scaling, softmax(d / T),
        with T minimising the log loss of the inner-CV out-of-fold decision values (so the
        top probability estimates how often the call is right); the ranking of the classes,
        and so the prediction, is unchanged (otherwise T = 1).
    random_state
        Seed of the inner CV split and of the forest.

    Attributes
    ----------
    classes_
        The classes, sorted.
    preparer_
        The fitted :class:`~patchatlas.celltyping.FeaturePreparer`.
    model_
        The fitted scikit-learn model.
    C_
        The regularisation used.
    inner_scores_
        ``C`` → inner-CV balanced accuracy (empty when not tuned).
    temperature_
        Temperature T of the ``svm`` probabilities softmax(decision / T), fitted on the
        inner-CV out-of-fold decision values (1 when not calibrated).
    n_features_in_, feature_names_in_
        As in scikit-learn.

    Notes
    -----
    With ``class_weight="balanced"`` the decision (the argmax of the probabilities) is that of
    a classifier trained as if the classes were equally frequent: it maximises balanced
    accuracy rather than accuracy, at the cost of some precision on the rare classes.
    """

    def __init__(
        self,
        model: str = "svm",
        C: float | None = None,
        C_grid: Sequence[float] = (1.0, 3.0, 10.0),
        inner_folds: int = 3,
        class_weight: str | dict[Any, float] | None = "balanced",
        scaling: str | None = "quantile",
        log: str | bool = "auto",
        missing_indicators: bool = True,
        calibrate: bool = True,
        random_state: int | None = 0,
    ) -> None:
        self.model = model
        self.C = C
        self.C_grid = C_grid
        self.inner_folds = inner_folds
        self.class_weight = class_weight
        self.scaling = scaling
        self.log = log
        self.missing_indicators = missing_indicators
        self.calibrate = calibrate
        self.random_state = random_state

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    # -------------------------------------------------------------------------------- helpers
    def _preparer(self) -> FeaturePreparer:
        return FeaturePreparer(
            log=self.log, missing_indicators=self.missing_indicators, scaling=self.scaling
        )

    def _weights(self) -> Any:
        """class_weight in the encoded labels (0 … K−1) that the inner models see."""
        if isinstance(self.class_weight, dict):
            return {i: float(self.class_weight.get(c, 1.0)) for i, c in enumerate(self.classes_)}
        return self.class_weight

    def _make(self, c: float) -> Any:
        cw = self._weights()
        if self.model == "svm":
            from sklearn.svm import SVC

            return SVC(C=c, kernel="rbf", gamma="scale", class_weight=cw)
        if self.model == "logistic":
            from sklearn.linear_model import LogisticRegression

            return LogisticRegression(C=c, class_weight=cw, max_iter=2000)
        from sklearn.ensemble import RandomForestClassifier

        return RandomForestClassifier(
            n_estimators=300, class_weight=cw, random_state=self.random_state, n_jobs=1
        )

    def _scores(self, est: Any, z: Array, k: int) -> Array:
        """Per-class scores (n × k): decision values (svm) or probabilities."""
        if self.model == "svm":
            d = np.asarray(est.decision_function(z), dtype=np.float64)
            if d.ndim == 1:
                d = np.column_stack([-d, d])
            return d
        p = np.zeros((z.shape[0], k))
        p[:, est.classes_.astype(int)] = est.predict_proba(z)
        return p

    def _check_params(self) -> None:
        if self.model not in MODELS:
            raise ParameterError(
                f"TTypeClassifier: model={self.model!r}; use one of {', '.join(MODELS)}"
            )
        if not (self.class_weight in ("balanced", None) or isinstance(self.class_weight, dict)):
            raise ParameterError(
                f"TTypeClassifier: class_weight={self.class_weight!r}; use 'balanced', None or "
                "a dict class → weight"
            )
        if self.C is not None and not float(self.C) > 0:
            raise ParameterError(f"TTypeClassifier: C={self.C} must be > 0")
        if not len(self.C_grid) or any(not float(c) > 0 for c in self.C_grid):
            raise ParameterError(f"TTypeClassifier: C_grid={self.C_grid} must hold values > 0")

    # ------------------------------------------------------------------------------------ fit
    def fit(self, X: ArrayLike, y: ArrayLike) -> TTypeClassifier:
        """Learn preprocessing, ``C``, the model and the calibration from the training cells.

        Parameters
        ----------
        X
            Cells × features (DataFrame or array); NaN (and ±inf) mark missing values.
        y
            Type label of each cell.

        Returns
        -------
        TTypeClassifier
            self.

        Raises
        ------
        ValueError
            (:class:`patchatlas.errors.DataError`) Fewer than two classes, or labels that are
            not class labels (continuous values).
        """
        self._check_params()
        x, y_arr = validate_data(self, X, y, dtype=np.float64, ensure_all_finite=False)
        check_classification_targets(y_arr)
        self.classes_, y_enc = np.unique(y_arr, return_inverse=True)
        k = len(self.classes_)
        if k < 2:
            raise DataError(
                "TTypeClassifier: only one class in y; a classifier needs at least 2 classes"
            )
        counts = np.bincount(y_enc, minlength=k)
        grid = [float(c) for c in self.C_grid]
        tune = self.model != "forest" and (
            self.C is None or (self.model == "svm" and self.calibrate)
        )
        can_cv = int(counts.min()) >= max(int(self.inner_folds), 2)
        self.inner_scores_: dict[float, float] = {}
        oof: Array | None = None
        if tune and can_cv:
            from sklearn.model_selection import StratifiedKFold

            cands = grid if self.C is None else [float(self.C)]
            cv = StratifiedKFold(
                int(self.inner_folds), shuffle=True, random_state=self.random_state
            )
            dec = {c: np.zeros((len(y_enc), k)) for c in cands}
            for tr, te in cv.split(x, y_enc):
                prep = self._preparer().fit(x[tr])
                ztr, zte = prep.transform(x[tr]), prep.transform(x[te])
                for c in cands:
                    est = self._make(c).fit(ztr, y_enc[tr])
                    dec[c][te] = self._scores(est, zte, k)
            for c in cands:
                pred = dec[c].argmax(axis=1)
                self.inner_scores_[c] = classification_scores(y_enc, pred)["balanced_accuracy"]
            best = max(cands, key=lambda c: (self.inner_scores_[c], -abs(np.log(c))))
            self.C_ = best
            oof = dec[best]
        else:
            self.C_ = float(self.C) if self.C is not None else float(grid[len(grid) // 2])
        self.preparer_ = self._preparer().fit(x)
        z = self.preparer_.transform(x)
        self.model_ = self._make(self.C_).fit(z, y_enc)
        self.temperature_ = 1.0
        if self.model == "svm" and self.calibrate and oof is not None:
            self.temperature_ = _fit_temperature(oof, y_enc, None)
        return self

    # -------------------------------------------------------------------------------- predict
    def predict_proba(self, X: ArrayLike) -> Array:
        """Class probabilities (columns in the order of ``classes_``).

        Parameters
        ----------
        X
            Cells × the features seen in :meth:`fit` (NaNs allowed).

        Returns
        -------
        numpy.ndarray
            Cells × classes, rows summing to 1.
        """
        check_is_fitted(self, "model_")
        x = validate_data(self, X, dtype=np.float64, ensure_all_finite=False, reset=False)
        k = len(self.classes_)
        s = self._scores(self.model_, self.preparer_.transform(x), k)
        if self.model != "svm":
            return s
        return _softmax(s / self.temperature_)

    def predict(self, X: ArrayLike) -> NDArray[Any]:
        """The most probable class of each cell.

        Parameters
        ----------
        X
            Cells × the features seen in :meth:`fit`.

        Returns
        -------
        numpy.ndarray
            One label (from ``classes_``) per cell.
        """
        check_is_fitted(self, "model_")
        out: NDArray[Any] = self.classes_[self.predict_proba(X).argmax(axis=1)]
        return out


def reference_forest(random_state: int = 0, n_estimators: int = 300) -> Any:
    """The plain reference: median imputation + class-balanced random forest.

    Parameters
    ----------
    random_state
        Seed of the forest.
    n_estimators
        Number of trees.

    Returns
    -------
    sklearn.pipeline.Pipeline
        ``SimpleImputer(strategy="median")`` → ``RandomForestClassifier(class_weight="balanced")``.
    """
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline

    return make_pipeline(
        SimpleImputer(strategy="median", keep_empty_features=True),
        RandomForestClassifier(
            n_estimators=n_estimators, class_weight="balanced", random_state=random_state
        ),
    )


# ------------------------------------------------------------------------------------------
# evaluation


@dataclass
class TTypePrediction:
    """Cross-validated t-type prediction at one level, with baselines (one result object).

    Attributes
    ----------
    level
        Label level (``"subclass"``, ``"family"``, ``"type"`` ...).
    classes
        The classes evaluated (those with at least ``min_cells`` cells).
    cells
        Cell names of the evaluated rows.
    labels
        True label of each evaluated cell.
    scores
        Tidy scores: ``model``, ``repeat``, ``balanced_accuracy``, ``macro_f1``, ``accuracy``
        (out-of-fold predictions of one repeat pooled over folds).
    summary
        Per ``model`` and ``metric``: ``mean``/``sd`` over repeats and the 95 % bootstrap CI
        over cells (:func:`~patchatlas.celltyping.metrics.bootstrap_metrics`), ``n``.
    confusion
        Confusion counts of the classifier, summed over repeats (rows true, columns
        predicted).
    per_class
        Recall, precision and F1 per class (classifier, all repeats pooled).
    calibration
        Accuracy per confidence bin of the classifier (pooled over repeats).
    predictions
        Out-of-fold predictions: ``cell``, ``true``, ``model``, ``repeat``, ``predicted``,
        ``confidence`` (the top class probability; 1 for the majority baseline).
    differences
        Classifier minus each other model (``versus``), per metric: paired mean difference
        and 95 % bootstrap CI on identical resamples of cells.
    dropped
        Classes left out (fewer than ``min_cells`` cells) → their cell count.
    timings
        Model → total fit + predict seconds (summed over folds).
    provenance
        Package version, classifier parameters, CV design, seed, features.
    """

    level: str
    classes: list[str]
    cells: list[str]
    labels: NDArray[Any]
    scores: pd.DataFrame
    summary: pd.DataFrame
    confusion: pd.DataFrame
    per_class: pd.DataFrame
    calibration: pd.DataFrame
    predictions: pd.DataFrame
    differences: pd.DataFrame = field(default_factory=pd.DataFrame)
    dropped: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)

    def metric(self, model: str = "classifier", metric: str = "balanced_accuracy") -> float:
        """Mean over repeats of one model's metric.

        Parameters
        ----------
        model
            ``"classifier"``, ``"majority"``, ``"shuffled"`` or ``"reference_forest"``.
        metric
            ``"balanced_accuracy"``, ``"macro_f1"`` or ``"accuracy"``.

        Returns
        -------
        float
            The mean (NaN when that model was not run).
        """
        row = self.summary[(self.summary["model"] == model) & (self.summary["metric"] == metric)]
        return float(row["mean"].iloc[0]) if len(row) else float("nan")

    def __repr__(self) -> str:
        return (
            f"TTypePrediction({self.level}: {len(self.cells)} cells, {len(self.classes)} classes, "
            f"balanced accuracy {self.metric():.3f} vs majority "
            f"{self.metric('majority'):.3f}, shuffled {self.metric('shuffled'):.3f})"
        )


def _labels_and_rows(
    y: ArrayLike, min_cells: int
) -> tuple[NDArray[np.intp], NDArray[Any], dict[str, int]]:
    lab = pd.Series(np.asarray(y, dtype=object))
    ok = lab.notna() & (lab.astype(str).str.strip() != "") & (lab.astype(str) != "nan")
    lab = lab.astype(str)
    counts = lab[ok].value_counts()
    keep = counts[counts >= int(min_cells)].index
    dropped = {str(k): int(v) for k, v in counts[counts < int(min_cells)].items()}
    rows = np.flatnonzero(ok.to_numpy() & lab.isin(keep).to_numpy())
    return rows, lab.to_numpy()[rows], dropped


def _fit_predict(
    est: Any, x: Any, y: NDArray[Any], tr: NDArray[np.intp], te: NDArray[np.intp]
) -> tuple[NDArray[Any], Array, float]:
    t0 = time.perf_counter()
    xtr = x.iloc[tr] if isinstance(x, pd.DataFrame) else x[tr]
    xte = x.iloc[te] if isinstance(x, pd.DataFrame) else x[te]
    fitted = est.fit(xtr, y[tr])
    if hasattr(fitted, "predict_proba"):
        proba = fitted.predict_proba(xte)
        pred = np.asarray(fitted.classes_)[proba.argmax(axis=1)]
        conf = proba.max(axis=1)
    else:  # pragma: no cover - every model used here has predict_proba
        pred = fitted.predict(xte)
        conf = np.full(len(te), np.nan)
    return np.asarray(pred).astype(str), np.asarray(conf, float), time.perf_counter() - t0


def predict_ttypes(
    X: pd.DataFrame,
    labels: ArrayLike,
    *,
    level: str = "type",
    estimator: Any = None,
    n_repeats: int = 5,
    n_folds: int = 5,
    min_cells: int = 20,
    shuffled_repeats: int = 1,
    reference: bool = False,
    seed: int = 0,
    n_jobs: int = 1,
    n_boot: int = 1000,
    progress: Progress | None = None,
) -> TTypePrediction:
    """Repeated stratified K-fold CV of t-type prediction, with baselines, on identical folds.

    Models (all fitted on the training folds only):

    * ``classifier`` — ``estimator`` (default :class:`TTypeClassifier()`);
    * ``majority`` — always the most frequent training class (balanced accuracy 1 / K);
    * ``shuffled`` — a clone of ``estimator`` trained on labels permuted within the training
      fold (``shuffled_repeats`` repeats): what the model finds without a real signal;
    * ``reference_forest`` (``reference=True``) — :func:`reference_forest`, the plain
      class-balanced random forest on median-imputed features.

    Parameters
    ----------
    X
        Cells × raw features (NaNs allowed), index = cell names.
    labels
        Label of each row of ``X`` at the level evaluated; missing labels are left out.
    level
        Name of the level (recorded).
    estimator
        A scikit-learn classifier (default :class:`TTypeClassifier`).
    n_repeats, n_folds
        Repeated stratified K-fold design.
    min_cells
        Classes with fewer cells are left out (listed in ``dropped``).
    shuffled_repeats
        Repeats (of the ``n_repeats``) also run with shuffled labels (0: none).
    reference
        Also run :func:`reference_forest`.
    seed
        Seed of the folds, the shuffles and the bootstrap.
    n_jobs
        Parallel workers over folds (joblib processes).
    n_boot
        Bootstrap resamples for the CIs.
    progress
        Called as ``progress(done, total)`` after each fitted fold.

    Returns
    -------
    TTypePrediction
        Scores, summary with CIs, confusion matrix, per-class scores, calibration and the
        out-of-fold predictions.

    Raises
    ------
    patchatlas.errors.DataError
        ``labels`` does not match ``X``, or fewer than two classes have ``min_cells`` cells.
    """
    from sklearn.dummy import DummyClassifier
    from sklearn.model_selection import StratifiedKFold

    if not isinstance(X, pd.DataFrame):
        X = pd.DataFrame(np.asarray(X, dtype=np.float64))
    lab_all = np.asarray(labels, dtype=object)
    if lab_all.shape[0] != len(X):
        raise DataError(f"predict_ttypes: {lab_all.shape[0]} labels for {len(X)} cells")
    rows, y, dropped = _labels_and_rows(lab_all, min_cells)
    classes = sorted(set(y.tolist()))
    if len(classes) < 2:
        raise DataError(
            f"predict_ttypes: fewer than 2 classes with ≥ {min_cells} cells at level {level!r} "
            f"(classes: {dropped}); lower min_cells or choose a coarser level"
        )
    smallest = min(int((y == c).sum()) for c in classes)
    if smallest < n_folds:
        raise DataError(
            f"predict_ttypes: a class has {smallest} cells, fewer than n_folds={n_folds}; "
            "raise min_cells or lower n_folds"
        )
    x = X.iloc[rows].astype(np.float64)
    cells = [str(c) for c in x.index]
    est = estimator if estimator is not None else TTypeClassifier()
    rng = np.random.default_rng(seed)
    jobs: list[tuple[str, int, NDArray[np.intp], NDArray[np.intp], Any, NDArray[Any]]] = []
    for r in range(int(n_repeats)):
        cv = StratifiedKFold(int(n_folds), shuffle=True, random_state=seed + r)
        for tr, te in cv.split(np.zeros(len(y)), y):
            jobs.append(("classifier", r, tr, te, clone(est), y))
            jobs.append(("majority", r, tr, te, DummyClassifier(strategy="most_frequent"), y))
            if r < int(shuffled_repeats):
                ys = y.copy()
                ys[tr] = rng.permutation(y[tr])
                jobs.append(("shuffled", r, tr, te, clone(est), ys))
            if reference:
                jobs.append(("reference_forest", r, tr, te, reference_forest(seed + r), y))
    total = sum(1 for j in jobs if j[0] != "majority")

    def run(job: tuple[Any, ...]) -> tuple[str, int, NDArray[np.intp], Any, Any, float]:
        name, r, tr, te, model, yy = job
        pred, conf, secs = _fit_predict(model, x, yy, tr, te)
        return name, r, te, pred, conf, secs

    results: list[tuple[str, int, NDArray[np.intp], Any, Any, float]] = []
    done = 0
    if n_jobs == 1:
        for job in jobs:
            results.append(run(job))
            if job[0] != "majority":
                done += 1
                if progress is not None:
                    progress(done, total)
    else:
        from joblib import Parallel, delayed

        gen = Parallel(n_jobs=n_jobs, return_as="generator")(delayed(run)(j) for j in jobs)
        for res in gen:
            results.append(res)
            if res[0] != "majority":
                done += 1
                if progress is not None:
                    progress(done, total)
    preds: dict[tuple[str, int], NDArray[Any]] = {}
    confs: dict[tuple[str, int], Array] = {}
    timings: dict[str, float] = {}
    for name, r, te, pred, conf, secs in results:
        key = (name, r)
        if key not in preds:
            preds[key] = np.empty(len(y), dtype=object)
            confs[key] = np.full(len(y), np.nan)
        preds[key][te] = pred
        confs[key][te] = conf
        timings[name] = timings.get(name, 0.0) + secs
    models = list(dict.fromkeys(k[0] for k in preds))
    score_rows: list[dict[str, Any]] = []
    summaries: list[pd.DataFrame] = []
    pred_rows: list[pd.DataFrame] = []
    diffs: list[pd.DataFrame] = []
    main_reps = [preds[("classifier", r)].astype(str) for r in range(int(n_repeats))]
    for m in models:
        reps = sorted(r for (mm, r) in preds if mm == m)
        arrs = [preds[(m, r)].astype(str) for r in reps]
        s = bootstrap_metrics(y, arrs, classes=classes, n_boot=n_boot, seed=seed)
        s.insert(0, "model", m)
        summaries.append(s)
        if m != "classifier":
            # paired with the classifier's repeats that this model also ran
            d = bootstrap_metrics(
                y,
                [main_reps[r] for r in reps],
                classes=classes,
                n_boot=n_boot,
                seed=seed,
                baseline=arrs,
            )
            d.insert(0, "versus", m)
            diffs.append(d)
        for r, a in zip(reps, arrs, strict=True):
            sc = classification_scores(y, a, classes=classes)
            score_rows.append({"model": m, "repeat": r, **{k: sc[k] for k in sc if k != "n"}})
            pred_rows.append(
                pd.DataFrame(
                    {
                        "cell": cells,
                        "true": y,
                        "model": m,
                        "repeat": r,
                        "predicted": a,
                        "confidence": confs[(m, r)],
                    }
                )
            )
    main = main_reps
    conf_main = np.concatenate([confs[("classifier", r)] for r in range(int(n_repeats))])
    y_rep = np.tile(y, int(n_repeats))
    pred_main = np.concatenate(main)
    params = est.get_params(deep=False) if hasattr(est, "get_params") else {}
    return TTypePrediction(
        level=level,
        classes=classes,
        cells=cells,
        labels=y,
        scores=pd.DataFrame(score_rows),
        summary=pd.concat(summaries, ignore_index=True),
        confusion=confusion_table(y_rep, pred_main, classes=classes),
        per_class=per_class_scores(y_rep, pred_main, classes=classes),
        calibration=calibration_table(pred_main == y_rep, conf_main, bins=5, seed=seed),
        predictions=pd.concat(pred_rows, ignore_index=True),
        differences=pd.concat(diffs, ignore_index=True) if diffs else pd.DataFrame(),
        dropped=dropped,
        timings=timings,
        provenance={
            "package_version": __version__,
            "engine": "patchatlas.celltyping.predict_ttypes",
            "estimator": type(est).__name__,
            "estimator_params": {k: _plain(v) for k, v in params.items()},
            "level": level,
            "n_repeats": int(n_repeats),
            "n_folds": int(n_folds),
            "min_cells": int(min_cells),
            "shuffled_repeats": int(shuffled_repeats),
            "reference_forest": bool(reference),
            "seed": int(seed),
            "n_cells": len(cells),
            "features": [str(c) for c in X.columns],
        },
    )


def _plain(v: Any) -> Any:
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    if isinstance(v, (list, tuple)):
        return [_plain(i) for i in v]
    return repr(v)


def prediction_markdown(result: TTypePrediction, *, title: str | None = None) -> str:
    """A plain-language Markdown summary of a :class:`TTypePrediction`.

    Parameters
    ----------
    result
        The evaluation.
    title
        Heading (default: the level).

    Returns
    -------
    str
        Headline numbers with CIs, the models table and the per-class table.
    """
    s = result.summary
    lines = [f"# t-type prediction at the {title or result.level} level", ""]
    p = result.provenance
    lines.append(
        f"{len(result.cells)} cells, {len(result.classes)} classes with ≥ {p.get('min_cells')} "
        f"cells ({', '.join(result.classes)}); {p.get('n_repeats')}× repeated stratified "
        f"{p.get('n_folds')}-fold CV; preprocessing, C and calibration fitted on the training "
        "folds only."
    )
    if result.dropped:
        lines.append(
            "Left out (too few cells): "
            + ", ".join(f"{k} ({v})" for k, v in sorted(result.dropped.items()))
            + "."
        )
    lines += ["", "| model | balanced accuracy (95 % CI) | macro-F1 (95 % CI) | accuracy |"]
    lines.append("|---|---|---|---|")
    for m in dict.fromkeys(s["model"]):
        row = {r["metric"]: r for r in s[s["model"] == m].to_dict("records")}
        b, f, a = row["balanced_accuracy"], row["macro_f1"], row["accuracy"]
        lines.append(
            f"| {m} | {b['mean']:.3f} ({b['ci_low']:.3f}–{b['ci_high']:.3f}) | "
            f"{f['mean']:.3f} ({f['ci_low']:.3f}–{f['ci_high']:.3f}) | {a['mean']:.3f} |"
        )
    if len(result.differences):
        lines += ["", "Paired differences (classifier − other model, same resampled cells):", ""]
        for r in result.differences[result.differences["metric"] == "balanced_accuracy"].to_dict(
            "records"
        ):
            lines.append(
                f"- balanced accuracy vs {r['versus']}: {r['mean']:+.3f} "
                f"(95 % CI {r['ci_low']:+.3f} to {r['ci_high']:+.3f})"
            )
    lines += ["", "| class | n | recall | precision | F1 |", "|---|---|---|---|---|"]
    n_rep = max(int(p.get("n_repeats", 1)), 1)
    for r in result.per_class.to_dict("records"):
        lines.append(
            f"| {r['class']} | {int(r['n']) // n_rep} | {r['recall']:.3f} | "
            f"{r['precision']:.3f} | {r['f1']:.3f} |"
        )
    cal = result.calibration
    if len(cal):
        lines += [
            "",
            "Calibration (classifier confidence vs accuracy, pooled over repeats): "
            + "; ".join(
                f"{r['mean_confidence']:.2f} → {r['accuracy']:.2f} (n={r['n']})"
                for r in cal.to_dict("records")
            )
            + f". Spearman {cal.attrs.get('spearman', float('nan')):.2f}.",
        ]
    return "\n".join(lines) + "\n"
