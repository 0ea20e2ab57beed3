"""Vectorised per-segment reductions: many ``x[start:end]`` windows at once, no Python loops.

Every function takes index arrays ``starts``/``ends`` (half-open windows) and returns one value
per window, ``-1`` where a window is empty or has no hit. Windows may overlap: values are
gathered, so the cost is the total window length.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


def gather(starts: IntArray, ends: IntArray) -> tuple[IntArray, IntArray, IntArray]:
    """Concatenated ``arange(s, e)`` for all windows: (indices, offsets (k+1), lengths)."""
    lens = np.maximum(np.asarray(ends, np.int64) - np.asarray(starts, np.int64), 0)
    offs = np.zeros(lens.size + 1, np.int64)
    np.cumsum(lens, out=offs[1:])
    total = int(offs[-1])
    idx = np.arange(total, dtype=np.int64) - np.repeat(offs[:-1] - starts, lens)
    return idx, offs, lens


def first_true(cond: BoolArray, offs: IntArray) -> IntArray:
    """Offset (within its window) of the first True per window of a gathered boolean array."""
    hits = np.flatnonzero(cond)
    k = offs.size - 1
    out = np.full(k, -1, np.int64)
    if hits.size == 0 or k == 0:
        return out
    pos = np.searchsorted(hits, offs[:-1], side="left")
    ok = pos < hits.size
    pos_c = np.minimum(pos, hits.size - 1)
    ok &= hits[pos_c] < offs[1:]
    out[ok] = hits[pos_c[ok]] - offs[:-1][ok]
    return out


def last_true(cond: BoolArray, offs: IntArray) -> IntArray:
    """Offset (within its window) of the last True per window of a gathered boolean array."""
    hits = np.flatnonzero(cond)
    k = offs.size - 1
    out = np.full(k, -1, np.int64)
    if hits.size == 0 or k == 0:
        return out
    pos = np.searchsorted(hits, offs[1:], side="left") - 1
    ok = pos >= 0
    pos_c = np.maximum(pos, 0)
    ok &= hits[pos_c] >= offs[:-1]
    out[ok] = hits[pos_c[ok]] - offs[:-1][ok]
    return out


def _disjoint(starts: IntArray, ends: IntArray) -> bool:
    """Windows sorted and non-overlapping (the usual case: spike after spike), and covering
    most of their span: the fast path works on the whole span ``[starts[0], ends[-1])``, which
    for windows spread over many concatenated sweeps is far longer than the windows (the
    gathering path costs the windows' length only; both give the same answer)."""
    if not (np.all(ends >= starts) and np.all(starts[1:] >= ends[:-1])):
        return False
    span = int(ends[-1]) - int(starts[0])
    return span <= 4 * int(np.sum(ends - starts)) + 4096


def _argext_disjoint(
    x: npt.NDArray[Any], starts: IntArray, ends: IntArray, mode: str
) -> IntArray | None:
    """Fast path for sorted, non-overlapping windows (None: use the general path)."""
    lo, hi = int(starts[0]), int(ends[-1])
    out = np.full(starts.size, -1, np.int64)
    if hi <= lo:
        return out
    xs = x[lo:hi]
    m = xs.size
    # boundaries [s0, e0, s1, e1, ..., s_last] relative to lo: reduceat segment k runs from
    # b[k] to b[k+1] (the last to the end of xs); even k are windows, odd k the gaps
    b = np.empty(2 * starts.size - 1, np.int64)
    b[0::2] = starts - lo
    b[1::2] = ends[:-1] - lo
    if b[-1] >= m:
        return None
    lens = np.diff(np.append(b, m))
    red = np.maximum.reduceat if mode == "max" else np.minimum.reduceat
    ext = red(xs, b).astype(np.float64)
    win = ext[0::2].copy()
    nonempty = lens[0::2] > 0
    if np.isnan(win[nonempty]).any():
        return None  # NaN inside a window: the general path treats NaN as the extreme
    ext[1::2] = np.nan  # gaps never match
    win[~nonempty] = np.nan
    ext[0::2] = win
    hits = np.flatnonzero(xs == np.repeat(ext, lens))
    if hits.size == 0:
        return out
    rel0 = b[0::2]
    pos = np.minimum(np.searchsorted(hits, rel0), hits.size - 1)
    ok = nonempty & (hits[pos] >= rel0) & (hits[pos] < ends - lo)
    out[ok] = hits[pos[ok]] + lo
    return out


def seg_argext(x: npt.NDArray[Any], starts: IntArray, ends: IntArray, *, mode: str) -> IntArray:
    """Absolute index of the first max (``mode="max"``) or min of ``x[s:e]`` per window.

    NaN counts as the extreme, as with :func:`numpy.argmax`. Empty windows give ``-1``.
    """
    starts = np.asarray(starts, np.int64)
    ends = np.asarray(ends, np.int64)
    out = np.full(starts.size, -1, np.int64)
    if starts.size == 0:
        return out
    if _disjoint(starts, ends):
        fast = _argext_disjoint(x, starts, ends, mode)
        if fast is not None:
            return fast
    idx, offs, lens = gather(starts, ends)
    if idx.size == 0:
        return out
    vals = x[idx]
    nan = np.isnan(vals)
    fill = np.inf if mode == "max" else -np.inf
    if nan.any():
        vals = np.where(nan, fill, vals)
    nonempty = lens > 0
    red = np.maximum.reduceat if mode == "max" else np.minimum.reduceat
    ext = np.full(starts.size, fill)
    ext[nonempty] = red(vals, offs[:-1][nonempty])
    rel = first_true(vals == np.repeat(ext, lens), offs)
    ok = rel >= 0
    out[ok] = starts[ok] + rel[ok]
    return out


def seg_first_where(
    x: npt.NDArray[Any], starts: IntArray, ends: IntArray, level: npt.ArrayLike, *, op: str
) -> IntArray:
    """Absolute index of the first sample of ``x[s:e]`` with ``x op level`` (per-window level).

    ``op`` is one of ``">="``, ``"<="``, ``"<"``, ``">"``. ``-1`` where none.
    """
    return _seg_where(x, starts, ends, level, op=op, last=False)


def seg_last_where(
    x: npt.NDArray[Any], starts: IntArray, ends: IntArray, level: npt.ArrayLike, *, op: str
) -> IntArray:
    """Absolute index of the last sample of ``x[s:e]`` with ``x op level``; ``-1`` where none."""
    return _seg_where(x, starts, ends, level, op=op, last=True)


_OPS = {">=": np.greater_equal, "<=": np.less_equal, "<": np.less, ">": np.greater}


def _seg_where(
    x: npt.NDArray[Any],
    starts: IntArray,
    ends: IntArray,
    level: npt.ArrayLike,
    *,
    op: str,
    last: bool,
) -> IntArray:
    starts = np.asarray(starts, np.int64)
    ends = np.asarray(ends, np.int64)
    out = np.full(starts.size, -1, np.int64)
    if starts.size == 0:
        return out
    if np.ndim(level) == 0 and _disjoint(starts, ends):
        lo, hi = int(starts[0]), int(ends[-1])
        if hi <= lo:
            return out
        hits = np.flatnonzero(_OPS[op](x[lo:hi], float(level)))  # type: ignore[arg-type]
        if hits.size == 0:
            return out
        rs, re = starts - lo, ends - lo
        if last:
            pos = np.searchsorted(hits, re, side="left") - 1
            posc = np.maximum(pos, 0)
            ok = (pos >= 0) & (hits[posc] >= rs) & (re > rs)
        else:
            pos = np.searchsorted(hits, rs, side="left")
            posc = np.minimum(pos, hits.size - 1)
            ok = (pos < hits.size) & (hits[posc] < re) & (re > rs)
        out[ok] = hits[posc[ok]] + lo
        return out
    idx, offs, lens = gather(starts, ends)
    if idx.size == 0:
        return out
    lev = np.broadcast_to(np.asarray(level, dtype=np.float64), starts.shape)
    cond = _OPS[op](x[idx], np.repeat(lev, lens))
    rel = last_true(cond, offs) if last else first_true(cond, offs)
    ok = rel >= 0
    out[ok] = starts[ok] + rel[ok]
    return out
