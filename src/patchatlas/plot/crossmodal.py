"""Figures for expression → physiology benchmarks and the human–mouse comparison.

Every function takes ``ax=`` (a new figure is made when None) and returns the axes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from patchatlas.crossmodal.benchmark import BenchmarkReport
    from patchatlas.crossmodal.evaluation import CrossModalResult

__all__ = [
    "benchmark_figures",
    "plot_group_comparison",
    "plot_predicted_vs_observed",
    "plot_r2_per_feature",
    "plot_top_genes",
]


def _ax(ax: Axes | None, figsize: tuple[float, float] = (6.0, 4.0)) -> Axes:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, new = plt.subplots(figsize=figsize)
    return new


def plot_r2_per_feature(
    scores: pd.DataFrame, *, specs: Sequence[str] | None = None, ax: Axes | None = None
) -> Axes:
    """Horizontal grouped bars: mean out-of-fold R² per feature (rows) and spec (colours),
    features sorted by the first spec; error bars = SD over repeats.

    Parameters
    ----------
    scores
        The score table of :func:`patchatlas.crossmodal.cross_validate`
        (``CrossModalResult.scores``: regime, model, feature, repeat, r2 ...).
    specs
        Specs to show, in order (``"single_cell:ridge"``, ``"type_lookup"`` ...); default:
        every spec of the table except ``global_mean``.
    ax
        Axes to draw on (default: a new figure sized to the number of features).

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.
    """
    df = scores.assign(spec=scores["regime"] + ":" + scores["model"].astype(str))
    df["spec"] = df["spec"].str.replace(":-", "", regex=False)
    if specs is None:
        specs = [s for s in dict.fromkeys(df["spec"]) if s != "global_mean"]
    df = df[df["spec"].isin(specs)]
    mean = df.groupby(["feature", "spec"])["r2"].mean().unstack("spec")[list(specs)]
    sd = df.groupby(["feature", "spec"])["r2"].std().unstack("spec")[list(specs)].fillna(0.0)
    order = mean[specs[0]].sort_values().index
    mean, sd = mean.loc[order], sd.loc[order]
    ax = _ax(ax, (7.0, 0.35 * len(order) * max(1, len(specs)) ** 0.5 + 1.5))
    h = 0.8 / len(specs)
    y = np.arange(len(order))
    for i, s in enumerate(specs):
        ax.barh(y + (i - (len(specs) - 1) / 2) * h, mean[s], height=h, xerr=sd[s], label=s)
    ax.set_yticks(y)
    ax.set_yticklabels(order)
    ax.axvline(0, color="k", lw=0.8)
    ax.set_xlabel("out-of-fold R²")
    ax.legend(fontsize="small", loc="lower right")
    return ax


def plot_predicted_vs_observed(
    result: CrossModalResult,
    spec: str,
    feature: str,
    *,
    repeat: int = 0,
    ax: Axes | None = None,
) -> Axes:
    """Scatter of out-of-fold predicted vs observed values of one feature, coloured by family.

    Parameters
    ----------
    result
        Output of :func:`patchatlas.crossmodal.cross_validate`.
    spec
        The spec whose predictions are shown (a key of ``result.predictions``).
    feature
        The feature (one of ``result.feature_names``).
    repeat
        Which CV repeat's predictions to show.
    ax
        Axes to draw on (default: a new 4 × 4 in figure).

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on, with the identity line and the repeat's R² in the title.
    """
    j = result.feature_names.index(feature)
    y = result.y[:, j]
    p = result.predictions[spec][repeat][:, j]
    ax = _ax(ax, (4.0, 4.0))
    fams = pd.Series(result.families)
    for fam in sorted(fams.unique()):
        m = (fams == fam).to_numpy()
        ax.scatter(y[m], p[m], s=6, alpha=0.6, label=fam)
    lo, hi = float(min(y.min(), p.min())), float(max(y.max(), p.max()))
    ax.plot([lo, hi], [lo, hi], color="k", lw=0.8)
    r2 = 1 - np.sum((y - p) ** 2) / np.sum((y - y.mean()) ** 2)
    ax.set_title(f"{feature} — {spec} (R² {r2:.2f})", fontsize="small")
    ax.set_xlabel("observed")
    ax.set_ylabel("predicted (out of fold)")
    if fams.nunique() <= 12:
        ax.legend(fontsize="x-small", markerscale=2)
    return ax


def plot_top_genes(top_genes: pd.DataFrame, feature: str, *, ax: Axes | None = None) -> Axes:
    """Bars of the top genes' weights (z-units) for one feature.

    Parameters
    ----------
    top_genes
        Table of :func:`patchatlas.crossmodal.gene_importance` (feature, rank, gene, weight).
    feature
        The feature whose genes are shown.
    ax
        Axes to draw on (default: a new figure sized to the number of genes).

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on: positive weights red, negative blue, rank 1 on top.
    """
    sub = top_genes[top_genes["feature"] == feature].sort_values("rank", ascending=False)
    ax = _ax(ax, (4.0, 0.3 * max(len(sub), 1) + 1.0))
    colors = np.where(sub["weight"] > 0, "tab:red", "tab:blue")
    ax.barh(sub["gene"], sub["weight"], color=colors)
    ax.axvline(0, color="k", lw=0.8)
    ax.set_title(feature, fontsize="small")
    ax.set_xlabel("weight (SD of feature per SD of gene)")
    return ax


def plot_group_comparison(
    values: pd.DataFrame,
    feature: str,
    *,
    group: str = "species",
    ax: Axes | None = None,
) -> Axes:
    """Box + strip plot of one feature across groups (e.g. human vs mouse).

    Parameters
    ----------
    values
        One row per cell, with the ``group`` column and the feature column.
    feature
        Column to plot (its unit is the table's, e.g. ``ap_width_ms``).
    group
        Column holding each cell's group; groups are shown in order of appearance.
    ax
        Axes to draw on (default: a new 3 × 3.5 in figure).

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.
    """
    ax = _ax(ax, (3.0, 3.5))
    groups = [g for g in dict.fromkeys(values[group]) if pd.notna(g)]
    data = [values.loc[values[group] == g, feature].dropna().to_numpy() for g in groups]
    ax.boxplot(data, showfliers=False)
    ax.set_xticks(range(1, len(groups) + 1))
    ax.set_xticklabels([str(g) for g in groups])
    rng = np.random.default_rng(0)
    for i, d in enumerate(data, start=1):
        ax.scatter(i + 0.08 * rng.standard_normal(d.size), d, s=4, alpha=0.4, color="k")
    ax.set_title(feature, fontsize="small")
    return ax


def benchmark_figures(report: BenchmarkReport, *, n_scatter: int = 3) -> dict[str, Figure]:
    """The standard figures of a benchmark: R² per feature per regime, predicted vs observed
    for the best features, top genes. Returns name → matplotlib Figure (caller saves them).

    Parameters
    ----------
    report
        Output of :func:`patchatlas.crossmodal.run_benchmark`.
    n_scatter
        Predicted-vs-observed panels: the best features of the first single-cell spec.

    Returns
    -------
    dict of str to matplotlib.figure.Figure
        ``"r2_per_feature"``, ``"predicted_vs_observed"`` and, when the report has top genes,
        ``"top_genes"``; save them with :func:`patchatlas.io.results.write_results`.
    """
    import matplotlib.pyplot as plt

    figs: dict[str, Any] = {}
    res = report.result
    specs = [s.replace(":-", "") for s in res.specs if not s.startswith("global_mean")]
    fig, ax = plt.subplots(figsize=(8.0, 0.45 * len(res.feature_names) + 2.0))
    plot_r2_per_feature(report.scores, specs=specs, ax=ax)
    ax.set_title(f"{report.dataset}: R² per feature and regime", fontsize="small")
    fig.tight_layout()
    figs["r2_per_feature"] = fig
    first = next((s for s in res.specs if s.startswith("single_cell:")), res.specs[0])
    sc = report.scores
    regime, _, model = first.partition(":")
    best = (
        sc[(sc["regime"] == regime) & (sc["model"] == (model or "-"))]
        .groupby("feature")["r2"]
        .mean()
        .sort_values(ascending=False)
        .index[:n_scatter]
    )
    fig, axes = plt.subplots(1, len(best), figsize=(4.0 * len(best), 4.0), squeeze=False)
    for a, feat in zip(axes[0], best, strict=True):
        plot_predicted_vs_observed(res, first, str(feat), ax=a)
    fig.tight_layout()
    figs["predicted_vs_observed"] = fig
    if len(report.top_genes):
        feats = list(dict.fromkeys(report.top_genes["feature"]))[: min(6, len(best) + 3)]
        feats = [str(f) for f in best if f in set(report.top_genes["feature"])] or feats
        fig, axes = plt.subplots(1, len(feats), figsize=(3.5 * len(feats), 4.0), squeeze=False)
        for a, feat in zip(axes[0], feats, strict=True):
            plot_top_genes(report.top_genes, feat, ax=a)
        fig.tight_layout()
        figs["top_genes"] = fig
    return figs
