"""Transcriptomic typing of Patch-seq cells: map each cell to a reference taxonomy.

The method of the Patch-seq studies (Gouwens et al. 2020; Scala et al. 2021, after Tasic et
al. 2018), restated:

1. **Markers.** From the reference cells (log2(CPM + 1)), per type the genes most enriched
   against all other cells (one-vs-rest difference of means) and against the type's nearest
   other type (its most correlated centroid): ``n_markers`` genes per type, half each way,
   pooled.
2. **Centroids.** Mean log-expression of each reference type.
3. **Nearest centroid by correlation.** A query cell goes to the type whose centroid
   correlates best (Pearson, over the markers) with its expression.
4. **Bootstrap confidence.** The call is repeated ``n_bootstrap`` times with a random
   ``gene_fraction`` (80 %) of the markers; the confidence of a type is the fraction of
   repeats that chose it, the label is the type chosen most often. A family's confidence is
   the summed confidence of its types.

:class:`TaxonomyMapper` is the scikit-learn classifier (input: normalised log-expression);
:func:`map_ttypes` maps one AnnData onto another (normalising counts, matching genes);
:func:`cross_validate_mapping` checks the mapping against published labels with the
confident cells of the other folds as the reference.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from patchatlas._version import __version__
from patchatlas.celltyping.metrics import bootstrap_metrics, calibration_table
from patchatlas.errors import DataError, ParameterError

__all__ = [
    "MappingValidation",
    "TTypeMapping",
    "TaxonomyMapper",
    "cross_validate_mapping",
    "log_cpm",
    "map_ttypes",
    "select_markers",
]

Array = NDArray[np.float64]


def log_cpm(counts: ArrayLike, *, library_size: ArrayLike | None = None) -> Array:
    """log2(CPM + 1) of a cells × genes count matrix.

    Parameters
    ----------
    counts
        Raw counts (≥ 0), cells × genes (dense or scipy sparse).
    library_size
        Per-cell CPM denominators (default: the row sums).

    Returns
    -------
    numpy.ndarray
        Cells × genes, float64.

    Raises
    ------
    patchatlas.errors.DataError
        Negative counts, or a library size ≤ 0.
    """
    x = counts.toarray() if hasattr(counts, "toarray") else counts
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise DataError(f"counts must be cells × genes (2-D), got shape {x.shape}")
    if np.any(x < 0):
        raise DataError("counts contain negative values; pass raw counts (≥ 0)")
    lib = x.sum(axis=1) if library_size is None else np.asarray(library_size, dtype=np.float64)
    if lib.shape != (x.shape[0],) or np.any(~np.isfinite(lib)) or np.any(lib <= 0):
        raise DataError(
            "library sizes must be one positive number per cell; drop cells without reads"
        )
    out: Array = np.log2(x / lib[:, None] * 1e6 + 1.0)
    return out


def _centroids(x: Array, y: NDArray[np.intp], k: int) -> Array:
    sums = np.zeros((k, x.shape[1]))
    np.add.at(sums, y, x)
    return sums / np.bincount(y, minlength=k)[:, None]


def _row_standardise(a: Array) -> Array:
    c = a - a.mean(axis=1, keepdims=True)
    norm = np.sqrt((c**2).sum(axis=1, keepdims=True))
    out: Array = np.divide(c, norm, out=np.zeros_like(c), where=norm > 0)
    return out


def _similarity(x: Array, cent: Array) -> Array:
    """Pearson correlation of each row of x with each centroid (negative Euclidean distance
    with fewer than three genes, where a correlation is undefined)."""
    if x.shape[1] >= 3:
        out: Array = _row_standardise(x) @ _row_standardise(cent).T
        return out
    d = ((x[:, None, :] - cent[None, :, :]) ** 2).sum(axis=2)
    neg: Array = -np.sqrt(d)
    return neg


def select_markers(
    x: Array, y: ArrayLike, *, n_per_type: int = 20, gene_names: Sequence[str] | None = None
) -> NDArray[np.intp]:
    """Marker genes of each type: half one-vs-rest, half against the nearest other type.

    Parameters
    ----------
    x
        Reference cells × genes, log-expression.
    y
        Type of each reference cell.
    n_per_type
        Markers per type (the union over types is returned).
    gene_names
        Only used for messages.

    Returns
    -------
    numpy.ndarray of int
        Sorted column indices of the markers.
    """
    labels, yi = np.unique(np.asarray(y).astype(str), return_inverse=True)
    k, g = len(labels), x.shape[1]
    if g == 0:
        raise DataError("select_markers: no genes")
    if k < 2 or g <= n_per_type:
        return np.arange(g)
    cent = _centroids(x, yi, k)
    total = x.sum(axis=0)
    counts = np.bincount(yi, minlength=k).astype(np.float64)
    n = len(yi)
    half = max(1, n_per_type // 2)
    corr = _similarity(cent, cent)
    np.fill_diagonal(corr, -np.inf)
    chosen: set[int] = set()
    for t in range(k):
        rest_n = n - counts[t]
        rest = (total - cent[t] * counts[t]) / rest_n if rest_n > 0 else np.zeros(g)
        ovr = cent[t] - rest
        chosen.update(np.argsort(-ovr, kind="stable")[:half].tolist())
        near = int(np.argmax(corr[t]))
        diff = np.abs(cent[t] - cent[near])
        chosen.update(np.argsort(-diff, kind="stable")[: n_per_type - half].tolist())
    return np.array(sorted(chosen), dtype=np.intp)


class TaxonomyMapper(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """Nearest-centroid mapping by correlation on marker genes, with bootstrap confidence.

    Parameters
    ----------
    n_markers
        Marker genes per type (see :func:`select_markers`); ``None`` uses every gene.
    n_bootstrap
        Repeats with a random subset of the markers (0: a single call on all markers).
    gene_fraction
        Fraction of the markers used in each repeat.
    random_state
        Seed of the marker subsets (fixed at fit time, so every cell gets the same subsets).

    Attributes
    ----------
    classes_
        The reference types, sorted.
    centroids_
        Types × genes mean log-expression of the reference.
    markers_
        Column indices of the marker genes.
    boot_genes_
        n_bootstrap × m indices (into ``markers_``) of each repeat's genes.
    n_features_in_, feature_names_in_
        As in scikit-learn.

    Notes
    -----
    Input is normalised log-expression (e.g. :func:`log_cpm`), cells × genes, in the gene
    order of the reference. ``predict_proba`` is the fraction of bootstrap repeats choosing
    each type; ``predict`` its argmax.
    """

    def __init__(
        self,
        n_markers: int | None = 30,
        n_bootstrap: int = 100,
        gene_fraction: float = 0.8,
        random_state: int | None = 0,
    ) -> None:
        self.n_markers = n_markers
        self.n_bootstrap = n_bootstrap
        self.gene_fraction = gene_fraction
        self.random_state = random_state

    def fit(self, X: ArrayLike, y: ArrayLike) -> TaxonomyMapper:
        """Choose markers and compute type centroids from the reference cells.

        Parameters
        ----------
        X
            Reference cells × genes, log-expression.
        y
            Type of each reference cell.

        Returns
        -------
        TaxonomyMapper
            self.

        Raises
        ------
        ValueError
            (:class:`patchatlas.errors.DataError`) Fewer than two types.
        """
        if not 0 < float(self.gene_fraction) <= 1:
            raise ParameterError(
                f"TaxonomyMapper: gene_fraction={self.gene_fraction} must be in (0, 1]"
            )
        x, y_arr = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y_arr)
        self.classes_, yi = np.unique(y_arr, return_inverse=True)
        if len(self.classes_) < 2:
            raise DataError("TaxonomyMapper: the reference has only one class; need at least 2")
        k = len(self.classes_)
        self.centroids_ = _centroids(x, yi, k)
        if self.n_markers is None:
            self.markers_ = np.arange(x.shape[1])
        else:
            self.markers_ = select_markers(x, yi, n_per_type=int(self.n_markers))
        m = len(self.markers_)
        rng = np.random.default_rng(self.random_state)
        size = max(1, round(float(self.gene_fraction) * m))
        b = int(self.n_bootstrap)
        self.boot_genes_ = np.array(
            [np.sort(rng.choice(m, size=size, replace=False)) for _ in range(b)], dtype=np.intp
        ).reshape(b, size)
        return self

    def similarity(self, X: ArrayLike) -> Array:
        """Correlation of each cell with each type centroid over all markers.

        Parameters
        ----------
        X
            Cells × genes (the reference's genes, in order), log-expression.

        Returns
        -------
        numpy.ndarray
            Cells × types (order of ``classes_``).
        """
        check_is_fitted(self, "centroids_")
        x = validate_data(self, X, dtype=np.float64, reset=False)
        mk = self.markers_
        return _similarity(x[:, mk], self.centroids_[:, mk])

    def predict_proba(self, X: ArrayLike) -> Array:
        """Fraction of bootstrap repeats that chose each type.

        Parameters
        ----------
        X
            Cells × genes, log-expression.

        Returns
        -------
        numpy.ndarray
            Cells × types, rows summing to 1.
        """
        check_is_fitted(self, "centroids_")
        x = validate_data(self, X, dtype=np.float64, reset=False)
        xm, cm = x[:, self.markers_], self.centroids_[:, self.markers_]
        k, n = len(self.classes_), x.shape[0]
        if not len(self.boot_genes_):
            votes = np.zeros((n, k))
            votes[np.arange(n), _similarity(xm, cm).argmax(axis=1)] = 1.0
            return votes
        votes = np.zeros((n, k))
        rows = np.arange(n)
        for genes in self.boot_genes_:
            best = _similarity(xm[:, genes], cm[:, genes]).argmax(axis=1)
            np.add.at(votes, (rows, best), 1.0)
        out: Array = votes / len(self.boot_genes_)
        return out

    def predict(self, X: ArrayLike) -> NDArray[Any]:
        """The type chosen most often over the bootstrap repeats.

        Parameters
        ----------
        X
            Cells × genes, log-expression.

        Returns
        -------
        numpy.ndarray
            One type per cell.
        """
        check_is_fitted(self, "centroids_")
        out: NDArray[Any] = self.classes_[self.predict_proba(X).argmax(axis=1)]
        return out


# ------------------------------------------------------------------------------------------
# AnnData in, one result out


@dataclass
class TTypeMapping:
    """Transcriptomic types of query cells mapped onto a reference taxonomy.

    Attributes
    ----------
    table
        One row per query cell (index: cell name): ``t_type``, ``confidence`` (bootstrap
        fraction), ``correlation`` (with the chosen centroid, all markers), ``runner_up``,
        ``runner_up_confidence``; with families: ``family``, ``family_confidence``.
    markers
        The marker genes used.
    n_genes_shared
        Genes present in both query and reference.
    provenance
        Package version, parameters, reference size and types.
    """

    table: pd.DataFrame
    markers: list[str]
    n_genes_shared: int
    provenance: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return (
            f"TTypeMapping({len(self.table)} cells → {self.table['t_type'].nunique()} types; "
            f"{len(self.markers)} markers of {self.n_genes_shared} shared genes; median "
            f"confidence {self.table['confidence'].median():.2f})"
        )


def _obs(adata: Any, key: str, what: str) -> NDArray[Any]:
    if key not in adata.obs.columns:
        raise DataError(
            f"the {what} has no obs column {key!r} (has {list(adata.obs.columns)[:12]}); "
            "name the label column"
        )
    return np.asarray(adata.obs[key].astype(str).to_numpy(), dtype=object)


def _logexpr(adata: Any, library_key: str | None, normalize: str) -> Array:
    if normalize == "none":
        x = adata.X.toarray() if hasattr(adata.X, "toarray") else adata.X
        return np.asarray(x, dtype=np.float64)
    if normalize != "log_cpm":
        raise ParameterError(f"normalize={normalize!r}; use 'log_cpm' or 'none'")
    lib = None
    if library_key is not None and library_key in adata.obs.columns:
        lib = adata.obs[library_key].to_numpy(dtype=np.float64)
    return log_cpm(adata.X, library_size=lib)


def _shared_genes(query: Any, reference: Any) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    qn = pd.Index(query.var_names.astype(str)).str.upper()
    rn = pd.Index(reference.var_names.astype(str)).str.upper()
    r_pos = pd.Series(np.arange(len(rn)), index=rn)
    r_pos = r_pos[~r_pos.index.duplicated()]
    q_pos = pd.Series(np.arange(len(qn)), index=qn)
    q_pos = q_pos[~q_pos.index.duplicated()]
    common = r_pos.index.intersection(q_pos.index)
    return q_pos[common].to_numpy(), r_pos[common].to_numpy()


def _mapping_table(
    mapper: TaxonomyMapper,
    xq: Array,
    cells: Sequence[str],
    type_to_family: dict[str, str] | None,
) -> pd.DataFrame:
    proba = mapper.predict_proba(xq)
    corr = mapper.similarity(xq)
    order = np.argsort(-proba, axis=1, kind="stable")
    rows = np.arange(len(xq))
    best, second = order[:, 0], order[:, 1] if proba.shape[1] > 1 else order[:, 0]
    df = pd.DataFrame(
        {
            "t_type": mapper.classes_[best].astype(str),
            "confidence": proba[rows, best],
            "correlation": corr[rows, best],
            "runner_up": mapper.classes_[second].astype(str),
            "runner_up_confidence": proba[rows, second],
        },
        index=pd.Index([str(c) for c in cells], name="cell"),
    )
    if type_to_family:
        fams = sorted(set(type_to_family.values()))
        member = np.zeros((len(mapper.classes_), len(fams)))
        pos = {f: i for i, f in enumerate(fams)}
        for i, t in enumerate(mapper.classes_):
            member[i, pos[type_to_family[str(t)]]] = 1.0
        fp = proba @ member
        fbest = fp.argmax(axis=1)
        df["family"] = np.asarray(fams, dtype=object)[fbest]
        df["family_confidence"] = fp[rows, fbest]
        # the family of the chosen type (agrees with `family` unless votes split)
        df["family_of_type"] = [type_to_family[t] for t in df["t_type"]]
    return df


def _type_families(types: NDArray[Any], families: NDArray[Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    df = pd.DataFrame({"t": types.astype(str), "f": families.astype(str)})
    for t, g in df.groupby("t")["f"]:
        out[str(t)] = str(g.value_counts().index[0])
    return out


def map_ttypes(
    query: Any,
    reference: Any,
    *,
    label_key: str = "t_type",
    family_key: str | None = "family",
    library_key: str | None = "library_size",
    normalize: str = "log_cpm",
    n_markers: int | None = 30,
    n_bootstrap: int = 100,
    gene_fraction: float = 0.8,
    random_state: int = 0,
) -> TTypeMapping:
    """Map the cells of ``query`` onto the types of ``reference`` (two AnnData objects).

    Genes are matched by name (case-insensitive); counts are normalised per cell to
    log2(CPM + 1) (library size from ``obs[library_key]`` when present, else the counts' row
    sums) — per-cell normalisation, nothing learned from other cells.

    Parameters
    ----------
    query
        AnnData of the Patch-seq cells (raw counts, cells × genes).
    reference
        AnnData of the reference taxonomy (raw counts), with type labels in
        ``obs[label_key]``.
    label_key
        Type column of ``reference.obs``.
    family_key
        Family (subclass) column of ``reference.obs``, or ``None``: with it, each cell also
        gets a family and its confidence.
    library_key
        Library-size column of ``obs`` (both objects), if any.
    normalize
        ``"log_cpm"`` (counts in ``X``) or ``"none"`` (``X`` is already log-expression).
    n_markers, n_bootstrap, gene_fraction, random_state
        See :class:`TaxonomyMapper`.

    Returns
    -------
    TTypeMapping
        Per-cell types, confidences and families, the markers, provenance.

    Raises
    ------
    patchatlas.errors.DataError
        No genes in common, a missing label column, or bad counts.
    """
    qi, ri = _shared_genes(query, reference)
    if len(qi) < 3:
        raise DataError(
            f"query and reference share {len(qi)} genes (query {query.n_vars}, reference "
            f"{reference.n_vars}); check that both use gene symbols"
        )
    types = _obs(reference, label_key, "reference")
    xr = _logexpr(reference, library_key, normalize)[:, ri]
    xq = _logexpr(query, library_key, normalize)[:, qi]
    mapper = TaxonomyMapper(
        n_markers=n_markers,
        n_bootstrap=n_bootstrap,
        gene_fraction=gene_fraction,
        random_state=random_state,
    ).fit(xr, types)
    fam_map = None
    if family_key is not None:
        fam_map = _type_families(types, _obs(reference, family_key, "reference"))
    table = _mapping_table(mapper, xq, list(query.obs_names.astype(str)), fam_map)
    genes = np.asarray(reference.var_names.astype(str))[ri]
    return TTypeMapping(
        table=table,
        markers=[str(genes[i]) for i in mapper.markers_],
        n_genes_shared=len(qi),
        provenance={
            "package_version": __version__,
            "engine": "patchatlas.celltyping.map_ttypes",
            "method": "nearest centroid (Pearson correlation on markers), bootstrap confidence",
            "parameters": {
                "n_markers": n_markers,
                "n_bootstrap": n_bootstrap,
                "gene_fraction": gene_fraction,
                "random_state": random_state,
                "normalize": normalize,
                "label_key": label_key,
                "family_key": family_key,
            },
            "n_reference": int(reference.n_obs),
            "reference_types": [str(t) for t in mapper.classes_],
        },
    )


# ------------------------------------------------------------------------------------------
# validation against published labels


@dataclass
class MappingValidation:
    """Cross-validated agreement of :func:`map_ttypes` with published labels.

    Attributes
    ----------
    cells
        One row per query cell: ``true_type``, ``true_family``, ``published_confidence``,
        ``fold`` and the mapping columns (``t_type``, ``confidence``, ``family``,
        ``family_confidence`` ...).
    agreement
        Per ``level`` (``type``, ``family``) and ``subset`` (``all``; ``confident``: cells
        whose published confidence ≥ the threshold): ``accuracy`` (agreement) with a 95 %
        bootstrap CI, ``balanced_accuracy`` with CI, ``n``.
    calibration
        Agreement per bin of mapping confidence, per level (``level`` column).
    provenance
        Parameters, folds, threshold, reference sizes per fold.
    """

    cells: pd.DataFrame
    agreement: pd.DataFrame
    calibration: pd.DataFrame
    provenance: dict[str, Any] = field(default_factory=dict)

    def accuracy(self, level: str = "type", subset: str = "all") -> float:
        """Agreement with the published labels at one level.

        Parameters
        ----------
        level
            ``"type"`` or ``"family"``.
        subset
            ``"all"`` or ``"confident"``.

        Returns
        -------
        float
            The fraction of cells whose mapped label equals the published one.
        """
        a = self.agreement
        row = a[(a["level"] == level) & (a["subset"] == subset)]
        return float(row["accuracy"].iloc[0]) if len(row) else float("nan")


def cross_validate_mapping(
    adata: Any,
    *,
    label_key: str = "t_type",
    family_key: str = "family",
    confidence_key: str | None = None,
    min_confidence: float = 0.7,
    library_key: str | None = "library_size",
    n_folds: int = 5,
    n_markers: int | None = 30,
    n_bootstrap: int = 100,
    gene_fraction: float = 0.8,
    seed: int = 0,
    progress: Any = None,
) -> MappingValidation:
    """Map each fold of ``adata`` onto a reference built from the confident cells of the other
    folds, and compare with the published labels at the type and family levels.

    Parameters
    ----------
    adata
        AnnData of Patch-seq counts with published labels (``obs[label_key]``,
        ``obs[family_key]``) and optionally their confidence (``obs[confidence_key]``).
    label_key, family_key
        Published type and family columns.
    confidence_key
        Published confidence column; reference cells need ≥ ``min_confidence`` (all cells
        when ``None``).
    min_confidence
        Threshold for reference cells (and for the ``confident`` subset reported).
    library_key
        Library-size column for log2(CPM + 1).
    n_folds
        Stratified folds (by family).
    n_markers, n_bootstrap, gene_fraction
        See :class:`TaxonomyMapper`.
    seed
        Seed of the folds and the bootstrap.
    progress
        Optional ``progress(done, total)`` after each fold.

    Returns
    -------
    MappingValidation
        Per-cell calls, agreement with CIs and calibration per level.
    """
    from sklearn.model_selection import StratifiedKFold

    types = _obs(adata, label_key, "data")
    fams = _obs(adata, family_key, "data")
    conf = (
        pd.to_numeric(adata.obs[confidence_key], errors="coerce").to_numpy(dtype=np.float64)
        if confidence_key is not None
        else np.ones(adata.n_obs)
    )
    x = _logexpr(adata, library_key, "log_cpm")
    cells = np.asarray(adata.obs_names.astype(str))
    fam_counts = pd.Series(fams).value_counts()
    strat = np.where(pd.Series(fams).map(fam_counts).to_numpy() >= n_folds, fams, "(rare)")
    cv = StratifiedKFold(n_folds, shuffle=True, random_state=seed)
    parts, ref_sizes = [], []
    confident = np.nan_to_num(conf, nan=0.0) >= float(min_confidence)
    for fold, (tr, te) in enumerate(cv.split(x, strat)):
        ref = tr[confident[tr]]
        ref_sizes.append(len(ref))
        mapper = TaxonomyMapper(
            n_markers=n_markers,
            n_bootstrap=n_bootstrap,
            gene_fraction=gene_fraction,
            random_state=seed,
        ).fit(x[ref], types[ref])
        fam_map = _type_families(types[ref], fams[ref])
        t = _mapping_table(mapper, x[te], cells[te], fam_map)
        t.insert(0, "fold", fold)
        t.insert(0, "published_confidence", conf[te])
        t.insert(0, "true_family", fams[te])
        t.insert(0, "true_type", types[te])
        parts.append(t)
        if progress is not None:
            progress(fold + 1, n_folds)
    table = pd.concat(parts).loc[cells]
    agree_rows, cal_parts = [], []
    for level, true_col, pred_col, conf_col in (
        ("type", "true_type", "t_type", "confidence"),
        ("family", "true_family", "family", "family_confidence"),
    ):
        for subset in ("all", "confident"):
            sel = (
                np.ones(len(table), bool)
                if subset == "all"
                else (table["published_confidence"].fillna(0).to_numpy() >= min_confidence)
            )
            tt = table.loc[sel, true_col].astype(str).to_numpy()
            pp = table.loc[sel, pred_col].astype(str).to_numpy()
            classes = sorted(set(tt))
            b = bootstrap_metrics(tt, [pp], classes=classes, seed=seed).set_index("metric")
            agree_rows.append(
                {
                    "level": level,
                    "subset": subset,
                    "n": int(sel.sum()),
                    "n_classes": len(classes),
                    "accuracy": b.loc["accuracy", "mean"],
                    "ci_low": b.loc["accuracy", "ci_low"],
                    "ci_high": b.loc["accuracy", "ci_high"],
                    "balanced_accuracy": b.loc["balanced_accuracy", "mean"],
                    "balanced_ci_low": b.loc["balanced_accuracy", "ci_low"],
                    "balanced_ci_high": b.loc["balanced_accuracy", "ci_high"],
                }
            )
        correct = table[true_col].astype(str).to_numpy() == table[pred_col].astype(str).to_numpy()
        cal = calibration_table(
            correct,
            table[conf_col].to_numpy(dtype=np.float64),
            bins=[0.0, 0.5, 0.7, 0.9, 0.99, 1.0 + 1e-9],
            seed=seed,
        )
        cal.insert(0, "level", level)
        cal["spearman"] = cal.attrs.get("spearman")
        cal["auc"] = cal.attrs.get("auc")
        cal_parts.append(cal)
    return MappingValidation(
        cells=table,
        agreement=pd.DataFrame(agree_rows),
        calibration=pd.concat(cal_parts, ignore_index=True),
        provenance={
            "package_version": __version__,
            "engine": "patchatlas.celltyping.cross_validate_mapping",
            "n_folds": n_folds,
            "min_confidence": min_confidence,
            "confidence_key": confidence_key,
            "n_markers": n_markers,
            "n_bootstrap": n_bootstrap,
            "gene_fraction": gene_fraction,
            "seed": seed,
            "reference_sizes": ref_sizes,
            "n_cells": len(table),
            "n_genes": int(adata.n_vars),
        },
    )
