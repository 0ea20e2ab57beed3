"""The expression → physiology benchmark on a :class:`~patchatlas.core.PatchseqDataset`.

:func:`run_benchmark` composes the pieces: per-cell log-CPM, in-fold preprocessing, repeated CV
of regimes/models/baselines on identical folds, paired single-cell − type-average difference
and within-type R² with bootstrap CIs, top genes of the fitted models, and a plain-language
Markdown summary (:func:`benchmark_markdown`). Pure: nothing is read or written here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from patchatlas.crossmodal.evaluation import (
    CrossModalResult,
    Progress,
    cross_validate,
    paired_difference,
    split_spec,
    summarize,
    within_type_interval,
)
from patchatlas.crossmodal.regimes import BASELINES, CrossModalRegressor, make_estimator
from patchatlas.errors import DataError
from patchatlas.transcriptomics import cpm, make_preprocessor

if TYPE_CHECKING:
    from patchatlas.core.expression import PatchseqDataset

__all__ = [
    "BenchmarkReport",
    "apply_model",
    "benchmark_markdown",
    "default_preprocess",
    "default_specs",
    "expression_matrix",
    "fit_model",
    "gene_importance",
    "permutation_gene_importance",
    "run_benchmark",
]

Array = NDArray[np.float64]


def expression_matrix(ds: PatchseqDataset, *, log: bool = True) -> Array:
    """log2(CPM + 1) of the dataset's counts with its ``obs["library_size"]``.

    Per-cell normalisation learns nothing from other cells, so it may run before the CV split.

    Parameters
    ----------
    ds
        The dataset; ``obs["library_size"]`` gives each cell's CPM denominator.
    log
        Return log2(CPM + 1) (default) or CPM.

    Returns
    -------
    numpy.ndarray
        Cells × genes, float64.
    """
    x = cpm(ds.adata.X, library_size=ds.adata.obs["library_size"].to_numpy(dtype=np.float64))
    return np.log2(x + 1.0) if log else x


def default_preprocess(
    ds: PatchseqDataset, *, n_genes: int = 1000, genes: Sequence[str] | None = None
) -> Any:
    """In-fold preprocessing for log-CPM input: z-score; HVG selection (``n_genes``) when the
    dataset has many more genes (full transcriptome); or a named gene set (``genes``).

    Parameters
    ----------
    ds
        The dataset (only its genes are looked at).
    n_genes
        Highly variable genes kept when the dataset has more than ``2 × n_genes`` genes.
    genes
        A gene set to keep instead (matched to the dataset's gene names, case-insensitive).

    Returns
    -------
    sklearn.pipeline.Pipeline
        An unfitted :func:`patchatlas.transcriptomics.make_preprocessor` pipeline (selection,
        then z-scoring), to be fitted on training cells only.
    """
    if genes is not None:
        return make_preprocessor(
            select="genes", genes=tuple(genes), feature_names=list(ds.adata.var_names)
        )
    if ds.adata.n_vars > 2 * n_genes:
        return make_preprocessor(select="hvg", n_genes=n_genes)
    return make_preprocessor()


def default_specs(models: Sequence[str] = ("ridge", "srrr")) -> list[str]:
    """All regimes for the first model, single-cell / type-average for the others, baselines.

    Parameters
    ----------
    models
        Model names (:data:`~patchatlas.crossmodal.MODEL_NAMES`); the first gets every regime.

    Returns
    -------
    list of str
        ``"regime:model"`` specs followed by the baselines.
    """
    specs: list[str] = []
    for i, m in enumerate(models):
        regimes = (
            ["single_cell", "type_average", "type_denoised", "type_plus_residual"]
            if i == 0
            else ["single_cell", "type_average"]
        )
        specs += [f"{r}:{m}" for r in regimes]
    return [*specs, *BASELINES]


def fit_model(
    ds: PatchseqDataset,
    spec: str = "single_cell:ridge",
    *,
    preprocess: Any = None,
) -> tuple[Any, dict[str, Any]]:
    """Fit ``spec`` on all cells of ``ds``; returns the estimator and metadata for saving.

    The metadata hold gene names (input columns, in order), feature names, the spec, the
    dataset name and the log-CPM recipe, everything :func:`apply_model` needs.

    Parameters
    ----------
    ds
        The training dataset (input: :func:`expression_matrix`; targets: ``ds.ephys``).
    spec
        ``"regime:model"`` or a baseline (see :func:`~patchatlas.crossmodal.make_estimator`).
    preprocess
        Unfitted transformer for the expression (default: z-scoring).

    Returns
    -------
    estimator : CrossModalRegressor or LookupRegressor
        Fitted on all cells.
    metadata : dict
        ``spec``, ``dataset``, ``genes``, ``features``, ``input``, ``n_cells`` and the
        ``patchatlas`` version; save both with :func:`patchatlas.io.modelfile.save_model`.
    """
    x = expression_matrix(ds)
    est = make_estimator(spec, preprocess=preprocess)
    est.fit(x, ds.ephys.to_numpy(), types=ds.t_types, families=ds.families)
    from patchatlas._version import __version__

    meta = {
        "spec": spec,
        "dataset": ds.name,
        "genes": [str(g) for g in ds.adata.var_names],
        "features": [str(f) for f in ds.ephys.columns],
        "input": "log2(CPM + 1), CPM with obs['library_size'] (or total counts)",
        "n_cells": int(ds.adata.n_obs),
        "patchatlas": __version__,
    }
    return est, meta


def apply_model(
    est: Any, meta: dict[str, Any], adata: Any, *, library_size: Array | None = None
) -> tuple[pd.DataFrame, list[str]]:
    """Predict physiology for new cells with a model from :func:`fit_model`.

    Parameters
    ----------
    est, meta
        The fitted estimator and its metadata.
    adata
        AnnData of raw counts (cells × genes). Genes are matched to ``meta["genes"]`` by name;
        missing genes are set to 0 and listed in the returned list.
    library_size
        Per-cell CPM denominators; default ``obs["library_size"]`` if present, else total
        counts over all genes of ``adata``.

    Returns
    -------
    (pandas.DataFrame, list[str])
        Predictions (cells × features, indexed by cell id) and the model genes missing from
        ``adata``. Regimes that need t-types use ``obs["t_type"]``/``obs["family"]``.
    """
    genes = list(meta["genes"])
    names = pd.Index([str(g) for g in adata.var_names])
    if library_size is None:
        if "library_size" in adata.obs.columns:
            library_size = adata.obs["library_size"].to_numpy(dtype=np.float64)
        else:
            library_size = np.asarray(adata.X.sum(axis=1), dtype=np.float64).ravel()
    x_all = cpm(np.asarray(adata.X, dtype=np.float64), library_size=library_size)
    pos = names.get_indexer(pd.Index(genes))
    missing = [g for g, i in zip(genes, pos, strict=True) if i < 0]
    if len(missing) == len(genes):
        raise DataError(
            "none of the model's genes is in the new expression data; check the gene names"
        )
    x = np.zeros((adata.n_obs, len(genes)))
    ok = pos >= 0
    x[:, ok] = x_all[:, pos[ok]]
    x = np.log2(x + 1.0)
    obs = adata.obs
    types = obs["t_type"].astype(str).to_numpy() if "t_type" in obs.columns else None
    fams = obs["family"].astype(str).to_numpy() if "family" in obs.columns else None
    regime = split_spec(str(meta.get("spec", "")))[0]
    if regime in ("type_denoised", "type_plus_residual", *BASELINES) and types is None:
        raise DataError(f"regime {regime!r} needs obs['t_type'] in the new data")
    pred = est.predict(x, types=types, families=fams)
    out = pd.DataFrame(
        pred, index=pd.Index([str(c) for c in adata.obs_names]), columns=meta["features"]
    )
    return out, missing


def gene_importance(
    est: Any,
    gene_names: Sequence[str],
    feature_names: Sequence[str],
    *,
    top: int = 10,
) -> pd.DataFrame:
    """Top genes per feature from a fitted linear :class:`CrossModalRegressor`.

    Weights are the model coefficients in z-scored units (input genes z-scored in-fit; targets
    z-scored), i.e. the change in the feature's z-score per SD of the gene. For sparse RRR only
    the selected genes have non-zero weight.

    Parameters
    ----------
    est
        A fitted :class:`CrossModalRegressor` whose model has ``coef_`` (ridge, srrr, enet).
    gene_names
        Names of the input columns the estimator was fitted on.
    feature_names
        Names of the target columns.
    top
        Genes per feature (fewer when fewer have a non-zero weight).

    Returns
    -------
    pandas.DataFrame
        feature, rank, gene, weight (sorted by |weight| within each feature).

    Raises
    ------
    patchatlas.errors.DataError
        Not a fitted :class:`CrossModalRegressor`, a model without coefficients, or
        coefficients that cannot be mapped back to gene names.
    """
    if not isinstance(est, CrossModalRegressor) or not hasattr(est, "model_"):
        raise DataError("gene_importance needs a fitted CrossModalRegressor")
    coef = getattr(est.model_, "coef_", None)
    if coef is None:
        raise DataError(
            f"model {type(est.model_).__name__} has no coef_; use a linear model (ridge, srrr)"
        )
    from patchatlas.crossmodal.evaluation import genes_after_preprocess

    names = genes_after_preprocess(est, gene_names)
    c = np.atleast_2d(np.asarray(coef, dtype=np.float64))
    if names is None or c.shape[1] != len(names):
        raise DataError("could not map model coefficients back to gene names")
    rows = []
    for j, feat in enumerate(feature_names):
        order = np.argsort(-np.abs(c[j]), kind="stable")[:top]
        for rank, g in enumerate(order, start=1):
            if c[j, g] == 0:
                break
            rows.append({"feature": feat, "rank": rank, "gene": names[g], "weight": float(c[j, g])})
    return pd.DataFrame(rows, columns=["feature", "rank", "gene", "weight"])


def permutation_gene_importance(
    est: Any,
    X: Array,
    Y: Array,
    gene_names: Sequence[str],
    feature_names: Sequence[str],
    *,
    types: Any = None,
    families: Any = None,
    genes: Sequence[str] | None = None,
    n_repeats: int = 3,
    seed: int = 0,
    top: int = 10,
) -> pd.DataFrame:
    """Drop in R² per feature when one gene's column is shuffled across cells (any model).

    Use held-out cells (``X``, ``Y``) for an honest estimate. ``genes`` limits the genes tried
    (default: all columns of ``X``; cost = genes × repeats predictions).

    Parameters
    ----------
    est
        A fitted estimator with ``predict(X, types=..., families=...)``.
    X
        Cells × genes input, as the estimator was fitted on (log-CPM).
    Y
        Observed targets of those cells, cells × features.
    gene_names
        Names of the columns of ``X``.
    feature_names
        Names of the columns of ``Y``.
    types, families
        Labels of the cells, passed to ``predict`` (regimes and lookups that need them).
    genes
        Genes to permute (names from ``gene_names``); default: all.
    n_repeats
        Shuffles per gene; the drops are averaged.
    seed
        Seed of the shuffles.
    top
        Genes reported per feature.

    Returns
    -------
    pandas.DataFrame
        feature, rank, gene, importance (mean R² drop), sorted within feature, ``top`` per feature.

    Raises
    ------
    patchatlas.errors.DataError
        ``gene_names`` does not match the columns of ``X``.
    """
    from patchatlas.crossmodal.evaluation import r2_per_feature

    x = np.asarray(X, dtype=np.float64)
    y = np.asarray(Y, dtype=np.float64)
    names = [str(g) for g in gene_names]
    if x.shape[1] != len(names):
        raise DataError(f"{len(names)} gene names for {x.shape[1]} columns of X")
    idx = [names.index(g) for g in genes] if genes is not None else list(range(len(names)))
    base = r2_per_feature(y, est.predict(x, types=types, families=families))
    rng = np.random.default_rng(seed)
    drops = np.zeros((len(idx), y.shape[1]))
    xp = x.copy()
    for k, j in enumerate(idx):
        col = x[:, j].copy()
        for _ in range(n_repeats):
            xp[:, j] = col[rng.permutation(col.size)]
            drops[k] += base - r2_per_feature(y, est.predict(xp, types=types, families=families))
        xp[:, j] = col
    drops /= n_repeats
    rows = []
    for f, feat in enumerate(feature_names):
        order = np.argsort(-drops[:, f], kind="stable")[:top]
        for rank, k in enumerate(order, start=1):
            rows.append(
                {"feature": feat, "rank": rank, "gene": names[idx[k]], "importance": drops[k, f]}
            )
    return pd.DataFrame(rows, columns=["feature", "rank", "gene", "importance"])


@dataclass
class BenchmarkReport:
    """Everything :func:`run_benchmark` computed (see :func:`benchmark_markdown`)."""

    dataset: str
    result: CrossModalResult
    summary: pd.DataFrame
    paired: dict[str, Any] | None
    within_type: dict[str, Any] | None
    top_genes: pd.DataFrame
    srrr_genes: pd.Series
    srrr_fits: int
    n_cells: int
    n_genes: int
    n_types: int
    notes: list[str] = field(default_factory=list)
    held_out: pd.DataFrame | None = None

    @property
    def scores(self) -> pd.DataFrame:
        """The tidy per-feature score table."""
        return self.result.scores


def run_benchmark(
    ds: PatchseqDataset,
    *,
    specs: Sequence[str] | None = None,
    models: Sequence[str] = ("ridge", "srrr"),
    n_repeats: int = 5,
    n_folds: int = 10,
    scheme: str = "stratified",
    seed: int = 0,
    preprocess: Any = None,
    n_boot: int = 1000,
    held_out_type: bool = False,
    progress: Progress | None = None,
    top: int = 10,
    n_jobs: int = 1,
) -> BenchmarkReport:
    """Run the full benchmark on a dataset.

    Parameters
    ----------
    ds
        A loaded Patch-seq dataset (counts, ``t_type``/``family``/``library_size`` in obs, ephys).
    specs
        ``regime:model`` specs and baselines; default :func:`default_specs` of ``models``.
    models
        Models used by the default specs (first model gets every regime).
    n_repeats, n_folds, scheme, seed
        Cross-validation (see :func:`~patchatlas.crossmodal.cross_validate`).
    preprocess
        In-fold preprocessing; default :func:`default_preprocess`.
    n_boot
        Bootstrap draws for the confidence intervals.
    held_out_type
        Also run one repeat of held-out-type CV (GroupKFold by t-type) for the single-cell
        models and the family lookup (the t-type lookup is undefined for unseen types).
    progress
        ``progress(done, total)`` per fold.
    top
        Genes per feature in the top-gene table.
    n_jobs
        Parallel fold workers (see :func:`~patchatlas.crossmodal.cross_validate`).

    Returns
    -------
    BenchmarkReport
        The CV result and its summary, the paired single-cell − type-average difference and
        the within-type R² with bootstrap CIs (``None`` when the specs lack them), the top
        genes of the first linear single-cell model fitted on all cells, how often sRRR
        selected each gene, and (``held_out_type``) the held-out-type summary.

    Raises
    ------
    patchatlas.errors.DataError
        Bad inputs or specs (see :func:`~patchatlas.crossmodal.cross_validate`).
    """
    x = expression_matrix(ds)
    y = ds.ephys.to_numpy(dtype=np.float64)
    pre = default_preprocess(ds) if preprocess is None else preprocess
    specs = list(specs) if specs is not None else default_specs(models)
    genes = [str(g) for g in ds.adata.var_names]
    feats = [str(f) for f in ds.ephys.columns]
    res = cross_validate(
        x,
        y,
        types=ds.t_types,
        families=ds.families,
        specs=specs,
        n_repeats=n_repeats,
        n_folds=n_folds,
        scheme=scheme,
        seed=seed,
        preprocess=pre,
        dataset=ds.name,
        feature_names=feats,
        gene_names=genes,
        progress=progress,
        n_jobs=n_jobs,
    )
    summ = summarize(res)
    model0 = split_spec(specs[0])[1] if specs and ":" in specs[0] else "ridge"
    sc, ta = f"single_cell:{model0}", f"type_average:{model0}"
    paired = (
        paired_difference(res, sc, ta, n_boot=n_boot, seed=seed)
        if sc in res.predictions and ta in res.predictions
        else None
    )
    resid = f"type_plus_residual:{model0}"
    wt_spec = resid if resid in res.predictions else (sc if sc in res.predictions else None)
    within = (
        within_type_interval(res, wt_spec, n_boot=n_boot, seed=seed)
        if wt_spec is not None
        else None
    )
    # top genes of the first linear single-cell model, fitted on all cells
    top_genes = pd.DataFrame(columns=["feature", "rank", "gene", "weight"])
    for s in ("single_cell:srrr", sc):
        if s in res.predictions:
            est = make_estimator(s, preprocess=pre)
            est.fit(x, y, types=ds.t_types, families=ds.families)
            try:
                top_genes = gene_importance(est, genes, feats, top=top).assign(spec=s)
            except DataError:
                continue
            break
    srrr_genes = pd.Series(dtype=np.int64)
    srrr_fits = 0
    for s, infos in res.fold_info.items():
        if s.endswith(":srrr"):
            all_genes = [g for fi in infos for g in fi.get("genes", [])]
            srrr_genes = pd.Series(all_genes, dtype=object).value_counts()
            srrr_genes.name = s
            srrr_fits = len(infos)
            break
    held = None
    if held_out_type:
        hspecs = [s for s in specs if s.startswith("single_cell:")] + ["family_lookup"]
        hres = cross_validate(
            x,
            y,
            types=ds.t_types,
            families=ds.families,
            specs=hspecs,
            n_repeats=1,
            n_folds=n_folds,
            scheme="held_out_type",
            seed=seed,
            preprocess=pre,
            dataset=ds.name,
            feature_names=feats,
            n_jobs=n_jobs,
        )
        held = summarize(hres)
    return BenchmarkReport(
        dataset=ds.name,
        result=res,
        summary=summ,
        paired=paired,
        within_type=within,
        top_genes=top_genes,
        srrr_genes=srrr_genes,
        srrr_fits=srrr_fits,
        n_cells=int(ds.adata.n_obs),
        n_genes=int(ds.adata.n_vars),
        n_types=len(np.unique(ds.t_types)),
        notes=list(ds.notes),
        held_out=held,
    )


def _fmt_ci(d: dict[str, Any]) -> str:
    return f"{d['mean']:+.3f} (95% CI {d['ci_low']:+.3f} to {d['ci_high']:+.3f})"


def benchmark_markdown(rep: BenchmarkReport) -> str:
    """A Markdown summary that states what the numbers do and do not support.

    Parameters
    ----------
    rep
        Output of :func:`run_benchmark`.

    Returns
    -------
    str
        Markdown: the data and CV set-up, a table of mean out-of-fold R² per spec, and
        plain-language conclusions with their confidence intervals and caveats.
    """
    p = rep.result.params
    s = rep.summary
    lines = [
        f"# Expression → physiology benchmark: {rep.dataset}",
        "",
        f"{rep.n_cells} cells, {rep.n_genes} genes, {rep.n_types} t-types, "
        f"{len(rep.result.feature_names)} features. CV: {p['n_repeats']} × {p['n_folds']}-fold "
        f"({p['scheme']}, seed {p['seed']}); every statistic (gene selection, z-scoring, type "
        f"means, α) fitted on training cells only. patchatlas {p['patchatlas']}.",
        "",
        "## Mean out-of-fold R² over features",
        "",
        "| regime | model | R² | SD over repeats | mean r | within-type R² | multivariate R² |",
        "|---|---|---|---|---|---|---|",
    ]
    for _, row in s.iterrows():
        lines.append(
            f"| {row['regime']} | {row['model']} | {row['r2']:.3f} | {row['r2_sd']:.3f} | "
            f"{row['r']:.3f} | {row['within_type_r2']:.3f} | {row['multivariate_r2']:.3f} |"
        )
    lines += ["", "## What the data support", ""]

    def get(regime: str, model: str) -> float | None:
        m = s[(s["regime"] == regime) & (s["model"] == model)]
        return float(m["r2"].iloc[0]) if len(m) else None

    model0 = next((m for m in s["model"] if m != "-"), "ridge")
    sc = get("single_cell", model0)
    ta = get("type_average", model0)
    lk = get("type_lookup", "-")
    best = s.iloc[0]
    if rep.paired is not None and sc is not None and ta is not None:
        d = rep.paired
        verdict = (
            "single-cell training beats type-average training"
            if d["ci_low"] > 0
            else "type-average training is at least as good"
            if d["ci_high"] < 0
            else "the difference is not resolved"
        )
        lines.append(
            f"* Single-cell vs type-average training ({model0}): R² {sc:.3f} vs {ta:.3f}; paired "
            f"difference {_fmt_ci(d)} — {verdict}."
        )
    if lk is not None and sc is not None:
        cmp = "beats" if sc > lk else "does not beat"
        lines.append(
            f"* The t-type lookup (no expression used at prediction, only the cell's t-type) "
            f"scores {lk:.3f}; single-cell {model0} {cmp} it ({sc:.3f}). t-types were assigned "
            "from expression (for Scala 2021 from the full transcriptome, more genes than the "
            "models see), so the lookup carries expression information of its own."
        )
    if rep.within_type is not None:
        w = rep.within_type
        sup = (
            "there is a small but resolved within-type signal"
            if w["ci_low"] > 0
            else "no within-type signal is resolved"
        )
        lines.append(
            f"* Within-type R² of {w['spec']} (how much better than the training type mean): "
            f"{_fmt_ci(w)} — {sup}."
        )
    lines.append(
        f"* Best spec: {best['regime']}:{best['model']} (R² {best['r2']:.3f}). "
        "Most of the predictable variance in these features is between t-types: expression "
        "predicts physiology largely by identifying the cell's type."
    )
    lines += [
        "* Not supported by these data: claims that expression explains physiological variation "
        "*within* a t-type beyond the numbers above; anything about human cells (no human "
        "expression matrix is available); causal roles of the top genes (they are predictive, "
        "and mostly type markers).",
        "",
        "## Per-feature R² (mean over repeats)",
        "",
    ]
    piv = (
        rep.scores.assign(spec=rep.scores["regime"] + ":" + rep.scores["model"])
        .groupby(["feature", "spec"], sort=False)["r2"]
        .mean()
        .unstack("spec")
    )
    cols = [c for c in piv.columns if not c.startswith("global_mean")]
    order_col = f"single_cell:{model0}" if f"single_cell:{model0}" in piv.columns else cols[0]
    piv = piv.sort_values(order_col, ascending=False)
    lines.append("| feature | " + " | ".join(cols) + " |")
    lines.append("|---|" + "---|" * len(cols))
    for feat, row in piv.iterrows():
        lines.append(f"| {feat} | " + " | ".join(f"{row[c]:.3f}" for c in cols) + " |")
    if rep.paired is not None:
        lines += ["", "## Paired single-cell − type-average R² difference per feature", ""]
        lines.append("| feature | difference | 95% CI |")
        lines.append("|---|---|---|")
        for _, r in rep.paired["per_feature"].iterrows():
            lines.append(
                f"| {r['feature']} | {r['diff']:+.3f} | {r['ci_low']:+.3f} to {r['ci_high']:+.3f} |"
            )
    if rep.held_out is not None:
        lines += [
            "",
            "## Held-out t-types (GroupKFold by t-type, 1 repeat)",
            "",
            "Test t-types are never seen in training, so 'within-type' here is relative to the "
            "training mean of the cell's family.",
            "",
        ]
        lines.append("| regime | model | R² | R² vs family mean |")
        lines.append("|---|---|---|---|")
        for _, r in rep.held_out.iterrows():
            lines.append(
                f"| {r['regime']} | {r['model']} | {r['r2']:.3f} | {r['within_type_r2']:.3f} |"
            )
    if len(rep.srrr_genes):
        top = ", ".join(f"{g} ({c}/{rep.srrr_fits})" for g, c in rep.srrr_genes.head(15).items())
        lines += [
            "",
            f"## Genes most often selected by sparse RRR across folds ({rep.srrr_genes.name})",
            "",
            top,
        ]
    if len(rep.top_genes):
        lines += ["", f"## Top genes per feature ({rep.top_genes['spec'].iloc[0]}, all cells)", ""]
        for feat, grp in rep.top_genes.groupby("feature", sort=False):
            genes = ", ".join(
                f"{g} ({w:+.2f})" for g, w in zip(grp["gene"], grp["weight"], strict=True)
            )
            lines.append("* " + str(feat) + f": {genes}")
    if rep.notes:
        lines += ["", "## Dataset caveats", ""] + [f"* {n}" for n in rep.notes]
    return "\n".join(lines) + "\n"
