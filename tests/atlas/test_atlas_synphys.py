"""Multipatch experiments through the ingest pipeline (local worker pool) into PostgreSQL: the
stored pairs and calls are the engine's, resumable (SQLite: tests/synphys/test_atlas_cli_web.py)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from patchatlas.atlas import Atlas
from patchatlas.atlas import synphys as SA
from patchatlas.datasets.demo_synphys import simulate_multipatch
from patchatlas.io.multipatch import write_multipatch
from patchatlas.pipeline import ingest
from patchatlas.synphys import analyze, connectivity_matrix


@pytest.mark.postgres
def test_multipatch_ingest_into_postgres(pg_url: str, tmp_path: Path) -> None:
    atlas_url = pg_url
    folder = tmp_path / "data"
    folder.mkdir()
    direct = {}
    for seed in (1, 2):
        exp, _truth = simulate_multipatch(sweeps_per_cell=2, seed=seed, name=f"sim{seed}")
        write_multipatch(exp, folder / f"sim{seed}.mpx")
        direct[f"sim{seed}"] = analyze(exp).pairs
    Atlas(atlas_url, mode="w").close()
    summary = ingest(folder, atlas_url, engines=["synphys"], workers=2)
    assert (summary.done, summary.failed) == (2, 0), summary.failures
    with Atlas(atlas_url, mode="r") as atlas:
        ex = SA.experiments(atlas).set_index("name")
        pairs = SA.synphys_pairs(atlas)
        meas = SA.pair_detail(atlas, int(pairs["pair_id"].iloc[0]))["measurements"]
    assert sorted(ex.index) == ["sim1", "sim2"] and (ex["n_pairs"] == 12).all()
    assert len(pairs) == 24 and pairs["probed"].all()
    for name, res in direct.items():
        # what the atlas holds is what the engine computed (calls, counts, kinetics)
        got = pairs[pairs["pre_cell"].str.startswith(f"{name}/")].copy()
        got["pre"] = got["pre_cell"].str.split("/").str[1]
        got["post"] = got["post_cell"].str.split("/").str[1]
        got = got.set_index(["pre", "post"]).sort_index()
        want = res.set_index(["pre", "post"]).sort_index()
        assert got.index.tolist() == want.index.tolist()
        for col in ("connected", "synapse_type", "n_ex_test_spikes", "n_in_test_spikes"):
            assert got[col].tolist() == want[col].tolist(), col
        assert int(ex.loc[name, "n_connected"]) == int(want["connected"].fillna(False).sum())
    assert len(meas) and meas["unit"].notna().all()
    # the class x class matrix from the stored calls counts every stored pair once
    m = connectivity_matrix(pairs, by="subclass")
    assert int(m["n_tested"].sum()) == 24
    assert int(m["n_connected"].sum()) == int(pairs["connected"].fillna(False).sum())
    # resumable: nothing changed, nothing recomputed
    again = ingest(folder, atlas_url, engines=["synphys"])
    assert (again.done, again.skipped) == (0, 2)
    with Atlas(atlas_url, mode="r") as atlas:
        pd.testing.assert_frame_equal(
            SA.synphys_pairs(atlas).drop(columns=["pair_id"]).reset_index(drop=True),
            pairs.drop(columns=["pair_id"]).reset_index(drop=True),
        )
