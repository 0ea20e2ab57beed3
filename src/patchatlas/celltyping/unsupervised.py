"""Unsupervised typing: e-types, m-types and me-types (Gouwens et al. 2019 style).

* :class:`SparsePCABlocks` — sparse PCA of each feature block (a feature-vector family, the
  scalar features, the morphology features ...), keeping the components that explain at least
  ``min_variance`` of their block (adjusted variance, Zou, Hastie & Tibshirani 2006), then
  concatenated and z-scored.
* :class:`GaussianMixtureTypes` — Gaussian mixtures for 1 … ``max_clusters`` components, the
  number chosen by BIC.
* :class:`HierarchicalTypes` — Ward clustering, the tree cut where the BIC of a Gaussian
  model with a shared diagonal covariance is lowest.
* :func:`cluster_stability` — refits on random subsamples: adjusted Rand index with the full
  clustering, per-cluster Jaccard (Hennig 2007) and the cluster × cluster co-clustering rates.
* :func:`find_types` — the composition (embedding, clustering, stability, agreement with
  given labels, separating features) returning one :class:`TypingResult`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin, clone
from sklearn.utils.validation import check_is_fitted, validate_data

from patchatlas._version import __version__
from patchatlas.celltyping.agreement import Agreement, agreement, effect_sizes
from patchatlas.errors import DataError, ParameterError

__all__ = [
    "ClusterStability",
    "GaussianMixtureTypes",
    "HierarchicalTypes",
    "SparsePCABlocks",
    "TypingResult",
    "cluster_stability",
    "find_types",
    "partition_bic",
]

Array = NDArray[np.float64]


class SparsePCABlocks(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Sparse PCA per feature block, components concatenated and z-scored.

    Each block's columns are median-imputed and z-scored (training statistics), then
    :class:`sklearn.decomposition.SparsePCA` (coordinate descent, tolerance 1e-4) with up to
    ``n_components`` components is fitted;
    a component is kept when its adjusted variance (QR of the component scores) is at least
    ``min_variance`` of the block's total variance (at least one per block is kept).

    Parameters
    ----------
    blocks
        Block name → its columns (names, with a DataFrame input, or integer positions);
        ``None``: all columns form one block ``"all"``.
    n_components
        Most components per block.
    alpha
        Sparsity (L1) penalty of :class:`~sklearn.decomposition.SparsePCA`.
    min_variance
        Smallest fraction of block variance for a kept component (Gouwens et al. 2019 kept
        components above 1 %).
    random_state
        Seed of the sparse PCA.

    Attributes
    ----------
    blocks_
        Block name → column positions.
    models_
        Block name → fitted SparsePCA.
    kept_
        Block name → indices of the kept components.
    explained_
        Per kept component: ``block``, ``component``, ``variance_fraction``.
    n_features_in_, feature_names_in_
        As in scikit-learn.
    """

    def __init__(
        self,
        blocks: Mapping[str, Sequence[Any]] | None = None,
        n_components: int = 10,
        alpha: float = 1.0,
        min_variance: float = 0.01,
        random_state: int | None = 0,
    ) -> None:
        self.blocks = blocks
        self.n_components = n_components
        self.alpha = alpha
        self.min_variance = min_variance
        self.random_state = random_state

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    def _resolve(self) -> dict[str, NDArray[np.intp]]:
        if self.blocks is None:
            return {"all": np.arange(self.n_features_in_)}
        names = [str(n) for n in getattr(self, "feature_names_in_", [])]
        pos = {n: i for i, n in enumerate(names)}
        out: dict[str, NDArray[np.intp]] = {}
        for b, cols in self.blocks.items():
            idx = []
            for c in cols:
                if isinstance(c, (int, np.integer)):
                    if not 0 <= int(c) < self.n_features_in_:
                        raise DataError(f"SparsePCABlocks: block {b!r} column {c} out of range")
                    idx.append(int(c))
                elif str(c) in pos:
                    idx.append(pos[str(c)])
                else:
                    raise DataError(
                        f"SparsePCABlocks: block {b!r} names column {c!r}, which X lacks "
                        "(pass a DataFrame with that column, or integer positions)"
                    )
            if not idx:
                raise DataError(f"SparsePCABlocks: block {b!r} has no columns")
            out[str(b)] = np.asarray(idx, dtype=np.intp)
        return out

    def fit(self, X: ArrayLike, y: Any = None) -> SparsePCABlocks:
        """Fit imputation, scaling and sparse PCA per block.

        Parameters
        ----------
        X
            Cells × features (NaN allowed).
        y
            Ignored.

        Returns
        -------
        SparsePCABlocks
            self.
        """
        self._fit_transform(X)
        return self

    def fit_transform(self, X: ArrayLike, y: Any = None, **fit_params: Any) -> Array:
        """Fit, and return the z-scored components of ``X``.

        Parameters
        ----------
        X
            Cells × features (NaN allowed).
        y
            Ignored.
        **fit_params
            Ignored.

        Returns
        -------
        numpy.ndarray
            Cells × kept components.
        """
        return self._fit_transform(X)

    def _fit_transform(self, X: ArrayLike) -> Array:
        from sklearn.decomposition import SparsePCA

        if int(self.n_components) < 1:
            raise ParameterError(f"SparsePCABlocks: n_components={self.n_components} must be ≥ 1")
        x = validate_data(self, X, dtype=np.float64, ensure_all_finite=False)
        x = np.where(np.isfinite(x), x, np.nan)
        self.blocks_ = self._resolve()
        med = np.zeros(x.shape[1])
        ok = ~np.isnan(x).all(axis=0)
        if ok.any():
            med[ok] = np.nanmedian(x[:, ok], axis=0)
        self.medians_ = med
        xi = np.where(np.isnan(x), med, x)
        self.mean_ = xi.mean(axis=0)
        sd = xi.std(axis=0)
        self.scale_ = np.where(sd > 0, sd, 1.0)
        z = (xi - self.mean_) / self.scale_
        self.models_: dict[str, Any] = {}
        self.kept_: dict[str, NDArray[np.intp]] = {}
        rows, parts = [], []
        n = x.shape[0]
        for b, idx in self.blocks_.items():
            zb = z[:, idx]
            k = int(min(self.n_components, len(idx), max(n - 1, 1)))
            model = SparsePCA(
                n_components=k,
                alpha=float(self.alpha),
                method="cd",
                tol=1e-4,
                max_iter=300,
                random_state=self.random_state,
            ).fit(zb)
            scores = np.asarray(model.transform(zb)).reshape(n, -1)
            total = float((zb**2).sum()) / max(n - 1, 1)
            if n > 1 and total > 0:
                r = np.linalg.qr(scores, mode="r")
                frac = np.zeros(k)
                dg = np.diag(r)
                frac[: len(dg)] = dg**2 / max(n - 1, 1) / total
            else:
                frac = np.zeros(k)
            keep = np.flatnonzero(frac >= float(self.min_variance))
            if not len(keep):
                keep = np.array([int(np.argmax(frac))], dtype=np.intp)
            self.models_[b], self.kept_[b] = model, keep
            parts.append(scores[:, keep])
            rows += [
                {"block": b, "component": int(c), "variance_fraction": float(frac[c])} for c in keep
            ]
        out = np.hstack(parts)
        self.out_mean_ = out.mean(axis=0)
        osd = out.std(axis=0)
        self.out_scale_ = np.where(osd > 0, osd, 1.0)
        self.explained_ = pd.DataFrame(rows)
        result: Array = (out - self.out_mean_) / self.out_scale_
        return result

    def transform(self, X: ArrayLike) -> Array:
        """Project cells onto the kept components of each block.

        Parameters
        ----------
        X
            Cells × the features seen in :meth:`fit`.

        Returns
        -------
        numpy.ndarray
            Cells × kept components, z-scored with the training statistics.
        """
        check_is_fitted(self, "models_")
        x = validate_data(self, X, dtype=np.float64, ensure_all_finite=False, reset=False)
        x = np.where(np.isfinite(x), x, np.nan)
        z = (np.where(np.isnan(x), self.medians_, x) - self.mean_) / self.scale_
        n = x.shape[0]
        parts = [
            np.asarray(self.models_[b].transform(z[:, idx])).reshape(n, -1)[:, self.kept_[b]]
            for b, idx in self.blocks_.items()
        ]
        out: Array = (np.hstack(parts) - self.out_mean_) / self.out_scale_
        return out

    def get_feature_names_out(self, input_features: ArrayLike | None = None) -> NDArray[Any]:
        """Names of the output columns, ``<block>_pc<k>``.

        Parameters
        ----------
        input_features
            Ignored (the names come from the blocks).

        Returns
        -------
        numpy.ndarray of str
            One name per kept component.
        """
        check_is_fitted(self, "models_")
        return np.asarray(
            [f"{b}_pc{int(c) + 1}" for b in self.blocks_ for c in self.kept_[b]], dtype=object
        )


# ------------------------------------------------------------------------------------------
# clustering with model selection


def partition_bic(x: Array, labels: ArrayLike) -> float:
    """BIC of a hard partition under Gaussians with a shared diagonal covariance.

    The log-likelihood uses each cluster's mean, the pooled within-cluster variance of each
    dimension and the cluster proportions; parameters: k·d means + d variances + (k − 1)
    proportions.

    Parameters
    ----------
    x
        Cells × dimensions.
    labels
        Cluster of each cell.

    Returns
    -------
    float
        −2 log L + p log n (lower is better).
    """
    arr = np.asarray(x, dtype=np.float64)
    lab = np.unique(np.asarray(labels), return_inverse=True)[1]
    n, d = arr.shape
    k = int(lab.max()) + 1
    counts = np.bincount(lab, minlength=k).astype(np.float64)
    means = np.zeros((k, d))
    np.add.at(means, lab, arr)
    means /= counts[:, None]
    resid = arr - means[lab]
    var = (resid**2).sum(axis=0) / n
    floor = 1e-6 * max(float(arr.var(axis=0).mean()), 1e-12)
    var = np.maximum(var, floor)
    ll = -0.5 * n * float(np.sum(np.log(2 * np.pi * var))) - 0.5 * n * d
    ll += float((counts * np.log(counts / n)).sum())
    p = k * d + d + (k - 1)
    return float(-2.0 * ll + p * np.log(n))


class GaussianMixtureTypes(ClusterMixin, BaseEstimator):  # type: ignore[misc]
    """Gaussian-mixture clustering with the number of types chosen by BIC.

    Parameters
    ----------
    max_clusters
        Largest number of components tried (from ``min_clusters``; at most the number of cells).
    min_clusters
        Smallest number tried.
    covariance_type
        ``"full"`` (default), ``"diag"``, ``"tied"`` or ``"spherical"``.
    n_init
        Initialisations per number of components.
    random_state
        Seed.

    Attributes
    ----------
    labels_
        Type of each training cell, 0 … ``n_clusters_`` − 1 (ordered by size, largest first).
    n_clusters_
        Chosen number of types (components that received cells).
    bic_
        DataFrame ``n_components``, ``bic`` of every fit.
    mixture_
        The chosen :class:`sklearn.mixture.GaussianMixture`.
    """

    def __init__(
        self,
        max_clusters: int = 10,
        min_clusters: int = 1,
        covariance_type: str = "full",
        n_init: int = 1,
        random_state: int | None = 0,
    ) -> None:
        self.max_clusters = max_clusters
        self.min_clusters = min_clusters
        self.covariance_type = covariance_type
        self.n_init = n_init
        self.random_state = random_state

    def fit(self, X: ArrayLike, y: Any = None) -> GaussianMixtureTypes:
        """Fit mixtures with ``min_clusters`` … ``max_clusters`` components and keep the best BIC.

        Parameters
        ----------
        X
            Cells × dimensions (e.g. the output of :class:`SparsePCABlocks`).
        y
            Ignored.

        Returns
        -------
        GaussianMixtureTypes
            self.
        """
        from sklearn.mixture import GaussianMixture

        if int(self.min_clusters) < 1 or int(self.max_clusters) < int(self.min_clusters):
            raise ParameterError(
                f"GaussianMixtureTypes: need 1 ≤ min_clusters ({self.min_clusters}) ≤ "
                f"max_clusters ({self.max_clusters})"
            )
        x = validate_data(self, X, dtype=np.float64)
        n = x.shape[0]
        hi = min(int(self.max_clusters), n)
        lo = min(int(self.min_clusters), hi)
        rows, best, best_bic = [], None, np.inf
        for k in range(lo, hi + 1):
            gm = GaussianMixture(
                n_components=k,
                covariance_type=self.covariance_type,
                n_init=int(self.n_init),
                random_state=self.random_state,
                reg_covar=1e-4,
            ).fit(x)
            bic = float(gm.bic(x))
            rows.append({"n_components": k, "bic": bic})
            if bic < best_bic:
                best, best_bic = gm, bic
        self.bic_ = pd.DataFrame(rows)
        self.mixture_ = best
        raw = np.asarray(best.predict(x)) if best is not None else np.zeros(n, dtype=int)
        comp, counts = np.unique(raw, return_counts=True)
        order = comp[np.argsort(-counts, kind="stable")]
        self.components_ = order  # occupied components, largest first
        lookup = np.full(int(best.n_components) if best is not None else 1, -1)
        lookup[order] = np.arange(len(order))
        self._lookup = lookup
        self.labels_ = lookup[raw]
        self.n_clusters_ = len(order)
        return self

    def predict_proba(self, X: ArrayLike) -> Array:
        """Posterior probability of each type (occupied components, renormalised).

        Parameters
        ----------
        X
            Cells × dimensions.

        Returns
        -------
        numpy.ndarray
            Cells × ``n_clusters_``.
        """
        check_is_fitted(self, "mixture_")
        x = validate_data(self, X, dtype=np.float64, reset=False)
        mixture: Any = self.mixture_
        p = mixture.predict_proba(x)[:, self.components_]
        s = p.sum(axis=1, keepdims=True)
        out: Array = np.divide(p, s, out=np.full_like(p, 1.0 / p.shape[1]), where=s > 0)
        return out

    def predict(self, X: ArrayLike) -> NDArray[np.intp]:
        """The most probable type of each cell.

        Parameters
        ----------
        X
            Cells × dimensions.

        Returns
        -------
        numpy.ndarray of int
            Type index (as in ``labels_``).
        """
        return np.asarray(self.predict_proba(X).argmax(axis=1), dtype=np.intp)


class HierarchicalTypes(ClusterMixin, BaseEstimator):  # type: ignore[misc]
    """Ward clustering, cut at the number of clusters with the lowest :func:`partition_bic`.

    Parameters
    ----------
    max_clusters
        Largest number of clusters tried.
    min_clusters
        Smallest number tried.

    Attributes
    ----------
    labels_
        Cluster of each cell, 0 … ``n_clusters_`` − 1 (largest first).
    n_clusters_
        Chosen number of clusters.
    bic_
        DataFrame ``n_clusters``, ``bic``.
    linkage_
        The scipy linkage matrix.
    """

    def __init__(self, max_clusters: int = 10, min_clusters: int = 1) -> None:
        self.max_clusters = max_clusters
        self.min_clusters = min_clusters

    def fit(self, X: ArrayLike, y: Any = None) -> HierarchicalTypes:
        """Build the Ward tree and choose the cut by BIC.

        Parameters
        ----------
        X
            Cells × dimensions.
        y
            Ignored.

        Returns
        -------
        HierarchicalTypes
            self.
        """
        from scipy.cluster.hierarchy import fcluster, linkage

        if int(self.min_clusters) < 1 or int(self.max_clusters) < int(self.min_clusters):
            raise ParameterError(
                f"HierarchicalTypes: need 1 ≤ min_clusters ({self.min_clusters}) ≤ "
                f"max_clusters ({self.max_clusters})"
            )
        x = validate_data(self, X, dtype=np.float64)
        n = x.shape[0]
        if n < 2:
            self.linkage_ = np.zeros((0, 4))
            self.labels_ = np.zeros(n, dtype=np.intp)
            self.n_clusters_ = 1
            self.bic_ = pd.DataFrame({"n_clusters": [1], "bic": [np.nan]})
            return self
        self.linkage_ = linkage(x, method="ward")
        hi = min(int(self.max_clusters), n)
        rows, best, best_bic = [], np.zeros(n, dtype=np.intp), np.inf
        for k in range(min(int(self.min_clusters), hi), hi + 1):
            lab = fcluster(self.linkage_, t=k, criterion="maxclust")
            bic = partition_bic(x, lab)
            rows.append({"n_clusters": len(np.unique(lab)), "bic": bic})
            if bic < best_bic:
                best, best_bic = lab, bic
        comp, counts = np.unique(best, return_counts=True)
        order = comp[np.argsort(-counts, kind="stable")]
        lookup = {c: i for i, c in enumerate(order)}
        self.labels_ = np.array([lookup[c] for c in best], dtype=np.intp)
        self.n_clusters_ = len(order)
        self.bic_ = pd.DataFrame(rows)
        return self


# ------------------------------------------------------------------------------------------
# stability


@dataclass
class ClusterStability:
    """Stability of a clustering under subsampling.

    Attributes
    ----------
    ari
        Adjusted Rand index between each subsample's clustering and the full clustering (on
        the subsampled cells).
    n_clusters
        Number of clusters chosen in each subsample.
    per_cluster
        Per full-data cluster: ``cluster``, ``n``, ``jaccard_mean``, ``jaccard_sd`` (best
        Jaccard with any subsample cluster, Hennig 2007; > 0.75 stable, < 0.5 dissolved) and
        ``co_clustering`` (fraction of its pairs of cells clustered together).
    co_clustering
        Cluster × cluster: fraction of cell pairs (one from each) clustered together.
    """

    ari: Array
    n_clusters: NDArray[np.intp]
    per_cluster: pd.DataFrame
    co_clustering: pd.DataFrame

    @property
    def mean_ari(self) -> float:
        """Mean adjusted Rand index over the subsamples."""
        return float(np.mean(self.ari)) if len(self.ari) else float("nan")


def cluster_stability(
    estimator: Any,
    X: ArrayLike,
    *,
    labels: ArrayLike | None = None,
    n_resamples: int = 20,
    fraction: float = 0.8,
    random_state: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> ClusterStability:
    """Refit a clusterer on random subsamples and compare with the full-data clustering.

    Parameters
    ----------
    estimator
        A clusterer with ``fit`` and ``labels_`` (cloned for each subsample).
    X
        Cells × dimensions.
    labels
        The full-data clustering (default: fit a clone on all of ``X``).
    n_resamples
        Subsamples.
    fraction
        Fraction of cells drawn (without replacement) per subsample.
    random_state
        Seed.
    progress
        Optional ``progress(done, total)``.

    Returns
    -------
    ClusterStability
        ARI per subsample, per-cluster Jaccard and co-clustering.
    """
    from sklearn.metrics import adjusted_rand_score

    x = np.asarray(X, dtype=np.float64)
    n = x.shape[0]
    if not 0 < fraction <= 1:
        raise ParameterError(f"cluster_stability: fraction={fraction} must be in (0, 1]")
    ref = np.asarray(labels) if labels is not None else clone(estimator).fit(x).labels_
    ref_lab, ref_i = np.unique(ref, return_inverse=True)
    k = len(ref_lab)
    rng = np.random.default_rng(random_state)
    m = max(2, round(fraction * n))
    aris, ncl = [], []
    jac = np.zeros((n_resamples, k))
    together = np.zeros((k, k))
    pairs = np.zeros((k, k))
    for r in range(n_resamples):
        idx = np.sort(rng.choice(n, size=m, replace=False))
        sub = np.asarray(clone(estimator).fit(x[idx]).labels_)
        _, sub_i = np.unique(sub, return_inverse=True)
        aris.append(adjusted_rand_score(ref_i[idx], sub_i))
        ncl.append(int(sub_i.max()) + 1)
        tab = np.zeros((k, int(sub_i.max()) + 1))
        np.add.at(tab, (ref_i[idx], sub_i), 1.0)
        size_ref = tab.sum(axis=1, keepdims=True)
        size_sub = tab.sum(axis=0, keepdims=True)
        union = size_ref + size_sub - tab
        jac[r] = np.max(np.divide(tab, union, out=np.zeros_like(tab), where=union > 0), axis=1)
        # co-clustering: pairs (a in A, b in B) put in one subsample cluster
        same = tab @ tab.T
        np.fill_diagonal(same, (tab * (tab - 1)).sum(axis=1))
        tot = size_ref @ size_ref.T
        np.fill_diagonal(tot, (size_ref * (size_ref - 1)).ravel())
        together += same
        pairs += tot
        if progress is not None:
            progress(r + 1, n_resamples)
    co = np.divide(together, pairs, out=np.full_like(together, np.nan), where=pairs > 0)
    names = [str(c) for c in ref_lab]
    per = pd.DataFrame(
        {
            "cluster": names,
            "n": np.bincount(ref_i, minlength=k),
            "jaccard_mean": jac.mean(axis=0),
            "jaccard_sd": jac.std(axis=0),
            "co_clustering": np.diag(co),
        }
    )
    return ClusterStability(
        ari=np.asarray(aris, dtype=np.float64),
        n_clusters=np.asarray(ncl, dtype=np.intp),
        per_cluster=per,
        co_clustering=pd.DataFrame(co, index=names, columns=names),
    )


# ------------------------------------------------------------------------------------------
# one entry point


@dataclass
class TypingResult:
    """e-, m- or me-types of a set of cells (one result object).

    Attributes
    ----------
    kind
        ``"e"``, ``"m"`` or ``"me"`` (or another tag given by the caller).
    labels
        Type of each cell (``"<kind>1"`` … largest first), index = cell names.
    embedding
        Cells × sparse-PCA components (the clustering input).
    selection
        BIC per number of clusters.
    stability
        :class:`ClusterStability` of the clustering step on the fixed embedding.
    explained
        Variance fraction of each kept sparse-PCA component.
    agreement
        :class:`~patchatlas.celltyping.Agreement` with the ``compare`` labels (t-types), or
        None.
    effect_sizes
        Per feature and type, one-vs-rest effect sizes on the raw features.
    confidence
        Posterior probability of each cell's type (GMM), NaN for hierarchical clustering.
    provenance
        Package version and parameters.
    """

    kind: str
    labels: pd.Series
    embedding: pd.DataFrame
    selection: pd.DataFrame
    stability: ClusterStability | None
    explained: pd.DataFrame
    agreement: Agreement | None
    effect_sizes: pd.DataFrame
    confidence: pd.Series
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def n_types(self) -> int:
        """Number of types found."""
        return int(self.labels.nunique())

    def __repr__(self) -> str:
        stab = f", subsample ARI {self.stability.mean_ari:.2f}" if self.stability else ""
        ag = f", AMI with t-types {self.agreement.ami:.2f}" if self.agreement else ""
        return (
            f"TypingResult({self.kind}-types: {self.n_types} types of {len(self.labels)} "
            f"cells{stab}{ag})"
        )


def find_types(
    X: pd.DataFrame,
    *,
    kind: str = "e",
    blocks: Mapping[str, Sequence[Any]] | None = None,
    method: str = "gmm",
    max_clusters: int = 20,
    n_components: int = 10,
    alpha: float = 1.0,
    min_variance: float = 0.01,
    n_resamples: int = 20,
    fraction: float = 0.8,
    compare: ArrayLike | None = None,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> TypingResult:
    """Unsupervised types of cells: sparse PCA per block → clustering with BIC → stability.

    The raw features are first prepared by :class:`~patchatlas.celltyping.FeaturePreparer`
    (log of skewed positive features, median imputation, z-scoring); effect sizes are reported
    on the raw features.

    Parameters
    ----------
    X
        Cells × raw features (NaN allowed), index = cell names.
    kind
        Tag of the types (``"e"``, ``"m"``, ``"me"``): labels are ``<kind>1``, ``<kind>2`` ...
    blocks
        Feature blocks for :class:`SparsePCABlocks` (default: ``X.attrs["blocks"]`` when
        present, else one block).
    method
        ``"gmm"`` (:class:`GaussianMixtureTypes`) or ``"ward"`` (:class:`HierarchicalTypes`).
    max_clusters
        Largest number of types tried.
    n_components, alpha, min_variance
        See :class:`SparsePCABlocks`.
    n_resamples
        Subsamples for :func:`cluster_stability` (0: skip); each refits the clustering with
        the chosen number of types on the fixed embedding.
    fraction
        Fraction of cells per subsample.
    compare
        Labels (t-types) of the rows of ``X`` to compare the types with.
    seed
        Seed of the sparse PCA, the mixtures and the subsamples.
    progress
        Optional ``progress(done, total)`` over the subsamples.

    Returns
    -------
    TypingResult
        Labels, embedding, BIC table, stability, agreement and effect sizes.
    """
    if method not in ("gmm", "ward"):
        raise ParameterError(f"find_types: method={method!r}; use 'gmm' or 'ward'")
    if not isinstance(X, pd.DataFrame):
        X = pd.DataFrame(np.asarray(X, dtype=np.float64))
    X = X.loc[:, X.notna().any(axis=0)]
    if X.shape[1] == 0 or len(X) < 3:
        raise DataError(f"find_types: need ≥ 3 cells with features, got {X.shape}")
    if blocks is None:
        attr = X.attrs.get("blocks")
        if attr:
            blocks = {b: [c for c in cols if c in X.columns] for b, cols in attr.items()}
            blocks = {b: c for b, c in blocks.items() if c}
    from patchatlas.celltyping.features import FeaturePreparer

    # log of skewed positive features and z-scoring before the sparse PCA (imputation: medians)
    prep = FeaturePreparer(log="auto", missing_indicators=False, scaling="standard").fit(X)
    Xp = pd.DataFrame(prep.transform(X), index=X.index, columns=X.columns)
    spca = SparsePCABlocks(
        blocks=blocks,
        n_components=n_components,
        alpha=alpha,
        min_variance=min_variance,
        random_state=seed,
    )
    z = spca.fit_transform(Xp)
    emb = pd.DataFrame(z, index=X.index.astype(str), columns=spca.get_feature_names_out())
    clusterer: Any = (
        GaussianMixtureTypes(max_clusters=max_clusters, random_state=seed)
        if method == "gmm"
        else HierarchicalTypes(max_clusters=max_clusters)
    )
    clusterer.fit(z)
    lab_i = np.asarray(clusterer.labels_)
    names = np.array([f"{kind}{i + 1}" for i in range(int(lab_i.max()) + 1)], dtype=object)
    labels = pd.Series(names[lab_i], index=emb.index, name=f"{kind}_type")
    if method == "gmm":
        conf = pd.Series(clusterer.predict_proba(z).max(axis=1), index=emb.index)
    else:
        conf = pd.Series(np.nan, index=emb.index)
    stab = None
    if n_resamples > 0:
        # stability of the partition at the chosen number of types (the selection is not
        # repeated per subsample)
        k = int(lab_i.max()) + 1
        fixed = clone(clusterer).set_params(min_clusters=k, max_clusters=k)
        stab = cluster_stability(
            fixed,
            z,
            labels=lab_i,
            n_resamples=n_resamples,
            fraction=fraction,
            random_state=seed,
            progress=progress,
        )
        idx_names = {str(i): str(names[i]) for i in range(len(names))}
        stab.per_cluster["cluster"] = stab.per_cluster["cluster"].map(idx_names)
        stab.co_clustering.index = [idx_names[i] for i in stab.co_clustering.index]
        stab.co_clustering.columns = [idx_names[i] for i in stab.co_clustering.columns]
    ag = None
    if compare is not None:
        cmp = np.asarray(compare, dtype=object)
        if len(cmp) != len(X):
            raise DataError(f"find_types: {len(cmp)} comparison labels for {len(X)} cells")
        ag = agreement(labels.to_numpy(), cmp)
    return TypingResult(
        kind=kind,
        labels=labels,
        embedding=emb,
        selection=clusterer.bic_,
        stability=stab,
        explained=spca.explained_,
        agreement=ag,
        effect_sizes=effect_sizes(X.set_axis(emb.index), labels.to_numpy()),
        confidence=conf,
        provenance={
            "package_version": __version__,
            "engine": "patchatlas.celltyping.find_types",
            "kind": kind,
            "method": method,
            "max_clusters": max_clusters,
            "n_components": n_components,
            "alpha": alpha,
            "min_variance": min_variance,
            "n_resamples": n_resamples,
            "fraction": fraction,
            "seed": seed,
            "blocks": {b: len(c) for b, c in spca.blocks_.items()},
            "logged": [str(c) for c, m in zip(X.columns, prep.log_mask_, strict=True) if m],
            "n_cells": len(X),
            "features": [str(c) for c in X.columns],
        },
    )
