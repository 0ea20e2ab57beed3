"""Biophysical-model figures: a simulated sweep, model vs recorded sweeps, fit feature errors."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

    from patchatlas.core.recording import Sweep

__all__ = ["plot_feature_errors", "plot_model_vs_data", "plot_simulated_sweep"]


def _axes(ax: Axes | None, size: tuple[float, float] = (8, 3)) -> Axes:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, new = plt.subplots(figsize=size)
    return new


def plot_simulated_sweep(
    sweep: Sweep, *, ax: Axes | None = None, title: str | None = None, current: bool = True
) -> Axes:
    """A simulated sweep's voltage, with the injected current on a twin axis.

    Parameters
    ----------
    sweep
        The model sweep (v in mV, i in pA).
    ax
        Axes (default: a new 8 × 3 in figure).
    title
        Axes title.
    current
        Draw the current (pA) on a right-hand axis.

    Returns
    -------
    matplotlib.axes.Axes
        The voltage axes.
    """
    ax = _axes(ax)
    ax.plot(sweep.t, sweep.v, lw=0.7, color="k")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("V (mV)")
    if current and sweep.i is not None:
        tw = ax.twinx()
        tw.plot(sweep.t, sweep.i, lw=0.7, color="tab:orange")
        tw.set_ylabel("I (pA)", color="tab:orange")
    if title:
        ax.set_title(title)
    return ax


def plot_model_vs_data(
    data: Sweep, model: Sweep, *, ax: Axes | None = None, title: str | None = None
) -> Axes:
    """A recorded sweep and the model's sweep for the same step, aligned at the stimulus onset.

    Parameters
    ----------
    data
        The recorded sweep.
    model
        The model's sweep (its own stimulus timing).
    ax
        Axes (default: a new 8 × 3 in figure).
    title
        Axes title.

    Returns
    -------
    matplotlib.axes.Axes
        The axes, time in s from the stimulus onset.
    """
    ax = _axes(ax)
    d0 = data.stimulus.start if math.isfinite(data.stimulus.start) else 0.0
    m0 = model.stimulus.start if math.isfinite(model.stimulus.start) else 0.0
    ax.plot(data.t - d0, data.v, lw=0.7, color="k", label="data")
    ax.plot(model.t - m0, model.v, lw=0.7, color="tab:red", alpha=0.8, label="model")
    ax.set_xlabel("time from stimulus onset (s)")
    ax.set_ylabel("V (mV)")
    ax.legend(loc="upper right", frameon=False, fontsize="small")
    if title:
        ax.set_title(title)
    return ax


def plot_feature_errors(
    errors: dict[str, float] | Sequence[tuple[str, float]],
    *,
    ax: Axes | None = None,
    title: str | None = "feature errors",
) -> Axes:
    """Horizontal bars of SD-normalised feature errors.

    Parameters
    ----------
    errors
        Feature → error in SDs (e.g. ``FitResult.errors``).
    ax
        Axes (default: a new 5 × 4 in figure).
    title
        Axes title.

    Returns
    -------
    matplotlib.axes.Axes
        The axes.
    """
    ax = _axes(ax, (5, 4))
    items: list[Any] = list(errors.items()) if isinstance(errors, dict) else list(errors)
    names = [str(k) for k, _ in items]
    vals = np.array([float(v) for _, v in items], dtype=np.float64)
    y = np.arange(len(names))
    ax.barh(y, vals, color=["tab:red" if v > 2 else "tab:blue" for v in vals])
    ax.set_yticks(y, names)
    ax.invert_yaxis()
    ax.axvline(1.0, color="0.5", lw=0.8, ls="--")
    ax.set_xlabel("error (SD of the data)")
    if title:
        ax.set_title(title)
    return ax
