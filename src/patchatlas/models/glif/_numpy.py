"""Private: the NumPy GLIF path, the same numbers as the compiled kernel (:mod:`._kernel`).

Between two spikes a GLIF model is a linear time-invariant system driven by the stimulus, so the
NumPy path evaluates whole stretches at once: the after-spike currents and Θ_s are running
products (``np.multiply.accumulate``), V and Θ_v first-order recursions
(``scipy.signal.lfilter``, which evaluates ``y[n] = x[n] + a·y[n-1]`` exactly as the kernel
does). It looks for the first threshold crossing in a chunk, applies the reset there and goes
on; the Python loop runs once per spike or chunk, never per sample.

Same signatures as :mod:`._kernel` (``run``, ``run_many``).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy.signal import lfilter

from patchatlas.models.glif import _params as P

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

_FIRST_CHUNK = 512
_MAX_CHUNK = 1 << 16


def _decay(x0: float, d: float, n: int) -> FloatArray:
    """``x0 d, x0 d d, ...`` (n values), multiplied in the kernel's order."""
    seq = np.full(n + 1, d)
    seq[0] = x0
    return np.multiply.accumulate(seq)[1:]


def run(
    stim: FloatArray,
    p: FloatArray,
    v_out: FloatArray,
    th_out: FloatArray,
    spikes: FloatArray,
    forced: IntArray,
) -> tuple[int, int]:
    """One simulation (see :mod:`._kernel` ``run``)."""
    n = stim.shape[0]
    record = v_out.shape[0] > 0
    max_sp = spikes.shape[0]
    pvv, pvi, pv1, pv2 = p[P.P_VV], p[P.P_VI], p[P.P_V1], p[P.P_V2]
    ptv, pti, pt1, pt2, ptt = p[P.P_TV], p[P.P_TI], p[P.P_T1], p[P.P_T2], p[P.P_TT]
    d1, d2, ds = p[P.P_D1], p[P.P_D2], p[P.P_DS]
    thinf = p[P.P_THINF]
    offset = int(p[P.P_OFFSET])
    v, i1, i2, tv, ts = p[P.P_V0], p[P.P_I10], p[P.P_I20], 0.0, 0.0
    forced_set = np.asarray(forced, dtype=np.int64)
    forced_mode = forced_set.shape[0] > 0
    n_sp = n_bad = 0
    if record and n > 0:
        v_out[0] = v
        th_out[0] = (thinf + ts) + tv
    k = 0
    chunk = _FIRST_CHUNK
    while k < n - 1:
        length = min(chunk, n - 1 - k)
        ie = stim[k : k + length]
        i1n = _decay(i1, d1, length)
        i2n = _decay(i2, d2, length)
        tsn = _decay(ts, ds, length)
        i1in = np.concatenate(([i1], i1n[:-1]))
        i2in = np.concatenate(([i2], i2n[:-1]))
        u = (pvi * ie + pv1 * i1in) + pv2 * i2in
        vn = lfilter([1.0], [1.0, -pvv], u, zi=[pvv * v])[0]
        vin = np.concatenate(([v], vn[:-1]))
        w = ((ptv * vin + pti * ie) + pt1 * i1in) + pt2 * i2in
        tvn = lfilter([1.0], [1.0, -ptt], w, zi=[ptt * tv])[0]
        thn = (thinf + tsn) + tvn
        if forced_mode:
            steps = forced_set - 1 - k
            hit = steps[(steps >= 0) & (steps < length)]
            q = int(hit[0]) if hit.shape[0] else -1
        else:
            above = np.flatnonzero(vn > thn)
            q = int(above[0]) if above.shape[0] else -1
        if q < 0:
            if record:
                v_out[k + 1 : k + 1 + length] = vn
                th_out[k + 1 : k + 1 + length] = thn
            v, tv, i1, i2, ts = vn[-1], tvn[-1], i1n[-1], i2n[-1], tsn[-1]
            k += length
            chunk = min(2 * chunk, _MAX_CHUNK)
            continue
        if record and q > 0:
            v_out[k + 1 : k + 1 + q] = vn[:q]
            th_out[k + 1 : k + 1 + q] = thn[:q]
        ks = k + q
        vo = vin[q]
        tho = (thinf + (tsn[q - 1] if q > 0 else ts)) + (tvn[q - 1] if q > 0 else tv)
        vq, thq = vn[q], thn[q]
        den = (vq - vo) - (thq - tho)
        frac = (tho - vo) / den if den != 0.0 else 1.0
        if frac < 0.0 or frac > 1.0:
            frac = 1.0
        if n_sp < max_sp:
            spikes[n_sp] = ks + frac
        n_sp += 1
        j = ks + offset
        v = p[P.P_FV] * vq + p[P.P_DV]
        i1 = p[P.P_R1] * i1n[q] * p[P.P_C1] + p[P.P_A1]
        i2 = p[P.P_R2] * i2n[q] * p[P.P_C2] + p[P.P_A2]
        ts = tsn[q] * p[P.P_CS] + p[P.P_ATH]
        tv = tvn[q]
        th = (thinf + ts) + tv
        if not forced_mode and v > th:
            n_bad += 1
        if record:
            v_out[ks + 1 : min(j, n)] = np.nan
            th_out[ks + 1 : min(j, n)] = np.nan
            if j < n:
                v_out[j] = v
                th_out[j] = th
        if forced_mode:
            forced_set = forced_set[forced_set > j - 1]
        k = j
        # the next spike is probably about as far away as this one was
        chunk = max(_FIRST_CHUNK, min(_MAX_CHUNK, 2 * (q + offset)))
    return n_sp, n_bad


def run_segments(
    stim: FloatArray,
    p: FloatArray,
    starts: IntArray,
    v0s: FloatArray,
    v_out: FloatArray,
    th_out: FloatArray,
    forced: IntArray,
) -> int:
    """Forced-spike runs of sweeps laid end to end (see :mod:`._kernel` ``run_segments``)."""
    q = p.copy()
    spikes = np.empty(forced.shape[0] + 1)
    for g in range(starts.shape[0] - 1):
        a, b = int(starts[g]), int(starts[g + 1])
        local = forced[(forced >= a) & (forced < b)] - a
        if local.shape[0] == 0:
            local = np.array([b - a + 10], dtype=np.int64)
        q[P.P_V0] = v0s[g]
        run(stim[a:b], q, v_out[a:b], th_out[a:b], spikes, local)
    return 0


def run_many(
    stim: FloatArray, p: FloatArray, spikes: FloatArray, counts: IntArray, bad: IntArray
) -> None:
    """Many free runs (see :mod:`._kernel` ``run_many``)."""
    empty = np.empty(0)
    noforce = np.empty(0, dtype=np.int64)
    shared = stim.shape[0] == 1
    for r in range(p.shape[0]):
        s = stim[0] if shared else stim[r]
        counts[r], bad[r] = run(s, p[r], empty, empty, spikes[r], noforce)
