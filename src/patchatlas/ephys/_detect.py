"""Private seam of :mod:`patchatlas.ephys`: one sweep through the spike detector.

Internal API (used by :mod:`patchatlas.ephys.spikes` and :mod:`patchatlas.ephys.train`):

* :func:`prepare`: the input checks and set-up of one sweep (time stamps, window, NaN, the lazy
  dV/dt filters, the robust cutoff): an empty table, or a :class:`~patchatlas.ephys._allen.Prep`;
* :func:`finish`: the spike table of a prepared sweep from its spike indices;
* :func:`detect`: both, with the spike indices of the active backend in between.

Spike indices and the table assembly come from :mod:`patchatlas.ephys._backend`, which chooses
between the NumPy paths and the compiled kernel; nothing here depends on that choice.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

import patchatlas.ephys._backend as backend
from patchatlas._version import __version__
from patchatlas.core.table import FeatureTable
from patchatlas.ephys._allen import (
    PROFILES,
    AllenParameters,
    DuplicateTimestampWarning,
    Prep,
    assemble_light,
    empty_table,
    params_dict,
    time_index,
)
from patchatlas.ephys._dvdt import (
    FilterCutoffWarning,
    FilterInfo,
    LazyDvdt,
    effective_cutoff,
    filtered_dvdt,
    is_uniform,
)
from patchatlas.ephys._notes import note
from patchatlas.errors import DataError, StimulusError

__all__ = ["detect", "finish", "prepare"]

FloatArray = npt.NDArray[np.float64]


def _as_trace(x: Any, name: str) -> FloatArray:
    try:
        # C-contiguous: what every backend reads fastest (a copy only for strided input)
        arr = np.ascontiguousarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"detect_spikes: {name} is not numeric ({exc})") from exc
    if arr.ndim != 1:
        raise DataError(f"detect_spikes: {name} must be 1-D, got shape {arr.shape}")
    return arr


def _noise_cutoff(dvdt: FloatArray, dv_cutoff: float) -> float:
    """Noise-adaptive dV/dt cutoff of the robust profile (V/s)."""
    if dvdt.size == 0:
        return dv_cutoff
    med = float(np.median(dvdt))
    sigma = 1.4826 * float(np.median(np.abs(dvdt - med)))
    return float(min(dv_cutoff, max(5.0, 5.0 * sigma)))


def detect(
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
    full: bool = True,
    grid: bool = False,
) -> FeatureTable:
    """:func:`~patchatlas.ephys.spikes.detect_spikes` of one sweep: :func:`prepare`, the
    backend's spike indices, :func:`finish`.

    ``full=False``: threshold and peak columns only (the same spikes). ``grid=True`` promises
    that ``t`` is ``t0 + arange(n) / rate`` (a uniform :class:`~patchatlas.core.recording.Sweep`):
    the whole-trace time-step checks are skipped.
    """
    pr = prepare(
        t,
        v,
        start=start,
        end=end,
        profile=profile,
        filter_khz=filter_khz,
        dv_cutoff=dv_cutoff,
        i=i,
        parameters=parameters,
        full=full,
        grid=grid,
    )
    if isinstance(pr, FeatureTable):
        return pr
    return finish(pr, backend.indices(pr))


def prepare(
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
    full: bool = True,
    grid: bool = False,
) -> FeatureTable | Prep:
    """Checks and set-up of one sweep (arguments as :func:`detect`).

    Returns
    -------
    FeatureTable or Prep
        A finished (empty) table when the sweep cannot hold a spike, else the prepared sweep
        for :func:`patchatlas.ephys._backend.indices` and :func:`finish`.

    Raises
    ------
    DataError, StimulusError
        As :func:`~patchatlas.ephys.spikes.detect_spikes`.
    """
    if profile not in PROFILES:
        raise DataError(f"detect_spikes: unknown profile {profile!r}; use one of {PROFILES}")
    tt = _as_trace(t, "t")
    vv = _as_trace(v, "v")
    if tt.shape != vv.shape:
        raise DataError(f"detect_spikes: t has {tt.size} samples but v has {vv.size}")
    ii = None if i is None else _as_trace(i, "i")
    if ii is not None and ii.shape != vv.shape:
        raise DataError(f"detect_spikes: i has {ii.size} samples but v has {vv.size}")
    p = parameters or AllenParameters(filter_khz=filter_khz, dv_cutoff=dv_cutoff)
    n = vv.size
    prov: dict[str, Any] = {
        "engine": f"patchatlas {__version__}",
        "profile": profile,
        "parameters": params_dict(p),
    }
    if n < 3:
        prov.update(window=(start, end), filter=None, note="fewer than 3 samples: no spikes")
        return empty_table(ii is not None, profile, prov)
    on_grid = grid and math.isfinite(float(tt[0])) and float(tt[-1]) > float(tt[0])
    dts = None if on_grid else np.diff(tt)
    dt_min = float(tt[-1] - tt[0]) / (n - 1) if dts is None else float(dts.min())
    if not math.isfinite(dt_min):
        raise DataError("detect_spikes: time stamps contain NaN or infinite values")
    if dt_min < 0:
        raise DataError("detect_spikes: time stamps decrease; sort the sweep by time first")
    if dt_min == 0 and dts is not None:
        dup = dts == 0
        # A repeated time stamp is not a new sample: drop the later one (explicitly, so that
        # indexes refer to the de-duplicated trace) instead of dividing by a zero time step.
        keep = np.concatenate(([True], ~dup))
        tt, vv = tt[keep], vv[keep]
        ii = None if ii is None else ii[keep]
        n = vv.size
        prov["duplicate_samples_dropped"] = int(dup.sum())
        prov["note"] = (
            "samples with a repeated time stamp were dropped; indexes refer to the "
            "de-duplicated trace"
        )
        note(
            f"detect_spikes: {int(dup.sum())} sample(s) with a repeated time stamp dropped; "
            "spike indexes refer to the de-duplicated trace",
            DuplicateTimestampWarning,
            stacklevel=3,
        )
    t_first, t_last = float(tt[0]), float(tt[-1])
    s = t_first if start is None or not math.isfinite(start) else float(start)
    e = t_last if end is None or not math.isfinite(end) else float(end)
    if e <= s:
        raise StimulusError(f"detect_spikes: analysis window [{s:g}, {e:g}] s is empty")
    if s > t_last or e < t_first:
        raise StimulusError(
            f"detect_spikes: analysis window [{s:g}, {e:g}] s lies outside the sweep "
            f"[{t_first:g}, {t_last:g}] s; check the stimulus window"
        )
    s, e = max(s, t_first), min(e, t_last)
    si, ei = int(time_index(tt, s)), int(time_index(tt, e))
    # a finite sum means every sample is finite (NaN and inf propagate); one pass, no mask
    if math.isfinite(float(np.add.reduce(vv))):
        vf = vv
    else:
        finite = np.isfinite(vv)
        if not finite[si : ei + 1].all():
            raise DataError(
                "detect_spikes: v has NaN or infinite samples inside the analysis window; "
                "crop or interpolate them first"
            )
        vf = np.where(finite, vv, np.interp(tt, tt[finite], vv[finite]))
    if on_grid:
        uni = (True, (float(tt[-1]) - float(tt[0])) / (n - 1))  # the step is_uniform gives
    else:
        uni = is_uniform(tt, dt=None if dt_min == 0 else dts)
    robust = profile == "robust"
    a, b = (0, n - 1) if robust else (si, ei)
    if uni[0]:
        # filtered dV/dt on demand (see LazyDvdt): only where the algorithm looks
        fs = 1.0 / uni[1]
        used, why = effective_cutoff(p.filter_khz, fs)
        if why:
            note(why, FilterCutoffWarning, stacklevel=3)
        lz = LazyDvdt(vf, uni[1], None if used is None else used * 1e3)
        if not backend.lazy_filter():
            lz.ensure_all()
        finfo = FilterInfo(
            requested_khz=None if p.filter_khz is None else float(p.filter_khz),
            used_khz=used,
            sampling_rate=fs,
            uniform=True,
            applied=used is not None,
            note=why,
        )
    else:
        dvdt0, finfo = filtered_dvdt(tt, vf, p.filter_khz, uniform=uni)
        lz = LazyDvdt.from_array(vf, dvdt0)
    prov.update(window=(s, e), window_index=(si, ei), filter=finfo.as_dict())
    prov["filter"].pop("valid", None)
    if lz.y.size < 2:
        return empty_table(ii is not None, profile, prov)
    if robust:
        lz.ensure_all()
        cutoff = _noise_cutoff(lz.y[si:ei], p.dv_cutoff)
        prov["dv_cutoff_used"] = cutoff
    else:
        cutoff = p.dv_cutoff

    hz: LazyDvdt | None = None
    hk_used: float | None = None
    if full and p.heavy_filter_khz is not None and finfo.uniform and finfo.applied:
        hk = effective_cutoff(float(p.heavy_filter_khz), finfo.sampling_rate)[0]
        if hk is not None:
            hz = LazyDvdt(vf, uni[1], hk * 1e3, fill="empty", efolds=20.0)
            prov["heavy_filter_khz"] = hk
            hk_used = hk
    return Prep(
        tt,
        vf,
        ii,
        lz,
        hz,
        a,
        b,
        s,
        e,
        p,
        cutoff,
        full,
        profile,
        prov,
        (float(uni[1]), finfo.used_khz, hk_used) if uni[0] and finfo.applied else None,
    )


def finish(pr: Prep, idx: dict[str, Any]) -> FeatureTable:
    """The spike table of one prepared sweep from its spike indices."""
    if not idx:
        return empty_table(pr.i is not None, pr.profile, pr.prov)
    table = backend.assemble_table(pr, idx) if pr.full else assemble_light(pr.t, pr.v, idx, pr.prov)
    if pr.profile == "robust":
        th_t = table["threshold_t"]
        table["in_window"] = (th_t >= pr.s) & (th_t <= pr.e)
        table.provenance["depolarization_block"] = _depol_block(pr.t, pr.v, idx, pr.s, pr.e)
    return table


def _depol_block(t: FloatArray, v: FloatArray, idx: dict[str, Any], s: float, e: float) -> bool:
    """True when the train stops well before the window end while V stays depolarised.

    Rule: the last in-window spike peaks before ``end - 0.2 * (end - s)`` (and at least 50 ms
    before ``end``), and the mean V after it (to ``end``) stays above the mean threshold of
    the sweep's spikes minus 10 mV.
    """
    thr_t = t[idx["threshold"]]
    inw = (thr_t >= s) & (thr_t <= e)
    if not inw.any():
        return False
    last_peak = int(idx["peak"][inw][-1])
    gap = e - float(t[last_peak])
    if gap < max(0.05, 0.2 * (e - s)):
        return False
    ei = int(time_index(t, e))
    after = v[last_peak + int(0.01 * (1.0 / max(t[1] - t[0], 1e-9))) : ei]
    if after.size == 0:
        return False
    return bool(float(np.mean(after)) > float(np.mean(v[idx["threshold"][inw]])) - 10.0)
