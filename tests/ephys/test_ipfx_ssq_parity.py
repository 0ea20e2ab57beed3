"""Short-square parity: detection parameters estimated from the sweeps, then detection, vs IPFX.

IPFX 2.1.2 re-estimates ``dv_cutoff`` and ``thresh_frac`` for a cell's short squares from the
first millisecond after stimulus onset (``estimate_adjusted_detection_parameters``; the
pipeline floors ``thresh_frac`` at 0.1) and detects them with those. IPFX runs in .venv-ipfx
(benchmarks/setup_reference_envs.sh; required under CI=true) through
tests/ephys/ipfx_ssq_runner.py, on:

* ``File_axon_6.abf``: 32 real 2 ms / 2 nA short squares at 20 kHz (filter 5 kHz);
* simulated short squares (``patchatlas.models.pointneuron``): the regular-spiking model at the
  default 200-1000 pA and at 1-4 nA, where the passive charging at onset exceeds the 20 V/s
  default cutoff, and the fast-spiking model at 1-4 nA, where the spike starts inside the
  1 ms window so the estimated cutoff rises above every upstroke and nothing is detected.

Required: the same ``dv_cutoff`` and ``thresh_frac`` (1e-9 relative), the same threshold, peak
and trough indices, ≤ 1e-6 relative on upstroke, threshold_v and width.
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

import patchatlas
from patchatlas.core.recording import Recording, StimulusKind
from patchatlas.ephys._dvdt import effective_cutoff
from patchatlas.ephys.cell import analyze_recording, short_square_parameters
from tests.conftest import ROOT, require_reference_env

PY = ROOT / ".venv-ipfx" / "bin" / "python"
RUNNER = Path(__file__).with_name("ipfx_ssq_runner.py")
COLS = ("threshold_index", "peak_index", "trough_index", "upstroke", "threshold_v", "width")


def _simulated() -> dict[str, Recording]:
    from patchatlas.models.pointneuron import simulate_cell

    strong = {"short_square": [1000.0, 1500.0, 2000.0, 2500.0, 3000.0, 4000.0]}
    return {
        "sim_rs": simulate_cell("rs_pyramidal", protocols=("short_square",), seed=0),
        "sim_rs_strong": simulate_cell(
            "rs_pyramidal", protocols=("short_square",), amplitudes=strong, seed=1
        ),
        "sim_fs_strong": simulate_cell(
            "fs_interneuron", protocols=("short_square",), amplitudes=strong, seed=1
        ),
    }


def _spikes(results: list[Any]) -> list[dict[str, list[float]]]:
    out = []
    for r in results:
        assert r.ok, r.error
        out.append({c: [float(x) for x in r.spikes[c]] for c in COLS})
    return out


@pytest.fixture(scope="module")
def cells(ephys_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    require_reference_env(PY, "IPFX", "benchmarks/setup_reference_envs.sh")
    recs = {"ax6": patchatlas.read(ephys_data / "abf_pyabf" / "File_axon_6.abf")}
    recs.update(_simulated())
    arrays: dict[str, np.ndarray] = {}
    ours: dict[str, Any] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, rec in recs.items():
            sweeps = list(rec)
            assert all(sw.stimulus.kind == StimulusKind.SHORT_SQUARE for sw in sweeps)
            s0 = sweeps[0].stimulus
            arrays[f"{name}_t"] = sweeps[0].t
            arrays[f"{name}_V"] = np.stack([np.asarray(sw.v, float) for sw in sweeps])
            arrays[f"{name}_I"] = np.stack([np.asarray(sw.i, float) for sw in sweeps])
            filt = effective_cutoff(10.0, sweeps[0].sampling_rate)[0]
            arrays[f"{name}_meta"] = np.array([s0.start, s0.end, filt, 1.0])
            ours[name] = {
                "params": short_square_parameters(sweeps),
                "spikes": _spikes(analyze_recording(rec)),
                "default": _spikes(analyze_recording(rec, adjust_short_squares=False)),
            }
    tmp = tmp_path_factory.mktemp("ssq")
    np.savez(tmp / "in.npz", **arrays)
    subprocess.run([str(PY), str(RUNNER), str(tmp / "in.npz"), str(tmp / "out.json")], check=True)
    ref = json.loads((tmp / "out.json").read_text())
    return {"ours": ours, "ref": ref}


def _same_spikes(mine: list[dict[str, list[float]]], theirs: list[dict[str, Any]], where: str):
    assert len(mine) == len(theirs), where
    for k, (a, b) in enumerate(zip(mine, theirs, strict=True)):
        for c in COLS:
            x = np.array(a[c], dtype=float)
            y = np.array([math.nan if v is None else v for v in b[c]], dtype=float)
            assert x.shape == y.shape, (where, k, c, x, y)
            if c.endswith("_index"):
                np.testing.assert_array_equal(x, y, err_msg=f"{where} sweep {k} {c}")
            else:
                np.testing.assert_allclose(x, y, rtol=1e-6, err_msg=f"{where} sweep {k} {c}")


@pytest.mark.parametrize("name", ["ax6", "sim_rs", "sim_rs_strong", "sim_fs_strong"])
def test_short_square_parameters_match_ipfx(cells: dict[str, Any], name: str) -> None:
    p, ref = cells["ours"][name]["params"], cells["ref"][name]
    assert p is not None
    assert p.dv_cutoff == pytest.approx(ref["dv_cutoff"], rel=1e-9)
    if ref["thresh_frac_estimate"] is None:
        assert math.isnan(p.thresh_frac_estimate) and p.n_putative == 0
    else:
        assert p.thresh_frac_estimate == pytest.approx(ref["thresh_frac_estimate"], rel=1e-9)
    assert p.thresh_frac == pytest.approx(ref["thresh_frac"], rel=1e-9)
    assert p.thresh_frac >= 0.1  # the pipeline's floor


@pytest.mark.parametrize("name", ["ax6", "sim_rs", "sim_rs_strong", "sim_fs_strong"])
def test_short_square_spikes_match_ipfx(cells: dict[str, Any], name: str) -> None:
    _same_spikes(cells["ours"][name]["spikes"], cells["ref"][name]["sweeps"], name)
    # the default parameters reproduce IPFX's default detection too
    _same_spikes(cells["ours"][name]["default"], cells["ref"][name]["default_sweeps"], name)


def test_adjustment_matters(cells: dict[str, Any]) -> None:
    """Strong short squares charge the membrane faster than 20 V/s: with the default
    parameters IPFX (and patchatlas) lose real spikes; the estimated cutoff keeps them."""
    ours = cells["ours"]["sim_rs_strong"]
    assert ours["params"].dv_cutoff > 20.0
    n_adj = [len(s["threshold_index"]) for s in ours["spikes"]]
    n_def = [len(s["threshold_index"]) for s in ours["default"]]
    assert all(n == 1 for n in n_adj)  # one spike per 3 ms pulse
    assert sum(n_def) < sum(n_adj)
    # every real short square's threshold moves with thresh_frac 0.1 instead of 0.05
    real = cells["ours"]["ax6"]
    moved = [
        a["threshold_index"] != b["threshold_index"]
        for a, b in zip(real["spikes"], real["default"], strict=True)
    ]
    assert any(moved)
    # a fast spiker whose spike starts inside the 1 ms window: the rule (IPFX's too) then
    # sets the cutoff above every upstroke and detects nothing; documented, not fixed
    fs = cells["ours"]["sim_fs_strong"]
    assert fs["params"].dv_cutoff > 100.0
    assert all(len(s["threshold_index"]) == 0 for s in fs["spikes"])
