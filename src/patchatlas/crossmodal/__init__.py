"""Expression → physiology: training regimes, models (incl. sparse RRR), honest evaluation.

Typical use::

    from patchatlas.io.expression import read_scala2021_m1
    from patchatlas.crossmodal import cross_validate, expression_matrix, summarize

    ds = read_scala2021_m1("../shared/data/patchseq/m1_scala2021")
    res = cross_validate(expression_matrix(ds), ds.ephys, types=ds.t_types, families=ds.families,
                         specs=["single_cell:ridge", "type_average:ridge", "type_lookup"])
    print(summarize(res))
"""

from __future__ import annotations

from patchatlas.crossmodal.benchmark import (
    BenchmarkReport,
    apply_model,
    benchmark_markdown,
    default_preprocess,
    default_specs,
    expression_matrix,
    fit_model,
    gene_importance,
    permutation_gene_importance,
    run_benchmark,
)
from patchatlas.crossmodal.evaluation import (
    CrossModalResult,
    cross_validate,
    multivariate_r2,
    paired_difference,
    pearson_r,
    prediction_table,
    r2_per_feature,
    split_spec,
    summarize,
    within_type_interval,
    within_type_r2,
)
from patchatlas.crossmodal.models import MODEL_NAMES, RidgeLOO, SparseRRR, make_model
from patchatlas.crossmodal.regimes import (
    BASELINES,
    REGIMES,
    CrossModalRegressor,
    GroupMeans,
    LookupRegressor,
    make_estimator,
)

__all__ = [
    "BASELINES",
    "MODEL_NAMES",
    "REGIMES",
    "BenchmarkReport",
    "CrossModalRegressor",
    "CrossModalResult",
    "GroupMeans",
    "LookupRegressor",
    "RidgeLOO",
    "SparseRRR",
    "apply_model",
    "benchmark_markdown",
    "cross_validate",
    "default_preprocess",
    "default_specs",
    "expression_matrix",
    "fit_model",
    "gene_importance",
    "make_estimator",
    "make_model",
    "multivariate_r2",
    "paired_difference",
    "pearson_r",
    "permutation_gene_importance",
    "prediction_table",
    "r2_per_feature",
    "run_benchmark",
    "split_spec",
    "summarize",
    "within_type_interval",
    "within_type_r2",
]
