"""Private: the compiled GLIF kernel (numba). Loaded only through :mod:`._backend`.

One loop runs every level and both integration methods: a step is the affine map whose
coefficients :func:`._params.step_vector` computes; the loop checks the threshold, interpolates
the crossing, and applies the reset after the spike cut. The arithmetic is written in the order
the NumPy fallback (:mod:`._numpy`) evaluates it, so both give the same numbers.

Functions (arrays are float64 unless said):

``run(stim, p, v_out, th_out, spikes, forced) -> (n_spikes, n_bad_resets)``
    One simulation. ``v_out``/``th_out`` have the stimulus's length (or length 0: not
    recorded); ``spikes`` receives the crossing positions in samples (``k + f``, at most its
    length); ``forced`` (int64, sorted) are sample indices where a spike is imposed instead of
    the threshold rule (the forced-spike paradigm), empty for a free run.
``run_segments(stim, p, starts, v0s, v_out, th_out, forced)``
    Forced-spike runs of several sweeps laid end to end (``starts``: their boundaries,
    ``v0s`` their initial voltages, ``forced`` global sample indices), state restarted at
    every boundary; V and Θ recorded.
``run_many(stim, p, spikes, counts, bad)``
    ``p`` of shape (m, N_P): m free runs in parallel (``stim`` (n,) shared or (m, n)), spike
    positions into ``spikes`` (m, max_spikes), counts and bad resets into ``counts``/``bad``.
"""

from __future__ import annotations

import numba
import numpy as np

from patchatlas.models.glif import _params as P

_VV, _VI, _V1, _V2 = P.P_VV, P.P_VI, P.P_V1, P.P_V2
_TV, _TI, _T1, _T2, _TT = P.P_TV, P.P_TI, P.P_T1, P.P_T2, P.P_TT
_D1, _D2, _DS = P.P_D1, P.P_D2, P.P_DS
_THINF, _FV, _DV, _ATH = P.P_THINF, P.P_FV, P.P_DV, P.P_ATH
_A1, _A2, _R1, _R2 = P.P_A1, P.P_A2, P.P_R1, P.P_R2
_C1, _C2, _CS, _OFF = P.P_C1, P.P_C2, P.P_CS, P.P_OFFSET
_V0, _I10, _I20 = P.P_V0, P.P_I10, P.P_I20

njit = numba.njit(cache=True, nogil=True)


@njit
def _loop(stim, p, v_out, th_out, spikes, forced):  # type: ignore[no-untyped-def]
    n = stim.shape[0]
    record = v_out.shape[0] > 0
    max_sp = spikes.shape[0]
    pvv, pvi, pv1, pv2 = p[_VV], p[_VI], p[_V1], p[_V2]
    ptv, pti, pt1, pt2, ptt = p[_TV], p[_TI], p[_T1], p[_T2], p[_TT]
    d1, d2, ds = p[_D1], p[_D2], p[_DS]
    thinf = p[_THINF]
    offset = int(p[_OFF])
    v = p[_V0]
    i1 = p[_I10]
    i2 = p[_I20]
    tv = 0.0
    ts = 0.0
    n_sp = 0
    n_bad = 0
    n_forced = forced.shape[0]
    fi = 0
    if record and n > 0:
        v_out[0] = v
        th_out[0] = (thinf + ts) + tv
    k = 0
    while k < n - 1:
        ie = stim[k]
        vn = pvv * v + ((pvi * ie + pv1 * i1) + pv2 * i2)
        tvn = ptt * tv + (((ptv * v + pti * ie) + pt1 * i1) + pt2 * i2)
        i1n = i1 * d1
        i2n = i2 * d2
        tsn = ts * ds
        thn = (thinf + tsn) + tvn
        if n_forced > 0:
            while fi < n_forced and forced[fi] <= k:
                fi += 1
            spike = fi < n_forced and forced[fi] == k + 1
        else:
            spike = vn > thn
        if spike:
            tho = (thinf + ts) + tv
            den = (vn - v) - (thn - tho)
            frac = (tho - v) / den if den != 0.0 else 1.0
            if frac < 0.0 or frac > 1.0:
                frac = 1.0
            if n_sp < max_sp:
                spikes[n_sp] = k + frac
            n_sp += 1
            j = k + offset
            v = p[_FV] * vn + p[_DV]
            i1 = p[_R1] * i1n * p[_C1] + p[_A1]
            i2 = p[_R2] * i2n * p[_C2] + p[_A2]
            ts = tsn * p[_CS] + p[_ATH]
            tv = tvn
            th = (thinf + ts) + tv
            if n_forced == 0 and v > th:
                n_bad += 1
            if record:
                for q in range(k + 1, min(j, n)):
                    v_out[q] = np.nan
                    th_out[q] = np.nan
                if j < n:
                    v_out[j] = v
                    th_out[j] = th
            k = j
        else:
            v = vn
            tv = tvn
            i1 = i1n
            i2 = i2n
            ts = tsn
            k += 1
            if record:
                v_out[k] = v
                th_out[k] = thn
    return n_sp, n_bad


@njit
def run(stim, p, v_out, th_out, spikes, forced):  # type: ignore[no-untyped-def]
    return _loop(stim, p, v_out, th_out, spikes, forced)


@njit
def run_segments(stim, p, starts, v0s, v_out, th_out, forced):  # type: ignore[no-untyped-def]
    q = p.copy()
    nseg = starts.shape[0] - 1
    spikes = np.empty(forced.shape[0] + 1)
    lo = 0
    for g in range(nseg):
        a = starts[g]
        b = starts[g + 1]
        hi = lo
        while hi < forced.shape[0] and forced[hi] < b:
            hi += 1
        local = forced[lo:hi] - a if hi > lo else np.full(1, b - a + 10, dtype=np.int64)
        q[_V0] = v0s[g]
        _loop(stim[a:b], q, v_out[a:b], th_out[a:b], spikes, local)
        lo = hi
    return 0


@numba.njit(cache=True, nogil=True, parallel=True)
def run_many(stim, p, spikes, counts, bad):  # type: ignore[no-untyped-def]
    m = p.shape[0]
    empty = np.empty(0)
    noforce = np.empty(0, dtype=np.int64)
    shared = stim.shape[0] == 1
    for r in numba.prange(m):
        s = stim[0] if shared else stim[r]
        ns, nb = _loop(s, p[r], empty, empty, spikes[r], noforce)
        counts[r] = ns
        bad[r] = nb
