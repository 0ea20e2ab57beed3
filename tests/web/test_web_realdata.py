"""The portal on the real Patch-seq tables (../shared/data/patchseq), imported through the atlas
importers (M1 Scala 2021, V1 Gouwens 2020, human Lee 2023 and Berg 2021). In the browser:
faceting by species and t-type family and brushing a feature range give the counts computed here
independently from the CSV files."""

from __future__ import annotations

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
