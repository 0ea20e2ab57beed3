"""Harmonisation of the real published tables (M1, V1, human): one vocabulary across datasets,
native labels kept with their table and column, quality labels as QC flags, every dataset a cell
belongs to recorded (a cell of Gouwens 2020 and Berg 2021 counts in both)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from patchatlas.atlas import Atlas
from patchatlas.atlas import portal as Q
from patchatlas.core.vocabulary import FIELDS
from patchatlas.datasets.published import import_dataset, load_published

pytestmark = pytest.mark.shared_data

FOLDERS = {
    "m1_scala2021": "m1_scala2021",
    "v1_gouwens2020": "v1_gouwens2020_ephys_only",
    "lee2023": "human_lee2023_gaba_ephys_only",
    "berg2021": "human_berg2021_L23_ephys_only",
}


@pytest.fixture(scope="module")
def loaded(shared_data: Path) -> dict:
    return {n: load_published(n, shared_data / "patchseq" / f) for n, f in FOLDERS.items()}


def test_no_case_duplicates_across_datasets(loaded: dict) -> None:
    for field in (*FIELDS, "t_type_family"):
        values: set[str] = set()
        for ds in loaded.values():
            if field == "t_type_family":
                from patchatlas.web.service import t_type_family

                col = t_type_family(
                    ds.cells.get("subclass", ds.cells["t_type"] * 0), ds.cells["t_type"]
                )
            elif field in ds.cells.columns:
                col = ds.cells[field]
            else:
                continue
            values |= {str(v) for v in col.dropna()}
        lower = pd.Series(sorted(values)).str.lower()
        dup = lower[lower.duplicated(keep=False)]
        assert dup.empty, (field, sorted(values)[:20], list(dup))
    subclasses = {str(v) for ds in loaded.values() for v in ds.cells["subclass"].dropna()}
    assert {"Sst", "Pvalb", "Vip", "Lamp5"} <= subclasses
    assert not {"SST", "PVALB", "VIP", "low quality"} & subclasses
    regions = {str(v) for ds in loaded.values() for v in ds.cells["region"].dropna()}
    assert "temporal" not in regions and "TemL" in regions


def test_native_labels_and_sources_are_kept(loaded: dict, shared_data: Path) -> None:
    lee = loaded["lee2023"]
    raw = pd.read_csv(
        shared_data / "patchseq" / FOLDERS["lee2023"] / "LeeDalley_manuscript_metadata_v2.csv"
    )
    raw = raw.drop_duplicates(subset="specimen_id_x").set_index(raw.columns[0])
    lab = lee.labels[lee.labels["field"] == "subclass"].set_index("cell")
    assert set(lab["native"]) == set(raw["Revised_subclass_label"].dropna())
    assert (lab["source"] == "LeeDalley_manuscript_metadata_v2.csv:Revised_subclass_label").all()
    pv = lab[lab["native"] == "PVALB"]
    assert len(pv) > 300 and set(pv["value"]) == {"Pvalb"}
    berg = loaded["berg2021"]
    reg = berg.labels[(berg.labels["field"] == "region") & (berg.labels["native"] == "temporal")]
    assert len(reg) > 300 and set(reg["value"]) == {"TemL"}
    assert reg["source"].str.endswith(":region").all()


def test_quality_labels_become_failed_checks(loaded: dict, shared_data: Path) -> None:
    m1 = loaded["m1_scala2021"]
    meta = pd.read_csv(shared_data / "patchseq/m1_scala2021/m1_patchseq_meta_data.csv", sep="\t")
    low = set(meta.loc[meta["RNA family"] == "low quality", "Cell"].astype(str))
    assert len(low) > 50
    assert m1.cells.loc[sorted(low), "subclass"].isna().all()
    qc = m1.qc[m1.qc["check"] == "transcriptome_quality"]
    assert set(qc["cell"]) == low and (qc["passed"] == False).all()  # noqa: E712
    # imported QC values judged by the ephys cell QC rules (Allen v1.1 limits)
    v1 = loaded["v1_gouwens2020"].qc
    seal = v1[v1["check"] == "seal_gohm"]
    assert ((seal["value"] >= 1.0) == seal["passed"].astype(bool)).all()
    assert seal["passed"].notna().all() and (~seal["passed"].astype(bool)).sum() > 0


def test_berg_cells_count_under_their_own_dataset(shared_data: Path, tmp_path: Path) -> None:
    atlas = Atlas(f"sqlite:///{tmp_path / 'a.db'}")
    for name in ("v1_gouwens2020", "berg2021"):
        import_dataset(atlas, name, shared_data / "patchseq" / FOLDERS[name])
    members = Q.dataset_members(atlas)
    per = members.groupby("dataset").size()
    berg = pd.read_csv(
        shared_data
        / "patchseq"
        / FOLDERS["berg2021"]
        / "human_IVSCC_excitatory_L23_consolidated_0131.csv"
    )
    assert per["berg2021"] == 518 and len(berg) == 385
    both = set(members.loc[members["dataset"] == "berg2021", "cell_id"]) & set(
        members.loc[members["dataset"] == "v1_gouwens2020", "cell_id"]
    )
    assert len(both) == 451  # Gouwens 2020 cells that Berg 2021 also published
    cell = sorted(both)[0]
    labels = Q.cell_labels(atlas, cell)
    assert set(labels["dataset"]) == {"v1_gouwens2020", "berg2021"}
    atlas.close()


def test_units_stated_in_column_names_are_kept(loaded: dict) -> None:
    m1 = loaded["m1_scala2021"].ephys
    unmapped = m1[m1["name"] == m1["native_name"]]
    stated = unmapped["native_name"].str.extract(r"\(([^()]+)\)\s*$", expand=False)
    spelled = {"MOhm": "MΩ", "mV*s": "mV·s"}
    # every feature whose column name states a unit carries it; the others carry none
    for native, unit, want in zip(unmapped["native_name"], unmapped["unit"], stated, strict=True):
        if isinstance(want, str):
            assert unit == spelled.get(want, want), native
        else:
            assert unit is None, native
    assert (unmapped.loc[unmapped["native_name"] == "AP width (ms)", "unit"] == "ms").all()
    assert stated.notna().sum() > 0
