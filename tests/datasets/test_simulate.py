"""The demo-data simulator: physiology sanity, protocols, recordings, determinism, bad input.

Spikes are counted by upward crossings of -20 mV (independent of the ephys feature engine).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from patchatlas.core.recording import Recording, StimulusKind
from patchatlas.datasets import simulate as sim
from patchatlas.ephys.stimulus import infer_recording_stimuli
from patchatlas.errors import DataError, PatchAtlasError

FS = 50e3
START, STEP, SWEEP = 0.3, 1.0, 1.6
AMPS = np.array([-110.0, -50.0, -30.0, 10.0, 30.0, 50.0, 70.0, 90.0, 110.0, 130.0, 150.0, 170.0,
                 190.0, 210.0, 230.0, 250.0])  # fmt: skip
MODELS = {
    **sim.PRESETS,
    "rs_no_ih": sim.PRESETS["rs_pyramidal"].with_(name="rs_no_ih", g_h=0.0),
}


def crossings(v: np.ndarray, fs: float = FS, t0: float = 0.0, t1: float = math.inf) -> np.ndarray:
    """Times (s) of upward -20 mV crossings within [t0, t1)."""
    k = np.flatnonzero((v[:-1] < -20.0) & (v[1:] >= -20.0)) + 1
    t = k / fs
    return t[(t >= t0) & (t < t1)]


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


def window(v: np.ndarray, t0: float, t1: float) -> np.ndarray:
    return v[..., round(t0 * FS) : round(t1 * FS)]


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


# --------------------------------------------------------------------------------------------
# Integrator
# --------------------------------------------------------------------------------------------


def _small_command() -> np.ndarray:
    p = sim.protocol(
        "long_square", [-70.0, 150.0, 250.0], start=0.1, duration=0.3, sweep_duration=0.5
    )
    return p.command


def test_deterministic_with_seed() -> None:
    cmd = _small_command()
    a = sim.simulate("rs_pyramidal", cmd, seed=7)
    b = sim.simulate("rs_pyramidal", cmd, seed=7)
    c = sim.simulate("rs_pyramidal", cmd, seed=8)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_noise_levels() -> None:
    cmd = np.zeros((4, 25000))
    quiet = sim.simulate("rs_pyramidal", cmd, seed=1, current_noise_pa=0, recording_noise_mv=0)
    assert np.ptp(quiet) < 0.01  # stays at rest without noise (tables: 0.02 mV grid)
    white = sim.simulate("rs_pyramidal", cmd, seed=1, current_noise_pa=0)
    assert np.std(white - quiet) == pytest.approx(0.03, rel=0.05)
    ou = sim.simulate("rs_pyramidal", cmd, seed=1, recording_noise_mv=0)
    # 4 pA current noise through ~140 MΩ filtered by τm ≈ 9 ms: a fraction of a mV.
    assert 0.1 < float(np.std(ou)) < 0.6


def test_multirate_matches_fine_steps() -> None:
    cmd = _small_command()
    fine = sim.simulate("rs_pyramidal", cmd, seed=3, multirate=False)
    fast = sim.simulate("rs_pyramidal", cmd, seed=3)
    for a, b in zip(fine, fast, strict=True):
        ta, tb = crossings(a), crossings(b)
        assert ta.size == tb.size
        if ta.size:
            assert np.max(np.abs(ta - tb)) < 0.5e-3
    # Before the step, where the integrator takes long steps, traces agree closely.
    assert np.max(np.abs(window(fine, 0.0, 0.1) - window(fast, 0.0, 0.1))) < 0.2


def test_dt_10us_agrees_with_20us() -> None:
    cmd = _small_command()
    # Without current noise (its realisation depends on dt), so only the step size differs.
    opts = {"seed": 2, "multirate": False, "current_noise_pa": 0.0}
    a = sim.simulate("fs_interneuron", cmd, dt=1e-5, **opts)
    b = sim.simulate("fs_interneuron", cmd, dt=2e-5, **opts)
    for x, y in zip(a, b, strict=True):
        tx, ty = crossings(x), crossings(y)
        assert tx.size == ty.size
        if tx.size:
            assert np.max(np.abs(tx - ty)) < 0.5e-3


def test_one_dimensional_command() -> None:
    v = sim.simulate("fs_interneuron", np.zeros(1000), seed=0)
    assert v.shape == (1000,)


# --------------------------------------------------------------------------------------------
# Protocols and stimulus descriptions
# --------------------------------------------------------------------------------------------


def test_protocol_lengths_default_to_command_width() -> None:
    p = sim.protocol("short_square", [300.0, 600.0])
    q = sim.Protocol(p.name, p.kind, p.command, p.stimuli, p.sampling_rate)
    assert q.lengths == (int(1.5 * FS),) * 2 == p.lengths


def test_long_square_protocol() -> None:
    p = sim.protocol("long_square", np.arange(-110, 251, 20))
    assert p.command.shape == (19, int(3.0 * FS))
    assert p.kind is StimulusKind.LONG_SQUARE
    i0, i1 = int(1.02 * FS), int(2.02 * FS)
    np.testing.assert_array_equal(p.command[:, i0], np.arange(-110, 251, 20))
    assert np.all(p.command[:, :i0] == 0) and np.all(p.command[:, i1:] == 0)
    s = p.stimuli[0]
    assert (s.start, s.end, s.amplitude, s.source) == (1.02, 2.02, -110.0, "simulated")
    assert s.name == "Long Square"


def test_ramp_protocol_reaches_its_amplitude() -> None:
    p = sim.protocol("ramp", [50.0, 100.0])
    assert p.lengths[1] > p.lengths[0]
    for r, amp in enumerate((50.0, 100.0)):
        s = p.stimuli[r]
        n = round(s.end * FS)
        assert p.command[r, n - 1] == pytest.approx(amp)
        assert s.end - s.start == pytest.approx(amp / 25.0)
        assert s.epochs[0].slope == pytest.approx(25.0, rel=1e-3)
        assert np.all(p.command[r, n:] == 0)


def test_noise_protocol() -> None:
    p = sim.protocol("noise", [50.0, 100.0], duration=1.0, sweep_duration=2.5, noise_seed=4)
    i0, i1 = int(1.02 * FS), int(2.02 * FS)
    seg = p.command[:, i0:i1]
    np.testing.assert_allclose(seg.mean(axis=1), [50.0, 100.0], rtol=1e-9)
    np.testing.assert_allclose(seg.std(axis=1), [10.0, 20.0], rtol=1e-9)  # cv 0.2
    np.testing.assert_allclose(seg[1], 2 * seg[0])  # one waveform, scaled
    assert np.all(p.command[:, :i0] == 0) and np.all(p.command[:, i1:] == 0)
    s = p.stimuli[1]
    assert s.kind is StimulusKind.NOISE and s.epochs[0].kind == "noise"
    assert s.amplitude == pytest.approx(float(np.sqrt(np.mean(seg[1] ** 2))), abs=1e-3)
    # Power sits in the 1-100 Hz band.
    spec = np.abs(np.fft.rfft(seg[0] - seg[0].mean())) ** 2
    f = np.fft.rfftfreq(seg.shape[1], 1 / FS)
    assert spec[f > 110].sum() < 1e-9 * spec.sum()
    other = sim.protocol("noise", [50.0], duration=1.0, sweep_duration=2.5, noise_seed=5)
    assert not np.allclose(other.command[0], p.command[0])
    v = sim.simulate("fs_interneuron", p.command[:, : int(1.5 * FS)], seed=0)
    assert np.all(np.isfinite(v)) and v.shape == (2, int(1.5 * FS))


@pytest.mark.parametrize("name", list(sim.PRESETS))
def test_noise_amplitudes_follow_rheobase(name: str) -> None:
    lo, mid, hi = sim.noise_amplitudes(name)
    assert lo < mid < hi
    assert mid == pytest.approx(sim.ramp_amplitude(name) - 20.0, abs=10.0)
    assert hi / mid == pytest.approx(1.5, abs=0.1)


def _as_recording(p: sim.Protocol) -> Recording:
    from patchatlas.core.recording import Sweep

    return Recording(
        [
            Sweep(
                v=np.zeros(p.lengths[r]),
                i=p.command[r, : p.lengths[r]],
                sampling_rate=FS,
                number=r + 1,
                stimulus=p.stimuli[r].with_(source="x"),
            )
            for r in range(p.n_sweeps)
        ]
    )


def _assert_inferred_matches(rec: Recording) -> None:
    inferred = infer_recording_stimuli(rec.sweeps)
    for s, got in zip(rec.sweeps, inferred, strict=True):
        want = s.stimulus
        assert got.kind == want.kind, s.number
        assert got.amplitude == pytest.approx(want.amplitude, abs=1e-3), s.number
        # Ramp onsets are located where the line leaves the holding level: within a sample.
        assert got.start == pytest.approx(want.start, abs=1.5 / s.sampling_rate), s.number
        assert got.end == pytest.approx(want.end, abs=1.5 / s.sampling_rate), s.number


@pytest.mark.parametrize(
    ("kind", "amps"),
    [
        ("long_square", list(range(-110, 251, 20))),
        ("short_square", [200, 500, 1000]),
        ("ramp", [60.0]),
        pytest.param("noise", [50.0, 100.0]),
    ],
)
def test_stimulus_inference_recovers_protocols(kind: str, amps: list[float]) -> None:
    _assert_inferred_matches(_as_recording(sim.protocol(kind, amps)))


# --------------------------------------------------------------------------------------------
# Recordings
# --------------------------------------------------------------------------------------------

SMALL = {"long_square": [-90.0, 50.0, 250.0], "short_square": [300.0, 900.0], "ramp": [60.0]}


def test_simulate_cell_recording() -> None:
    rec = sim.simulate_cell("fs_interneuron", seed=3, amplitudes=SMALL)
    assert isinstance(rec, Recording)
    assert rec.sweep_numbers == list(range(1, 7))
    kinds = [s.stimulus.kind for s in rec]
    assert kinds == [StimulusKind.LONG_SQUARE] * 3 + [StimulusKind.SHORT_SQUARE] * 2 + [
        StimulusKind.RAMP
    ]
    assert all(s.stimulus.source == "simulated" for s in rec)
    assert all(s.sampling_rate == FS and s.i is not None for s in rec)
    assert rec[0].duration == pytest.approx(3.0) and rec[3].duration == pytest.approx(1.5)
    md = rec.metadata
    assert md["species"] == "synthetic" and md["seed"] == 3
    assert md["model"] == "fs_interneuron"
    assert md["model_parameters"]["g_kd"] == sim.PRESETS["fs_interneuron"].g_kd
    assert md["model_truth"]["input_resistance_mohm"] == pytest.approx(114.3, abs=1.0)
    assert rec.cell_id == "sim_fs_interneuron_s3"
    # The +250 pA step fires, the -90 pA one does not; the 900 pA short square fires.
    assert crossings(rec[2].v).size > 50 and crossings(rec[0].v).size == 0
    assert crossings(rec[4].v).size >= 1
    _assert_inferred_matches(rec)
    table = rec.sweep_table()
    assert list(table["amplitude_pa"]) == [-90.0, 50.0, 250.0, 300.0, 900.0, 60.0]


def test_default_ramp_crosses_rheobase() -> None:
    rec = sim.simulate_cell("rs_pyramidal", seed=0, protocols=("ramp",))
    (sweep,) = rec.sweeps
    t = crossings(sweep.v)
    assert t.size >= 3
    # Current at the first spike: between the long-square rheobase region and the ramp's end.
    i_first = float(sweep.i[round(t[0] * FS)])
    assert 80.0 < i_first <= sweep.stimulus.amplitude
    assert sweep.stimulus.amplitude == sim.ramp_amplitude("rs_pyramidal")


def test_demo_dataset() -> None:
    cells = sim.demo_dataset(n_cells=3, seed=5, amplitudes=SMALL)
    assert [c.metadata["model"] for c in cells] == list(sim.PRESETS)[:3]
    assert [c.metadata["seed"] for c in cells] == [5, 6, 7]
    assert len({c.cell_id for c in cells}) == 3
    again = sim.demo_dataset(n_cells=3, seed=5, amplitudes=SMALL)
    for a, b in zip(cells, again, strict=True):
        for s, t in zip(a, b, strict=True):
            np.testing.assert_array_equal(s.v, t.v)
    # Different firing types: the FS cell fires most at +250 pA.
    n250 = [crossings(c[2].v).size for c in cells]
    assert n250[1] == max(n250)


# --------------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda: sim.protocol("noise_2", [1.0]),
        lambda: sim.protocol("long_square", []),
        lambda: sim.protocol("ramp", [-10.0]),
        lambda: sim.protocol("noise", [10.0], noise_band=(1.0, 1e6)),
        lambda: sim.protocol("long_square", [10.0], start=2.9),
        lambda: sim.simulate("rs_pyramidal", np.zeros((2, 3, 4))),
        lambda: sim.simulate("rs_pyramidal", np.full((1, 10), np.nan)),
        lambda: sim.simulate("rs_pyramidal", np.zeros((1, 10)), dt=3e-5),
        lambda: sim.simulate(["rs_pyramidal"], np.zeros((2, 10))),
        lambda: sim.simulate("pyramidal", np.zeros((1, 10))),
        lambda: sim.simulate("fs_interneuron", np.full((1, 30000), -5000.0)),  # V off the table
        lambda: sim.simulate_cell("rs_pyramidal", protocols=("chirp",)),
        lambda: sim.NeuronModel(g_leak=-1.0),
        lambda: sim.demo_dataset(n_cells=0),
        lambda: sim.Protocol("x", StimulusKind.LONG_SQUARE, np.zeros((2, 5)), (), 50e3),
    ],
)
def test_bad_input_raises_typed_errors(call: object) -> None:
    with pytest.raises(PatchAtlasError) as info:
        call()  # type: ignore[operator]
    assert isinstance(info.value, DataError)
    assert str(info.value)
