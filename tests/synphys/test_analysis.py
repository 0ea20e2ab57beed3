"""analyze() on simulated experiments with known synapses: calls, kinetics, STP, determinism,
and bad input reported per pair without stopping the experiment."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import pytest

from patchatlas.core import MultipatchExperiment, SyncSweep
from patchatlas.datasets.demo_synphys import (
    default_synapses,
    recovered_from_result,
    recovery_table,
    simulate_multipatch,
)
from patchatlas.synphys import MEASUREMENTS, analyze, pair_responses


def test_calls_match_the_truth(sim_result: Any, simulated: tuple[Any, Any]) -> None:
    _, truth = simulated
    got = sim_result.pairs.set_index(["pre", "post"])
    for r in truth.itertuples():
        row = got.loc[(r.pre, r.post)]
        assert bool(row["connected"]) == r.connected, (r.pre, r.post)
        if r.connected:
            assert row["synapse_type"] == r.synapse_type
            assert row["p_value"] < 1e-6 and row["call_source"] == "auto"
    assert (got["status"] == "analysed").all() and sim_result.problems.empty


def test_parameters_recovered_with_noise(sim_result: Any, simulated: tuple[Any, Any]) -> None:
    table = recovery_table(recovered_from_result(sim_result), simulated[1])
    assert len(table) == 3
    np.testing.assert_allclose(table["latency_fit"], table["latency_ms"], atol=0.15)
    for a, b, tol in (("amp_fit", "amp", 0.25), ("rise_fit", "rise_ms", 0.25),
                      ("decay_fit", "decay_ms", 0.25), ("U_fit", "U", 0.25),
                      ("tau_rec_fit", "tau_rec_s", 0.4)):  # fmt: skip
        np.testing.assert_allclose(table[a], table[b], rtol=tol, err_msg=a)


def test_parameters_recovered_exactly_without_noise() -> None:
    syns = [replace(s, cv=0.0) for s in default_synapses()]
    exp, truth = simulate_multipatch(synapses=syns, noise_mv=0.002, failure_rate=0.0,
                                     sweeps_per_cell=4, seed=3)  # fmt: skip
    table = recovery_table(recovered_from_result(analyze(exp)), truth)
    np.testing.assert_allclose(table["latency_fit"], table["latency_ms"], atol=0.01)
    for a, b in (("amp_fit", "amp"), ("rise_fit", "rise_ms"), ("decay_fit", "decay_ms"),
                 ("U_fit", "U"), ("tau_rec_fit", "tau_rec_s")):  # fmt: skip
        np.testing.assert_allclose(table[a], table[b], rtol=0.03, err_msg=a)


def test_measurements_are_registered(sim_result: Any) -> None:
    meas = sim_result.measurements()
    assert len(meas) and set(meas["name"]) <= set(MEASUREMENTS)
    for r in meas.itertuples():
        assert r.unit == MEASUREMENTS[r.name].unit
    det = sim_result.pair("1", "2")
    assert det.stp is not None and det.stp.tm is not None and len(det.averages) >= 1
    assert sim_result.provenance["parameters"]["alpha"] == 1e-3


def test_baselines_are_deterministic_and_not_reused(simulated: tuple[Any, Any],
                                                    sim_result: Any) -> None:  # fmt: skip
    from patchatlas.synphys import prepare_trains

    exp = simulated[0]
    trains, problems = prepare_trains(exp)
    assert problems == []
    a = pair_responses(exp, "1", "2", trains)
    b = pair_responses(exp, "1", "2", trains)
    np.testing.assert_array_equal(a.baseline, b.baseline)
    found = a.baseline[a.table["baseline_found"].to_numpy()]
    assert len(found) == len(a.table)
    starts = {tuple(np.round(row[:20], 9)) for row in found}
    assert len(starts) == len(found)  # every response has its own chunk
    # matched baselines pass the QC of their response (ex-tested response -> ex-QC baseline)
    ex = a.table["ex_qc"].to_numpy()
    assert a.table["baseline_ex_qc"].to_numpy()[ex].all()
    # resting-state responses: first pulses, 12 s after the pair's previous train
    first = a.table[a.table["pulse"] == 1]["previous_pulse_dt"].dropna()
    assert (first >= 8).all() and len(first) >= len(a.table["sweep"].unique()) - 1
    assert (a.table[a.table["pulse"] == 2]["previous_pulse_dt"] < 0.1).all()


@pytest.fixture(scope="module")
def small() -> tuple[MultipatchExperiment, pd.DataFrame]:
    return simulate_multipatch(sweeps_per_cell=4, seed=5)


def _rebuild(exp: MultipatchExperiment, **changes: Any) -> MultipatchExperiment:
    return MultipatchExperiment(**{**{k: getattr(exp, k) for k in (
        "name", "cells", "sweeps", "species", "metadata", "source", "calls",
        "distances_um")}, **changes})  # fmt: skip


def test_headstage_without_a_cell(small: tuple[Any, Any]) -> None:
    exp, _truth = small
    cells = [c for c in exp.cells if c.electrode != "4"]
    res = analyze(_rebuild(exp, cells=cells))
    rows = res.pairs.set_index(["pre", "post"])
    orphan = rows.loc[[("4", "1"), ("1", "4")]]
    assert (orphan["status"] == "no cell").all()
    assert orphan["problems"].str.contains("holds no cell").all()
    assert bool(rows.loc[("1", "2"), "connected"]) and rows.loc[("1", "2"), "status"] == "analysed"


def test_train_without_spikes(small: tuple[Any, Any]) -> None:
    exp, _ = small
    sweeps = []
    for sw in exp.sweeps:
        traces = dict(sw.sweeps)
        if "1" in sw.trains:
            s1 = traces["1"]
            traces["1"] = replace(s1, v=np.full(s1.n_samples, -70.0))
        sweeps.append(SyncSweep(sw.number, traces, sw.trains, sw.start_time))
    res = analyze(_rebuild(exp, sweeps=sweeps))
    rows = res.pairs.set_index(["pre", "post"])
    assert rows.loc[("1", "2"), "status"] == "no usable sweeps"
    assert "evoked no spike" in rows.loc[("1", "2"), "problems"]
    assert "no presynaptic spike" in rows.loc[("1", "2"), "problems"]
    assert bool(rows.loc[("2", "3"), "connected"]) and bool(rows.loc[("3", "1"), "connected"])


def test_pair_without_usable_sweeps(small: tuple[Any, Any]) -> None:
    exp, _ = small
    sweeps = []
    for sw in exp.sweeps:
        traces = dict(sw.sweeps)
        traces["2"] = replace(traces["2"], v=traces["2"].v + 40.0)  # depolarised to -30 mV
        sweeps.append(SyncSweep(sw.number, traces, sw.trains, sw.start_time))
    res = analyze(_rebuild(exp, sweeps=sweeps))
    rows = res.pairs.set_index(["pre", "post"])
    for pre in ("1", "3", "4"):
        assert rows.loc[(pre, "2"), "status"] == "no usable sweeps"
        assert "unusable" in rows.loc[(pre, "2"), "problems"]
        assert rows.loc[(pre, "2"), "n_ex_test_spikes"] == 0
    assert bool(rows.loc[("3", "1"), "connected"])
    assert not res.problems.empty and set(res.problems["post"]) >= {"2"}


def test_manual_calls_win(small: tuple[Any, Any]) -> None:
    from patchatlas.core import ConnectionCall

    exp, _ = small
    calls = [ConnectionCall("1", "2", connected=False, source="manual"),
             ConnectionCall("1", "3", connected=True, synapse_type="ex")]  # fmt: skip
    res = analyze(_rebuild(exp, calls=calls))
    rows = res.pairs.set_index(["pre", "post"])
    assert rows.loc[("1", "2"), "connected"] == False  # noqa: E712 (pandas boolean)
    assert rows.loc[("1", "2"), "call_source"] == "manual"
    assert rows.loc[("1", "2"), "p_value"] < 1e-6  # the statistics are still reported
    assert bool(rows.loc[("1", "3"), "connected"]) and rows.loc[("2", "3"), "call_source"] == "auto"


def _with_crosstalk(exp: MultipatchExperiment, pre: str, post: str, jump: float) -> Any:
    """Add a ``jump`` (mV) to ``post``'s recording during every pulse delivered to ``pre``."""
    sweeps = []
    for sw in exp.sweeps:
        traces = dict(sw.sweeps)
        train = sw.trains.get(pre)
        if train is not None:
            s = traces[post]
            t = s.time if s.time is not None else np.arange(s.n_samples) / s.sampling_rate
            v = s.v.copy()
            n = len(train.onsets)
            dur = np.full(n, 1e-3) if train.durations is None else train.durations
            for t0, d in zip(train.onsets, np.where(np.isfinite(dur), dur, 1e-3), strict=True):
                v[(t >= t0) & (t < t0 + d)] += jump
            traces[post] = replace(s, v=v)
        sweeps.append(SyncSweep(sw.number, traces, sw.trains, sw.start_time))
    return _rebuild(exp, sweeps=sweeps)


def test_crosstalk_artifact_withholds_the_automated_call(small: tuple[Any, Any],
                                                         sim_result: Any) -> None:  # fmt: skip
    from patchatlas.core import ConnectionCall

    exp, _ = small
    # noise alone flags nothing
    assert not sim_result.pairs["crosstalk_artifact"].fillna(False).astype(bool).any()
    dirty = _with_crosstalk(exp, "1", "4", 0.5)
    res = analyze(dirty)
    rows = res.pairs.set_index(["pre", "post"])
    flagged = rows.loc[("1", "4")]
    assert bool(flagged["crosstalk_artifact"]) and flagged["status"] == "crosstalk artifact"
    assert pd.isna(flagged["connected"]) and not bool(flagged["probed"])
    assert "crosstalk artifact in IC" in flagged["problems"]
    assert "automated call withheld" in flagged["problems"]
    assert res.pair("1", "4").statistics["ic_crosstalk_excess"] == pytest.approx(0.5, rel=0.1)
    meas = res.measurements().set_index(["pre", "post", "name"])["value"]
    assert meas[("1", "4", "crosstalk_excess")] == pytest.approx(0.5, rel=0.1)
    assert meas[("1", "2", "crosstalk_excess")] < 0.06
    # the other pairs, including the synapse from the same presynaptic cell, are untouched
    others = rows.drop(index=("1", "4"))
    assert not others["crosstalk_artifact"].fillna(False).astype(bool).any()
    assert bool(rows.loc[("1", "2"), "connected"])
    # a smaller jump than the limit, or a raised limit, is not flagged
    from patchatlas.synphys import ResponseOptions

    relaxed = analyze(dirty, options=ResponseOptions(ic_max_crosstalk=1.0)).pairs
    assert not relaxed["crosstalk_artifact"].fillna(False).astype(bool).any()
    # a manual call wins over the withheld automated one; the flag stays
    manual = [ConnectionCall("1", "4", connected=False, source="manual")]
    rows = analyze(_rebuild(dirty, calls=manual)).pairs.set_index(["pre", "post"])
    assert rows.loc[("1", "4"), "connected"] == False  # noqa: E712 (pandas boolean)
    assert bool(rows.loc[("1", "4"), "crosstalk_artifact"]) and bool(rows.loc[("1", "4"), "probed"])
    assert "withheld" not in rows.loc[("1", "4"), "problems"]
