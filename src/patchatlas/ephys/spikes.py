"""Spike detection and per-spike features.

Two profiles:

``"allen"``
    The Allen Institute / IPFX definitions (restated in ``docs/ephys_parity.md``), re-implemented
    from the published descriptions and vectorised over spikes:

    1. dV/dt from a 4-pole Bessel low-pass (default 10 kHz) applied forward and backward, then a
       forward difference (:mod:`patchatlas.ephys._dvdt`; the cutoff is lowered, with a warning
       and provenance, where the sampling rate cannot carry it).
    2. Candidates: upward crossings of ``dv_cutoff`` (20 V/s) inside ``[start, end]``; a later
       candidate counts only if dV/dt went below 0 since the previous one.
    3. Peak: maximum of V from a candidate to the next one (or the window end). A candidate is
       merged with the next when dV/dt never goes below 0 between its peak and the next
       candidate; peaks below ``min_peak`` (-30 mV) or less than ``min_height`` (2 mV) above the
       candidate are rejected.
    4. Upstroke: maximum dV/dt from candidate to peak. Threshold: searching backward from the
       upstroke, the last sample whose dV/dt is at most ``thresh_frac`` (5 %) of the **mean
       upstroke of all spikes in the sweep** (so thresholds are coupled within a sweep).
    5. The last spike is *clipped* when V does not return to threshold + 1 mV before the window
       end. Spikes whose threshold is not after the previous peak are merged. Where
       threshold→peak lasts ``max_interval`` (5 ms) or more the threshold is searched again
       backward from the upstroke down to ``peak - max_interval``; failing that, the peak is
       searched again within ``2 * max_interval`` of the threshold; failing that, the spike is
       dropped.
    6. Trough: minimum V from peak to the next threshold (window end for the last spike).
       Downstroke: minimum dV/dt from peak to trough. Fast trough: first sample after the
       steepest repolarisation whose dV/dt is back above 1 % of it. ADP: a 1 kHz-filtered
       dV/dt rising above 0.5 V/s within 2 ms of the fast trough, followed by a zero crossing
       within 5 ms, with a drop of at least 0.5 mV after it and at most 10 mV above the fast
       trough. Slow trough: minimum V after the ADP (or after the fast trough) before the next
       spike. ``isi_type`` is ``"direct"`` when the fast trough is that minimum, ``"detour"``
       otherwise. The ADP and slow trough of the last spike are NaN.
    7. Width: full width at half of the fast-trough→peak height (half of threshold→peak when
       that level is below threshold), sample-quantised, crossings searched between threshold
       and fast trough.

``"robust"``
    Same features, with detection adapted to the trace: the dV/dt cutoff scales with the noise
    of dV/dt (``max(5 V/s, 5 x robust sigma)``, never above ``dv_cutoff``), so that attenuated
    spikes near depolarisation block are kept; candidates must still reach ``min_peak`` and
    ``min_height``. Spikes outside ``[start, end]`` are detected over the whole sweep and
    flagged (``in_window`` column) rather than silently counted or dropped; the provenance
    carries a ``depolarization_block`` flag.

All times are in s, voltages in mV, dV/dt in V/s, currents in pA.

Where things live: this module is the public API. The algorithm on index arrays and the
parameter definitions are in :mod:`patchatlas.ephys._allen`, the per-sweep checks and set-up in
:mod:`patchatlas.ephys._detect`, and the choice between the NumPy paths and the compiled
kernel in :mod:`patchatlas.ephys._backend` (``PATCHATLAS_NUMBA=0`` forces NumPy;
:func:`patchatlas.ephys.backend_info` says which one runs).
"""

from __future__ import annotations

import numpy.typing as npt

from patchatlas.core.table import FeatureTable
from patchatlas.ephys._allen import (
    PROFILES,
    SPIKE_COLUMNS,
    AllenParameters,
    DuplicateTimestampWarning,
    params_dict,
    time_index,
    with_parameters,
)
from patchatlas.ephys._detect import detect

__all__ = [
    "PROFILES",
    "SPIKE_COLUMNS",
    "AllenParameters",
    "DuplicateTimestampWarning",
    "detect_spikes",
    "params_dict",
    "time_index",
    "with_parameters",
]


def detect_spikes(
    t: npt.ArrayLike,
    v: npt.ArrayLike,
    *,
    start: float | None = None,
    end: float | None = None,
    profile: str = "allen",
    filter_khz: float | None = 10.0,
    dv_cutoff: float = 20.0,
    i: npt.ArrayLike | None = None,
    parameters: AllenParameters | None = None,
) -> FeatureTable:
    """Detect spikes and compute the per-spike features of one sweep.

    Parameters
    ----------
    t, v
        Time (s) and membrane voltage (mV), 1-D, equal length. ``t`` must not decrease.
    start, end
        Analysis window in s (default: the whole sweep). Times beyond the sweep are clipped to
        it; a window entirely outside the sweep raises :class:`~patchatlas.errors.StimulusError`.
    profile
        ``"allen"`` (IPFX definitions) or ``"robust"`` (noise-adaptive cutoff, out-of-window
        spikes flagged); see the module documentation.
    filter_khz
        Bessel cutoff for dV/dt in kHz (``None``: no filter). Lowered with a warning where the
        sampling rate cannot carry it; the value used is in ``table.provenance["filter"]``.
    dv_cutoff
        Candidate dV/dt level in V/s (the robust profile never goes above it).
    i
        Optional current trace (pA): adds ``threshold_i``, ``peak_i``, ``trough_i``,
        ``fast_trough_i``, ``adp_i``, ``slow_trough_i``.
    parameters
        Full :class:`AllenParameters` (overrides ``filter_khz``/``dv_cutoff`` when given).

    Returns
    -------
    FeatureTable
        One row per spike with the IPFX per-spike names (indexes are sample indexes into ``v``;
        ``*_index`` columns other than threshold/peak/upstroke are float with NaN where
        undefined), plus ``in_window`` (bool) for the robust profile. ``table.provenance``
        records the profile, window, filter actually used and parameters.

    Raises
    ------
    DataError
        Traces of unequal length, not 1-D, NaN inside the window, or time running backwards.
    StimulusError
        A window that does not overlap the sweep, or ``end <= start``.
    """
    return detect(
        t,
        v,
        start=start,
        end=end,
        profile=profile,
        filter_khz=filter_khz,
        dv_cutoff=dv_cutoff,
        i=i,
        parameters=parameters,
    )
