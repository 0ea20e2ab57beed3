"""Figures for synaptic physiology: connectivity matrices, probability against distance, pairs.

Every function takes ``ax=`` (a new figure is made when None) and returns the axes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["plot_connectivity_matrix", "plot_distance_profile", "plot_psp_fit"]


def _ax(ax: Axes | None, figsize: tuple[float, float] = (5.0, 4.0)) -> Axes:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, new = plt.subplots(figsize=figsize)
    return new


def plot_connectivity_matrix(
    matrix: pd.DataFrame, *, classes: Sequence[str] | None = None, ax: Axes | None = None
) -> Axes:
    """Class × class connection probability with ``connected/tested`` and the interval.

    Parameters
    ----------
    matrix
        :func:`patchatlas.synphys.connectivity_matrix` output (``pre, post, n_tested,
        n_connected, probability, ci_low, ci_high``).
    classes
        Order of the classes (default: as they appear).
    ax
        Axes to draw on.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.
    """
    names = list(classes) if classes is not None else list(dict.fromkeys(matrix["pre"]))
    m = len(names)
    ax = _ax(ax, (1.6 * m + 2.0, 1.4 * m + 1.5))
    grid = np.full((m, m), np.nan)
    cell: dict[tuple[str, str], dict[Any, Any]] = {
        (str(r["pre"]), str(r["post"])): dict(r) for r in matrix.to_dict("records")
    }
    for i, a in enumerate(names):
        for j, b in enumerate(names):
            r = cell.get((a, b))
            if r is None or not r["n_tested"]:
                continue
            grid[i, j] = float(r["probability"])
            ax.text(
                j, i,
                f"{int(r['n_connected'])}/{int(r['n_tested'])}\n{r['probability']:.2f}\n"
                f"[{r['ci_low']:.2f}, {r['ci_high']:.2f}]",
                ha="center", va="center", fontsize=8,
            )  # fmt: skip
    img = ax.imshow(grid, cmap="Blues", vmin=0, vmax=max(0.05, float(np.nanmax(grid)) * 1.4)
                    if np.isfinite(grid).any() else 1.0)  # fmt: skip
    ax.set_xticks(range(m), names)
    ax.set_yticks(range(m), names)
    ax.set_xlabel("postsynaptic")
    ax.set_ylabel("presynaptic")
    ax.set_title("connection probability (Clopper-Pearson 95 %)")
    ax.figure.colorbar(img, ax=ax, fraction=0.046)
    return ax


def plot_distance_profile(
    bins: pd.DataFrame,
    *,
    profile: Any = None,
    label: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Connection probability against distance: binned estimates with intervals and a fit.

    Parameters
    ----------
    bins
        :func:`patchatlas.synphys.connectivity_by_distance` output.
    profile
        A :class:`~patchatlas.synphys.DistanceProfile` to draw (optional).
    label
        Legend label of the points.
    ax
        Axes to draw on.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.
    """
    ax = _ax(ax)
    mid = 0.5 * (bins["from_um"] + bins["to_um"])
    p = bins["probability"].to_numpy(dtype=float)
    err = np.vstack([p - bins["ci_low"].to_numpy(float), bins["ci_high"].to_numpy(float) - p])
    lines = ax.errorbar(mid, p, yerr=err, fmt="o", capsize=3, label=label)
    if profile is not None:
        x = np.linspace(0, float(bins["to_um"].max()) if len(bins) else 300.0, 200)
        ax.plot(
            x, profile.probability(x), color=lines[0].get_color(),
            label=f"Gaussian fit: p_max {profile.p_max:.2f} "
            f"[{profile.ci_low:.2f}, {profile.ci_high:.2f}], σ {profile.sigma:.0f} µm",
        )  # fmt: skip
    ax.set_xlabel("intersomatic distance (µm)")
    ax.set_ylabel("connection probability")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8)
    return ax


def plot_psp_fit(
    t: Any, y: Any, fit: Any = None, *, unit: str = "mV", ax: Axes | None = None
) -> Axes:
    """An (averaged) response and its template fit.

    Parameters
    ----------
    t
        Time (s; after the presynaptic spike for averages).
    y
        The response (``unit``).
    fit
        A :class:`~patchatlas.synphys.PspFit` (optional).
    unit
        Unit of ``y`` for the axis label.
    ax
        Axes to draw on.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.
    """
    ax = _ax(ax)
    tt = np.asarray(t, dtype=float)
    ax.plot(1e3 * tt, y, color="0.3", lw=1, label="response")
    if fit is not None:
        ax.plot(1e3 * tt, fit.curve(tt), color="C3", lw=1.5,
                label=f"fit: {fit.amp:.3g} {unit}, latency {1e3 * fit.latency:.2f} ms, "
                f"rise {1e3 * fit.rise_time:.2f} ms, τ {1e3 * fit.decay_tau:.1f} ms")  # fmt: skip
    ax.set_xlabel("time (ms)")
    ax.set_ylabel(unit)
    ax.legend(fontsize=8)
    return ax
