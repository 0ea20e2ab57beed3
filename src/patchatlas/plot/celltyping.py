"""Figures for cell typing: confusion matrices, 2-D embeddings coloured by type, calibration
and model-selection curves, model comparison bars.

Every function takes ``ax=`` (a new figure is made when None) and returns the axes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "plot_bic",
    "plot_calibration",
    "plot_confusion",
    "plot_embedding",
    "plot_model_scores",
    "type_colors",
]


def _ax(ax: Axes | None, figsize: tuple[float, float] = (6.0, 5.0)) -> Axes:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, new = plt.subplots(figsize=figsize)
    return new


def type_colors(labels: Sequence[Any]) -> dict[str, Any]:
    """A stable colour per label (tab20, then cycling).

    Parameters
    ----------
    labels
        The labels (order decides the colours; sorted labels give stable colours).

    Returns
    -------
    dict
        Label → RGBA tuple.
    """
    import matplotlib

    cmap = matplotlib.colormaps["tab20"]
    uniq = list(dict.fromkeys(str(x) for x in labels))
    return {lab: cmap(i % 20) for i, lab in enumerate(uniq)}


def plot_confusion(
    confusion: pd.DataFrame, *, normalize: bool = True, ax: Axes | None = None, title: str = ""
) -> Axes:
    """Heat map of a confusion matrix (rows true, columns predicted), numbers in the cells.

    Parameters
    ----------
    confusion
        Counts, as :func:`patchatlas.celltyping.confusion_table` returns them.
    normalize
        Show row fractions (recall on the diagonal) instead of counts.
    ax
        Axes to draw on.
    title
        Axes title.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.
    """
    k = max(confusion.shape)
    ax = _ax(ax, (1.0 + 0.55 * k, 0.8 + 0.5 * k))
    counts = confusion.to_numpy(dtype=float)
    tot = counts.sum(axis=1, keepdims=True)
    frac = np.divide(counts, tot, out=np.zeros_like(counts), where=tot > 0)
    show = frac if normalize else counts
    ax.imshow(frac, cmap="Blues", vmin=0, vmax=1)
    for i in range(counts.shape[0]):
        for j in range(counts.shape[1]):
            txt = f"{show[i, j]:.2f}" if normalize else f"{int(counts[i, j])}"
            ax.text(
                j,
                i,
                txt,
                ha="center",
                va="center",
                fontsize=7,
                color="white" if frac[i, j] > 0.6 else "black",
            )
    ax.set_xticks(
        range(counts.shape[1]), [str(c) for c in confusion.columns], rotation=45, ha="right"
    )
    ax.set_yticks(range(counts.shape[0]), [str(c) for c in confusion.index])
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if title:
        ax.set_title(title)
    return ax


def plot_embedding(
    xy: ArrayLike,
    labels: ArrayLike,
    *,
    ax: Axes | None = None,
    title: str = "",
    xlabel: str = "dim 1",
    ylabel: str = "dim 2",
    s: float = 6.0,
) -> Axes:
    """Scatter of a 2-D embedding, one colour per type, legend with counts.

    Parameters
    ----------
    xy
        Cells × 2 coordinates (:func:`patchatlas.celltyping.embed`).
    labels
        Type of each cell.
    ax
        Axes to draw on.
    title, xlabel, ylabel
        Texts.
    s
        Marker size.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.
    """
    ax = _ax(ax, (6.5, 5.0))
    pts = np.asarray(xy, dtype=float)
    lab = np.asarray(labels, dtype=object).astype(str)
    order = pd.Series(lab).value_counts()
    colors = type_colors(sorted(order.index))
    for t in order.index:
        sel = lab == t
        ax.scatter(
            pts[sel, 0],
            pts[sel, 1],
            s=s,
            color=colors[t],
            label=f"{t} ({sel.sum()})",
            alpha=0.7,
            lw=0,
        )
    ax.legend(fontsize=7, markerscale=2, frameon=False, loc="best")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    return ax


def plot_calibration(calibration: pd.DataFrame, *, ax: Axes | None = None, title: str = "") -> Axes:
    """Accuracy per confidence bin with its CI, against the diagonal.

    Parameters
    ----------
    calibration
        :func:`patchatlas.celltyping.calibration_table` output (optionally with a ``level``
        column: one line per level).
    ax
        Axes to draw on.
    title
        Axes title.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.
    """
    ax = _ax(ax, (4.5, 4.0))
    groups = calibration.groupby("level") if "level" in calibration.columns else [("", calibration)]
    for name, g in groups:
        x = g["mean_confidence"].to_numpy(float)
        y = g["accuracy"].to_numpy(float)
        err = np.vstack([y - g["ci_low"].to_numpy(float), g["ci_high"].to_numpy(float) - y])
        ax.errorbar(x, y, yerr=err, marker="o", capsize=3, label=str(name) or None)
    ax.plot([0, 1], [0, 1], color="0.7", lw=1, ls="--")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("confidence")
    ax.set_ylabel("accuracy")
    if "level" in calibration.columns:
        ax.legend(frameon=False)
    if title:
        ax.set_title(title)
    return ax


def plot_bic(selection: pd.DataFrame, *, ax: Axes | None = None, title: str = "") -> Axes:
    """BIC against the number of clusters, the minimum marked.

    Parameters
    ----------
    selection
        ``TypingResult.selection`` (``n_components`` or ``n_clusters``, ``bic``).
    ax
        Axes to draw on.
    title
        Axes title.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.
    """
    ax = _ax(ax, (4.5, 3.5))
    kcol = "n_components" if "n_components" in selection.columns else "n_clusters"
    k = selection[kcol].to_numpy()
    b = selection["bic"].to_numpy(float)
    ax.plot(k, b, marker="o")
    if np.isfinite(b).any():
        i = int(np.nanargmin(b))
        ax.plot([k[i]], [b[i]], marker="*", ms=14, color="C3")
    ax.set_xlabel("number of types")
    ax.set_ylabel("BIC")
    if title:
        ax.set_title(title)
    return ax


def plot_model_scores(
    summary: pd.DataFrame,
    *,
    metric: str = "balanced_accuracy",
    ax: Axes | None = None,
    title: str = "",
) -> Axes:
    """Bars of one metric per model with the 95 % CI.

    Parameters
    ----------
    summary
        ``TTypePrediction.summary`` (``model``, ``metric``, ``mean``, ``ci_low``, ``ci_high``).
    metric
        Which metric.
    ax
        Axes to draw on.
    title
        Axes title.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.
    """
    s = summary[summary["metric"] == metric]
    ax = _ax(ax, (1.5 + 1.2 * len(s), 3.5))
    y = s["mean"].to_numpy(float)
    err = np.vstack([y - s["ci_low"].to_numpy(float), s["ci_high"].to_numpy(float) - y])
    ax.bar(range(len(s)), y, yerr=err, capsize=4, color=[f"C{i}" for i in range(len(s))])
    ax.set_xticks(range(len(s)), s["model"].tolist(), rotation=20, ha="right")
    ax.set_ylim(0, 1)
    ax.set_ylabel(metric.replace("_", " "))
    if title:
        ax.set_title(title)
    return ax
