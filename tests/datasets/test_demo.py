"""The demo workflow: simulated cells written as NWB 2 and read back through patchatlas.read."""

from __future__ import annotations

import pytest

from patchatlas.datasets.demo import DEMO_STEPS, run_demo
from patchatlas.ephys import StimulusKind


def test_demo_simulates_writes_and_reads_back(tmp_path):
    seen = []
    result = run_demo(tmp_path / "demo", n_cells=2, seed=3, report=lambda s: seen.append(s.name))
    assert seen == ["dataset", "recordings", *(name for name, _ in DEMO_STEPS)]
    assert seen[2:6] == ["ephys", "morphology", "atlas", "crossmodal"]
    assert len(result.files) == 2 and all(p.suffix == ".nwb" and p.exists() for p in result.files)
    assert not result.failed
    assert [r.format for r in result.recordings] == ["nwb2", "nwb2"]
    for rec in result.recordings:
        kinds = {s.stimulus.kind for s in rec}
        assert {StimulusKind.LONG_SQUARE, StimulusKind.SHORT_SQUARE, StimulusKind.RAMP} <= kinds
        longs = rec.select(kind="long_square")
        assert len(longs) >= 10 and all(s.stimulus.start > 1.0 for s in longs)

    feats = result.cell_features
    assert list(feats.index) == [r.cell_id for r in result.recordings]
    # the RS and FS presets: both spike, and the FS cell gains more rate per pA
    rs, fs = feats.iloc[0], feats.iloc[1]
    assert rs["rheobase_sweep_num"] >= 0 and fs["rheobase_sweep_num"] >= 0
    assert fs["f_i_curve_slope"] > rs["f_i_curve_slope"]
    assert -80 < rs["vrest"] < -60 and rs["ri"] > 50
    pngs = [p for p in result.figures if p.suffix == ".png"]
    assert all(p.stat().st_size > 10_000 for p in pngs)
    assert len([p for p in pngs if p.name.endswith("_ephys.png")]) == 2  # one per cell
    assert "morphologies.png" in {p.name for p in pngs}
    morph = result.morphology_features
    assert len(morph) == 4 and (morph["total_length"] > 1000).all()
    assert (morph["issues"] == 0).all()
    from patchatlas.atlas import Atlas

    atlas = Atlas(result.atlas_url)
    cells = atlas.cells()
    multipatch = cells["dataset"] == "sim_multipatch"  # the synphys step's simulated cells
    assert int(multipatch.sum()) == 4
    assert sorted(cells.index[~multipatch]) == sorted(r.cell_id for r in result.recordings)
    stored = atlas.ephys_features(level="cell")
    assert stored.loc[feats.index[0], "vrest"] == pytest.approx(feats.iloc[0]["vrest"])
    assert result.atlas_summary["counts"]["morphologies"] == 2
    xm = result.crossmodal.set_index("regime")
    # features drive the synthetic expression, so prediction beats the global mean
    assert xm.loc["single_cell", "r2"] > 0.3 > xm.loc["global_mean", "r2"]
    stored = Atlas(result.atlas_url).summary()["counts"]
    assert stored.get("crossmodal_scores", 0) > 0  # the portal's expression → physiology page
    # a small biophysical model fitted to the first cell, stored for the portal's Models page
    step = next(s for s in result.steps if s.name == "biophys")
    assert step.ok and step.payload.provenance["evaluations"] == 32
    assert set(step.payload.parameters) == {
        "gbar_NaTs.soma",
        "gbar_Kv3_1.soma",
        "gbar_Im.soma",
        "g_pas.soma",
    }
    # the models table also holds the GLIF step's fits: one biophysical model, on the first cell
    bio = Atlas(result.atlas_url).models(kind="biophysical")
    assert list(bio["cell_id"]) == [result.recordings[0].cell_id]
    # cell typing: the classifier beats both baselines on the synthetic cohort, and the demo
    # cells (atlas cells) get stored t- and e-types for the portal's Cell types page
    step = next(s for s in result.steps if s.name == "celltyping")
    assert step.ok, step.error
    pred = step.payload["prediction"]
    ba = pred.metric()
    assert ba > pred.metric("shuffled") + 0.2 and ba > pred.metric("majority") + 0.2
    assert step.payload["etypes"].n_types >= 1
    types = Atlas(result.atlas_url).cell_types()
    demo_cells = sorted(r.cell_id for r in result.recordings)
    for kind in ("t", "e"):
        assert sorted(types.loc[types["kind"] == kind, "cell"]) == demo_cells
    assert not types["cell"].str.startswith("syn_").any()  # the synthetic cohort is not stored


def test_demo_on_real_folder(tmp_path, ephys_data):
    result = run_demo(tmp_path / "out", data_dir=ephys_data / "nwb")
    assert len(result.recordings) == 1 and len(result.recordings[0]) == 16
