"""Ingest of real ABF recordings: folders, manifests, idempotence, corrupt files, engines, CLI."""

from __future__ import annotations

import dataclasses
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

LEVELS = ("cell", "sweep", "spike")

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
    """The stored cell features are the cell record (registry names); the record's bookkeeping
    (sweep counts) is not stored as features."""
    from patchatlas.ephys import cell_features
    from patchatlas.ephys.analysis import BOOKKEEPING

    f = abf_dir / "17o05028_ic_steps.abf"
    url = f"sqlite:///{tmp_path / 'a.db'}"
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / f.name).symlink_to(f)
    assert ingest(tmp_path / "d", url).done == 1
    stored = Atlas(url).ephys_features().loc["17o05028_ic_steps"]
    expected = cell_features(patchatlas.read(f), profile="allen")
    assert not set(BOOKKEEPING) & set(stored.index)
    for k, v in expected.items():
        if k in BOOKKEEPING:
            continue
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


def test_ephys_engine_stores_the_analysis_exactly(
    abf_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The engine stores :func:`patchatlas.ephys.analyze`'s result as it is: the same rows
    (registry names, units, spike window flags) at every level; a sweep the analysis cannot
    use keeps the recording and is a failed ``analysis`` QC row; a new engine version
    recomputes; ``features=False`` stores recordings only."""

    import patchatlas.ephys.analysis as analysis

    real = analysis.analyze

    def broken_first_sweep(rec: Any, **kw: Any) -> Any:
        if "ramp" in str(rec.source):  # NaN inside the window: a data problem in one sweep
            first = rec.sweeps[0]
            rec.sweeps[0] = dataclasses.replace(first, v=np.full(first.n_samples, np.nan))
        return real(rec, **kw)

    monkeypatch.setattr(analysis, "analyze", broken_first_sweep)
    d = tmp_path / "d"
    d.mkdir()
    for name in ("17o05028_ic_steps.abf", "17o05027_ic_ramp.abf"):
        (d / name).symlink_to(abf_dir / name)
    url = f"sqlite:///{tmp_path / 'a.db'}"
    s = ingest(d, url, params={"ephys": {"profile": "allen"}})
    assert (s.done, s.failed) == (2, 0)
    atlas = Atlas(url)
    expected = real(patchatlas.read(d / "17o05028_ic_steps.abf")).features()
    stored = pd.concat(
        [atlas.ephys_features(lv, wide=False, cells=["17o05028_ic_steps"]) for lv in LEVELS],
        ignore_index=True,
    )
    key = ["level", "sweep_number", "spike_index", "name"]

    def keyed(df: pd.DataFrame) -> pd.DataFrame:
        nums = {c: pd.to_numeric(df[c], errors="coerce").astype(float) for c in key[1:3]}
        return df.assign(**nums).set_index(key)

    got, want = keyed(stored), keyed(expected)
    assert len(got) == len(want) and got.index.sort_values().equals(want.index.sort_values())
    got = got.loc[want.index]
    np.testing.assert_allclose(got["value"], want["value"].astype(float), equal_nan=True)
    assert list(got["unit"]) == list(want["unit"])
    spk = want.index.get_level_values("level") == "spike"
    assert list(got["in_window"][spk].astype(bool)) == list(want["in_window"][spk].astype(bool))
    info = atlas.cell("17o05027_ic_ramp")
    assert info["n_recordings"] == 1 and info["n_qc_results"] > 0
    from patchatlas.atlas import portal

    qc = portal.qc(atlas, "17o05027_ic_ramp")
    bad = qc[qc["check"] == "analysis"]
    assert len(bad) == 1 and bad["passed"].iloc[0] == False  # noqa: E712
    assert "NaN" in bad["message"].iloc[0]
    # a new engine version (what the engine computes changed) changes every cell's content
    # key: a plain re-run recomputes
    import patchatlas.pipeline.engines as engines

    monkeypatch.setattr(engines, "_ephys_version", lambda: "ephys/test-next")
    assert ingest(d, url).done == 2
    # features=False: recordings and sweep metadata only
    url2 = f"sqlite:///{tmp_path / 'b.db'}"
    assert ingest(d, url2, params={"ephys": {"features": False}}).done == 2
    assert Atlas(url2).summary()["counts"]["ephys_features"] == 0
    assert Atlas(url2).summary()["counts"]["sweeps"] == atlas.summary()["counts"]["sweeps"]


def test_morphology_engine_and_multimodal_manifest(
    abf_dir: Path, shared_data: Path, tmp_path: Path
) -> None:
    """One cell with a recording and a reconstruction: both engines run and are stored together;
    the stored morphology features and issues are the engine's."""
    from patchatlas import morphology

    swc = sorted((shared_data / "morphology" / "allen_swc").glob("*.swc"))[0]
    m = patchatlas.read(swc)
    expected = morphology.features(m, convention="allen")

    manifest = tmp_path / "cells.yaml"
    manifest.write_text(
        "- cell_id: c1\n"
        f"  files: [{abf_dir / '17o05028_ic_steps.abf'}]\n"
        f"  morphology: {swc}\n"
        "  species: mouse\n",
        encoding="utf-8",
    )
    url = f"sqlite:///{tmp_path / 'a.db'}"
    s = ingest(manifest, url)
    assert (s.done, s.failed) == (1, 0)
    atlas = Atlas(url)
    morph = atlas.morphology("c1")
    finite = {k: v for k, v in expected.items() if math.isfinite(v)}
    assert set(finite) <= set(morph.features.index)
    for k, v in finite.items():
        assert morph.features[k] == pytest.approx(v), k
    assert morph.source == str(swc)
    assert len(morph.issues) == len(morphology.validate(m))
    assert len(morph.load()) == len(m)
    info = atlas.cell("c1")
    assert sorted(f["role"] for f in info["files"]) == ["ephys", "morphology"]
    assert info["n_recordings"] == 1 and info["n_morphologies"] == 1
    # re-ingest with another convention replaces the morphology, keeps one recording
    assert ingest(manifest, url, params={"morphology": {"convention": "neurom"}}).done == 1
    assert atlas.cell("c1")["n_morphologies"] == 1
    assert atlas.cell("c1")["n_recordings"] == 1
