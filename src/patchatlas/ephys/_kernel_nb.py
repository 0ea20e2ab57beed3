"""numba-compiled kernels of :mod:`patchatlas.ephys._kernel` (imported only when numba is).

Module-level functions so that numba's on-disk cache (``cache=True``) works: the first process
compiles (~10 s), later processes load the cache.
"""

# mypy: ignore-errors
# ruff: noqa: SIM110  (numba compiles loops, not generator expressions)

from __future__ import annotations

import numba
import numpy as np

njit = numba.njit(cache=True, nogil=True)


@njit
def _iir_pass(buf, first, stop, step, co):
    """One in-place pass of the 4-pole IIR over ``buf[first:stop:step]`` (direct form II
    transposed; initial state = steady state scaled by the first sample, as filtfilt)."""
    b0, b1, b2, b3, b4 = co[0], co[1], co[2], co[3], co[4]
    a1, a2, a3, a4 = co[5], co[6], co[7], co[8]
    s = buf[first]
    z0, z1, z2, z3 = co[9] * s, co[10] * s, co[11] * s, co[12] * s
    for j in range(first, stop, step):
        x = buf[j]
        y = z0 + b0 * x
        z0 = z1 + b1 * x - a1 * y
        z1 = z2 + b2 * x - a2 * y
        z2 = z3 + b3 * x - a3 * y
        z3 = b4 * x - a4 * y
        buf[j] = y


@njit
def filtfilt_into(v, lo, hi, co, buf):
    """Forward-backward 4-pole IIR of ``v[lo:hi]`` (odd extension, steady-state initial
    conditions scaled by the first sample of each pass, as scipy's ``filtfilt``) into
    ``buf[pad : pad + hi - lo]``; returns ``pad``."""
    n = hi - lo
    pad = 15 if n > 15 else n - 1
    total = n + 2 * pad
    x0 = v[lo]
    xl = v[hi - 1]
    # extended input
    for j in range(total):
        if j < pad:
            buf[j] = 2.0 * x0 - v[lo + pad - j]
        elif j < pad + n:
            buf[j] = v[lo + j - pad]
        else:
            buf[j] = 2.0 * xl - v[hi - 2 - (j - pad - n)]
    _iir_pass(buf, 0, total, 1, co)  # forward
    _iir_pass(buf, total - 1, -1, -1, co)  # backward
    return pad


@njit
def ensure(v, y, known, co, ip, buf, lo, hi):
    """Filter every unknown chunk intersecting ``[lo, hi)`` of dV/dt (runs of chunks as
    one segment)."""
    if ip[2] == 0:
        return
    ny = y.shape[0]
    if lo < 0:
        lo = 0
    if hi > ny:
        hi = ny
    if hi <= lo:
        return
    ck = ip[0]
    m = ip[1]
    n = v.shape[0]
    scale = co[13]
    c = lo // ck
    c1 = (hi - 1) // ck
    while c <= c1:
        if known[c]:
            c += 1
            continue
        r0 = c
        while c <= c1 and not known[c]:
            c += 1
        s = r0 * ck
        e = c * ck
        if e > ny:
            e = ny
        vlo = s - m if s - m > 0 else 0
        vhi = e + 1 + m if e + 1 + m < n else n
        pad = filtfilt_into(v, vlo, vhi, co, buf)
        off = pad - vlo
        for k in range(s, e):
            y[k] = (buf[k + 1 + off] - buf[k + off]) * scale
        for q in range(r0, c):
            known[q] = True


@njit
def yk(v, y, known, co, ip, buf, k):
    if ip[2] != 0 and not known[k // ip[0]]:
        ensure(v, y, known, co, ip, buf, k, k + 1)
    return y[k]


@njit
def argext_v(x, s, e, want_max):
    """First argmax/argmin of ``x[s:e]`` (NaN counts as the extreme); -1 when empty."""
    if e <= s:
        return -1
    best = s
    bv = x[s]
    if bv != bv:
        return s
    for k in range(s + 1, e):
        xv = x[k]
        if xv != xv:
            return k
        if (want_max and xv > bv) or ((not want_max) and xv < bv):
            bv = xv
            best = k
    return best


@njit
def argext_y(v, y, known, co, ip, buf, s, e, want_max):
    if e <= s:
        return -1
    ensure(v, y, known, co, ip, buf, s, e)
    return argext_v(y, s, e, want_max)


@njit
def chunk_bound(v, ip, scale, g1, cb, c):
    """Bound of |filtered dV/dt| in chunk ``c``: sum|h| x the largest |raw dV/dt| within the
    settling margin of the chunk, with 1e-9 slack (cached in ``cb``; -1 = not computed)."""
    if cb[c] >= 0.0:
        return cb[c]
    ck, m = ip[0], ip[1]
    n = v.shape[0]
    lo = c * ck - m
    if lo < 0:
        lo = 0
    hi = (c + 1) * ck + m
    if hi > n - 1:
        hi = n - 1
    big = 0.0
    for k in range(lo, hi):
        d = abs(v[k + 1] - v[k])
        if d > big:
            big = d
    b = g1 * big * scale * (1.0 + 1e-9) + 1e-9
    cb[c] = b
    return b


@njit
def argext_y_lazy(v, y, known, co, ip, buf, cb, g1, look, s, e, want_max):
    """First argmax/argmin of filtered dV/dt over ``[s, e)``: the first ``look`` samples are
    filtered; a later unfiltered chunk is filtered and scanned only when its bound says it could
    reach the best value so far (otherwise every value in it is strictly worse)."""
    if e <= s:
        return -1
    if ip[2] == 0:
        return argext_v(y, s, e, want_max)
    head = s + look if s + look < e else e
    ensure(v, y, known, co, ip, buf, s, head)
    best = argext_v(y, s, head, want_max)
    bv = y[best]
    if bv != bv:
        return best
    ck = ip[0]
    scale = co[13]
    k = head
    while k < e:
        c = k // ck
        stop = (c + 1) * ck
        if stop > e:
            stop = e
        if not known[c]:
            bnd = chunk_bound(v, ip, scale, g1, cb, c)
            if (want_max and bnd < bv) or ((not want_max) and -bnd > bv):
                k = stop
                continue
            ensure(v, y, known, co, ip, buf, k, stop)
        for q in range(k, stop):
            xv = y[q]
            if xv != xv:
                return q
            if (want_max and xv > bv) or ((not want_max) and xv < bv):
                bv = xv
                best = q
        k = stop
    return best


@njit
def _pw_block(a, lo, n):
    """numpy's pairwise summation of ``a[lo : lo + n]`` for ``n <= 128`` (8 accumulators)."""
    if n < 8:
        r = 0.0
        for i in range(lo, lo + n):
            r += a[i]
        return r
    r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
    r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    i = 8
    top = n - (n % 8)
    while i < top:
        r0 += a[lo + i]
        r1 += a[lo + i + 1]
        r2 += a[lo + i + 2]
        r3 += a[lo + i + 3]
        r4 += a[lo + i + 4]
        r5 += a[lo + i + 5]
        r6 += a[lo + i + 6]
        r7 += a[lo + i + 7]
        i += 8
    r = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        r += a[lo + i]
        i += 1
    return r


@njit
def pairwise_sum(a, lo, n):
    """numpy's pairwise summation (so the mean upstroke is bit-identical to np.mean): blocks of
    at most 128 split as numpy splits them, evaluated with an explicit stack (no recursion:
    numba's cache cannot hold recursive functions)."""
    if n <= 128:
        return _pw_block(a, lo, n)
    s_lo = np.empty(128, np.int64)
    s_n = np.empty(128, np.int64)
    s_st = np.empty(128, np.int8)
    vals = np.empty(128)
    sp = 0
    vp = 0
    s_lo[0], s_n[0], s_st[0] = lo, n, 0
    sp = 1
    while sp > 0:
        sp -= 1
        lo_, n_, st = s_lo[sp], s_n[sp], s_st[sp]
        if n_ <= 128:
            vals[vp] = _pw_block(a, lo_, n_)
            vp += 1
        elif st == 0:
            n2 = n_ // 2
            n2 -= n2 % 8
            s_lo[sp], s_n[sp], s_st[sp] = lo_, n_, 1
            s_lo[sp + 1], s_n[sp + 1], s_st[sp + 1] = lo_ + n2, n_ - n2, 0
            s_lo[sp + 2], s_n[sp + 2], s_st[sp + 2] = lo_, n2, 0
            sp += 3
        else:
            vp -= 1
            right = vals[vp]
            vp -= 1
            vals[vp] = vals[vp] + right
            vp += 1
    return vals[0]


@njit
def mean_at(y, idx, cnt):
    tmp = np.empty(cnt)
    for j in range(cnt):
        tmp[j] = y[idx[j]]
    return pairwise_sum(tmp, 0, cnt) / cnt


@njit
def time_index(t, x):
    """Nearest sample to time ``x`` (ties to the earlier), clipped."""
    n = t.shape[0]
    j = np.searchsorted(t, x)
    if j <= 0:
        return 0
    if j >= n:
        return n - 1
    if abs(x - t[j - 1]) <= abs(t[j] - x):
        return j - 1
    return j


@njit
def any_below_zero(v, y, known, co, ip, buf, a, b):
    ny = y.shape[0]
    if a < 0:
        a = 0
    if a > ny:
        a = ny
    if b < a:
        b = a
    if b > ny:
        b = ny
    for k in range(a, b):
        if yk(v, y, known, co, ip, buf, k) < 0:
            return True
    return False


@njit
def core(t, v, y, known, co, ip, fp, si, ei, full, hco, hm, use_heavy):
    """Spike indices of one sweep. ``fp`` = (cutoff, g1, thresh_frac, min_peak,
    min_height, clip_tol, max_interval, term_frac, adp_thresh, adp_tol, flat_interval,
    adp_max_delta_t, adp_max_delta_v)."""
    cutoff, g1, frac = fp[0], fp[1], fp[2]
    min_peak, min_height, clip_tol, max_int = fp[3], fp[4], fp[5], fp[6]
    term_frac, adp_thresh, adp_tol, flat_int = fp[7], fp[8], fp[9], fp[10]
    adp_dt, adp_dv = fp[11], fp[12]
    n = v.shape[0]
    ny = y.shape[0]
    buf = np.empty(n + 32)
    scale = co[13]
    m = ip[1]
    cb = np.full(known.shape[0], -1.0)
    look = 64
    if ip[2] != 0:
        look = max(8, int(np.ceil(0.003 * scale * 1e3)))
    # 1. candidate zone: filtered dV/dt can reach the cutoff only near a raw difference of
    # at least cutoff / sum|h|
    if ip[2] != 0:
        lim = 0.9 * cutoff / g1
        done_to = -1
        for k in range(si, ei):
            if abs((v[k + 1] - v[k]) * scale) >= lim and k + m + 3 > done_to:
                ensure(v, y, known, co, ip, buf, k - m - 2, k + m + 3)
                done_to = k + m + 3
    # 2. candidates: upward crossings of the cutoff (unfiltered chunks hold 0)
    # (the candidate is the last sample below the cutoff, as in IPFX)
    cnt = 0
    for k in range(si, ei - 1):
        if y[k + 1] >= cutoff and not (y[k] >= cutoff):
            cnt += 1
    z = np.zeros(0, np.int64)
    if cnt == 0:
        return 0, z, z, z, z, z, z, z, z, np.zeros(0, np.int8), np.zeros(0, np.bool_), np.zeros(0)
    cand = np.empty(cnt, np.int64)
    j = 0
    for k in range(si, ei - 1):
        if y[k + 1] >= cutoff and not (y[k] >= cutoff):
            cand[j] = k
            j += 1
    if cnt > 1:
        keep = np.empty(cnt, np.bool_)
        keep[0] = True
        for j in range(cnt - 1):
            keep[j + 1] = any_below_zero(v, y, known, co, ip, buf, cand[j], cand[j + 1])
        cand = cand[keep]
        cnt = cand.shape[0]
    # 3. peaks between consecutive candidates
    peaks = np.empty(cnt, np.int64)
    for j in range(cnt):
        e = cand[j + 1] if j + 1 < cnt else ei
        peaks[j] = argext_v(v, cand[j], e, True)
    ok = peaks >= 0
    cand, peaks = cand[ok], peaks[ok]
    cnt = cand.shape[0]
    if cnt > 1:
        dmask = np.empty(cnt - 1, np.bool_)
        for j in range(cnt - 1):
            dmask[j] = any_below_zero(v, y, known, co, ip, buf, peaks[j], cand[j + 1])
        pk = np.ones(cnt, np.bool_)
        ck = np.ones(cnt, np.bool_)
        for j in range(cnt - 1):
            pk[j] = dmask[j]
            ck[j + 1] = dmask[j]
        peaks = peaks[pk]
        cand = cand[ck]
        cnt = cand.shape[0]
    ok = np.empty(cnt, np.bool_)
    for j in range(cnt):
        vp = v[peaks[j]]
        ok[j] = (vp >= min_peak) and (vp - v[cand[j]] >= min_height)
    cand, peaks = cand[ok], peaks[ok]
    cnt = cand.shape[0]
    # 4. upstrokes and thresholds
    ups = np.empty(cnt, np.int64)
    for j in range(cnt):
        ups[j] = argext_y(v, y, known, co, ip, buf, cand[j], peaks[j], True)
    ok = ups >= 0
    cand, peaks, ups = cand[ok], peaks[ok], ups[ok]
    cnt = cand.shape[0]
    if cnt == 0:
        return 0, z, z, z, z, z, z, z, z, np.zeros(0, np.int8), np.zeros(0, np.bool_), np.zeros(0)
    target = mean_at(y, ups, cnt) * frac
    thr = np.empty(cnt, np.int64)
    for j in range(cnt):
        prev = ups[j - 1] if j > 0 else 0
        found = -1
        for k in range(ups[j], prev, -1):  # [prev + 1, ups + 1), from the end
            if yk(v, y, known, co, ip, buf, k) <= target:
                found = k
                break
        thr[j] = found if found >= 0 else prev
    # 5. clipped last spike
    clipped = np.zeros(cnt, np.bool_)
    lim_v = v[thr[cnt - 1]] + clip_tol
    back = False
    for k in range(peaks[cnt - 1], min(ei + 1, n)):
        if v[k] <= lim_v:
            back = True
            break
    if not back:
        clipped[cnt - 1] = True
    # merge spikes whose threshold does not come after the previous peak
    smask = np.ones(cnt, np.bool_)
    pmask = np.ones(cnt, np.bool_)
    anyover = False
    for j in range(cnt - 1):
        if thr[j + 1] <= peaks[j] + 1:
            smask[j + 1] = False
            pmask[j] = False
            anyover = True
    if anyover:
        thr, clipped = thr[smask], clipped[smask]
        ups, peaks = ups[pmask], peaks[pmask]
        cnt = thr.shape[0]
    # 6. threshold -> peak of max_interval or more
    longs = np.zeros(cnt, np.bool_)
    nlong = 0
    for j in range(cnt):
        if t[peaks[j]] - t[thr[j]] >= max_int:
            longs[j] = True
            nlong += 1
    if nlong:
        for j in range(cnt):
            yk(v, y, known, co, ip, buf, ups[j])
        target2 = mean_at(y, ups, cnt) * frac
        got = np.zeros(cnt, np.bool_)
        for j in range(cnt):
            if not longs[j]:
                continue
            t0 = time_index(t, t[peaks[j]] - max_int)
            for k in range(ups[j], t0, -1):  # [t0 + 1, ups + 1), from the end
                if yk(v, y, known, co, ip, buf, k) <= target2:
                    thr[j] = k
                    got[j] = True
                    break
        drop = np.zeros(cnt, np.bool_)
        for j in range(cnt):
            if not longs[j] or got[j]:
                continue
            t1 = time_index(t, t[thr[j]] + 2 * max_int)
            newp = argext_v(v, thr[j], t1, True)
            okp = newp >= 0
            newp_c = newp if okp else thr[j]
            is_last = j == cnt - 1
            nxt_t = t[thr[min(j + 1, cnt - 1)]]
            if okp and (t[newp_c] - t[thr[j]] < max_int) and (is_last or t[newp_c] < nxt_t):
                peaks[j] = newp_c
            else:
                drop[j] = True
        keepm = ~drop
        thr, peaks, ups, clipped = thr[keepm], peaks[keepm], ups[keepm], clipped[keepm]
        cnt = thr.shape[0]
    troughs = np.full(cnt, -1, np.int64)
    downs = np.full(cnt, -1, np.int64)
    fast = np.full(cnt, -1, np.int64)
    adp = np.full(cnt, -1, np.int64)
    slow = np.full(cnt, -1, np.int64)
    isi = np.zeros(cnt, np.int8)
    width = np.full(cnt, np.nan)
    if cnt == 0 or not full:
        return cnt, thr, peaks, ups, troughs, downs, fast, adp, slow, isi, clipped, width
    # 7. upstroke again, troughs (downstrokes with the fast troughs below)
    tend = np.empty(cnt, np.int64)
    for j in range(cnt):
        ups[j] = argext_y(v, y, known, co, ip, buf, thr[j], peaks[j], True)
        tend[j] = thr[j + 1] if j + 1 < cnt else ei
        if not clipped[j]:
            troughs[j] = argext_v(v, peaks[j], tend[j], False)
    # 8. fast trough / ADP / slow trough over the spikes not clipped at the window end
    nsel = 0
    for j in range(cnt):
        if not clipped[j]:
            nsel += 1
    sel = np.empty(nsel, np.int64)
    q = 0
    for j in range(cnt):
        if not clipped[j]:
            sel[q] = j
            q += 1
    hbuf = np.empty(0)
    if use_heavy:
        hbuf = np.empty(max(ny, 1))
    for q in range(nsel):
        j = sel[q]
        nx = thr[sel[q + 1]] if q + 1 < nsel else ei
        dend = min(nx, ny)
        ds2 = argext_y_lazy(v, y, known, co, ip, buf, cb, g1, look, peaks[j], dend, False)
        # downstroke: steepest fall from peak to trough; the first minimum over the longer
        # range [peak, dend) is it when it falls before the trough
        tr = troughs[j]
        if tr >= 0:
            if ds2 >= 0 and ds2 < tr <= dend:
                downs[j] = ds2
            else:
                downs[j] = argext_y_lazy(
                    v, y, known, co, ip, buf, cb, g1, look, peaks[j], tr, False
                )
        if ds2 < 0:
            clipped[j] = True
            continue
        lvl = term_frac * y[ds2]
        tf = -1
        for k in range(ds2, dend):
            if yk(v, y, known, co, ip, buf, k) >= lvl:
                tf = k
                break
        if tf < 0:
            clipped[j] = True
            continue
        # ADP on the heavily filtered dV/dt within reach of the fast trough
        if use_heavy:
            reach = np.searchsorted(t, t[tf] + adp_dt) + 2
            hend = min(min(reach, nx), ny)
            if hend > tf:
                vlo = tf - hm if tf - hm > 0 else 0
                vhi = hend + 1 + hm if hend + 1 + hm < n else n
                pad = filtfilt_into(v, vlo, vhi, hco, buf)
                off = pad - vlo
                for k in range(tf, hend):
                    hbuf[k] = (buf[k + 1 + off] - buf[k + off]) * scale
        else:
            hend = min(nx, ny)
        a_ix = -1
        s_ix = -1
        cross = -1
        for k in range(tf, hend):
            hv = hbuf[k] if use_heavy else yk(v, y, known, co, ip, buf, k)
            if hv >= adp_thresh:
                cross = k
                break
        if cross >= 0 and (t[cross] - t[tf]) < flat_int:
            zr = -1
            for k in range(cross, hend):
                hv = hbuf[k] if use_heavy else yk(v, y, known, co, ip, buf, k)
                if hv <= 0.0:
                    zr = k
                    break
            if zr >= 0:
                # the first minimum of V over [zr, nx): the trough when it lies there
                mn = tr if (tr >= zr and nx == tend[j]) else argext_v(v, zr, nx, False)
                mn_c = mn if mn >= 0 else zr
                if (
                    mn >= 0
                    and v[zr] - v[mn_c] >= adp_tol
                    and v[zr] - v[tf] <= adp_dv
                    and t[zr] - t[tf] <= adp_dt
                ):
                    a_ix = zr
                    s_ix = mn_c
        if a_ix < 0:
            mn = tr if (tr >= tf and nx == tend[j]) else argext_v(v, tf, nx, False)
            mn_c = mn if mn >= 0 else tf
            direct = mn < 0 or v[tf] - v[mn_c] < adp_tol
            s_ix = -1 if direct else mn
            isi[j] = 1 if direct else 2
        else:
            isi[j] = 2
        fast[j] = tf
        adp[j] = a_ix
        slow[j] = s_ix
    adp[cnt - 1] = -1
    slow[cnt - 1] = -1
    # 9. widths at half height (fast trough -> peak; threshold -> peak when lower)
    for j in range(cnt):
        if fast[j] < 0 or clipped[j]:
            continue
        th, pkk, tr = thr[j], peaks[j], fast[j]
        level = (v[pkk] - v[tr]) / 2.0 + v[tr]
        if level < v[th]:
            level = (v[pkk] - v[th]) / 2.0 + v[th]
        st = -1
        for k in range(pkk, th, -1):  # [th + 1, pk + 1), from the end
            if v[k] <= level:
                st = k
                break
        en = -1
        for k in range(pkk, tr):
            if v[k] <= level:
                en = k
                break
        if st >= 0 and en >= 0:
            width[j] = t[en] - t[st]
    return cnt, thr, peaks, ups, troughs, downs, fast, adp, slow, isi, clipped, width


@numba.njit(cache=True, nogil=True, error_model="numpy")
def assemble(t, v, y, i, has_i, thr, peaks, ups, troughs, downs, fast, adp, slow):
    """The float columns of the spike table, one row each (order: ``_kernel.FLOAT_ROWS``)."""
    n = thr.shape[0]
    out = np.empty((30 if has_i else 24, n))
    nan = np.nan
    for j in range(n):
        out[0, j] = t[thr[j]]
        out[1, j] = v[thr[j]]
        out[2, j] = t[peaks[j]]
        out[3, j] = v[peaks[j]]
        tr = troughs[j]
        out[4, j] = tr if tr >= 0 else nan
        out[5, j] = t[tr] if tr >= 0 else nan
        out[6, j] = v[tr] if tr >= 0 else nan
        u = ups[j]
        out[7, j] = y[u] if u >= 0 else nan
        out[8, j] = t[u] if u >= 0 else nan
        out[9, j] = v[u] if u >= 0 else nan
        d = downs[j]
        out[10, j] = y[d] if d >= 0 else nan
        out[11, j] = d if d >= 0 else nan
        out[12, j] = t[d] if d >= 0 else nan
        out[13, j] = v[d] if d >= 0 else nan
        out[14, j] = out[7, j] / -out[10, j]
        r = 15
        for ix in (fast[j], adp[j], slow[j]):
            out[r, j] = ix if ix >= 0 else nan
            out[r + 1, j] = t[ix] if ix >= 0 else nan
            out[r + 2, j] = v[ix] if ix >= 0 else nan
            r += 3
        if has_i:
            r = 24
            for ix in (thr[j], peaks[j], troughs[j], fast[j], adp[j], slow[j]):
                out[r, j] = i[ix] if ix >= 0 else nan
                r += 1
    return out


# --------------------------------------------------------------------------------------------
# sweep features (train + subthreshold) of the allen profile: patchatlas.ephys.train._features
# --------------------------------------------------------------------------------------------


@njit
def _mean(a, lo, hi):
    """``np.mean(a[lo:hi])`` (pairwise sum, as numpy); NaN when empty."""
    n = hi - lo
    if n <= 0:
        return np.nan
    return pairwise_sum(a, lo, n) / n


@njit
def _average_voltage(t, v, a_t, b_t):
    a = time_index(t, a_t)
    b = time_index(t, b_t)
    if b <= a:
        return np.nan
    return _mean(v, a, b)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def sweep_features(t, v, thr_t, s, e, amp, burst_max_isi, pause_factor):
    """The allen-profile sweep features as ``train._features`` computes them (same numpy
    reductions: pairwise sums, median of the sorted ISIs). Order: ``_kernel.SWEEP_ROWS``."""
    nan = np.nan
    out = np.full(18, nan)
    # --- train features (all_spikes=True: intervals and latency use every spike) ---
    dur = e - s
    fin_dur = np.isfinite(dur)
    n_in = 0
    for k in range(thr_t.shape[0]):
        if (not fin_dur) or (thr_t[k] >= s and thr_t[k] <= e):
            n_in += 1
    out[1] = n_in
    out[0] = n_in / dur if (fin_dur and dur > 0) else nan
    out[8] = 0.0  # burst_n
    out[10] = 0.0  # pause_n
    out[11] = 0.0  # pause_frac
    ns = thr_t.shape[0]
    if ns > 0:
        out[2] = thr_t[0] - s if np.isfinite(s) else nan
        ni = ns - 1
        if ni > 0:
            isis = np.empty(ni)
            for k in range(ni):
                isis[k] = thr_t[k + 1] - thr_t[k]
            mean = pairwise_sum(isis, 0, ni) / ni
            out[3] = isis[0]
            out[4] = mean
            srt = np.sort(isis)
            h = ni // 2
            # np.median: the middle value, or np.mean of the two middle values
            median = srt[h] if ni % 2 == 1 else (0.0 + srt[h - 1] + srt[h]) / 2.0
            out[5] = median
            if mean > 0:
                dev = np.empty(ni)
                for k in range(ni):
                    d = isis[k] - mean
                    dev[k] = d * d
                out[6] = np.sqrt(pairwise_sum(dev, 0, ni) / ni) / mean
            # adapt: mean over consecutive pairs of (isi[k+1] - isi[k]) / (isi[k+1] + isi[k])
            if ni >= 2:
                allz = True
                for k in range(ni - 1):
                    if not (abs(isis[k + 1] + isis[k]) <= 1e-8):
                        allz = False
                        break
                if allz:
                    out[7] = 0.0
                else:
                    nd = np.empty(ni - 1)
                    cnt = 0
                    for k in range(ni - 1):
                        if isis[k + 1] == 0 and isis[k] == 0:
                            nd[k] = 0.0
                        else:
                            nd[k] = (isis[k + 1] - isis[k]) / (isis[k + 1] + isis[k])
                        if nd[k] == nd[k]:
                            cnt += 1
                        else:
                            nd[k] = 0.0
                    out[7] = pairwise_sum(nd, 0, ni - 1) / cnt if cnt > 0 else nan
            # bursts: runs of >= 2 consecutive ISIs <= burst_max_isi
            nb = 0
            run = 0
            n_short = 0
            for k in range(ni):
                if isis[k] <= burst_max_isi:
                    run += 1
                    n_short += 1
                else:
                    if run >= 2:
                        nb += 1
                    run = 0
            if run >= 2:
                nb += 1
            out[8] = nb
            if nb > 0 and n_short < ni:
                ins = np.empty(n_short)
                outs = np.empty(ni - n_short)
                a = 0
                b = 0
                for k in range(ni):
                    if isis[k] <= burst_max_isi:
                        ins[a] = isis[k]
                        a += 1
                    else:
                        outs[b] = isis[k]
                        b += 1
                inside = pairwise_sum(ins, 0, n_short) / n_short
                outside = pairwise_sum(outs, 0, ni - n_short) / (ni - n_short)
                out[9] = (outside - inside) / (outside + inside)
            if ni >= 3:
                lim = pause_factor * median
                npause = 0
                for k in range(ni):
                    if isis[k] > lim:
                        npause += 1
                out[10] = npause
                if fin_dur and dur > 0:
                    lng = np.empty(npause)
                    a = 0
                    for k in range(ni):
                        if isis[k] > lim:
                            lng[a] = isis[k]
                            a += 1
                    out[11] = pairwise_sum(lng, 0, npause) / dur
    # --- subthreshold ---
    out[12] = amp
    n = t.shape[0]
    if np.isfinite(s):
        # v_baseline: mean V over the 100 ms before the stimulus
        if n >= 2:
            half = 0.5 * (t[1] - t[0])
            if not (s - 0.1 < t[0] - half or s > t[n - 1] + half):
                out[13] = _average_voltage(t, v, s - 0.1, s)
        a = time_index(t, s)
        b = time_index(t, e)
        if b > a:
            k = argext_v(v, a, b, not (amp < 0))
            out[14] = v[k]
            out[15] = k
        if amp < 0 and out[1] == 0 and b > a:
            # sag of a hyperpolarising step (peak averaged over 5 ms; 30 ms baselines)
            v_peak = out[14]
            tp = t[int(out[15])]
            v_peak_avg = _average_voltage(t, v, tp - 0.005 / 2.0, tp + 0.005 / 2.0)
            v_base = _average_voltage(t, v, s - 0.03, s)
            v_ss = _average_voltage(t, v, e - 0.03, e)
            den = v_peak_avg - v_base
            out[17] = v_peak
            if den != 0 and np.isfinite(den):
                out[16] = (v_peak_avg - v_ss) / den
    return out
