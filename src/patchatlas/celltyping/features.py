"""Feature preparation for cell typing: wide feature tables, IPFX name harmonisation, and the
in-fold transformer that turns raw features with NaNs into model input.

* :func:`feature_matrix` — cells × features from the ephys engine (:class:`EphysResult` objects
  or their ``cell`` records), from long tables (``cell, name, value``) such as the published
  tables and the atlas, or from a wide table; optional Gouwens-style feature vectors become
  ``<family>_<i>`` columns grouped into blocks (``attrs["blocks"]``) for sparse PCA.
* :func:`ipfx_canonical` — IPFX feature tables use two spellings (``rheo_threshold_v`` in the
  Gouwens 2020 release, ``threshold_v_rheo`` in Lee 2023 and the Allen releases); this renames
  them to one (``<feature>_<sweep>``) and derives the relative spike features (``peak_deltav``,
  ``fast_trough_deltav``, ``trough_deltav``: V − threshold V) and ``first_isi_inv_hero`` so
  that tables of the two spellings share columns.
* :class:`FeaturePreparer` — a scikit-learn transformer: log of skewed positive features,
  missing-value indicators, median imputation, per-feature scaling (quantile → normal,
  standard or robust). Every statistic is learned in :meth:`FeaturePreparer.fit`, so inside
  cross-validation it sees the training fold only; :meth:`FeaturePreparer.scaling_table`
  records what was done to each feature.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from patchatlas.errors import DataError, ParameterError

__all__ = [
    "IPFX_CANONICAL",
    "FeaturePreparer",
    "feature_blocks",
    "feature_matrix",
    "ipfx_canonical",
]

Array = NDArray[np.float64]

#: Gouwens 2020 (``derekhoward/extract_patchseq_features``) spelling → the ``<feature>_<sweep>``
#: spelling of the Allen releases and Lee et al. 2023. Times stay in s, voltages in mV.
IPFX_CANONICAL: dict[str, str] = {
    "rheo_threshold_v": "threshold_v_rheo",
    "rheo_peak_v": "peak_v_rheo",
    "rheo_trough_v": "trough_v_rheo",
    "rheo_fast_trough_v": "fast_trough_v_rheo",
    "rheo_slow_trough_v": "slow_trough_v_rheo",
    "rheo_adp_v": "adp_v_rheo",
    "rheo_width": "width_rheo",
    "rheo_upstroke_downstroke_ratio": "upstroke_downstroke_ratio_rheo",
    "rheo_peak_t": "peak_t_rheo",
    "rheo_fast_trough_t": "fast_trough_t_rheo",
    "rheo_trough_t": "trough_t_rheo",
    "rheo_slow_trough_t": "slow_trough_t_rheo",
    "hero_adapt": "adapt_hero",
    "hero_avg_rate": "avg_rate_hero",
    "hero_first_isi": "first_isi_hero",
    "hero_isi_cv": "isi_cv_hero",
    "hero_latency": "latency_hero",
    "hero_mean_isi": "mean_isi_hero",
    "hero_median_isi": "median_isi_hero",
    "hero_stim_amp": "stim_amp_hero",
}

_DERIVED: tuple[tuple[str, str, str], ...] = (
    # (new column, minuend, subtrahend): spike voltages relative to the spike's threshold
    ("peak_deltav_rheo", "peak_v_rheo", "threshold_v_rheo"),
    ("fast_trough_deltav_rheo", "fast_trough_v_rheo", "threshold_v_rheo"),
    ("trough_deltav_rheo", "trough_v_rheo", "threshold_v_rheo"),
)


def ipfx_canonical(table: pd.DataFrame, *, derive: bool = True) -> pd.DataFrame:
    """Rename IPFX feature columns to one spelling and derive the relative spike features.

    Parameters
    ----------
    table
        Cells × features with IPFX names of either spelling (other columns are kept as they are).
    derive
        Add ``peak_deltav_rheo``, ``fast_trough_deltav_rheo``, ``trough_deltav_rheo`` (mV, V
        relative to the spike threshold) and ``first_isi_inv_hero`` (Hz, 1 / first ISI of the
        hero sweep) where the table lacks them but has their parts.

    Returns
    -------
    pandas.DataFrame
        A copy with renamed (and added) columns.
    """
    out = table.rename(columns={k: v for k, v in IPFX_CANONICAL.items() if k in table.columns})
    out = out.loc[:, ~out.columns.duplicated()].copy()
    if derive:
        for new, a, b in _DERIVED:
            if new not in out.columns and a in out.columns and b in out.columns:
                out[new] = pd.to_numeric(out[a], errors="coerce") - pd.to_numeric(
                    out[b], errors="coerce"
                )
        if "first_isi_inv_hero" not in out.columns and "first_isi_hero" in out.columns:
            isi = pd.to_numeric(out["first_isi_hero"], errors="coerce")
            out["first_isi_inv_hero"] = 1.0 / isi.where(isi > 0)
    return out


def feature_blocks(columns: Iterable[str], *, separator: str = "_") -> dict[str, list[str]]:
    """Group vector columns ``<family><separator><index>`` into blocks; scalars form ``scalar``.

    Parameters
    ----------
    columns
        Column names of a feature table.
    separator
        What separates a vector family from the sample index.

    Returns
    -------
    dict
        Block name → its columns, in table order; columns whose last part is not an integer
        go to the block ``"scalar"``.
    """
    blocks: dict[str, list[str]] = {}
    for c in columns:
        head, _, tail = str(c).rpartition(separator)
        key = head if head and tail.isdigit() else "scalar"
        blocks.setdefault(key, []).append(str(c))
    return blocks


def _cell_record(item: Any) -> Mapping[str, Any]:
    rec = getattr(item, "cell", item)
    if not isinstance(rec, Mapping):
        raise DataError(
            f"feature_matrix: cannot read features from a {type(item).__name__}; pass "
            "EphysResult objects, dicts of feature → value, a long table (cell, name, value) "
            "or a wide DataFrame"
        )
    return rec


def feature_matrix(
    source: pd.DataFrame | Mapping[str, Any],
    *,
    vectors: Mapping[str, Mapping[str, ArrayLike]] | None = None,
    features: Sequence[str] | None = None,
    name_column: str = "name",
) -> pd.DataFrame:
    """A numeric cells × features table for typing, from any of the feature sources.

    Parameters
    ----------
    source
        One of: a wide DataFrame (cells × features, index = cell names); a long DataFrame
        with columns ``cell``, ``name`` (or ``name_column``) and ``value`` (the published
        tables of :func:`patchatlas.datasets.load_published`, atlas exports); or a mapping
        cell → :class:`~patchatlas.ephys.EphysResult` (its Allen cell record) or cell →
        dict of feature → value.
    vectors
        Optional cell → {family → 1-D array} (e.g. :func:`patchatlas.ephys.feature_vectors`);
        each family becomes columns ``<family>_<i>`` (NaN where a cell lacks it).
    features
        Keep only these columns, in this order (missing ones become NaN columns).
    name_column
        Feature-name column of a long table (``"native_name"`` keeps the original names of
        the published tables).

    Returns
    -------
    pandas.DataFrame
        float64, index = cell names (str); non-numeric values become NaN. ``attrs["blocks"]``
        holds :func:`feature_blocks` of the columns.

    Raises
    ------
    patchatlas.errors.DataError
        A source of an unknown kind, or a long table without the needed columns.
    """
    if isinstance(source, pd.DataFrame):
        if {"cell", "value"} <= set(source.columns) and name_column in source.columns:
            long = source[["cell", name_column, "value"]].copy()
            long["value"] = pd.to_numeric(long["value"], errors="coerce")
            wide = long.pivot_table(
                index="cell", columns=name_column, values="value", aggfunc="first", sort=False
            )
            wide.columns = wide.columns.astype(str)
            wide.columns.name = None
        elif "cell" in source.columns and "value" in source.columns:
            raise DataError(
                f"feature_matrix: the long table has no {name_column!r} column (has "
                f"{list(source.columns)}); pass name_column="
            )
        else:
            wide = source.apply(pd.to_numeric, errors="coerce")
    elif isinstance(source, Mapping):
        rows = {str(k): dict(_cell_record(v)) for k, v in source.items()}
        wide = pd.DataFrame.from_dict(rows, orient="index")
        wide = wide.apply(pd.to_numeric, errors="coerce")
    else:
        raise DataError(
            f"feature_matrix: unsupported source {type(source).__name__}; pass a DataFrame or "
            "a mapping cell → EphysResult / dict"
        )
    wide.index = wide.index.astype(str)
    if vectors:
        parts = []
        for cell, fams in vectors.items():
            row: dict[str, float] = {}
            for fam, vec in fams.items():
                arr = np.asarray(vec, dtype=np.float64).ravel()
                row.update({f"{fam}_{i}": float(x) for i, x in enumerate(arr)})
            parts.append(pd.Series(row, name=str(cell)))
        vec_df = pd.DataFrame(parts)
        wide = wide.join(vec_df, how="outer") if len(wide.columns) else vec_df
    if features is not None:
        wide = wide.reindex(columns=[str(f) for f in features])
    wide = wide.astype(np.float64)
    wide.attrs["blocks"] = feature_blocks(wide.columns)
    return wide


# --------------------------------------------------------------------------------------------
# the in-fold transformer


def _skewness(x: Array) -> Array:
    """Sample skewness of each column, ignoring NaNs (0 for constant columns)."""
    mu = np.nanmean(x, axis=0)
    d = x - mu
    m2 = np.nanmean(d**2, axis=0)
    m3 = np.nanmean(d**3, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        s = m3 / m2**1.5
    return np.where(np.isfinite(s), s, 0.0)


class FeaturePreparer(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Raw features with NaNs → model input: log, missing indicators, imputation, scaling.

    Everything is learned from the rows passed to :meth:`fit` (the training fold):

    1. ``log``: with ``"auto"``, the natural log of each column whose training values are all
       > 0 and whose skewness exceeds ``skew_threshold`` (input resistance, τ, rheobase, ISIs
       ...); ``True`` logs every positive column, ``False`` none. At transform time a value
       ≤ 0 in a logged column counts as missing.
    2. Missing values (NaN, ±inf): a 0/1 indicator column is appended for each column missing
       in at least ``indicator_threshold`` of the training rows (with ``missing_indicators``);
       then NaNs are replaced by the training median (0 for a column without any value).
    3. ``scaling``: ``"quantile"`` maps each column through its training quantiles to a
       standard normal (rank-based, robust to outliers and units; values beyond the training
       range clip at ±5.2 SD), ``"standard"`` z-scores, ``"robust"`` centres on the median and
       divides by the IQR, ``None`` leaves the values.

    Parameters
    ----------
    log
        ``"auto"``, ``True`` or ``False`` (see above).
    skew_threshold
        Skewness above which ``log="auto"`` logs a positive column.
    missing_indicators
        Append missing-value indicators.
    indicator_threshold
        Fraction of missing training rows from which a column gets an indicator.
    scaling
        ``"quantile"``, ``"standard"``, ``"robust"`` or ``None``.
    n_quantiles
        Quantiles kept per column for ``scaling="quantile"`` (at most the number of rows).

    Attributes
    ----------
    log_mask_
        Which input columns are logged.
    medians_
        Training median of each (logged) column, used for imputation.
    indicator_columns_
        Indices of the input columns that got a missing-value indicator.
    quantiles_
        ``scaling="quantile"``: n_quantiles × columns training quantiles.
    center_, scale_
        ``"standard"`` / ``"robust"``: per-column centre and scale.
    missing_fraction_
        Fraction of training rows missing per input column.
    n_features_in_, feature_names_in_
        As in scikit-learn.
    """

    def __init__(
        self,
        log: str | bool = "auto",
        skew_threshold: float = 1.0,
        missing_indicators: bool = True,
        indicator_threshold: float = 0.05,
        scaling: str | None = "quantile",
        n_quantiles: int = 200,
    ) -> None:
        self.log = log
        self.skew_threshold = skew_threshold
        self.missing_indicators = missing_indicators
        self.indicator_threshold = indicator_threshold
        self.scaling = scaling
        self.n_quantiles = n_quantiles

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    def _check_params(self) -> None:
        if self.log not in ("auto", True, False):
            raise ParameterError(f"FeaturePreparer: log={self.log!r}; use 'auto', True or False")
        if self.scaling not in ("quantile", "standard", "robust", None):
            raise ParameterError(
                f"FeaturePreparer: scaling={self.scaling!r}; use 'quantile', 'standard', "
                "'robust' or None"
            )
        if int(self.n_quantiles) < 2:
            raise ParameterError(f"FeaturePreparer: n_quantiles={self.n_quantiles} must be ≥ 2")

    def _logged(self, x: Array) -> Array:
        out = x.copy()
        if self.log_mask_.any():
            sub = out[:, self.log_mask_]
            with np.errstate(invalid="ignore", divide="ignore"):
                sub = np.where(sub > 0, np.log(np.where(sub > 0, sub, 1.0)), np.nan)
            out[:, self.log_mask_] = sub
        return out

    def fit(self, X: ArrayLike, y: Any = None) -> FeaturePreparer:
        """Learn the log mask, medians, indicators and scaling from the training rows.

        Parameters
        ----------
        X
            Cells × features (array or DataFrame), NaN where a feature is missing.
        y
            Ignored.

        Returns
        -------
        FeaturePreparer
            self.
        """
        self._check_params()
        x = validate_data(self, X, dtype=np.float64, ensure_all_finite=False)
        x = np.where(np.isfinite(x), x, np.nan)
        n, p = x.shape
        miss = np.isnan(x)
        self.missing_fraction_ = miss.mean(axis=0)
        all_nan = miss.all(axis=0)
        positive = np.array([bool(np.all(col[~np.isnan(col)] > 0)) for col in x.T]) & ~all_nan
        if self.log == "auto":
            self.log_mask_ = positive & (_skewness(x) > float(self.skew_threshold))
        elif self.log is True:
            self.log_mask_ = positive
        else:
            self.log_mask_ = np.zeros(p, dtype=bool)
        xl = self._logged(x)
        med = np.zeros(p)
        ok = ~np.isnan(xl).all(axis=0)
        if ok.any():
            med[ok] = np.nanmedian(xl[:, ok], axis=0)
        self.medians_ = med
        if self.missing_indicators:
            self.indicator_columns_ = np.flatnonzero(
                (self.missing_fraction_ >= float(self.indicator_threshold)) & (miss.any(axis=0))
            )
        else:
            self.indicator_columns_ = np.zeros(0, dtype=np.intp)
        xi = np.where(np.isnan(xl), med, xl)
        if self.scaling == "quantile":
            k = int(min(self.n_quantiles, max(n, 2)))
            self.quantiles_ = np.quantile(xi, np.linspace(0.0, 1.0, k), axis=0)
        elif self.scaling == "standard":
            self.center_ = xi.mean(axis=0)
            sd = xi.std(axis=0)
            self.scale_ = np.where(sd > 0, sd, 1.0)
        elif self.scaling == "robust":
            q1, q2, q3 = np.percentile(xi, [25, 50, 75], axis=0)
            iqr = q3 - q1
            self.center_ = q2
            self.scale_ = np.where(iqr > 0, iqr, 1.0)
        self.n_features_out_ = p + len(self.indicator_columns_)
        return self

    def _quantile_normal(self, x: Array) -> Array:
        from scipy.special import ndtri

        q = self.quantiles_
        k = q.shape[0]
        grid = np.linspace(0.0, 1.0, k)
        out = np.empty_like(x)
        for j in range(x.shape[1]):
            col = q[:, j]
            if col[-1] - col[0] <= 0:
                out[:, j] = 0.0
                continue
            # average of the forward and backward interpolation handles repeated quantiles
            # (ties) symmetrically, as scikit-learn's QuantileTransformer does
            fwd = np.interp(x[:, j], col, grid)
            bwd = -np.interp(-x[:, j], -col[::-1], -grid[::-1])
            out[:, j] = 0.5 * (fwd + bwd)
        eps = 1e-7
        return np.asarray(ndtri(np.clip(out, eps, 1.0 - eps)), dtype=np.float64)

    def transform(self, X: ArrayLike) -> Array:
        """Apply the learned log, imputation, indicators and scaling.

        Parameters
        ----------
        X
            Cells × the columns seen in :meth:`fit`.

        Returns
        -------
        numpy.ndarray
            Cells × (features + indicators), float64, no NaN.
        """
        check_is_fitted(self, "medians_")
        x = validate_data(self, X, dtype=np.float64, ensure_all_finite=False, reset=False)
        x = np.where(np.isfinite(x), x, np.nan)
        ind = np.isnan(x[:, self.indicator_columns_]).astype(np.float64)
        xl = self._logged(x)
        xi = np.where(np.isnan(xl), self.medians_, xl)
        if self.scaling == "quantile":
            xs = self._quantile_normal(xi)
        elif self.scaling in ("standard", "robust"):
            xs = (xi - self.center_) / self.scale_
        else:
            xs = xi
        return np.hstack([xs, ind]) if ind.shape[1] else xs

    def get_feature_names_out(self, input_features: ArrayLike | None = None) -> NDArray[Any]:
        """Output column names: the inputs (``log(name)`` where logged), then ``missing(name)``.

        Parameters
        ----------
        input_features
            Input names (default: ``feature_names_in_``, else ``x0``, ``x1`` ...).

        Returns
        -------
        numpy.ndarray of str
            One name per output column.
        """
        check_is_fitted(self, "medians_")
        names = self._input_names(input_features)
        out = [f"log({n})" if m else n for n, m in zip(names, self.log_mask_, strict=True)]
        out += [f"missing({names[i]})" for i in self.indicator_columns_]
        return np.asarray(out, dtype=object)

    def _input_names(self, input_features: ArrayLike | None = None) -> list[str]:
        if input_features is not None:
            return [str(n) for n in np.asarray(input_features)]
        if hasattr(self, "feature_names_in_"):
            return [str(n) for n in self.feature_names_in_]
        return [f"x{i}" for i in range(self.n_features_in_)]

    def scaling_table(self) -> pd.DataFrame:
        """What was learned for each input feature (the recorded preprocessing).

        Returns
        -------
        pandas.DataFrame
            One row per input feature: ``feature``, ``log`` (bool), ``missing_fraction``,
            ``indicator`` (bool), ``median`` (imputation value, on the log scale where
            logged), ``scaling`` and, for quantile scaling, ``q05``/``q50``/``q95`` of the
            training values, else ``center``/``scale``.
        """
        check_is_fitted(self, "medians_")
        names = self._input_names()
        ind = np.zeros(len(names), dtype=bool)
        ind[self.indicator_columns_] = True
        df = pd.DataFrame(
            {
                "feature": names,
                "log": self.log_mask_,
                "missing_fraction": self.missing_fraction_,
                "indicator": ind,
                "median": self.medians_,
                "scaling": str(self.scaling),
            }
        )
        if self.scaling == "quantile":
            q = self.quantiles_
            idx = np.clip(np.round(np.array([0.05, 0.5, 0.95]) * (q.shape[0] - 1)), 0, None)
            for lab, i in zip(("q05", "q50", "q95"), idx.astype(int), strict=True):
                df[lab] = q[i]
        elif self.scaling in ("standard", "robust"):
            df["center"] = self.center_
            df["scale"] = self.scale_
        return df
