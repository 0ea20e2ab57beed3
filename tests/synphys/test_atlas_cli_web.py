"""The synphys engine through the pipeline into the atlas, the importer, the CLI and the portal."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from patchatlas.atlas import Atlas
from patchatlas.atlas import synphys as SA
from patchatlas.cli.main import cli as main
from tests.synphys.aisynphys_db import build_aisynphys_db


def test_ingested_experiment(sim_atlas: str, simulated: tuple) -> None:
    from patchatlas.pipeline import ingest

    with Atlas(sim_atlas, mode="r") as atlas:
        ex = SA.experiments(atlas)
        assert ex[["name", "ingest_name", "n_pairs", "n_connected"]].values.tolist() == [
            ["sim_multipatch", "sim", 12, 3]
        ]
        pairs = SA.synphys_pairs(atlas)
        conn = pairs[pairs["connected"].fillna(False)]
        got = {(r.pre_cell.split("/")[1], r.post_cell.split("/")[1], r.synapse_type)
               for r in conn.itertuples()}  # fmt: skip
        truth = simulated[1]
        assert got == {(r.pre, r.post, r.synapse_type) for r in truth[truth.connected].itertuples()}
        assert (conn["call_source"] == "auto").all() and (pairs["status"] == "analysed").all()
        assert pairs["lateral_distance_um"].notna().all() and (pairs["n_ex_test_spikes"] > 0).all()
        assert set(pairs["pre_subclass"]) == {"pyr", "pv"}
        det = SA.pair_detail(atlas, int(conn["pair_id"].iloc[0]))
        assert {"average:ic_70", "resting:ic", "stp"} <= set(det["traces"])
        meas = det["measurements"].set_index("name")
        assert meas.loc["latency", "unit"] == "s" and meas.loc["psp_amplitude", "unit"] == "mV"
        avg = det["traces"]["average:ic_70"]
        assert len(avg["t"]) == len(avg["y"]) == len(avg["fit_curve"]) and avg["fit"]["nrmse"] < 1
        # the portal's pair table sees them too
        from patchatlas.atlas import portal as Q

        assert len(Q.connections(atlas)) == 12
    again = ingest(Path(sim_atlas.replace("sqlite:///", "")).parent / "data", sim_atlas,
                   engines=["synphys"])  # fmt: skip
    assert again.skipped == 1 and again.done == 0  # content key unchanged: resumable


def test_connection_matrices_and_aisynphys_into_an_atlas(tmp_path: Path,
                                                         synphys_data: Path) -> None:  # fmt: skip
    from patchatlas.pipeline import ingest
    from patchatlas.pipeline.synphys import import_aisynphys

    folder = tmp_path / "dentate"
    folder.mkdir()
    for f in sorted((synphys_data / "dentate_pv_gc_connectivity").glob("2_1704*"))[:6]:
        shutil.copy(f, folder / f.name)
    url = f"sqlite:///{tmp_path / 'a.db'}"
    Atlas(url, mode="w").close()
    summary = ingest(folder, url, engines=["synphys"])
    assert summary.done == 3 and summary.failed == 0
    psp = sorted((synphys_data / "allen_multipatch_avg_psp").glob("*.json"))[0]
    build_aisynphys_db(tmp_path / "r.sqlite", psp)
    with Atlas(url) as atlas:
        assert import_aisynphys(tmp_path / "r.sqlite", atlas) == 2
        pairs = SA.synphys_pairs(atlas)
    pub = pairs[pairs["call_source"] == "published"]
    assert len(pub) and (pub["status"] == "calls only").all()
    assert set(pub["pre_subclass"]) == {"PV", "GC"}
    ais = pairs[pairs["call_source"] == "aisynphys"]
    assert len(ais) == 4 and ais["n_ex_test_spikes"].notna().all()
    with Atlas(url, mode="r") as atlas:
        row = ais[ais["synapse_type"] == "ex"].iloc[0]
        det = SA.pair_detail(atlas, int(row["pair_id"]))
        assert "average:ic_70" in det["traces"]
        assert det["measurements"].set_index("name").loc["psp_rise_time", "unit"] == "s"


def test_cli_connectivity_and_fit(tmp_path: Path, synphys_data: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "conn"
    r = runner.invoke(main, ["synphys", "connectivity",
                             str(synphys_data / "dentate_pv_gc_connectivity"),
                             "--classes", "PV,GC", "--out", str(out), "--no-figures"])  # fmt: skip
    assert r.exit_code == 0, r.output
    m = pd.read_csv(out / "matrix.csv").set_index(["pre", "post"])
    assert m.loc[("PV", "GC"), "n_connected"] == 318 and m.loc[("GC", "PV"), "n_tested"] == 1285
    prof = pd.read_csv(out / "profiles.csv")
    assert set(prof["pre"]) == {"PV", "GC"} and (prof["median_distance_um"] > 0).all()
    files = sorted((synphys_data / "allen_multipatch_avg_psp").glob("*.json"))[:2]
    r = runner.invoke(main, ["synphys", "fit", *map(str, files), "--onset-ms", "0", "25",
                             "--out", str(tmp_path / "fits.csv")])  # fmt: skip
    assert r.exit_code == 0, r.output
    fits = pd.read_csv(tmp_path / "fits.csv")
    assert len(fits) == 2 and (fits["amp_mV"] > 0).all()
    r = runner.invoke(main, ["synphys", "fit", str(tmp_path / "fits.csv")])
    assert r.exit_code == 1 and "failed" in r.output  # a table that is not a response


def test_cli_simulate_and_import(tmp_path: Path, synphys_data: Path) -> None:
    runner = CliRunner()
    r = runner.invoke(main, ["synphys", "simulate", str(tmp_path / "sim"), "--sweeps", "1"])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "sim.mpx").is_file() and (tmp_path / "sim.truth.csv").is_file()
    psp = sorted((synphys_data / "allen_multipatch_avg_psp").glob("*.json"))[0]
    build_aisynphys_db(tmp_path / "r.sqlite", psp)
    url = f"sqlite:///{tmp_path / 'b.db'}"
    Atlas(url, mode="w").close()
    r = runner.invoke(main, ["synphys", "import-aisynphys", str(tmp_path / "r.sqlite"),
                             "--atlas", url])  # fmt: skip
    assert r.exit_code == 0, r.output
    with Atlas(url, mode="r") as atlas:
        assert len(SA.experiments(atlas)) == 2


def test_portal_pair_page_and_profile(sim_atlas: str) -> None:
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from patchatlas.web import create_app

    client = TestClient(create_app(sim_atlas))
    prof = client.get("/api/connectivity/profile").json()
    assert prof["profiles"][0]["pre"] == "all" and prof["profiles"][0]["n_connected"] == 3
    first = prof["profiles"][0]
    assert first["ci_low"] <= first["p_max"] <= first["ci_high"]
    assert len(first["curve"]["x"]) == len(first["curve"]["y"])
    pairs = client.get("/api/pairs", params={"connected": True}).json()["items"]
    assert len(pairs) == 3
    d = client.get(f"/api/pairs/{pairs[0]['pair_id']}/traces").json()
    assert d["pair"]["connected"] is True and "stp" in d["traces"]
    assert any(m["name"] == "tm_U" for m in d["measurements"])
    page = client.get(f"/pairs/{pairs[0]['pair_id']}")
    assert page.status_code == 200 and "pair.js" in page.text
    assert client.get("/api/pairs/99999/traces").status_code == 404
    assert client.get("/connectivity").status_code == 200
