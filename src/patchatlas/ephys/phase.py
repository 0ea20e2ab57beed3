"""The phase plane of an action potential: dV/dt against V around one spike.

:func:`phase_plane` cuts a window around a spike's threshold time (as found by the spike
detector, e.g. the ``threshold_t`` of a stored spike) and differentiates the unfiltered trace.
It finds no spikes itself: which spike to show is the caller's choice, taken from
:func:`patchatlas.ephys.analyze` or :func:`patchatlas.ephys.detect_spikes`.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from patchatlas.errors import DataError, ParameterError

__all__ = ["phase_plane"]

FloatArray = npt.NDArray[np.float64]


def phase_plane(
    t: npt.ArrayLike,
    v: npt.ArrayLike,
    threshold_t: float,
    *,
    before_s: float = 0.002,
    after_s: float = 0.004,
) -> tuple[FloatArray, FloatArray]:
    """Membrane potential and its rate of change around one action potential.

    The samples with ``threshold_t - before_s <= t <= threshold_t + after_s`` are returned with
    their dV/dt: central differences of the unfiltered trace (a window that reaches the end of
    the sweep uses a one-sided difference there). Plot ``dvdt`` against ``v`` for the phase plot.

    Parameters
    ----------
    t
        Sample times (s), strictly increasing, one per sample of ``v``.
    v
        Membrane potential (mV).
    threshold_t
        Threshold time of the spike (s), within ``t``; e.g. the ``threshold_t`` of a spike
        returned by :func:`patchatlas.ephys.detect_spikes` or stored in the atlas
        (:meth:`patchatlas.atlas.Atlas.spikes`).
    before_s, after_s
        Window before and after ``threshold_t`` (s), both ≥ 0.

    Returns
    -------
    v : numpy.ndarray
        Membrane potential (mV) of the samples in the window.
    dvdt : numpy.ndarray
        dV/dt at the same samples (V/s, equal to mV/ms).

    Raises
    ------
    patchatlas.errors.DataError
        ``t`` and ``v`` are not 1-D arrays of the same length with at least 2 samples, or ``t``
        is not strictly increasing.
    patchatlas.errors.ParameterError
        ``threshold_t`` is not a time within ``t``, or a window is negative or not finite.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(0, 0.01, 1e-5)
    >>> v = -70 + 90 * np.exp(-(((t - 0.005) / 0.0003) ** 2))
    >>> vv, dvdt = phase_plane(t, v, 0.0045, before_s=0.001, after_s=0.002)
    >>> bool(dvdt.max() > 100)
    True
    """
    ta = np.asarray(t, dtype=np.float64)
    va = np.asarray(v, dtype=np.float64)
    if ta.ndim != 1 or va.ndim != 1 or ta.shape != va.shape or ta.size < 2:
        raise DataError(
            f"phase_plane(): t {ta.shape} and v {va.shape} must be 1-D arrays of the same "
            "length with at least 2 samples; pass one sweep's time and voltage"
        )
    if not bool(np.all(np.diff(ta) > 0)):
        raise DataError(
            "phase_plane(): t is not strictly increasing; pass the sweep's sample times (s)"
        )
    for name, value in (("before_s", before_s), ("after_s", after_s)):
        if not (math.isfinite(value) and value >= 0):
            raise ParameterError(f"phase_plane({name}={value!r}): give a window ≥ 0 s")
    t0 = float(threshold_t)
    if not (math.isfinite(t0) and ta[0] <= t0 <= ta[-1]):
        raise ParameterError(
            f"phase_plane(threshold_t={threshold_t!r}): not a time within the sweep "
            f"({ta[0]:g} to {ta[-1]:g} s); pass the threshold time (s) of one of its spikes"
        )
    lo = int(np.searchsorted(ta, t0 - before_s, side="left"))
    hi = int(np.searchsorted(ta, t0 + after_s, side="right"))
    # one neighbour on each side (where the sweep has one), so that the window's first and last
    # samples get central differences too
    a, b = max(lo - 1, 0), min(hi + 1, ta.size)
    dvdt = np.gradient(va[a:b], ta[a:b]) / 1000.0  # mV/s -> V/s
    return va[lo:hi].copy(), dvdt[lo - a : hi - a]
