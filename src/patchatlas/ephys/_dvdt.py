"""Filtered dV/dt: a 4-pole Bessel low-pass applied forward and backward, then a forward difference.

This is the published Allen/IPFX pre-processing (Allen Cell Types technical white paper; the
definitions are restated in ``docs/ephys_parity.md``), written from scratch with two changes that
never alter a result IPFX can produce:

* **Sampling-rate aware cutoff.** A digital filter cannot have its cutoff at or above the Nyquist
  frequency. Where ``cutoff >= fs / 2`` IPFX raises; here the cutoff is lowered to ``0.25 * fs``
  (5 kHz at 20 kHz, the value users pass IPFX by hand), a :class:`FilterCutoffWarning` is issued,
  and the cutoff actually used is returned in :class:`FilterInfo` (which ends up in every table's
  provenance).
* **Explicit handling of time stamps.** The time step is judged uniform when every step is within
  1 % of a step, or within float32 rounding, of a uniform grid (float32-derived time stamps
  jitter by several % of the step at 50 kHz: IPFX's ``np.allclose`` test calls them
  non-uniform and silently skips the filter). Uniform sweeps are
  filtered. Truly non-uniform sweeps (variable-step simulations) cannot be filtered on a sample
  grid: the raw trace is differentiated, a :class:`NonUniformSamplingWarning` is issued, and
  ``FilterInfo.applied`` is False with the reason — never a silent skip.

The zero-phase filter reproduces the standard forward-backward scheme (odd extension of
``3 * max(len(a), len(b))`` samples at each end, steady-state initial conditions scaled by the
first sample of each pass), so results equal ``scipy.signal.filtfilt`` to rounding. It is
re-implemented to avoid that function's per-call overhead and to filter 2-D (sweeps x samples)
arrays in one call.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt

from patchatlas.ephys._notes import note as emit_note
from patchatlas.ephys._segments import seg_argext

__all__ = [
    "FilterCutoffWarning",
    "FilterInfo",
    "LazyDvdt",
    "NonUniformSamplingWarning",
    "bessel_ba",
    "bessel_filtfilt",
    "effective_cutoff",
    "filtered_dvdt",
    "is_uniform",
]

FloatArray = npt.NDArray[np.float64]

#: fraction of the sampling rate used as cutoff when the requested one cannot be carried
CUTOFF_FALLBACK_FRACTION = 0.25
#: relative tolerance on the time step for a sweep to count as uniformly sampled
UNIFORM_RTOL = 0.01


class FilterCutoffWarning(UserWarning):
    """The requested filter cutoff was at or above Nyquist and has been lowered."""


class NonUniformSamplingWarning(UserWarning):
    """The time stamps are not uniform: dV/dt was computed on the unfiltered trace."""


@dataclass(frozen=True, slots=True)
class FilterInfo:
    """What was actually done to compute dV/dt (recorded in provenance).

    Attributes
    ----------
    requested_khz
        Cutoff asked for (kHz), ``None`` for no filter.
    used_khz
        Cutoff applied (kHz); ``None`` when no filter was applied.
    sampling_rate
        Hz (median for non-uniform sweeps).
    uniform
        Whether the time stamps were judged uniform (1 % relative tolerance).
    applied
        Whether a filter was applied.
    note
        Why the cutoff was lowered or the filter not applied ("" otherwise).
    valid
        Sample range ``[a, b)`` where dV/dt is filtered (the whole sweep unless a region was
        requested).
    """

    requested_khz: float | None
    used_khz: float | None
    sampling_rate: float
    uniform: bool
    applied: bool
    note: str = ""
    valid: tuple[int, int] = (0, 0)

    def as_dict(self) -> dict[str, Any]:
        """Plain dict (for provenance)."""
        return {f: getattr(self, f) for f in self.__dataclass_fields__}


def is_uniform(
    t: FloatArray, *, rtol: float = UNIFORM_RTOL, dt: FloatArray | None = None
) -> tuple[bool, float]:
    """Whether ``t`` lies on a uniform grid; and the grid step (s).

    Uniform means the time stamps increase and each lies within ``rtol`` of a step, or within
    float32 rounding (4 ulp of the largest |t|), of the straight line from the first to the last
    time stamp. Float32-derived time stamps therefore count as uniform; genuinely variable steps
    (adaptive-step simulations) do not.
    """
    n = t.size
    if n < 2:
        return True, math.nan
    step = (float(t[-1]) - float(t[0])) / (n - 1)
    if not step > 0:
        return False, step
    if dt is None:
        dt = np.diff(t)
    lo, hi = float(dt.min()), float(dt.max())
    if hi - lo <= rtol * step:  # fast path: steps equal to within rtol
        return True, step
    if lo <= 0:
        return False, step
    grid = float(t[0]) + np.arange(n, dtype=np.float64) * step
    resid = float(np.max(np.abs(t - grid)))
    tol = max(rtol * step, 4.0 * 2.0**-23 * float(np.max(np.abs(t))))
    return bool(resid <= tol and tol < 0.5 * step), step


def effective_cutoff(requested_khz: float | None, sampling_rate: float) -> tuple[float | None, str]:
    """Cutoff (kHz) that a ``sampling_rate`` (Hz) can carry, and a note when it was lowered."""
    if requested_khz is None:
        return None, ""
    if not (requested_khz > 0):
        return None, f"filter cutoff {requested_khz!r} kHz is not positive: no filter applied"
    nyq = sampling_rate / 2.0
    # A normalised cutoff within 1e-6 of 1 is Nyquist up to rounding of the time stamps.
    if requested_khz * 1e3 < nyq * (1.0 - 1e-6):
        return float(requested_khz), ""
    used = CUTOFF_FALLBACK_FRACTION * sampling_rate / 1e3
    note = (
        f"requested {requested_khz:g} kHz cutoff is not below Nyquist ({nyq / 1e3:g} kHz at "
        f"{sampling_rate / 1e3:g} kHz sampling); lowered to {used:g} kHz"
    )
    return used, note


@lru_cache(maxsize=64)
def bessel_ba(wn: float) -> tuple[FloatArray, FloatArray, FloatArray]:
    """The 4-pole Bessel low-pass at normalised cutoff ``wn`` (fraction of Nyquist): numerator
    ``b``, denominator ``a`` and the steady-state initial conditions ``zi`` of ``lfilter``."""
    from scipy import signal

    b, a = signal.bessel(4, wn, "low")
    zi = signal.lfilter_zi(b, a)
    return np.asarray(b, float), np.asarray(a, float), np.asarray(zi, float)


def bessel_filtfilt(x: FloatArray, cutoff_hz: float, sampling_rate: float) -> FloatArray:
    """Zero-phase 4-pole Bessel low-pass along the last axis (same result as scipy filtfilt).

    Parameters
    ----------
    x
        1-D trace or 2-D (traces x samples) array; each row needs more than 15 samples.
    cutoff_hz
        Cutoff in Hz, strictly below ``sampling_rate / 2``.
    sampling_rate
        Hz.
    """
    from scipy.signal import lfilter

    b, a, zi = bessel_ba(float(cutoff_hz) / (sampling_rate / 2.0))
    pad = 3 * max(len(a), len(b))
    n = x.shape[-1]
    if n <= pad:
        from scipy.signal import filtfilt

        return np.asarray(filtfilt(b, a, x, axis=-1, padlen=n - 1), dtype=np.float64)
    # odd extension at both ends
    left = 2.0 * x[..., :1] - x[..., pad:0:-1]
    right = 2.0 * x[..., -1:] - x[..., -2 : -pad - 2 : -1]
    ext = np.concatenate((left, x, right), axis=-1)
    zshape = (1,) * (x.ndim - 1) + (zi.size,)
    zi_ = zi.reshape(zshape)
    y, _ = lfilter(b, a, ext, axis=-1, zi=zi_ * ext[..., :1])
    # reversed views make lfilter ~3x slower: reverse into contiguous memory
    y = np.ascontiguousarray(y[..., ::-1])
    y, _ = lfilter(b, a, y, axis=-1, zi=zi_ * y[..., :1])
    return np.ascontiguousarray(y[..., ::-1][..., pad : pad + n], dtype=np.float64)


@lru_cache(maxsize=64)
def _slowest_decay(wn: float) -> float:
    """Decay per sample (-ln |z|) of the slowest pole of the digital Bessel filter at ``wn``."""
    _, a, _ = bessel_ba(wn)
    r = float(np.max(np.abs(np.roots(a))))
    return -math.log(r)


def settle_samples(cutoff_hz: float, sampling_rate: float, *, efolds: float = 30.0) -> int:
    """Samples after which the forward-backward Bessel filter forgets an edge (``efolds`` e-folds).

    From the poles of the *digital* filter (the bilinear transform of the 4-pole Bessel
    low-pass): the slowest one, of radius ``r``, decays by ``-ln r`` per sample; 30 e-folds leave
    ~1e-13 of an edge transient. (Far below Nyquist this is the analog rate 0.657 x 2 pi x
    cutoff; near Nyquist the digital filter settles several times slower, e.g. 84 samples for 30
    e-folds at 10 kHz / 25 kHz instead of the analog 20.)
    """
    wn = float(cutoff_hz) / (sampling_rate / 2.0)
    return math.ceil(efolds / _slowest_decay(wn)) + 1


def filtered_dvdt(
    t: FloatArray,
    v: FloatArray,
    filter_khz: float | None = 10.0,
    *,
    warn: bool = True,
    region: tuple[int, int] | None = None,
    uniform: tuple[bool, float] | None = None,
) -> tuple[FloatArray, FilterInfo]:
    """dV/dt in V/s (length ``n - 1``) from the Bessel-filtered trace, and what was done.

    ``dvdt[k] = (vf[k + 1] - vf[k]) / (t[k + 1] - t[k]) * 1e-3``: a forward difference, mV/s
    converted to V/s. On uniformly sampled sweeps the denominator is the (float64) nominal step,
    so float32 jitter in ``t`` does not leak into dV/dt.

    ``region=(a, b)`` filters only samples ``[a, b)`` plus a settling margin on each side (the
    values there equal whole-trace filtering to ~1e-13); outside, dV/dt is the unfiltered
    difference and ``FilterInfo.valid`` says which samples are filtered. ``uniform`` passes a
    precomputed :func:`is_uniform` result.
    """
    n = v.shape[-1]
    uni, step = is_uniform(t) if uniform is None else uniform
    fs = 1.0 / step if step > 0 else math.nan
    used, note = effective_cutoff(filter_khz, fs) if math.isfinite(fs) else (None, "")
    applied = False
    valid = (0, n)
    if not uni:
        note = (
            "time stamps are not uniform (they depart from a uniform grid by more than 1 % of "
            "a step): dV/dt computed from the unfiltered trace"
        )
        if warn and filter_khz is not None:
            emit_note(note, NonUniformSamplingWarning, stacklevel=3)
        used = None
    elif used is not None and n > 1 and note and warn:
        emit_note(note, FilterCutoffWarning, stacklevel=3)
    if n < 2:
        dvdt = np.empty(0)
    elif uni:
        scale = 1e-3 / step
        if used is not None:
            applied = True
            if region is None:
                dvdt = np.diff(bessel_filtfilt(v, used * 1e3, fs)) * scale
            else:
                m = settle_samples(used * 1e3, fs)
                a, b = max(0, region[0]), min(n, region[1])
                lo, hi = max(0, a - m), min(n, b + m)
                if hi - lo >= 0.7 * n:
                    dvdt = np.diff(bessel_filtfilt(v, used * 1e3, fs)) * scale
                else:
                    dvdt = np.diff(v) * scale
                    seg = np.diff(bessel_filtfilt(v[lo:hi], used * 1e3, fs)) * scale
                    dvdt[lo : hi - 1] = seg
                    valid = (a if lo > 0 else 0, b if hi < n else n)
        else:
            dvdt = np.diff(v) * scale
    else:
        dts = np.diff(t)
        dup = dts <= 0
        with np.errstate(divide="ignore", invalid="ignore"):
            dvdt = np.diff(v) / dts * 1e-3
        if dup.any():
            # Repeated time stamps: no time elapses, the slope is undefined. Count it as flat
            # (0 V/s) rather than letting inf/NaN poison maxima and means; say so.
            dvdt[dup] = 0.0
            note += f"; {int(dup.sum())} repeated time stamp(s): dV/dt set to 0 there"
    info = FilterInfo(
        requested_khz=None if filter_khz is None else float(filter_khz),
        used_khz=used if applied else None,
        sampling_rate=fs,
        uniform=uni,
        applied=applied,
        note=note,
        valid=valid,
    )
    return np.asarray(dvdt, dtype=np.float64), info


def heavy_dvdt(
    v: FloatArray, cutoff_khz: float, sampling_rate: float, step: float, lo: int, hi: int
) -> FloatArray:
    """Filtered dV/dt (V/s, length ``n - 1``) valid on ``[lo, hi)``, NaN elsewhere."""
    n = v.shape[-1]
    out = np.full(max(n - 1, 0), np.nan)
    used, _ = effective_cutoff(cutoff_khz, sampling_rate)
    if used is None or n < 2:
        return out
    m = settle_samples(used * 1e3, sampling_rate)
    a, b = max(0, lo - m), min(n, hi + m)
    if b - a < 2:
        return out
    seg = np.diff(bessel_filtfilt(v[a:b], used * 1e3, sampling_rate)) * (1e-3 / step)
    keep_lo, keep_hi = (lo if a > 0 else 0), (hi if b < n else n)
    out[keep_lo : min(keep_hi, n - 1)] = seg[keep_lo - a : min(keep_hi, n - 1) - a]
    return out


@lru_cache(maxsize=64)
def kernel_l1(cutoff_hz: float, sampling_rate: float) -> float:
    """Sum of |h| of the forward-backward Bessel impulse response (>= 1; bounds the output)."""
    m = settle_samples(cutoff_hz, sampling_rate)
    x = np.zeros(4 * m + 64)
    x[x.size // 2] = 1.0
    h = bessel_filtfilt(x, cutoff_hz, sampling_rate)
    return float(np.sum(np.abs(h)))


class LazyDvdt:
    """Filtered dV/dt computed on demand, chunk by chunk (vectorised over chunks).

    ``y`` has length ``n - 1``. Samples in chunks that were not requested hold 0
    (``fill="zero"``) or are uninitialised (``fill="empty"``); :meth:`raw_range` gives the
    unfiltered difference anywhere. :meth:`ensure` filters every chunk that
    intersects the requested ranges: each chunk is filtered forward-backward together with a
    settling margin on both sides (30 e-folds of the slowest pole by default), all chunks in one
    2-D call, so the values equal whole-trace filtering to ~1e-13. Chunks at the ends of the
    trace include the true trace edge, where the padding is the same as whole-trace filtering.
    """

    def __init__(
        self,
        v: FloatArray,
        step: float,
        cutoff_hz: float | None,
        *,
        fill: str = "zero",
        efolds: float = 30.0,
    ) -> None:
        self.v = v
        n = v.shape[0]
        self.n = n
        self.scale = 1e-3 / step
        self.fs = 1.0 / step
        self.cutoff_hz = cutoff_hz
        self.filtered = cutoff_hz is not None and n > 1
        self._known_cache: npt.NDArray[np.bool_] | None = None
        if not self.filtered:
            self.raw = np.diff(v) * self.scale
            self.y = self.raw
            self.margin = 0
            self.chunk = max(n, 1)
            self.known = np.ones(1, bool)
            return
        assert cutoff_hz is not None
        self.margin = settle_samples(cutoff_hz, self.fs, efolds=efolds)
        self.chunk = max(256, 8 * self.margin)
        n_chunks = max(1, -(-(n - 1) // self.chunk))
        self.known = np.zeros(n_chunks, bool)
        # unrequested samples: 0 (never a candidate, never "negative"), or uninitialised for
        # consumers that read only what they requested
        self.y = np.zeros(n - 1) if fill == "zero" else np.empty(n - 1)
        self.g1 = kernel_l1(cutoff_hz, self.fs)
        if n - 1 <= 2 * self.chunk + 2 * self.margin:
            self.ensure_all()

    @classmethod
    def from_array(cls, v: FloatArray, dvdt: FloatArray) -> LazyDvdt:
        """A fully known dV/dt (non-uniform sweeps: computed elsewhere, never filtered here)."""
        obj = cls.__new__(cls)
        obj.v = v
        obj.n = v.shape[0]
        obj.scale = math.nan
        obj.fs = math.nan
        obj.cutoff_hz = None
        obj.raw = dvdt
        obj._known_cache = None
        obj.filtered = False
        obj.y = dvdt
        obj.margin = 0
        obj.chunk = max(obj.n, 1)
        obj.known = np.ones(1, bool)
        obj.g1 = 1.0
        return obj

    def ensure_all(self) -> None:
        """Filter everything."""
        if not self.filtered or self.known.all():
            return
        # in place: ``y`` may be a view into a batch buffer (patchatlas.ephys._batched)
        self.y[...] = np.diff(bessel_filtfilt(self.v, float(self.cutoff_hz), self.fs)) * self.scale  # type: ignore[arg-type]
        self.known[:] = True
        self._known_cache = None

    def ensure(self, starts: npt.ArrayLike, ends: npt.ArrayLike) -> None:
        """Filter the chunks intersecting every range ``[starts[k], ends[k])``."""
        if not self.filtered:
            return
        ids = self.chunk_ids(starts, ends)
        if ids is not None:
            self._filter_chunks(ids)

    def chunk_ids(self, starts: npt.ArrayLike, ends: npt.ArrayLike) -> npt.NDArray[np.int64] | None:
        """Sorted ids of the chunks intersecting the ranges (None: no non-empty range)."""
        top = self.n - 1
        s = np.minimum(np.maximum(np.asarray(starts, np.int64), 0), top)
        e = np.minimum(np.maximum(np.asarray(ends, np.int64), 0), top)
        ok = e > s
        if not ok.any():
            return None
        c0 = s[ok] // self.chunk
        c1 = (e[ok] - 1) // self.chunk
        lens = c1 - c0 + 1
        offs = np.repeat(np.cumsum(lens) - lens, lens)
        ids = np.repeat(c0, lens) + (np.arange(int(lens.sum())) - offs)
        out: npt.NDArray[np.int64] = np.unique(ids)
        return out

    def ensure_points(self, idx: npt.ArrayLike, pad: int) -> None:
        """Filter the chunks within ``pad`` samples of each index."""
        i = np.asarray(idx, np.int64)
        if i.size:
            self.ensure(i - pad, i + pad + 1)

    def plan_chunks(
        self, ids: npt.NDArray[np.int64]
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], FloatArray] | None:
        """Chunks still to filter: (ids, row starts, rows of v), or None when nothing is left
        to do (already known, or filtered whole here because most of the trace is asked for)."""
        ids = ids[~self.known[ids]]
        if ids.size == 0:
            return None
        if ids.size > 0.6 * self.known.size:
            self.ensure_all()
            return None
        c, m, n = self.chunk, self.margin, self.n
        width = c + 2 * m + 1  # samples of v per row (dV/dt of a chunk needs c + 1 samples)
        if width >= n:
            self.ensure_all()
            return None
        lo = np.minimum(np.maximum(ids * c - m, 0), n - width)
        rows = np.lib.stride_tricks.sliding_window_view(self.v, width)[lo]
        return ids, lo, rows

    def filter_rows(self, rows: FloatArray) -> FloatArray:
        """Filtered dV/dt (V/s) of each row of v (rows are filtered independently)."""
        f = np.diff(bessel_filtfilt(rows, float(self.cutoff_hz), self.fs), axis=-1)  # type: ignore[arg-type]
        f *= self.scale
        return f

    def store_chunks(
        self, ids: npt.NDArray[np.int64], lo: npt.NDArray[np.int64], f: FloatArray
    ) -> None:
        """Write the filtered rows ``f`` (from :meth:`plan_chunks`) into ``y``."""
        c, n = self.chunk, self.n
        off = ids * c - lo  # where chunk k starts inside its row (m except at the trace start)
        ny = n - 1
        full = (ids + 1) * c <= ny
        if full.any():
            sel = np.nonzero(full)[0]
            take = f[sel[:, None], off[sel, None] + np.arange(c)[None, :]]
            y2 = self.y[: (ny // c) * c].reshape(-1, c)
            y2[ids[sel]] = take
        if not full.all():  # the last, partial chunk
            r = int(np.nonzero(~full)[0][0])
            k0 = int(ids[r]) * c
            self.y[k0:ny] = f[r, off[r] : off[r] + ny - k0]
        self.known[ids] = True
        self._known_cache = None

    def _filter_chunks(self, ids: npt.NDArray[np.int64]) -> None:
        plan = self.plan_chunks(ids)
        if plan is not None:
            self.store_chunks(plan[0], plan[1], self.filter_rows(plan[2]))

    def ensure_windows(self, starts: npt.ArrayLike, ends: npt.ArrayLike) -> None:
        """Filter exactly the ranges ``[s, e)`` (rows of equal width, one 2-D call).

        Not tracked as known chunks: meant for consumers that read only these ranges (the ADP
        search of the heavy filter).
        """
        if not self.filtered:
            return
        s = np.asarray(starts, np.int64)
        e = np.asarray(ends, np.int64)
        ok = e > s
        s, e = s[ok], e[ok]
        if s.size == 0:
            return
        m, n = self.margin, self.n
        width = int((e - s).max()) + 2 * m + 1
        if width >= n or s.size * width > 0.8 * n:
            self.ensure_all()
            return
        lo = np.minimum(np.maximum(s - m, 0), n - width)
        rows = np.lib.stride_tricks.sliding_window_view(self.v, width)[lo]
        f = np.diff(bessel_filtfilt(rows, float(self.cutoff_hz), self.fs), axis=-1)  # type: ignore[arg-type]
        f *= self.scale
        # write back each row's [s, e) part (vectorised gather/scatter)
        lens = e - s
        offs = np.repeat(np.cumsum(lens) - lens, lens)
        k = np.arange(int(lens.sum())) - offs
        r = np.repeat(np.arange(s.size), lens)
        pos = np.repeat(s, lens) + k
        self.y[pos] = f[r, pos - lo[r]]

    def chunk_bound(self) -> FloatArray:
        """Per chunk: an upper bound of |filtered dV/dt| anywhere in it (cached).

        ``sum|h|`` x the largest |unfiltered dV/dt| within ``margin`` samples of the chunk (its
        own samples, the last ``margin`` of the chunk before, the first ``margin`` of the chunk
        after), with a relative slack of 1e-9.
        """
        cached: FloatArray | None = getattr(self, "_chunk_bound", None)
        if cached is None:
            raw = np.abs(np.diff(self.v)) * self.scale
            c, m, n = self.chunk, self.margin, raw.size
            starts = np.arange(0, n, c)
            core = np.maximum.reduceat(raw, starts)
            ends = np.minimum(starts + c, n)
            # first / last m samples of each chunk
            hs = np.empty(2 * starts.size, np.int64)
            hs[0::2], hs[1::2] = starts, np.minimum(starts + m, ends)
            head = np.maximum.reduceat(raw, np.minimum(hs, n - 1))[0::2]
            ts = np.empty(2 * starts.size, np.int64)
            ts[0::2], ts[1::2] = np.maximum(ends - m, starts), ends
            tail = np.maximum.reduceat(raw, np.minimum(ts, n - 1))[0::2]
            b = core.copy()
            b[1:] = np.maximum(b[1:], tail[:-1])
            b[:-1] = np.maximum(b[:-1], head[1:])
            cached = self.g1 * b * (1 + 1e-9) + 1e-9
            self._chunk_bound = cached
        return cached

    def unknown_bound(self, rs: npt.NDArray[np.int64], re: npt.NDArray[np.int64]) -> FloatArray:
        """Per range ``[rs, re)`` (non-empty): a bound of |filtered dV/dt| over its unfiltered
        chunks (0 where every chunk it touches is filtered)."""
        c = self.chunk
        cb = np.where(self.known, 0.0, self.chunk_bound())
        big = seg_argext(cb, rs // c, (re - 1) // c + 1, mode="max")
        out: FloatArray = cb[np.maximum(big, 0)]
        return out

    def raw_range(self, a: int, b: int) -> FloatArray:
        """Unfiltered dV/dt (V/s) of samples ``[a, b)``."""
        if not self.filtered:
            return self.y[a:b]
        return np.diff(self.v[a : b + 1]) * self.scale

    def invalidate(self) -> None:
        """Forget cached views of the chunk flags (call after filling ``y``/``known`` in place,
        as the compiled kernel does)."""
        self._known_cache = None

    def known_samples(self) -> npt.NDArray[np.bool_]:
        """Per-sample flag: dV/dt is filtered there (cached until more is filtered)."""
        if self._known_cache is None:
            if not self.filtered:
                self._known_cache = np.ones(self.n - 1, bool)
            else:
                self._known_cache = np.repeat(self.known, self.chunk)[: self.n - 1]
        return self._known_cache
