"""GLIF figures: model voltage over the recorded voltage, spike rasters, and a fit overview."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["plot_glif_fit", "plot_glif_trace", "plot_raster"]


def _axes(ax: Axes | None) -> Axes:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, new = plt.subplots(figsize=(8, 3))
    return new


def plot_glif_trace(
    t: npt.ArrayLike,
    v_model: npt.ArrayLike,
    *,
    v_data: npt.ArrayLike | None = None,
    threshold: npt.ArrayLike | None = None,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Model voltage (and threshold) over the recorded voltage.

    Parameters
    ----------
    t
        Time (s).
    v_model
        Model voltage (mV; NaN in spike cuts).
    v_data
        Recorded voltage (mV), same samples.
    threshold
        Model threshold (mV).
    ax
        Axes to draw into (default: a new figure).
    title
        Axes title.

    Returns
    -------
    matplotlib.axes.Axes
        The axes.
    """
    ax = _axes(ax)
    tt = np.asarray(t, dtype=float)
    if v_data is not None:
        ax.plot(tt, np.asarray(v_data, dtype=float), color="0.55", lw=0.6, label="data")
    ax.plot(tt, np.asarray(v_model, dtype=float), color="tab:blue", lw=0.8, label="model")
    if threshold is not None:
        ax.plot(
            tt,
            np.asarray(threshold, dtype=float),
            color="tab:red",
            lw=0.6,
            ls="--",
            label="threshold",
        )
    ax.set_xlabel("time (s)")
    ax.set_ylabel("V (mV)")
    ax.legend(loc="upper right", fontsize=7, frameon=False)
    if title:
        ax.set_title(title, fontsize=9)
    return ax


def plot_raster(
    trains: Sequence[npt.ArrayLike],
    *,
    labels: Sequence[str] | None = None,
    colors: Sequence[str] | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Spike rasters, one row per train (top to bottom).

    Parameters
    ----------
    trains
        Spike times (s) per row.
    labels
        Row labels.
    colors
        Row colours.
    ax
        Axes to draw into.

    Returns
    -------
    matplotlib.axes.Axes
        The axes.
    """
    ax = _axes(ax)
    n = len(trains)
    for k, tr in enumerate(trains):
        c = colors[k] if colors is not None else "k"
        ax.vlines(np.asarray(tr, dtype=float), n - k - 0.4, n - k + 0.4, color=c, lw=0.8)
    ax.set_yticks(range(n, 0, -1))
    ax.set_yticklabels(
        list(labels) if labels is not None else [str(k) for k in range(n)], fontsize=7
    )
    ax.set_xlabel("time (s)")
    return ax


def plot_glif_fit(
    fit: Any, sweep_number: int | None = None, *, figure: Figure | None = None
) -> Figure:
    """Overview of a GLIF fit on one held-out sweep: data vs every level's voltage, and rasters.

    Parameters
    ----------
    fit
        A :class:`patchatlas.models.glif.GlifFit`.
    sweep_number
        The sweep to show (default: the held-out sweep with the most recorded spikes).
    figure
        Figure to draw into (default: a new one).

    Returns
    -------
    matplotlib.figure.Figure
        One voltage panel per level and a raster of data and every model.
    """
    import matplotlib.pyplot as plt

    pool = [fit.trace(n) for n in (fit.test_sweeps or fit.train_sweeps)]
    if sweep_number is None:
        tr = max(pool, key=lambda t: (t.spikes.size, t.number))
    else:
        tr = fit.trace(sweep_number)
    levels = sorted(fit.models)
    fig = figure or plt.figure(figsize=(10, 1.6 * (len(levels) + 1) + 0.6))
    axes = fig.subplots(len(levels) + 1, 1, sharex=True, squeeze=False)[:, 0]
    t = np.arange(tr.n) * tr.dt
    trains, names, colors = [tr.spikes * tr.dt], ["data"], ["k"]
    for ax, lv in zip(axes, levels, strict=False):
        sim = fit.models[lv].simulate(tr.i, tr.dt, method=fit.method, v_init=float(tr.v[0]))
        plot_glif_trace(t, sim.voltage, v_data=tr.v, threshold=sim.threshold, ax=ax)
        ax.set_xlabel("")
        ax.set_title(
            f"GLIF{lv}: {sim.n_spikes} spikes (data {tr.spikes.size}); held-out EV(10 ms) "
            f"{fit.score(lv, 'ev_10ms'):.2f}",
            fontsize=8,
        )
        trains.append(sim.spike_times)
        names.append(f"GLIF{lv}")
        colors.append("tab:blue")
    if fit.baseline is not None:
        base = fit.baseline.simulate(tr.i, tr.dt, method=fit.method, v_init=float(tr.v[0]))
        trains.append(base.spike_times)
        names.append("LIF")
        colors.append("tab:orange")
    plot_raster(trains, labels=names, colors=colors, ax=axes[-1])
    fig.suptitle(f"{fit.cell_id or 'cell'}: sweep {tr.number} ({tr.amplitude:g} pA)", fontsize=10)
    fig.tight_layout()
    return fig
