"""Private seam of :mod:`patchatlas.ephys`: the compiled Allen-profile detection (needs numba).

The same definitions as :func:`patchatlas.ephys._allen.allen_indices` (module docs of
:mod:`patchatlas.ephys.spikes`, restated in ``docs/ephys_parity.md``), written as one compiled
pass per sweep instead of vectorised segment reductions, together with the spike-table
assembly (:func:`assemble_table`) and the allen-profile sweep features
(:func:`sweep_feature_values`). The vectorised path is fast per sample but pays ~500-1,000
Python-level numpy calls per sweep; here a sweep costs three compiled calls.

The filtered dV/dt stays lazy: the kernel works on the sweep's :class:`~patchatlas.ephys._dvdt.
LazyDvdt` buffers (``y`` and the per-chunk ``known`` flags) and filters a run of chunks, with the
same 30 e-fold settling margin on both sides, the first time it reads a sample there; so every
value equals whole-trace filtering to ~1e-13, as on the vectorised path, and the buffer is left
in a state the table assembly can read (every index returned is filtered). The 1 kHz "heavy"
filter of the ADP rule is computed per fast trough over ``[fast trough, ADP reach)`` plus the
margin.

Results are those of the vectorised path (tested column by column on every real recording,
``tests/ephys/test_kernel.py``). Importing this module imports numba; only
:mod:`patchatlas.ephys._backend` does, and it absorbs :data:`FAILURES` (falling back to NumPy).

**One compilation per function.** numba compiles a specialisation per combination of argument
types, and an array's type includes its dtype, layout and whether it is writable. Every call
here therefore normalises its arguments: the arrays a kernel only reads are passed as read-only,
C-contiguous, aligned float64 (int64 for indices) arrays (a view when the input already is one,
a copy otherwise), the buffers it writes (the dV/dt and its chunk flags) as writable C arrays,
and scalars as Python ``int``/``float``/``bool``. Whatever the caller holds (a read-only time
axis of a :class:`~patchatlas.core.recording.Sweep`, a writable user array, float32, a strided
column), each function has one signature, compiled once per environment (about 15 s for the
three) and read from numba's on-disk cache (``cache=True``) by later processes (about 1 s).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numba
import numpy as np
import numpy.typing as npt
from numba.core.errors import NumbaError

import patchatlas.ephys._kernel_nb as nb
from patchatlas.core.table import FeatureTable
from patchatlas.ephys._allen import POINTS, SPIKE_COLUMNS, Prep
from patchatlas.ephys._dvdt import bessel_ba, settle_samples
from patchatlas.ephys.train import SUBTHRESHOLD_FEATURES, TRAIN_FEATURES

__all__ = [
    "FAILURES",
    "NUMBA_VERSION",
    "allen_indices",
    "assemble_table",
    "read_only",
    "sweep_feature_values",
]

#: what a numba failure can raise: numba's own errors (typing, lowering, internal ...),
#: llvmlite's RuntimeError (LLVM), the cache's RuntimeError/OSError, a lazy import inside numba
FAILURES: tuple[type[BaseException], ...] = (NumbaError, RuntimeError, OSError, ImportError)
NUMBA_VERSION: str = numba.__version__

#: ``isi_type`` codes of the kernel
_ISI = np.array([None, "direct", "detour"], dtype=object)


def read_only(a: Any, dtype: type = np.float64) -> npt.NDArray[Any]:
    """``a`` as a read-only, C-contiguous, aligned array of ``dtype`` (the one array type the
    kernels are compiled for): a view when it already is such an array, else a copy.

    Parameters
    ----------
    a
        Array-like.
    dtype
        ``np.float64`` or ``np.int64``.

    Returns
    -------
    numpy.ndarray
        Read-only.
    """
    arr = np.asarray(a)
    if not (arr.dtype == dtype and arr.flags.c_contiguous and arr.flags.aligned):
        arr = np.array(arr, dtype=dtype, order="C")
    if arr.flags.writeable:
        arr = arr.view()
        arr.flags.writeable = False
    return arr


def _writable(a: Any, dtype: type) -> npt.NDArray[Any]:
    """``a`` itself when it is a writable C-contiguous aligned array of ``dtype``, else a copy."""
    f = a.flags
    if a.dtype == dtype and f.c_contiguous and f.aligned and f.writeable:
        return a  # type: ignore[no-any-return]
    return np.array(a, dtype=dtype, order="C")


@lru_cache(maxsize=64)
def _coefs(cutoff_hz: float, fs: float, scale: float) -> npt.NDArray[np.float64]:
    """Bessel b (5), a[1:] (4), steady-state zi (4) and the dV/dt scale, in one array."""
    b, a, zi = bessel_ba(cutoff_hz / (fs / 2.0))
    b = b / a[0]
    a = a / a[0]
    return read_only(np.concatenate((b, a[1:], zi, [scale])))


@lru_cache(maxsize=64)
def _fparams(p: Any, cutoff: float, g1: float) -> npt.NDArray[np.float64]:
    return read_only(
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
        ]
    )


@lru_cache(maxsize=64)
def _iparams(chunk: int, margin: int, filtered: bool) -> npt.NDArray[np.int64]:
    return read_only([chunk, margin, 1 if filtered else 0], np.int64)


_NO_COEFS = read_only(np.zeros(14))
_EMPTY = read_only(np.zeros(0))


def allen_indices(pr: Prep) -> dict[str, Any]:
    """Spike indices of one prepared sweep, as :func:`patchatlas.ephys._allen.sweep_indices`.

    Parameters
    ----------
    pr
        The prepared sweep; its lazy dV/dt buffers are filled in place where the kernel reads.

    Returns
    -------
    dict
        As :func:`patchatlas.ephys._allen.sweep_indices`.
    """
    lz, p, hz = pr.lz, pr.p, pr.hz
    filt = bool(lz.filtered)
    scale = float(lz.scale) if filt else 1.0
    co = _coefs(float(lz.cutoff_hz or 0.0), float(lz.fs), scale) if filt else _NO_COEFS
    ip = _iparams(int(lz.chunk), int(lz.margin), filt)
    fp = _fparams(p, float(pr.cutoff), float(getattr(lz, "g1", 1.0)))
    if hz is not None and hz.cutoff_hz is not None:
        hco = _coefs(float(hz.cutoff_hz), float(hz.fs), scale)
        hm = int(settle_samples(float(hz.cutoff_hz), float(hz.fs)))
        use_heavy = True
    else:
        hco, hm, use_heavy = co, 0, False
    # the buffers the kernel fills in place (already of the right kind, except in odd cases)
    lz.y = _writable(lz.y, np.float64)
    lz.known = _writable(lz.known, np.bool_)
    try:
        res = nb.core(
            read_only(pr.t),
            read_only(pr.v),
            lz.y,
            lz.known,
            co,
            ip,
            fp,
            int(pr.a),
            int(pr.b),
            bool(pr.full),
            hco,
            hm,
            bool(use_heavy),
        )
    finally:
        lz.invalidate()  # the kernel set chunk flags
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
    *(f"{pt}_i" for pt in POINTS),
)
_INT_COLS = {"threshold_index": "threshold", "peak_index": "peak", "upstroke_index": "upstroke"}


def assemble_table(pr: Prep, idx: dict[str, Any]) -> FeatureTable:
    """The full spike table of one prepared sweep from its indices, as
    :func:`patchatlas.ephys._allen.assemble_table` (the value columns gathered in one compiled
    call).

    Parameters
    ----------
    pr
        The prepared sweep.
    idx
        Its spike indices (non-empty, ``pr.full``).

    Returns
    -------
    FeatureTable
        The spike table.
    """
    has_i = pr.i is not None
    mat = nb.assemble(
        read_only(pr.t),
        read_only(pr.v),
        read_only(pr.lz.y),
        read_only(pr.i) if has_i else _EMPTY,
        bool(has_i),
        *(
            read_only(idx[k], np.int64)
            for k in (
                "threshold",
                "peak",
                "upstroke",
                "trough",
                "downstroke",
                "fast_trough",
                "adp",
                "slow_trough",
            )
        ),
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
        for c in FLOAT_ROWS[-len(POINTS) :]:
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
    """The allen-profile sweep features (those of :func:`patchatlas.ephys.train.analyze_sweep`)
    in one compiled call.

    Parameters
    ----------
    t, v
        Time (s) and voltage (mV) of the sweep.
    threshold_t
        Threshold times of its spikes (s).
    start, end
        The analysis window (s; NaN when unknown).
    amp
        Stimulus amplitude (pA).
    burst_max_isi, pause_factor
        The burst and pause rules (s, factor).

    Returns
    -------
    dict
        Feature name → value, in :data:`SWEEP_ROWS` order.
    """
    vals = nb.sweep_features(
        read_only(t),
        read_only(v),
        read_only(threshold_t),
        float(start),
        float(end),
        float(amp),
        float(burst_max_isi),
        float(pause_factor),
    )
    return dict(zip(SWEEP_ROWS, vals.tolist(), strict=True))
