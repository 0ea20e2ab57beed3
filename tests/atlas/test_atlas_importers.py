"""Import of the published Patch-seq tables in ../shared/data/patchseq, counted against the CSVs."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from patchatlas.atlas import Atlas
from patchatlas.datasets.published import import_dataset
from patchatlas.errors import ReadError

pytestmark = pytest.mark.shared_data


@pytest.fixture(scope="module")
def patchseq(shared_data: Path) -> Path:
    p = shared_data / "patchseq"
    assert p.is_dir(), p
    return p


def _n_with_values(table: pd.DataFrame, id_col: str, drop: tuple[str, ...] = ()) -> int:
    values = table.drop(columns=[id_col, *[c for c in drop if c in table.columns]])
    values = values.apply(pd.to_numeric, errors="coerce")
    return int(table.loc[values.notna().any(axis=1), id_col].nunique())


def test_m1_scala2021(patchseq: Path, atlas_url: str) -> None:
    folder = patchseq / "m1_scala2021"
    meta = pd.read_csv(folder / "m1_patchseq_meta_data.csv", sep="\t")
    ephys = pd.read_csv(folder / "m1_patchseq_ephys_features.csv")
    morph = pd.read_csv(folder / "m1_patchseq_morph_features.csv")
    counts_header = pd.read_csv(folder / "sbnn_gene_counts_1000genes.csv", nrows=0).columns[1:]

    atlas = Atlas(atlas_url)
    res = import_dataset(atlas, "m1_scala2021", folder)
    cells = atlas.cells(dataset="m1_scala2021")
    all_ids = set(meta["Cell"]) | set(ephys["cell id"]) | set(morph["cell id"])
    assert len(cells) == res["cells"] == len(all_ids)
    feats = atlas.ephys_features()
    assert len(feats) == _n_with_values(ephys, "cell id")
    # the erratum cell is dropped
    assert atlas.summary()["counts"]["morphologies"] == morph["cell id"].nunique() - 1
    assert res["transcriptome_links"] == len(
        set(counts_header) & {c.replace("_", "") for c in meta["Cell"]}
    )

    # mapped names carry values unchanged; unmapped names are kept as published
    row = ephys.set_index("cell id").iloc[0]
    cid = ephys["cell id"].iloc[0]
    assert feats.loc[cid, "vrest"] == pytest.approx(row["Resting membrane potential (mV)"])
    assert feats.loc[cid, "AP width (ms)"] == pytest.approx(row["AP width (ms)"])
    long = atlas.ephys_features(wide=False, cells=[cid], names=["ri"])
    assert long["native_name"].tolist() == ["Input resistance (MOhm)"]
    m = meta.set_index("Cell").loc[cid]
    assert cells.loc[cid, "t_type"] == m["RNA type"]
    assert cells.loc[cid, "species"] == "mouse"
    assert cells.loc[cid, "cre_line"] is None or "Cre" in cells.loc[cid, "cre_line"]

    # importing again replaces, never duplicates
    import_dataset(atlas, "m1_scala2021", folder)
    assert len(atlas.cells()) == len(all_ids)
    assert atlas.summary()["counts"]["ephys_features"] == res["ephys_values"]
    assert atlas.summary()["counts"]["cell_transcriptomes"] == res["transcriptome_links"]


def test_v1_gouwens2020(patchseq: Path, tmp_path: Path) -> None:
    folder = patchseq / "v1_gouwens2020_ephys_only"
    mouse = pd.read_csv(folder / "20200625_patchseq_metadata_mouse.csv")
    human = pd.read_csv(folder / "20200625_patchseq_metadata_human.csv")
    feats_csv = pd.read_csv(folder / "ephys_features_gouwens_w_QC.csv")
    atlas = Atlas(tmp_path / "a.db")
    import_dataset(atlas, "v1_gouwens2020", folder)
    cells = atlas.cells(dataset="v1_gouwens2020")
    assert len(cells) == len(set(mouse["cell_specimen_id"]) | set(human["cell_specimen_id"]))
    assert (cells["species"] == "mouse").sum() == mouse["cell_specimen_id"].nunique()
    feature_cols = [c for c in feats_csv.columns if not c.startswith("qc_")]
    wide = atlas.ephys_features()
    assert len(wide) == _n_with_values(feats_csv[feature_cols], "filename", ("Unnamed: 0",))
    # join through the session id; tau converted from s (IPFX) to ms (Allen cell record)
    first = feats_csv.iloc[0]
    session = int(first["filename"].split("ses-")[1].split("_")[0])
    cid = str(mouse.loc[mouse["ephys_session_id"] == session, "cell_specimen_id"].iloc[0])
    assert wide.loc[cid, "tau"] == pytest.approx(first["tau"] * 1e3)
    assert wide.loc[cid, "vrest"] == pytest.approx(first["v_baseline"])
    assert wide.loc[cid, "hero_adapt"] == pytest.approx(first["hero_adapt"])  # kept as-is
    assert (
        cells.loc[cid, "t_type"]
        == mouse.loc[mouse["ephys_session_id"] == session, "corresponding_AIT2.3.1_alias"].iloc[0]
    )


def test_lee2023_and_berg2021(patchseq: Path, atlas_url: str) -> None:
    lee = patchseq / "human_lee2023_gaba_ephys_only"
    berg = patchseq / "human_berg2021_L23_ephys_only"
    atlas = Atlas(atlas_url)
    import_dataset(atlas, "lee2023", lee)
    meta = pd.read_csv(lee / "LeeDalley_manuscript_metadata_v2.csv")
    ephys = pd.read_csv(lee / "LeeDalley_ephys_fx.csv")
    morph = pd.read_csv(lee / "LeeDalley_morpho_features.csv")
    ids = set(meta["specimen_id_x"]) | set(ephys["specimen_id"]) | set(morph["specimen_id"])
    assert len(atlas.cells(dataset="lee2023")) == len(ids)
    assert len(atlas.ephys_features()) == _n_with_values(ephys, "specimen_id")
    assert atlas.summary()["counts"]["morphologies"] == morph["specimen_id"].nunique()
    cid = str(morph["specimen_id"].iloc[0])
    m = atlas.morphology(cid)
    assert m.features["axon_total_length"] == pytest.approx(morph["axon_total_length"].iloc[0])

    import_dataset(atlas, "berg2021", berg)
    tables = [
        ("human_mouse_ephys_all_0127.csv", "specimen_id"),
        ("human_IVSCC_excitatory_L23_consolidated_0131.csv", "SpecimenID"),
        ("mouse_IVSCC_excitatory_L23_consolidated_0129.csv", "SpecimenID"),
        ("All_L23_Lockdown_all_raw_features.csv", "specimen_id"),
        ("All_Mouse_Cells_Lockdown_All_raw_features.csv", "specimen_id"),
    ]
    berg_ids: set[int] = set()
    for f, col in tables:
        berg_ids |= set(pd.read_csv(berg / f)[col])
    total = atlas.cells()
    assert len(total) == len(ids | berg_ids)  # shared specimens are one cell
    # a shared cell keeps its first dataset label
    assert (total["dataset"] == "berg2021").sum() == len(berg_ids - ids)
    human = pd.read_csv(berg / "human_IVSCC_excitatory_L23_consolidated_0131.csv")
    h = human.iloc[0]
    assert atlas.cell(str(h["SpecimenID"]))["t_type"] == h["SeuratMapping"]


def test_unknown_dataset(tmp_path: Path) -> None:
    with pytest.raises(ReadError, match="unknown dataset 'allen2099'"):
        import_dataset(Atlas(tmp_path / "a.db"), "allen2099", tmp_path)
    with pytest.raises(ReadError, match="missing from the dataset folder"):
        import_dataset(Atlas(tmp_path / "a.db"), "lee2023", tmp_path)
