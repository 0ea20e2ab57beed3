"""The compiled detection kernel (numba) gives the tables of the vectorised numpy path.

The numpy path is the reference (it is the one the IPFX parity suite was built on; the parity
suite itself now runs through the kernel, since that is the default). Here both paths run on the
same sweeps and every column is compared: indices exactly, values to 1e-9 relative (both filter
lazily, chunk by chunk, with different chunk groupings: values equal to ~1e-13).
"""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from typing import Any

import numpy as np
import pytest

import patchatlas.ephys._backend as backend
from patchatlas.core.recording import ClampMode, Recording
from patchatlas.core.table import FeatureTable
from patchatlas.ephys.spikes import AllenParameters, detect_spikes
from patchatlas.ephys.train import analyze_sweeps

pytestmark = pytest.mark.skipif(
    not backend.numba_available(), reason="numba not installed (the kernel is optional)"
)

INDEX_COLS = ("threshold_index", "peak_index", "upstroke_index")


def _compare(a: FeatureTable, b: FeatureTable, where: str) -> None:
    assert list(a) == list(b), where
    assert a.n_rows == b.n_rows, where
    for c in a:
        x, y = np.asarray(a[c]), np.asarray(b[c])
        if x.dtype == object:
            assert list(x) == list(y), f"{where}: {c}"
        elif c.endswith("_index") or x.dtype == bool:
            np.testing.assert_array_equal(x, y, err_msg=f"{where}: {c}")
        else:
            np.testing.assert_allclose(x, y, rtol=1e-9, atol=1e-12, err_msg=f"{where}: {c}")


def _both(fn: Any, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    """``fn()`` on the numpy path, then on the kernel (strictly: a numba failure raises)."""
    out = []
    for name in ("numpy", "numba"):
        with backend.use(name), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out.append(fn())
    return out[0], out[1]


@pytest.mark.parametrize("profile", ["allen", "robust"])
@pytest.mark.parametrize("per_spike", [True, False])
def test_kernel_equals_numpy_path_on_every_real_abf(
    abf_recordings: list[Recording], profile: str, per_spike: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    n_spikes = n_sweeps = 0
    for rec in abf_recordings:
        sweeps = [sw for sw in rec if sw.clamp_mode == ClampMode.CURRENT_CLAMP]
        flags = [per_spike] * len(sweeps)
        ref, got = _both(
            lambda sweeps=sweeps, flags=flags: analyze_sweeps(
                sweeps, profile=profile, per_spike=flags
            ),
            monkeypatch,
        )
        for sw, r, g in zip(sweeps, ref, got, strict=True):
            where = f"{rec.source} sweep {sw.number} ({profile})"
            assert type(r) is type(g), where
            if isinstance(r, Exception):
                assert str(r) == str(g), where
                continue
            _compare(r[0], g[0], where)
            assert r[0].provenance == g[0].provenance, where
            for k, x in r[1].items():
                y = g[1][k]
                if isinstance(x, float) and np.isnan(x):
                    assert isinstance(y, float) and np.isnan(y), f"{where}: {k}"
                else:
                    assert x == y, f"{where}: {k}: {x!r} != {y!r}"
            n_spikes += r[0].n_rows
            n_sweeps += 1
    assert n_sweeps > 100
    assert n_spikes > 500


def _spiky(fs: float, seed: int = 0, n_s: float = 0.6) -> tuple[np.ndarray, np.ndarray]:
    """A noisy trace with spikes of varying shape, ADPs and a depolarised tail."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(n_s * fs)) / fs
    v = -70.0 + rng.normal(0, 0.05, t.size)
    for k, t0 in enumerate(0.08 + np.cumsum(0.019 + 0.006 * rng.random(17))):
        x = (t - t0) / 0.0004
        amp = 95.0 - 2.5 * k
        v += amp * np.exp(-(x**2)) * (x > -6)
        v -= 12.0 * np.exp(-np.maximum(t - t0 - 0.001, 0) / 0.004) * (t > t0 + 0.001)
        v += 3.0 * np.exp(-(((t - t0 - 0.006) / 0.0015) ** 2))  # an ADP bump
    v[(t > 0.45) & (t < 0.5)] += 25.0  # depolarised: a spike clipped at the window end
    return t, v


@pytest.mark.parametrize("fs", [10e3, 20e3, 50e3, 200e3])
@pytest.mark.parametrize("seed", [0, 1])
def test_kernel_equals_numpy_path_on_synthetic_traces(
    fs: float, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    t, v = _spiky(fs, seed)
    for params in (
        AllenParameters(),
        AllenParameters(filter_khz=None),
        AllenParameters(heavy_filter_khz=None),
        AllenParameters(dv_cutoff=8.0, max_interval=0.001),
    ):
        for kw in ({"start": 0.05, "end": 0.48}, {}):
            ref, got = _both(
                lambda kw=kw, params=params: detect_spikes(t, v, parameters=params, **kw),
                monkeypatch,
            )
            _compare(ref, got, f"fs={fs} {params} {kw}")
            assert ref.n_rows >= (1 if params.max_interval < 0.005 else 10)


def test_kernel_on_non_uniform_and_float32_time(monkeypatch: pytest.MonkeyPatch) -> None:
    t, v = _spiky(50e3, 3)
    t32 = t.astype(np.float32).astype(np.float64)  # float32 jitter: still uniform
    rng = np.random.default_rng(4)
    tnu = np.cumsum(rng.uniform(0.5, 1.5, t.size)) / 50e3  # variable steps: not uniform
    for tt in (t32, tnu):
        ref, got = _both(lambda tt=tt: detect_spikes(tt, v, start=0.05, end=0.5), monkeypatch)
        _compare(ref, got, "time stamps")
        assert ref.n_rows > 5


def test_pairwise_mean_is_numpy_mean() -> None:
    from patchatlas.ephys import _kernel_nb

    rng = np.random.default_rng(0)
    for n in [*range(1, 300), 1000, 1031, 4096, 10_007]:
        x = rng.normal(100, 50, n)
        idx = np.arange(n, dtype=np.int64)
        assert _kernel_nb.mean_at(x, idx, n) == np.mean(x), n


def test_kernel_can_be_disabled() -> None:
    env = dict(os.environ, PATCHATLAS_NUMBA="0")
    code = (
        "import sys; from patchatlas.ephys import backend_info, detect_spikes\n"
        "import numpy as np; t = np.arange(2000) / 20e3\n"
        "detect_spikes(t, -70 + 0 * t)\n"
        "print(backend_info()['backend'], 'numba' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["numpy", "False"]  # numba not even imported


@pytest.mark.parametrize("seed", range(6))
def test_compiled_sweep_features_equal_numpy(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Spike trains with bursts, pauses, equal ISIs, one or no spike; steps of both signs."""
    from patchatlas.core.recording import Stimulus, StimulusKind, Sweep
    from patchatlas.ephys.train import _features

    rng = np.random.default_rng(seed)
    fs = 20e3
    t = np.arange(int(1.2 * fs)) / fs
    v = -70.0 + np.cumsum(rng.normal(0, 0.05, t.size))
    trains = [
        np.array([]),
        np.array([0.31]),
        np.array([0.3, 0.35]),
        0.3 + np.cumsum(rng.choice([0.004, 0.006, 0.05, 0.2], size=12)),
        0.3 + 0.02 * np.arange(9),  # equal ISIs
        np.sort(rng.uniform(0.2, 0.9, size=int(rng.integers(3, 40)))),
    ]
    for amp in (-80.0, 0.0, 150.0):
        stim = Stimulus(StimulusKind.LONG_SQUARE, amp, 0.2, 0.8)
        sw = Sweep(v, None, fs, number=3, stimulus=stim)
        for thr in trains:
            tab = FeatureTable({"threshold_t": np.asarray(thr, float)}, provenance={})
            for s, e in ((0.2, 0.8), (float("nan"), float("nan"))):
                ref, got = _both(
                    lambda tab=tab, s=s, e=e, sw=sw: _features(sw, t, v, s, e, tab, "allen"),
                    monkeypatch,
                )
                assert list(ref) == list(got)
                for k, x in ref.items():
                    y = got[k]
                    if isinstance(x, float) and np.isnan(x):
                        assert isinstance(y, float) and np.isnan(y), (k, thr, amp)
                    else:
                        assert x == y, (k, x, y, thr, amp)
