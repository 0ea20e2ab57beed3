"""Private seam of :mod:`patchatlas.ephys`: spike detection over many sweeps in one pass (the
Allen profile, NumPy; chosen by :mod:`patchatlas.ephys._backend`).

The sweeps of a recording that share a sampling step and filter are laid end to end: ``v``,
``t`` and the lazily filtered dV/dt of every sweep live in one buffer each, sweep ``k`` at
offset ``off[k]`` (dV/dt has one sample less per sweep; that slot is padding that no window
reaches). Candidates, peaks, upstrokes, thresholds, troughs, fast troughs, ADPs and widths are
then found with the segment reductions of :mod:`patchatlas.ephys._segments` over all sweeps at
once; what the definitions make per sweep (the window ends, "the next spike" at the last spike
of a sweep, the 5 % of the sweep-mean upstroke level, the clipping of each sweep's last spike)
is made per sweep with sweep ids. Each sweep keeps its own :class:`LazyDvdt` (its ``y`` is a view
into the shared buffer) and every filter request is handed to the sweep it belongs to, so the
filtered chunks -- and hence every value -- are those of the per-sweep path:
the results are identical (tested on every real recording).

The Python-level work is per batch, except a loop over sweeps to dispatch filter requests,
to average the upstrokes (with :func:`numpy.mean`, as the per-sweep path) and, rarely, for the
threshold-to-peak > 5 ms rule.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from patchatlas.ephys._allen import (
    Prep,
    adp_slow_trough,
    argext_lazy,
    fix_long_threshold_peak,
    sweep_indices,
    where_lazy,
    widths,
)
from patchatlas.ephys._dvdt import LazyDvdt
from patchatlas.ephys._segments import seg_argext, seg_first_where

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


class MultiLazy:
    """Several per-sweep :class:`LazyDvdt` (same step and filter) behind one buffer ``y``."""

    def __init__(self, subs: list[LazyDvdt], off: IntArray, n: IntArray) -> None:
        self.subs = subs
        self.off = off
        self.n = n
        first = subs[0]
        self.filtered = first.filtered
        self.fs = first.fs
        self.margin = first.margin
        self.chunk = first.chunk
        self.g1 = getattr(first, "g1", 1.0)
        self.scale = first.scale
        total = int(off[-1] + n[-1])
        self.y = np.zeros(total)
        for k, lz in enumerate(subs):
            o = int(off[k])
            seg = self.y[o : o + int(n[k]) - 1]
            # copy what is filtered already (unfiltered samples are 0 in both; the "empty"
            # heavy filter is read only where it is filtered again)
            if not lz.filtered or lz.known.any():
                seg[:] = lz.y
            lz.y = seg
            if not lz.filtered:
                lz.raw = seg
        # chunk numbering of the concatenated per-sweep chunk arrays
        nch = np.array([lz.known.size for lz in subs], np.int64)
        self.choff = np.zeros(nch.size, np.int64)
        np.cumsum(nch[:-1], out=self.choff[1:])

    def sweep_of(self, idx: IntArray) -> IntArray:
        """Sweep id of each (global) index."""
        out: IntArray = np.searchsorted(self.off, idx, side="right") - 1
        return np.maximum(out, 0)

    def _dispatch(self, method: str, s: IntArray, e: IntArray, sid: IntArray) -> None:
        if s.size == 0:
            return
        order = np.argsort(sid, kind="stable")
        sid_o = sid[order]
        bounds = np.flatnonzero(np.diff(sid_o)) + 1
        starts = np.concatenate(([0], bounds))
        ends = np.concatenate((bounds, [sid_o.size]))
        for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
            k = int(sid_o[a])
            sel = order[a:b]
            o = int(self.off[k])
            getattr(self.subs[k], method)(s[sel] - o, e[sel] - o)

    def ensure(
        self, starts: npt.ArrayLike, ends: npt.ArrayLike, sid: IntArray | None = None
    ) -> None:
        """Filter, in each range's own sweep, the chunks intersecting ``[starts, ends)``."""
        if not self.filtered:
            return
        s = np.atleast_1d(np.asarray(starts, np.int64))
        e = np.atleast_1d(np.asarray(ends, np.int64))
        e = np.broadcast_to(e, s.shape)
        if s.size == 0:
            return
        sid = self.sweep_of(s) if sid is None else sid
        # per sweep: the chunks to filter (as LazyDvdt.ensure); then ONE filter call for the rows
        # of every sweep (rows are filtered independently: the values are the per-sweep ones)
        order = np.argsort(sid, kind="stable")
        sid_o = sid[order]
        bounds = np.flatnonzero(np.diff(sid_o)) + 1
        plans: list[tuple[LazyDvdt, Any]] = []
        for a, b in zip(
            np.concatenate(([0], bounds)).tolist(),
            np.concatenate((bounds, [sid_o.size])).tolist(),
            strict=True,
        ):
            k = int(sid_o[a])
            sel = order[a:b]
            o = int(self.off[k])
            sub = self.subs[k]
            ids = sub.chunk_ids(s[sel] - o, e[sel] - o)
            if ids is None:
                continue
            plan = sub.plan_chunks(ids)
            if plan is not None:
                plans.append((sub, plan))
        if not plans:
            return
        if len(plans) == 1:
            sub, (ids, lo, rows) = plans[0]
            sub.store_chunks(ids, lo, sub.filter_rows(rows))
            return
        f = plans[0][0].filter_rows(np.concatenate([pl[2] for _, pl in plans]))
        r = 0
        for sub, (ids, lo, rows) in plans:
            sub.store_chunks(ids, lo, f[r : r + rows.shape[0]])
            r += rows.shape[0]

    def ensure_points(self, idx: npt.ArrayLike, pad: int) -> None:
        """Filter the chunks within ``pad`` samples of each index (in its own sweep)."""
        i = np.asarray(idx, np.int64)
        if i.size:
            self.ensure(i - pad, i + pad + 1, sid=self.sweep_of(i))

    def ensure_windows(self, starts: IntArray, ends: IntArray) -> None:
        """:meth:`LazyDvdt.ensure_windows`, each range in its own sweep."""
        if not self.filtered:
            return
        s = np.asarray(starts, np.int64)
        e = np.asarray(ends, np.int64)
        self._dispatch("ensure_windows", s, e, self.sweep_of(s))

    def known_samples(self) -> BoolArray:
        """Per-sample flag over the buffer: dV/dt is filtered there (padding: True)."""
        out = np.ones(self.y.size, bool)
        for k, lz in enumerate(self.subs):
            o = int(self.off[k])
            out[o : o + int(self.n[k]) - 1] = lz.known_samples()
        return out

    def unknown_bound(self, rs: IntArray, re: IntArray) -> FloatArray:
        """:meth:`LazyDvdt.unknown_bound` over the concatenated chunk arrays."""
        cb = np.concatenate([np.where(lz.known, 0.0, lz.chunk_bound()) for lz in self.subs])
        sid = self.sweep_of(rs)
        o, c = self.off[sid], self.chunk
        c0 = (rs - o) // c + self.choff[sid]
        c1 = (re - o - 1) // c + 1 + self.choff[sid]
        big = seg_argext(cb, c0, c1, mode="max")
        out: FloatArray = cb[np.maximum(big, 0)]
        return out


def _any_below_zero(lz: MultiLazy, a: IntArray, b: IntArray) -> BoolArray:
    """``_allen.any_below_zero`` for ranges inside single sweeps, costing the ranges' length.

    Unfiltered samples hold 0, so a negative sample is a filtered one; a range without one that
    touches an unfiltered chunk is filtered in full and looked at again.
    """
    b = np.maximum(a, b)
    res: BoolArray = np.zeros(a.size, bool)
    for _ in range(2):
        res = seg_first_where(lz.y, a, b, 0.0, op="<") >= 0
        if not lz.filtered:
            return res
        nonempty = b > a
        unsure = ~res & nonempty
        if unsure.any():
            k = np.flatnonzero(unsure)
            unk = np.concatenate([(~lz_.known).astype(np.float64) for lz_ in lz.subs])
            sid = lz.sweep_of(a[k])
            o, c = lz.off[sid], lz.chunk
            c0 = (a[k] - o) // c + lz.choff[sid]
            c1 = (b[k] - o - 1) // c + 1 + lz.choff[sid]
            has_unknown = seg_first_where(unk, c0, c1, 0.5, op=">=") >= 0
            unsure[k] = has_unknown
        if not unsure.any():
            return res
        lz.ensure(a[unsure], b[unsure])
    return res


def _last_flags(sid: IntArray) -> BoolArray:
    last = np.ones(sid.size, bool)
    last[:-1] = sid[1:] != sid[:-1]
    return last


def _first_flags(sid: IntArray) -> BoolArray:
    first = np.ones(sid.size, bool)
    first[1:] = sid[1:] != sid[:-1]
    return first


def _next_in_sweep(x: IntArray, sid: IntArray, end: IntArray) -> IntArray:
    """The next element of the same sweep; the sweep's ``end`` for its last element."""
    nxt = np.empty_like(x)
    nxt[:-1] = x[1:]
    last = _last_flags(sid)
    nxt[last] = end[sid[last]]
    return nxt


def _pairs_same(sid: IntArray) -> BoolArray:
    same: BoolArray = sid[1:] == sid[:-1]
    return same


def allen_indices_batch(
    t: FloatArray,
    v: FloatArray,
    lz: MultiLazy,
    hz: MultiLazy | None,
    si: IntArray,
    ei: IntArray,
    p: Any,
    *,
    cutoff: float,
    full: bool,
) -> tuple[dict[str, Any], IntArray]:
    """Spike indices (global) of all sweeps, and each spike's sweep id.

    ``si``/``ei``: each sweep's window (global indices, inclusive end as in the per-sweep
    path). Returns ``({}, empty)`` when no sweep has a spike.
    """
    S = si.size
    off, nn = lz.off, lz.n
    yend = off + nn - 1  # one past each sweep's last dV/dt sample
    empty: tuple[dict[str, Any], IntArray] = ({}, np.empty(0, np.int64))
    look = max(8, math.ceil(0.003 * lz.fs)) if math.isfinite(lz.fs) else 64
    # candidates, per sweep window (as the per-sweep path: a handful of calls per sweep)
    found_c: list[IntArray] = []
    for j, sub in enumerate(lz.subs):
        o = int(off[j])
        a, b = int(si[j]) - o, int(ei[j]) - o
        if sub.filtered:
            raw_w = sub.raw_range(a, b)
            zone = np.flatnonzero(np.abs(raw_w) >= 0.9 * cutoff / sub.g1) + a
            sub.ensure_points(zone, sub.margin + 2)
        ge = sub.y[a:b] >= cutoff
        c = np.flatnonzero(~ge[:-1] & ge[1:])
        if c.size:
            found_c.append(c.astype(np.int64) + (a + o))
    if not found_c:
        return empty
    cand = np.concatenate(found_c)
    sid = lz.sweep_of(cand)
    if cand.size > 1:
        same = _pairs_same(sid)
        res = np.ones(cand.size - 1, bool)
        if same.any():
            res[same] = _any_below_zero(lz, cand[:-1][same], cand[1:][same])
        keep = np.concatenate(([True], res))
        cand, sid = cand[keep], sid[keep]
    if cand.size == 0:
        return empty
    nxt = _next_in_sweep(cand, sid, ei)
    peaks = seg_argext(v, cand, nxt, mode="max")
    ok = peaks >= 0
    cand, peaks, sid = cand[ok], peaks[ok], sid[ok]
    if cand.size == 0:
        return empty
    if cand.size > 1:
        same = _pairs_same(sid)
        dmask = np.ones(cand.size - 1, bool)
        if same.any():
            dmask[same] = _any_below_zero(lz, peaks[:-1][same], cand[1:][same])
        peaks = peaks[np.append(dmask, True)]
        kc = np.concatenate(([True], dmask))
        cand, sid = cand[kc], sid[kc]
    vp = v[peaks]
    ok = (vp >= p.min_peak) & (vp - v[cand] >= p.min_height)
    cand, peaks, sid = cand[ok], peaks[ok], sid[ok]
    if cand.size == 0:
        return empty

    lz.ensure(cand, peaks)
    ups = seg_argext(lz.y, cand, peaks, mode="max")
    ok = ups >= 0
    cand, peaks, ups, sid = cand[ok], peaks[ok], ups[ok], sid[ok]
    if cand.size == 0:
        return empty
    # threshold level: thresh_frac x the mean upstroke of the sweep (np.mean per sweep, as the
    # per-sweep path, so that the level is the same to the last bit)
    first = _first_flags(sid)
    cuts = np.flatnonzero(first)
    yu = lz.y[ups]
    means = np.array([float(np.mean(x)) for x in np.split(yu, cuts[1:])])
    target = np.zeros(S)
    target[sid[cuts]] = means * p.thresh_frac
    prev = np.empty_like(ups)
    prev[1:] = ups[:-1]
    prev[first] = off[sid[first]]
    found = where_lazy(
        lz,  # type: ignore[arg-type]
        prev + 1,
        ups + 1,
        target[sid],
        op="<=",
        last=True,
        look=look,
    )
    thr = np.where(found >= 0, found, prev).astype(np.int64)

    # clipped last spike of each sweep
    clipped = np.zeros(thr.size, bool)
    li = np.flatnonzero(_last_flags(sid))
    back = seg_first_where(v, peaks[li], ei[sid[li]] + 1, v[thr[li]] + p.clip_tol, op="<=")
    clipped[li] = back < 0

    # merge spikes whose threshold does not come after the previous peak (same sweep)
    over = np.flatnonzero((thr[1:] <= peaks[:-1] + 1) & _pairs_same(sid))
    if over.size:
        smask = np.ones(thr.size, bool)
        smask[over + 1] = False
        pmask = np.ones(thr.size, bool)
        pmask[over] = False
        thr, ups, clipped, sid = thr[smask], ups[pmask], clipped[smask], sid[smask]
        peaks = peaks[pmask]

    long_ = np.flatnonzero(t[peaks] - t[thr] >= p.max_interval)
    if long_.size:
        # the 5 ms rule, per affected sweep with the per-sweep code (rare)
        thr, peaks, ups, clipped, sid = _fix_long(t, v, lz, thr, peaks, ups, clipped, sid, long_, p)
    if thr.size == 0:
        return empty
    if not full:
        return {"threshold": thr, "peak": peaks, "clipped": clipped}, sid

    lz.ensure(thr, peaks)
    ups = seg_argext(lz.y, thr, peaks, mode="max")
    n = thr.size
    nxt_thr = _next_in_sweep(thr, sid, ei)
    troughs = seg_argext(v, peaks, nxt_thr, mode="min")
    troughs[clipped] = -1
    has_tr = troughs >= 0
    downs = np.full(n, -1, np.int64)
    if has_tr.any():
        downs[has_tr] = argext_lazy(
            lz,  # type: ignore[arg-type]
            peaks[has_tr],
            troughs[has_tr],
            mode="min",
            look=look,
        )

    fast = np.full(n, -1, np.int64)
    adp = np.full(n, -1, np.int64)
    slow = np.full(n, -1, np.int64)
    isi_type = np.full(n, None, dtype=object)
    sel = np.flatnonzero(~clipped)
    if sel.size:
        pk_s = peaks[sel]
        sid_s = sid[sel]
        nx_s = _next_in_sweep(thr[sel], sid_s, ei)
        dend = np.minimum(nx_s, yend[sid_s])
        ds2 = argext_lazy(lz, pk_s, dend, mode="min", look=look)  # type: ignore[arg-type]
        ok2 = ds2 >= 0
        ds2c = np.maximum(ds2, 0)
        tgt = p.term_frac * lz.y[ds2c]
        term = np.full(sel.size, -1, np.int64)
        if ok2.any():
            term[ok2] = where_lazy(
                lz,  # type: ignore[arg-type]
                ds2c[ok2],
                dend[ok2],
                tgt[ok2],
                op=">=",
                last=False,
                look=look,
            )
        has_ft = term >= 0
        clipped[sel[~has_ft]] = True
        if has_ft.any():
            k = sel[has_ft]
            tf = term[has_ft]
            nx = nx_s[has_ft]
            sk = sid_s[has_ft]
            if hz is None:
                hv = lz.y
                hend = np.minimum(nx, yend[sk])
            else:
                reach = _searchsorted_per_sweep(t, tf, sk, off, nn, p.adp_max_delta_t) + 2
                hend = np.minimum(np.minimum(reach, nx), yend[sk])
                hz.ensure_windows(tf, hend)
                hv = hz.y
            adp_h, slow_h = adp_slow_trough(t, v, hv, tf, nx, hend, p)
            no_adp = adp_h < 0
            mins = seg_argext(v, tf, nx, mode="min")
            mins_c = np.maximum(mins, 0)
            direct = no_adp & ((mins < 0) | (v[tf] - v[mins_c] < p.adp_tol))
            slow_h = np.where(no_adp, np.where(direct, -1, mins), slow_h)
            fast[k] = tf
            adp[k] = adp_h
            slow[k] = slow_h
            isi_type[k] = np.where(direct, "direct", "detour").astype(object)
    lastf = _last_flags(sid)
    adp[lastf] = -1
    slow[lastf] = -1
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
    }, sid


def _searchsorted_per_sweep(
    t: FloatArray, at: IntArray, sid: IntArray, off: IntArray, nn: IntArray, dt: float
) -> IntArray:
    """Global index of ``searchsorted(t_sweep, t[at] + dt)`` within each point's own sweep."""
    out = np.empty(at.size, np.int64)
    for k in np.unique(sid).tolist():
        m = sid == k
        o = int(off[k])
        tk = t[o : o + int(nn[k])]
        out[m] = np.searchsorted(tk, t[at[m]] + dt) + o
    return out


def _fix_long(
    t: FloatArray,
    v: FloatArray,
    lz: MultiLazy,
    thr: IntArray,
    peaks: IntArray,
    ups: IntArray,
    clipped: BoolArray,
    sid: IntArray,
    long_: IntArray,
    p: Any,
) -> tuple[IntArray, IntArray, IntArray, BoolArray, IntArray]:
    cuts = np.searchsorted(sid, np.arange(lz.off.size + 1))
    parts: list[tuple[IntArray, IntArray, IntArray, BoolArray, IntArray]] = []
    todo = set(np.unique(sid[long_]).tolist())
    for k in range(lz.off.size):
        a, b = int(cuts[k]), int(cuts[k + 1])
        if a == b:
            continue
        if k not in todo:
            parts.append((thr[a:b], peaks[a:b], ups[a:b], clipped[a:b], sid[a:b]))
            continue
        o, nk = int(lz.off[k]), int(lz.n[k])
        th, pk, up, cl = fix_long_threshold_peak(
            t[o : o + nk],
            v[o : o + nk],
            lz.subs[k],
            thr[a:b] - o,
            peaks[a:b] - o,
            ups[a:b] - o,
            clipped[a:b],
            p,
        )
        parts.append((th + o, pk + o, up + o, cl, np.full(th.size, k, np.int64)))
    if not parts:
        e = np.empty(0, np.int64)
        return e, e, e, np.empty(0, bool), e
    return (
        np.concatenate([x[0] for x in parts]).astype(np.int64),
        np.concatenate([x[1] for x in parts]).astype(np.int64),
        np.concatenate([x[2] for x in parts]).astype(np.int64),
        np.concatenate([x[3] for x in parts]).astype(bool),
        np.concatenate([x[4] for x in parts]).astype(np.int64),
    )


_INDEX_KEYS = (
    "threshold",
    "peak",
    "upstroke",
    "trough",
    "downstroke",
    "fast_trough",
    "adp",
    "slow_trough",
)


#: sweeps longer than this (samples) go through the per-sweep path: laying them end to end
#: (copies of v and t, the dV/dt buffer) costs more than the per-sweep calls it saves
#: (measured: 22 k-sample sweeps 1.3-1.6x faster batched, 100 k-sample sweeps 1.1-1.4x slower)
BATCH_MAX_SAMPLES = 50_000
#: samples per batch: larger batches save few calls more but leave the memory caches
BATCH_BUDGET = 1_000_000


def indices_many(
    preps: list[Prep], *, max_samples: int | None = BATCH_MAX_SAMPLES
) -> list[dict[str, Any]]:
    """Spike indices (local to each sweep) of many prepared sweeps, on the NumPy path.

    Sweeps of the Allen profile with the same step, filters, parameters and ``full`` flag and at
    most ``max_samples`` samples (``None``: any length) are detected together
    (:func:`allen_indices_batch`); any other sweep goes through the per-sweep NumPy path
    (:func:`patchatlas.ephys._allen.sweep_indices`). Element ``k`` of the result belongs to
    ``preps[k]`` and equals what the per-sweep path gives for it.

    Parameters
    ----------
    preps
        The prepared sweeps (:func:`patchatlas.ephys._detect.prepare`).
    max_samples
        Longer sweeps go through the per-sweep path.

    Returns
    -------
    list of dict
        Per sweep, as :func:`patchatlas.ephys._allen.sweep_indices`.
    """
    out: list[dict[str, Any] | None] = [None] * len(preps)
    groups: dict[Any, list[int]] = {}
    for k, pr in enumerate(preps):
        if (
            pr.key is None
            or pr.profile != "allen"
            or pr.lz.y.size < 2
            or (max_samples is not None and pr.v.size > max_samples)
        ):
            out[k] = sweep_indices(pr)
            continue
        groups.setdefault((pr.key, pr.p, pr.cutoff, pr.full, pr.hz is None), []).append(k)
    for members in groups.values():
        if len(members) == 1:
            out[members[0]] = sweep_indices(preps[members[0]])
            continue
        res = _run_group([preps[k] for k in members])
        for k, r in zip(members, res, strict=True):
            out[k] = r
    return [r if r is not None else {} for r in out]


def _run_group(group: list[Prep]) -> list[dict[str, Any]]:
    nn = np.array([pr.v.size for pr in group], np.int64)
    off = np.zeros(nn.size, np.int64)
    np.cumsum(nn[:-1], out=off[1:])
    t = np.concatenate([pr.t for pr in group])
    v = np.concatenate([pr.v for pr in group])
    lz = MultiLazy([pr.lz for pr in group], off, nn)
    # (the sweeps of a group all have the heavy filter, or none has: see indices_many)
    heavy = [pr.hz for pr in group if pr.hz is not None]
    hz = MultiLazy(heavy, off, nn) if heavy else None
    si = np.array([pr.a for pr in group], np.int64) + off
    ei = np.array([pr.b for pr in group], np.int64) + off
    pr0 = group[0]
    idx, sid = allen_indices_batch(t, v, lz, hz, si, ei, pr0.p, cutoff=pr0.cutoff, full=pr0.full)
    res: list[dict[str, Any]] = [{} for _ in group]
    if not idx:
        return res
    cuts = np.searchsorted(sid, np.arange(len(group) + 1))
    for k in range(len(group)):
        a, b = int(cuts[k]), int(cuts[k + 1])
        if a == b:
            continue
        o = int(off[k])
        d: dict[str, Any] = {}
        for name, arr in idx.items():
            part = arr[a:b]
            if name in _INDEX_KEYS:
                part = np.where(part >= 0, part - o, -1).astype(np.int64)
            d[name] = part
        res[k] = d
    return res
