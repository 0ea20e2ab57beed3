"""The batched numpy detection (all sweeps of a recording in one pass) equals the per-sweep path."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

import patchatlas.ephys._backend as backend
from patchatlas.core.recording import ClampMode, Recording, Stimulus, StimulusKind, Sweep
from patchatlas.core.table import FeatureTable
from patchatlas.ephys._batched import indices_many
from patchatlas.ephys._detect import finish, prepare
from patchatlas.ephys.cell import _analyze_one, analyze_recording, short_square_detection
from patchatlas.ephys.train import _detect_args, analyze_sweeps


def _same_table(a: FeatureTable, b: FeatureTable, where: str) -> None:
    assert list(a) == list(b), where
    assert a.provenance == b.provenance, where
    assert a.n_rows == b.n_rows, where
    for c in a:
        x, y = np.asarray(a[c]), np.asarray(b[c])
        if x.dtype == object:
            assert list(x) == list(y), f"{where}: {c}"
        else:
            # identical, NaN where NaN (no tolerance)
            np.testing.assert_array_equal(x, y, err_msg=f"{where}: {c}")


def _same_feats(a: dict[str, Any], b: dict[str, Any], where: str) -> None:
    assert a.keys() == b.keys(), where
    for k in a:
        x, y = a[k], b[k]
        if isinstance(x, float) and isinstance(y, float) and np.isnan(x) and np.isnan(y):
            continue
        assert x == y, f"{where}: {k}: {x!r} != {y!r}"


def _preps(sweeps: list[Sweep], full: bool) -> tuple[list[Any], list[int]]:
    preps, where = [], []
    for k, sw in enumerate(sweeps):
        t, v, _s, _e, kw = _detect_args(sw, "allen", 10.0, full)
        pr = prepare(t, v, **kw)
        if not isinstance(pr, FeatureTable):
            preps.append(pr)
            where.append(k)
    return preps, where


@pytest.fixture(autouse=True)
def _numpy_path() -> Iterator[None]:
    """These tests are about the vectorised batch path; the compiled kernel (default when numba
    is installed) is compared with it in test_kernel.py."""
    with backend.use("numpy"):
        yield


@pytest.mark.parametrize("full", [True, False])
def test_batched_indices_equal_per_sweep_on_every_real_abf(
    abf_recordings: list[Recording], full: bool
) -> None:
    n_spikes = n_batched = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for rec in abf_recordings:
            sweeps = [sw for sw in rec if sw.clamp_mode == ClampMode.CURRENT_CLAMP]
            a, wa = _preps(sweeps, full)
            b, wb = _preps(sweeps, full)  # fresh lazies: filtering state is not shared
            assert wa == wb
            per = [finish(pr, backend.indices(pr)) for pr in a]
            bat = [
                finish(pr, idx)
                for pr, idx in zip(b, indices_many(b, max_samples=None), strict=True)
            ]
            keys = [pr.key for pr in b]
            n_batched += sum(1 for k in keys if k is not None and keys.count(k) > 1)
            for k, (x, y) in enumerate(zip(per, bat, strict=True)):
                _same_table(x, y, f"{rec.source} sweep {sweeps[wa[k]].number}")
                n_spikes += x.n_rows
    assert n_spikes > 500  # the corpus has spiking sweeps
    assert n_batched > 20  # and the batch path really ran on them


def test_analyze_recording_equals_sweep_by_sweep(abf_recordings: list[Recording]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for rec in abf_recordings:
            got = analyze_recording(rec)
            # short squares are detected with the parameters estimated from all of them
            ssq = [sw for sw in rec if sw.stimulus.kind == StimulusKind.SHORT_SQUARE]
            params = short_square_detection(ssq) if ssq else None
            for r in got:
                short = r.sweep.stimulus.kind == StimulusKind.SHORT_SQUARE
                ref = _analyze_one(
                    r.sweep,
                    rec.cell_id,
                    "allen",
                    10.0,
                    full=True,
                    parameters=params if short else None,
                )
                where = f"{rec.source} sweep {r.sweep.number}"
                assert r.error == ref.error, where
                if ref.ok:
                    assert r.spikes is not None and ref.spikes is not None
                    _same_table(r.spikes, ref.spikes, where)
                    _same_feats(r.features, ref.features, where)


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_batch_keeps_bad_sweeps_apart() -> None:
    fs = 20e3
    t = np.arange(int(0.5 * fs)) / fs
    v = -70.0 + np.where((t > 0.1) & (t < 0.4), 60.0 * (np.sin(2 * np.pi * 20 * t) > 0.95), 0.0)
    stim = Stimulus(StimulusKind.LONG_SQUARE, 100.0, 0.1, 0.4)
    good = Sweep(v, None, fs, number=0, stimulus=stim)
    bad = Sweep(np.full_like(v, np.nan), None, fs, number=1, stimulus=stim)
    res = analyze_sweeps([good, bad, good])
    assert isinstance(res[1], Exception)
    assert not isinstance(res[0], Exception) and not isinstance(res[2], Exception)
    assert res[0][0].n_rows == res[2][0].n_rows > 0
