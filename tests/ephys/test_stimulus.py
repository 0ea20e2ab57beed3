"""Stimulus inference on command waveforms built in the test."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from patchatlas.ephys import (
    Epoch,
    StimulusKind,
    StimulusOntology,
    Sweep,
    infer_epochs,
    infer_recording_stimuli,
    infer_stimulus,
)
from patchatlas.ephys.stimulus import kind_from_name, stimulus_from_epochs

FS = 20_000.0


def command(duration: float, pieces: list[tuple[float, float, float]], holding: float = 0.0):
    """Piecewise-constant command: (start s, end s, level pA above holding)."""
    x = np.full(round(duration * FS), holding, dtype=np.float32)
    for a, b, level in pieces:
        x[round(a * FS) : round(b * FS)] = holding + level
    return x


def test_single_step_with_holding_current():
    i = command(3.0, [(1.02, 2.02, 150.0)], holding=-35.0)
    st = infer_stimulus(i, FS)
    assert st.kind is StimulusKind.LONG_SQUARE
    assert st.amplitude == 150.0 and st.holding == -35.0
    assert (st.start, st.end) == pytest.approx((1.02, 2.02))


def test_short_square_and_negative_step():
    st = infer_stimulus(command(1.0, [(0.5, 0.503, 800.0)]), FS)
    assert st.kind is StimulusKind.SHORT_SQUARE and st.duration == pytest.approx(0.003)
    st = infer_stimulus(command(1.0, [(0.2, 0.7, -90.0)]), FS)
    assert st.kind is StimulusKind.LONG_SQUARE and st.amplitude == -90.0


def test_ramp_from_holding():
    n = int(3.0 * FS)
    i = np.zeros(n)
    k0, k1 = int(1.02 * FS), int(2.9 * FS)
    i[k0:k1] = 25.0 * np.arange(k1 - k0) / FS  # Allen ramp: 25 pA/s
    i[k1:] = 0.0
    st = infer_stimulus(i, FS)
    assert st.kind is StimulusKind.RAMP
    assert st.start == pytest.approx(1.02, abs=2 / FS)
    assert st.end == pytest.approx(2.9, abs=2 / FS)
    (ramp,) = st.epochs
    assert ramp.slope == pytest.approx(25.0, rel=1e-3)
    assert ramp.amplitude == pytest.approx(25.0 * (k1 - k0 - 1) / FS, abs=0.01)


def test_noise_epoch():
    rng = np.random.default_rng(0)
    i = command(3.0, [])
    a, b = int(1.0 * FS), int(2.0 * FS)
    i[a:b] = 100 + 30 * rng.standard_normal(b - a)
    st = infer_stimulus(i, FS)
    assert st.kind is StimulusKind.NOISE
    assert (st.start, st.end) == pytest.approx((1.0, 2.0), abs=2 / FS)
    assert st.amplitude == pytest.approx(np.sqrt(100**2 + 30**2), rel=0.05)


def test_pulse_train_grouped():
    pulses = [(0.5 + 0.05 * k, 0.503 + 0.05 * k, 500.0) for k in range(3)]
    st = infer_stimulus(command(1.0, pulses), FS)
    assert st.kind is StimulusKind.SQUARE_PULSE_TRAIN
    (train,) = st.epochs
    assert train.n_pulses == 3 and train.amplitude == 500.0
    assert (train.start, train.end) == pytest.approx((0.5, 0.603))


def test_test_pulse_is_never_primary():
    i = command(3.0, [(0.01, 0.02, -50.0), (1.02, 2.02, 30.0)])
    st = infer_stimulus(i, FS)
    assert st.epochs[0].kind == "test_pulse"
    assert st.amplitude == 30.0 and st.start == pytest.approx(1.02)


def test_noisy_recorded_current():
    rng = np.random.default_rng(1)
    i = command(3.0, [(0.7, 2.7, 125.0)]).astype(float) + 4.0 * rng.standard_normal(int(3 * FS))
    i = np.round(i / 3.125) * 3.125  # digitiser quantisation
    st = infer_stimulus(i, FS)
    assert st.kind is StimulusKind.LONG_SQUARE
    assert st.amplitude == pytest.approx(125.0, abs=3.0)
    assert (st.start, st.end) == pytest.approx((0.7, 2.7), abs=1e-3)


def test_flat_nan_and_tiny_commands():
    assert infer_stimulus(np.zeros(1000), FS).kind is StimulusKind.UNKNOWN
    assert infer_stimulus(None, FS).kind is StimulusKind.UNKNOWN
    holding, epochs = infer_epochs(np.array([np.nan, 1.0, 2.0]), FS)
    assert epochs == [] and holding == 1.5
    assert infer_epochs(np.array([3.0]), FS) == (3.0, [])


def test_t0_offsets_windows():
    st = infer_stimulus(command(1.0, [(0.2, 0.7, 10.0)]), FS, t0=5.0)
    assert (st.start, st.end) == pytest.approx((5.2, 5.7))


def _sweeps(pieces_per_sweep, duration=3.0, name="steps"):
    from patchatlas.ephys import Stimulus

    out = []
    for k, pieces in enumerate(pieces_per_sweep):
        i = command(duration, pieces)
        out.append(
            Sweep(v=np.zeros_like(i), i=i, sampling_rate=FS, number=k, stimulus=Stimulus(name=name))
        )
    return out


def test_recording_alignment_picks_varying_step_over_fixed_prepulse():
    # fixed -100 pA prepulse (larger than some test steps) + a varying test step incl. 0 pA
    sweeps = _sweeps(
        [
            [(0.02, 0.32, -100.0), (0.82, 1.32, a)] if a else [(0.02, 0.32, -100.0)]
            for a in (0, 10, 20, 300)
        ]
    )
    stims = infer_recording_stimuli(sweeps)
    assert [s.amplitude for s in stims] == [0.0, 10.0, 20.0, 300.0]
    for s in stims:
        assert (s.start, s.end) == pytest.approx((0.82, 1.32))
        assert s.kind is StimulusKind.LONG_SQUARE
    # the 0 pA sweep lists the window as a zero-amplitude step
    assert any(e.amplitude == 0.0 and e.start == pytest.approx(0.82) for e in stims[0].epochs)


def test_recording_alignment_respects_protocol_groups():
    a = _sweeps([[(0.5, 1.0, 50.0)], [(0.5, 1.0, 60.0)]], name="A")
    b = _sweeps([[(1.0, 1.003, 400.0)], [(1.0, 1.003, 400.0)]], name="B")
    stims = infer_recording_stimuli(a + b)
    assert [s.kind for s in stims] == [StimulusKind.LONG_SQUARE] * 2 + [
        StimulusKind.SHORT_SQUARE
    ] * 2


def test_stimulus_from_epochs_primary_and_empty():
    st = stimulus_from_epochs([Epoch("step", 1.0, 2.0, 20.0), Epoch("step", 0.0, 0.1, -5.0)])
    assert st.amplitude == 20.0 and st.epochs[0].start == 0.0
    empty = stimulus_from_epochs([])
    assert empty.kind is StimulusKind.UNKNOWN and math.isnan(empty.start)


def test_allen_ontology(ephys_data):
    entries = json.loads((ephys_data / "allen_metadata/ipfx_stimulus_ontology.json").read_text())
    onto = StimulusOntology(entries)
    assert len(onto) > 100
    assert onto.name("EXTPGGAEND141203") == "Test"
    # MIES-style sweep suffix and case are ignored
    long_codes = [c for e in entries for t in e if t[0] == "code" for c in t[1:] if "LSCOARSE" in c]
    assert long_codes, "the Allen ontology lists long-square codes"
    assert onto.kind(long_codes[0] + "[3]") is StimulusKind.LONG_SQUARE
    assert onto.kind("not-a-code") is None
    assert kind_from_name("Noise 2") is StimulusKind.NOISE
