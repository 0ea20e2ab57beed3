"""Morphology features: :func:`features` (one cell) and :func:`features_table` (many cells).

Three conventions, each a complete, documented set; the registry
(:mod:`patchatlas.morphology.registry`, listed by :func:`feature_registry`) gives every feature's
unit and definition, and one module per convention computes them (``_allen``, ``_gouwens``,
``_neurom``). Cells are packed into one forest and computed together, in packs of about
:data:`~patchatlas.morphology._forest.CHUNK_NODES` nodes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from patchatlas.core.morphology import Morphology, MorphologySet
from patchatlas.errors import DataError
from patchatlas.morphology._allen import allen_features
from patchatlas.morphology._forest import Forest, node_chunks
from patchatlas.morphology._gouwens import gouwens_features
from patchatlas.morphology._neurom import neurom_features
from patchatlas.morphology.registry import (
    CONVENTIONS,
    FeatureSpec,
    check_convention,
    feature_registry,
)

if TYPE_CHECKING:  # pragma: no cover
    from patchatlas.morphology._depth_pca import DepthProfilePCA

FloatArray = npt.NDArray[np.float64]

__all__ = [
    "CONVENTIONS",
    "FeatureSpec",
    "feature_registry",
    "features",
    "features_table",
]


def features_table(
    morphs: Sequence[Morphology] | MorphologySet,
    *,
    convention: str = "allen",
    aligned: Sequence[Morphology] | None = None,
    depth_pca: dict[str, DepthProfilePCA] | None = None,
    fit_pca: bool = True,
) -> Any:
    """Features of many cells at once (one packed forest; rows = cells, columns = features).

    Parameters
    ----------
    morphs
        Morphologies (for ``gouwens``: upright, unscaled, soma as root).
    convention
        ``"allen"``, ``"gouwens"`` or ``"neurom"``.
    aligned
        Layer-aligned versions of the same cells (gouwens depth features), same order.
    depth_pca
        Stored :class:`~patchatlas.morphology.depth.DepthProfilePCA` per compartment name
        (``"axon"`` ...) to project on; otherwise one is fitted over these cells (``fit_pca``).
    fit_pca
        With ``gouwens``, ``aligned`` and no stored PCA for a compartment: fit one over these
        cells (axon and apical dendrite; at least 2 cells with a non-empty profile) and add
        its ``<compartment>_depth_pc_<k>`` scores. ``False`` leaves those columns out.

    Returns
    -------
    pandas.DataFrame
        Indexed by cell name; NaN where a compartment is absent or an input is missing.
        Units are those of :func:`~patchatlas.morphology.feature_registry` (µm, µm², µm³,
        rad, counts).

    Raises
    ------
    patchatlas.errors.DataError
        No morphologies, a morphology without nodes, an unknown convention, or ``aligned`` of
        another length.
    """
    import pandas as pd

    names, cols = _compute(
        morphs, convention=convention, aligned=aligned, depth_pca=depth_pca, fit_pca=fit_pca
    )
    df = pd.DataFrame({k: np.asarray(v, dtype=np.float64) for k, v in cols.items()})
    df.index = pd.Index(list(names), name="cell")
    return df


def _compute(
    morphs: Sequence[Morphology] | MorphologySet,
    *,
    convention: str,
    aligned: Sequence[Morphology] | None,
    depth_pca: dict[str, DepthProfilePCA] | None,
    fit_pca: bool,
) -> tuple[tuple[str, ...], dict[str, FloatArray]]:
    check_convention(convention)
    if not isinstance(morphs, MorphologySet) and (convention != "gouwens" or aligned is None):
        chunks = node_chunks(list(morphs))
        if len(chunks) > 1:
            parts = [
                _compute(c, convention=convention, aligned=None, depth_pca=None, fit_pca=False)
                for c in chunks
            ]
            if all(p[1].keys() == parts[0][1].keys() for p in parts):
                names = tuple(nm for p in parts for nm in p[0])
                return names, {
                    k: np.concatenate([np.asarray(p[1][k], dtype=np.float64) for p in parts])
                    for k in parts[0][1]
                }
    if isinstance(morphs, MorphologySet):
        ms = morphs
        cells: list[Morphology] = list(ms) if convention == "neurom" else []
    else:
        cells = list(morphs)
        if not cells:
            raise DataError("no morphologies given")
        empty = [m.label for m in cells if len(m) == 0]
        if empty:
            raise DataError(f"morphology {empty[0]} has no nodes; nothing to compute")
        ms = MorphologySet.pack(cells)
    if aligned is not None and len(aligned) != len(ms):
        raise DataError("aligned= must hold one layer-aligned morphology per cell, same order")
    f = Forest(ms)
    try:
        if convention == "allen":
            cols = allen_features(f)
        elif convention == "neurom":
            cols = neurom_features(f, cells)
        else:
            cols = gouwens_features(f, aligned=aligned, depth_pca=depth_pca, fit_pca=fit_pca)
    finally:
        f.release()  # views point back at the forest: free its arrays now, not at the next GC
    return ms.names, cols


def features(
    morph: Morphology,
    *,
    convention: str = "allen",
    aligned: Morphology | None = None,
    depth_pca: dict[str, DepthProfilePCA] | None = None,
) -> dict[str, float]:
    """Features of one morphology as ``{name: value}`` (see :func:`features_table`).

    Parameters
    ----------
    morph
        The morphology.
    convention
        ``"allen"`` (default), ``"gouwens"`` or ``"neurom"``.
    aligned
        Layer-aligned version (gouwens depth features: soma depth, EMD, overlap fractions).
    depth_pca
        Stored PCA per compartment to project the depth profile on (no fitting for one cell).

    Returns
    -------
    dict of str to float
        Feature name → value (NaN where a compartment is absent), in the units of
        :func:`~patchatlas.morphology.feature_registry`.

    Raises
    ------
    patchatlas.errors.DataError
        A morphology without nodes, or an unknown convention.

    Examples
    --------
    >>> from patchatlas.datasets.morphology import synthetic_morphology
    >>> f = features(synthetic_morphology("pyramidal", seed=0))
    >>> f["total_length"] > 0
    True
    """
    _, cols = _compute(
        [morph],
        convention=convention,
        aligned=None if aligned is None else [aligned],
        depth_pca=depth_pca,
        fit_pca=False,
    )
    return {k: float(np.asarray(v, dtype=np.float64)[0]) for k, v in cols.items()}
