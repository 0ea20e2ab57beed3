"""Biophysical models in the atlas and the portal: stored fits listed on the Models page, model
sweeps served for the cell page's overlay (nothing simulated by the server)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.conftest import IN_CI

from patchatlas.atlas import Atlas
from patchatlas.atlas.models_biophys import biophys_models, store_biophys_model
from patchatlas.datasets.synthetic_atlas import build_synthetic_atlas
from patchatlas.errors import AtlasError
from patchatlas.web import create_app

if importlib.util.find_spec("arbor") is None:  # pragma: no cover - depends on the install
    if IN_CI:
        pytest.fail("arbor is not installed (pip install 'patchatlas[models]')")
    pytest.skip("arbor is not installed", allow_module_level=True)


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory):
    """A small synthetic atlas whose first trace cell has a (tiny) biophysical fit stored."""
    from patchatlas.datasets.demo_biophys import DEMO_BOUNDS, demo_model
    from patchatlas.ephys import analyze
    from patchatlas.models.biophys import fit

    root = tmp_path_factory.mktemp("biophys_atlas")
    syn = build_synthetic_atlas(
        f"sqlite:///{root / 'atlas.db'}", root / "files", n_cells=6, n_trace_cells=1, n_pairs=0
    )
    cell = syn.trace_cells[0]
    with Atlas(syn.url, mode="a") as atlas:
        rec = atlas.sweeps(cell).load()
        res = analyze(rec, qc=False)
        top = max(s.sweep.stimulus.amplitude for s in res.sweeps)
        out = fit(
            demo_model(),
            res,
            parameters=DEMO_BOUNDS,
            generations=0,
            population=4,
            delay_s=0.05,
            amplitudes=[top],
        )
        mid = store_biophys_model(atlas, cell, out.model, name="tiny fit", fit=out)
        # storing again under the same name replaces the row
        mid2 = store_biophys_model(atlas, cell, out.model, name="tiny fit", fit=out)
    return syn, cell, out, mid, mid2


def test_store_and_read_back(stored) -> None:
    syn, cell, out, _mid, mid2 = stored
    with Atlas(syn.url, mode="r") as atlas:
        df = biophys_models(atlas)
        assert list(df["model_id"]) == [mid2]  # one row: the second store replaced the first
        row = df.iloc[0]
        assert row["cell_id"] == cell and row["n_parameters"] == 4
        assert row["total_error"] == pytest.approx(out.total_error)
        assert row["parameters"]["values"]["gbar_NaTs.soma"] == pytest.approx(
            out.parameters["gbar_NaTs.soma"]
        )
        sw = row["fit_scores"]["sweeps"]
        assert len(sw) == len(out.targets) and len(sw[0]["t_s"]) == len(sw[0]["v_mv"]) <= 3001
        assert sw[0]["t_s"][0] < 0 < sw[0]["t_s"][-1]  # time from the stimulus onset
        with pytest.raises(AtlasError, match="read-only"):
            store_biophys_model(atlas, cell, out.model, fit=out)


def test_api_and_pages(stored) -> None:
    syn, cell, out, _, mid2 = stored
    client = TestClient(create_app(syn.url))
    items = client.get("/api/models/biophysical").json()["items"]
    assert [m["model_id"] for m in items] == [mid2]
    assert set(items[0]["fitted"]) == set(out.parameters)
    d = client.get(f"/api/cells/{cell}/models/biophysical").json()
    m = d["models"][0]
    assert m["name"] == "tiny fit" and len(m["sweeps"]) == len(out.targets)
    assert m["sweeps"][0]["data_sweeps"] == list(out.targets[0].sweeps)
    # the generic model list still has it (kind "biophysical")
    assert any(x["kind"] == "biophysical" for x in client.get("/api/models").json()["items"])
    page = client.get("/models").text
    assert 'id="biophys-models"' in page and "models_biophys.js" in page
    page = client.get(f"/cells/{cell}").text
    assert 'id="biophys-overlay-panel"' in page and "cell_biophys.js" in page
    assert client.get("/static/js/cell_biophys.js").status_code == 200


def test_a_cell_without_models(stored) -> None:
    syn, cell, *_ = stored
    client = TestClient(create_app(syn.url))
    other = next(c for c in syn.cells.index if c != cell)
    assert client.get(f"/api/cells/{other}/models/biophysical").json()["models"] == []
    assert client.get("/api/cells/nope/models/biophysical").status_code == 404


def test_fit_cell_stores_into_the_atlas(stored, tmp_path: Path) -> None:
    from patchatlas.datasets.demo_biophys import DEMO_BOUNDS, demo_model
    from patchatlas.pipeline.biophys import fit_cell

    syn, cell, *_ = stored
    with Atlas(syn.url, mode="a") as atlas:
        rec = atlas.sweeps(cell).load()
        top = max(s.stimulus.amplitude for s in rec.sweeps)
        fit_cell(
            rec,
            demo_model(),
            parameters=DEMO_BOUNDS,
            generations=0,
            population=4,
            delay_s=0.05,
            amplitudes=[top],
            atlas=atlas,
            cell_id=cell,
        )
        names = list(biophys_models(atlas, cell)["name"])
    assert "demo ball-and-stick fit" in names
