"""Expression preprocessing for Patch-seq: normalisation, gene selection, gene sets, z-scoring.

All learnable steps are scikit-learn transformers, to be fitted inside cross-validation folds.
"""

from __future__ import annotations

from patchatlas.transcriptomics.preprocess import (
    CPM,
    GeneSetSelector,
    HighlyVariableGenes,
    Log,
    MeanDropoutSelector,
    ZScore,
    cpm,
    make_preprocessor,
    match_genes,
)
from patchatlas.transcriptomics.profile import cell_profile

__all__ = [
    "CPM",
    "GeneSetSelector",
    "HighlyVariableGenes",
    "Log",
    "MeanDropoutSelector",
    "ZScore",
    "cell_profile",
    "cpm",
    "make_preprocessor",
    "match_genes",
]
