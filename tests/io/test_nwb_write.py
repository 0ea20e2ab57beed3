"""NWB 2 export (write_nwb) and round trips through the reader."""

from __future__ import annotations

import math
from pathlib import Path

import h5py
import numpy as np
import pytest

import patchatlas
from patchatlas.ephys import ClampMode, Recording, Stimulus, StimulusKind, Sweep
from patchatlas.errors import WriteError
from patchatlas.io import write_nwb


def _same_stimulus(a: Stimulus, b: Stimulus) -> None:
    assert a.kind is b.kind
    for x, y in ((a.amplitude, b.amplitude), (a.start, b.start), (a.end, b.end)):
        assert (math.isnan(x) and math.isnan(y)) or x == y
    assert a.name == b.name


def _assert_round_trip(rec: Recording, back: Recording) -> None:
    assert back.cell_id == rec.cell_id
    assert back.sweep_numbers == rec.sweep_numbers
    for a, b in zip(rec.sweeps, back.sweeps, strict=True):
        assert b.clamp_mode is a.clamp_mode
        assert b.sampling_rate == pytest.approx(a.sampling_rate, rel=1e-9)
        assert b.t0 == a.t0
        np.testing.assert_allclose(b.v, a.v, rtol=1e-6, equal_nan=True)
        if a.i is None:
            assert b.i is None
        else:
            assert b.i is not None
            np.testing.assert_allclose(b.i, a.i, rtol=1e-6, atol=1e-9)
        _same_stimulus(a.stimulus, b.stimulus)
        if a.time is not None:
            assert b.time is not None
            np.testing.assert_allclose(b.time, a.time, rtol=0, atol=1e-12)


def test_round_trip_abf(ephys_data: Path, tmp_path: Path) -> None:
    rec = patchatlas.read(ephys_data / "abf_pyabf/17o05028_ic_steps.abf")
    out = write_nwb(rec, tmp_path / "steps.nwb")
    back = patchatlas.read(out)
    assert back.format == "nwb2"
    _assert_round_trip(rec, back)
    # values are stored in library units, so float32 traces come back bit-identical
    np.testing.assert_array_equal(back.sweeps[3].v, rec.sweeps[3].v)
    assert back.metadata["protocol"] == rec.metadata["protocol"]
    assert back.sweeps[0].metadata["protocol"] == rec.sweeps[0].metadata["protocol"]


def test_round_trip_real_nwb2(ephys_data: Path, tmp_path: Path) -> None:
    rec = patchatlas.read(ephys_data / "nwb/bluepyefe_hippocampus-portal_99111002.nwb")
    back = patchatlas.read(write_nwb(rec, tmp_path / "copy.nwb"))
    _assert_round_trip(rec, back)
    assert back.metadata["species"] == "Rattus norvegicus"
    assert back.metadata["institution"] == "University College London"
    for a, b in zip(rec.sweeps, back.sweeps, strict=True):
        # where the sweep sits in the new file, not in the file it came from
        assert b.metadata["response_series"] == f"sweep_{a.number:05d}"
        assert b.metadata["icephys"]["stimulus_type"] == "long_square"
        assert a.metadata["icephys"]["stimulus_type"] == "Step"
        # everything else comes back as stored
        assert b.metadata["gain"] == a.metadata["gain"]
        assert b.metadata["starting_time"] == a.metadata["starting_time"]
        assert b.metadata["stimulus_code"] == a.metadata["stimulus_code"]


def test_written_icephys_tables(ephys_data: Path, tmp_path: Path) -> None:
    rec = patchatlas.read(ephys_data / "abf_pyabf/17o05028_ic_steps.abf")
    # make two stimulus kinds so that the sequential table has two rows
    rec.sweeps[0].stimulus = rec.sweeps[0].stimulus.with_(kind=StimulusKind.RAMP)
    out = write_nwb(rec, tmp_path / "t.nwb")
    with h5py.File(out, "r") as f:
        ice = f["general/intracellular_ephys"]
        assert ice["intracellular_recordings/id"].shape == (len(rec),)
        assert ice["simultaneous_recordings/id"].shape == (len(rec),)
        kinds = [x.decode() for x in ice["sequential_recordings/stimulus_type"][:]]
        assert kinds == ["ramp", "long_square"]
        assert ice["repetitions/id"].shape == (1,)
        assert ice["experimental_conditions/id"].shape == (1,)
        grp = f["acquisition/sweep_00003"]
        assert grp.attrs["neurodata_type"] == "CurrentClampSeries"
        assert f["stimulus/presentation/sweep_00003_stimulus"].attrs["neurodata_type"] == (
            "CurrentClampStimulusSeries"
        )
    back = patchatlas.read(out)
    assert back.sweeps[0].metadata["icephys"]["stimulus_type"] == "ramp"
    assert back.sweeps[0].stimulus.kind is StimulusKind.RAMP


def _synthetic() -> Recording:
    rate = 10000.0
    n = 5000
    i = np.zeros(n)
    i[1000:3000] = 150.0
    v = (-70.0 + 0.05 * i + np.sin(np.arange(n) / 50.0)).astype(np.float64)
    cc = Sweep(
        v=v,
        i=i,
        sampling_rate=rate,
        number=7,
        stimulus=Stimulus(StimulusKind.LONG_SQUARE, 150.0, 0.1, 0.3, name="my step", source="user"),
        metadata={"temperature": 32.5, "tags": ["a", "b"], "array": np.arange(3)},
    )
    vc_i = np.random.default_rng(0).normal(0, 5, n)
    vc = Sweep(
        v=np.full(n, -70.0),
        i=vc_i,
        sampling_rate=rate,
        number=8,
        clamp_mode=ClampMode.VOLTAGE_CLAMP,
    )
    t = np.cumsum(np.r_[0.0, np.full(99, 1e-4), np.full(100, 2e-4)]) + 0.5
    nonuni = Sweep(
        v=np.linspace(-70, -60, 200), i=None, sampling_rate=5e3, number=9, t0=0.5, time=t
    )
    noi = Sweep(v=v.copy(), i=None, sampling_rate=rate, number=10)
    return Recording(
        [cc, vc, nonuni, noi],
        cell_id="cell-42",
        metadata={
            "species": "Mus musculus",
            "subject": {"subject_id": "m1"},
            "session_start_time": "2020-01-02T03:04:05+00:00",
            "experimenter": ["A. B."],
            "custom": {"x": 1},
        },
    )


def test_round_trip_synthetic_modes(tmp_path: Path) -> None:
    rec = _synthetic()
    back = patchatlas.read(write_nwb(rec, tmp_path / "syn.nwb"))
    _assert_round_trip(rec, back)
    a = back.sweep(7)
    assert a.stimulus.source == "user"
    assert a.metadata["temperature"] == 32.5
    assert a.metadata["tags"] == ["a", "b"]
    assert a.metadata["array"] == [0, 1, 2]
    assert back.metadata["custom"] == {"x": 1}
    assert back.metadata["subject"]["subject_id"] == "m1"
    assert back.sweep(9).time is not None


def test_overwrite_and_atomic(tmp_path: Path) -> None:
    rec = _synthetic()
    target = tmp_path / "x.nwb"
    write_nwb(rec, target)
    with pytest.raises(WriteError, match="exists"):
        write_nwb(rec, target)
    before = target.read_bytes()
    # a failing write leaves the old file untouched and no temp file behind
    bad = Recording(
        [
            Sweep(
                v=np.zeros(10),
                i=None,
                sampling_rate=10.0,
                number=1,
                clamp_mode=ClampMode.VOLTAGE_CLAMP,
            )
        ],
        cell_id="bad",
    )
    with pytest.raises(WriteError):
        write_nwb(bad, target, overwrite=True)
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.nwb"]
    write_nwb(rec, target, overwrite=True)
    assert len(patchatlas.read(target)) == 4


def test_write_errors(tmp_path: Path) -> None:
    with pytest.raises(WriteError, match="does not exist"):
        write_nwb(_synthetic(), tmp_path / "missing" / "x.nwb")
    with pytest.raises(WriteError, match="no sweeps"):
        write_nwb(Recording([], cell_id="empty"), tmp_path / "e.nwb")
