"""Training regimes and baselines for predicting each cell's physiology from its expression.

Every class here follows the scikit-learn contract but needs the cells' t-type (and family)
labels, passed as keyword arguments to ``fit`` and ``predict``::

    est = CrossModalRegressor("ridge", regime="type_average").fit(X, Y, types=t, families=f)
    Y_hat = est.predict(X_new, types=t_new, families=f_new)

All statistics (preprocessing, type means, z-scoring of Y, inner-CV α) are computed from the
cells passed to ``fit`` — inside a cross-validation fold, the training cells only.

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
        """Means for new labels and the level each came from (2 type, 1 family, 0 overall)."""
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


def _as_2d(y: ArrayLike, what: str) -> Array:
    arr = np.asarray(y, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise DataError(f"{what} must be 2-D (cells × features), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise DataError(f"{what} contains NaN or infinite values; drop or impute those cells")
    return arr


class LookupRegressor(RegressorMixin, BaseEstimator):  # type: ignore[misc]
    """Baseline that ignores expression: mean physiology of the cell's type / family / all cells.

    Parameters
    ----------
    level
        ``"type"`` (with fallback to family, then global), ``"family"`` (fallback global) or
        ``"global"``.
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
        if self.level not in ("type", "family", "global"):
            raise DataError(f"unknown lookup level {self.level!r}; use type, family or global")
        yy = _as_2d(y, "y")
        t = types if types is not None else np.zeros(yy.shape[0], dtype=str)
        if self.level == "type" and types is None:
            raise DataError("type_lookup needs types= (the t-type of each training cell)")
        if self.level == "family" and families is None:
            raise DataError("family_lookup needs families= (the family of each training cell)")
        self.means_ = GroupMeans(yy, t, families)
        self.n_targets_ = yy.shape[1]
        return self

    def predict(
        self,
        X: ArrayLike | None,
        *,
        types: ArrayLike | None = None,
        families: ArrayLike | None = None,
    ) -> Array:
        if not hasattr(self, "means_"):
            raise DataError("LookupRegressor is not fitted; call fit first")
        n = len(np.asarray(types if types is not None else families if families is not None else X))
        if self.level == "global":
            return np.tile(self.means_.overall, (n, 1))
        out, _ = self.means_.lookup(
            types if self.level == "type" else None, families, level=self.level
        )
        return out


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
        """Fit on training cells; ``types`` needed by every regime but ``single_cell``."""
        if self.regime not in REGIMES:
            raise DataError(f"unknown regime {self.regime!r}; choose one of {', '.join(REGIMES)}")
        yy = _as_2d(y, "y")
        x = np.asarray(X, dtype=np.float64)
        if x.ndim != 2 or x.shape[0] != yy.shape[0]:
            raise DataError(f"X has shape {x.shape} but y has {yy.shape[0]} cells")
        if self.regime != "single_cell" and types is None:
            raise DataError(f"regime {self.regime!r} needs types= (t-type of each training cell)")
        pre = StandardScaler() if self.preprocess is None else clone(self.preprocess)
        xp = np.asarray(pre.fit_transform(x), dtype=np.float64)
        ysc = StandardScaler(with_mean=True, with_std=self.scale_y)
        ys = np.asarray(ysc.fit_transform(yy), dtype=np.float64)
        self.preprocess_, self.y_scaler_ = pre, ysc
        model = self._new_model()
        if self.regime == "single_cell":
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
        return self

    def predict(
        self,
        X: ArrayLike,
        *,
        types: ArrayLike | None = None,
        families: ArrayLike | None = None,
    ) -> Array:
        """Predict physiology (original units) for cells with expression ``X``."""
        if not hasattr(self, "model_"):
            raise DataError("CrossModalRegressor is not fitted; call fit first")
        x = np.asarray(X, dtype=np.float64)
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
        return np.asarray(self.y_scaler_.inverse_transform(ys), dtype=np.float64)


def make_estimator(spec: str, *, preprocess: Any = None) -> Any:
    """An estimator from a spec ``"regime:model"`` (e.g. ``"single_cell:ridge"``) or a baseline
    name (``"type_lookup"``, ``"family_lookup"``, ``"global_mean"``)."""
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
