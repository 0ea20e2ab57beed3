"""fit_psp against the Allen reference fits on real data: the 45 averaged PSPs (neuroanalysis
``test_psp_fit``) and the 17 single evoked events (``evoked_synaptic_events``).

Reference: lmfit ``leastsq`` from one start (amp 0.2 mV, rise 5 ms within 0.5-50 ms, decay 50 ms
within 5-500 ms, xoffset 14 ms unbounded), weighted residuals. Here: the same model, bounds and
weights, solved by variable projection over the onset window 0-25 ms. Every pair is fitted; the
benchmark (``benchmarks/synphys.py``) writes the full table to ``benchmarks/RESULTS-synphys.md``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from patchatlas.synphys import fit_psp, weighted_nrmse

BOUNDS = {"rise_time": (0.5e-3, 50e-3), "decay_tau": (5e-3, 500e-3)}
PARAMS = ("amp", "xoffset", "rise_time", "decay_tau")


def _at_bound(values: dict) -> bool:
    return any(values[k] <= lo * 1.001 or values[k] >= hi * 0.999 for k, (lo, hi) in BOUNDS.items())


@pytest.fixture(scope="module")
def avg_fits(synphys_data: Path) -> list[dict]:
    rows = []
    files = sorted((synphys_data / "allen_multipatch_avg_psp").glob("*.json"))
    assert len(files) == 45
    for f in files:
        doc = json.loads(f.read_text())
        inp, out = doc["input"], doc["out"]
        y = np.asarray(inp["data"]) * 1e3  # V -> mV
        w = np.asarray(inp["weight"], dtype=float)
        t = np.arange(y.size) * inp["dt"]
        fit = fit_psp(t, y, sign=1 if inp["amp_sign"] == "+" else -1, clamp_mode="ic",
                      onset_window=(0.0, 25e-3), weights=w)  # fmt: skip
        ref = {k: float(v) for k, v in out["best_values"].items()}
        ref["amp"] *= 1e3
        ref_nrmse = weighted_nrmse(y, np.asarray(out["best_fit"]) * 1e3, w)
        rows.append({"name": f.stem, "fit": fit, "ref": ref, "ref_nrmse": ref_nrmse,
                     "stored_nrmse": out["nrmse"]})  # fmt: skip
    return rows


def test_reference_nrmse_is_reproduced_from_its_curve(avg_fits: list[dict]) -> None:
    # our NRMSE definition gives the stored reference values from the stored curves
    for r in avg_fits:
        assert r["ref_nrmse"] == pytest.approx(r["stored_nrmse"], rel=1e-6), r["name"]


def test_nrmse_at_most_the_reference_on_90_percent(avg_fits: list[dict]) -> None:
    better = [r["fit"].nrmse <= r["ref_nrmse"] * (1 + 1e-9) for r in avg_fits]
    worse = [r["name"] for r, b in zip(avg_fits, better, strict=True) if not b]
    assert np.mean(better) >= 0.9, worse


def test_parameters_within_5_percent_where_the_reference_is_not_at_a_bound(
    avg_fits: list[dict],
) -> None:
    off = []
    for r in avg_fits:
        if _at_bound(r["ref"]):
            continue
        fit = r["fit"]
        rel = {k: abs(getattr(fit, k) - r["ref"][k]) / abs(r["ref"][k]) for k in PARAMS}
        if max(rel.values()) <= 0.05:
            continue
        # the only admissible disagreement: a clearly better minimum than the reference's
        # single-start local fit (listed in RESULTS-synphys.md)
        assert fit.nrmse < r["ref_nrmse"] * (1 - 1e-3), (r["name"], rel)
        off.append(r["name"])
    assert len(off) <= 3, off


def test_single_events(synphys_data: Path) -> None:
    folder = synphys_data / "allen_multipatch_single_events"
    index = json.loads((folder / "evoked_synaptic_events_index.json").read_text())
    traces = np.load(folder / "evoked_synaptic_events.npz")
    assert len(index) == 17
    amps = {}
    for e in index:
        y = traces[e["key"]]
        scale = 1e3 if e["clamp_mode"] == "ic" else 1e12
        t = e["t0_s"] + np.arange(y.size) * e["dt_s"]
        exp = e["expected_fit"]
        sign = 0 if exp is None else int(np.sign(exp["amp"]))
        fit = fit_psp(t, y * scale, sign=sign, clamp_mode=e["clamp_mode"],
                      onset_window=tuple(e["search_window_s"]), exp_baseline=True)  # fmt: skip
        assert np.isfinite(fit.nrmse), e["key"]
        if exp is None:
            continue
        amps[e["key"]] = fit.amp
        # the reference (StackedPsp with a free baseline time constant: one more parameter)
        assert fit.amp == pytest.approx(exp["amp"] * scale, rel=0.25), e["key"]
        assert fit.nrmse <= exp["nrmse"] + 0.02, e["key"]
        assert abs(fit.xoffset - exp["xoffset"]) < 0.5e-3, e["key"]
    # the 3-pulse voltage-clamp depression train: -21.5, -10.2, -9.5 pA
    train = [amps[f"1485904693.100_1_8_2_{k}"] for k in (1, 2, 3)]
    np.testing.assert_allclose(train, [-21.49, -10.18, -9.53], rtol=0.05)
    assert train[0] < train[1] and train[0] < train[2]
