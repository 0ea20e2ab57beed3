"""Layer-aligned depth profiles (5 µm bins), their PCA, and axon–dendrite overlap features.

Profiles count **nodes** (not cable length) of each compartment type at depth ``-y`` of a
layer-aligned morphology (pia at y = 0, depth negative), as in Gouwens et al. 2019/2020. The
default range 0–1155 µm (231 bins of 5 µm) is the one of the published skeleton_keys example
profiles.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from patchatlas.core.morphology import Morphology, MorphologySet
from patchatlas.errors import DataError

__all__ = [
    "DEFAULT_BIN_WIDTH",
    "DEFAULT_MAX_DEPTH",
    "DepthProfilePCA",
    "depth_profiles",
    "earth_movers_distance",
    "overlap_fractions",
]

FloatArray = npt.NDArray[np.float64]

DEFAULT_BIN_WIDTH = 5.0
DEFAULT_MAX_DEPTH = 1155.0
PROFILE_TYPES = (2, 3, 4)


def depth_profiles(
    morphs: Morphology | Sequence[Morphology],
    *,
    types: Sequence[int] = PROFILE_TYPES,
    bin_width: float = DEFAULT_BIN_WIDTH,
    max_depth: float = DEFAULT_MAX_DEPTH,
) -> dict[int, FloatArray]:
    """Node-count histograms over depth for layer-aligned morphologies.

    Parameters
    ----------
    morphs
        One or many layer-aligned morphologies (pia at y = 0, depth = ``-y``).
    types
        Compartment types to histogram.
    bin_width, max_depth
        Bins ``[0, w), [w, 2w), ...`` up to ``max_depth`` (µm).

    Returns
    -------
    dict
        ``{type: array (n_cells, n_bins)}``; batched with one ``bincount`` per type.
    """
    ms = MorphologySet.pack([morphs] if isinstance(morphs, Morphology) else list(morphs))
    if bin_width <= 0 or max_depth <= 0:
        raise DataError("bin_width and max_depth must be positive")
    nbins = round(max_depth / bin_width)
    depth = -ms.xyz[:, 1]
    b = np.floor(depth / bin_width)
    ok = np.isfinite(b) & (b >= 0) & (b < nbins)
    out: dict[int, FloatArray] = {}
    for t in types:
        m = ok & (ms.types == t)
        idx = ms.cell[m] * nbins + b[m].astype(np.int64)
        out[int(t)] = (
            np.bincount(idx, minlength=len(ms) * nbins).reshape(len(ms), nbins).astype(np.float64)
        )
    return out


def earth_movers_distance(a: FloatArray, b: FloatArray, *, allen_empty: bool = True) -> FloatArray:
    """1-D Wasserstein distance between histograms (rows), in **bins**.

    Positions are bin indices, weights the histograms (unit: bins, as published). When one
    histogram of a pair is empty the Allen code returns the sum of the other one
    (``allen_empty=True``); otherwise NaN.
    """
    a2 = np.atleast_2d(np.asarray(a, dtype=np.float64))
    b2 = np.atleast_2d(np.asarray(b, dtype=np.float64))
    sa = a2.sum(axis=1)
    sb = b2.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        ca = np.cumsum(a2, axis=1) / sa[:, None]
        cb = np.cumsum(b2, axis=1) / sb[:, None]
    d = np.abs(ca - cb)[:, :-1].sum(axis=1)  # unit spacing between bin positions
    empty_a, empty_b = sa == 0, sb == 0
    fill = np.where(empty_a, sb, sa) if allen_empty else np.full(sa.shape, np.nan)
    return np.where(empty_a | empty_b, fill, d)


def overlap_fractions(a: FloatArray, b: FloatArray) -> FloatArray:
    """Fractions of the mass of ``a`` above, within and below its overlap with ``b``.

    The overlap runs from the first to the last bin where both histograms are non-zero; as in
    the published skeleton_keys values, the bin after the last common bin counts as "within".
    Without overlap all mass is above or below, by comparing the medians of the occupied bins.

    Returns
    -------
    array (n, 3)
        ``[above, intersect, below]`` per row (NaN for an empty ``a``).
    """
    a2 = np.atleast_2d(np.asarray(a, dtype=np.float64))
    b2 = np.atleast_2d(np.asarray(b, dtype=np.float64))
    n, nb = a2.shape
    out = np.full((n, 3), np.nan)
    idx = np.arange(nb)
    both = (a2 > 0) & (b2 > 0)
    tot = a2.sum(axis=1)
    has_both = both.any(axis=1)
    first = np.where(has_both, np.argmax(both, axis=1), 0)
    last = np.where(has_both, nb - 1 - np.argmax(both[:, ::-1], axis=1), 0)
    above = np.where(idx[None, :] < first[:, None], a2, 0).sum(axis=1)
    within = np.where(
        (idx[None, :] >= first[:, None]) & (idx[None, :] <= last[:, None] + 1), a2, 0
    ).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        res = np.column_stack([above, within, tot - above - within]) / tot[:, None]
    out[has_both] = res[has_both]
    # no overlap: compare medians of occupied bins
    for k in np.flatnonzero(~has_both & (tot > 0)):
        occ_a = np.flatnonzero(a2[k] > 0)
        occ_b = np.flatnonzero(b2[k] > 0)
        if occ_b.size == 0:
            out[k] = np.nan
        elif np.median(occ_a) < np.median(occ_b):
            out[k] = [1.0, 0.0, 0.0]
        else:
            out[k] = [0.0, 0.0, 1.0]
    return out


@dataclass
class DepthProfilePCA:
    """PCA of depth profiles keeping components with explained-variance ratio ≥ ``min_ratio``.

    Follows the scikit-learn estimator contract (``fit`` returns self; fitted attributes end in
    ``_``). Loadings can be stored and re-applied (``from_loadings``) so new cells are projected
    on reference components instead of refitting. Component signs follow scikit-learn's
    ``svd_flip`` (largest absolute loading of each component positive).
    """

    min_ratio: float = 0.05
    mean_: FloatArray | None = field(default=None, repr=False)
    components_: FloatArray | None = field(default=None, repr=False)
    explained_variance_ratio_: FloatArray | None = field(default=None, repr=False)

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Constructor parameters."""
        return {"min_ratio": self.min_ratio}

    def set_params(self, **params: Any) -> DepthProfilePCA:
        """Set constructor parameters."""
        for k, v in params.items():
            setattr(self, k, v)
        return self

    def fit(self, profiles: npt.ArrayLike) -> DepthProfilePCA:
        """Fit on ``(n_cells, n_bins)`` profiles."""
        x = np.asarray(profiles, dtype=np.float64)
        if x.ndim != 2 or x.shape[0] < 2:
            raise DataError("depth-profile PCA needs a 2-D array with at least 2 cells")
        self.mean_ = x.mean(axis=0)
        _, s, vt = np.linalg.svd(x - self.mean_, full_matrices=False)
        var = s**2
        total = var.sum()
        ratio = var / total if total > 0 else np.zeros_like(var)
        keep = ratio >= self.min_ratio
        vt = vt[keep]
        signs = np.sign(vt[np.arange(vt.shape[0]), np.argmax(np.abs(vt), axis=1)])
        signs[signs == 0] = 1.0
        self.components_ = vt * signs[:, None]
        self.explained_variance_ratio_ = ratio[keep]
        return self

    @classmethod
    def from_loadings(cls, components: npt.ArrayLike, mean: npt.ArrayLike) -> DepthProfilePCA:
        """A fitted PCA from stored loadings ``(k, n_bins)`` and the profile mean."""
        pca = cls()
        pca.components_ = np.atleast_2d(np.asarray(components, dtype=np.float64))
        pca.mean_ = np.asarray(mean, dtype=np.float64)
        return pca

    def transform(self, profiles: npt.ArrayLike) -> FloatArray:
        """Scores ``(n_cells, k)``."""
        if self.components_ is None or self.mean_ is None:
            raise DataError("DepthProfilePCA is not fitted; call fit() or from_loadings() first")
        x = np.atleast_2d(np.asarray(profiles, dtype=np.float64))
        return np.asarray((x - self.mean_) @ self.components_.T, dtype=np.float64)

    def fit_transform(self, profiles: npt.ArrayLike) -> FloatArray:
        """``fit(profiles).transform(profiles)``."""
        return self.fit(profiles).transform(profiles)
