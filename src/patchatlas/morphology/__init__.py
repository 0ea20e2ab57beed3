"""Morphology engine: node-table model, validation, features, layer alignment, Sholl.

Stable entry points::

    morph = patchatlas.morphology.read("cell.swc")          # SWC or Neurolucida ASC
    report = patchatlas.morphology.validate(morph, profile="lenient")
    feats = patchatlas.morphology.features(morph, convention="allen")  # dict[str, float]

Everything here is pure (arrays in, arrays/tables out); files are read by :mod:`patchatlas.io`.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from patchatlas.morphology._alloc import tune_allocator
from patchatlas.morphology.depth import depth_profiles
from patchatlas.morphology.feature_sets import (
    CONVENTIONS,
    FeatureSpec,
    feature_registry,
    features,
    features_table,
)
from patchatlas.morphology.model import (
    APICAL,
    AXON,
    BASAL,
    SOMA,
    TYPE_NAMES,
    Issue,
    Morphology,
    MorphologySet,
)
from patchatlas.morphology.sholl import sholl_crossings, sholl_frequency, sholl_matrix
from patchatlas.morphology.validation import CHECKS, PROFILES, ValidationReport, repair, validate

if TYPE_CHECKING:
    from patchatlas.morphology._depth_pca import DepthProfilePCA

__all__ = [
    "APICAL",
    "AXON",
    "BASAL",
    "CHECKS",
    "CONVENTIONS",
    "PROFILES",
    "SOMA",
    "TYPE_NAMES",
    "DepthProfilePCA",
    "FeatureSpec",
    "Issue",
    "Morphology",
    "MorphologySet",
    "ValidationReport",
    "depth_profiles",
    "feature_registry",
    "features",
    "features_table",
    "read",
    "repair",
    "sholl_crossings",
    "sholl_frequency",
    "sholl_matrix",
    "tune_allocator",
    "validate",
]


def read(path: str | os.PathLike[str], **kwargs: Any) -> Morphology:
    """Read a morphology file (``.swc`` or Neurolucida ``.asc``).

    Parameters
    ----------
    path
        The file.
    **kwargs
        Passed to the reader (``name=``, ``max_bytes=``).

    Raises
    ------
    patchatlas.errors.ReadError
        Missing, unsupported, marker-list or malformed file.
    """
    from pathlib import Path

    from patchatlas.errors import UnsupportedFormatError

    p = Path(path)
    suffix = p.suffix.lower()
    if suffix == ".swc":
        from patchatlas.io.swc import read_swc

        return read_swc(p, **kwargs)
    if suffix == ".asc":
        from patchatlas.io.asc import read_asc

        return read_asc(p, **kwargs)
    raise UnsupportedFormatError(
        p,
        f"{suffix or 'no extension'} is not a morphology format",
        "patchatlas reads .swc and Neurolucida .asc morphologies",
    )


def __getattr__(name: str) -> Any:
    # DepthProfilePCA (a scikit-learn estimator) is imported on first use: the rest of the
    # engine does not need scikit-learn.
    if name == "DepthProfilePCA":
        from patchatlas.morphology._depth_pca import DepthProfilePCA

        return DepthProfilePCA
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
