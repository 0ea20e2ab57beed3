"""Expression → physiology page: stored crossmodal benchmark results through the API and in
the browser (a small real run of :func:`patchatlas.crossmodal.run_benchmark`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from patchatlas.atlas import Atlas
from patchatlas.datasets.synthetic_atlas import build_synthetic_atlas
from patchatlas.web import create_app


@pytest.fixture(scope="module")
def xm(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A small atlas holding one stored crossmodal run: ``(url, report)``."""
    from patchatlas.crossmodal import run_benchmark
    from patchatlas.datasets import synthetic_patchseq

    root = tmp_path_factory.mktemp("xm_atlas")
    syn = build_synthetic_atlas(
        f"sqlite:///{root / 'atlas.db'}",
        root / "files",
        n_cells=12,
        n_trace_cells=0,
        n_swc_cells=0,
        n_pairs=0,
        seed=5,
    )
    rng = np.random.default_rng(0)
    types = np.repeat(["A", "B", "C"], 30)
    f = pd.DataFrame(
        {
            "ap_width_ms": rng.normal(size=90) + (types == "A"),
            "rin": rng.normal(size=90),
            "tau": rng.normal(size=90),
        },
        index=[f"cell{i}" for i in range(90)],
    )
    ds = synthetic_patchseq(f, 1, types=types)
    rep = run_benchmark(
        ds, specs=["single_cell:ridge", "type_lookup"], n_repeats=2, n_folds=3, n_boot=50
    )
    Atlas(syn.url).store_crossmodal(rep, cells=list(ds.ephys.index))
    return syn.url, rep


def test_crossmodal_api_r2_per_feature_per_regime(xm) -> None:  # type: ignore[no-untyped-def]
    url, rep = xm
    client = TestClient(create_app(url))
    d = client.get("/api/crossmodal").json()
    assert d["run"]["dataset"] == "synthetic" and d["has_predictions"]
    assert d["specs"] == ["single_cell:ridge", "type_lookup"]
    assert set(d["features"]) == {"ap_width_ms", "rin", "tau"}
    want = rep.scores.groupby(["regime", "feature"])["r2"].mean()
    for row in d["r2"]:
        assert row["n_repeats"] == 2
        assert row["r2"] == pytest.approx(want[(row["regime"], row["feature"])])
    best = d["best"]
    sc = want["single_cell"]
    assert best["spec"] == "single_cell:ridge" and best["features"][0] == sc.idxmax()
    p = client.get(
        "/api/crossmodal/predictions", params={"feature": "ap_width_ms", "spec": "type_lookup"}
    ).json()
    assert p["n"] == 90 and len(p["points"]) == 90
    s = rep.scores
    r0 = s[(s["regime"] == "type_lookup") & (s["feature"] == "ap_width_ms") & (s["repeat"] == 0)]
    assert p["r2"] == pytest.approx(float(r0["r2"].iloc[0]), abs=1e-9)
    bad = client.get("/api/crossmodal", params={"run": "nope"})
    assert bad.status_code in (400, 404)


def test_crossmodal_api_without_results(client: TestClient) -> None:
    d = client.get("/api/crossmodal").json()
    assert d["run"] is None and d["r2"] == []


@pytest.mark.slow
def test_crossmodal_page_in_the_browser(xm, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from portal_browser import browser_page, live_server, require_chromium, screenshot

    url, _rep = xm
    exe = require_chromium()
    with live_server(create_app(url)) as base, browser_page(exe) as page:
        page.goto(base + "/types")
        page.wait_for_selector('#xm-panel[data-ready="1"]', timeout=30_000)
        assert page.locator("#xm-body").is_visible()
        heads = page.eval_on_selector_all("#xm-table th", "els => els.map(e => e.textContent)")
        assert heads == ["feature", "single_cell:ridge", "type_lookup"]
        assert page.locator("#xm-table tr").count() == 1 + 3 + 1  # header, features, mean
        assert page.locator("#xm-legend .xm-key").count() == 2
        assert int(page.get_attribute("#xm-r2", "data-drawn") or 0) == 2 * 3
        assert int(page.get_attribute("#xm-scatter", "data-drawn") or 0) == 2 + 90
        txt = page.text_content("#xm-pred-r2") or ""
        assert "n = 90" in txt
        page.select_option("#xm-spec", "type_lookup")
        page.wait_for_function(
            "() => document.getElementById('xm-pred-r2').textContent.includes('R²')"
        )
        screenshot(page, tmp_path, "crossmodal")


def test_crossmodal_on_the_real_m1_cells(shared_data: Path, tmp_path: Path) -> None:
    """A small real run (M1 Patch-seq, ridge, 1 × 3 folds) stored and served: the page's numbers
    are the benchmark's, and the best-predicted feature is the upstroke/downstroke ratio (the
    published ordering: UDR ≳ AP width ≈ Max AP num > … > AP threshold)."""
    from patchatlas.crossmodal import run_benchmark
    from patchatlas.io.expression import read_patchseq_dataset

    ds = read_patchseq_dataset(shared_data / "patchseq" / "m1_scala2021")
    rep = run_benchmark(
        ds, specs=["single_cell:ridge", "type_lookup"], n_repeats=1, n_folds=3, n_boot=50
    )
    url = f"sqlite:///{tmp_path / 'm1.db'}"
    Atlas(url).store_crossmodal(rep, cells=list(ds.ephys.index))
    client = TestClient(create_app(url))
    d = client.get("/api/crossmodal").json()
    assert d["run"]["dataset"] == "m1_scala2021" and len(d["features"]) == 16
    s = rep.scores
    sc = s[s["regime"] == "single_cell"].set_index("feature")["r2"]
    assert d["best"]["features"][0] == sc.idxmax() == "UDR"
    assert sc["AP thresh"] < sc["AP width"]
    got = {r["feature"]: r["r2"] for r in d["r2"] if r["spec"] == "single_cell:ridge"}
    assert got == pytest.approx(sc.to_dict())
    p = client.get(
        "/api/crossmodal/predictions", params={"feature": "UDR", "spec": "single_cell:ridge"}
    ).json()
    assert p["n"] == len(ds.ephys) and p["r2"] == pytest.approx(sc["UDR"], abs=1e-9)
    assert 0.7 < p["r2"] < 0.9
