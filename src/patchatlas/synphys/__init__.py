"""Synaptic physiology of multipatch experiments.

For now this engine holds the connectivity statistics (:mod:`patchatlas.synphys.connectivity`):
binomial confidence intervals of connection probabilities (:func:`proportion_ci`), the class ×
class connection-probability table (:func:`connectivity_matrix`) and probability against
intersomatic distance (:func:`connectivity_by_distance`). Pulse responses, PSP fits, connection
calls and short-term plasticity will join it. Like every engine it takes and returns in-memory
tables and never touches files or the atlas.
"""

from __future__ import annotations

from patchatlas.synphys.connectivity import (
    CI_METHODS,
    connectivity_by_distance,
    connectivity_matrix,
    proportion_ci,
)

__all__ = ["CI_METHODS", "connectivity_by_distance", "connectivity_matrix", "proportion_ci"]
