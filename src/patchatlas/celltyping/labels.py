"""Label levels of a transcriptomic taxonomy and 2-D embeddings for figures.

Levels (:data:`LEVELS`): ``family`` and ``subclass`` (the published subclass / ``RNA family``
column where given, else the first word of the t-type: ``"Sst Calb2 Pdlim5"`` → ``"Sst"``) and
``type`` (the t-type itself). In the Allen V1 and the Scala M1 taxonomies the family and the
subclass coincide (Lamp5, Sncg, Serpinf1, Vip, Sst, Pvalb; IT, ET, CT, NP ...).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from patchatlas.core.vocabulary import family_of
from patchatlas.errors import ParameterError

__all__ = ["LEVELS", "embed", "type_levels"]

LEVELS = ("family", "subclass", "type")

_MISSING = {"", "nan", "none", "<na>", "low quality", "unknown"}


def _clean(s: pd.Series) -> pd.Series:
    out = s.astype("string").str.strip()
    return out.where(~out.str.lower().isin(_MISSING))


def type_levels(t_type: ArrayLike, subclass: ArrayLike | None = None) -> pd.DataFrame:
    """The ``family``, ``subclass`` and ``type`` label of each cell.

    Parameters
    ----------
    t_type
        Transcriptomic type of each cell (missing, blank and ``"low quality"`` count as
        unknown).
    subclass
        Published subclass / family of each cell, if any (preferred over the first word of
        the t-type). The family is the subclass's parent in the taxonomy
        (:func:`patchatlas.core.vocabulary.family_of`: ``L2/3 IT`` → ``IT``, ``Sst`` → ``Sst``).

    Returns
    -------
    pandas.DataFrame
        Columns ``family``, ``subclass``, ``type`` (string dtype, ``<NA>`` where unknown), one
        row per cell (same order, a RangeIndex unless ``t_type`` is a Series).
    """
    tt = t_type if isinstance(t_type, pd.Series) else pd.Series(np.asarray(t_type, dtype=object))
    tt = _clean(tt)
    first = tt.str.split(r"\s+", n=1, regex=True).str[0]
    if subclass is not None:
        sc = (
            subclass
            if isinstance(subclass, pd.Series)
            else pd.Series(np.asarray(subclass, dtype=object), index=tt.index)
        )
        sub = _clean(sc.set_axis(tt.index)).fillna(first)
    else:
        sub = first
    # the family is the taxonomy's parent of the subclass (``L2/3 IT`` → ``IT``; a GABAergic
    # subclass is its own family), so harmonised subclasses and published families agree
    fam = pd.Series(
        [family_of(v) if v is not pd.NA else None for v in sub], index=sub.index, dtype=object
    )
    family = fam.astype("string").fillna(sub)
    return pd.DataFrame({"family": family, "subclass": sub, "type": tt}, index=tt.index)


def embed(
    X: Any, *, method: str = "pca", labels: ArrayLike | None = None, random_state: int = 0
) -> NDArray[np.float64]:
    """A 2-D embedding of cells for figures (prepared features → PCA, LDA or t-SNE).

    The features go through :class:`~patchatlas.celltyping.FeaturePreparer` (quantile
    scaling, imputation) first.

    Parameters
    ----------
    X
        Cells × raw features (NaN allowed).
    method
        ``"pca"`` (unsupervised), ``"lda"`` (linear discriminants of ``labels``: the plane
        that best separates the given types, fitted on the same cells, for display only) or
        ``"tsne"``.
    labels
        Type of each cell (needed for ``"lda"``).
    random_state
        Seed of t-SNE.

    Returns
    -------
    numpy.ndarray
        Cells × 2.
    """
    from patchatlas.celltyping.features import FeaturePreparer

    z = FeaturePreparer(missing_indicators=False).fit_transform(X)
    if method == "pca":
        from sklearn.decomposition import PCA

        out = PCA(n_components=2).fit_transform(z)
    elif method == "lda":
        if labels is None:
            raise ParameterError("embed(method='lda') needs labels")
        from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

        lab = np.asarray(labels).astype(str)
        n_comp = min(2, len(np.unique(lab)) - 1)
        out = LinearDiscriminantAnalysis(n_components=n_comp).fit_transform(z, lab)
        if out.shape[1] < 2:
            out = np.column_stack([out, np.zeros(len(out))])
    elif method == "tsne":
        from sklearn.manifold import TSNE

        out = TSNE(n_components=2, random_state=random_state, init="pca").fit_transform(z)
    else:
        raise ParameterError(f"embed: method={method!r}; use 'pca', 'lda' or 'tsne'")
    return np.asarray(out, dtype=np.float64)
