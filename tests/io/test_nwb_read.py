"""NWB readers on the real files in ../shared/data/ephys/{nwb,nwb_mies}."""

from __future__ import annotations

import builtins
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import patchatlas
from patchatlas.ephys import ClampMode, StimulusKind, StimulusOntology
from patchatlas.errors import CorruptFileError, ReadError, UnsupportedFormatError
from patchatlas.io import load_stimulus_ontology
from patchatlas.io import nwb as nwb_mod
from patchatlas.io.nwb import sniff_nwb

ICEPHYS = "nwb/bluepyefe_hippocampus-portal_99111002.nwb"
LEGACY = "nwb_mies/valid_v2_MIES-NWBv2-0655f7e4.nwb"
MIES1 = ("nwb_mies/Sst-IRES-CreAi14-395722.01.01.01.nwb", "nwb_mies/H18.03.315.11.11.01.05.nwb")


@pytest.fixture(scope="module")
def ontology(ephys_data: Path) -> StimulusOntology:
    return load_stimulus_ontology(ephys_data / "allen_metadata/ipfx_stimulus_ontology.json")


# ------------------------------------------------------------------ ontology


def test_ontology_maps_codes_to_names_and_kinds(
    ontology: StimulusOntology, ephys_data: Path
) -> None:
    raw = json.loads((ephys_data / "allen_metadata/ipfx_stimulus_ontology.json").read_text())
    assert len(raw) == 167
    assert ontology.name("C1LSCOARSE150216[0]") == "Long Square"
    assert ontology.kind("C1LSCOARSE150216[0]") is StimulusKind.LONG_SQUARE
    assert ontology.name("EXTPSMOKET180424_DA_0") == "Test"
    # every code of every entry maps to that entry's name
    for entry in raw[:40]:
        tags = {t[0]: t[1:] for t in entry}
        for code in tags["code"]:
            assert ontology.name(code) == tags["name"][0]


def test_ontology_bad_files(tmp_path: Path) -> None:
    bad = tmp_path / "o.json"
    bad.write_text("{not json")
    with pytest.raises(CorruptFileError, match="not valid JSON"):
        load_stimulus_ontology(bad)
    bad.write_text('{"a": 1}')
    with pytest.raises(CorruptFileError, match="list of ontology entries"):
        load_stimulus_ontology(bad)
    bad.write_text('[[["code", 5]]]')
    with pytest.raises(CorruptFileError, match="not lists"):
        load_stimulus_ontology(bad)


# ------------------------------------------------------------------ NWB 2 icephys tables


def test_icephys_tables_file(ephys_data: Path) -> None:
    rec = patchatlas.read(ephys_data / ICEPHYS)
    assert rec.format == "nwb2"
    assert rec.metadata["nwb_version"] == "2.4.0"
    assert rec.metadata["species"] == "Rattus norvegicus"
    assert rec.metadata["institution"] == "University College London"
    assert len(rec) == 16
    assert rec.sweep_numbers == list(range(1, 17))
    amps = [s.stimulus.amplitude for s in rec]
    assert amps == [-2000.0 + 200.0 * k for k in range(16)]
    for s in rec:
        assert s.clamp_mode is ClampMode.CURRENT_CLAMP
        assert s.stimulus.kind is StimulusKind.LONG_SQUARE
        assert s.stimulus.start == pytest.approx(0.031, abs=1e-3)
        assert s.stimulus.end == pytest.approx(0.431, abs=1e-3)
        assert s.sampling_rate == 10000.0
        assert s.duration == pytest.approx(0.7168)
        assert s.t0 == 0.0
        assert s.stimulus.name == "Step"
        # grouping rows of the table hierarchy are kept
        ice = s.metadata["icephys"]
        assert ice["stimulus_type"] == "Step"
        assert ice["sequential_id"] == 1 and ice["repetition_id"] == 1
        assert ice["condition_id"] == 1
        assert ice["recording_id"] == s.number
    # session clock kept: the sweeps were recorded 2 s apart
    starts = [s.metadata["starting_time"] for s in rec]
    assert starts == [2.0 * k for k in range(16)]


def test_icephys_units_are_converted(ephys_data: Path) -> None:
    import h5py

    rec = patchatlas.read(ephys_data / ICEPHYS)
    with h5py.File(ephys_data / ICEPHYS, "r") as f:
        raw_v = f["acquisition/ic__Step__1/data"][:]
        conv_v = f["acquisition/ic__Step__1/data"].attrs["conversion"]
        raw_i = f["stimulus/presentation/ics__Step__1/data"][:]
        conv_i = f["stimulus/presentation/ics__Step__1/data"].attrs["conversion"]
    s = rec.sweep(1)
    np.testing.assert_allclose(s.v, raw_v * conv_v * 1e3, rtol=1e-6)
    assert s.i is not None
    np.testing.assert_allclose(s.i, raw_i * conv_i * 1e12, rtol=1e-9)


# ------------------------------------------------------------------ NWB 2 legacy (MIES)


def test_legacy_sweep_table_file(ephys_data: Path, ontology: StimulusOntology) -> None:
    path = ephys_data / LEGACY
    assert sniff_nwb(path) == ("NWB-2.2.0", "nwb2")
    rec = patchatlas.read(path, ontology=ontology)
    assert rec.format == "nwb2-legacy"
    assert rec.sweep_numbers == [0]
    s = rec.sweeps[0]
    assert s.clamp_mode is ClampMode.VOLTAGE_CLAMP
    assert s.sampling_rate == 200000.0
    assert s.n_samples == 188001
    # command in mV (a 10 mV test pulse), response in pA
    assert float(np.max(s.v)) == pytest.approx(10.0, abs=1e-3)
    assert float(np.min(s.v)) == pytest.approx(0.0, abs=1e-3)
    assert s.i is not None and 10.0 < float(np.median(s.i)) < 30.0
    assert s.metadata["stimulus_code"] == "StimulusSetA_DA_0"
    assert s.stimulus.name == "StimulusSetA"  # not an Allen code: MIES suffix stripped
    assert s.metadata["electrode"] == "electrode_0"
    assert s.metadata["starting_time"] == pytest.approx(3609.377, abs=1e-3)
    lbn = s.metadata["labnotebook"]
    assert lbn["Stim Scale Factor"] == 1.0
    assert lbn["Stim Wave Name"] == "StimulusSetA_DA_0"
    assert lbn["AD unit"] == "pA" and lbn["DA unit"] == "mV"


def test_legacy_h5py_fallback_matches_pynwb(
    ephys_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = ephys_data / LEGACY
    ref = patchatlas.read(path)

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("pretend pynwb rejects the deprecated SweepTable")

    monkeypatch.setattr(nwb_mod, "_table_pairs", broken)
    monkeypatch.setattr(nwb_mod, "_legacy_pairs_pynwb", broken)
    got = patchatlas.read(path)
    assert got.format == "nwb2-legacy"
    assert got.sweep_numbers == ref.sweep_numbers
    np.testing.assert_array_equal(got.sweeps[0].v, ref.sweeps[0].v)
    assert got.sweeps[0].i is not None and ref.sweeps[0].i is not None
    np.testing.assert_array_equal(got.sweeps[0].i, ref.sweeps[0].i)
    assert got.sweeps[0].metadata["stimulus_code"] == "StimulusSetA_DA_0"


# ------------------------------------------------------------------ NWB 1 (MIES)


@pytest.mark.parametrize("name", MIES1)
def test_mies_nwb1(ephys_data: Path, name: str, ontology: StimulusOntology) -> None:
    path = ephys_data / name
    assert sniff_nwb(path) == ("NWB-1.0.5", "nwb1-mies")
    rec = patchatlas.read(path, ontology=ontology)
    assert rec.format == "nwb1-mies"
    assert rec.metadata["generated_by"]["Package"] == "MIES"
    assert rec.sweep_numbers == [0]
    s = rec.sweeps[0]
    assert s.clamp_mode is ClampMode.VOLTAGE_CLAMP
    assert s.sampling_rate == 200000.0 and s.n_samples == 66000
    assert float(np.max(s.v)) == pytest.approx(10.0, abs=1e-3)  # "TP Amplitude VC: 10.00" mV
    assert s.i is not None and 500.0 < float(np.max(np.abs(s.i))) < 5000.0  # pA transients
    # the stimulus code maps to its Allen name through the ontology
    assert s.metadata["stimulus_code"] == "EXTPSMOKET180424_DA_0"
    assert s.stimulus.name == "Test"
    lbn = s.metadata["labnotebook"]
    assert lbn["Stim Wave Name"] == "EXTPSMOKET180424_DA_0"
    assert s.metadata["stim_scale_factor"] == 1.0
    assert s.metadata["capacitance_fast"] > 0


def test_mies_nwb1_without_ontology_keeps_the_code(ephys_data: Path) -> None:
    s = patchatlas.read(ephys_data / MIES1[0]).sweeps[0]
    assert s.stimulus.name == "EXTPSMOKET180424"


def test_ontology_path_accepted(ephys_data: Path) -> None:
    onto = ephys_data / "allen_metadata/ipfx_stimulus_ontology.json"
    s = patchatlas.read(ephys_data / MIES1[1], ontology=onto).sweeps[0]
    assert s.stimulus.name == "Test"


# ------------------------------------------------------------------ errors


def test_not_hdf5(tmp_path: Path) -> None:
    p = tmp_path / "x.nwb"
    p.write_bytes(b"hello world, not an HDF5 file")
    with pytest.raises(UnsupportedFormatError, match="not an HDF5 file"):
        patchatlas.read(p)


def test_hdf5_but_not_nwb(tmp_path: Path) -> None:
    import h5py

    p = tmp_path / "x.nwb"
    with h5py.File(p, "w") as f:
        f.create_dataset("a", data=[1, 2, 3])
    with pytest.raises(UnsupportedFormatError, match="not NWB"):
        patchatlas.read(p)


def test_unknown_electrode(ephys_data: Path) -> None:
    with pytest.raises(ReadError, match="no electrode 'nope'"):
        patchatlas.read(ephys_data / MIES1[0], electrode="nope")


def test_truncated_nwb(ephys_data: Path, tmp_path: Path) -> None:
    data = (ephys_data / ICEPHYS).read_bytes()
    p = tmp_path / "t.nwb"
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptFileError) as info:
        patchatlas.read(p)
    assert str(p) in str(info.value)


def test_without_pynwb(ephys_data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_pynwb(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "pynwb" or name.startswith("pynwb."):
            raise ImportError("No module named 'pynwb'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pynwb)
    with pytest.raises(ReadError, match=r"patchatlas\[nwb\]"):
        patchatlas.read(ephys_data / ICEPHYS)
    # NWB 1 needs only h5py
    assert len(patchatlas.read(ephys_data / MIES1[0])) == 1


def _plain_nwb2(path: Path) -> Path:
    """NWB 2 without icephys tables: two electrodes, plus a non-clamp series (temperature)."""
    from datetime import UTC, datetime

    from pynwb import NWBHDF5IO, NWBFile, TimeSeries
    from pynwb.icephys import CurrentClampSeries, CurrentClampStimulusSeries

    nwb = NWBFile("plain", "plain-1", datetime(2020, 1, 1, tzinfo=UTC))
    dev = nwb.create_device(name="amp")
    els = [nwb.create_icephys_electrode(name=f"hs{k}", description="", device=dev) for k in (0, 1)]
    cmd = np.zeros(2000)
    cmd[500:1500] = 0.1  # nA
    for sweep in (3, 4):
        for k, el in enumerate(els):
            kw = {"rate": 10000.0, "electrode": el, "gain": 1.0, "sweep_number": np.uint32(sweep)}
            nwb.add_acquisition(
                CurrentClampSeries(
                    name=f"v_{sweep}_{k}", data=np.full(2000, -0.07 + 0.01 * k), **kw
                )
            )
            nwb.add_stimulus(
                CurrentClampStimulusSeries(
                    name=f"i_{sweep}_{k}", data=cmd * (sweep + k), conversion=1e-9, **kw
                )
            )
    nwb.add_acquisition(TimeSeries(name="temperature", data=np.ones(10), unit="C", rate=1.0))
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)
    return path


def test_plain_nwb2_electrodes_and_non_clamp_series(tmp_path: Path) -> None:
    path = _plain_nwb2(tmp_path / "plain.nwb")
    rec = patchatlas.read(path)
    assert rec.format == "nwb2-legacy"
    assert rec.metadata["electrodes"] == ["hs0", "hs1"]
    assert rec.sweep_numbers == [3, 4]  # the temperature series is not a sweep
    assert [s.stimulus.amplitude for s in rec] == [300.0, 400.0]
    assert float(rec.sweeps[0].v[0]) == pytest.approx(-70.0)
    other = patchatlas.read(path, electrode="hs1")
    assert [s.stimulus.amplitude for s in other] == [400.0, 500.0]
    assert float(other.sweeps[0].v[0]) == pytest.approx(-60.0)
    for s in other:
        assert s.stimulus.kind is StimulusKind.LONG_SQUARE
        assert (s.stimulus.start, s.stimulus.end) == (0.05, 0.15)


def _same(eager: Any, lazy: Any) -> int:
    assert lazy.sweep_numbers == eager.sweep_numbers
    mapped = 0
    for a, b in zip(eager.sweeps, lazy.sweeps, strict=True):
        assert not isinstance(a.v, np.memmap)
        mapped += isinstance(b.v, np.memmap) + isinstance(b.i, np.memmap)
        np.testing.assert_array_equal(a.v, b.v)
        assert a.i is not None and b.i is not None
        np.testing.assert_array_equal(a.i, b.i)
        assert a.stimulus == b.stimulus
    return mapped


@pytest.mark.parametrize("name", [ICEPHYS, LEGACY, MIES1[0]])
def test_lazy_read_of_compressed_files_reads(ephys_data: Path, name: str) -> None:
    # these files are gzip-compressed: nothing can be mapped, lazy=True reads as usual
    assert (
        _same(patchatlas.read(ephys_data / name), patchatlas.read(ephys_data / name, lazy=True))
        == 0
    )


def test_lazy_read_maps_uncompressed_traces(ephys_data: Path, tmp_path: Path) -> None:
    from patchatlas.io import write_nwb

    rec = patchatlas.read(ephys_data / "abf_pyabf/17o05028_ic_steps.abf")
    path = write_nwb(rec, tmp_path / "w.nwb")
    # stored in mV / pA with conversion 1e-3 / 1e-12: no scaling, so v and i are both mapped
    assert _same(patchatlas.read(path), patchatlas.read(path, lazy=True)) == 2 * len(rec)
