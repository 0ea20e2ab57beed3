"""Morphology features: :func:`features` (one cell), :func:`features_table` (many cells) and
:func:`features_by_type` (one cell, a column per neurite type).

Three conventions, each a complete, documented set; the registry
(:mod:`patchatlas.morphology.registry`, listed by :func:`feature_registry`) gives every feature's
unit and definition, and one module per convention computes them (``_allen``, ``_gouwens``,
``_neurom``). Cells are packed into one forest and computed together, in packs of about
:data:`~patchatlas.morphology._forest.CHUNK_NODES` nodes.

The ``neurom`` convention also takes NeuroM's ``neurite_type``: ``"all"`` (default),
``"axon"``, ``"basal_dendrite"`` or ``"apical_dendrite"`` (:data:`NEURITE_TYPES`), selecting the
neurites whose root is of that type, as NeuroM does. Several types come from one pass over the
tree (only the per-cell reductions are repeated).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from patchatlas.core.morphology import Morphology, MorphologySet
from patchatlas.errors import DataError, ParameterError
from patchatlas.morphology._allen import allen_features
from patchatlas.morphology._forest import Forest, node_chunks
from patchatlas.morphology._gouwens import gouwens_features
from patchatlas.morphology._neurom import NEURITE_TYPES as _NEURITE_TYPES
from patchatlas.morphology._neurom import neurom_features_by_type
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
    "NEURITE_TYPES",
    "FeatureSpec",
    "feature_registry",
    "features",
    "features_by_type",
    "features_table",
]

#: NeuroM's neurite types, as ``neurite_type=`` takes them (``"all"``: every neurite)
NEURITE_TYPES: tuple[str, ...] = tuple(_NEURITE_TYPES)


def _neurite_types(
    neurite_type: str | Sequence[str] | None, convention: str
) -> tuple[str, ...] | None:
    """The requested types as a tuple (None: the convention's whole-cell set)."""
    if neurite_type is None:
        return None
    types = (neurite_type,) if isinstance(neurite_type, str) else tuple(neurite_type)
    bad = [t for t in types if t not in NEURITE_TYPES]
    if bad or not types:
        raise ParameterError(
            f"unknown neurite_type {bad[0] if bad else neurite_type!r}; choose from "
            f"{', '.join(NEURITE_TYPES)}"
        )
    if convention != "neurom" and types != ("all",):
        raise ParameterError(
            f"neurite_type= selects NeuroM neurite types: use convention='neurom' (the "
            f"{convention!r} convention names its compartments in the feature names)"
        )
    return types


def features_table(
    morphs: Sequence[Morphology] | MorphologySet,
    *,
    convention: str = "allen",
    aligned: Sequence[Morphology] | None = None,
    depth_pca: dict[str, DepthProfilePCA] | None = None,
    fit_pca: bool = True,
    neurite_type: str | Sequence[str] | None = None,
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
    neurite_type
        ``neurom`` only: one of :data:`NEURITE_TYPES` (the features of those neurites, same
        columns), or a sequence of them (columns ``(neurite_type, feature)``, a
        :class:`pandas.MultiIndex`, all types from one pass). Default: every neurite.

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
    patchatlas.errors.ParameterError
        An unknown neurite type, or a neurite type with another convention than ``neurom``.
    """
    import pandas as pd

    types = _neurite_types(neurite_type, convention)
    names, cols = _compute(
        morphs,
        convention=convention,
        aligned=aligned,
        depth_pca=depth_pca,
        fit_pca=fit_pca,
        neurite_types=types,
    )
    data: dict[Any, FloatArray] = {k: np.asarray(v, dtype=np.float64) for k, v in cols.items()}
    if types is not None and isinstance(neurite_type, str):
        data = {k[1]: v for k, v in data.items() if isinstance(k, tuple)}
    df = pd.DataFrame(data)
    if types is not None and not isinstance(neurite_type, str):
        df.columns = pd.MultiIndex.from_tuples(
            [k for k in data if isinstance(k, tuple)], names=["neurite_type", "feature"]
        )
    df.index = pd.Index(list(names), name="cell")
    return df


def _compute(
    morphs: Sequence[Morphology] | MorphologySet,
    *,
    convention: str,
    aligned: Sequence[Morphology] | None,
    depth_pca: dict[str, DepthProfilePCA] | None,
    fit_pca: bool,
    neurite_types: tuple[str, ...] | None = None,
) -> tuple[tuple[str, ...], dict[Any, FloatArray]]:
    check_convention(convention)
    if not isinstance(morphs, MorphologySet) and (convention != "gouwens" or aligned is None):
        chunks = node_chunks(list(morphs))
        if len(chunks) > 1:
            parts = [
                _compute(
                    c,
                    convention=convention,
                    aligned=None,
                    depth_pca=None,
                    fit_pca=False,
                    neurite_types=neurite_types,
                )
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
    cols: dict[Any, FloatArray]  # feature name, or (neurite type, feature name)
    try:
        if convention == "allen":
            cols = allen_features(f)
        elif convention == "neurom":
            by_type = neurom_features_by_type(f, cells, neurite_types or ("all",))
            if neurite_types is None:
                cols = by_type["all"]
            else:
                cols = {(t, k): v for t, feats in by_type.items() for k, v in feats.items()}
        else:
            cols = {**gouwens_features(f, aligned=aligned, depth_pca=depth_pca, fit_pca=fit_pca)}
    finally:
        f.release()  # views point back at the forest: free its arrays now, not at the next GC
    return ms.names, cols


def features(
    morph: Morphology,
    *,
    convention: str = "allen",
    aligned: Morphology | None = None,
    depth_pca: dict[str, DepthProfilePCA] | None = None,
    neurite_type: str | None = None,
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
    neurite_type
        ``neurom`` only: ``"all"`` (default), ``"axon"``, ``"basal_dendrite"`` or
        ``"apical_dendrite"``: the features of the neurites whose root is of that type, with
        NeuroM's ``neurite_type`` semantics (soma features unchanged).

    Returns
    -------
    dict of str to float
        Feature name → value (NaN where a compartment is absent), in the units of
        :func:`~patchatlas.morphology.feature_registry`.

    Raises
    ------
    patchatlas.errors.DataError
        A morphology without nodes, or an unknown convention.
    patchatlas.errors.ParameterError
        An unknown neurite type, or a neurite type with another convention than ``neurom``.

    Examples
    --------
    >>> from patchatlas.datasets.morphology import synthetic_morphology
    >>> f = features(synthetic_morphology("pyramidal", seed=0))
    >>> f["total_length"] > 0
    True
    """
    if neurite_type is not None and not isinstance(neurite_type, str):
        raise ParameterError("neurite_type= takes one type here; use features_by_type for several")
    types = _neurite_types(neurite_type, convention)
    _, cols = _compute(
        [morph],
        convention=convention,
        aligned=None if aligned is None else [aligned],
        depth_pca=depth_pca,
        fit_pca=False,
        neurite_types=types,
    )
    return {
        (k[1] if isinstance(k, tuple) else k): float(np.asarray(v, dtype=np.float64)[0])
        for k, v in cols.items()
    }


def features_by_type(morph: Morphology, *, neurite_types: Sequence[str] = NEURITE_TYPES) -> Any:
    """NeuroM features of one morphology with a column per neurite type (one pass).

    Parameters
    ----------
    morph
        The morphology.
    neurite_types
        Types to compute, from :data:`NEURITE_TYPES` (default: all four: ``all``, ``axon``,
        ``basal_dendrite``, ``apical_dendrite``).

    Returns
    -------
    pandas.DataFrame
        Rows are the ``neurom`` features (registry units), columns the neurite types; each
        column equals ``features(morph, convention="neurom", neurite_type=<column>)``.

    Raises
    ------
    patchatlas.errors.DataError
        A morphology without nodes.
    patchatlas.errors.ParameterError
        An unknown neurite type.
    """
    import pandas as pd

    types = _neurite_types(tuple(neurite_types), "neurom")
    assert types is not None
    _, cols = _compute(
        [morph],
        convention="neurom",
        aligned=None,
        depth_pca=None,
        fit_pca=False,
        neurite_types=types,
    )
    names = [k[1] for k in cols if k[0] == types[0]]
    values = np.array([[float(cols[(t, n)][0]) for t in types] for n in names])
    return pd.DataFrame(
        values,
        index=pd.Index(names, name="feature"),
        columns=pd.Index(list(types), name="neurite_type"),
    )
