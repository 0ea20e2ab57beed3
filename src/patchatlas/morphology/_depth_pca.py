"""The PCA of layer-aligned depth profiles, a scikit-learn transformer (private seam module).

Kept apart from :mod:`patchatlas.morphology.depth` so that importing the morphology engine does
not import scikit-learn; the public names are ``patchatlas.morphology.DepthProfilePCA`` and
``patchatlas.morphology.depth.DepthProfilePCA`` (both resolved lazily to this class).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from patchatlas.errors import DataError

__all__ = ["DepthProfilePCA"]

FloatArray = npt.NDArray[np.float64]


class DepthProfilePCA(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """PCA of depth profiles keeping components with explained-variance ratio ≥ ``min_ratio``.

    A scikit-learn transformer (``fit`` returns self; fitted attributes end in ``_``; works in
    pipelines and with ``clone``/``get_params``). Loadings can be stored and re-applied
    (:meth:`from_loadings`) so new cells are projected on reference components instead of
    refitting. Component signs follow scikit-learn's ``svd_flip`` (largest absolute loading of
    each component positive).

    Parameters
    ----------
    min_ratio
        Keep the components whose explained-variance ratio is at least this (0–1).

    Attributes
    ----------
    mean_
        Mean profile of the training cells, ``(n_bins,)``.
    components_
        Kept loadings, ``(k, n_bins)``.
    explained_variance_ratio_
        Explained-variance ratio of each kept component (absent after :meth:`from_loadings`).
    n_features_in_
        Number of depth bins.
    """

    def __init__(self, min_ratio: float = 0.05) -> None:
        self.min_ratio = min_ratio

    def fit(self, X: npt.ArrayLike, y: Any = None) -> DepthProfilePCA:
        """Fit on profiles.

        Parameters
        ----------
        X
            Depth profiles, ``(n_cells, n_bins)`` (node counts per bin).
        y
            Ignored.

        Returns
        -------
        DepthProfilePCA
            self.

        Raises
        ------
        patchatlas.errors.DataError
            Fewer than 2 cells.
        """
        x = validate_data(self, X, reset=True, dtype=np.float64)
        if x.shape[0] < 2:
            raise DataError(
                f"depth-profile PCA needs at least 2 cells, got n_samples = {x.shape[0]}; "
                "fit on a population or use from_loadings() with stored components"
            )
        mean = x.mean(axis=0)
        _, s, vt = np.linalg.svd(x - mean, full_matrices=False)
        var = s**2
        total = var.sum()
        ratio = var / total if total > 0 else np.zeros_like(var)
        keep = ratio >= self.min_ratio
        vt = vt[keep]
        signs = np.sign(vt[np.arange(vt.shape[0]), np.argmax(np.abs(vt), axis=1)])
        signs[signs == 0] = 1.0
        self.mean_ = mean
        self.components_ = vt * signs[:, None]
        self.explained_variance_ratio_ = ratio[keep]
        return self

    @classmethod
    def from_loadings(cls, components: npt.ArrayLike, mean: npt.ArrayLike) -> DepthProfilePCA:
        """A fitted PCA from stored loadings.

        Parameters
        ----------
        components
            Loadings ``(k, n_bins)``.
        mean
            Mean profile ``(n_bins,)`` to subtract before projecting.

        Returns
        -------
        DepthProfilePCA
            Ready to :meth:`transform`.

        Raises
        ------
        patchatlas.errors.DataError
            Shapes that disagree.
        """
        comp = np.atleast_2d(np.asarray(components, dtype=np.float64))
        mu = np.asarray(mean, dtype=np.float64)
        if comp.ndim != 2 or mu.shape != (comp.shape[1],):
            raise DataError(
                f"DepthProfilePCA.from_loadings: components have shape {comp.shape} but mean has "
                f"shape {mu.shape}; give (k, n_bins) loadings and an (n_bins,) mean"
            )
        pca = cls()
        pca.components_ = comp
        pca.mean_ = mu
        pca.n_features_in_ = comp.shape[1]
        return pca

    def transform(self, X: npt.ArrayLike) -> FloatArray:
        """Scores on the kept components.

        Parameters
        ----------
        X
            Depth profiles, ``(n_cells, n_bins)``.

        Returns
        -------
        numpy.ndarray
            Scores ``(n_cells, k)``.
        """
        check_is_fitted(self, ("components_", "mean_"))
        x = validate_data(self, X, reset=False, dtype=np.float64)
        return np.asarray((x - self.mean_) @ self.components_.T, dtype=np.float64)

    @property
    def _n_features_out(self) -> int:
        """Number of kept components (names ``depthprofilepca0``, ... of get_feature_names_out)."""
        return int(self.components_.shape[0])
