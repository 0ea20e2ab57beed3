"""Multipatch readers: the simple layout, MIES NWB 2 (written here from real traces), the
connection-matrix text format, and the aisynphys SQLite release schema (built here)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

from patchatlas.errors import CorruptFileError, ReadError, UnsupportedFormatError
from patchatlas.io.aisynphys import read_aisynphys
from patchatlas.io.connection_matrix import read_connection_matrix
from patchatlas.io.multipatch import read_experiment, read_multipatch, write_multipatch
from tests.synphys.aisynphys_db import build_aisynphys_db
from tests.synphys.mies_layout import write_mies_experiment


def test_simple_layout_roundtrip(tmp_path: Path) -> None:
    from patchatlas.core import ConnectionCall, MultipatchExperiment
    from patchatlas.datasets.demo_synphys import simulate_multipatch

    exp, _ = simulate_multipatch(sweeps_per_cell=1, seed=2)
    exp = MultipatchExperiment(
        exp.name, exp.cells, exp.sweeps, species="mouse", metadata={"rig": "A", "x": [1, 2]},
        calls=[ConnectionCall("1", "2", True, "ex")], distances_um={("1", "3"): 55.0},
    )  # fmt: skip
    path = write_multipatch(exp, tmp_path / "e.mpx")
    back = read_experiment(path)
    assert back.name == exp.name and back.species == "mouse" and back.metadata == exp.metadata
    assert [c.__dict__ for c in back.cells] == [c.__dict__ for c in exp.cells]
    assert len(back.sweeps) == len(exp.sweeps)
    for a, b in zip(exp.sweeps, back.sweeps, strict=True):
        assert a.number == b.number and a.start_time == b.start_time
        for el in a.sweeps:
            np.testing.assert_allclose(b.sweeps[el].v, a.sweeps[el].v, atol=1e-4)
            assert b.sweeps[el].sampling_rate == a.sweeps[el].sampling_rate
        for el, tr in a.trains.items():
            np.testing.assert_array_equal(b.trains[el].onsets, tr.onsets)
    assert back.calls == exp.calls and back.distances_um == exp.distances_um


def test_simple_layout_refuses_bad_files(tmp_path: Path) -> None:
    bad = tmp_path / "x.mpx"
    bad.write_bytes(b"not hdf5")
    with pytest.raises(ReadError, match="HDF5"):
        read_multipatch(bad)
    with h5py.File(tmp_path / "other.mpx", "w") as h5:
        h5.attrs["format"] = "something-else"
    with pytest.raises(ReadError, match="format"):
        read_multipatch(tmp_path / "other.mpx")
    with h5py.File(tmp_path / "new.mpx", "w") as h5:
        h5.attrs["format"] = "patchatlas-multipatch"
        h5.attrs["version"] = 99
    with pytest.raises(ReadError, match="newer"):
        read_multipatch(tmp_path / "new.mpx")
    with pytest.raises(UnsupportedFormatError):
        read_experiment(tmp_path / "x.abf")


def test_mies_nwb_from_real_traces(tmp_path: Path, synphys_data: Path) -> None:
    from patchatlas.synphys import analyze

    files = sorted((synphys_data / "allen_multipatch_avg_psp").glob("*.json"))
    psps = [files[0], files[2]]  # two pairs whose reference fit is not at a bound
    path = write_mies_experiment(tmp_path / "mies.nwb", psps)
    exp = read_experiment(path)
    assert exp.name == "mies" and exp.species == "mouse"
    assert exp.electrodes == ["0", "1", "2"] and exp.electrodes_without_cell == ["3"]
    assert len(exp.sweeps) == 14 and exp.sweeps[3].start_time == 30.0
    sw = exp.sweeps[0].sweeps["0"]
    assert sw.sampling_rate == 20_000.0 and sw.v.min() == pytest.approx(-70, abs=1)
    assert sw.i.max() == pytest.approx(1500.0, rel=1e-4)  # pA from amperes x conversion
    res = analyze(exp)
    rows = res.pairs.set_index(["pre", "post"])
    assert rows.loc[("0", "1"), "call_source"] == "manual" and bool(
        rows.loc[("0", "1"), "connected"]
    )
    # the real PSP is detected without a manual call, its amplitude recovered from 14 sweeps
    assert bool(rows.loc[("0", "2"), "connected"]) and rows.loc[("0", "2"), "synapse_type"] == "ex"
    assert rows.loc[("0", "2"), "n_ex_test_spikes"] == 14
    ref = json.loads(psps[1].read_text())["out"]["best_values"]
    fit = next(a.fit for a in res.pair("0", "2").averages if a.category == "ic_70")
    assert fit.amp == pytest.approx(ref["amp"] * 1e3, rel=0.1)
    assert fit.rise_time == pytest.approx(ref["rise_time"], rel=0.2)
    # the headstage without a cell is reported per pair; nothing else stops
    assert (rows.xs("3", level="post")["status"] == "no cell").all()
    # only headstage 0 was stimulated: the other pairs have no responses and no call
    assert rows.loc[("1", "2"), "status"] == "no usable sweeps"
    assert rows.loc[("1", "2"), "connected"] is pd.NA


def test_mies_reader_errors(tmp_path: Path) -> None:
    with h5py.File(tmp_path / "empty.nwb", "w") as h5:
        h5.create_group("acquisition")
    with pytest.raises(ReadError, match="acquisition"):
        read_experiment(tmp_path / "empty.nwb")
    with h5py.File(tmp_path / "unit.nwb", "w") as h5:
        g = h5.create_group("acquisition/data_00000_AD0")
        g.attrs["neurodata_type"] = "CurrentClampSeries"
        g.create_dataset("data", data=np.zeros(10)).attrs["unit"] = "furlongs"
        g.create_dataset("starting_time", data=0.0).attrs["rate"] = 1e4
    with pytest.raises(CorruptFileError, match="unit"):
        read_experiment(tmp_path / "unit.nwb")


def test_connection_matrix_reader(tmp_path: Path) -> None:
    (tmp_path / "2_170101_01.syn").write_text("0 1 2\n0 0 0\n3 0 0\n")
    (tmp_path / "2_170101_01.dist").write_text("0 -50 70\n50 0 20\n-70 -20 0\n")
    exp = read_connection_matrix(tmp_path / "2_170101_01.syn")
    assert [c.cell_class for c in exp.cells] == ["PV", "PV", "GC"]
    assert exp.call("1", "2").connected and not exp.call("1", "3").connected
    assert exp.call("1", "3").electrical and exp.call("3", "1").electrical  # gap: both ways
    assert exp.call("3", "1").connected and exp.distances_um[("1", "2")] == 50.0
    (tmp_path / "1_x.syn").write_text("0 1\n0\n")
    with pytest.raises(CorruptFileError, match="square"):
        read_connection_matrix(tmp_path / "1_x.syn")
    (tmp_path / "1_y.syn").write_text("0 5\n0 0\n")
    with pytest.raises(CorruptFileError, match="codes"):
        read_connection_matrix(tmp_path / "1_y.syn")


# ------------------------------------------------------------------------- aisynphys SQLite


def test_aisynphys_importer(tmp_path: Path, synphys_data: Path) -> None:
    psp = sorted((synphys_data / "allen_multipatch_avg_psp").glob("*.json"))[0]
    src = build_aisynphys_db(tmp_path / "synphys_r2.1_small.sqlite", psp)
    rel = read_aisynphys(tmp_path / "synphys_r2.1_small.sqlite")
    assert rel.schema_version == "22" and len(rel.experiments) == 2
    e1 = rel.experiments[0]
    assert e1.name == "1501101571.17" and e1.species == "mouse"
    cells = {c.electrode: c for c in e1.cells}
    assert cells["5"].position_um == pytest.approx((80.0, 0.0, 0.0))
    assert cells["1"].layer == "2/3" and cells["5"].t_type == "Pvalb Reln Itm2a"
    assert cells["5"].depth_um == pytest.approx(70.0) and cells["7"].cell_class == "ex"
    assert e1.call("1", "5").connected and e1.call("1", "5").synapse_type == "in"
    assert e1.call("5", "1").electrical and not e1.call("5", "1").connected
    assert e1.distances_um[("1", "7")] == pytest.approx(120.0)
    p = rel.pairs.set_index(["experiment", "pre", "post"])
    row = p.loc[("1501101571.17", "1", "5")]
    assert row["psp_amplitude"] == pytest.approx(-0.3) and row["psc_amplitude"] == pytest.approx(15)
    assert row["lateral_distance_um"] == pytest.approx(60.0)
    assert p.loc[("1501101571.17", "7", "1"), "stp_initial_50hz"] == pytest.approx(-0.2)
    fit = rel.avg_fits.iloc[0]
    np.testing.assert_allclose(fit["avg_data"], src["avg"] * 1e3)
    assert fit["fit_amp"] == pytest.approx(src["best"]["amp"] * 1e3)


def test_aisynphys_versions_and_corruption(tmp_path: Path, synphys_data: Path) -> None:
    psp = sorted((synphys_data / "allen_multipatch_avg_psp").glob("*.json"))[0]
    build_aisynphys_db(tmp_path / "old.sqlite", psp, version="15")
    with pytest.raises(ReadError, match="schema version '15'"):
        read_aisynphys(tmp_path / "old.sqlite")
    assert len(read_aisynphys(tmp_path / "old.sqlite", check_version=False).experiments) == 2
    (tmp_path / "x.sqlite").write_bytes(b"garbage" * 100)
    with pytest.raises(ReadError):
        read_aisynphys(tmp_path / "x.sqlite")
    con = sqlite3.connect(tmp_path / "partial.sqlite")
    con.execute("CREATE TABLE metadata (id INTEGER, meta TEXT)")
    con.execute('INSERT INTO metadata VALUES (1, \'{"db_version": "22"}\')')
    con.commit()
    con.close()
    with pytest.raises(ReadError, match="lacks the tables"):
        read_aisynphys(tmp_path / "partial.sqlite")
