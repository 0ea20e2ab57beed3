"""Every real file in ../shared/data/ephys reads, with the stimulus its MANIFEST describes.

Windows are checked to 1 ms, amplitudes to 0.5 pA, against the protocol descriptions in
``../shared/data/ephys/MANIFEST.md`` (NWB files are covered by tests/io/test_nwb*.py).
"""

from __future__ import annotations

import numpy as np
import pytest

import patchatlas
from patchatlas.ephys import ClampMode, StimulusKind

# file, n sweeps, rate (Hz), sweep length (s), kind, window, amplitudes (pA) per sweep
STEPS = [
    (
        "abf_pyabf/17o05028_ic_steps.abf",
        16,
        20e3,
        3.0,
        (0.147, 0.647),
        [-50 + 10 * n for n in range(16)],
    ),
    (
        "abf_pyabf/171116sh_0018.abf",
        17,
        20e3,
        3.0,
        (0.147, 0.647),
        [-100 + 25 * n for n in range(17)],
    ),
    (
        "abf_pyabf/2019_07_24_0055_fsi.abf",
        17,
        20e3,
        3.0,
        (0.147, 0.647),
        [-100 + 25 * n for n in range(17)],
    ),
    ("abf_pyabf/18711001.abf", 30, 20e3, 1.5, (0.823, 1.323), [10 * n for n in range(30)]),
    (
        "abf_pyabf/190619B_0003.abf",
        10,
        10e3,
        3.064,
        (1.048, 2.048),
        [-120 + 60 * n for n in range(10)],
    ),
    ("abf_pyabf/2020_03_02_0000.abf", 16, 10e3, 2.0, None, [-200 + 50 * n for n in range(16)]),
    ("abf_pyabf/File_axon_5.abf", 9, 20e3, 1.0, None, [-100 + 50 * n for n in range(9)]),
    (
        "abf_hippocampus_rat_ca1/97509008.abf",
        16,
        10e3,
        0.7168,
        (0.031, 0.431),
        [-2000 + 200 * n for n in range(16)],
    ),
]


@pytest.mark.parametrize(
    ("rel", "n", "fs", "length", "window", "amps"), STEPS, ids=[s[0] for s in STEPS]
)
def test_step_protocols_match_manifest(ephys_data, rel, n, fs, length, window, amps):
    rec = patchatlas.read(ephys_data / rel)
    assert len(rec) == n
    assert rec.sweep_numbers == list(range(n))
    for s, amp in zip(rec, amps, strict=True):
        assert s.sampling_rate == fs
        assert s.clamp_mode is ClampMode.CURRENT_CLAMP
        assert s.duration == pytest.approx(length, abs=1e-3)
        assert s.stimulus.kind is StimulusKind.LONG_SQUARE
        assert s.stimulus.amplitude == pytest.approx(amp, abs=0.5)
        if window is not None:
            assert s.stimulus.start == pytest.approx(window[0], abs=1e-3)
            assert s.stimulus.end == pytest.approx(window[1], abs=1e-3)
        else:
            assert s.stimulus.duration == pytest.approx(0.5, abs=1e-3)
        # membrane potential in mV: physiological range
        assert -150 < float(np.median(s.v)) < 0


def test_dual_step_protocol_lists_fixed_step(ephys_data):
    """17o05028: the fixed -50 pA step at 1.147-1.647 s and the repeat at 1.647-2.147 s."""
    rec = patchatlas.read(ephys_data / "abf_pyabf/17o05028_ic_steps.abf")
    ep = rec[15].stimulus.epochs
    windows = [(round(e.start, 3), round(e.end, 3), e.amplitude) for e in ep]
    assert (1.147, 1.647, -50.0) in windows
    assert (1.647, 2.147, 100.0) in windows
    # the zero-amplitude sweep still knows its step window
    zero = rec[5].stimulus
    assert zero.amplitude == 0.0 and zero.start == pytest.approx(0.147, abs=1e-3)


def test_prepulse_is_not_primary(ephys_data):
    rec = patchatlas.read(ephys_data / "abf_pyabf/18711001.abf")
    for s in rec:
        pre = [e for e in s.stimulus.epochs if e.amplitude == -100.0]
        assert pre and pre[0].start == pytest.approx(0.023, abs=1e-3)
        assert pre[0].end == pytest.approx(0.323, abs=1e-3)


def test_recorded_current_channel_kept(ephys_data):
    rec = patchatlas.read(ephys_data / "abf_pyabf/2020_03_02_0000.abf")
    s = rec[15]
    assert s.i_recorded is not None and s.i is not None
    # the recorded current follows the 550 pA command inside the step window
    a, b = s.index_of(s.stimulus.start + 0.05), s.index_of(s.stimulus.end - 0.05)
    assert np.median(s.i_recorded[a:b]) - np.median(s.i_recorded[:100]) == pytest.approx(
        550, rel=0.15
    )


def test_short_square_pulses(ephys_data):
    rec = patchatlas.read(ephys_data / "abf_pyabf/File_axon_6.abf")
    assert len(rec) == 32
    for s in rec:
        assert s.stimulus.kind is StimulusKind.SHORT_SQUARE
        assert s.stimulus.amplitude == pytest.approx(2000.0)
        assert s.stimulus.duration == pytest.approx(0.002, abs=1e-4)
        assert s.i_recorded is not None  # second channel, nA converted to pA
        assert np.max(s.i_recorded) > 1000


def test_ramp(ephys_data):
    rec = patchatlas.read(ephys_data / "abf_pyabf/17o05027_ic_ramp.abf")
    assert len(rec) == 2
    s = rec[1]
    assert s.stimulus.kind is StimulusKind.RAMP
    assert s.stimulus.start == pytest.approx(0.016, abs=1e-3)
    assert s.stimulus.end == pytest.approx(0.981, abs=1e-3)
    ramp = next(e for e in s.stimulus.epochs if e.kind == "ramp")
    assert ramp.slope == pytest.approx(ramp.amplitude / (ramp.end - ramp.start), rel=1e-3)
    assert np.max(s.v) > 0  # spikes to +31 mV


IGOR = [("B6", [181, 182, 183, 184, 185]), ("B8", [145, 146, 147, 148, 149])]


@pytest.mark.parametrize(("cell", "numbers"), IGOR)
def test_igor_folder(ephys_data, cell, numbers):
    rec = patchatlas.read(ephys_data / "ibw_bluepyefe" / cell)
    assert rec.sweep_numbers == numbers
    for s, amp in zip(rec, [50, 75, 100, 125, 150], strict=True):
        assert s.sampling_rate == pytest.approx(4000.0)
        assert s.n_samples == 12000
        assert s.stimulus.kind is StimulusKind.LONG_SQUARE
        assert s.stimulus.amplitude == amp  # from the wave note (P0AMP3)
        assert (s.stimulus.start, s.stimulus.end) == pytest.approx((0.7, 2.7))
        assert s.stimulus.source == "note"
    measured = [s.metadata["measured_amplitude_pa"] for s in rec]
    # the current wave's step grows with the programmed amplitude, in proportion
    ratios = np.array(measured) / np.array([50, 75, 100, 125, 150])
    assert np.all(np.diff(measured) > 0) and np.ptp(ratios) < 0.1 * ratios.mean()


def test_single_igor_wave_pairs_with_current(ephys_data):
    rec = patchatlas.read(ephys_data / "ibw_bluepyefe/B95_Ch3_IDRest_107.ibw")
    (s,) = rec.sweeps
    assert s.number == 107 and s.i is not None
    assert s.metadata["current_wave"] == "B95_Ch0_IDRest_107.ibw"
    assert s.stimulus.amplitude == 75 and s.stimulus.start == pytest.approx(0.7)
    # reading the current wave gives the same sweep
    rec2 = patchatlas.read(ephys_data / "ibw_bluepyefe/B95_Ch0_IDRest_107.ibw")
    np.testing.assert_array_equal(rec2[0].v, s.v)


TEXT = [
    # file, n samples, rate, t0, uniform
    ("text_efel/testdata.txt", 12000, 4000.0, 0.0, True),
    ("text_efel/init_burst1.txt", None, 10000.0, 0.0, True),
    ("text_efel/zero_ISI_log_slope_skip95824004.abf.csv", None, 10000.0, 0.0, True),
    ("text_allensdk/spike_test_pair.txt", 4000, 200000.0, 1.03, True),
    ("text_allensdk/spike_test_high_init_dvdt.txt", 28000, 200000.0, 1.0, True),
    ("text_allensdk/spike_test_var_dt.txt", 911, None, 0.9507, False),
]


@pytest.mark.parametrize(("rel", "n", "fs", "t0", "uniform"), TEXT, ids=[t[0] for t in TEXT])
def test_text_traces(ephys_data, rel, n, fs, t0, uniform):
    rec = patchatlas.read(ephys_data / rel)
    (s,) = rec.sweeps
    if n is not None:
        assert s.n_samples == n
    if fs is not None:
        assert s.sampling_rate == pytest.approx(fs, rel=1e-4)
    assert s.t[0] == pytest.approx(t0, abs=1e-4)
    assert s.uniform is uniform
    assert np.all(np.diff(s.t) >= 0)
    assert -100 < float(np.median(s.v)) < -20  # mV
    assert s.i is None and s.stimulus.kind is StimulusKind.UNKNOWN


def test_text_with_current(ephys_data):
    """eFEL's current.txt: t (s), I (pA), V (mV); a ~125 pA step at 0.7-2.7 s."""
    rec = patchatlas.read(ephys_data / "text_efel/current.txt")
    s = rec[0]
    assert s.sampling_rate == pytest.approx(4000.0)
    assert s.stimulus.kind is StimulusKind.LONG_SQUARE
    assert s.stimulus.start == pytest.approx(0.7, abs=2e-3)
    assert s.stimulus.end == pytest.approx(2.7, abs=2e-3)
    assert s.stimulus.amplitude == pytest.approx(125, abs=10)
    assert float(np.median(s.v[: s.index_of(0.5)])) < -60  # column 3 is the voltage (rest)


def test_text_user_window(ephys_data):
    rec = patchatlas.read(ephys_data / "text_efel/testdata.txt", stim_start=0.7, stim_end=2.7)
    st = rec[0].stimulus
    assert (st.start, st.end, st.source) == (0.7, 2.7, "user")


def test_abf_voltage_is_zero_copy(ephys_data):
    rec = patchatlas.read(ephys_data / "abf_pyabf/File_axon_5.abf")
    assert rec[0].v.base is not None and rec[1].v.base is rec[0].v.base
