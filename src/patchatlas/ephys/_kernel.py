"""Compiled Allen-profile spike detection (optional; needs numba).

The same definitions as :func:`patchatlas.ephys.spikes._allen_indices` (module docs of
:mod:`patchatlas.ephys.spikes`, restated in ``docs/ephys_parity.md``), written as one compiled
pass per sweep instead of vectorised segment reductions. The vectorised path is fast per
sample but pays ~1,000 Python-level numpy calls per sweep; here a sweep costs one call.

The filtered dV/dt stays lazy: the kernel works on the sweep's :class:`~patchatlas.ephys._dvdt.
LazyDvdt` buffers (``y`` and the per-chunk ``known`` flags) and filters a run of chunks, with the
same 30 e-fold settling margin on both sides, the first time it reads a sample there; so every
value equals whole-trace filtering to ~1e-13, as on the vectorised path, and the buffer is left
in a state the table assembly can read (every index returned is filtered). The 1 kHz "heavy"
filter of the ADP rule is computed per fast trough over ``[fast trough, ADP reach)`` plus the
margin.

Results are those of the vectorised path (tested column by column on every real recording,
:mod:`tests.ephys.test_kernel`); the vectorised path stays the reference and the fallback when
numba is missing or ``PATCHATLAS_NUMBA=0``.

Compiled functions are cached on disk by numba (``cache=True``): the first call in a fresh
environment compiles for a few seconds, later processes load the cache.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["allen_indices", "available"]

_STATE: dict[str, Any] = {}

#: ``isi_type`` codes of the kernel
_ISI = np.array([None, "direct", "detour"], dtype=object)


def available() -> bool:
    """Whether the compiled kernel can be used (numba importable, not disabled by
    ``PATCHATLAS_NUMBA=0``)."""
    ok = _STATE.get("ok")
    if ok is None:
        if os.environ.get("PATCHATLAS_NUMBA", "1").strip().lower() in ("0", "false", "no", "off"):
            ok = False
        else:
            try:
                _STATE["core"] = _compile()
                ok = True
            except ImportError:
                ok = False
        _STATE["ok"] = ok
    return bool(ok)


def _compile() -> Any:
    from patchatlas.ephys import _kernel_nb

    return _kernel_nb.core


def _coefs(cutoff_hz: float, fs: float, scale: float) -> npt.NDArray[np.float64]:
    from patchatlas.ephys._dvdt import _bessel_ba

    b, a, zi = _bessel_ba(cutoff_hz / (fs / 2.0))
    b = b / a[0]
    a = a / a[0]
    return np.concatenate((b, a[1:], zi, [scale])).astype(np.float64)


def allen_indices(pr: Any) -> dict[str, Any]:
    """Spike indices of one prepared sweep (``spikes._Prep``), as ``spikes._indices``."""
    from patchatlas.ephys._dvdt import settle_samples

    core = _STATE["core"]
    lz, p = pr.lz, pr.p
    filt = bool(lz.filtered)
    scale = float(lz.scale) if filt else 1.0
    co = _coefs(float(lz.cutoff_hz), float(lz.fs), scale) if filt else np.zeros(14, np.float64)
    ip = np.array([lz.chunk, lz.margin, 1 if filt else 0], np.int64)
    fp = np.array(
        [
            pr.cutoff,
            float(getattr(lz, "g1", 1.0)),
            p.thresh_frac,
            p.min_peak,
            p.min_height,
            p.clip_tol,
            p.max_interval,
            p.term_frac,
            p.adp_thresh,
            p.adp_tol,
            p.flat_interval,
            p.adp_max_delta_t,
            p.adp_max_delta_v,
        ],
        np.float64,
    )
    hz = pr.hz
    use_heavy = hz is not None
    if use_heavy:
        hco = _coefs(float(hz.cutoff_hz), float(hz.fs), scale)
        hm = settle_samples(float(hz.cutoff_hz), float(hz.fs))
    else:
        hco, hm = co, 0
    known = lz.known
    res = core(
        pr.t, pr.v, lz.y, known, co, ip, fp, int(pr.a), int(pr.b), bool(pr.full), hco, hm, use_heavy
    )
    lz._known_cache = None
    cnt = int(res[0])
    if cnt == 0:
        return {}
    thr, peaks, ups, troughs, downs, fast, adp, slow, isi, clipped, width = res[1:]
    if not pr.full:
        return {"threshold": thr, "peak": peaks, "clipped": clipped}
    return {
        "threshold": thr,
        "peak": peaks,
        "upstroke": ups,
        "trough": troughs,
        "downstroke": downs,
        "fast_trough": fast,
        "adp": adp,
        "slow_trough": slow,
        "isi_type": _ISI[isi],
        "clipped": clipped,
        "width": width,
    }
