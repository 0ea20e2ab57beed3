"""Morphology renders: 2-D projections coloured by compartment, layer-aligned views, Sholl and
depth profiles. Every function takes ``ax=`` (created when ``None``) and returns it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from patchatlas.core.morphology import Morphology

__all__ = [
    "TYPE_COLORS",
    "plot_depth_profile",
    "plot_layer_aligned",
    "plot_morphology",
    "plot_sholl",
]

#: Allen convention: soma black, axon blue, basal dendrite red, apical dendrite magenta.
TYPE_COLORS: dict[int, str] = {
    1: "black",
    2: "tab:blue",
    3: "tab:red",
    4: "tab:purple",
}
_AXES = {"x": 0, "y": 1, "z": 2}
_NAMES = {1: "soma", 2: "axon", 3: "basal dendrite", 4: "apical dendrite"}


def _ax(ax: Any) -> Any:
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(5, 6))
    return ax


def plot_morphology(
    morph: Morphology,
    *,
    ax: Any = None,
    projection: str = "xy",
    colors: Mapping[int, str] | None = None,
    linewidth: float = 0.6,
    legend: bool = True,
    title: str | None = None,
) -> Any:
    """Draw every compartment as a segment in a 2-D projection, coloured by the child's type.

    Parameters
    ----------
    morph
        The morphology.
    ax
        Matplotlib Axes (new figure when ``None``).
    projection
        Two of ``x, y, z`` (``"xy"``, ``"xz"``, ``"zy"`` ...).
    colors
        Type → colour (default :data:`TYPE_COLORS`; other types grey).
    linewidth
        Line width of the segments, in points.
    legend
        Show a legend of the compartment types present.
    title
        Axes title (default: the morphology's label).

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on, equal aspect, axes labelled in µm; the soma is a disc of the soma
        radius.

    Raises
    ------
    patchatlas.errors.DataError
        ``projection`` is not two of ``x``, ``y``, ``z``.
    """
    from matplotlib.collections import LineCollection
    from matplotlib.lines import Line2D
    from matplotlib.patches import Circle

    ax = _ax(ax)
    if len(projection) != 2 or any(c not in _AXES for c in projection):
        from patchatlas.errors import DataError

        raise DataError(f"projection must be two of x, y, z (got {projection!r})")
    i, j = _AXES[projection[0]], _AXES[projection[1]]
    cmap = dict(TYPE_COLORS)
    cmap.update(colors or {})
    p = morph.parent
    rows = np.flatnonzero(p >= 0)
    pts = morph.xyz[:, [i, j]]
    segs = np.stack([pts[p[rows]], pts[rows]], axis=1)
    cols = [cmap.get(int(t), "grey") for t in morph.types[rows]]
    ax.add_collection(LineCollection(list(segs), colors=cols, linewidths=linewidth))
    if morph.has_soma:
        c = morph.soma_center[[i, j]]
        ax.add_patch(Circle((float(c[0]), float(c[1])), morph.soma_radius, color=cmap[1], zorder=3))
    ax.autoscale_view()
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_xlabel(f"{projection[0]} (µm)")
    ax.set_ylabel(f"{projection[1]} (µm)")
    ax.set_title(title if title is not None else morph.label, fontsize=9)
    if legend:
        present = sorted(set(np.unique(morph.types).tolist()) & set(_NAMES))
        handles = [Line2D([], [], color=cmap[t], label=_NAMES[t]) for t in present]
        ax.legend(handles=handles, fontsize=7, loc="best", frameon=False)
    return ax


def plot_layer_aligned(
    morph: Morphology,
    *,
    ax: Any = None,
    layer_depths: Mapping[str, float] | None = None,
    colors: Mapping[int, str] | None = None,
    linewidth: float = 0.6,
) -> Any:
    """Draw a layer-aligned morphology (pia at y = 0) with the reference layer boundaries.

    Parameters
    ----------
    morph
        A layer-aligned morphology (:func:`patchatlas.morphology.alignment.layer_align`).
    ax
        Matplotlib Axes (new figure when ``None``).
    layer_depths
        Top of each layer below pia in µm, drawn as dashed lines at ``y = −depth``
        (default: :data:`~patchatlas.morphology.alignment.MOUSE_LAYER_DEPTHS`).
    colors
        Type → colour (default :data:`TYPE_COLORS`; other types grey).
    linewidth
        Line width of the segments, in points.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on (x–y projection).
    """
    from patchatlas.morphology.alignment import MOUSE_LAYER_DEPTHS

    ax = plot_morphology(morph, ax=ax, projection="xy", colors=colors, linewidth=linewidth)
    depths = dict(MOUSE_LAYER_DEPTHS if layer_depths is None else layer_depths)
    bounds = [("pia", 0.0)] + [(k, float(v)) for k, v in depths.items()]
    _, x1 = ax.get_xlim()
    for name, d in bounds:
        ax.axhline(-d, color="0.6", lw=0.6, ls="--", zorder=0)
        ax.text(
            x1,
            -d,
            f" {'L' + name if name not in ('pia', 'wm') else name}",
            va="bottom",
            ha="right",
            fontsize=7,
            color="0.4",
        )
    ax.set_ylabel("depth from pia (µm, negative down)")
    return ax


def plot_sholl(
    radii: npt.ArrayLike, counts: npt.ArrayLike, *, ax: Any = None, label: str | None = None
) -> Any:
    """Sholl curve: crossings against radius.

    Parameters
    ----------
    radii
        Radii in µm (e.g. those passed to :func:`patchatlas.morphology.sholl_crossings`).
    counts
        Crossings per radius, same length.
    ax
        Matplotlib Axes (new figure when ``None``).
    label
        Legend label of the curve (a legend is drawn only when given).

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.
    """
    ax = _ax(ax)
    ax.plot(np.asarray(radii), np.asarray(counts), drawstyle="steps-mid", label=label)
    ax.set_xlabel("distance from soma (µm)")
    ax.set_ylabel("crossings")
    if label:
        ax.legend(fontsize=7, frameon=False)
    return ax


def plot_depth_profile(
    profiles: Mapping[int, npt.ArrayLike],
    *,
    ax: Any = None,
    bin_width: float = 5.0,
    types: Sequence[int] = (2, 3, 4),
) -> Any:
    """Node-count depth histograms per compartment type (one cell: 1-D arrays).

    Parameters
    ----------
    profiles
        SWC type → histogram over depth bins from pia, as
        :func:`~patchatlas.morphology.depth_profiles` gives them (for a 2-D array, the first
        row, i.e. the first cell, is drawn).
    ax
        Matplotlib Axes (new figure when ``None``).
    bin_width
        Width of the depth bins in µm.
    types
        Types to draw (absent or empty ones are skipped).

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on: node counts (x) against depth in µm, negative down (y).
    """
    ax = _ax(ax)
    for t in types:
        if t not in profiles:
            continue
        h = np.atleast_2d(np.asarray(profiles[t], dtype=float))[0]
        if not h.any():
            continue
        depth = (np.arange(h.size) + 0.5) * bin_width
        ax.plot(h, -depth, color=TYPE_COLORS.get(t, "grey"), label=_NAMES.get(t, str(t)))
    ax.set_xlabel("nodes per bin")
    ax.set_ylabel("depth (µm, negative down)")
    ax.legend(fontsize=7, frameon=False)
    return ax
