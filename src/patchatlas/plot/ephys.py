"""Electrophysiology figures: a sweep with its spike marks, the f-I curve, a phase plot."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

    from patchatlas.core.table import FeatureTable

__all__ = ["plot_fi_curve", "plot_phase", "plot_sweep"]

_MARKS = (
    ("threshold", "o", "tab:green"),
    ("peak", "^", "tab:red"),
    ("trough", "v", "tab:blue"),
    ("fast_trough", "s", "tab:purple"),
)


def _axes(ax: Axes | None) -> Axes:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, new = plt.subplots(figsize=(8, 3))
    return new


def plot_sweep(
    t: npt.ArrayLike,
    v: npt.ArrayLike,
    spikes: FeatureTable | None = None,
    *,
    window: tuple[float, float] | None = None,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Voltage trace with threshold/peak/trough/fast-trough marks and the stimulus window shaded.

    Parameters
    ----------
    t
        Time stamps in s.
    v
        Membrane potential in mV, same length.
    spikes
        Spike table of the sweep (:func:`patchatlas.ephys.detect_spikes`); its
        ``<mark>_t`` (s) and ``<mark>_v`` (mV) columns of threshold, peak, trough and fast
        trough are marked. ``None`` draws the trace only.
    window
        ``(start, end)`` of the stimulus in s, shaded (ignored unless both are finite).
    ax
        Axes to draw on (default: a new 8 × 3 in figure).
    title
        Axes title.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.
    """
    ax = _axes(ax)
    tt = np.asarray(t, dtype=float)
    vv = np.asarray(v, dtype=float)
    ax.plot(tt, vv, color="0.2", lw=0.7)
    if window is not None and np.all(np.isfinite(window)):
        ax.axvspan(window[0], window[1], color="0.9", zorder=0)
    if spikes is not None and spikes.n_rows:
        for name, marker, color in _MARKS:
            x, y = spikes[f"{name}_t"], spikes[f"{name}_v"]
            ok = np.isfinite(x) & np.isfinite(y)
            ax.plot(x[ok], y[ok], marker, ms=4, color=color, label=name, ls="none")
        ax.legend(loc="upper right", fontsize=7, frameon=False)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("V (mV)")
    if title:
        ax.set_title(title, fontsize=9)
    return ax


def plot_fi_curve(
    amplitudes: npt.ArrayLike,
    rates: npt.ArrayLike,
    *,
    slope: float | None = None,
    ax: Axes | None = None,
    label: str | None = None,
) -> Axes:
    """Firing rate vs injected current; ``slope`` (Hz/pA) draws the fitted line (spiking part).

    Parameters
    ----------
    amplitudes
        Injected current of each sweep in pA.
    rates
        Firing rate of each sweep in Hz, same length.
    slope
        f-I slope in Hz/pA (e.g. the cell's ``f_i_curve_slope``): drawn dashed over the
        sweeps with rate > 0, through their mean point. ``None`` or NaN draws no line.
    ax
        Axes to draw on (default: a new 8 × 3 in figure).
    label
        Legend label of the points.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.
    """
    ax = _axes(ax)
    a = np.asarray(amplitudes, dtype=float)
    r = np.asarray(rates, dtype=float)
    ax.plot(a, r, "o-", ms=4, label=label)
    if slope is not None and np.isfinite(slope) and np.any(r > 0):
        sp = r > 0
        c = float(np.mean(r[sp]) - slope * np.mean(a[sp]))
        xs = np.array([a[sp].min(), a[sp].max()])
        ax.plot(xs, slope * xs + c, "--", color="0.5", lw=1, label=f"{slope:.3g} Hz/pA")
        ax.legend(fontsize=7, frameon=False)
    ax.set_xlabel("I (pA)")
    ax.set_ylabel("rate (Hz)")
    return ax


def plot_phase(
    t: npt.ArrayLike,
    v: npt.ArrayLike,
    spikes: FeatureTable,
    *,
    spike: int = 0,
    before: float = 0.002,
    after: float = 0.005,
    ax: Axes | None = None,
) -> Axes:
    """Phase plot (dV/dt vs V) of one spike, from ``before`` s before threshold to ``after`` s.

    Parameters
    ----------
    t
        Time stamps in s (increasing).
    v
        Membrane potential in mV, same length.
    spikes
        Spike table of the sweep (its ``threshold_t`` in s and ``threshold_v`` in mV are used).
    spike
        Index of the spike in the table.
    before, after
        Time in s before and after the spike's threshold to plot.
    ax
        Axes to draw on (default: a new 8 × 3 in figure).

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on: dV/dt in V/s against V in mV, the threshold dotted; "no spike" when
        the table has fewer than ``spike + 1`` rows.
    """
    ax = _axes(ax)
    tt = np.asarray(t, dtype=float)
    vv = np.asarray(v, dtype=float)
    if spikes.n_rows <= spike:
        ax.text(0.5, 0.5, "no spike", ha="center", va="center", transform=ax.transAxes)
        return ax
    t0 = float(spikes["threshold_t"][spike])
    a, b = np.searchsorted(tt, [t0 - before, t0 + after])
    seg_t, seg_v = tt[a:b], vv[a:b]
    if seg_v.size > 2:
        dvdt = np.diff(seg_v) / np.diff(seg_t) * 1e-3
        ax.plot(seg_v[:-1], dvdt, color="0.2", lw=0.8)
        th = float(spikes["threshold_v"][spike])
        ax.axvline(th, color="tab:green", lw=0.8, ls=":")
    ax.set_xlabel("V (mV)")
    ax.set_ylabel("dV/dt (V/s)")
    return ax


def sweep_figure(sweep: Any, spikes: FeatureTable, *, title: str = "") -> Any:
    """A two-panel figure (sweep + first-spike phase plot) for the CLI."""
    import matplotlib.pyplot as plt

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 3.2), gridspec_kw={"width_ratios": [3, 1]})
    window = (sweep.stimulus.start, sweep.stimulus.end)
    plot_sweep(sweep.t, sweep.v, spikes, window=window, ax=a1, title=title)
    plot_phase(sweep.t, sweep.v, spikes, ax=a2)
    fig.tight_layout()
    return fig
