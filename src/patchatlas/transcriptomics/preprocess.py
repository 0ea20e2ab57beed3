"""Expression preprocessing as scikit-learn transformers, so every statistic is fitted in-fold.

Per-cell operations (:class:`CPM`, :class:`Log`) have nothing to fit; gene selection
(:class:`HighlyVariableGenes`, :class:`MeanDropoutSelector`, :class:`GeneSetSelector`) and z-scoring
(:class:`ZScore`) learn from the training cells only when placed in a
:class:`sklearn.pipeline.Pipeline` that is fitted inside each cross-validation fold.
:func:`make_preprocessor` builds the usual chains.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_selection import SelectorMixin
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted, validate_data

from patchatlas.errors import DataError

__all__ = [
    "CPM",
    "GeneSetSelector",
    "HighlyVariableGenes",
    "Log",
    "MeanDropoutSelector",
    "ZScore",
    "cpm",
    "make_preprocessor",
    "match_genes",
]

Array = NDArray[np.float64]


def cpm(
    counts: ArrayLike,
    *,
    library_size: ArrayLike | None = None,
    gene_lengths: ArrayLike | None = None,
    scale: float = 1e6,
) -> Array:
    """Counts per million (optionally divided by gene length in kb, as in Scala et al. 2021).

    Parameters
    ----------
    counts
        Cells × genes raw counts.
    library_size
        Per-cell denominators (e.g. total exon reads from the metadata); default: row sums.
    gene_lengths
        Per-gene lengths in bp; when given, values are further divided by length / 1000 and
        re-scaled so that the mean gene length maps to 1 (RPKM-like, kept on the CPM scale).
    scale
        Multiplier (1e6 for CPM).

    Returns
    -------
    numpy.ndarray
        Normalised expression, same shape as ``counts``.
    """
    x = np.asarray(counts, dtype=np.float64)
    if x.ndim != 2:
        raise DataError(f"counts must be a 2-D cells × genes array, got shape {x.shape}")
    lib = x.sum(axis=1) if library_size is None else np.asarray(library_size, dtype=np.float64)
    if lib.shape != (x.shape[0],):
        raise DataError(
            f"library_size has shape {lib.shape}, expected one value per cell ({x.shape[0]})"
        )
    if np.any(~np.isfinite(lib)) or np.any(lib <= 0):
        bad = int(np.sum(~np.isfinite(lib) | (lib <= 0)))
        raise DataError(f"{bad} cells have a library size ≤ 0 or NaN; drop them before CPM")
    out = x / lib[:, None] * scale
    if gene_lengths is not None:
        gl = np.asarray(gene_lengths, dtype=np.float64)
        if gl.shape != (x.shape[1],) or np.any(~np.isfinite(gl)) or np.any(gl <= 0):
            raise DataError(
                f"gene_lengths must hold one positive length per gene ({x.shape[1]}), "
                f"got shape {gl.shape}"
            )
        out = out / (gl / gl.mean())[None, :]
    return out


def _nonnegative(x: Array, who: str) -> None:
    if np.any(x < 0):
        raise DataError(
            f"Negative values in data passed to {who}: expected counts or normalised counts ≥ 0"
        )


class CPM(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Library-size normalisation by row sums (counts per million). Nothing is learned.

    Parameters
    ----------
    scale
        Multiplier (1e6 gives CPM).
    """

    def __init__(self, scale: float = 1e6) -> None:
        self.scale = scale

    def fit(self, X: ArrayLike, y: Any = None) -> CPM:
        """Check the input and record its number of columns (nothing is learned).

        Parameters
        ----------
        X
            Cells × genes counts (≥ 0).
        y
            Ignored.

        Returns
        -------
        CPM
            self.

        Raises
        ------
        patchatlas.errors.DataError
            Negative values.
        """
        x = validate_data(self, X, reset=True, dtype=np.float64)
        _nonnegative(x, "CPM")
        return self

    def transform(self, X: ArrayLike) -> Array:
        """Divide each cell by its row sum and multiply by ``scale``.

        Parameters
        ----------
        X
            Cells × genes counts, with the columns seen in :meth:`fit`.

        Returns
        -------
        numpy.ndarray
            Normalised expression, same shape; an all-zero cell stays zero.
        """
        check_is_fitted(self, "n_features_in_")
        x = validate_data(self, X, reset=False, dtype=np.float64)
        lib = x.sum(axis=1)
        lib = np.where(lib > 0, lib, 1.0)
        return np.asarray(x / lib[:, None] * self.scale, dtype=np.float64)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = True
        return tags


class Log(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """``log_base(X + pseudocount)``. Nothing is learned.

    Parameters
    ----------
    base
        Logarithm base (2 as in the Patch-seq literature).
    pseudocount
        Added before the log.
    """

    def __init__(self, base: float = 2.0, pseudocount: float = 1.0) -> None:
        self.base = base
        self.pseudocount = pseudocount

    def fit(self, X: ArrayLike, y: Any = None) -> Log:
        """Check the input and record its number of columns (nothing is learned).

        Parameters
        ----------
        X
            Cells × genes counts or CPM (≥ 0).
        y
            Ignored.

        Returns
        -------
        Log
            self.

        Raises
        ------
        patchatlas.errors.DataError
            Negative values.
        """
        x = validate_data(self, X, reset=True, dtype=np.float64)
        _nonnegative(x, "Log")
        return self

    def transform(self, X: ArrayLike) -> Array:
        """``log_base(X + pseudocount)``, element-wise.

        Parameters
        ----------
        X
            Cells × genes counts or CPM, with the columns seen in :meth:`fit`.

        Returns
        -------
        numpy.ndarray
            The logged values, same shape.

        Raises
        ------
        patchatlas.errors.DataError
            ``X + pseudocount`` is not positive somewhere.
        """
        check_is_fitted(self, "n_features_in_")
        x = validate_data(self, X, reset=False, dtype=np.float64)
        if np.any(x + self.pseudocount <= 0):
            raise DataError("Log: X + pseudocount must be positive (are the inputs counts/CPM?)")
        return np.asarray(np.log(x + self.pseudocount) / np.log(self.base), dtype=np.float64)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = True
        return tags


class _TopGenes(SelectorMixin, BaseEstimator):  # type: ignore[misc]
    n_genes: int | None

    def _get_support_mask(self) -> NDArray[np.bool_]:
        check_is_fitted(self, "support_")
        return np.asarray(self.support_, dtype=bool)

    def _top(self, score: Array, n_genes: int | None = None) -> NDArray[np.bool_]:
        want = self.n_genes if n_genes is None else n_genes
        n = score.shape[0] if want is None else min(int(want), score.shape[0])
        if n < 1:
            raise DataError(f"{type(self).__name__}: n_genes must be ≥ 1, got {self.n_genes}")
        order = np.argsort(-np.nan_to_num(score, nan=-np.inf), kind="stable")
        mask = np.zeros(score.shape[0], dtype=bool)
        mask[order[:n]] = True
        return mask


class HighlyVariableGenes(_TopGenes):
    """Keep the ``n_genes`` genes with the largest variance (``"variance"``, for log data) or
    dispersion var/mean (``"dispersion"``, for normalised non-log data) in the training cells.

    Parameters
    ----------
    n_genes
        Number of genes to keep (all when ``None`` or larger than the number of genes).
    flavor
        ``"variance"`` or ``"dispersion"``.

    Attributes
    ----------
    scores_
        Per-gene score on the training cells.
    support_
        Boolean mask of kept genes.
    """

    def __init__(self, n_genes: int | None = 1000, flavor: str = "variance") -> None:
        self.n_genes = n_genes
        self.flavor = flavor

    def fit(self, X: ArrayLike, y: Any = None) -> HighlyVariableGenes:
        """Score the genes on the training cells and keep the ``n_genes`` best.

        Parameters
        ----------
        X
            Cells × genes expression (log for ``"variance"``, normalised non-log for
            ``"dispersion"``).
        y
            Ignored.

        Returns
        -------
        HighlyVariableGenes
            self.

        Raises
        ------
        patchatlas.errors.DataError
            An unknown ``flavor``, or ``n_genes`` < 1.
        """
        x = validate_data(self, X, reset=True, dtype=np.float64)
        var = x.var(axis=0)
        if self.flavor == "variance":
            score = var
        elif self.flavor == "dispersion":
            mean = x.mean(axis=0)
            score = np.where(mean > 0, var / np.where(mean > 0, mean, 1.0), 0.0)
        else:
            raise DataError(
                f"HighlyVariableGenes: unknown flavor {self.flavor!r}; use 'variance' "
                "or 'dispersion'"
            )
        self.scores_ = np.asarray(score, dtype=np.float64)
        self.support_ = self._top(self.scores_)
        return self


class MeanDropoutSelector(_TopGenes):
    """Kobak & Berens (2019) mean–dropout gene selection, fitted on the training cells.

    For each gene, ``d`` is the fraction of cells with expression ≤ ``threshold`` (dropouts) and
    ``m`` the mean log2 expression over the cells above it. Genes far above the curve
    ``d = exp(−decay · (m − b)) + yoffset`` have more zeros than their expression level explains
    (i.e. they are bimodal, type-specific); ``b`` is found by bisection so that ``n_genes`` genes
    lie above the curve. Genes detected in fewer than ``min_cells`` cells are never chosen.

    Parameters
    ----------
    n_genes
        Number of genes to keep.
    threshold
        Values ≤ this count as zero (Kobak & Berens used 32 for read counts of Smart-seq data;
        0 for UMIs). Inputs may be counts or CPM (not log).
    decay
        Curve steepness (1.5 in the paper).
    yoffset
        Vertical offset of the curve (0.02).
    min_cells
        Minimal number of cells with detected expression.

    Attributes
    ----------
    dropout_, mean_log_
        Per-gene statistics on the training cells.
    offset_
        The fitted ``b``.
    support_
        Boolean mask of kept genes.
    """

    def __init__(
        self,
        n_genes: int | None = 1000,
        *,
        threshold: float = 0.0,
        decay: float = 1.5,
        yoffset: float = 0.02,
        min_cells: int = 10,
    ) -> None:
        self.n_genes = n_genes
        self.threshold = threshold
        self.decay = decay
        self.yoffset = yoffset
        self.min_cells = min_cells

    def fit(self, X: ArrayLike, y: Any = None) -> MeanDropoutSelector:
        """Choose the genes with more dropouts than their mean expression explains.

        Parameters
        ----------
        X
            Cells × genes counts or CPM (≥ 0, not log).
        y
            Ignored.

        Returns
        -------
        MeanDropoutSelector
            self.

        Raises
        ------
        patchatlas.errors.DataError
            Negative values, or no gene detected in ``min_cells`` cells.
        """
        x = validate_data(self, X, reset=True, dtype=np.float64)
        _nonnegative(x, "MeanDropoutSelector")
        detected = x > self.threshold
        n_det = detected.sum(axis=0)
        dropout = 1.0 - n_det / x.shape[0]
        with np.errstate(divide="ignore", invalid="ignore"):
            logx = np.where(detected, np.log2(np.where(detected, x, 1.0)), 0.0)
            mean_log = np.where(n_det > 0, logx.sum(axis=0) / np.maximum(n_det, 1), np.nan)
        ok = (n_det >= self.min_cells) & np.isfinite(mean_log)
        n_target = int(ok.sum()) if self.n_genes is None else min(int(self.n_genes), int(ok.sum()))
        if n_target < 1:
            raise DataError(
                f"MeanDropoutSelector: none of the n_features = {x.shape[1]} genes is detected "
                f"in ≥ {self.min_cells} of the n_samples = {x.shape[0]} cells; lower min_cells "
                "or threshold"
            )
        m = np.where(ok, mean_log, 0.0)

        def above(b: float) -> NDArray[np.bool_]:
            curve = np.exp(-self.decay * (m - b)) + self.yoffset
            return np.asarray(ok & (dropout > curve), dtype=bool)

        lo, hi = float(np.nanmin(m[ok])) - 20.0, float(np.nanmax(m[ok])) + 20.0
        # more genes above the curve as b decreases (the curve moves left/down)
        for _ in range(100):
            mid = 0.5 * (lo + hi)
            if above(mid).sum() >= n_target:
                lo = mid
            else:
                hi = mid
        self.offset_ = lo
        # Score = distance above the curve at b, ties broken by it; exactly n_target genes.
        curve = np.exp(-self.decay * (m - lo)) + self.yoffset
        score = np.where(ok, dropout - curve, -np.inf)
        self.dropout_ = dropout
        self.mean_log_ = mean_log
        self.scores_ = score
        self.support_ = self._top(score, n_target)
        return self

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = True  # counts or CPM
        return tags


class GeneSetSelector(SelectorMixin, BaseEstimator):  # type: ignore[misc]
    """Keep the genes of a named set (e.g. ion channels), matched case-insensitively by name.

    Parameters
    ----------
    genes
        Gene symbols of the set (any case; HGNC human symbols match mouse symbols upper-cased).
    feature_names
        Names of the input columns. Default: ``feature_names_in_`` when fitted on a DataFrame,
        else scikit-learn's generic names ``x0, x1, ...`` (those of ``get_feature_names_out``),
        which real gene symbols do not match: pass ``feature_names=`` or a DataFrame.

    Attributes
    ----------
    support_
        Boolean mask of kept columns.
    n_features_in_, feature_names_in_
        As in scikit-learn (the latter only when fitted on a DataFrame).
    """

    def __init__(
        self, genes: Sequence[str] = (), feature_names: Sequence[str] | None = None
    ) -> None:
        self.genes = genes
        self.feature_names = feature_names

    def fit(self, X: ArrayLike, y: Any = None) -> GeneSetSelector:
        """Find the columns of ``X`` (cells × genes) that belong to the set.

        Parameters
        ----------
        X
            Cells × genes expression (array or DataFrame with gene-name columns).
        y
            Ignored.

        Returns
        -------
        GeneSetSelector
            self.

        Raises
        ------
        patchatlas.errors.DataError
            ``feature_names`` does not name every column, or no gene of the set is a column.
        """
        validate_data(self, X, reset=True)
        if self.feature_names is not None:
            names = [str(n) for n in self.feature_names]
            if len(names) != self.n_features_in_:
                raise DataError(
                    f"GeneSetSelector: {len(names)} feature names for {self.n_features_in_} "
                    "columns; pass feature_names= (the gene names of X, one per column)"
                )
        elif hasattr(self, "feature_names_in_"):
            names = [str(n) for n in self.feature_names_in_]
        else:
            names = [f"x{i}" for i in range(self.n_features_in_)]
        support = match_genes(names, self.genes)
        if not support.any():
            hint = (
                "check the symbols and that feature_names are gene names"
                if self.feature_names is not None or hasattr(self, "feature_names_in_")
                else "X has no column names: pass feature_names= (the gene names of X) or a "
                "DataFrame with gene-name columns"
            )
            raise DataError(
                f"GeneSetSelector: none of the genes of the set is among the columns of X ({hint})"
            )
        self.support_ = support
        return self

    def _get_support_mask(self) -> NDArray[np.bool_]:
        check_is_fitted(self, "support_")
        return np.asarray(self.support_, dtype=bool)


class ZScore(StandardScaler):  # type: ignore[misc]
    """Z-score each gene with training-fold mean and SD (a :class:`~sklearn.preprocessing.
    StandardScaler`; constant genes get SD 1)."""


def match_genes(names: Sequence[str], genes: Sequence[str]) -> NDArray[np.bool_]:
    """Boolean mask of ``names`` that are in ``genes`` (case-insensitive, whitespace-stripped).

    Parameters
    ----------
    names
        Gene names to test (the columns of an expression matrix).
    genes
        The gene set; human HGNC symbols match mouse symbols, since case is ignored.

    Returns
    -------
    numpy.ndarray of bool
        One entry per name: True when it is in the set.
    """
    wanted = {str(g).strip().upper() for g in genes}
    return np.array([str(n).strip().upper() in wanted for n in names], dtype=bool)


def make_preprocessor(
    *,
    normalize: bool = False,
    log: bool = False,
    select: str | None = None,
    n_genes: int = 1000,
    genes: Sequence[str] = (),
    feature_names: Sequence[str] | None = None,
    zscore: bool = True,
) -> Pipeline:
    """The usual in-fold preprocessing chain: [CPM] → [log] → [select] → [z-score].

    Mean–dropout selection runs before the log (it needs counts/CPM); HVG selection after it.

    Parameters
    ----------
    normalize
        Divide by row sums (CPM). Leave False when the input is already CPM (e.g. normalised
        with the metadata library size through :func:`cpm`, a per-cell operation).
    log
        Apply ``log2(x + 1)``.
    select
        ``None``, ``"hvg"`` (variance of the (log) input), ``"mean_dropout"`` (Kobak–Berens) or
        ``"genes"`` (the set in ``genes``; needs ``feature_names``).
    n_genes
        Genes kept by ``"hvg"`` and ``"mean_dropout"``.
    genes, feature_names
        For ``select="genes"``.
    zscore
        Z-score the genes with training-fold statistics.

    Returns
    -------
    sklearn.pipeline.Pipeline
        Unfitted; fit it on training cells only.
    """
    steps: list[tuple[str, Any]] = []
    if normalize:
        steps.append(("cpm", CPM()))
    if select == "mean_dropout":
        # needs non-log inputs (dropouts and log of the detected values are computed inside)
        steps.append(("select", MeanDropoutSelector(n_genes)))
    if log:
        steps.append(("log", Log()))
    if select == "hvg":
        steps.append(("select", HighlyVariableGenes(n_genes)))
    elif select == "genes":
        steps.append(("select", GeneSetSelector(genes=tuple(genes), feature_names=feature_names)))
    elif select not in (None, "mean_dropout"):
        raise DataError(
            f"unknown gene selection {select!r}; use None, 'hvg', 'mean_dropout' or 'genes'"
        )
    if zscore:
        steps.append(("zscore", ZScore()))
    if not steps:
        steps.append(("identity", "passthrough"))
    return Pipeline(steps)
