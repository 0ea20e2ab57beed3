"""GLIF simulation: the Allen configs at their levels, compiled kernel == NumPy path, exact
dynamics against closed forms, Allen config round trips and clear errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from patchatlas.errors import DataError, ParameterError
from patchatlas.io import read_glif_config, write_glif_config
from patchatlas.models.glif import GlifModel, GlifParameters, simulate_many
from patchatlas.models.glif import _backend as B
from tests.models.glif._data import ALLEN_CONFIGS, config_paths

DT = 5e-5


def _step(amp: float, n: int = 20000) -> np.ndarray:
    s = np.zeros(n)
    s[n // 10 : 9 * n // 10] = amp
    return s


@pytest.fixture(scope="module")
def allen_models(ephys_data):
    return [
        GlifModel.from_allen_config(read_glif_config(p), where=p.name)
        for p in config_paths(ephys_data)
    ]


def test_the_eight_allen_configs_load_at_their_levels_and_simulate(allen_models):
    levels = [m.level for m in allen_models]
    assert levels == list(ALLEN_CONFIGS.values())
    assert set(levels) == {1, 2, 3, 4, 5}
    for m in allen_models:
        for method in ("exact", "euler"):
            sim = m.simulate(_step(300.0), DT, method=method)
            assert sim.voltage.shape == (20000,)
            assert np.all(np.diff(sim.spike_times) > 0)
            assert sim.n_bad_resets == 0
            finite = np.isfinite(sim.voltage)
            # between spikes the voltage stays below the threshold (interpolated crossings)
            assert np.all(sim.voltage[finite] <= sim.threshold[finite] + 1e-9)
        # the model id is kept as the name
        assert m.name.isdigit()
    # most configs fire at 300 pA; 489931668 (GLIF2, Θ∞ 33 mV at 118 MΩ) does not
    assert sum(m.simulate(_step(300.0), DT).n_spikes > 0 for m in allen_models) >= 7


@pytest.mark.parametrize("method", ["exact", "euler"])
def test_numba_kernel_equals_the_numpy_path(allen_models, method):
    pytest.importorskip("numba")
    stim = _step(250.0) + 40 * np.sin(np.arange(20000) * 2e-3)
    for m in allen_models:
        with B.use("numba"):
            a = m.simulate(stim, DT, method=method)
        with B.use("numpy"):
            b = m.simulate(stim, DT, method=method)
        assert a.backend == "numba" and b.backend == "numpy"
        np.testing.assert_array_equal(a.voltage, b.voltage)
        np.testing.assert_array_equal(a.threshold, b.threshold)
        np.testing.assert_array_equal(a.spike_times, b.spike_times)
        forced = np.array([3000, 5000, 5200, 9000])
        with B.use("numba"):
            fa = m.simulate_forced(stim, DT, forced, method=method)
        with B.use("numpy"):
            fb = m.simulate_forced(stim, DT, forced, method=method)
        np.testing.assert_array_equal(fa[0], fb[0])
        np.testing.assert_array_equal(fa[1], fb[1])
    with B.use("numba"):
        many_a = simulate_many(allen_models, stim, DT, method=method)
    with B.use("numpy"):
        many_b = simulate_many(allen_models, stim, DT, method=method)
    for m, x, y in zip(allen_models, many_a, many_b, strict=True):
        np.testing.assert_array_equal(x, y)
        # the batch computes its propagators in closed form (equal to expm to ~1e-13)
        np.testing.assert_allclose(x, m.simulate(stim, DT, method=method).spike_times, atol=1e-9)


def test_forced_spikes_reset_the_model_at_the_given_samples(allen_models):
    m = next(x for x in allen_models if x.level == 3)
    stim = np.zeros(4000)
    v, _th = m.simulate_forced(stim, DT, [1000, 2500])
    cut = round(m.parameters.spike_cut / DT)
    assert np.isnan(v[1000 : 1000 + cut]).all()
    assert np.isfinite(v[:1000]).all() and np.isfinite(v[1001 + cut : 2500]).all()
    # the after-spike currents kick the voltage away from rest after the forced spike
    assert abs(v[1001 + cut + 50]) > 1e-6


def test_exact_lif_interspike_interval_matches_the_closed_form():
    # GLIF1 under a constant current: after the reset to E_L the voltage charges as
    # V(t) = V∞ (1 − e^{−t/τ}); the crossing of Θ∞ follows t* = −τ ln(1 − Θ∞/V∞); the reset
    # itself comes (cut + 1) samples after the sample that crossed.
    p = GlifParameters(level=1, El=-70.0, R=200.0, C=100.0, th_inf=15.0, spike_cut=2e-3)
    amp = 120.0  # V∞ = 24 mV
    sim = GlifModel(p).simulate(np.full(40000, amp), DT)
    tau = p.tau_m
    v_inf = amp * p.R * 1e-3
    t_star = -tau * math.log(1 - p.threshold / v_inf)
    isi = np.diff(sim.spike_times)
    n_cut = round(p.spike_cut / DT)
    # the crossing sample ends a step, the model restarts at the next grid point
    frac = sim.spike_times[0] / DT - math.floor(sim.spike_times[0] / DT)
    expected = (n_cut + 1 - frac) * DT + t_star + frac * DT
    assert sim.spike_times[0] == pytest.approx(t_star, abs=DT)
    assert np.all(np.abs(isi - expected) < 1.5 * DT), (isi[:3], expected)
    # exact and Euler agree to first order in dt
    eul = GlifModel(p).simulate(np.full(40000, amp), DT, method="euler")
    assert abs(eul.n_spikes - sim.n_spikes) <= 1


def test_spike_times_are_interpolated_between_samples():
    p = GlifParameters(level=1, El=-65.0, R=150.0, C=80.0, th_inf=10.0, spike_cut=1e-3)
    sim = GlifModel(p).simulate(np.full(10000, 150.0), DT)
    assert sim.n_spikes > 3
    on_grid = np.abs(sim.spike_times / DT - np.round(sim.spike_times / DT)) < 1e-9
    assert not on_grid.all()


def test_allen_config_round_trip(allen_models, tmp_path):
    for m in allen_models:
        cfg = m.to_allen_config()
        path = write_glif_config(cfg, tmp_path / f"{m.name}.json", model_id=m.name)
        back = GlifModel.from_allen_config(read_glif_config(path))
        pa, pb = m.parameters.as_dict(), back.parameters.as_dict()
        assert pa.keys() == pb.keys()
        for k in pa:  # SI <-> library units: equal to rounding
            np.testing.assert_allclose(pb[k], pa[k], rtol=1e-12, atol=1e-12, err_msg=k)
        a = m.simulate(_step(200.0), DT)
        b = back.simulate(_step(200.0), DT)
        np.testing.assert_allclose(b.spike_times, a.spike_times, atol=1e-9)


def test_not_a_glif_config_is_refused_with_the_reason(ephys_data):
    spec = ephys_data / "allen_metadata" / "specimen_464198958"
    with pytest.raises(ParameterError, match="biophysical"):
        GlifModel.from_allen_config(read_glif_config(spec / "biophys_472450023_464198958_fit.json"))
    with pytest.raises(ParameterError, match="metadata"):
        GlifModel.from_allen_config(read_glif_config(spec / "glif_566291893_model_metadata.json"))
    cfg = read_glif_config(spec / "glif_566291893_neuron_config.json")
    inner = dict(next(iter(cfg.values())))
    with pytest.raises(ParameterError, match="missing R_input"):
        GlifModel.from_allen_config({k: v for k, v in inner.items() if k != "R_input"})
    mixed = {**inner, "AScurrent_dynamics_method": {"name": "exp", "params": {}}}
    mixed["threshold_dynamics_method"] = {"name": "three_components_exact", "params": {}}
    with pytest.raises(ParameterError, match="none of the five GLIF levels"):
        GlifModel.from_allen_config(mixed)
    with pytest.raises(ParameterError, match="read_glif_config"):
        GlifModel.from_allen_config(str(spec / "glif_566291893_neuron_config.json"))  # type: ignore[arg-type]


def test_bad_stimulus_and_dt_raise_clear_errors():
    m = GlifModel(GlifParameters(level=1, El=-70.0, R=100.0, C=100.0, th_inf=20.0))
    with pytest.raises(DataError, match="1-D"):
        m.simulate(np.zeros((2, 10)), DT)
    with pytest.raises(DataError, match="NaN"):
        m.simulate(np.array([0.0, np.nan, 1.0]), DT)
    with pytest.raises(ParameterError, match="dt"):
        m.simulate(np.zeros(10), 0.0)
    with pytest.raises(ParameterError, match="method"):
        m.simulate(np.zeros(10), DT, method="rk4")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="level"):
        GlifParameters(level=6, El=-70.0, R=100.0, C=100.0, th_inf=20.0)
    with pytest.raises(ParameterError, match="positive"):
        GlifParameters(level=1, El=-70.0, R=-1.0, C=100.0, th_inf=20.0)


def test_batched_closed_form_propagators_equal_the_matrix_exponential(allen_models):
    from patchatlas.models.glif._params import step_vector, step_vectors

    params = [m.parameters for m in allen_models]
    base = GlifParameters(level=5, El=-70.0, R=100.0, C=100.0, th_inf=20.0, a_v=5.0, b_v=100.0)
    g = base.g * 1e3 / base.capacitance  # 100/s
    # rates that coincide with the membrane's (the closed form's removable singularities)
    params += [base.with_(asc_k=(g, 3.0)), base.with_(asc_k=(g * (1 + 1e-9), 300.0), b_v=g)]
    for method in ("exact", "euler"):
        for dt in (5e-5, 5e-4):
            fast = step_vectors(params, dt, method)
            ref = np.stack([step_vector(p, dt, method) for p in params])
            np.testing.assert_allclose(fast, ref, rtol=1e-9, atol=1e-300)
