"""Running models on Arbor (the default backend): core sweeps out, the Allen junction potential,
the all-active model's 18 spikes, stimulus replay, batches, clear errors."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from patchatlas.core import Recording, StimulusKind, Sweep
from patchatlas.ephys import analyze
from patchatlas.errors import DataError, MechanismError, MissingDependencyError, ParameterError
from patchatlas.models.biophys import (
    BiophysModel,
    Conditions,
    Mechanism,
    ball_and_stick,
    from_waveform,
    long_square,
    parse_protocol,
    ramp,
    run_batch,
)


def _toy(**cond) -> BiophysModel:
    geo = ball_and_stick(n_dendrites=1, dendrite_length_um=100.0, axon=False)
    mechs = (
        Mechanism("pas", "soma", {"g": 1e-4, "e": -70.0}),
        Mechanism("pas", "dend", {"g": 1e-4, "e": -70.0}),
        Mechanism("NaTs", "soma", {"gbar": 0.5}),
        Mechanism("Kv3_1", "soma", {"gbar": 0.2}),
    )
    c = {"celsius": 34.0, "v_init": -70.0, "reversal": {"soma": {"na": 53.0, "k": -107.0}}}
    c.update(cond)
    return BiophysModel(
        geo, mechs, {"soma": 1.0, "dend": 1.0}, {"soma": 100.0, "dend": 100.0}, Conditions(**c)
    )


def test_all_active_fires_the_18_spikes_of_the_allen_web_app(aa_model, arbor_ok) -> None:
    """0.33 nA from 1 s to 2 s, 3 s simulated: 18 spikes (Allen's own test and web app)."""
    sw = aa_model.simulate_step(330.0)
    assert isinstance(sw, Sweep) and sw.sampling_rate == pytest.approx(40e3)
    assert sw.duration == pytest.approx(3.0, abs=1e-4)
    res = analyze(Recording([sw], cell_id="aa"), qc=False)
    assert res.sweeps[0].n_spikes == 18
    # the Allen junction potential: v_recorded = v_model - (-14 mV)
    assert sw.v[0] == pytest.approx(aa_model.conditions.v_init + 14.0)
    assert sw.stimulus.kind == StimulusKind.LONG_SQUARE and sw.stimulus.amplitude == 330.0
    assert sw.i is not None and sw.i[sw.index_of(1.5)] == 330.0 and sw.i[sw.index_of(0.5)] == 0.0


def test_perisomatic_model_runs_and_rests_at_its_fit_potential(peri_model, arbor_ok) -> None:
    sw = peri_model.simulate_step(0.0, tstop_s=0.5)
    # no stimulus: near e_pas (+14 mV junction potential) after settling
    assert abs(sw.v[-1] - (-80.975 + 14.0)) < 2.0
    rec = peri_model.simulate_steps([-50.0, 90.0], delay_s=0.2, duration_s=0.5, tstop_s=0.8)
    res = analyze(rec, qc=False)
    assert res.sweeps[0].n_spikes == 0 and res.sweeps[1].n_spikes > 10
    assert rec[0].v[rec[0].index_of(0.6)] < rec[0].v[0] - 3  # hyperpolarised by -50 pA


def test_sweep_replay_and_array_stimulus(arbor_ok) -> None:
    m = _toy()
    step = m.simulate_step(200.0, delay_s=0.1, duration_s=0.2, tstop_s=0.4, sampling_rate=20e3)
    # replaying the recorded command gives the same response
    again = m.simulate(step)
    assert again.sampling_rate == 20e3
    np.testing.assert_allclose(again.v, step.v, atol=0.5)
    arr = m.simulate(np.asarray(step.i), sampling_rate=20e3, tstop_s=0.4)
    assert abs(len(arr.v) - len(step.v)) <= 1
    with pytest.raises(ParameterError, match="sampling_rate"):
        m.simulate(np.zeros(10))
    with pytest.raises(ParameterError, match="CurrentClamp"):
        m.simulate("long_square:100")


def test_batches_equal_single_runs(arbor_ok) -> None:
    m = _toy()
    clamps = [
        long_square(100.0, delay_s=0.05, duration_s=0.1),
        ramp(500.0, delay_s=0.05, duration_s=0.1),
    ]
    sets = [None, {"gbar_NaTs.soma": 0.3}]
    v = run_batch(m, sets, clamps, tstop_s=0.2)
    assert v.shape == (2, 2, 8001)
    one = run_batch(m.with_parameters({"gbar_NaTs.soma": 0.3}), [None], clamps[1:], tstop_s=0.2)
    np.testing.assert_allclose(v[1, 1], one[0, 0], atol=1e-9)
    assert not np.allclose(v[0, 0], v[1, 0])


def test_protocols() -> None:
    c = parse_protocol("long_square:150")
    assert c.stimulus.kind == StimulusKind.LONG_SQUARE and c.at([0.5, 1.5, 2.5]).tolist() == [
        0,
        150,
        0,
    ]
    assert parse_protocol("ramp:25").stimulus.kind == StimulusKind.RAMP
    assert parse_protocol("short_square:900pA").stimulus.duration == pytest.approx(3e-3)
    with pytest.raises(ParameterError, match="unknown protocol"):
        parse_protocol("noise:1")
    w = from_waveform(np.r_[np.zeros(5), np.full(5, 7.0)], sampling_rate=1e3)
    assert w.at(np.arange(10) / 1e3).tolist() == [0] * 5 + [7.0] * 5
    with pytest.raises(DataError):
        from_waveform([np.nan], sampling_rate=1e3)


def test_parameters_and_errors(arbor_ok) -> None:
    m = _toy()
    assert m.with_parameters({"gbar_NaTs.soma": 0.1}).parameters["gbar_NaTs.soma"] == 0.1
    with pytest.raises(ParameterError, match="unknown parameter"):
        m.with_parameters({"gbar_NaTs.dend": 0.1})
    with pytest.raises(ParameterError, match="unknown simulator backend"):
        m.simulate_step(10.0, backend="brian")
    bad = BiophysModel(
        m.geometry,
        (*m.mechanisms, Mechanism("Foo", "soma", {"gbar": 1.0}, "fit.json genome[7]")),
        m.cm,
        m.ra,
        m.conditions,
        source="fit.json",
    )
    with pytest.raises(
        MechanismError, match=r"fit\.json: fit\.json genome\[7\] names mechanism 'Foo'"
    ):
        bad.simulate_step(10.0, tstop_s=0.05)


def test_neuron_missing_says_how_to_install(monkeypatch, arbor_ok) -> None:
    monkeypatch.setitem(sys.modules, "neuron", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'patchatlas\[neuron\]'"):
        _toy().simulate_step(10.0, tstop_s=0.05, backend="neuron")
    # Arbor is unaffected
    assert _toy().simulate_step(10.0, tstop_s=0.05).n_samples == 2001
