"""The portal's cell-type pieces: API router, Cell types page, cell-page panel, facets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("fastapi", reason="the web extra is not installed")

from fastapi.testclient import TestClient

from patchatlas.atlas import Atlas
from patchatlas.celltyping import find_types
from patchatlas.datasets.synthetic_atlas import build_synthetic_atlas
from patchatlas.web import create_app


@pytest.fixture(scope="module")
def typed_portal(tmp_path_factory: pytest.TempPathFactory) -> tuple[TestClient, list[str], str]:
    root = tmp_path_factory.mktemp("ct_portal")
    syn = build_synthetic_atlas(
        f"sqlite:///{root / 'atlas.db'}",
        root / "files",
        n_cells=80,
        n_trace_cells=0,
        n_swc_cells=0,
        n_pairs=0,
        seed=5,
    )
    with Atlas(syn.url) as atlas:
        feats = atlas.ephys_features(level="cell")
        cells = atlas.cells()
        res = find_types(feats, kind="e", max_clusters=5, n_resamples=0)
        atlas.store_cell_types(
            pd.DataFrame(
                {"cell": res.labels.index, "label": res.labels, "confidence": res.confidence}
            ),
            name="synthetic e-types",
            kind="e",
            level="cluster",
            method="gmm",
            scores={"mean_ari": 0.7},
        )
        sub = cells["t_type"].astype(str).str.split().str[0]
        atlas.store_cell_types(
            pd.DataFrame({"cell": cells.index[:40], "label": sub.iloc[:40], "confidence": 0.8}),
            name="predicted subclass",
            kind="t",
            level="subclass",
            method="ttype_classifier",
            scores={"balanced_accuracy": {"mean": 0.8, "ci_low": 0.7, "ci_high": 0.9}},
        )
    return TestClient(create_app(syn.url)), list(cells.index), syn.url


def test_runs_and_types(typed_portal: tuple[TestClient, list[str], str]) -> None:
    client, _, _ = typed_portal
    d = client.get("/api/celltypes").json()
    assert [r["name"] for r in d["runs"]] == ["synthetic e-types", "predicted subclass"]
    e = d["runs"][0]
    assert e["kind"] == "e" and e["n_cells"] == 80 and sum(t["n_cells"] for t in e["types"]) == 80
    t = client.get("/api/celltypes/types", params={"run": "synthetic e-types"}).json()
    conf = np.array(t["confusion"]["counts"])
    assert conf.sum() == 80 and len(t["confusion"]["rows"]) == len(t["types"])
    latest = client.get("/api/celltypes/types", params={"against": "subclass"}).json()
    assert latest["run"]["name"] == "predicted subclass"
    assert client.get("/api/celltypes/types", params={"run": "nope"}).status_code == 404
    assert client.get("/api/celltypes/types", params={"against": "x"}).status_code == 422


def test_one_type(typed_portal: tuple[TestClient, list[str], str]) -> None:
    client, _, _ = typed_portal
    t = client.get("/api/celltypes/type", params={"run": "synthetic e-types", "label": "e1"}).json()
    assert t["n_cells"] > 0 and len(t["cells"]) == t["n_cells"]
    assert t["features"] and {"type", "all", "auc", "feature"} <= set(t["features"][0])
    f = t["features"][0]
    assert f["all"]["q1"] <= f["all"]["median"] <= f["all"]["q3"]
    assert sum(c["n"] for c in t["composition"]) == t["n_cells"]
    r = client.get("/api/celltypes/type", params={"run": "synthetic e-types", "label": "zz"})
    assert r.status_code == 404


def test_cell_assignments_pages_and_facets(typed_portal: tuple[TestClient, list[str], str]) -> None:
    client, cells, _ = typed_portal
    a = client.get(f"/api/cells/{cells[0]}/celltypes").json()
    assert {x["kind"] for x in a["assignments"]} == {"e", "t"}
    assert a["assignments"][1]["scores"]["balanced_accuracy"]["mean"] == 0.8
    assert client.get(f"/api/cells/{cells[60]}/celltypes").json()["assignments"][0]["kind"] == "e"
    page = client.get("/celltypes")
    assert page.status_code == 200 and "celltypes.js" in page.text and "Cell types" in page.text
    assert "cell_types.js" in client.get(f"/cells/{cells[0]}").text
    s = client.get("/api/search").json()
    assert s["facets"]["e_type"] == "e-type"
    assert s["columns"]["e_type"][0].startswith("e")
    assert s["columns"]["t_type_predicted"][60] is None
    assert 'id="color-by"' in client.get("/").text


def test_pages_in_a_browser(
    typed_portal: tuple[TestClient, list[str], str], tmp_path: Path
) -> None:
    from tests.web.portal_browser import (
        browser_page,
        live_server,
        require_chromium,
        screenshot,
        wait_ready,
    )

    exe = require_chromium()
    _, cells, url = typed_portal
    with live_server(create_app(url)) as base, browser_page(exe) as page:
        page.goto(f"{base}/celltypes?run=synthetic%20e-types")
        wait_ready(page)
        assert page.locator("#ct-types tr").count() > 2
        page.locator("#ct-types a[data-label='e1']").click()
        page.wait_for_selector("#ct-type-panel[data-ready]")
        assert int(page.get_attribute("#ct-features", "data-drawn") or 0) > 0
        assert "cells" in page.inner_text("#ct-type-info")
        screenshot(page, tmp_path, "celltypes")
        page.select_option("#ct-run", "predicted subclass")
        page.wait_for_function("document.getElementById('ct-type-panel').hidden")
        page.goto(f"{base}/cells/{cells[0]}")
        page.wait_for_selector("#celltypes[data-ready]")
        assert "e-type (cluster)" in page.inner_text("#celltypes")
        page.goto(f"{base}/")
        wait_ready(page)
        page.select_option("#color-by", "e_type")
        assert not page.errors, page.errors
