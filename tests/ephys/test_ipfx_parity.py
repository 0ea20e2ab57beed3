"""Parity with IPFX 2.1.2 on every spiking (and hyperpolarised) sweep of the real recordings.

IPFX runs as a black-box oracle in its own virtual environment (``.venv-ipfx``, made by
``bash benchmarks/setup_reference_envs.sh``) through ``tests/ephys/ipfx_runner.py``. Where the
sampling rate cannot carry IPFX's default 10 kHz filter (fs <= 20 kHz), IPFX gets the cutoff
patchatlas uses (explicit, the same for both). Under ``CI=true`` the reference environment must
exist; elsewhere the module is skipped without it.

Compared: every per-spike column IPFX returns (index columns identical, continuous columns
within 1e-6 relative) and the sweep features avg_rate, latency, first/mean/median ISI, isi_cv,
adapt, v_baseline, peak_deflect, sag. The divergences that remain are listed in
``docs/ephys_parity.md`` and encoded in ``KNOWN`` below (each with its reason).
"""

from __future__ import annotations

import json
import math
import subprocess
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import ROOT, require_reference_env

IPFX_PY = ROOT / ".venv-ipfx" / "bin" / "python"
RUNNER = Path(__file__).with_name("ipfx_runner.py")

FILES = [
    "abf_pyabf/171116sh_0018.abf",
    "abf_pyabf/17o05027_ic_ramp.abf",
    "abf_pyabf/17o05028_ic_steps.abf",
    "abf_pyabf/18711001.abf",
    "abf_pyabf/190619B_0003.abf",
    "abf_pyabf/2019_07_24_0055_fsi.abf",
    "abf_pyabf/2020_03_02_0000.abf",
    "abf_pyabf/File_axon_5.abf",
    "abf_pyabf/File_axon_6.abf",
    "abf_hippocampus_rat_ca1/97509008.abf",
]

SWEEP_KEYS = (
    "avg_rate",
    "latency",
    "first_isi",
    "mean_isi",
    "median_isi",
    "isi_cv",
    "adapt",
    "v_baseline",
    "peak_deflect_v",
    "peak_deflect_index",
    "sag",
)


def _require_ipfx() -> None:
    require_reference_env(IPFX_PY, "IPFX", "benchmarks/setup_reference_envs.sh")


def _close(a: float, b: float, rtol: float = 1e-6) -> bool:
    if a is None or (isinstance(a, float) and math.isnan(a)):
        return b is None or (isinstance(b, float) and math.isnan(b))
    if b is None or (isinstance(b, float) and math.isnan(b)):
        return False
    return abs(a - b) <= rtol * max(abs(a), abs(b)) + 1e-12


@pytest.fixture(scope="module")
def parity(ephys_data: Path, tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    _require_ipfx()
    import patchatlas
    from patchatlas.ephys._dvdt import effective_cutoff
    from patchatlas.ephys.train import analyze_sweep

    arrays: dict[str, np.ndarray] = {}
    cases: list[dict[str, Any]] = []
    for rel in FILES:
        rec = patchatlas.read(ephys_data / rel)
        for sw in rec:
            if sw.clamp_mode != "current_clamp" or sw.i is None:
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                spikes, feats = analyze_sweep(sw)
            hyper = sw.stimulus.amplitude < 0 and spikes.n_rows == 0
            if spikes.n_rows == 0 and not hyper:
                continue
            s, e = spikes.provenance["window"]
            k = len(cases)
            fk = effective_cutoff(10.0, sw.sampling_rate)[0]
            arrays[f"t_{k}"] = sw.t
            arrays[f"v_{k}"] = np.asarray(sw.v, dtype=np.float64)
            arrays[f"i_{k}"] = np.asarray(sw.i, dtype=np.float64)
            arrays[f"meta_{k}"] = np.array([s, e, fk])
            cases.append({"file": rel, "sweep": sw.number, "spikes": spikes, "feats": feats})
    tmp = tmp_path_factory.mktemp("ipfx")
    src, dst = tmp / "in.npz", tmp / "out.json"
    np.savez(src, **arrays)
    subprocess.run([str(IPFX_PY), str(RUNNER), str(src), str(dst)], check=True, timeout=900)
    ref = json.loads(dst.read_text())
    for case, r in zip(cases, ref, strict=True):
        case["ref"] = r
    return cases


def _known(case: dict[str, Any], key: str) -> bool:
    """Documented divergences (docs/ephys_parity.md)."""
    # IPFX returns a sag on depolarising sweeps; patchatlas NaN (notes §8 bug 8)
    return key == "sag" and not case["feats"]["stim_amp"] < 0


def test_parity_covers_the_corpus(parity: list[dict[str, Any]]) -> None:
    spiking = [c for c in parity if c["spikes"].n_rows > 0]
    assert len(spiking) >= 100
    assert len({c["file"] for c in spiking}) >= 8


def test_spike_indices_identical(parity: list[dict[str, Any]]) -> None:
    bad = []
    for c in parity:
        r = c["ref"]
        if "error" in r:
            continue
        ours = c["spikes"]
        ref_thr = r["spikes"].get("threshold_index", [])
        if len(ref_thr) != ours.n_rows:
            bad.append((c["file"], c["sweep"], "count", len(ref_thr), ours.n_rows))
            continue
        if ours.n_rows == 0:
            continue
        for col in (
            "threshold_index",
            "peak_index",
            "trough_index",
            "upstroke_index",
            "downstroke_index",
            "fast_trough_index",
            "adp_index",
            "slow_trough_index",
        ):
            a = [np.nan if x is None else float(x) for x in r["spikes"][col]]
            b = np.asarray(ours[col], dtype=float)
            if not np.array_equal(np.asarray(a), b, equal_nan=True):
                bad.append((c["file"], c["sweep"], col, a, list(b)))
    assert not bad, bad[:5]


def test_spike_features_within_1e6(parity: list[dict[str, Any]]) -> None:
    bad = []
    for c in parity:
        r = c["ref"]
        if "error" in r or not r["spikes"]:
            continue
        ours = c["spikes"]
        for col, vals in r["spikes"].items():
            if col.endswith("_index"):
                continue
            assert col in ours, f"missing column {col}"
            if col == "isi_type":
                mine = [x if x is not None else "nan" for x in ours[col]]
                theirs = [x if x is not None else "nan" for x in vals]
                if mine != theirs:
                    bad.append((c["file"], c["sweep"], col, theirs, mine))
                continue
            if col == "clipped":
                if [bool(x) for x in vals] != [bool(x) for x in ours[col]]:
                    bad.append((c["file"], c["sweep"], col))
                continue
            for a, b in zip(vals, ours[col], strict=True):
                if not _close(a, float(b)):
                    bad.append((c["file"], c["sweep"], col, a, float(b)))
                    break
    assert not bad, bad[:5]


def test_sweep_features_within_1e6(parity: list[dict[str, Any]]) -> None:
    bad = []
    compared = 0
    for c in parity:
        r = c["ref"]
        if "error" in r:
            continue
        for key in SWEEP_KEYS:
            if key not in r["sweep"] or _known(c, key):
                continue
            compared += 1
            theirs = r["sweep"][key]
            assert not isinstance(theirs, str), (c["file"], c["sweep"], key, theirs)
            mine = float(c["feats"][key])
            if not _close(theirs, mine):
                bad.append((c["file"], c["sweep"], key, theirs, mine))
    assert compared > 500
    assert not bad, bad[:8]


def test_ipfx_failures_are_documented_divergences(parity: list[dict[str, Any]]) -> None:
    """Where IPFX raises, patchatlas returns features (NaN only where undefined)."""
    for c in parity:
        err = c["ref"].get("error")
        if err is None:
            continue
        # IPFX asserts when the 100 ms baseline window starts before the sweep does
        assert "outside of time range" in err, err
        assert math.isnan(c["feats"]["v_baseline"])
        assert c["feats"]["avg_rate"] >= 0
