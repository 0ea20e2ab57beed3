"""The vectorised building blocks against plain Python references, and lazy vs whole-sweep
filtering of dV/dt on real recordings (identical spike tables)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

import patchatlas
import patchatlas.ephys._backend as backend
from patchatlas.ephys import spikes as spikes_mod
from patchatlas.ephys._dvdt import LazyDvdt, bessel_filtfilt
from patchatlas.ephys._segments import seg_argext, seg_first_where, seg_last_where


def _ref_argext(x: np.ndarray, st: np.ndarray, en: np.ndarray, mode: str) -> list[int]:
    f = np.argmax if mode == "max" else np.argmin
    return [int(f(x[a:b])) + int(a) if b > a else -1 for a, b in zip(st, en, strict=True)]


def _ref_where(x, st, en, lev, op, last):
    f = {">=": np.greater_equal, "<=": np.less_equal}[op]
    out = []
    for a, b in zip(st, en, strict=True):
        h = np.flatnonzero(f(x[a:b], lev))
        out.append(-1 if h.size == 0 else int(h[-1 if last else 0]) + int(a))
    return out


@pytest.mark.parametrize("seed", range(4))
def test_segment_reductions_match_python(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for trial in range(400):
        n = int(rng.integers(5, 80))
        x = rng.integers(0, 5, n).astype(float)
        if trial % 7 == 0:
            x[rng.integers(0, n)] = np.nan
        k = int(rng.integers(1, 7))
        if trial % 2:  # disjoint, sorted windows (the fast path)
            pts = np.sort(rng.integers(0, n + 1, 2 * k))
            st, en = pts[0::2], pts[1::2]
        else:  # arbitrary, possibly overlapping windows (the general path)
            st = rng.integers(0, n, k)
            en = np.minimum(st + rng.integers(0, 20, k), n)
        for mode in ("max", "min"):
            assert list(seg_argext(x, st, en, mode=mode)) == _ref_argext(x, st, en, mode)
        for op in (">=", "<="):
            assert list(seg_first_where(x, st, en, 2.0, op=op)) == _ref_where(
                x, st, en, 2.0, op, False
            )
            assert list(seg_last_where(x, st, en, 2.0, op=op)) == _ref_where(
                x, st, en, 2.0, op, True
            )


def test_lazy_dvdt_equals_whole_trace_filtering() -> None:
    rng = np.random.default_rng(3)
    v = np.cumsum(rng.normal(size=20000)) * 0.1
    full = np.diff(bessel_filtfilt(v, 10e3, 50e3)) * (1e-3 * 50e3)
    lz = LazyDvdt(v, 1 / 50e3, 10e3)
    lz.ensure([0, 3000, 19990], [5, 4200, 19999])
    lz.ensure_windows([7000], [7300])
    known = lz.known_samples()
    assert 0 < known.sum() < known.size
    assert np.allclose(lz.y[known], full[known], rtol=0, atol=1e-9 * np.abs(full).max())
    assert np.allclose(lz.y[7000:7300], full[7000:7300], rtol=0, atol=1e-9 * np.abs(full).max())
    lz.ensure_all()
    assert np.allclose(lz.y, full, atol=1e-12 * np.abs(full).max())


def test_lazy_filtering_gives_identical_spike_tables(ephys_data: Path) -> None:
    tables = {}
    for lazy in (True, False):
        out = []
        for name in ("18711001.abf", "2019_07_24_0055_fsi.abf", "17o05028_ic_steps.abf"):
            rec = patchatlas.read(ephys_data / "abf_pyabf" / name)
            for sw in rec:
                with warnings.catch_warnings(), backend.use(lazy_filter=lazy):
                    warnings.simplefilter("ignore")
                    out.append(
                        spikes_mod.detect_spikes(
                            sw.t, sw.v, start=sw.stimulus.start, end=sw.stimulus.end
                        )
                    )
        tables[lazy] = out
    n_spikes = 0
    for a, b in zip(tables[True], tables[False], strict=True):
        assert a.n_rows == b.n_rows
        n_spikes += a.n_rows
        for col in a:
            if a[col].dtype == object:
                assert list(a[col]) == list(b[col]), col
            else:
                np.testing.assert_allclose(a[col], b[col], rtol=1e-9, atol=1e-9, err_msg=col)
    assert n_spikes > 500


def test_lazy_dvdt_equals_whole_trace_filtering_near_nyquist() -> None:
    """The settling margin comes from the digital filter's poles: near Nyquist (10 kHz at
    25 kHz, wn = 0.8) the digital filter settles ~4x slower than the analog estimate, and lazily
    filtered chunks still equal whole-trace filtering."""
    rng = np.random.default_rng(3)
    fs = 25e3
    v = np.cumsum(rng.normal(size=20000)) * 0.1
    full = np.diff(bessel_filtfilt(v, 10e3, fs)) * (1e-3 * fs)
    lz = LazyDvdt(v, 1 / fs, 10e3)
    lz.ensure([3000, 9000], [4200, 9100])
    known = lz.known_samples()
    assert 0 < known.sum() < known.size
    assert np.allclose(lz.y[known], full[known], rtol=0, atol=1e-9 * np.abs(full).max())
