"""Matplotlib figures (optional ``[plot]`` extra); every function takes ``ax=`` and returns it.

matplotlib itself is imported only when a figure is drawn, so ``import patchatlas.plot`` works
without it.

* :mod:`~patchatlas.plot.ephys` — sweeps with spike marks, f-I curves, phase plots.
* :mod:`~patchatlas.plot.morphology` — 2-D projections, layer-aligned cells, depth profiles,
  Sholl curves.
* :mod:`~patchatlas.plot.crossmodal` — expression → physiology benchmark figures.
* :mod:`~patchatlas.plot.synphys` — connectivity matrices, probability against distance, PSP fits.
"""

from __future__ import annotations

from patchatlas.plot.crossmodal import (
    benchmark_figures,
    plot_group_comparison,
    plot_predicted_vs_observed,
    plot_r2_per_feature,
    plot_top_genes,
)
from patchatlas.plot.ephys import plot_fi_curve, plot_phase, plot_sweep
from patchatlas.plot.morphology import (
    TYPE_COLORS,
    plot_depth_profile,
    plot_layer_aligned,
    plot_morphology,
    plot_sholl,
)
from patchatlas.plot.synphys import (
    plot_connectivity_matrix,
    plot_distance_profile,
    plot_psp_fit,
)

__all__ = [
    "TYPE_COLORS",
    "benchmark_figures",
    "plot_connectivity_matrix",
    "plot_depth_profile",
    "plot_distance_profile",
    "plot_fi_curve",
    "plot_group_comparison",
    "plot_layer_aligned",
    "plot_morphology",
    "plot_phase",
    "plot_predicted_vs_observed",
    "plot_psp_fit",
    "plot_r2_per_feature",
    "plot_sholl",
    "plot_sweep",
    "plot_top_genes",
]
