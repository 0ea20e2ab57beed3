"""Store and query API on both engines (SQLite and PostgreSQL), with records built in the test."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from patchatlas.atlas import Atlas, AtlasError, MissingDependencyError
from patchatlas.atlas.records import (
    CellFailure,
    CellRecord,
    EngineOutput,
    FileRecord,
    MorphologyRecord,
    RecordingRecord,
)


def _sweeps(n: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "number": np.arange(n),
            "clamp_mode": ["current_clamp"] * n,
            "kind": ["long_square"] * n,
            "amplitude_pa": np.linspace(-100, 100, n),
            "start_s": [0.1] * n,
            "end_s": [1.1] * n,
            "sampling_rate_hz": [20000.0] * n,
            "duration_s": [1.5] * n,
            "stimulus_name": ["step"] * n,
        }
    )


def _features(values: dict[str, float], sweep_values: dict[int, dict[str, float]]) -> pd.DataFrame:
    rows = [
        {"level": "cell", "name": k, "value": v, "unit": "mV" if k == "vrest" else None}
        for k, v in values.items()
    ]
    for sweep, d in sweep_values.items():
        rows += [
            {"level": "sweep", "recording": 0, "sweep_number": sweep, "name": k, "value": v}
            for k, v in d.items()
        ]
    return pd.DataFrame(rows)


def _record(name: str, vrest: float, *, n_sweeps: int = 3, **meta: object) -> CellRecord:
    feats = _features(
        {"vrest": vrest, "ri": 150.0 + vrest, "tau": math.nan, "rheobase_sweep_num": 2},
        {0: {"avg_rate": 0.0}, 2: {"avg_rate": 12.5}},
    )
    return CellRecord(
        name=name,
        metadata=dict(meta),
        files=[FileRecord(path=f"/data/{name}.abf", size=10, sha256="ab" * 32, format="abf")],
        outputs=[
            EngineOutput(
                engine="ephys",
                parameters={"profile": "allen"},
                recordings=[RecordingRecord(0, "abf2", _sweeps(n_sweeps), {"protocol": "steps"})],
                features=feats,
                qc=pd.DataFrame(
                    [{"sweep_number": 0, "check": "seal", "passed": True, "value": 1.2}]
                ),
            )
        ],
        content_key=f"key-{name}",
    )


def test_write_and_query_cells(atlas_url: str) -> None:
    atlas = Atlas(atlas_url)
    atlas.write_cell(
        _record(
            "c1",
            -70.0,
            species="mouse",
            layer="5",
            depth_um="512.5",
            cre_line="Sst-IRES-Cre",
            donor="m1",
            donor_sex="F",
            t_type="Sst Chodl",
            t_type_confidence=0.91,
            slice="s3",
        )
    )
    atlas.write_cell(_record("c2", -65.0, species="human", layer="2/3", donor="h1"))
    atlas.write_cell(_record("c3", -60.0, species="mouse", layer="6", donor="m1"))

    cells = atlas.cells()
    assert list(cells.index) == ["c1", "c2", "c3"]
    assert cells.loc["c1", "depth_um"] == pytest.approx(512.5)
    assert cells.loc["c1", "t_type_confidence"] == pytest.approx(0.91)
    assert cells.loc["c3", "donor"] == "m1"
    assert list(atlas.cells(species="mouse").index) == ["c1", "c3"]
    assert list(atlas.cells(layer=["2/3", "6"]).index) == ["c2", "c3"]
    assert list(atlas.cells(species="mouse", layer="6").index) == ["c3"]
    assert list(atlas.cells(cre_line=None).index) == ["c2", "c3"]
    assert atlas.summary()["counts"]["donors"] == 2  # m1 stored once

    info = atlas.cell("c1")
    assert info["donor"]["sex"] == "F"
    assert info["metadata"]["slice"] == "s3"
    assert info["n_recordings"] == 1 and info["n_qc_results"] == 1
    assert info["files"][0]["sha256"] == "ab" * 32
    assert atlas.cell(info["id"])["cell_id"] == "c1"

    with pytest.raises(AtlasError, match="unknown filter 'colour'"):
        atlas.cells(colour="red")
    with pytest.raises(AtlasError, match="no cell 'nope'"):
        atlas.cell("nope")


def test_features_long_and_wide(atlas_url: str) -> None:
    atlas = Atlas(atlas_url)
    atlas.write_cell(_record("a", -70.0))
    atlas.write_cell(_record("b", -60.0))

    wide = atlas.ephys_features()
    assert list(wide.index) == ["a", "b"]
    assert wide.loc["a", "vrest"] == -70.0
    assert wide.loc["b", "ri"] == 90.0
    assert wide.loc["a", "rheobase_sweep_num"] == 2.0
    assert math.isnan(wide.loc["a", "tau"])  # NaN survives the round trip as missing

    long = atlas.ephys_features("cell", wide=False)
    assert set(long.columns) >= {"cell_id", "name", "value", "unit", "provenance_id"}
    assert long.loc[long["name"] == "vrest", "unit"].tolist() == ["mV", "mV"]
    assert long["provenance_id"].notna().all()

    sweep = atlas.ephys_features("sweep", wide=False)
    got = sweep[(sweep.cell_id == "b") & (sweep.sweep_number == 2)]["value"].tolist()
    assert got == [12.5]
    sweep_wide = atlas.ephys_features("sweep", wide=True)
    # sweeps are keyed by recording too (a cell with several files repeats sweep numbers)
    assert sweep_wide.index.names == ["cell_id", "recording_id", "sweep_number"]
    assert sweep_wide.loc["a"].xs(2, level="sweep_number")["avg_rate"].item() == 12.5
    assert list(atlas.ephys_features(cells=["b"], names=["vrest"])["vrest"]) == [-60.0]
    with pytest.raises(AtlasError):
        atlas.ephys_features("session")  # type: ignore[arg-type]


def test_rewrite_replaces_engine_rows_and_keeps_others(atlas_url: str) -> None:
    from sqlalchemy import text

    atlas = Atlas(atlas_url)
    atlas.write_cell(_record("a", -70.0, n_sweeps=3))
    # a published-table import adds a feature under another engine's provenance
    imported = CellRecord(
        name="a",
        outputs=[
            EngineOutput(
                engine="import:paper",
                features=pd.DataFrame(
                    [{"level": "cell", "name": "sag", "value": 0.2, "native_name": "Sag"}]
                ),
            )
        ],
    )
    atlas.write_cell(imported)
    atlas.write_cell(_record("a", -72.0, n_sweeps=5))  # re-ingest: replaces the ephys rows only

    wide = atlas.ephys_features()
    assert wide.loc["a", "vrest"] == -72.0
    assert wide.loc["a", "sag"] == 0.2
    assert len(atlas.sweeps("a")) == 5
    counts = atlas.summary()["counts"]
    assert counts["cells"] == 1
    assert counts["recordings"] == 1
    assert counts["source_files"] == 1
    assert counts["qc_results"] == 1
    with atlas.engine.connect() as conn:
        n_vrest = conn.execute(
            text("SELECT count(*) FROM ephys_features WHERE name = 'vrest'")
        ).scalar_one()
    assert n_vrest == 1


def test_provenance_and_failures(atlas_url: str) -> None:
    from sqlalchemy import text

    from patchatlas import __version__

    atlas = Atlas(atlas_url)
    atlas.record_failure(CellFailure("x", "/data/x.abf", "ephys", "CorruptFileError", "truncated"))
    atlas.record_failure(CellFailure("x", "/data/x.abf", "ephys", "CorruptFileError", "again"))
    errs = atlas.errors()
    assert errs["reason"].tolist() == ["again"]  # one current row per failing cell
    atlas.write_cell(_record("x", -70.0))
    assert len(atlas.errors()) == 0  # stored → the failure is resolved
    with atlas.engine.connect() as conn:
        prov = conn.execute(text("SELECT engine, package_version, parameters FROM provenance"))
        rows = prov.all()
    assert rows[0].engine == "ephys"
    assert rows[0].package_version == __version__
    params = rows[0].parameters
    assert (params if isinstance(params, dict) else __import__("json").loads(params)) == {
        "profile": "allen"
    }


def test_morphology_store(atlas_url: str) -> None:
    atlas = Atlas(atlas_url)
    rec = CellRecord(
        name="m",
        files=[FileRecord("/data/m.swc", 5, "cd" * 32, "swc", role="morphology")],
        outputs=[
            EngineOutput(
                engine="morphology",
                morphologies=[
                    MorphologyRecord(
                        file_index=0,
                        features=pd.DataFrame(
                            [{"name": "total_length", "value": 1234.5, "unit": "µm"}]
                        ),
                        issues=pd.DataFrame(
                            [{"severity": "warning", "code": "zero_radius", "message": "node 4"}]
                        ),
                        convention="allen",
                        n_nodes=100,
                    )
                ],
            )
        ],
    )
    atlas.write_cell(rec)
    morph = atlas.morphology("m")
    assert morph.features["total_length"] == 1234.5
    assert morph.issues["code"].tolist() == ["zero_radius"]
    assert morph.source == "/data/m.swc"
    with pytest.raises(AtlasError, match="no morphology"):
        atlas.write_cell(_record("n", -70.0))
        atlas.morphology("n")


def test_export_tables(atlas_url: str, tmp_path: Path) -> None:
    atlas = Atlas(atlas_url)
    atlas.write_cell(_record("a", -70.0, species="mouse"))
    atlas.write_cell(_record("b", -60.0, species="rat"))
    files = atlas.export(tmp_path / "pq", format="parquet")
    names = {f.name for f in files}
    assert {"cells.parquet", "ephys_cell_features.parquet", "sweeps.parquet"} <= names
    cells = pd.read_parquet(tmp_path / "pq" / "cells.parquet")
    assert cells["cell_id"].tolist() == ["a", "b"]
    feats = pd.read_parquet(tmp_path / "pq" / "ephys_cell_features.parquet").set_index("cell_id")
    assert feats.loc["b", "vrest"] == -60.0
    atlas.export(tmp_path / "csv", format="csv")
    sweeps = pd.read_csv(tmp_path / "csv" / "sweeps.csv")
    assert len(sweeps) == 6
    with pytest.raises(AtlasError, match="not one of"):
        atlas.export(tmp_path / "x", format="xlsx")  # type: ignore[arg-type]


def test_export_anndata_and_nwb(tmp_path: Path) -> None:
    atlas = Atlas(tmp_path / "a.db")
    atlas.write_cell(_record("a", -70.0, species="mouse"))
    atlas.write_cell(_record("b", -60.0))
    ad = pytest.importorskip("anndata")
    (path,) = atlas.export(tmp_path / "atlas.h5ad", format="anndata")
    adata = ad.read_h5ad(path)
    assert list(adata.obs_names) == ["a", "b"]
    col = list(adata.var_names).index("vrest")
    assert adata.X[1, col] == -60.0


def test_export_nwb(tmp_path: Path) -> None:
    pytest.importorskip("pynwb")
    from pynwb import NWBHDF5IO

    atlas = Atlas(tmp_path / "a.db")
    atlas.write_cell(_record("a", -70.0, species="mouse"))
    (path,) = atlas.export(tmp_path / "atlas.nwb", format="nwb")
    with NWBHDF5IO(str(path), "r") as io:
        nwb = io.read()
        cells = nwb.processing["patchatlas"]["cells"].to_dataframe()
        feats = nwb.processing["patchatlas"]["ephys_cell_features"].to_dataframe()
    assert cells["cell_id"].tolist() == ["a"]
    assert feats["vrest"].tolist() == [-70.0]


def test_export_missing_dependency_is_clear(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    atlas = Atlas(tmp_path / "a.db")
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda n, *a: None if n == "anndata" else real(n, *a)
    )
    with pytest.raises(MissingDependencyError, match=r"needs anndata.*patchatlas\[anndata\]"):
        atlas.export(tmp_path / "x.h5ad", format="anndata")


def test_urls(tmp_path: Path) -> None:
    from patchatlas.atlas import normalize_url

    assert normalize_url(tmp_path / "x.db") == f"sqlite:///{tmp_path / 'x.db'}"
    assert normalize_url("postgresql://u@h/db").startswith("postgresql+psycopg://")
    with pytest.raises(AtlasError, match="not supported"):
        normalize_url("mysql://u@h/db")
    a = Atlas(tmp_path / "plain.db")  # a plain path means SQLite
    assert a.url.startswith("sqlite:///") and (tmp_path / "plain.db").exists()


def test_import_patchatlas_does_not_import_sqlalchemy() -> None:
    code = (
        "import sys, patchatlas; assert 'sqlalchemy' not in sys.modules; "
        "A = patchatlas.Atlas; assert 'sqlalchemy' in sys.modules; print(A.__name__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "Atlas"


def test_bulk_upsert_cells(atlas_url: str) -> None:
    from patchatlas.atlas.store import upsert_cells

    atlas = Atlas(atlas_url)
    first = {f"c{i:05d}": {"species": "mouse", "donor": f"d{i % 3}"} for i in range(6000)}
    with atlas.engine.begin() as conn:
        ids1 = upsert_cells(conn, first)
    second = {f"c{i:05d}": {"layer": "5", "note": "x"} for i in range(3000, 11000)}
    with atlas.engine.begin() as conn:
        ids2 = upsert_cells(conn, second)
    assert len(ids1) == 6000 and len(ids2) == 8000
    assert all(ids2[n] == ids1[n] for n in second if n in ids1)  # existing cells keep their id
    cells = atlas.cells()
    assert len(cells) == 11000 and cells.index.is_unique
    assert cells.loc["c03500", "species"] == "mouse" and cells.loc["c03500", "layer"] == "5"
    assert cells.loc["c00001", "layer"] is None and cells.loc["c10999", "species"] is None
    assert cells.loc["c00004", "donor"] == "d1"
    assert atlas.cell("c04000")["metadata"] == {"note": "x"}


def test_missing_sqlalchemy_gives_a_clear_cli_error(tmp_path: Path) -> None:
    code = (
        "import sys; sys.modules['sqlalchemy'] = None\n"
        "from patchatlas.cli.main import main\n"
        f"main(['atlas', 'info', {str(tmp_path / 'a.db')!r}])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 2, out.stderr
    assert "needs sqlalchemy" in out.stderr and "patchatlas[atlas]" in out.stderr
    assert "Traceback" not in out.stderr


def test_wide_view_prefers_computed_over_imported_values(atlas_url: str) -> None:
    """A cell with the same feature from the ephys engine and from an imported table: the long
    table keeps both with their source; the wide view shows the computed one, whatever the
    order they were stored in."""
    atlas = Atlas(atlas_url)
    imported = CellRecord(
        name="a",
        outputs=[
            EngineOutput(
                engine="import:paper",
                features=pd.DataFrame([{"level": "cell", "name": "vrest", "value": -99.0}]),
            )
        ],
    )
    atlas.write_cell(imported)  # the imported value first
    atlas.write_cell(_record("a", -70.0))
    long = atlas.ephys_features("cell", wide=False)
    vrest = long[long["name"] == "vrest"]
    assert sorted(vrest["source"]) == ["ephys", "import:paper"]
    assert atlas.ephys_features().loc["a", "vrest"] == -70.0
