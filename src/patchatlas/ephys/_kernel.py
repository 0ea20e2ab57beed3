"""Compiled Allen-profile spike detection (optional; needs numba).

The same definitions as :func:`patchatlas.ephys.spikes._allen_indices` (module docs of
:mod:`patchatlas.ephys.spikes`, restated in ``docs/ephys_parity.md``), written as one compiled
pass per sweep instead of vectorised segment reductions, together with the spike-table assembly
(:func:`assemble_table`) and the allen-profile sweep features (:func:`sweep_feature_values`).
The vectorised path is fast per sample but pays ~500-1,000 Python-level numpy calls per sweep;
here a sweep costs three compiled calls.

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
environment compiles (about 10 s per combination of argument types, e.g. read-only or writable
time axes), later processes load the cache (about 1 s with ``import numba``).
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt

from patchatlas.core.table import FeatureTable
from patchatlas.ephys.spikes import _POINTS, SPIKE_COLUMNS
from patchatlas.ephys.train import SUBTHRESHOLD_FEATURES, TRAIN_FEATURES

__all__ = ["allen_indices", "assemble_table", "available", "sweep_feature_values"]

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

    _STATE["assemble"] = _kernel_nb.assemble
    _STATE["sweep_features"] = _kernel_nb.sweep_features
    return _kernel_nb.core


@lru_cache(maxsize=64)
def _coefs(cutoff_hz: float, fs: float, scale: float) -> npt.NDArray[np.float64]:
    """Bessel b (5), a[1:] (4), steady-state zi (4) and the dV/dt scale, in one array."""
    from patchatlas.ephys._dvdt import _bessel_ba

    b, a, zi = _bessel_ba(cutoff_hz / (fs / 2.0))
    b = b / a[0]
    a = a / a[0]
    out = np.concatenate((b, a[1:], zi, [scale])).astype(np.float64)
    out.flags.writeable = False
    return out


@lru_cache(maxsize=64)
def _fparams(p: Any, cutoff: float, g1: float) -> npt.NDArray[np.float64]:
    out = np.array(
        [
            cutoff,
            g1,
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
    out.flags.writeable = False
    return out


_NO_COEFS = np.zeros(14, np.float64)
_NO_COEFS.flags.writeable = False


def allen_indices(pr: Any) -> dict[str, Any]:
    """Spike indices of one prepared sweep (``spikes._Prep``), as ``spikes._indices``."""
    from patchatlas.ephys._dvdt import settle_samples

    core = _STATE["core"]
    lz, p = pr.lz, pr.p
    filt = bool(lz.filtered)
    scale = float(lz.scale) if filt else 1.0
    co = _coefs(float(lz.cutoff_hz), float(lz.fs), scale) if filt else _NO_COEFS
    ip = np.array([lz.chunk, lz.margin, 1 if filt else 0], np.int64)
    fp = _fparams(p, float(pr.cutoff), float(getattr(lz, "g1", 1.0)))
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


#: rows of the float matrix that ``_kernel_nb.assemble`` returns: the float spike columns in
#: table order, then the current at each point (the order ``_kernel_nb.assemble`` writes)
FLOAT_ROWS = (
    *(
        c
        for c in SPIKE_COLUMNS
        if c not in ("threshold_index", "peak_index", "upstroke_index", "width")
        and c not in ("isi_type", "clipped")
    ),
    *(f"{pt}_i" for pt in _POINTS),
)
_INT_COLS = {"threshold_index": "threshold", "peak_index": "peak", "upstroke_index": "upstroke"}
_EMPTY = np.zeros(0)


def assemble_table(pr: Any, idx: dict[str, Any]) -> FeatureTable:
    """The full spike table of one prepared sweep from its indices (as ``spikes._assemble``,
    the value columns gathered in one compiled call)."""
    has_i = pr.i is not None
    mat = _STATE["assemble"](
        pr.t,
        pr.v,
        pr.lz.y,
        pr.i if has_i else _EMPTY,
        has_i,
        idx["threshold"],
        idx["peak"],
        idx["upstroke"],
        idx["trough"],
        idx["downstroke"],
        idx["fast_trough"],
        idx["adp"],
        idx["slow_trough"],
    )
    rows = dict(zip(FLOAT_ROWS, mat, strict=False))
    cols: dict[str, Any] = {}
    for c in SPIKE_COLUMNS:
        if c in _INT_COLS:
            cols[c] = np.asarray(idx[_INT_COLS[c]], dtype=np.int64)
        elif c == "width":
            cols[c] = idx["width"]
        elif c == "isi_type":
            cols[c] = np.asarray(idx["isi_type"], dtype=object)
        elif c == "clipped":
            cols[c] = np.asarray(idx["clipped"], dtype=bool)
        else:
            cols[c] = rows[c]
    if has_i:
        for c in FLOAT_ROWS[-len(_POINTS) :]:
            cols[c] = rows[c]
    return FeatureTable(cols, provenance=pr.prov)


#: order of the values ``_kernel_nb.sweep_features`` returns
SWEEP_ROWS = (*TRAIN_FEATURES, *SUBTHRESHOLD_FEATURES)


def sweep_feature_values(
    t: npt.NDArray[np.float64],
    v: npt.NDArray[np.float64],
    threshold_t: npt.NDArray[np.float64],
    start: float,
    end: float,
    amp: float,
    *,
    burst_max_isi: float = 0.010,
    pause_factor: float = 3.0,
) -> dict[str, float]:
    """The allen-profile sweep features (``train._features``) in one compiled call."""
    vals = _STATE["sweep_features"](
        t,
        v,
        np.ascontiguousarray(threshold_t, dtype=np.float64),
        float(start),
        float(end),
        float(amp),
        float(burst_max_isi),
        float(pause_factor),
    )
    return dict(zip(SWEEP_ROWS, vals.tolist(), strict=True))
