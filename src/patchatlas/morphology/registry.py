"""The morphology feature registry: one entry (name, unit, definition, compartment, inputs)
per feature and convention.

Three conventions, each a complete, documented set (list them with :func:`feature_registry`):

``allen``
    The Allen Cell Types Database whole-cell table (the ``nr__`` fields, named without the
    prefix), over all neurites (types 2, 3, 4), with the Allen conventions: compartments need both
    ends selected, soma→stem compartments are excluded from lengths, the root branch has order 1,
    contraction is Σ euclidean / Σ path, max path includes the soma→first-node compartment.
    21 of the 22 ``nr__`` columns: ``hausdorff_dimension`` (an L-Measure fractal dimension that
    neither neuron_morphology nor NeuroM computes) is not provided, because no exact definition
    or reference values are available here to validate one against.
``gouwens``
    The per-compartment skeleton_keys set of Gouwens et al. 2019/2020, with column names exactly
    as in skeleton_keys' wide feature tables (``axon_total_length``, ``basal_dendrite_bias_y``,
    ``none_early_branch_path``, ``soma_surface_area`` ...). Computed on upright, unscaled
    morphologies; depth features need the layer-aligned morphology (``aligned=``) and, for the
    PCs, several cells (:func:`features_table`) or stored loadings.
``neurom``
    NeuroM 4 definitions on the whole morphology (sections split at forks, root section order
    0, radial distance to section ends, contraction = mean of 1/tortuosity, NeuroM soma models).

Same name, different number is expected across conventions; ``differs`` in the registry says how.

This module holds the definitions only; one private module per convention computes them
(``_allen``, ``_gouwens``, ``_neurom``) and :mod:`patchatlas.morphology.feature_sets` runs them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from patchatlas.errors import DataError

__all__ = [
    "CONVENTIONS",
    "GOUWENS_TYPES",
    "REGISTRY",
    "FeatureSpec",
    "check_convention",
    "feature_registry",
]

CONVENTIONS = ("allen", "gouwens", "neurom")


@dataclass(frozen=True)
class FeatureSpec:
    """One registry entry.

    Attributes
    ----------
    name
        Output key.
    convention
        ``"allen"``, ``"gouwens"`` or ``"neurom"``.
    unit
        ``"µm"``, ``"µm²"``, ``"µm³"``, ``"rad"``, ``"count"``, ``"bins"``, ``"1"``.
    definition
        One-line definition.
    compartment
        ``axon``, ``basal_dendrite``, ``apical_dendrite``, ``all`` (neurites), ``soma``.
    requires
        Inputs needed beyond the node table (``"layer_aligned"``, ``"population"``).
    differs
        How the same name differs in another convention (empty when it does not).
    """

    name: str
    convention: str
    unit: str
    definition: str
    compartment: str = "all"
    requires: tuple[str, ...] = ()
    differs: str = ""


REGISTRY: dict[str, dict[str, FeatureSpec]] = {c: {} for c in CONVENTIONS}


def _reg(conv: str, name: str, unit: str, definition: str, **kw: Any) -> None:
    REGISTRY[conv][name] = FeatureSpec(name, conv, unit, definition, **kw)


# ---------------------------------------------------------------------------- allen registry
for _n, _u, _d, _x in [
    ("number_nodes", "count", "nodes of types 2-4", ""),
    ("number_stems", "count", "children of the soma root node", ""),
    ("number_tips", "count", "selected nodes without selected children", ""),
    (
        "number_bifurcations",
        "count",
        "Σ (children − 1) over branching nodes (a trifurcation counts 2)",
        "neurom counts sections with exactly 2 children",
    ),
    (
        "number_branches",
        "count",
        "roots + 2·(children − 1) per branching node (trifurcation = 2 bifurcations)",
        "neurom number_of_sections counts children, not implicit zero-length branches",
    ),
    (
        "max_branch_order",
        "count",
        "max branches on a root→tip path over the whole tree; stems are order 1",
        "neurom: root section is order 0",
    ),
    ("total_length", "µm", "Σ compartment lengths, soma→stem compartments excluded", ""),
    ("total_surface", "µm²", "Σ lateral frustum areas of the compartments", ""),
    ("total_volume", "µm³", "Σ frustum volumes of the compartments", ""),
    ("average_diameter", "µm", "2 × mean radius of the neurite nodes", ""),
    ("overall_width", "µm", "max − min of x over neurite nodes", ""),
    ("overall_height", "µm", "max − min of y over neurite nodes", ""),
    ("overall_depth", "µm", "max − min of z over neurite nodes", ""),
    (
        "max_euclidean_distance",
        "µm",
        "max distance of any neurite node from the soma root",
        "neurom max_radial_distance uses section end points only",
    ),
    (
        "max_path_distance",
        "µm",
        "longest soma→node path, including the soma→first-node compartment",
        "neurom starts at the first neurite node",
    ),
    (
        "average_contraction",
        "1",
        "Σ euclidean / Σ path over branches that start at a branch point",
        "neurom mean_contraction is a mean of per-section ratios over all sections",
    ),
    ("average_fragmentation", "1", "compartments per non-stem branch (ratio of sums)", ""),
    ("average_parent_daughter_ratio", "1", "mean of r_parent / r_child over compartments", ""),
    (
        "average_bifurcation_angle_local",
        "rad",
        "mean angle between the first compartments of the 2 children at bifurcations",
        "",
    ),
    (
        "average_bifurcation_angle_remote",
        "rad",
        "mean angle between the vectors to the next branch point or tip of the 2 children",
        "",
    ),
    ("soma_surface", "µm²", "4πr² of the soma root node", "neurom models 3-point/cylinder somata"),
]:
    _reg("allen", _n, _u, _d, differs=_x)

# ---------------------------------------------------------------------------- neurom registry
for _n, _u, _d in [
    ("number_of_neurites", "count", "neurite trees (non-soma roots or children of the soma)"),
    ("number_of_sections", "count", "unbranched sections (split at nodes with ≥ 2 children)"),
    ("number_of_bifurcations", "count", "sections with exactly 2 children"),
    ("number_of_forking_points", "count", "sections with 2 or more children"),
    ("number_of_leaves", "count", "sections without children"),
    ("total_length", "µm", "Σ section lengths (soma→first point excluded)"),
    ("total_area", "µm²", "Σ lateral frustum areas of the segments"),
    ("total_volume", "µm³", "Σ frustum volumes of the segments"),
    ("max_branch_order", "count", "max section depth; root sections are order 0"),
    ("max_radial_distance", "µm", "max distance of a terminal section end from the soma centre"),
    ("max_path_distance", "µm", "max path from the neurite's first point to a section end"),
    ("mean_local_bifurcation_angle", "rad", "mean angle to the first non-zero child segments"),
    ("mean_remote_bifurcation_angle", "rad", "mean angle to the child sections' last points"),
    ("mean_contraction", "1", "mean over sections of end-to-end distance / section length"),
    ("mean_partition_asymmetry", "1", "mean |n1 − n2| / (n1 + n2) of child subtree sections"),
    ("total_width", "µm", "max − min of x over neurite points"),
    ("total_height", "µm", "max − min of y over neurite points"),
    ("total_depth", "µm", "max − min of z over neurite points"),
    ("soma_radius", "µm", "NeuroM soma radius (point, 3-point cylinder, cylinders, contour)"),
    ("soma_surface_area", "µm²", "NeuroM soma area (sphere, 2πrh, Σ cylinder areas)"),
]:
    _reg("neurom", _n, _u, _d)

# ---------------------------------------------------------------------------- gouwens registry
GOUWENS_TYPES: dict[str, tuple[int, ...]] = {
    "axon": (2,),
    "basal_dendrite": (3,),
    "apical_dendrite": (4,),
    "dendrite": (3, 4),
}
_G_COMMON = [
    ("extent_x", "µm", "max − min of x over type-T nodes"),
    ("extent_y", "µm", "max − min of y over type-T nodes"),
    ("bias_x", "µm", "| max(x⁺) − |min(x⁻)| | relative to the soma (handedness ignored)"),
    ("bias_y", "µm", "max(y⁺) − |min(y⁻)| relative to the soma (signed, + toward pia)"),
    ("soma_percentile_x", "1", "fraction of type-T nodes left of the soma, folded into [0, 0.5]"),
    ("soma_percentile_y", "1", "fraction of type-T nodes below the soma"),
    ("total_length", "µm", "Σ compartments with both ends of type T"),
    ("max_euclidean_distance", "µm", "max node distance from the soma"),
    ("max_path_distance", "µm", "max soma→node path (soma→first-node compartment included)"),
    ("max_branch_order", "count", "Allen branch order over the whole tree, max over T nodes"),
    ("num_branches", "count", "T roots + 2·(children − 1) per branching T node"),
    ("mean_contraction", "1", "Σ euclid / Σ path over T branches starting at a branch point"),
    ("num_outer_bifurcations", "log10(n+1)", "branch points beyond ½ max distance, log10(n+1)"),
]
_G_DENDRITE = [
    ("total_surface_area", "µm²", "Σ lateral frustum areas of type-T compartments"),
    ("mean_diameter", "µm", "2 × mean radius of type-T nodes"),
    ("calculate_number_of_stems", "count", "soma children of type T"),
    ("stem_exit_down", "1", "fraction of T roots with θ ≤ 1/3 (θ = arccos(ŷ·v̂)/π, z × 3)"),
    ("stem_exit_side", "1", "fraction of T roots with 1/3 < θ ≤ 2/3"),
    ("stem_exit_up", "1", "fraction of T roots with θ > 2/3"),
]
for _c in GOUWENS_TYPES:
    for _n, _u, _d in _G_COMMON:
        _reg(
            "gouwens",
            f"{_c}_{_n}",
            _u,
            _d.replace("type T", _c).replace("T ", f"{_c} "),
            compartment=_c,
        )
    if _c != "axon":
        for _n, _u, _d in _G_DENDRITE:
            _reg("gouwens", f"{_c}_{_n}", _u, _d, compartment=_c)
_reg(
    "gouwens",
    "apical_dendrite_mean_moments_along_max_distance_projection",
    "1",
    "mean projection of apical branch points on the soma→farthest axis / max distance",
    compartment="apical_dendrite",
)
_reg(
    "gouwens",
    "apical_dendrite_std_moments_along_max_distance_projection",
    "1",
    "std of the same projections",
    compartment="apical_dendrite",
)
_reg(
    "gouwens",
    "axon_exit_theta",
    "1",
    "θ of the axon root closest to the soma (z × 3)",
    compartment="axon",
)
_reg(
    "gouwens",
    "axon_exit_distance",
    "µm",
    "distance of that root from the soma; 0 when its parent is the soma",
    compartment="axon",
)
_reg(
    "gouwens",
    "none_early_branch_path",
    "1",
    "max over branch points of the shorter child max path, / overall max path (all neurites)",
)
_reg(
    "gouwens",
    "soma_surface_area",
    "µm²",
    "4πr² of the soma node",
    compartment="soma",
    differs="neurom models 3-point/cylinder somata",
)
_reg(
    "gouwens",
    "soma_aligned_dist_from_pia",
    "µm",
    "−y of the soma in the layer-aligned cell",
    compartment="soma",
    requires=("layer_aligned",),
)
_reg(
    "gouwens",
    "axon_emd_with_basal_dendrite",
    "bins",
    "1-D Wasserstein distance between axon and basal depth profiles, in 5 µm bins",
    compartment="axon",
    requires=("layer_aligned",),
)
for _a, _b in (("axon", "basal_dendrite"), ("basal_dendrite", "axon")):
    for _k in ("above", "intersect", "below"):
        _reg(
            "gouwens",
            f"{_a}_frac_{_k}_{_b}",
            "1",
            f"fraction of {_a} depth-profile mass {_k} the overlap with {_b}",
            compartment=_a,
            requires=("layer_aligned",),
        )
for _c in ("axon", "apical_dendrite"):
    _reg(
        "gouwens",
        f"{_c}_depth_pc_0",
        "1",
        "PCA score of the layer-aligned depth profile (k = 0, 1, …)",
        compartment=_c,
        requires=("layer_aligned", "population"),
    )


def feature_registry(convention: str | None = None) -> Any:
    """The registry as a DataFrame (name, convention, unit, compartment, requires, definition,
    differs).

    Parameters
    ----------
    convention
        ``"allen"``, ``"gouwens"`` or ``"neurom"``; ``None`` lists every convention.

    Returns
    -------
    pandas.DataFrame
        One row per feature and convention: ``name``, ``convention``, ``unit`` (µm, µm², µm³,
        rad, count, bins or 1), ``compartment``, ``requires`` (comma-separated inputs beyond
        the node table), ``definition`` and ``differs`` (how the same name differs in another
        convention).

    Raises
    ------
    patchatlas.errors.DataError
        An unknown convention.
    """
    import pandas as pd

    convs = CONVENTIONS if convention is None else (check_convention(convention),)
    rows = [
        {
            "name": s.name,
            "convention": s.convention,
            "unit": s.unit,
            "compartment": s.compartment,
            "requires": ",".join(s.requires),
            "definition": s.definition,
            "differs": s.differs,
        }
        for c in convs
        for s in REGISTRY[c].values()
    ]
    return pd.DataFrame(rows)


def check_convention(convention: str) -> str:
    """Return ``convention`` if it is one of :data:`CONVENTIONS`.

    Parameters
    ----------
    convention
        Convention name (``"allen"``, ``"gouwens"``, ``"neurom"``).

    Returns
    -------
    str
        The same name.

    Raises
    ------
    patchatlas.errors.DataError
        For any other name.
    """
    if convention not in CONVENTIONS:
        raise DataError(f"unknown feature convention {convention!r}; choose one of {CONVENTIONS}")
    return convention
