"""GLIF through the access layers: io (configs), atlas (models table), pipeline (batch fits
through the executors), CLI and the portal's API, on a real recording."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from patchatlas.atlas import Atlas
from patchatlas.cli.main import cli
from patchatlas.errors import AtlasError, ReadError, WriteError
from patchatlas.io import read_glif_config, write_glif_config
from patchatlas.models.glif import GlifModel
from patchatlas.pipeline import ingest
from patchatlas.pipeline.glif import fit_atlas

CELL = "abf_pyabf/190619B_0003.abf"
CONFIG = "allen_metadata/glif_models/566283540_neuron_config.json"


def test_config_io_errors(tmp_path):
    with pytest.raises(ReadError, match="no such file"):
        read_glif_config(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    with pytest.raises(ReadError, match="not an object"):
        read_glif_config(bad)
    bad.write_text("{not json")
    with pytest.raises(ReadError, match="not a JSON file"):
        read_glif_config(bad)
    with pytest.raises(WriteError, match="does not exist"):
        write_glif_config({}, tmp_path / "nope" / "x.json")


@pytest.fixture(scope="module")
def glif_atlas(ephys_data, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("glif_atlas")
    src = tmp / "cells"
    src.mkdir()
    shutil.copy(ephys_data / CELL, src / Path(CELL).name)
    url = f"sqlite:///{tmp / 'atlas.db'}"
    Atlas(url, mode="w").close()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert ingest(src, url).done == 1
    return url


def test_fit_atlas_stores_models_with_scores_and_provenance(glif_atlas):
    events = []
    summary = fit_atlas(glif_atlas, params={"levels": (1, 3)}, progress=lambda *a: events.append(a))
    assert (summary.done, summary.failed, summary.total) == (1, 0, 1)
    assert events[-1][0] == "done"
    with Atlas(glif_atlas, mode="r") as atlas:
        df = atlas.models(kind="glif")
        assert list(df["name"]) == ["GLIF1", "GLIF3"]
        row = df.iloc[0]
        assert row["cell_id"] == "190619B_0003"
        assert GlifModel.from_allen_config(row["parameters"]).level == 1
        assert set(row["fit_scores"]) >= {"train", "test", "baseline_test", "identifiability"}
        assert row["fitted_with"]["procedure"].startswith("Teeter")
        assert row["package_version"]
        with pytest.raises(AtlasError, match="no cell"):
            atlas.models("no-such-cell")
        with pytest.raises(AtlasError, match=r"read-only|read only"):
            atlas.store_models("190619B_0003", [], kind="glif")
    # refitting replaces the cell's GLIF models (through a process pool this time)
    again = fit_atlas(glif_atlas, params={"levels": (1,)}, workers=2)
    assert again.done == 1
    with Atlas(glif_atlas, mode="r") as atlas:
        assert list(atlas.models(kind="glif")["name"]) == ["GLIF1"]
        # the ingest's own rows are untouched
        assert len(atlas.sweeps("190619B_0003")) == 10


def test_portal_serves_glif_scores_and_the_model_over_the_data(glif_atlas):
    from fastapi.testclient import TestClient

    from patchatlas.web import create_app

    c = TestClient(create_app(glif_atlas))
    d = c.get("/api/models/glif").json()
    assert len(d["models"]) == 1
    m = d["models"][0]
    assert m["name"] == "GLIF1" and m["test_sweeps"]
    t = c.get(f"/api/cells/{m['cell_id']}/models/{m['model_id']}/trace?points=400").json()
    assert t["held_out"] and len(t["t"]) == len(t["v_model"]) == len(t["v_data"]) <= 402
    assert (
        c.get(f"/api/cells/{m['cell_id']}/models/{m['model_id']}/trace?sweep=999").status_code
        == 404
    )
    assert c.get(f"/api/cells/{m['cell_id']}/models/12345/trace").status_code == 404
    assert c.get("/api/models/glif?cell=nope").status_code == 404
    page = c.get("/models").text
    assert 'id="glif-section"' in page and "models_glif.js" in page
    assert 'data-cell="190619B_0003"' in c.get("/cells/190619B_0003").text


def test_cli_simulate_and_fit(ephys_data, tmp_path):
    runner = CliRunner()
    fig = tmp_path / "sim.png"
    r = runner.invoke(
        cli,
        [
            "glif",
            "simulate",
            str(ephys_data / CONFIG),
            "--stimulus",
            "step:150:1",
            "--out",
            str(fig),
        ],
    )
    assert r.exit_code == 0, r.output
    assert "spikes in 1.2 s" in r.output and fig.stat().st_size > 10_000
    stim = tmp_path / "stim.npy"
    np.save(stim, np.full(4000, 200.0))
    r = runner.invoke(cli, ["glif", "simulate", str(ephys_data / CONFIG), "--stimulus", str(stim)])
    assert r.exit_code == 0 and "0.2 s" in r.output
    r = runner.invoke(cli, ["glif", "simulate", str(ephys_data / CONFIG), "--stimulus", "step:x"])
    assert r.exit_code != 0 and "step:AMP_pA:DUR_s" in r.output
    out = tmp_path / "fits"
    r = runner.invoke(
        cli,
        [
            "glif",
            "fit",
            str(ephys_data / CELL),
            str(ephys_data / "abf_pyabf/17o05027_ic_ramp.abf"),
            "--levels",
            "1,3",
            "--out",
            str(out),
        ],
    )
    # the ramp cannot be fitted (no subthreshold stretch): counted, and the exit code says so
    assert r.exit_code == 1, r.output
    assert "2 files: 1 fitted, 1 failed" in r.output
    cell = out / "190619B_0003"
    assert {p.name for p in cell.iterdir()} == {
        "GLIF1_neuron_config.json",
        "GLIF3_neuron_config.json",
        "190619B_0003_glif.png",
    }
    cfg = json.loads((cell / "GLIF3_neuron_config.json").read_text())
    assert GlifModel.from_allen_config(cfg).level == 3
    assert (out / "glif_scores.csv").read_text().startswith("cell,model,split")
    r = runner.invoke(
        cli, ["glif", "fit", str(ephys_data / CELL), "--levels", "1,7", "--out", str(out)]
    )
    assert r.exit_code != 0 and "levels are 1..5" in r.output
