"""Protocols and their stimulus descriptions (recovered by stimulus inference)."""

from __future__ import annotations

import numpy as np
import pytest

from patchatlas.core.recording import Recording, StimulusKind
from patchatlas.models import pointneuron as sim
from tests.models.pointneuron.helpers import FS, assert_inferred_matches


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
    assert_inferred_matches(_as_recording(sim.protocol(kind, amps)))
