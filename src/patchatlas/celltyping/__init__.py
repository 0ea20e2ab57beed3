"""Cell typing: t-type mapping and Patch-seq QC, e-/m-/me-types, and predicting transcriptomic
types from physiology and morphology.

Entry points (each returns one result object with provenance):

* :func:`map_ttypes` → :class:`TTypeMapping` — map Patch-seq transcriptomes onto a reference
  taxonomy (nearest centroid by correlation on marker genes, bootstrap confidence);
  :func:`cross_validate_mapping` → :class:`MappingValidation` checks it against published
  labels; :func:`patchseq_qc` → :class:`PatchseqQC` scores contamination by normalised
  marker sums (Tripathy et al. 2018).
* :func:`find_types` → :class:`TypingResult` — e-, m- or me-types: sparse PCA of feature
  blocks, Gaussian-mixture or Ward clustering chosen by BIC, subsample stability, agreement
  with t-types, separating features.
* :func:`predict_ttypes` → :class:`TTypePrediction` — repeated stratified CV of
  :class:`TTypeClassifier` at one label level with majority-class and shuffled-label
  baselines, bootstrap CIs, confusion matrix and calibration.
* :func:`cross_species` → :class:`CrossSpeciesResult` — train on mouse, test on human, with
  the human-only baseline.

Typical use::

    from patchatlas.celltyping import TTypeClassifier, feature_matrix, predict_ttypes

    X = feature_matrix(results)            # cell → EphysResult, or a long/wide feature table
    clf = TTypeClassifier().fit(X, subclass)   # NaNs allowed; preprocessing learned in fit
    res = predict_ttypes(X, subclass, level="subclass", n_repeats=5, n_folds=5)
    print(res.summary)

Every learnable step is a scikit-learn estimator fitted inside the CV folds; nothing here reads
files, touches the atlas or prints.
"""

from __future__ import annotations

from patchatlas.celltyping.agreement import (
    Agreement,
    agreement,
    contingency,
    effect_sizes,
    feature_separation,
)
from patchatlas.celltyping.features import (
    IPFX_CANONICAL,
    FeaturePreparer,
    feature_blocks,
    feature_matrix,
    ipfx_canonical,
)
from patchatlas.celltyping.labels import LEVELS, embed, type_levels
from patchatlas.celltyping.mapping import (
    MappingValidation,
    TaxonomyMapper,
    TTypeMapping,
    cross_validate_mapping,
    log_cpm,
    map_ttypes,
    select_markers,
)
from patchatlas.celltyping.metrics import (
    bootstrap_metrics,
    calibration_table,
    classification_scores,
    confusion_table,
    per_class_scores,
)
from patchatlas.celltyping.qc import PatchseqQC, class_markers, marker_sums, patchseq_qc
from patchatlas.celltyping.species import (
    SHARED_SUBCLASSES,
    UNCOMPARABLE,
    CrossSpeciesResult,
    cross_species,
    harmonize_subclass,
    rank_normal,
)
from patchatlas.celltyping.supervised import (
    MODELS,
    TTypeClassifier,
    TTypePrediction,
    predict_ttypes,
    prediction_markdown,
    reference_forest,
)
from patchatlas.celltyping.unsupervised import (
    ClusterStability,
    GaussianMixtureTypes,
    HierarchicalTypes,
    SparsePCABlocks,
    TypingResult,
    cluster_stability,
    find_types,
    partition_bic,
)

__all__ = [
    "IPFX_CANONICAL",
    "LEVELS",
    "MODELS",
    "SHARED_SUBCLASSES",
    "UNCOMPARABLE",
    "Agreement",
    "ClusterStability",
    "CrossSpeciesResult",
    "FeaturePreparer",
    "GaussianMixtureTypes",
    "HierarchicalTypes",
    "MappingValidation",
    "PatchseqQC",
    "SparsePCABlocks",
    "TTypeClassifier",
    "TTypeMapping",
    "TTypePrediction",
    "TaxonomyMapper",
    "TypingResult",
    "agreement",
    "bootstrap_metrics",
    "calibration_table",
    "class_markers",
    "classification_scores",
    "cluster_stability",
    "confusion_table",
    "contingency",
    "cross_species",
    "cross_validate_mapping",
    "effect_sizes",
    "embed",
    "feature_blocks",
    "feature_matrix",
    "feature_separation",
    "find_types",
    "harmonize_subclass",
    "ipfx_canonical",
    "log_cpm",
    "map_ttypes",
    "marker_sums",
    "partition_bic",
    "patchseq_qc",
    "per_class_scores",
    "predict_ttypes",
    "prediction_markdown",
    "rank_normal",
    "reference_forest",
    "select_markers",
    "type_levels",
]
