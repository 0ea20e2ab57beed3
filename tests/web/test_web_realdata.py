"""The portal on the real Patch-seq tables (../shared/data/patchseq), imported through the atlas
importers (M1 Scala 2021, V1 Gouwens 2020, human Lee 2023 and Berg 2021). In the browser:
faceting by species and t-type family and brushing a feature range give the counts computed here
independently from the CSV files."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from portal_browser import (
    browser_page,
    count,
    drag_on_axis,
    live_server,
    require_chromium,
    screenshot,
    set_axes,
    wait_ready,
)

from patchatlas.atlas import Atlas
from patchatlas.web import create_app

published = pytest.importorskip("patchatlas.datasets.published")

pytestmark = [pytest.mark.shared_data, pytest.mark.slow]

DATASETS = [
    ("m1_scala2021", "m1_scala2021"),
    ("v1_gouwens2020", "v1_gouwens2020_ephys_only"),
    ("lee2023", "human_lee2023_gaba_ephys_only"),
    ("berg2021", "human_berg2021_L23_ephys_only"),
]


@pytest.fixture(scope="module")
def patchseq(shared_data: Path) -> Path:
    p = shared_data / "patchseq"
    assert p.is_dir(), p
    return p


@pytest.fixture(scope="module")
def real_url(patchseq: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('real_atlas') / 'atlas.db'}"
    atlas = Atlas(url)
    for name, folder in DATASETS:
        published.import_dataset(atlas, name, patchseq / folder)
    atlas.close()
    return url


class Truth:
    """Expected counts, read straight from the CSV files."""

    def __init__(self, p: Path) -> None:
        m1 = pd.read_csv(p / "m1_scala2021/m1_patchseq_meta_data.csv", sep="\t")
        m1e = pd.read_csv(p / "m1_scala2021/m1_patchseq_ephys_features.csv")
        m1m = pd.read_csv(p / "m1_scala2021/m1_patchseq_morph_features.csv")
        v1 = p / "v1_gouwens2020_ephys_only"
        vm = pd.read_csv(v1 / "20200625_patchseq_metadata_mouse.csv")
        vh = pd.read_csv(v1 / "20200625_patchseq_metadata_human.csv")
        vf = pd.read_csv(v1 / "ephys_features_gouwens_w_QC.csv")
        lee = p / "human_lee2023_gaba_ephys_only"
        lm = pd.read_csv(lee / "LeeDalley_manuscript_metadata_v2.csv")
        le = pd.read_csv(lee / "LeeDalley_ephys_fx.csv")
        lmo = pd.read_csv(lee / "LeeDalley_morpho_features.csv")
        b = p / "human_berg2021_L23_ephys_only"
        bh = pd.read_csv(b / "human_IVSCC_excitatory_L23_consolidated_0131.csv")
        bm = pd.read_csv(b / "mouse_IVSCC_excitatory_L23_consolidated_0129.csv")
        be = pd.read_csv(b / "human_mouse_ephys_all_0127.csv")
        bmh = pd.read_csv(b / "All_L23_Lockdown_all_raw_features.csv")
        bmm = pd.read_csv(b / "All_Mouse_Cells_Lockdown_All_raw_features.csv")

        def s(x: pd.Series) -> set[str]:
            return set(x.dropna().astype(str))

        m1_ids = s(m1["Cell"]) | s(m1e["cell id"]) | s(m1m["cell id"])
        v1_mouse = s(vm["cell_specimen_id"]) | s(bm["SpecimenID"]) | s(bmm["specimen_id"])
        self.human = len(
            s(vh["cell_specimen_id"])
            | s(lm["specimen_id_x"])
            | s(le["specimen_id"])
            | s(lmo["specimen_id"])
            | s(bh["SpecimenID"])
            | s(bmh["specimen_id"])
        )
        self.mouse = len(m1_ids) + len(v1_mouse)
        # t-type family = subclass (M1: "RNA family") or the first word of the t-type (V1)
        self.m1_family = m1.set_index("Cell")["RNA family"]
        v1_alias = vm.set_index(vm["cell_specimen_id"].astype(str))["corresponding_AIT2.3.1_alias"]
        self.v1_family = v1_alias.astype("string").str.split().str[0]
        # input resistance (MΩ): M1 column, V1 IPFX value (joined through the session id)
        ri_m1 = m1e.set_index("cell id")["Input resistance (MOhm)"]
        session = vf["filename"].astype(str).str.extract(r"ses-(\d+)")[0]
        cell_of = dict(
            zip(vm["ephys_session_id"].astype(str), vm["cell_specimen_id"].astype(str), strict=True)
        )
        ri_v1 = pd.Series(vf["input_resistance"].to_numpy(), index=session.map(cell_of))
        ri_v1 = ri_v1[ri_v1.index.notna() & ~ri_v1.index.duplicated()]
        ri_b = be.set_index(be["specimen_id"].astype(str))["input_resistance"]
        ri_mouse_v1 = ri_v1.combine_first(ri_b.reindex(sorted(v1_mouse)))
        self.ri_mouse = pd.concat([ri_m1, ri_mouse_v1.reindex(sorted(v1_mouse))]).dropna()

    def mouse_family(self, fam: str) -> int:
        return int((self.m1_family == fam).sum() + (self.v1_family == fam).sum())


@pytest.fixture(scope="module")
def truth(patchseq: Path) -> Truth:
    return Truth(patchseq)


def test_real_counts_through_the_api(real_url: str, truth: Truth) -> None:
    c = TestClient(create_app(real_url))
    assert c.get("/api/cells", params={"species": "human"}).json()["total"] == truth.human
    assert c.get("/api/cells", params={"species": "mouse"}).json()["total"] == truth.mouse
    r = c.get("/api/cells", params={"species": "mouse", "t_type_family": "Sst"}).json()
    assert r["total"] == truth.mouse_family("Sst") > 100
    lo, hi = 150.0, 300.0
    r = c.get("/api/cells", params={"species": "mouse", "range": f"ri:{lo}..{hi}"}).json()
    ri = truth.ri_mouse
    assert r["total"] == int(((ri >= lo) & (ri <= hi)).sum())


def test_real_data_in_the_browser(real_url: str, truth: Truth, tmp_path: Path) -> None:
    exe = require_chromium()
    with live_server(create_app(real_url)) as base, browser_page(exe) as page:
        page.goto(base + "/")
        wait_ready(page, timeout_ms=60_000)
        assert count(page) == truth.human + truth.mouse
        page.check('input[data-col="species"][value="human"]')
        assert count(page) == truth.human
        page.uncheck('input[data-col="species"][value="human"]')
        page.check('input[data-col="species"][value="mouse"]')
        assert count(page) == truth.mouse
        page.check('input[data-col="t_type_family"][value="Sst"]')
        assert count(page) == truth.mouse_family("Sst")
        screenshot(page, tmp_path, "real_search_mouse_sst")
        page.uncheck('input[data-col="t_type_family"][value="Sst"]')
        set_axes(page, ["ri", "tau", "vrest", "threshold_i_long_square"])
        drag_on_axis(page, "ri", 0.6, 0.95)
        lo, hi = page.evaluate("window.patchatlasSearch.brushes['ri']")
        ri = truth.ri_mouse
        expected = int(((ri >= lo) & (ri <= hi)).sum())
        assert 0 < count(page) == expected < truth.mouse
        screenshot(page, tmp_path, "real_search_brushed")
        assert page.errors == []


def test_real_facets_are_harmonised_and_flagged(real_url: str, truth: Truth) -> None:
    c = TestClient(create_app(real_url))
    r = c.get("/api/cells", params={"limit": 1}).json()
    for facet, values in r["facets"].items():
        lower = [v.lower() for v in values]
        assert len(lower) == len(set(lower)), (facet, values)
    assert r["facets"]["dataset"]["berg2021"] == 518
    assert "low quality" not in r["facets"]["t_type_family"]
    assert "temporal" not in r["facets"]["region"] and "TemL" in r["facets"]["region"]
    assert r["facets"]["qc"]["failed"] > 0 and r["facets"]["qc"]["outside physiological range"] > 0
    # the Berg cells, all 518, under their own dataset; text search over Cre lines and donors
    assert c.get("/api/cells", params={"dataset": "berg2021"}).json()["total"] == 518
    n = c.get("/api/cells", params={"q": "Pvalb-IRES", "limit": 1}).json()["total"]
    assert n >= 396
    # impossible values are flagged: they never top a sort and can be excluded
    first = c.get("/api/cells", params={"sort": "ri", "features": "ri", "limit": 5}).json()
    assert all(x["ri"] >= 5 for x in first["items"])
    flagged = c.get("/api/cells", params={"qc": "outside physiological range"}).json()["total"]
    total = c.get("/api/cells", params={"limit": 1}).json()["total"]
    assert c.get("/api/cells", params={"flagged": "exclude"}).json()["total"] == total - flagged
    csv_text = c.get(
        "/api/cells", params={"dataset": "berg2021", "features": ["ri", "tau"], "format": "csv"}
    ).text
    assert csv_text.splitlines()[0].endswith("ri (MΩ),ri_outside_range,tau (ms),tau_outside_range")
    assert len(csv_text.strip().splitlines()) == 1 + 518
    # a published column that states its unit keeps it, and the header does not repeat it
    m1 = c.get(
        "/api/cells",
        params={"dataset": "m1_scala2021", "features": ["AP width (ms)"], "format": "csv"},
    ).text
    head = next(csv.reader(io.StringIO(m1)))
    assert "AP width (ms)" in head and "AP width (ms) (ms)" not in head
    some = next(csv.reader(io.StringIO(m1.splitlines()[1])))[0]
    rows = c.get(f"/api/cells/{some}/features").json()["ephys"]
    assert {r["unit"] for r in rows if r["name"] == "AP width (ms)"} == {"ms"}


def test_patchseq_cell_page_shows_its_genes(real_url: str, patchseq: Path, tmp_path: Path) -> None:
    meta = pd.read_csv(patchseq / "m1_scala2021/m1_patchseq_meta_data.csv", sep="\t")
    counts = pd.read_csv(patchseq / "m1_scala2021/sbnn_gene_counts_1000genes.csv", index_col=0)
    row = meta[meta["Cell"].str.replace("_", "").isin(counts.columns)].iloc[0]
    cell, sample = str(row["Cell"]), str(row["Cell"]).replace("_", "")
    cpm = counts[sample] / float(row["Exon reads"]) * 1e6
    same = [
        s
        for s in meta.loc[meta["RNA type"] == row["RNA type"], "Cell"].str.replace("_", "")
        if s in counts.columns
    ]
    reads = pd.Series(meta["Exon reads"].to_numpy(), index=meta["Cell"].str.replace("_", ""))
    type_mean = (counts[same] / reads.reindex(same) * 1e6).mean(axis=1)
    exe = require_chromium()
    with live_server(create_app(real_url)) as base, browser_page(exe) as page:
        page.goto(f"{base}/cells/{cell}")
        wait_ready(page, timeout_ms=60_000)
        for gene in ("Gad1", "Slc17a7", "Vip", "Pvalb", "Sst"):
            tr = page.locator(f'#tx-markers tr[data-gene="{gene}"]')
            assert tr.count() == 1, gene
            shown = tr.locator("td").nth(2).inner_text()
            assert float(shown) == pytest.approx(cpm[gene], rel=2e-3, abs=1e-3), gene
            mean_shown = tr.locator("td").nth(3).inner_text()
            assert float(mean_shown) == pytest.approx(type_mean[gene], rel=2e-3, abs=1e-3), gene
        top = page.locator("#tx-top tr[data-gene]").first.get_attribute("data-gene")
        assert top == cpm.idxmax()
        summary = page.inner_text("#tx-summary")
        assert str(row["RNA type"]) in summary and "genes detected" in summary
        # each value's origin and the source with its citation
        origin = page.inner_text('#annotations-table tr[data-field="t_type"] .origin')
        assert "m1_patchseq_meta_data.csv:RNA type" in origin
        assert "Scala" in page.inner_text("#datasets") and "doi" in page.inner_text("#datasets")
        assert page.locator("#ctx canvas[data-drawn]").count() >= 3
        screenshot(page, tmp_path, "real_patchseq_cell")
        assert page.errors == []


def test_3d_viewer_renders_a_real_swc(shared_data: Path, tmp_path: Path) -> None:
    import shutil

    from patchatlas.pipeline import ingest

    src = (
        shared_data
        / "morphology/allen_swc/Pvalb-IRES-Cre_Ai14_IVSCC_-172096.04.02.01_471781218_m.swc"
    )
    folder = tmp_path / "data"
    folder.mkdir()
    shutil.copy(src, folder / src.name)
    url = f"sqlite:///{tmp_path / 'swc.db'}"
    assert ingest(folder, url).done == 1
    n_nodes = sum(1 for line in src.read_text().splitlines() if line.strip() and line[0] != "#")
    exe = require_chromium()
    with live_server(create_app(url)) as base, browser_page(exe) as page:
        page.goto(f"{base}/cells/{src.stem}/morphology")
        wait_ready(page, timeout_ms=60_000)
        viewer = page.locator("#viewer")
        assert viewer.get_attribute("data-mode") == "3d"
        assert int(viewer.get_attribute("data-segments")) == n_nodes - 1
        painted = page.evaluate(
            """() => { const c = document.querySelector('#viewer canvas');
                const t = document.createElement('canvas'); t.width = c.width; t.height = c.height;
                const x = t.getContext('2d'); x.drawImage(c, 0, 0);
                const d = x.getImageData(0, 0, t.width, t.height).data; let n = 0;
                for (let i = 0; i < d.length; i += 4) if (d[i] < 200 || d[i+1] < 200) n++;
                return n; }"""
        )
        assert painted > 500
        before = set(viewer.get_attribute("data-visible").split(","))
        assert {"2", "3"} <= before  # axon and basal dendrite drawn
        page.uncheck('.toggles input[data-type="2"]')
        assert "2" not in viewer.get_attribute("data-visible").split(",")
        # rotate with the keyboard, and the 2-D fallback is drawn too
        page.focus("#viewer canvas")
        cam0 = page.evaluate("window.patchatlas3d.camera.position.toArray()")
        page.keyboard.press("ArrowLeft")
        page.keyboard.press("+")
        assert page.evaluate("window.patchatlas3d.camera.position.toArray()") != cam0
        assert int(page.get_attribute("#proj-xy", "data-segments")) > 100
        screenshot(page, tmp_path, "real_morphology_3d")
        assert page.errors == []
