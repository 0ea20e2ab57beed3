"""Training regimes and baselines for predicting each cell's physiology from its expression.

Every class here follows the scikit-learn contract but needs the cells' t-type (and family)
labels, passed as keyword arguments to ``fit`` and ``predict``::

    est = CrossModalRegressor("ridge", regime="type_average").fit(X, Y, types=t, families=f)
    Y_hat = est.predict(X_new, types=t_new, families=f_new)

All statistics (preprocessing, type means, z-scoring of Y, inner-CV α) are computed from the
cells passed to ``fit`` — inside a cross-validation fold, the training cells only.

The labels are per-cell metadata, like ``groups`` or ``sample_weight``. Inside scikit-learn
meta-estimators (``Pipeline``, ``cross_validate``, ``GridSearchCV``) they travel by metadata
routing: enable it and request them::

    sklearn.set_config(enable_metadata_routing=True)
    est = CrossModalRegressor("ridge", regime="type_average")
    est.set_fit_request(types=True, families=True)
    sklearn.model_selection.cross_validate(est, X, Y, params={"types": t, "families": f})

``set_predict_request(types=True, families=True)`` likewise routes them to ``predict`` through a
:class:`~sklearn.pipeline.Pipeline` (needed by ``type_denoised``, ``type_plus_residual`` and the
type/family lookups).

Regimes (:data:`REGIMES`)
    ``single_cell``   fit on (x_i, y_i) of the training cells.
    ``type_average``  fit on one row per t-type (mean preprocessed expression, mean physiology);
                      predict from the test cell's *own* expression.
    ``type_denoised`` inputs replaced by their t-type means (training cells: own type; test cells:
                      the training mean of their type, else of their family, else overall).
    ``type_plus_residual``  t-type lookup plus a model of the within-type residuals
                      (x − type mean → y − type mean).
Baselines (:data:`BASELINES`, no expression used)
    ``global_mean``, ``type_lookup`` (training mean of the test cell's t-type, falling back to
    its family, then the global mean), ``family_lookup``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from patchatlas.crossmodal.models import make_model
from patchatlas.errors import DataError

__all__ = [
    "BASELINES",
    "REGIMES",
    "CrossModalRegressor",
    "GroupMeans",
    "LookupRegressor",
    "make_estimator",
]

Array = NDArray[np.float64]

REGIMES = ("single_cell", "type_average", "type_denoised", "type_plus_residual")
BASELINES = ("global_mean", "type_lookup", "family_lookup")


class GroupMeans:
    """Means of rows per label, with lookup that falls back from type to family to overall.

    Parameters
    ----------
    values
        Cells × columns array.
    types
        Label of each row (t-type).
    families
        Coarser label of each row (family), or None.
    """

    def __init__(self, values: Array, types: ArrayLike, families: ArrayLike | None = None) -> None:
        t = np.asarray(types).astype(str)
        if t.shape[0] != values.shape[0]:
            raise DataError(f"{t.shape[0]} type labels for {values.shape[0]} cells")
        self.type_labels, inv = np.unique(t, return_inverse=True)
        self.type_counts = np.bincount(inv).astype(np.float64)
        self.type_means = _grouped_mean(values, inv, len(self.type_labels))
        self.overall = values.mean(axis=0)
        if families is not None:
            f = np.asarray(families).astype(str)
            if f.shape[0] != values.shape[0]:
                raise DataError(f"{f.shape[0]} family labels for {values.shape[0]} cells")
            self.family_labels, finv = np.unique(f, return_inverse=True)
            self.family_means = _grouped_mean(values, finv, len(self.family_labels))
        else:
            self.family_labels = np.array([], dtype=str)
            self.family_means = np.zeros((0, values.shape[1]))

    def lookup(
        self, types: ArrayLike | None, families: ArrayLike | None = None, *, level: str = "type"
    ) -> tuple[Array, NDArray[np.int8]]:
        """Means for new labels and the level each came from (2 type, 1 family, 0 overall).

        Parameters
        ----------
        types
            t-type of each new row, or ``None`` to look up families only.
        families
            Family of each new row, or ``None``.
        level
            Finest level used: ``"type"`` (type, else family, else overall), ``"family"``
            (family, else overall) or anything else (overall mean only).

        Returns
        -------
        means : numpy.ndarray
            One row of column means per new row.
        source : numpy.ndarray of int8
            Where each row came from: 2 type, 1 family, 0 overall.

        Raises
        ------
        patchatlas.errors.DataError
            Neither ``types`` nor ``families`` is given.
        """
        ref = types if types is not None else families
        if ref is None:
            raise DataError("lookup needs types or families")
        n = len(np.asarray(ref))
        out = np.tile(self.overall, (n, 1))
        src = np.zeros(n, dtype=np.int8)
        if families is not None and level in ("type", "family") and len(self.family_labels):
            f = np.asarray(families).astype(str)
            pos, ok = _positions(self.family_labels, f)
            out[ok] = self.family_means[pos[ok]]
            src[ok] = 1
        if types is not None and level == "type":
            t = np.asarray(types).astype(str)
            pos, ok = _positions(self.type_labels, t)
            out[ok] = self.type_means[pos[ok]]
            src[ok] = 2
        return out, src


def _grouped_mean(values: Array, inv: NDArray[np.intp], k: int) -> Array:
    sums = np.zeros((k, values.shape[1]))
    np.add.at(sums, inv, values)
    counts = np.bincount(inv, minlength=k).astype(np.float64)
    return sums / counts[:, None]


def _positions(sorted_labels: NDArray[Any], query: NDArray[Any]) -> tuple[NDArray[np.intp], Any]:
    pos = np.searchsorted(sorted_labels, query)
    pos = np.clip(pos, 0, max(len(sorted_labels) - 1, 0))
    ok = (sorted_labels[pos] == query) if len(sorted_labels) else np.zeros(len(query), bool)
    return pos, ok


def _accepts(model: Any, param: str) -> bool:
    import inspect

    try:
        return param in inspect.signature(model.fit).parameters
    except (TypeError, ValueError):
        return False


def _accepts_sample_weight(model: Any) -> bool:
    return _accepts(model, "sample_weight")


def _check_labels(labels: ArrayLike | None, n: int, what: str) -> None:
    if labels is not None and len(np.asarray(labels)) != n:
        raise DataError(
            f"{len(np.asarray(labels))} {what} labels for {n} cells; pass one label per row of X"
        )


def _targets_2d(y: Array) -> Array:
    return y[:, None] if y.ndim == 1 else y


def _as_fitted_y(est: Any, out: Array) -> Array:
    # 1-D predictions for a 1-D training y; models saved before ``_y_1d`` existed were always
    # fitted and predicted as cells × features.
    return out.ravel() if getattr(est, "_y_1d", False) else out


class LookupRegressor(RegressorMixin, BaseEstimator):  # type: ignore[misc]
    """Baseline that ignores expression: mean physiology of the cell's type / family / all cells.

    Parameters
    ----------
    level
        ``"type"`` (with fallback to family, then global), ``"family"`` (fallback global) or
        ``"global"``.

    Attributes
    ----------
    means_
        :class:`GroupMeans` of the training targets.
    n_targets_
        Number of target columns.
    n_features_in_, feature_names_in_
        As in scikit-learn, when ``X`` is given to ``fit`` (``X`` may be None: it is not used).

    Notes
    -----
    ``"type"`` needs ``types=`` and ``"family"`` needs ``families=`` at ``fit`` and ``predict``;
    ``"global"`` needs neither. Through scikit-learn meta-estimators the labels travel by
    metadata routing (see the module docstring). ``y`` may be 1-D (predictions are then 1-D).
    """

    def __init__(self, level: str = "type") -> None:
        self.level = level

    def fit(
        self,
        X: ArrayLike | None,
        y: ArrayLike,
        *,
        types: ArrayLike | None = None,
        families: ArrayLike | None = None,
    ) -> LookupRegressor:
        """Store the training means per type, per family and overall.

        Parameters
        ----------
        X
            Cells × genes expression (validated, not used), or None.
        y
            Physiology of the training cells, 1-D or cells × features (feature units).
        types, families
            t-type and family label of each training cell.

        Returns
        -------
        LookupRegressor
            self.

        Raises
        ------
        patchatlas.errors.DataError
            Unknown ``level``, missing or mis-sized labels.
        """
        if self.level not in ("type", "family", "global"):
            raise DataError(f"unknown lookup level {self.level!r}; use type, family or global")
        if X is None:
            for attr in ("n_features_in_", "feature_names_in_"):
                if hasattr(self, attr):
                    delattr(self, attr)
            if y is None:
                raise DataError("LookupRegressor requires y to be passed, but the target y is None")
            yv = check_array(y, ensure_2d=False, dtype=np.float64, input_name="y")
            if yv.ndim > 2:
                raise DataError(f"y must be 1-D or cells × features, got shape {yv.shape}")
        else:
            _, yv = validate_data(self, X, y, multi_output=True, y_numeric=True, dtype=np.float64)
        yy = _targets_2d(yv)
        if self.level == "type" and types is None:
            raise DataError("type_lookup needs types= (the t-type of each training cell)")
        if self.level == "family" and families is None:
            raise DataError("family_lookup needs families= (the family of each training cell)")
        t = types if types is not None else np.zeros(yy.shape[0], dtype=str)
        self.means_ = GroupMeans(yy, t, families)
        self.n_targets_ = yy.shape[1]
        self._y_1d = yv.ndim == 1
        return self

    def predict(
        self,
        X: ArrayLike | None,
        *,
        types: ArrayLike | None = None,
        families: ArrayLike | None = None,
    ) -> Array:
        """Training mean of each cell's type (falling back to family, then all cells).

        Parameters
        ----------
        X
            Cells × genes expression (validated, not used), or None when labels are given.
        types, families
            t-type and family label of each cell.

        Returns
        -------
        numpy.ndarray
            Predicted physiology, cells × features (1-D when fitted on 1-D ``y``).
        """
        check_is_fitted(self, "means_")
        if X is not None:
            n = validate_data(self, X, reset=False, dtype=np.float64).shape[0]
        elif types is not None or families is not None:
            n = len(np.asarray(types if types is not None else families))
        else:
            raise DataError("LookupRegressor.predict needs X or types=/families= (one per cell)")
        _check_labels(types, n, "type")
        _check_labels(families, n, "family")
        if self.level == "global":
            out = np.tile(self.means_.overall, (n, 1))
        else:
            out, _ = self.means_.lookup(
                types if self.level == "type" else None, families, level=self.level
            )
        return _as_fitted_y(self, out)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        # a baseline: it ignores X, so its R² on X-driven targets is ~0 by design
        tags.regressor_tags.poor_score = True
        return tags


class CrossModalRegressor(RegressorMixin, BaseEstimator):  # type: ignore[misc]
    """Expression → physiology model trained under one regime, with in-fit preprocessing.

    Parameters
    ----------
    model
        Model name for :func:`~patchatlas.crossmodal.models.make_model` (``"ridge"``,
        ``"srrr"`` ...) or an unfitted sklearn regressor (cloned at fit).
    regime
        One of :data:`REGIMES`.
    preprocess
        Unfitted transformer for X (e.g. :func:`patchatlas.transcriptomics.make_preprocessor`);
        default: z-scoring. Fitted on the single training cells, in every regime.
    scale_y
        Z-score the targets with training statistics (predictions are returned in the original
        units).
    type_weighted
        ``type_average``: weight each type row by its cell count (only for models whose ``fit``
        accepts ``sample_weight``). ``type_denoised`` is always size-weighted.

    Attributes
    ----------
    model_, preprocess_, y_scaler_
        Fitted parts. ``x_means_`` / ``y_means_`` hold the training type means (GroupMeans) of the
        preprocessed expression and of the scaled targets.
    n_targets_
        Number of target columns.
    genes_in_
        Number of columns after preprocessing (the model's inputs).
    n_features_in_, feature_names_in_
        As in scikit-learn (the latter when fitted on a DataFrame).

    Notes
    -----
    Every regime but ``single_cell`` needs ``types=`` at ``fit``; ``type_denoised`` and
    ``type_plus_residual`` also at ``predict``. ``families=`` (optional) refine the fallback of
    types unseen in training. Through scikit-learn meta-estimators the labels travel by
    metadata routing (see the module docstring). ``y`` may be 1-D (predictions are then 1-D).
    """

    def __init__(
        self,
        model: Any = "ridge",
        regime: str = "single_cell",
        *,
        preprocess: Any = None,
        scale_y: bool = True,
        type_weighted: bool = False,
    ) -> None:
        self.model = model
        self.regime = regime
        self.preprocess = preprocess
        self.scale_y = scale_y
        self.type_weighted = type_weighted

    def _new_model(self) -> Any:
        return make_model(self.model) if isinstance(self.model, str) else clone(self.model)

    def fit(
        self,
        X: ArrayLike,
        y: ArrayLike,
        *,
        types: ArrayLike | None = None,
        families: ArrayLike | None = None,
    ) -> CrossModalRegressor:
        """Fit on training cells; ``types`` needed by every regime but ``single_cell``.

        Parameters
        ----------
        X
            Cells × genes expression of the training cells.
        y
            Their physiology, 1-D or cells × features (feature units).
        types, families
            t-type and family label of each training cell.

        Returns
        -------
        CrossModalRegressor
            self.

        Raises
        ------
        patchatlas.errors.DataError
            Unknown regime, missing or mis-sized labels.
        """
        if self.regime not in REGIMES:
            raise DataError(f"unknown regime {self.regime!r}; choose one of {', '.join(REGIMES)}")
        x, yv = validate_data(self, X, y, multi_output=True, y_numeric=True, dtype=np.float64)
        yy = _targets_2d(yv)
        if self.regime != "single_cell" and types is None:
            raise DataError(f"regime {self.regime!r} needs types= (t-type of each training cell)")
        _check_labels(types, x.shape[0], "type")
        _check_labels(families, x.shape[0], "family")
        pre = StandardScaler() if self.preprocess is None else clone(self.preprocess)
        xp = np.asarray(pre.fit_transform(x), dtype=np.float64)
        ysc = StandardScaler(with_mean=True, with_std=self.scale_y)
        ys = np.asarray(ysc.fit_transform(yy), dtype=np.float64)
        self.preprocess_, self.y_scaler_ = pre, ysc
        model = self._new_model()
        if self.regime == "single_cell":
            for attr in ("x_means_", "y_means_"):  # from an earlier fit in another regime
                if hasattr(self, attr):
                    delattr(self, attr)
            model.fit(xp, ys)
        else:
            assert types is not None
            xm = GroupMeans(xp, types, families)
            ymn = GroupMeans(ys, types, families)
            self.x_means_, self.y_means_ = xm, ymn
            if self.regime == "type_average":
                if self.type_weighted:
                    model.fit(xm.type_means, ymn.type_means, sample_weight=xm.type_counts)
                else:
                    model.fit(xm.type_means, ymn.type_means)
            elif self.regime == "type_denoised":
                # Each training cell's x replaced by its type mean, targets kept: the squared
                # loss equals a fit on type means weighted by type size (cheaper) when supported.
                if _accepts_sample_weight(model):
                    model.fit(xm.type_means, ymn.type_means, sample_weight=xm.type_counts)
                else:
                    model.fit(xm.lookup(types, families)[0], ys)
            else:  # type_plus_residual
                xr = xp - xm.lookup(types, families)[0]
                yr = ys - ymn.lookup(types, families)[0]
                # Residuals of one type are dependent (they sum to zero): an inner CV that
                # leaves single cells out overfits, so leave whole types out where supported.
                if _accepts(model, "groups"):
                    model.fit(xr, yr, groups=np.asarray(types).astype(str))
                else:
                    model.fit(xr, yr)
        self.model_ = model
        self.n_targets_ = yy.shape[1]
        self.genes_in_ = xp.shape[1]
        self._y_1d = yv.ndim == 1
        return self

    def predict(
        self,
        X: ArrayLike,
        *,
        types: ArrayLike | None = None,
        families: ArrayLike | None = None,
    ) -> Array:
        """Predict physiology (original units) for cells with expression ``X``.

        Parameters
        ----------
        X
            Cells × genes expression (same genes as in ``fit``).
        types, families
            t-type and family label of each cell (``type_denoised``, ``type_plus_residual``).

        Returns
        -------
        numpy.ndarray
            Predicted physiology, cells × features (1-D when fitted on 1-D ``y``).
        """
        check_is_fitted(self, "model_")
        x = validate_data(self, X, reset=False, dtype=np.float64)
        _check_labels(types, x.shape[0], "type")
        _check_labels(families, x.shape[0], "family")
        xp = np.asarray(self.preprocess_.transform(x), dtype=np.float64)
        if self.regime in ("type_denoised", "type_plus_residual") and types is None:
            raise DataError(f"regime {self.regime!r} needs types= at prediction")
        if self.regime in ("single_cell", "type_average"):
            ys = self.model_.predict(xp)
        elif self.regime == "type_denoised":
            ys = self.model_.predict(self.x_means_.lookup(types, families)[0])
        else:
            xr = xp - self.x_means_.lookup(types, families)[0]
            ys = self.y_means_.lookup(types, families)[0] + self.model_.predict(xr)
        ys = np.asarray(ys, dtype=np.float64).reshape(x.shape[0], -1)
        out = np.asarray(self.y_scaler_.inverse_transform(ys), dtype=np.float64)
        return _as_fitted_y(self, out)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


def make_estimator(spec: str, *, preprocess: Any = None) -> Any:
    """An estimator from a spec ``"regime:model"`` (e.g. ``"single_cell:ridge"``) or a baseline
    name (``"type_lookup"``, ``"family_lookup"``, ``"global_mean"``).

    Parameters
    ----------
    spec
        Regime (:data:`REGIMES`) and model (:data:`~patchatlas.crossmodal.MODEL_NAMES`)
        joined by ``:``, or a baseline (:data:`BASELINES`).
    preprocess
        Unfitted transformer for the expression input of a regime (default: z-scoring);
        baselines use no expression and ignore it.

    Returns
    -------
    CrossModalRegressor or LookupRegressor
        The unfitted estimator.

    Raises
    ------
    patchatlas.errors.DataError
        An unknown regime or baseline, or a spec without a model.
    """
    if spec in BASELINES:
        return LookupRegressor(
            {"type_lookup": "type", "family_lookup": "family", "global_mean": "global"}[spec]
        )
    regime, _, model = spec.partition(":")
    if regime not in REGIMES or not model:
        raise DataError(
            f"bad spec {spec!r}: use 'regime:model' with regime in {', '.join(REGIMES)}, "
            f"or a baseline ({', '.join(BASELINES)})"
        )
    return CrossModalRegressor(model, regime, preprocess=preprocess)
