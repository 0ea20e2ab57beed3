"""Morphology engine: node-table model, validation, features, layer alignment, Sholl.

Stable entry points::

    morph = patchatlas.read("cell.swc")                     # SWC or Neurolucida ASC
    report = patchatlas.morphology.validate(morph, profile="lenient")
    feats = patchatlas.morphology.features(morph, convention="allen")  # dict[str, float]
    axon = patchatlas.morphology.features(morph, convention="neurom", neurite_type="axon")
    table = patchatlas.morphology.features_by_type(morph)  # NeuroM, a column per neurite type

Everything here is pure (arrays in, arrays/tables out); files are read by :mod:`patchatlas.io`
(:func:`patchatlas.read`), and the node-table model lives in :mod:`patchatlas.core`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from patchatlas.core.morphology import (
    APICAL,
    AXON,
    BASAL,
    SOMA,
    TYPE_NAMES,
    Issue,
    Morphology,
    MorphologySet,
)
from patchatlas.morphology._alloc import tune_allocator
from patchatlas.morphology.analysis import MorphologyResult, analyze
from patchatlas.morphology.depth import depth_profiles
from patchatlas.morphology.feature_sets import (
    NEURITE_TYPES,
    features,
    features_by_type,
    features_table,
)
from patchatlas.morphology.registry import CONVENTIONS, FeatureSpec, feature_registry
from patchatlas.morphology.sholl import sholl_crossings, sholl_frequency, sholl_matrix
from patchatlas.morphology.validation import CHECKS, PROFILES, ValidationReport, repair, validate

if TYPE_CHECKING:  # pragma: no cover
    from patchatlas.morphology._depth_pca import DepthProfilePCA

__all__ = [
    "APICAL",
    "AXON",
    "BASAL",
    "CHECKS",
    "CONVENTIONS",
    "NEURITE_TYPES",
    "PROFILES",
    "SOMA",
    "TYPE_NAMES",
    "DepthProfilePCA",
    "FeatureSpec",
    "Issue",
    "Morphology",
    "MorphologyResult",
    "MorphologySet",
    "ValidationReport",
    "analyze",
    "depth_profiles",
    "feature_registry",
    "features",
    "features_by_type",
    "features_table",
    "repair",
    "sholl_crossings",
    "sholl_frequency",
    "sholl_matrix",
    "tune_allocator",
    "validate",
]


def __getattr__(name: str) -> Any:
    # DepthProfilePCA (a scikit-learn estimator) is imported on first use: the rest of the
    # engine does not need scikit-learn.
    if name == "DepthProfilePCA":
        from patchatlas.morphology._depth_pca import DepthProfilePCA

        return DepthProfilePCA
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
