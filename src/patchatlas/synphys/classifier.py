"""A learned connection call: calibrated probabilities and a documented operating point.

Imported on first use (it needs scikit-learn; the rest of :mod:`patchatlas.synphys` does not).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.base import BaseEstimator, ClassifierMixin

from patchatlas.errors import ParameterError

__all__ = ["ConnectionClassifier"]

FloatArray = npt.NDArray[np.float64]


class ConnectionClassifier(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """Learned connection call with calibrated probabilities and a chosen operating point.

    Standardised features, L2-regularised logistic regression (its probabilities are calibrated
    by maximum likelihood on the training pairs), and ``threshold_``: the smallest probability
    threshold whose false-positive rate on out-of-fold predictions of the negative training
    pairs is at most ``target_fpr``.

    Parameters
    ----------
    C
        Inverse regularisation strength of the logistic regression.
    target_fpr
        The operating point: largest tolerated false-positive rate (0.01).
    n_splits
        Folds of the out-of-fold predictions that set the threshold (fewer when a class is
        small).
    random_state
        Seed of the fold split.

    Attributes
    ----------
    classes_
        The two class labels (the second is "connected").
    threshold_
        The probability of the second class above which :meth:`predict` calls it.
    model_
        The fitted scaler + logistic regression pipeline.
    n_features_in_
        Number of features seen in :meth:`fit`.
    """

    def __init__(
        self,
        C: float = 1.0,
        target_fpr: float = 0.01,
        n_splits: int = 5,
        random_state: int | None = 0,
    ) -> None:
        self.C = C
        self.target_fpr = target_fpr
        self.n_splits = n_splits
        self.random_state = random_state

    def __sklearn_tags__(self) -> Any:
        """scikit-learn tags: a binary classifier."""
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags

    def _pipeline(self) -> Any:
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        return make_pipeline(StandardScaler(), LogisticRegression(C=self.C, max_iter=1000))

    def fit(self, X: npt.ArrayLike, y: npt.ArrayLike) -> ConnectionClassifier:
        """Fit on labelled pairs.

        Parameters
        ----------
        X
            Pair features, shape (n_pairs, n_features) (e.g. :data:`FEATURE_COLUMNS` of
            :func:`pair_statistics`).
        y
            Labels with two classes (e.g. connected True/False).

        Returns
        -------
        ConnectionClassifier
            ``self``.
        """
        from sklearn.model_selection import StratifiedKFold, cross_val_predict
        from sklearn.utils.multiclass import check_classification_targets
        from sklearn.utils.validation import validate_data

        if not 0 <= self.target_fpr < 1:
            raise ParameterError(
                f"ConnectionClassifier(target_fpr={self.target_fpr!r}): give a rate in [0, 1)"
            )
        from sklearn.utils.multiclass import type_of_target

        X, y = validate_data(self, X, y)
        check_classification_targets(y)
        y_type = type_of_target(y, input_name="y", raise_unknown=True)
        self.classes_ = np.unique(y)
        if self.classes_.size == 1:
            raise ValueError(
                "ConnectionClassifier needs two classes (connected or not); got 1 class"
            )
        if y_type != "binary":
            raise ValueError(
                f"Only binary classification is supported. The type of the target is {y_type}."
            )
        yb = (y == self.classes_[1]).astype(int)
        self.model_ = self._pipeline().fit(X, yb)
        n_min = int(min(yb.sum(), (1 - yb).sum()))
        k = min(int(self.n_splits), n_min)
        if k >= 2:
            cv = StratifiedKFold(k, shuffle=True, random_state=self.random_state)
            oof = cross_val_predict(self._pipeline(), X, yb, cv=cv, method="predict_proba")[:, 1]
        else:
            oof = self.model_.predict_proba(X)[:, 1]
        neg = np.sort(oof[yb == 0])[::-1]
        allowed = math.floor(self.target_fpr * neg.size)
        # call positive strictly above the (allowed+1)-th highest negative score
        self.threshold_ = float(neg[allowed]) if allowed < neg.size else 0.0
        return self

    def predict_proba(self, X: npt.ArrayLike) -> FloatArray:
        """Calibrated probabilities of the two classes.

        Parameters
        ----------
        X
            Pair features.

        Returns
        -------
        numpy.ndarray
            Shape (n_pairs, 2), columns in the order of ``classes_``.
        """
        from sklearn.utils.validation import check_is_fitted, validate_data

        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        p1 = self.model_.predict_proba(X)[:, 1]
        return np.stack([1.0 - p1, p1], axis=1)

    def decision_function(self, X: npt.ArrayLike) -> FloatArray:
        """Probability of the second class minus the operating threshold.

        Parameters
        ----------
        X
            Pair features.

        Returns
        -------
        numpy.ndarray
            Positive where :meth:`predict` calls the second class.
        """
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self)
        return self.predict_proba(X)[:, 1] - self.threshold_

    def predict(self, X: npt.ArrayLike) -> npt.NDArray[Any]:
        """Calls at the operating point.

        Parameters
        ----------
        X
            Pair features.

        Returns
        -------
        numpy.ndarray
            One of ``classes_`` per pair.
        """
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self)
        out: npt.NDArray[Any] = self.classes_[(self.decision_function(X) > 0).astype(int)]
        return out
