"""Private seam of :mod:`patchatlas.ephys`: the Allen profile on index arrays (NumPy reference).

Internal API shared by the spike-detector backends (chosen in :mod:`patchatlas.ephys._backend`);
nothing here is public except what :mod:`patchatlas.ephys.spikes` re-exports.

* Definitions: :class:`AllenParameters`, :data:`SPIKE_COLUMNS`, :data:`POINTS`,
  :data:`PROFILES`, :func:`params_dict`, :func:`time_index` (re-exported by
  :mod:`patchatlas.ephys.spikes`, where users find them).
* :class:`Prep`: one sweep checked and set up for detection (made by
  :func:`patchatlas.ephys._detect.prepare`).
* The per-sweep vectorised detection, :func:`allen_indices` (:func:`sweep_indices` on a
  :class:`Prep`), the reference that the batched path (:mod:`patchatlas.ephys._batched`) and the
  compiled kernel (:mod:`patchatlas.ephys._kernel`) equal by test, and its building blocks that
  the batched path reuses (:func:`argext_lazy`, :func:`where_lazy`, :func:`adp_slow_trough`,
  :func:`widths`, :func:`fix_long_threshold_peak`).
* The spike table from indices: :func:`assemble_table`, :func:`assemble_light`,
  :func:`empty_table`.

The definitions are in the module documentation of :mod:`patchatlas.ephys.spikes` (restated in
``docs/ephys_parity.md``). Indices are sample indices into the sweep; ``-1`` marks "none".
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt

from patchatlas.core.table import FeatureTable
from patchatlas.ephys._dvdt import LazyDvdt
from patchatlas.ephys._segments import seg_argext, seg_first_where, seg_last_where

__all__ = [
    "POINTS",
    "PROFILES",
    "SPIKE_COLUMNS",
    "AllenParameters",
    "DuplicateTimestampWarning",
    "Prep",
    "adp_slow_trough",
    "allen_indices",
    "argext_lazy",
    "assemble_light",
    "assemble_table",
    "empty_table",
    "fix_long_threshold_peak",
    "params_dict",
    "sweep_indices",
    "time_index",
    "where_lazy",
    "widths",
    "with_parameters",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: detection profiles (see :mod:`patchatlas.ephys.spikes`)
PROFILES = ("allen", "robust")

SPIKE_COLUMNS = (
    "threshold_index",
    "threshold_t",
    "threshold_v",
    "peak_index",
    "peak_t",
    "peak_v",
    "trough_index",
    "trough_t",
    "trough_v",
    "upstroke",
    "upstroke_index",
    "upstroke_t",
    "upstroke_v",
    "downstroke",
    "downstroke_index",
    "downstroke_t",
    "downstroke_v",
    "upstroke_downstroke_ratio",
    "width",
    "fast_trough_index",
    "fast_trough_t",
    "fast_trough_v",
    "adp_index",
    "adp_t",
    "adp_v",
    "slow_trough_index",
    "slow_trough_t",
    "slow_trough_v",
    "isi_type",
    "clipped",
)
#: the points of a spike that have ``*_index``/``*_t``/``*_v`` (and ``*_i``) columns
POINTS = ("threshold", "peak", "trough", "fast_trough", "adp", "slow_trough")


@dataclass(frozen=True, slots=True)
class AllenParameters:
    """Detection and feature parameters (IPFX defaults).

    Attributes
    ----------
    filter_khz
        Bessel cutoff for dV/dt (kHz), ``None`` for none.
    dv_cutoff
        Candidate dV/dt level (V/s).
    max_interval
        Longest threshold→peak interval (s).
    min_height
        Smallest peak − candidate height (mV).
    min_peak
        Lowest peak (mV).
    thresh_frac
        Threshold level as a fraction of the sweep-mean upstroke.
    clip_tol
        The last spike is clipped unless V returns to threshold + ``clip_tol`` (mV).
    heavy_filter_khz, term_frac, adp_thresh, adp_tol, flat_interval, adp_max_delta_t,
    adp_max_delta_v
        Fast trough / ADP / slow trough rules (kHz, fraction, V/s, mV, s, s, mV).
    """

    filter_khz: float | None = 10.0
    dv_cutoff: float = 20.0
    max_interval: float = 0.005
    min_height: float = 2.0
    min_peak: float = -30.0
    thresh_frac: float = 0.05
    clip_tol: float = 1.0
    heavy_filter_khz: float = 1.0
    term_frac: float = 0.01
    adp_thresh: float = 0.5
    adp_tol: float = 0.5
    flat_interval: float = 0.002
    adp_max_delta_t: float = 0.005
    adp_max_delta_v: float = 10.0


@lru_cache(maxsize=32)
def _params_cached(p: AllenParameters) -> tuple[tuple[str, Any], ...]:
    return tuple(asdict(p).items())


def params_dict(p: AllenParameters) -> dict[str, Any]:
    """The parameters as a plain dict (for provenance records).

    Parameters
    ----------
    p
        Detection parameters.

    Returns
    -------
    dict
        Field name → value.
    """
    return dict(_params_cached(p))


class DuplicateTimestampWarning(UserWarning):
    """Samples with a repeated time stamp were dropped before detection."""


# the public home of these classes (re-exported there; pickles and docs use that path)
AllenParameters.__module__ = "patchatlas.ephys.spikes"
DuplicateTimestampWarning.__module__ = "patchatlas.ephys.spikes"


# --------------------------------------------------------------------------------------------
# time → index
# --------------------------------------------------------------------------------------------


def time_index(t: FloatArray, x: float | FloatArray) -> Any:
    """Index of the sample nearest to time ``x`` (ties go to the earlier sample), clipped.

    Equal to ``argmin(|t - x|)``, computed by binary search instead of an O(n) scan.

    Parameters
    ----------
    t
        Time stamps (s), not decreasing.
    x
        One time or an array of times (s).

    Returns
    -------
    int or numpy.ndarray
        The sample index (an int for a scalar ``x``, int64 array otherwise).
    """
    n = t.size
    if np.ndim(x) == 0:
        xf = float(x)
        j = int(np.searchsorted(t, xf, side="left"))
        if j <= 0:
            return 0
        if j >= n:
            return n - 1
        return j - 1 if abs(xf - float(t[j - 1])) <= abs(float(t[j]) - xf) else j
    xs = np.asarray(x, dtype=np.float64)
    k = np.searchsorted(t, xs, side="left")
    k = np.clip(k, 1, max(n - 1, 1))
    lo = t[k - 1]
    hi = t[np.minimum(k, n - 1)]
    pick_lo = np.abs(xs - lo) <= np.abs(hi - xs)
    out = np.where(pick_lo, k - 1, k)
    out = np.clip(out, 0, n - 1)
    if np.ndim(out) == 0:
        return int(out)
    return out.astype(np.int64)


# --------------------------------------------------------------------------------------------
# the Allen pipeline on index arrays
# --------------------------------------------------------------------------------------------


def any_below_zero(lz: LazyDvdt, a: IntArray, b: IntArray) -> npt.NDArray[np.bool_]:
    """Per pair: does filtered dV/dt go below 0 somewhere in ``[a, b)``?

    Negative samples are looked for among filtered samples first; a pair without one whose
    range still has unfiltered samples gets its whole range filtered and checked again.
    """
    n = lz.y.size
    a = np.minimum(np.maximum(a, 0), n)
    b = np.minimum(np.maximum(a, b), n)
    lo, hi = int(a.min()), int(b.max())
    ra, rb = a - lo, b - lo
    res = np.zeros(a.size, bool)
    for _ in range(2):
        seg = lz.y[lo:hi]
        if lz.filtered:
            known = lz.known_samples()[lo:hi]
            neg = (seg < 0) & known
        else:
            known = None
            neg = seg < 0
        negc = np.zeros(hi - lo + 1, np.int64)
        np.cumsum(neg, out=negc[1:])
        res = (negc[rb] - negc[ra]) > 0
        if known is None:
            return res
        knc = np.zeros(hi - lo + 1, np.int64)
        np.cumsum(~known, out=knc[1:])
        unsure = ~res & ((knc[rb] - knc[ra]) > 0)
        if not unsure.any():
            return res
        lz.ensure(a[unsure], b[unsure])
    return res


def argext_lazy(
    lz: LazyDvdt, starts: IntArray, ends: IntArray, *, mode: str, look: int
) -> IntArray:
    """First argmax/argmin of filtered dV/dt over ``[s, e)``, filtering as little as possible.

    The first ``look`` samples of each range are filtered; the extreme found there is accepted
    when the filtered values in the rest of the range provably cannot beat it (|filtered| is at
    most ``sum|h|`` x max|raw| nearby); otherwise the whole range is filtered.
    """
    if not lz.filtered or starts.size == 0:
        return seg_argext(lz.y, starts, ends, mode=mode)
    head_end = np.minimum(ends, starts + look)
    lz.ensure(starts, head_end)
    res = seg_argext(lz.y, starts, ends, mode=mode)
    rest = ends > head_end
    if rest.any():
        bound = lz.unknown_bound(head_end[rest], ends[rest])
        has_unknown = bound > 0
        best = lz.y[np.maximum(res[rest], 0)]
        beaten = (bound >= best) if mode == "max" else (-bound <= best)
        redo = has_unknown & (beaten | (res[rest] < 0))
        if redo.any():
            idx = np.flatnonzero(rest)[redo]
            lz.ensure(starts[idx], ends[idx])
            res[idx] = seg_argext(lz.y, starts[idx], ends[idx], mode=mode)
    return res


def where_lazy(
    lz: LazyDvdt,
    starts: IntArray,
    ends: IntArray,
    level: npt.ArrayLike,
    *,
    op: str,
    last: bool,
    look: int,
) -> IntArray:
    """First (or last) sample of ``[s, e)`` with ``y op level``, filtering near the search start.

    Forward searches (``last=False``) filter ``[s, s + look)`` first, backward searches
    ``[e - look, e)``; ranges without a hit there are searched again with a 4x longer reach,
    then in full. A hit in a partial range is final: it is the first (last) one of the range.
    """
    fn = seg_last_where if last else seg_first_where
    lev = np.array(np.broadcast_to(np.asarray(level, dtype=np.float64), starts.shape))
    if not lz.filtered or starts.size == 0:
        return fn(lz.y, starts, ends, lev, op=op)
    res = np.full(starts.size, -1, np.int64)
    todo = np.arange(starts.size)
    reach: int | None = look
    while todo.size:
        s, e = starts[todo], ends[todo]
        if reach is None:
            ps, pe = s, e
        elif last:
            ps, pe = np.maximum(s, e - reach), e
        else:
            ps, pe = s, np.minimum(e, s + reach)
        lz.ensure(ps, pe)
        got = fn(lz.y, ps, pe, lev[todo], op=op)
        res[todo] = got
        partial = (ps > s) | (pe < e)
        todo = todo[(got < 0) & partial]
        reach = None if reach is None or reach >= 16 * look else 4 * reach
    return res


def allen_indices(
    t: FloatArray,
    v: FloatArray,
    lz: LazyDvdt,
    hz: LazyDvdt | None,
    si: int,
    ei: int,
    p: AllenParameters,
    *,
    cutoff: float,
    full: bool = True,
) -> dict[str, Any]:
    """All spike indices of one sweep (window ``[si, ei]``); empty arrays when none.

    ``full=False`` stops once thresholds and peaks are final (``threshold`` and ``peak`` only;
    ``clipped`` is not final yet): the spike count and times are the same as with ``full=True``.
    """
    look = max(8, math.ceil(0.003 * lz.fs)) if math.isfinite(lz.fs) else 64
    # candidates: filtered dV/dt can only reach the cutoff within the filter's reach of a raw
    # difference of at least cutoff / sum|h|
    if lz.filtered:
        raw_w = lz.raw_range(si, ei)
        zone = np.flatnonzero(np.abs(raw_w) >= 0.9 * cutoff / lz.g1) + si
        lz.ensure_points(zone, lz.margin + 2)
    w = lz.y[si:ei]
    ge = w >= cutoff
    cand = np.flatnonzero(~ge[:-1] & ge[1:]).astype(np.int64) + si
    if cand.size > 1:
        keep = np.concatenate(([True], any_below_zero(lz, cand[:-1], cand[1:])))
        cand = cand[keep]
    if cand.size == 0:
        return {}
    # peaks between consecutive candidates (last one: to the window end)
    nxt = np.append(cand[1:], ei)
    peaks = seg_argext(v, cand, nxt, mode="max")
    ok = peaks >= 0
    cand, peaks = cand[ok], peaks[ok]
    if cand.size == 0:
        return {}
    # merge a candidate into the previous one when dV/dt never goes negative in between
    if cand.size > 1:
        dmask = any_below_zero(lz, peaks[:-1], cand[1:])
        peaks = peaks[np.append(dmask, True)]
        cand = cand[np.concatenate(([True], dmask))]
    vp = v[peaks]
    ok = (vp >= p.min_peak) & (vp - v[cand] >= p.min_height)
    cand, peaks = cand[ok], peaks[ok]
    if cand.size == 0:
        return {}

    lz.ensure(cand, peaks)
    ups = seg_argext(lz.y, cand, peaks, mode="max")
    ok = ups >= 0
    cand, peaks, ups = cand[ok], peaks[ok], ups[ok]
    if cand.size == 0:
        return {}
    thr = refine_thresholds(lz, ups, p.thresh_frac, look)

    # clipped last spike: V never returns to threshold + tol before the window end
    clipped = np.zeros(thr.size, bool)
    tail = v[peaks[-1] : ei + 1]
    if tail.size == 0 or not np.any(tail <= v[thr[-1]] + p.clip_tol):
        clipped[-1] = True

    # merge spikes whose threshold does not come after the previous peak
    over = np.flatnonzero(thr[1:] <= peaks[:-1] + 1)
    if over.size:
        smask = np.ones(thr.size, bool)
        smask[over + 1] = False
        pmask = np.ones(thr.size, bool)
        pmask[over] = False
        thr, ups, clipped = thr[smask], ups[pmask], clipped[smask]
        peaks = peaks[pmask]

    thr, peaks, ups, clipped = fix_long_threshold_peak(t, v, lz, thr, peaks, ups, clipped, p)
    if thr.size == 0:
        return {}
    if not full:
        return {"threshold": thr, "peak": peaks, "clipped": clipped}

    lz.ensure(thr, peaks)
    ups = seg_argext(lz.y, thr, peaks, mode="max")
    n = thr.size
    nxt_thr = np.append(thr[1:], ei)
    troughs = seg_argext(v, peaks, nxt_thr, mode="min")
    troughs[clipped] = -1
    has_tr = troughs >= 0
    downs = np.full(n, -1, np.int64)
    if has_tr.any():
        downs[has_tr] = argext_lazy(lz, peaks[has_tr], troughs[has_tr], mode="min", look=look)

    # fast trough / ADP / slow trough: for the spikes not clipped at the window end, each up
    # to the next such spike's threshold (the window end for the last of them)
    fast = np.full(n, -1, np.int64)
    adp = np.full(n, -1, np.int64)
    slow = np.full(n, -1, np.int64)
    isi_type = np.full(n, None, dtype=object)
    sel = np.flatnonzero(~clipped)
    if sel.size:
        pk_s = peaks[sel]
        nx_s = np.append(thr[sel][1:], ei)
        dend = np.minimum(nx_s, lz.y.size)
        ds2 = argext_lazy(lz, pk_s, dend, mode="min", look=look)
        ok2 = ds2 >= 0
        ds2c = np.maximum(ds2, 0)
        target = p.term_frac * lz.y[ds2c]
        term = np.full(sel.size, -1, np.int64)
        if ok2.any():
            term[ok2] = where_lazy(
                lz, ds2c[ok2], dend[ok2], target[ok2], op=">=", last=False, look=look
            )
        has_ft = term >= 0
        clipped[sel[~has_ft]] = True
        if has_ft.any():
            k = sel[has_ft]
            tf = term[has_ft]
            nx = nx_s[has_ft]
            if hz is None:
                hv = lz.y
            else:
                reach = np.searchsorted(t, t[tf] + p.adp_max_delta_t) + 2
                hend = np.minimum(np.minimum(reach, nx), hz.y.size)
                hz.ensure_windows(tf, hend)
                hv = hz.y
            if hz is None:
                hend = np.minimum(nx, lz.y.size)
                lz.ensure(tf, hend)  # the ADP rules read the dV/dt there
            adp_h, slow_h = adp_slow_trough(t, v, hv, tf, nx, hend, p)
            no_adp = adp_h < 0
            mins = seg_argext(v, tf, nx, mode="min")
            mins_c = np.maximum(mins, 0)
            # without an ADP: "direct" when V falls less than adp_tol below the fast trough
            direct = no_adp & ((mins < 0) | (v[tf] - v[mins_c] < p.adp_tol))
            slow_h = np.where(no_adp, np.where(direct, -1, mins), slow_h)
            fast[k] = tf
            adp[k] = adp_h
            slow[k] = slow_h
            isi_type[k] = np.where(direct, "direct", "detour").astype(object)
    adp[-1] = -1
    slow[-1] = -1

    # Trough and downstroke follow the end-of-window clipping only; a spike clipped because
    # its fast trough cannot be found keeps them (as in IPFX) but has no width.
    width = widths(t, v, thr, peaks, fast, clipped)
    return {
        "threshold": thr,
        "peak": peaks,
        "upstroke": ups,
        "trough": troughs,
        "downstroke": downs,
        "fast_trough": fast,
        "adp": adp,
        "slow_trough": slow,
        "isi_type": isi_type,
        "clipped": clipped,
        "width": width,
    }


def refine_thresholds(lz: LazyDvdt, ups: IntArray, frac: float, look: int) -> IntArray:
    """Thresholds: per upstroke, the last sample since the previous upstroke whose dV/dt is at
    most ``frac`` x the mean upstroke of the sweep (the previous upstroke when none is)."""
    target = float(np.mean(lz.y[ups])) * frac
    prev = np.concatenate(([0], ups[:-1]))
    found = where_lazy(lz, prev + 1, ups + 1, target, op="<=", last=True, look=look)
    return np.where(found >= 0, found, prev).astype(np.int64)


def fix_long_threshold_peak(
    t: FloatArray,
    v: FloatArray,
    lz: LazyDvdt,
    thr: IntArray,
    peaks: IntArray,
    ups: IntArray,
    clipped: npt.NDArray[np.bool_],
    p: AllenParameters,
) -> tuple[IntArray, IntArray, IntArray, npt.NDArray[np.bool_]]:
    """The threshold→peak ≥ ``max_interval`` rule (module docs of :mod:`patchatlas.ephys.spikes`,
    step 5): returns the (thresholds, peaks, upstrokes, clipped) that remain."""
    long_ = np.flatnonzero(t[peaks] - t[thr] >= p.max_interval)
    if long_.size == 0:
        return thr, peaks, ups, clipped
    thr = thr.copy()
    peaks = peaks.copy()
    lz.ensure(ups, ups + 1)
    target = float(np.mean(lz.y[ups])) * p.thresh_frac
    # 1. keep the peak, search the threshold again back to peak - max_interval
    t0 = time_index(t, t[peaks[long_]] - p.max_interval)
    lz.ensure(t0 + 1, ups[long_] + 1)
    below = seg_last_where(lz.y, t0 + 1, ups[long_] + 1, target, op="<=")
    got = below >= 0
    thr[long_[got]] = below[got]
    # 2. keep the threshold, search the peak again within 2 * max_interval
    rest = long_[~got]
    drop = np.zeros(thr.size, bool)
    if rest.size:
        t1 = time_index(t, t[thr[rest]] + 2 * p.max_interval)
        newp = seg_argext(v, thr[rest], t1, mode="max")
        okp = newp >= 0
        newp_c = np.where(okp, newp, thr[rest])
        is_last = rest == thr.size - 1
        nxt_t = t[thr[np.minimum(rest + 1, thr.size - 1)]]
        good = okp & (t[newp_c] - t[thr[rest]] < p.max_interval) & (is_last | (t[newp_c] < nxt_t))
        peaks[rest[good]] = newp_c[good]
        drop[rest[~good]] = True
    keep = ~drop
    return thr[keep], peaks[keep], ups[keep], clipped[keep]


def adp_slow_trough(
    t: FloatArray,
    v: FloatArray,
    heavy: FloatArray,
    term: IntArray,
    nxt: IntArray,
    hend: IntArray,
    p: AllenParameters,
) -> tuple[IntArray, IntArray]:
    """ADP and slow trough; ``heavy`` is read only in ``[term, hend)``: the ADP rules never
    look further than ``adp_max_delta_t`` after the fast trough."""
    n = term.size
    adp = np.full(n, -1, np.int64)
    slow = np.full(n, -1, np.int64)
    cross = seg_first_where(heavy, term, hend, p.adp_thresh, op=">=")
    ok = cross >= 0
    ok[ok] = (t[cross[ok]] - t[term[ok]]) < p.flat_interval
    if not ok.any():
        return adp, slow
    k = np.flatnonzero(ok)
    zr = seg_first_where(heavy, cross[k], hend[k], 0.0, op="<=")
    k2 = zr >= 0
    k, zr = k[k2], zr[k2]
    if k.size == 0:
        return adp, slow
    mins = seg_argext(v, zr, nxt[k], mode="min")
    mins_c = np.where(mins >= 0, mins, zr)
    good = (
        (mins >= 0)
        & (v[zr] - v[mins_c] >= p.adp_tol)
        & (v[zr] - v[term[k]] <= p.adp_max_delta_v)
        & (t[zr] - t[term[k]] <= p.adp_max_delta_t)
    )
    adp[k[good]] = zr[good]
    slow[k[good]] = mins_c[good]
    return adp, slow


def widths(
    t: FloatArray,
    v: FloatArray,
    thr: IntArray,
    peaks: IntArray,
    ref: IntArray,
    clipped: npt.NDArray[np.bool_],
) -> FloatArray:
    """Full width at half height (s; NaN where undefined): half of ``ref``→peak (of
    threshold→peak when that level is below threshold), crossings searched between threshold
    and ``ref`` (the fast trough)."""
    n = thr.size
    w = np.full(n, np.nan)
    use = (ref >= 0) & ~clipped
    if not use.any():
        return w
    th, pk, tr = thr[use], peaks[use], ref[use]
    level = (v[pk] - v[tr]) / 2.0 + v[tr]
    alt = (v[pk] - v[th]) / 2.0 + v[th]
    level = np.where(level < v[th], alt, level)
    start = seg_last_where(v, th + 1, pk + 1, level, op="<=")
    end = seg_first_where(v, pk, tr, level, op="<=")
    ok = (start >= 0) & (end >= 0)
    out = np.full(th.size, np.nan)
    out[ok] = t[end[ok]] - t[start[ok]]
    w[use] = out
    return w


@dataclass(slots=True)
class Prep:
    """One sweep checked and set up for detection (:func:`patchatlas.ephys._detect.prepare`).

    ``t``/``v``/``i`` are the (de-duplicated) traces, ``lz``/``hz`` the lazily filtered dV/dt
    and the 1 kHz one of the ADP rule, ``[a, b]`` the detection range (sample indices), ``[s, e]``
    the analysis window (s), ``cutoff`` the dV/dt candidate level used (V/s), ``full`` whether
    every per-spike column is wanted, ``prov`` the provenance of the table.
    """

    t: FloatArray
    v: FloatArray
    i: FloatArray | None
    lz: LazyDvdt
    hz: LazyDvdt | None
    a: int
    b: int
    s: float
    e: float
    p: AllenParameters
    cutoff: float
    full: bool
    profile: str
    prov: dict[str, Any]
    #: (step, filter kHz, heavy filter kHz) for uniform filtered sweeps: sweeps with the same key
    #: can be detected together (:mod:`patchatlas.ephys._batched`); None otherwise
    key: tuple[float, float | None, float | None] | None


def empty_table(has_i: bool, profile: str, prov: dict[str, Any]) -> FeatureTable:
    """The spike table without rows (every column, with its dtype)."""
    cols: dict[str, np.ndarray] = {}
    for c in SPIKE_COLUMNS:
        if c == "isi_type":
            cols[c] = np.empty(0, dtype=object)
        elif c == "clipped":
            cols[c] = np.empty(0, dtype=bool)
        elif c in ("threshold_index", "peak_index", "upstroke_index"):
            cols[c] = np.empty(0, dtype=np.int64)
        else:
            cols[c] = np.empty(0)
    if has_i:
        for pt in POINTS:
            cols[f"{pt}_i"] = np.empty(0)
    if profile == "robust":
        cols["in_window"] = np.empty(0, dtype=bool)
        prov.setdefault("depolarization_block", False)
    return FeatureTable(cols, provenance=prov)


def assemble_table(
    t: FloatArray,
    v: FloatArray,
    dvdt: FloatArray,
    i: FloatArray | None,
    idx: dict[str, Any],
    prov: dict[str, Any],
) -> FeatureTable:
    """The full spike table of one sweep from its indices (``dvdt``: the filtered dV/dt, V/s,
    filtered at every upstroke and downstroke index)."""
    cols: dict[str, np.ndarray] = {}

    def put(name: str, ix: IntArray, *, as_int: bool = False) -> None:
        ok = ix >= 0
        ixc = np.where(ok, ix, 0)
        if as_int:
            cols[f"{name}_index"] = ix.astype(np.int64)
        else:
            cols[f"{name}_index"] = np.where(ok, ix, np.nan).astype(np.float64)
        cols[f"{name}_t"] = np.where(ok, t[ixc], np.nan)
        cols[f"{name}_v"] = np.where(ok, v[ixc], np.nan)

    put("threshold", idx["threshold"], as_int=True)
    put("peak", idx["peak"], as_int=True)
    put("trough", idx["trough"])
    up = idx["upstroke"]
    cols["upstroke"] = np.where(up >= 0, dvdt[np.maximum(up, 0)], np.nan)
    put("upstroke", up, as_int=True)
    dn = idx["downstroke"]
    okd = dn >= 0
    cols["downstroke"] = np.where(okd, dvdt[np.where(okd, dn, 0)], np.nan)
    put("downstroke", dn)
    with np.errstate(divide="ignore", invalid="ignore"):
        cols["upstroke_downstroke_ratio"] = cols["upstroke"] / -cols["downstroke"]
    cols["width"] = idx["width"]
    put("fast_trough", idx["fast_trough"])
    put("adp", idx["adp"])
    put("slow_trough", idx["slow_trough"])
    cols["isi_type"] = np.asarray(idx["isi_type"], dtype=object)
    cols["clipped"] = np.asarray(idx["clipped"], dtype=bool)
    if i is not None:
        for pt in POINTS:
            ix = idx[pt]
            ok = ix >= 0
            cols[f"{pt}_i"] = np.where(ok, i[np.where(ok, ix, 0)], np.nan)
    order = [c for c in SPIKE_COLUMNS if c in cols] + [c for c in cols if c not in SPIKE_COLUMNS]
    return FeatureTable({c: cols[c] for c in order}, provenance=prov)


def assemble_light(
    t: FloatArray, v: FloatArray, idx: dict[str, Any], prov: dict[str, Any]
) -> FeatureTable:
    """Threshold and peak columns only (``full=False``)."""
    cols: dict[str, np.ndarray] = {}
    for name in ("threshold", "peak"):
        ix = np.asarray(idx[name], dtype=np.int64)
        cols[f"{name}_index"] = ix
        cols[f"{name}_t"] = t[ix]
        cols[f"{name}_v"] = v[ix]
    prov["columns"] = "thresholds and peaks only"
    return FeatureTable(cols, provenance=prov)


def with_parameters(p: AllenParameters, **changes: Any) -> AllenParameters:
    """Copy of ``p`` with some fields changed.

    Parameters
    ----------
    p
        The parameters to start from.
    **changes
        New values of :class:`AllenParameters` fields, in the units it documents (e.g.
        ``dv_cutoff=15.0`` V/s, ``max_interval=0.004`` s).

    Returns
    -------
    AllenParameters
        A new parameter set; ``p`` is unchanged.
    """
    return replace(p, **changes)


def sweep_indices(pr: Prep) -> dict[str, Any]:
    """Spike indices of one prepared sweep on the per-sweep NumPy path (:func:`allen_indices`).

    Parameters
    ----------
    pr
        The prepared sweep.

    Returns
    -------
    dict
        Index arrays by point name (``threshold``, ``peak``, ...; only ``threshold``, ``peak``
        and ``clipped`` when ``pr.full`` is False), plus ``isi_type``, ``clipped`` and ``width``;
        empty when the sweep has no spike.
    """
    return allen_indices(pr.t, pr.v, pr.lz, pr.hz, pr.a, pr.b, pr.p, cutoff=pr.cutoff, full=pr.full)
