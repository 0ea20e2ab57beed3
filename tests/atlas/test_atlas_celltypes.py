"""Stored cell-type assignments (revision 0006) on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from patchatlas.atlas import Atlas, AtlasError
from patchatlas.atlas import celltypes as CT
from patchatlas.atlas.portal import data_version
from patchatlas.datasets.synthetic_atlas import build_synthetic_atlas


@pytest.fixture
def atlas(atlas_url: str, tmp_path: Path) -> Atlas:
    build_synthetic_atlas(
        atlas_url, tmp_path / "files", n_cells=30, n_trace_cells=0, n_swc_cells=0, n_pairs=0
    )
    return Atlas(atlas_url)


def test_store_read_replace(atlas: Atlas) -> None:
    cells = list(atlas.cells().index)
    before = data_version(atlas)
    a = pd.DataFrame(
        {
            "cell": [*cells[:20], "not-a-cell"],
            "label": ["e1"] * 12 + ["e2"] * 8 + ["e3"],
            "confidence": np.r_[np.linspace(0.5, 1.0, 20), 0.9],
        }
    )
    out = atlas.store_cell_types(
        a,
        name="e-types",
        kind="e",
        level="cluster",
        method="gmm",
        model={"class": "GaussianMixtureTypes", "max_clusters": 20},
        scores={"mean_ari": 0.61},
    )
    assert out["n_stored"] == 20 and out["n_unknown"] == 1 and out["unknown"] == ["not-a-cell"]
    assert data_version(atlas) != before
    runs = CT.cell_type_runs(atlas)
    assert list(runs["name"]) == ["e-types"] and runs.loc[0, "n_cells"] == 20
    assert runs.loc[0, "model"]["max_clusters"] == 20 and runs.loc[0, "scores"]["mean_ari"] == 0.61
    got = atlas.cell_types("e-types")
    assert list(got.columns) == list(CT.ASSIGNMENT_COLUMNS) and len(got) == 20
    assert got.set_index("cell").loc[cells[0], "confidence"] == pytest.approx(0.5)
    one = atlas.cell_types(cell=cells[15])
    assert list(one["label"]) == ["e2"] and one["kind"].iloc[0] == "e"
    summ = CT.type_summary(atlas, "e-types")
    assert list(summ["label"]) == ["e1", "e2"] and list(summ["n_cells"]) == [12, 8]
    # a second kind; then the first run replaced
    atlas.store_cell_types(
        pd.DataFrame({"label": ["Sst"] * 5}, index=pd.Index(cells[:5], name="cell")),
        name="ttype-from-ephys",
        kind="t",
        level="subclass",
        method="ttype_classifier",
    )
    atlas.store_cell_types(a.iloc[:3], name="e-types", kind="e", level="cluster", method="gmm")
    assert len(atlas.cell_types("e-types")) == 3
    assert len(atlas.cell_types()) == 8
    wide = CT.cell_type_columns(atlas)
    assert list(wide.columns) == ["e_type", "m_type", "me_type", "t_type_predicted"]
    assert wide.loc[cells[0], "e_type"] == "e1" and wide.loc[cells[4], "t_type_predicted"] == "Sst"
    assert pd.isna(wide.loc[cells[4], "e_type"])


def test_errors(atlas: Atlas, atlas_url: str) -> None:
    cells = list(atlas.cells().index)
    ok = pd.DataFrame({"cell": cells[:2], "label": ["a", "b"]})
    with pytest.raises(AtlasError, match="kind"):
        atlas.store_cell_types(ok, name="x", kind="z", level="type", method="m")
    with pytest.raises(AtlasError, match="label"):
        atlas.store_cell_types(ok[["cell"]], name="x", kind="t", level="type", method="m")
    with pytest.raises(AtlasError, match="none of the"):
        atlas.store_cell_types(
            pd.DataFrame({"cell": ["nope"], "label": ["a"]}),
            name="x",
            kind="t",
            level="type",
            method="m",
        )
    with pytest.raises(AtlasError, match="no cell-type run"):
        atlas.cell_types("missing")
    assert atlas.cell_types().empty and CT.cell_type_columns(atlas).empty
    ro = Atlas(atlas_url, mode="r")
    with pytest.raises(AtlasError, match="read-only"):
        ro.store_cell_types(ok, name="x", kind="t", level="type", method="m")
