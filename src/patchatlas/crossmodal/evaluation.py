"""Cross-validation and metrics for expression → physiology prediction.

:func:`cross_validate` runs repeated stratified K-fold (stratified by t-type) or held-out-type
CV (GroupKFold by t-type) for several regime/model specs at once, on the same folds, and
returns pooled out-of-fold predictions plus a tidy score table (one row per dataset, regime,
model, feature and repeat: ``r2``, ``r``, ``within_type_r2``).

Definitions (all on out-of-fold predictions pooled over the folds of one repeat):

* ``r2`` = 1 − Σ(y − ŷ)² / Σ(y − ȳ)², per feature.
* ``r`` = Pearson correlation of y and ŷ.
* ``within_type_r2`` = 1 − Σ(y − ŷ)² / Σ(y − m)², where m is the *training-fold* mean of the
  test cell's t-type (family mean, then global mean, when the type is absent from the training
  fold). It is 0 for the t-type lookup itself and > 0 only if a model predicts where a cell lies
  within its type.
* multivariate R² = 1 − ‖Y − Ŷ‖² / ‖Y − Ȳ‖² over z-scored features (equal to the mean
  per-feature R² when every feature is z-scored).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from sklearn.base import clone
from sklearn.model_selection import GroupKFold, StratifiedKFold

from patchatlas.crossmodal.regimes import GroupMeans, make_estimator
from patchatlas.errors import DataError

__all__ = [
    "CrossModalResult",
    "cross_validate",
    "genes_after_preprocess",
    "multivariate_r2",
    "paired_difference",
    "pearson_r",
    "prediction_table",
    "r2_per_feature",
    "split_spec",
    "summarize",
    "within_type_interval",
    "within_type_r2",
]

Array = NDArray[np.float64]
Progress = Callable[[int, int], None]


def split_spec(spec: str) -> tuple[str, str]:
    """``"single_cell:ridge"`` → ``("single_cell", "ridge")``; baselines → ``(name, "-")``.

    Parameters
    ----------
    spec
        A ``"regime:model"`` spec or a baseline name.

    Returns
    -------
    regime : str
        The part before ``:`` (the baseline name for a baseline).
    model : str
        The part after ``:``, or ``"-"`` when there is none.
    """
    regime, _, model = spec.partition(":")
    return regime, (model or "-")


def r2_per_feature(y: Array, y_hat: Array) -> Array:
    """R² per column of pooled predictions.

    Parameters
    ----------
    y
        Observed values, cells × features.
    y_hat
        Predictions, same shape.

    Returns
    -------
    numpy.ndarray
        ``1 − Σ(y − ŷ)² / Σ(y − ȳ)²`` per feature (NaN where ``y`` is constant); negative
        when the predictions are worse than the mean.
    """
    sse = np.sum((y - y_hat) ** 2, axis=0)
    sst = np.sum((y - y.mean(axis=0)) ** 2, axis=0)
    return np.asarray(1.0 - sse / np.where(sst > 0, sst, np.nan), dtype=np.float64)


def pearson_r(y: Array, y_hat: Array) -> Array:
    """Pearson r per column (NaN where a column is constant).

    Parameters
    ----------
    y
        Observed values, cells × features.
    y_hat
        Predictions, same shape.

    Returns
    -------
    numpy.ndarray
        Correlation of observed and predicted values per feature.
    """
    yc = y - y.mean(axis=0)
    pc = y_hat - y_hat.mean(axis=0)
    den = np.sqrt(np.sum(yc**2, axis=0) * np.sum(pc**2, axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(np.sum(yc * pc, axis=0) / den, dtype=np.float64)


def within_type_r2(y: Array, y_hat: Array, type_mean: Array) -> Array:
    """R² relative to the (training-fold) type means: 1 − Σ(y − ŷ)² / Σ(y − m)², per column.

    Positive only when the predictions beat the t-type means, i.e. capture variation within
    types.

    Parameters
    ----------
    y
        Observed values, cells × features.
    y_hat
        Predictions, same shape.
    type_mean
        Each cell's t-type mean from the training cells, same shape.

    Returns
    -------
    numpy.ndarray
        Within-type R² per feature (NaN where ``y`` equals the type means).
    """
    sse = np.sum((y - y_hat) ** 2, axis=0)
    sst = np.sum((y - type_mean) ** 2, axis=0)
    return np.asarray(1.0 - sse / np.where(sst > 0, sst, np.nan), dtype=np.float64)


def multivariate_r2(y: Array, y_hat: Array) -> float:
    """1 − ‖Y − Ŷ‖²/‖Y − Ȳ‖² after z-scoring each feature with the statistics of Y.

    Parameters
    ----------
    y
        Observed values, cells × features.
    y_hat
        Predictions, same shape.

    Returns
    -------
    float
        One R² over all features, each weighted equally (constant features are not scaled).
    """
    mu, sd = y.mean(axis=0), y.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    yz, pz = (y - mu) / sd, (y_hat - mu) / sd
    return float(1.0 - np.sum((yz - pz) ** 2) / np.sum(yz**2))


@dataclass
class CrossModalResult:
    """Out-of-fold predictions and scores of :func:`cross_validate`.

    Attributes
    ----------
    scores
        Tidy table: dataset, regime, model, feature, repeat, r2, r, within_type_r2.
    predictions
        spec → array (repeats × cells × features) of out-of-fold predictions.
    type_means
        repeats × cells × features: training-fold t-type mean (with fallback) of each test cell.
    y
        Observed targets (cells × features); ``types``, ``families``, ``feature_names``.
    fold_info
        spec → list of per-fold dicts (e.g. genes selected by sRRR, chosen α).
    params
        Provenance: scheme, folds, repeats, seed, package version.
    """

    dataset: str
    scores: pd.DataFrame
    predictions: dict[str, Array]
    type_means: Array
    y: Array
    types: NDArray[np.str_]
    families: NDArray[np.str_]
    feature_names: list[str]
    fold_info: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def specs(self) -> list[str]:
        """The regime:model specs evaluated, in order."""
        return list(self.predictions)


def _folds(
    n_folds: int, scheme: str, types: NDArray[np.str_], seed: int
) -> list[tuple[NDArray[np.intp], NDArray[np.intp]]]:
    idx = np.zeros(len(types))
    if scheme == "stratified":
        # t-types smaller than n_folds cannot be spread over all folds; scikit-learn says so
        # (a UserWarning the caller sees: library code sets no warning filters)
        skf = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
        return list(skf.split(idx, types))
    if scheme == "held_out_type":
        n_types = len(np.unique(types))
        k = min(n_folds, n_types)
        if k < 2:
            raise DataError("held-out-type CV needs at least 2 t-types")
        gkf = GroupKFold(n_splits=k, shuffle=True, random_state=seed)
        return list(gkf.split(idx, groups=types))
    raise DataError(f"unknown CV scheme {scheme!r}; use 'stratified' or 'held_out_type'")


def _fold_info(est: Any, gene_names: Sequence[str] | None) -> dict[str, Any]:
    info: dict[str, Any] = {}
    model = getattr(est, "model_", None)
    if model is None:
        return info
    if hasattr(model, "support_") and hasattr(model, "n_genes_selected_"):
        info["n_genes"] = int(model.n_genes_selected_)
        names = genes_after_preprocess(est, gene_names)
        if names is not None:
            info["genes"] = [names[i] for i in np.flatnonzero(model.support_)]
    if hasattr(model, "alpha_"):
        info["alpha"] = np.atleast_1d(np.asarray(model.alpha_, dtype=float)).tolist()
    return info


def genes_after_preprocess(est: Any, gene_names: Sequence[str] | None) -> list[str] | None:
    """Names of the genes a fitted estimator's in-fold preprocessing kept, in its column order.

    Parameters
    ----------
    est
        A fitted :class:`~patchatlas.crossmodal.CrossModalRegressor` (its ``preprocess_``).
    gene_names
        Names of the input columns (genes).

    Returns
    -------
    list of str or None
        The kept genes' names; None when ``gene_names`` is None or the preprocessing cannot
        name its outputs.
    """
    if gene_names is None:
        return None
    pre = getattr(est, "preprocess_", None)
    names = np.asarray(list(gene_names), dtype=object)
    if pre is None:
        return [str(g) for g in names]
    try:
        out = pre.get_feature_names_out(names)
    except (AttributeError, ValueError, TypeError):
        return [str(g) for g in names] if est.genes_in_ == len(names) else None
    return [str(g) for g in out]


def _run_fold(
    x: Array,
    y: Array,
    t: NDArray[np.str_],
    f: NDArray[np.str_] | None,
    tr: NDArray[np.intp],
    te: NDArray[np.intp],
    estimators: dict[str, Any],
    gene_names: Sequence[str] | None,
) -> tuple[Array, dict[str, Array], dict[str, dict[str, Any]]]:
    """Fit every spec on the training cells of one fold; predict its test cells."""
    ft_tr = f[tr] if f is not None else None
    ft_te = f[te] if f is not None else None
    gm = GroupMeans(y[tr], t[tr], ft_tr)
    tm = gm.lookup(t[te], ft_te)[0]
    preds: dict[str, Array] = {}
    infos: dict[str, dict[str, Any]] = {}
    for s, proto in estimators.items():
        est = clone(proto)
        est.fit(x[tr], y[tr], types=t[tr], families=ft_tr)
        preds[s] = est.predict(x[te], types=t[te], families=ft_te)
        infos[s] = _fold_info(est, gene_names)
    return tm, preds, infos


def _run_fold_job(
    x: Array,
    y: Array,
    t: NDArray[np.str_],
    f: NDArray[np.str_] | None,
    job: tuple[int, NDArray[np.intp], NDArray[np.intp]],
    estimators: dict[str, Any],
    gene_names: Sequence[str] | None,
) -> tuple[Any, ...]:
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):  # one BLAS thread per worker process
        return (job, *_run_fold(x, y, t, f, job[1], job[2], estimators, gene_names))


def cross_validate(
    X: ArrayLike,
    Y: ArrayLike,
    *,
    types: ArrayLike,
    families: ArrayLike | None = None,
    specs: Sequence[str] = ("single_cell:ridge", "type_average:ridge", "type_lookup"),
    n_repeats: int = 5,
    n_folds: int = 10,
    scheme: str = "stratified",
    seed: int = 0,
    preprocess: Any = None,
    dataset: str = "",
    feature_names: Sequence[str] | None = None,
    gene_names: Sequence[str] | None = None,
    progress: Progress | None = None,
    n_jobs: int = 1,
) -> CrossModalResult:
    """Repeated cross-validation of several regime/model specs on identical folds.

    Parameters
    ----------
    X
        Cells × genes expression (e.g. log2 CPM). Anything learned from it (gene selection,
        z-scoring) must be in ``preprocess``, which is refitted on every training fold.
    Y
        Cells × features physiology.
    types, families
        t-type and family of each cell (type means, strata and lookups).
    specs
        ``"regime:model"`` strings (see :func:`patchatlas.crossmodal.make_estimator`) and/or
        baselines ``"type_lookup"``, ``"family_lookup"``, ``"global_mean"``.
    n_repeats, n_folds
        Repeats of K-fold CV (different shuffles; seed ``seed + repeat``).
    seed
        Seed of the fold shuffles (repeat ``r`` uses ``seed + r``).
    scheme
        ``"stratified"`` (StratifiedKFold by t-type) or ``"held_out_type"`` (GroupKFold by
        t-type: test types are never seen in training; type lookups fall back to family).
    preprocess
        Unfitted transformer for X (default: z-scoring).
    dataset
        Name written in the score table.
    feature_names, gene_names
        Column names of Y and X.
    progress
        Called as ``progress(done, total)`` after each fold (for progress bars).
    n_jobs
        Folds run in parallel worker processes (joblib, one BLAS thread each) when > 1.
        Results do not depend on it.

    Returns
    -------
    CrossModalResult
        Out-of-fold predictions of every spec, the per-feature score table, the training-fold
        type means and the provenance.

    Raises
    ------
    patchatlas.errors.DataError
        Inputs of different lengths, NaN in ``Y`` or non-finite ``X``, fewer than 2 folds or
        1 repeat, feature names of the wrong length, a bad spec, or held-out-type CV with
        fewer than 2 t-types.
    """
    x = np.asarray(X, dtype=np.float64)
    y = np.asarray(Y, dtype=np.float64)
    if y.ndim == 1:
        y = y[:, None]
    t = np.asarray(types).astype(str)
    f = np.asarray(families).astype(str) if families is not None else None
    n = x.shape[0]
    if x.ndim != 2 or y.shape[0] != n or t.shape[0] != n or (f is not None and f.shape[0] != n):
        raise DataError(
            f"X ({x.shape}), Y ({y.shape}), types ({t.shape}) and families must have one row "
            "per cell"
        )
    if not np.all(np.isfinite(y)):
        raise DataError("Y contains NaN; drop cells with missing features before CV")
    if not np.all(np.isfinite(x)):
        raise DataError("X contains NaN or infinite values")
    if n_repeats < 1 or n_folds < 2:
        raise DataError(f"need n_repeats ≥ 1 and n_folds ≥ 2, got {n_repeats} and {n_folds}")
    names = (
        list(feature_names) if feature_names is not None else [f"f{i}" for i in range(y.shape[1])]
    )
    if len(names) != y.shape[1]:
        raise DataError(f"{len(names)} feature names for {y.shape[1]} features")
    estimators = {s: make_estimator(s, preprocess=preprocess) for s in specs}
    preds = {s: np.full((n_repeats, *y.shape), np.nan) for s in specs}
    tmeans = np.full((n_repeats, *y.shape), np.nan)
    info: dict[str, list[dict[str, Any]]] = {s: [] for s in specs}
    folds_all = [_folds(n_folds, scheme, t, seed + r) for r in range(n_repeats)]
    jobs = [(rep, tr, te) for rep, folds in enumerate(folds_all) for tr, te in folds]
    total = len(jobs)

    def run(job: tuple[int, NDArray[np.intp], NDArray[np.intp]]) -> tuple[Any, ...]:
        return (job, *_run_fold(x, y, t, f, job[1], job[2], estimators, gene_names))

    if n_jobs == 1:
        outputs: Any = (run(j) for j in jobs)
    else:
        from joblib import Parallel, delayed

        outputs = Parallel(n_jobs=n_jobs, return_as="generator_unordered")(
            delayed(_run_fold_job)(x, y, t, f, j, estimators, gene_names) for j in jobs
        )
    for done, ((rep, _tr, te), tm, fold_preds, fold_info) in enumerate(outputs, start=1):
        tmeans[rep, te] = tm
        for s_, pr in fold_preds.items():
            preds[s_][rep, te] = pr
            if fold_info[s_]:
                info[s_].append({"repeat": rep, **fold_info[s_]})
        if progress is not None:
            progress(done, total)
    rows: list[dict[str, Any]] = []
    for s in specs:
        regime, model = split_spec(s)
        for rep in range(n_repeats):
            p = preds[s][rep]
            r2 = r2_per_feature(y, p)
            rr = pearson_r(y, p)
            wt = within_type_r2(y, p, tmeans[rep])
            for j, name in enumerate(names):
                rows.append(
                    {
                        "dataset": dataset,
                        "regime": regime,
                        "model": model,
                        "feature": name,
                        "repeat": rep,
                        "r2": float(r2[j]),
                        "r": float(rr[j]),
                        "within_type_r2": float(wt[j]),
                    }
                )
    from patchatlas._version import __version__

    return CrossModalResult(
        dataset=dataset,
        scores=pd.DataFrame(rows),
        predictions=preds,
        type_means=tmeans,
        y=y,
        types=t,
        families=f if f is not None else np.array([""] * n),
        feature_names=names,
        fold_info=info,
        params={
            "scheme": scheme,
            "n_folds": n_folds,
            "n_repeats": n_repeats,
            "seed": seed,
            "specs": list(specs),
            "patchatlas": __version__,
        },
    )


def summarize(result: CrossModalResult) -> pd.DataFrame:
    """One row per spec: mean R² over features (mean and SD over repeats), multivariate R²,
    mean Pearson r and mean within-type R², sorted by R².

    Parameters
    ----------
    result
        Output of :func:`cross_validate`.

    Returns
    -------
    pandas.DataFrame
        Columns ``regime``, ``model``, ``r2`` (feature-averaged, mean over repeats),
        ``r2_sd`` (SD over repeats; 0 for one repeat), ``r``, ``within_type_r2`` and
        ``multivariate_r2`` (mean over repeats), best R² first.
    """
    sc = result.scores
    per_rep = (
        sc.groupby(["regime", "model", "repeat"], sort=False)[["r2", "r", "within_type_r2"]]
        .mean()
        .reset_index()
    )
    agg = per_rep.groupby(["regime", "model"], sort=False).agg(
        r2=("r2", "mean"),
        r2_sd=("r2", "std"),
        r=("r", "mean"),
        within_type_r2=("within_type_r2", "mean"),
    )
    mv = {}
    for s, p in result.predictions.items():
        mv[split_spec(s)] = float(np.mean([multivariate_r2(result.y, p[k]) for k in range(len(p))]))
    agg["multivariate_r2"] = [mv[k] for k in agg.index]
    agg["r2_sd"] = agg["r2_sd"].fillna(0.0)
    return agg.reset_index().sort_values("r2", ascending=False, ignore_index=True)


def _boot_counts(n: int, n_boot: int, seed: int) -> Array:
    rng = np.random.default_rng(seed)
    return np.asarray(rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot), dtype=np.float64)


def _weighted_sst(y: Array, c: Array) -> Array:
    """Σ c_i (y_i − ȳ_c)² for each bootstrap weight row: (B × n) with (n × q) → B × q."""
    s1 = c @ y
    s2 = c @ (y * y)
    return np.asarray(s2 - s1 * s1 / c.sum(axis=1, keepdims=True), dtype=np.float64)


def paired_difference(
    result: CrossModalResult,
    a: str = "single_cell:ridge",
    b: str = "type_average:ridge",
    *,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, Any]:
    """R²(a) − R²(b) per feature and averaged, with a bootstrap CI over cells and repeats.

    The same resampled cells are used for both specs (paired) and for every repeat; each
    bootstrap value is the mean over repeats of the R² difference on the resampled cells.

    Parameters
    ----------
    result
        Output of :func:`cross_validate` that evaluated both specs.
    a, b
        The two specs compared (``a`` − ``b``).
    n_boot
        Bootstrap resamples of the cells.
    seed
        Seed of the resampling.
    level
        Coverage of the percentile interval (0.95: 2.5 % to 97.5 %).

    Returns
    -------
    dict
        ``mean``, ``ci_low``, ``ci_high`` (feature-averaged difference) and ``per_feature`` (a
        DataFrame: feature, diff, ci_low, ci_high); also ``a``, ``b`` and ``n_repeats``.

    Raises
    ------
    patchatlas.errors.DataError
        ``a`` or ``b`` was not evaluated in ``result``.
    """
    for s in (a, b):
        if s not in result.predictions:
            raise DataError(f"spec {s!r} was not evaluated; have {result.specs}")
    y = result.y
    pa, pb = result.predictions[a], result.predictions[b]
    n_rep = pa.shape[0]
    # per-cell squared-error difference, averaged over repeats (n × q)
    d = np.mean((y[None] - pb) ** 2 - (y[None] - pa) ** 2, axis=0)
    sst = np.sum((y - y.mean(axis=0)) ** 2, axis=0)
    point = d.sum(axis=0) / sst
    c = _boot_counts(y.shape[0], n_boot, seed)
    wsst = _weighted_sst(y, c)
    with np.errstate(divide="ignore", invalid="ignore"):
        # a resample where a feature is constant has no R²: leave it out (NaN)
        boot = np.where(wsst > 1e-12 * np.maximum(sst, 1e-300), (c @ d) / wsst, np.nan)
    lo_q, hi_q = (1 - level) / 2, 1 - (1 - level) / 2
    mean_boot = np.nanmean(boot, axis=1)
    per = pd.DataFrame(
        {
            "feature": result.feature_names,
            "diff": point,
            "ci_low": np.nanquantile(boot, lo_q, axis=0),
            "ci_high": np.nanquantile(boot, hi_q, axis=0),
        }
    )
    return {
        "a": a,
        "b": b,
        "mean": float(point.mean()),
        "ci_low": float(np.nanquantile(mean_boot, lo_q)),
        "ci_high": float(np.nanquantile(mean_boot, hi_q)),
        "n_repeats": n_rep,
        "per_feature": per,
    }


def within_type_interval(
    result: CrossModalResult,
    spec: str,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, Any]:
    """Feature-averaged within-type R² of ``spec`` with a bootstrap CI over cells (and repeats).

    Parameters
    ----------
    result
        Output of :func:`cross_validate` that evaluated ``spec``.
    spec
        The spec scored against the training-fold t-type means.
    n_boot
        Bootstrap resamples of the cells.
    seed
        Seed of the resampling.
    level
        Coverage of the percentile interval (0.95: 2.5 % to 97.5 %).

    Returns
    -------
    dict
        ``spec``, ``mean``, ``ci_low``, ``ci_high`` and ``per_feature`` (a DataFrame: feature,
        within_type_r2, ci_low, ci_high).

    Raises
    ------
    patchatlas.errors.DataError
        ``spec`` was not evaluated in ``result``.
    """
    if spec not in result.predictions:
        raise DataError(f"spec {spec!r} was not evaluated; have {result.specs}")
    y = result.y
    p = result.predictions[spec]
    sse = np.mean((y[None] - p) ** 2, axis=0)
    ssw = np.mean((y[None] - result.type_means) ** 2, axis=0)
    point = 1.0 - sse.sum(axis=0) / ssw.sum(axis=0)
    c = _boot_counts(y.shape[0], n_boot, seed)
    den = c @ ssw
    with np.errstate(divide="ignore", invalid="ignore"):
        boot = np.where(den > 0, 1.0 - (c @ sse) / den, np.nan)
    lo_q, hi_q = (1 - level) / 2, 1 - (1 - level) / 2
    mb = np.nanmean(boot, axis=1)
    per = pd.DataFrame(
        {
            "feature": result.feature_names,
            "within_type_r2": point,
            "ci_low": np.nanquantile(boot, lo_q, axis=0),
            "ci_high": np.nanquantile(boot, hi_q, axis=0),
        }
    )
    return {
        "spec": spec,
        "mean": float(point.mean()),
        "ci_low": float(np.nanquantile(mb, lo_q)),
        "ci_high": float(np.nanquantile(mb, hi_q)),
        "per_feature": per,
    }


def prediction_table(
    result: CrossModalResult,
    *,
    cells: Sequence[str] | None = None,
    repeat: int = 0,
) -> pd.DataFrame:
    """Out-of-fold predictions of one repeat as a tidy table.

    Parameters
    ----------
    result
        Output of :func:`cross_validate`.
    cells
        Cell names in the row order of ``result.y`` (default ``cell_0``, ``cell_1``, …).
    repeat
        Which CV repeat to report.

    Returns
    -------
    pandas.DataFrame
        Columns regime, model, feature, cell, t_type, observed, predicted.
    """
    n = result.y.shape[0]
    names = [str(c) for c in cells] if cells is not None else [f"cell_{i}" for i in range(n)]
    if len(names) != n:
        raise DataError(
            f"prediction_table: {len(names)} cell names for {n} cells in the result; pass the "
            "names in the row order of the dataset the benchmark ran on"
        )
    frames = []
    feats = list(result.feature_names)
    for spec, pred in result.predictions.items():
        if not 0 <= repeat < pred.shape[0]:
            raise DataError(
                f"prediction_table: repeat {repeat} is not in 0..{pred.shape[0] - 1} for {spec}"
            )
        regime, model = split_spec(spec)
        p = pred[repeat]
        frames.append(
            pd.DataFrame(
                {
                    "regime": regime,
                    "model": model,
                    "feature": np.repeat(np.asarray(feats, dtype=object), n),
                    "cell": np.tile(np.asarray(names, dtype=object), len(feats)),
                    "t_type": np.tile(np.asarray(result.types, dtype=object), len(feats)),
                    "observed": result.y.T.reshape(-1),
                    "predicted": p.T.reshape(-1),
                }
            )
        )
    cols = ["regime", "model", "feature", "cell", "t_type", "observed", "predicted"]
    if not frames:
        return pd.DataFrame(columns=cols)
    return pd.concat(frames, ignore_index=True)[cols]
