"""NWB 1 in the Allen Cell Types Database download layout.

No Allen ``*_ephys.nwb`` can be downloaded here, so these tests WRITE a small file in that exact
layout with h5py (``tests/io/allen_nwb1.py``) from real traces (pyABF sample recordings, a MIES
voltage-clamp test pulse) and real Allen sweep-table fields (sweep numbers, stimulus names and
amplitudes of specimen 464198958), in both pipeline-version cases: >= 1.1 (``data x conversion``
is SI) and older (SI values stored as is, with wrong ``conversion`` attributes), then read it back.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from allen_nwb1 import AllenSweep, allen_sweeps, write_allen_nwb1

import patchatlas
from patchatlas.ephys import ClampMode, StimulusKind
from patchatlas.io.nwb import sniff_nwb


@pytest.fixture(scope="module")
def sweeps(ephys_data: Path) -> list[AllenSweep]:
    return allen_sweeps(ephys_data)


@pytest.fixture(scope="module", params=["1.1", "1.0"])
def allen_file(
    request: pytest.FixtureRequest,
    sweeps: list[AllenSweep],
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[str, Path]:
    version = request.param
    path = tmp_path_factory.mktemp("allen") / f"allen_v{version}.nwb"
    return version, write_allen_nwb1(path, sweeps, version=version)


def test_sniff_allen_layout(allen_file: tuple[str, Path]) -> None:
    _, path = allen_file
    assert sniff_nwb(path) == ("NWB-1.0.5", "nwb1-allen")


def test_allen_sweeps_traces_and_units(
    allen_file: tuple[str, Path], sweeps: list[AllenSweep]
) -> None:
    version, path = allen_file
    rec = patchatlas.read(path)
    assert rec.format == "nwb1-allen"
    assert rec.metadata["allen_pipeline_version"] == version
    assert rec.metadata["conversion_applied"] is (version == "1.1")
    assert rec.metadata["species"] == "Mus musculus"
    assert rec.sweep_numbers == [s.number for s in sweeps]
    for want in sweeps:
        got = rec.sweep(want.number)
        n = want.valid_end if want.valid_end is not None else want.v.shape[0]
        assert got.n_samples == n
        assert got.sampling_rate == pytest.approx(want.rate)
        # float32 storage (and SI scaling in the old layout) costs ~1e-7 relative
        np.testing.assert_allclose(got.v, want.v[:n], rtol=1e-6, atol=1e-4)
        assert got.i is not None
        np.testing.assert_allclose(got.i, want.i[:n], rtol=1e-6, atol=1e-3)
        expected_mode = ClampMode.VOLTAGE_CLAMP if want.voltage_clamp else ClampMode.CURRENT_CLAMP
        assert got.clamp_mode is expected_mode
        assert got.stimulus.name == want.name
        assert got.metadata["aibs_stimulus_amplitude_pa"] == pytest.approx(want.amplitude_pa)
        assert got.metadata["seal"] == pytest.approx(2.1)
        if not want.voltage_clamp:
            np.testing.assert_allclose(got.metadata["allen_spike_times"], want.spike_times)


def test_allen_experiment_epoch_cuts_the_ramp(allen_file: tuple[str, Path]) -> None:
    _, path = allen_file
    rec = patchatlas.read(path)
    ramp = rec.select(kind="ramp")
    assert len(ramp) == 1
    s = ramp[0]
    assert s.duration == pytest.approx(0.6)
    assert s.metadata["sweep_samples"] > s.n_samples
    assert s.metadata["experiment_end_index"] == s.n_samples


def test_allen_stimulus_kinds_amplitudes_windows(allen_file: tuple[str, Path]) -> None:
    _, path = allen_file
    rec = patchatlas.read(path)
    longs = rec.select(kind="long_square")
    # six step sweeps from 17o05028: -50 + 10 n pA at 0.147-0.647 s
    assert [s.stimulus.amplitude for s in longs] == [-50.0 + 10 * k for k in range(6)]
    for s in longs:
        assert s.stimulus.start == pytest.approx(0.147, abs=1e-3)
        assert s.stimulus.end == pytest.approx(0.647, abs=1e-3)
    short = rec.select(kind=StimulusKind.SHORT_SQUARE)
    assert len(short) == 1 and short[0].stimulus.amplitude == pytest.approx(2000.0)
    assert short[0].stimulus.duration == pytest.approx(0.002, abs=1e-4)
    test = rec.select(clamp_mode="voltage_clamp")
    assert len(test) == 1 and test[0].stimulus.name == "Test"


def test_allen_versions_read_the_same(sweeps: list[AllenSweep], tmp_path: Path) -> None:
    new = patchatlas.read(write_allen_nwb1(tmp_path / "new.nwb", sweeps, version="1.1"))
    old = patchatlas.read(write_allen_nwb1(tmp_path / "old.nwb", sweeps, version="1.0"))
    for a, b in zip(new.sweeps, old.sweeps, strict=True):
        np.testing.assert_allclose(a.v, b.v, rtol=1e-6, atol=1e-4)
        assert a.stimulus.kind == b.stimulus.kind
        assert a.stimulus.amplitude == pytest.approx(b.stimulus.amplitude, abs=1e-2, nan_ok=True)


def test_old_layout_read_with_conversion_would_be_wrong(
    sweeps: list[AllenSweep], tmp_path: Path
) -> None:
    """Guard the version rule: an old file's stored values are already SI."""
    import h5py

    path = write_allen_nwb1(tmp_path / "old.nwb", sweeps, version="1.0")
    with h5py.File(path, "r") as f:
        raw = f["acquisition/timeseries/Sweep_20/data"][:5]
    rec = patchatlas.read(path)
    np.testing.assert_allclose(rec.sweep(20).v[:5], raw * 1e3, rtol=1e-6)
