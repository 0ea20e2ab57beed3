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

**Explicit signatures: one compilation per function.** numba compiles a specialisation per
combination of argument types, and an array's type includes its dtype, layout and whether it is
writable (a :class:`~patchatlas.core.recording.Sweep`'s time axis is read-only, user arrays are
writable: that used to cost a second 6 s compilation). Here each kernel function gets one
explicit signature (:data:`SIGNATURES`): C-contiguous float64 / int64 / bool arrays, **read-only**
for everything the function only reads, writable only for the dV/dt buffer and its chunk flags
that the detection fills. Importing this module compiles those signatures (or reads them from
numba's on-disk cache, ``cache=True``) and then switches further compilation off
(``disable_compile``): a writable array is accepted by a read-only argument as it is (numba's
safe conversion, no copy, no new compilation), and the wrappers below hand over C-contiguous
float64 arrays (a copy only for float32, strided or foreign input), int64 indices and Python
``int``/``float``/``bool`` scalars. The first import in an environment compiles (about 15 s for
the three functions), later processes read the cache (about 1 s with ``import numba``).

Any failure of numba while importing, compiling or loading is raised as :class:`KernelUnavailable`
(an :class:`ImportError`); a failure while running is one of :data:`FAILURES`.
:mod:`patchatlas.ephys._backend` absorbs both and falls back to NumPy.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numba
import numpy as np
import numpy.typing as npt
from numba import types
from numba.core.errors import NumbaError

import patchatlas.ephys._kernel_nb as nb
from patchatlas.core.table import FeatureTable
from patchatlas.ephys._allen import POINTS, SPIKE_COLUMNS, Prep
from patchatlas.ephys._dvdt import bessel_ba, settle_samples
from patchatlas.ephys.train import SUBTHRESHOLD_FEATURES, TRAIN_FEATURES

__all__ = [
    "FAILURES",
    "NUMBA_VERSION",
    "SIGNATURES",
    "KernelUnavailable",
    "allen_indices",
    "assemble_table",
    "c_array",
    "sweep_feature_values",
]

#: what a numba failure can raise when a compiled function runs: numba's own errors (typing,
#: lowering, internal ...), llvmlite's RuntimeError (LLVM), the cache's RuntimeError/OSError, a
#: lazy import inside numba, the dispatcher's TypeError for arguments matching no signature
FAILURES: tuple[type[BaseException], ...] = (
    NumbaError,
    RuntimeError,
    OSError,
    ImportError,
    TypeError,
)
NUMBA_VERSION: str = numba.__version__


class KernelUnavailable(ImportError):
    """numba is importable but the kernel could not be compiled or loaded."""


_RO_F = types.Array(types.float64, 1, "C", readonly=True)
_RO_I = types.Array(types.int64, 1, "C", readonly=True)
_RW_F = types.Array(types.float64, 1, "C")
_RW_B = types.Array(types.boolean, 1, "C")
_INT, _FLT, _BOOL = types.int64, types.float64, types.boolean

#: the one signature of each compiled function (read-only arrays accept writable ones)
SIGNATURES: dict[str, tuple[Any, ...]] = {
    "core": (
        _RO_F,  # t
        _RO_F,  # v
        _RW_F,  # y: the lazily filtered dV/dt, filled in place
        _RW_B,  # known: its chunk flags, set in place
        _RO_F,  # co: filter coefficients
        _RO_I,  # ip: chunk, margin, filtered
        _RO_F,  # fp: detection parameters
        _INT,  # si: window start (sample)
        _INT,  # ei: window end (sample)
        _BOOL,  # full
        _RO_F,  # hco: heavy-filter coefficients
        _INT,  # hm: heavy-filter margin (samples)
        _BOOL,  # use_heavy
    ),
    # t v y i has_i, then the 8 index arrays
    "assemble": (_RO_F, _RO_F, _RO_F, _RO_F, _BOOL, *([_RO_I] * 8)),
    # t v threshold_t start end amp burst_max_isi pause_factor
    "sweep_features": (_RO_F, _RO_F, _RO_F, _FLT, _FLT, _FLT, _FLT, _FLT),
}


def _compile() -> None:
    for name, sig in SIGNATURES.items():
        fn = getattr(nb, name)
        if not isinstance(fn, numba.core.registry.CPUDispatcher):
            # NUMBA_DISABLE_JIT=1 leaves plain Python functions: far slower than NumPy
            raise KernelUnavailable("numba's JIT is disabled (NUMBA_DISABLE_JIT)")
        fn.compile(sig)  # from numba's on-disk cache when it holds this signature
        fn.disable_compile()


try:
    _compile()
except (NumbaError, RuntimeError, OSError) as exc:
    raise KernelUnavailable(f"the kernel did not compile: {type(exc).__name__}: {exc}") from exc

#: ``isi_type`` codes of the kernel
_ISI = np.array([None, "direct", "detour"], dtype=object)
_F64 = np.dtype(np.float64)
_I64 = np.dtype(np.int64)


def c_array(a: Any, dtype: np.dtype[Any] = _F64) -> npt.NDArray[Any]:
    """``a`` as a C-contiguous, aligned base-class array of ``dtype`` (what the signatures take):
    ``a`` itself when it already is one (read-only or not), else a copy.

    Parameters
    ----------
    a
        Array-like.
    dtype
        The dtype of the kernel argument.

    Returns
    -------
    numpy.ndarray
        ``a`` or a writable copy.
    """
    if type(a) is np.ndarray and (a.dtype is dtype or a.dtype == dtype):
        f = a.flags
        if f.c_contiguous and f.aligned:
            return a
    return np.array(a, dtype=dtype, order="C")


def _buffer(a: Any, dtype: np.dtype[Any]) -> npt.NDArray[Any]:
    """A buffer the kernel writes into: ``a`` when writable and of the signature's kind."""
    out = c_array(a, dtype)
    return out if out.flags.writeable else out.copy()


@lru_cache(maxsize=64)
def _coefs(cutoff_hz: float, fs: float, scale: float) -> npt.NDArray[np.float64]:
    """Bessel b (5), a[1:] (4), steady-state zi (4) and the dV/dt scale, in one array."""
    b, a, zi = bessel_ba(cutoff_hz / (fs / 2.0))
    b = b / a[0]
    a = a / a[0]
    return _frozen(np.concatenate((b, a[1:], zi, [scale])))


def _frozen(a: Any, dtype: np.dtype[Any] = _F64) -> npt.NDArray[Any]:
    out = np.array(a, dtype=dtype, order="C")
    out.flags.writeable = False  # shared by every call (lru_cache)
    return out


@lru_cache(maxsize=64)
def _fparams(p: Any, cutoff: float, g1: float) -> npt.NDArray[np.float64]:
    return _frozen(
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
    return _frozen([chunk, margin, 1 if filtered else 0], _I64)


_NO_COEFS = _frozen(np.zeros(14))
_EMPTY = _frozen(np.zeros(0))


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
    lz.y = _buffer(lz.y, _F64)
    lz.known = _buffer(lz.known, np.dtype(np.bool_))
    try:
        res = nb.core(
            c_array(pr.t),
            c_array(pr.v),
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
        c_array(pr.t),
        c_array(pr.v),
        c_array(pr.lz.y),
        c_array(pr.i) if has_i else _EMPTY,
        bool(has_i),
        # spike indices are made by this package (the kernel, or the numpy paths): fresh
        # int64 C arrays, passed as they are (anything else fails the dispatch: a TypeError)
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
        c_array(t),
        c_array(v),
        c_array(threshold_t),
        float(start),
        float(end),
        float(amp),
        float(burst_max_isi),
        float(pause_factor),
    )
    return dict(zip(SWEEP_ROWS, vals.tolist(), strict=True))
