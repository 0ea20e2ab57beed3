"""One analysis of a reconstruction: :func:`analyze` → :class:`MorphologyResult`.

The morphology counterpart of :func:`patchatlas.ephys.analyze`, and what the ingest pipeline
stores: the validation issues (under a strictness profile), the features of one convention with
the registry unit of each, and the provenance (package version, convention, profile, node
count).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from patchatlas._version import __version__
from patchatlas.core.morphology import Morphology

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from patchatlas.morphology.validation import ValidationReport

__all__ = ["MorphologyResult", "analyze"]


@dataclass
class MorphologyResult:
    """Everything :func:`analyze` computed for one reconstruction.

    Attributes
    ----------
    name
        The morphology's label.
    convention
        The feature convention (``"allen"``, ``"gouwens"``, ``"neurom"``).
    features
        Feature name → value (µm, µm², µm³, rad, counts; NaN where not computable).
    units
        Feature name → registry unit.
    issues
        The validation report (:class:`~patchatlas.morphology.ValidationReport`).
    provenance
        ``package_version``, ``convention``, ``profile``, ``n_nodes``, ``source``.
    """

    name: str
    convention: str
    features: dict[str, float]
    units: Mapping[str, str]
    issues: ValidationReport
    provenance: dict[str, Any] = field(default_factory=dict)

    def table(self) -> pd.DataFrame:
        """The features as a long table with units.

        Returns
        -------
        pandas.DataFrame
            Columns ``name``, ``value``, ``unit``.
        """
        import pandas as pd

        return pd.DataFrame(
            {
                "name": list(self.features),
                "value": [float(v) for v in self.features.values()],
                "unit": [self.units.get(k) for k in self.features],
            }
        )


def analyze(
    morph: Morphology,
    *,
    convention: str = "allen",
    profile: str = "analysis",
    aligned: Morphology | None = None,
) -> MorphologyResult:
    """Validate a reconstruction and compute the features of one convention, with units.

    Parameters
    ----------
    morph
        The reconstruction (µm).
    convention
        ``"allen"`` (default), ``"gouwens"`` or ``"neurom"`` (see
        :func:`patchatlas.morphology.feature_registry`).
    profile
        Validation strictness (:data:`patchatlas.morphology.PROFILES`).
    aligned
        The layer-aligned version, for the gouwens depth features.

    Returns
    -------
    MorphologyResult
        Features, their units, the validation issues and provenance.

    Raises
    ------
    patchatlas.errors.DataError
        Unknown convention or profile.
    """
    from patchatlas.morphology.feature_sets import features
    from patchatlas.morphology.registry import REGISTRY, check_convention
    from patchatlas.morphology.validation import validate

    conv = check_convention(convention)
    issues = validate(morph, profile=profile, raise_on_error=False)
    values = features(morph, convention=conv, aligned=aligned)
    units = {name: spec.unit for name, spec in REGISTRY[conv].items()}
    prov = {
        "engine": "patchatlas.morphology.analyze",
        "package_version": __version__,
        "convention": conv,
        "profile": profile,
        "n_nodes": len(morph),
        "source": morph.source,
    }
    return MorphologyResult(morph.label, conv, values, units, issues, prov)
