"""Generalized leaky integrate-and-fire models (Teeter et al. 2018, *Nat Commun* 9:709).

Five levels: GLIF1 (LIF), GLIF2 (LIF-R: biological reset and spike-induced threshold), GLIF3
(LIF-ASC: two after-spike currents), GLIF4 (LIF-R-ASC) and GLIF5 (LIF-R-ASC-A: plus a
voltage-dependent threshold), written from the paper's equations (1)–(8).

* :class:`GlifModel` -- one model; :meth:`GlifModel.from_allen_config` reads an Allen
  ``neuron_config`` dict (get it from a file with :func:`patchatlas.io.read_glif_config`; the
  engine reads no files), :meth:`GlifModel.simulate` → :class:`GlifSimulation` (``voltage``,
  ``threshold`` in mV, interpolated ``spike_times`` in s) with ``method="exact"`` (exact
  exponential integration) or ``"euler"`` (the Allen simulator's scheme, equal to allensdk to
  ~1e-15 V); :func:`simulate_many` runs many parameter sets in parallel.
* :func:`fit` -- the entry point for data: GLIF1–5 fitted to a cell's sweeps (Teeter's
  regressions, then Nelder–Mead on the forced-spike likelihood), scored on held-out sweeps,
  with a plain-LIF reference and a statement of what the sweeps identify → :class:`GlifFit`.
* :mod:`~patchatlas.models.glif.metrics` -- Teeter's explained-variance ratio, the EV curve,
  the coincidence factor Γ and the spike-count error.
* :func:`synthetic_recording` -- recordings of known GLIF cells (ground truth).

The simulation runs in a compiled numba kernel when numba is installed, else on an equal NumPy
path (``PATCHATLAS_NUMBA=0`` forces it); :func:`backend` says which. Units: pA, mV, MΩ, pF, s.
"""

from __future__ import annotations

from patchatlas.models.glif import _backend
from patchatlas.models.glif._params import LEVEL_NAMES, LEVELS, TEMPLATE_IDS, GlifParameters
from patchatlas.models.glif.fit import BASELINE, GlifFit, fit, prepare_sweeps
from patchatlas.models.glif.metrics import (
    EV_SIGMAS,
    coincidence_factor,
    ev_curve,
    explained_variance,
    explained_variance_ratio,
    smoothed_train,
    spike_count_error,
)
from patchatlas.models.glif.model import GlifModel, GlifSimulation, simulate_many
from patchatlas.models.glif.synthetic import rheobase, synthetic_recording

__all__ = [
    "BASELINE",
    "EV_SIGMAS",
    "LEVELS",
    "LEVEL_NAMES",
    "TEMPLATE_IDS",
    "GlifFit",
    "GlifModel",
    "GlifParameters",
    "GlifSimulation",
    "backend",
    "coincidence_factor",
    "ev_curve",
    "explained_variance",
    "explained_variance_ratio",
    "fit",
    "prepare_sweeps",
    "rheobase",
    "simulate_many",
    "smoothed_train",
    "spike_count_error",
    "synthetic_recording",
    "warm_up",
]


def backend() -> str:
    """The simulation backend in use: ``"numba"`` or ``"numpy"``.

    Returns
    -------
    str
        ``"numba"`` when the compiled kernel loads (and ``PATCHATLAS_NUMBA`` does not switch it
        off), else ``"numpy"``.
    """
    return _backend.active()


def warm_up() -> str:
    """Compile (or load from numba's cache) the GLIF kernel now, before the first simulation.

    Returns
    -------
    str
        The backend in use.
    """
    return _backend.warm_up()
