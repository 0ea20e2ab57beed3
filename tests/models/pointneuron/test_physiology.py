"""Point-neuron physiology: rest, rheobase, f-I, adaptation, spike width, sag, input resistance,
membrane time constant, rebound and intrinsic bursts of the presets."""

from __future__ import annotations

import numpy as np
import pytest

from patchatlas.models import pointneuron as sim
from tests.models.pointneuron.helpers import FS, crossings, window

START, STEP, SWEEP = 0.3, 1.0, 1.6
AMPS = np.array([-110.0, -50.0, -30.0, 10.0, 30.0, 50.0, 70.0, 90.0, 110.0, 130.0, 150.0, 170.0,
                 190.0, 210.0, 230.0, 250.0])  # fmt: skip
MODELS = {
    **sim.PRESETS,
    "rs_no_ih": sim.PRESETS["rs_pyramidal"].with_(name="rs_no_ih", g_h=0.0),
}


@pytest.fixture(scope="module")
def long_squares() -> dict[str, np.ndarray]:
    """Long-square responses of every preset (and RS without Ih), one batch, seed 0."""
    proto = sim.protocol("long_square", AMPS, start=START, sweep_duration=SWEEP)
    names = list(MODELS)
    models = [MODELS[n] for n in names for _ in AMPS]
    v = sim.simulate(models, np.tile(proto.command, (len(names), 1)), seed=0)
    return {n: v[k * AMPS.size : (k + 1) * AMPS.size] for k, n in enumerate(names)}


def counts(v: np.ndarray) -> np.ndarray:
    return np.array([crossings(r, t0=START, t1=START + STEP).size for r in v])


def row(amp: float) -> int:
    return int(np.flatnonzero(amp == AMPS)[0])


@pytest.mark.parametrize("name", list(sim.PRESETS))
def test_resting_potential(long_squares: dict[str, np.ndarray], name: str) -> None:
    base = window(long_squares[name], 0.05, START).mean(axis=1)
    assert np.all((base > -80.0) & (base < -60.0))
    # The analytic steady state is where the simulated cell sits before the step.
    assert abs(float(np.median(base)) - sim.PRESETS[name].resting_potential()) < 1.0


@pytest.mark.parametrize(
    ("name", "lo", "hi"),
    [
        ("rs_pyramidal", 70, 190),
        ("fs_interneuron", 90, 210),
        ("lts_interneuron", 50, 170),
        ("ib_pyramidal", 70, 210),
    ],
)
def test_rheobase_in_bounds(
    long_squares: dict[str, np.ndarray], name: str, lo: float, hi: float
) -> None:
    c = counts(long_squares[name])
    firing = AMPS[(c > 0) & (AMPS > 0)]
    assert firing.size, f"{name} never fires up to {AMPS.max()} pA"
    rheobase = float(firing.min())
    assert lo <= rheobase <= hi
    # Nothing fires during hyperpolarising or small depolarising steps.
    assert np.all(c[AMPS < 30] == 0)


def test_rs_fi_curve_is_monotonic(long_squares: dict[str, np.ndarray]) -> None:
    c = counts(long_squares["rs_pyramidal"])[AMPS > 0]
    assert np.all(np.diff(c) >= 0)
    assert c[-1] >= 20  # ≥ 20 Hz at +250 pA


def test_fs_fires_much_faster_than_rs(long_squares: dict[str, np.ndarray]) -> None:
    fs_rate = counts(long_squares["fs_interneuron"])[row(250.0)]
    rs_rate = counts(long_squares["rs_pyramidal"])[row(250.0)]
    assert fs_rate >= 1.8 * rs_rate
    assert fs_rate >= 80


def _isi(v: np.ndarray) -> np.ndarray:
    return np.diff(crossings(v, t0=START, t1=START + STEP))


def test_rs_adapts_more_than_fs(long_squares: dict[str, np.ndarray]) -> None:
    rs = _isi(long_squares["rs_pyramidal"][row(250.0)])
    fs = _isi(long_squares["fs_interneuron"][row(250.0)])
    rs_adapt = rs[-3:].mean() / rs[:3].mean()
    fs_adapt = fs[-3:].mean() / fs[:3].mean()
    assert rs_adapt > 1.4
    assert fs_adapt < 1.15
    assert rs_adapt > fs_adapt + 0.3


def _half_width(v: np.ndarray) -> float:
    t = crossings(v, t0=START, t1=START + STEP)
    k = round(t[0] * FS)
    seg = v[k - 100 : k + 200]
    base = v[k - 50]
    half = (seg.max() + base) / 2.0
    return float(np.sum(seg > half) / FS)


def test_fs_spikes_are_narrower(long_squares: dict[str, np.ndarray]) -> None:
    fs_w = _half_width(long_squares["fs_interneuron"][row(250.0)])
    rs_w = _half_width(long_squares["rs_pyramidal"][row(250.0)])
    assert 0.1e-3 < fs_w < rs_w < 2e-3


def _sag(v: np.ndarray) -> float:
    base = window(v, 0.05, START).mean()
    # Trough of the 20 ms running mean, so recording and current noise do not fake a sag.
    trough = np.convolve(window(v, START, START + 0.3), np.ones(1000) / 1000, mode="valid").min()
    ss = window(v, START + STEP - 0.1, START + STEP).mean()
    return float((ss - trough) / (base - trough))


def test_sag_needs_ih(long_squares: dict[str, np.ndarray]) -> None:
    with_ih = _sag(long_squares["rs_pyramidal"][row(-110.0)])
    without = _sag(long_squares["rs_no_ih"][row(-110.0)])
    assert with_ih > 0.06
    assert without < 0.03
    assert with_ih > 3 * max(without, 0.005)


@pytest.mark.parametrize(
    ("name", "lo", "hi"),
    [
        ("rs_pyramidal", 120, 170),
        ("fs_interneuron", 80, 150),
        ("lts_interneuron", 180, 330),
        ("ib_pyramidal", 130, 240),
    ],
)
def test_input_resistance(
    long_squares: dict[str, np.ndarray], name: str, lo: float, hi: float
) -> None:
    v = long_squares[name]
    dv = []
    for amp in (-50.0, -30.0):
        r = v[row(amp)]
        dv.append(
            (window(r, START + STEP - 0.3, START + STEP).mean() - window(r, 0.05, START).mean())
            / amp
        )
    rin = 1e3 * float(np.mean(dv))  # mV/pA → MΩ
    assert lo <= rin <= hi
    # Measured and analytic (steady-state I-V slope at rest) agree.
    assert rin == pytest.approx(sim.PRESETS[name].input_resistance(), rel=0.15)


def test_membrane_time_constant_matches_truth() -> None:
    from scipy.optimize import curve_fit

    p = sim.protocol("long_square", [-10.0], start=0.05, duration=0.2, sweep_duration=0.3)
    names = list(sim.PRESETS)
    v = sim.simulate(
        names, np.repeat(p.command, len(names), axis=0), current_noise_pa=0, recording_noise_mv=0
    )
    t = np.arange(int(0.03 * FS)) / FS
    for name, trace in zip(names, v, strict=True):
        seg = trace[int(0.05 * FS) :][: t.size]
        (_, _, tau), _ = curve_fit(
            lambda x, a, b, tau: a + b * np.exp(-x / tau), t, seg, p0=(seg[-1], 1.0, 0.01)
        )
        truth = sim.PRESETS[name].ground_truth()
        assert tau == pytest.approx(truth["tau_s"], rel=0.2), name
        assert seg[0] == pytest.approx(truth["v_rest_mv"], abs=0.05), name


def test_lts_rebound_burst(long_squares: dict[str, np.ndarray]) -> None:
    end = START + STEP
    lts = crossings(long_squares["lts_interneuron"][row(-110.0)], t0=end, t1=end + 0.2)
    rs = crossings(long_squares["rs_pyramidal"][row(-110.0)], t0=end, t1=end + 0.2)
    assert lts.size >= 2
    assert np.all(np.diff(lts) < 0.015)  # a burst: intra-burst intervals < 15 ms
    assert rs.size == 0


def test_ib_bursts_then_slows(long_squares: dict[str, np.ndarray]) -> None:
    ib = _isi(long_squares["ib_pyramidal"][row(250.0)])
    rs = _isi(long_squares["rs_pyramidal"][row(250.0)])
    assert ib[0] < 0.008
    assert ib[0] / np.median(ib) < 0.3
    assert rs[0] / np.median(rs) > 0.5
