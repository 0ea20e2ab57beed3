"""Layer-aligned depth profiles (5 µm bins), their PCA, and axon–dendrite overlap features.

Profiles count **nodes** (not cable length) of each compartment type at depth ``-y`` of a
layer-aligned morphology (pia at y = 0, depth negative), as in Gouwens et al. 2019/2020. The
default range 0–1155 µm (231 bins of 5 µm) is the one of the published skeleton_keys example
profiles. :class:`DepthProfilePCA` (a scikit-learn transformer, in the seam module
``_depth_pca``) is imported on first use, so these functions do not need scikit-learn.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from patchatlas.core.morphology import Morphology, MorphologySet
from patchatlas.errors import DataError

if TYPE_CHECKING:
    from patchatlas.morphology._depth_pca import DepthProfilePCA

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

    Parameters
    ----------
    a, b
        Histograms over the same bins, one per row (``(n, n_bins)``, or one 1-D histogram
        each), e.g. the axon and basal-dendrite rows of :func:`depth_profiles`.
    allen_empty
        What a pair with an empty histogram gives: the other histogram's sum (``True``, as
        the published values) or NaN.

    Returns
    -------
    numpy.ndarray
        One distance per row, in bins (× bin width for µm).
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

    Parameters
    ----------
    a, b
        Histograms over the same depth bins (bin 0 at pia), one per row (``(n, n_bins)``, or
        one 1-D histogram each).

    Returns
    -------
    array (n, 3)
        ``[above, intersect, below]`` per row (NaN for an empty ``a`` or ``b``).
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


def __getattr__(name: str) -> Any:
    # DepthProfilePCA is a scikit-learn estimator: imported on first use, so that profiles,
    # EMD and overlaps (and ``import patchatlas.morphology``) do not pay for importing sklearn.
    if name == "DepthProfilePCA":
        from patchatlas.morphology._depth_pca import DepthProfilePCA

        return DepthProfilePCA
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
