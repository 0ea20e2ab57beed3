"""Ingest of real ABF recordings: folders, manifests, idempotence, corrupt files, engines, CLI."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import patchatlas
from patchatlas.atlas import Atlas
from patchatlas.atlas.records import EngineOutput
from patchatlas.pipeline import ENGINES, Engine, discover, ingest, register_engine

pytestmark = pytest.mark.shared_data


def _sweep_table(atlas: Atlas) -> pd.DataFrame:
    rows = []
    for name in atlas.cells().index:
        t = atlas.sweeps(name).table.drop(columns=["recording_id"])
        t.insert(0, "cell_id", name)
        rows.append(t)
    return pd.concat(rows, ignore_index=True)


def test_folder_ingest_is_idempotent_and_reports_corrupt_files(
    abf_folder: Path, atlas_url: str
) -> None:
    files = sorted(p for p in abf_folder.rglob("*.abf") if p.name != "corrupt.abf")
    seen: list[str] = []
    summary = ingest(abf_folder, atlas_url, progress=lambda ev, cell, n, tot: seen.append(ev))
    assert (summary.done, summary.skipped, summary.failed) == (len(files), 0, 1)
    assert seen.count("done") == len(files) and seen.count("failed") == 1

    atlas = Atlas(atlas_url)
    cells = atlas.cells()
    expected = {p.relative_to(abf_folder).with_suffix("").as_posix() for p in files}
    assert set(cells.index) == expected
    assert any(name.startswith("sub/") for name in cells.index)
    for p in files:
        name = p.relative_to(abf_folder).with_suffix("").as_posix()
        rec = patchatlas.read(p)
        sweeps = atlas.sweeps(name)
        assert len(sweeps) == len(rec)
        assert sweeps.table["kind"].tolist() == [s.stimulus.kind.value for s in rec]
        info = atlas.cell(name)
        assert info["files"][0]["path"] == str(p.absolute())
        assert info["files"][0]["size"] == p.stat().st_size

    errors = atlas.errors()
    assert errors["cell_name"].tolist() == ["corrupt"]
    assert errors["path"].iloc[0].endswith("corrupt.abf")
    assert "corrupt.abf" in errors["reason"].iloc[0]

    again = ingest(abf_folder, atlas_url)
    assert (again.done, again.skipped, again.failed) == (0, len(files), 1)
    assert len(atlas.errors()) == 1  # still one row for the still-corrupt file
    before = _sweep_table(atlas)

    redo = ingest(abf_folder, atlas_url, recompute=True)
    assert redo.done == len(files)
    pd.testing.assert_frame_equal(_sweep_table(atlas), before)
    assert atlas.summary()["counts"]["recordings"] == len(files)

    # repair the corrupt file: only it is ingested, and its error disappears
    (abf_folder / "corrupt.abf").unlink()
    (abf_folder / "corrupt.abf").symlink_to(files[0])
    fixed = ingest(abf_folder, atlas_url)
    assert (fixed.done, fixed.skipped, fixed.failed) == (1, len(files), 0)
    assert len(atlas.errors()) == 0


def test_lazy_sweeps_equal_the_file(abf_folder: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    ingest(abf_folder, url)
    atlas = Atlas(url)
    name = "17o05028_ic_steps"
    sweeps = atlas.sweeps(name)
    rec = patchatlas.read(next(abf_folder.rglob(f"{name}.abf")))
    assert sweeps._cache == {}  # nothing read yet
    s3 = sweeps[3]
    np.testing.assert_array_equal(s3.v, rec.sweep(3).v)
    assert [s.number for s in sweeps] == rec.sweep_numbers
    assert len(sweeps.load()) == len(rec)


def test_process_pool_gives_the_same_atlas(abf_folder: Path, tmp_path: Path) -> None:
    one, two = f"sqlite:///{tmp_path / 'one.db'}", f"sqlite:///{tmp_path / 'two.db'}"
    s1 = ingest(abf_folder, one, workers=1)
    s2 = ingest(abf_folder, two, workers=2)
    assert (s1.done, s1.failed) == (s2.done, s2.failed)
    t1 = _sweep_table(Atlas(one)).sort_values(["cell_id", "number"], ignore_index=True)
    t2 = _sweep_table(Atlas(two)).sort_values(["cell_id", "number"], ignore_index=True)
    pd.testing.assert_frame_equal(t1, t2)


def test_csv_and_yaml_manifests(abf_dir: Path, tmp_path: Path) -> None:
    steps, ramp = abf_dir / "17o05028_ic_steps.abf", abf_dir / "17o05027_ic_ramp.abf"
    fsi = abf_dir / "2019_07_24_0055_fsi.abf"
    manifest = tmp_path / "cells.csv"
    manifest.write_text(
        "cell_id,file,species,layer,depth_um,cre_line,t_type,t_type_confidence,donor,slice\n"
        f"cellA,{steps},mouse,5,412.5,Sst-IRES-Cre,Sst Chodl,0.8,mouse1,s1\n"
        f"cellA,{ramp},mouse,5,412.5,Sst-IRES-Cre,Sst Chodl,0.8,mouse1,s1\n"
        f"cellB,{fsi},mouse,2/3,,Pvalb-IRES-Cre,Pvalb Reln,,mouse1,s2\n"
        "cellC,missing.abf,mouse,4,,,,,mouse2,s3\n",
        encoding="utf-8",
    )
    url = f"sqlite:///{tmp_path / 'a.db'}"
    summary = ingest(manifest, url)
    assert (summary.done, summary.failed) == (2, 1)
    assert summary.failures[0].stage == "hash"
    assert summary.failures[0].path.endswith("missing.abf")

    atlas = Atlas(url)
    cells = atlas.cells()
    assert list(cells.index) == ["cellA", "cellB"]
    assert cells.loc["cellA", "depth_um"] == 412.5
    assert cells.loc["cellB", "t_type"] == "Pvalb Reln"
    assert math.isnan(cells.loc["cellB", "depth_um"])
    assert cells.loc["cellA", "donor"] == "mouse1"
    a = atlas.cell("cellA")
    assert a["n_recordings"] == 2 and a["metadata"]["slice"] == "s1"
    n_expected = len(patchatlas.read(steps)) + len(patchatlas.read(ramp))
    assert len(atlas.sweeps("cellA")) == n_expected

    yml = tmp_path / "cells.yaml"
    yml.write_text(
        f"cells:\n  - cell_id: cellY\n    files: [{fsi}]\n    species: human\n    layer: '3'\n",
        encoding="utf-8",
    )
    s = ingest(yml, url)
    assert s.done == 1
    assert atlas.cells(species="human").index.tolist() == ["cellY"]

    # a changed annotation changes the content key: the cell is re-stored, others skipped
    manifest.write_text(manifest.read_text().replace("Pvalb Reln", "Pvalb Vipr2"))
    s = ingest(manifest, url)
    assert (s.done, s.skipped) == (1, 1)
    assert atlas.cell("cellB")["t_type"] == "Pvalb Vipr2"


def test_discover_errors(tmp_path: Path) -> None:
    with pytest.raises(patchatlas.errors.ReadError, match="no such file"):
        discover(tmp_path / "nope")
    odd = tmp_path / "x.bin"
    odd.write_bytes(b"1")
    with pytest.raises(patchatlas.errors.ReadError, match="not a folder or a manifest"):
        discover(odd)
    bad = tmp_path / "m.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(patchatlas.errors.ReadError, match="needs a cell column"):
        discover(bad)


def _fake_compute(
    paths: Sequence[Path], file_indices: Sequence[int], params: Mapping[str, Any]
) -> EngineOutput:
    rows = [
        {"level": "cell", "name": "n_bytes", "value": float(p.stat().st_size) * params["scale"]}
        for p in paths
    ]
    return EngineOutput(engine="fake", parameters=dict(params), features=pd.DataFrame(rows))


@pytest.fixture
def fake_engine() -> Iterator[Engine]:
    eng = register_engine(
        Engine(
            name="fake",
            extensions=(".fake",),
            compute=_fake_compute,
            stores=("ephys_features",),
            version=lambda: "fake/1",
            defaults={"scale": 1.0},
        )
    )
    yield eng
    del ENGINES["fake"]


def test_registered_engine_runs_and_parameters_change_the_key(
    fake_engine: Engine, tmp_path: Path
) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "x.fake").write_bytes(b"12345")
    url = f"sqlite:///{tmp_path / 'a.db'}"
    assert ingest(tmp_path / "d", url).done == 1
    assert Atlas(url).ephys_features().loc["x", "n_bytes"] == 5.0
    assert ingest(tmp_path / "d", url).skipped == 1
    s = ingest(tmp_path / "d", url, params={"fake": {"scale": 2.0}})
    assert s.done == 1
    assert Atlas(url).ephys_features().loc["x", "n_bytes"] == 10.0


def test_ephys_engine_stores_features_when_available(abf_dir: Path, tmp_path: Path) -> None:
    """Runs once ``patchatlas.ephys.cell_features`` exists (the feature engine's branch)."""
    ephys = pytest.importorskip("patchatlas.ephys")
    cell_features = getattr(ephys, "cell_features", None)
    if cell_features is None:
        pytest.skip("patchatlas.ephys.cell_features is not available in this build")
    f = abf_dir / "17o05028_ic_steps.abf"
    url = f"sqlite:///{tmp_path / 'a.db'}"
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / f.name).symlink_to(f)
    assert ingest(tmp_path / "d", url).done == 1
    stored = Atlas(url).ephys_features().loc["17o05028_ic_steps"]
    expected = cell_features(patchatlas.read(f), profile="allen")
    for k, v in expected.items():
        try:
            fv = float(v)
        except (TypeError, ValueError):
            continue
        if math.isfinite(fv):
            assert stored[k] == pytest.approx(fv), k


def test_cli_ingest_info_export(abf_folder: Path, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from patchatlas.cli.main import cli

    url = f"sqlite:///{tmp_path / 'a.db'}"
    runner = CliRunner()
    res = runner.invoke(cli, ["ingest", str(abf_folder), "--atlas", url, "--workers", "2"])
    assert res.exit_code == 1, res.output  # one corrupt file → exit status 1
    assert "failed" in res.output and "corrupt.abf" in res.output
    n = len(list(abf_folder.rglob("*.abf"))) - 1
    assert f"{n + 1} │    {n} │       0 │      1" in res.output
    res = runner.invoke(cli, ["atlas", "info", url])
    assert res.exit_code == 0, res.output
    assert "sweeps" in res.output and "cells" in res.output
    res = runner.invoke(cli, ["atlas", "export", url, str(tmp_path / "out"), "--format", "csv"])
    assert res.exit_code == 0, res.output
    assert len(pd.read_csv(tmp_path / "out" / "cells.csv")) == n
    res = runner.invoke(cli, ["atlas", "errors", url])
    assert "corrupt" in res.output
