"""Stored expression → physiology results: a small real benchmark run round-trips the atlas."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from patchatlas.atlas import Atlas, AtlasError
from patchatlas.atlas.crossmodal import (
    crossmodal_predictions,
    crossmodal_runs,
    crossmodal_scores,
    store_crossmodal,
)


def _cohort(n: int = 90, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    types = np.repeat(["A", "B", "C"], n // 3)
    f = pd.DataFrame(
        {
            "ap_width_ms": rng.normal(size=n) + (types == "A"),
            "rin": rng.normal(size=n),
            "tau": rng.normal(size=n),
        },
        index=[f"cell{i}" for i in range(n)],
    )
    return f, types


@pytest.fixture(scope="module")
def report():  # type: ignore[no-untyped-def]
    from patchatlas.crossmodal import run_benchmark
    from patchatlas.datasets import synthetic_patchseq

    f, types = _cohort()
    ds = synthetic_patchseq(f, 1, types=types)
    rep = run_benchmark(
        ds,
        specs=["single_cell:ridge", "type_average:ridge", "type_lookup", "global_mean"],
        n_repeats=2,
        n_folds=3,
        n_boot=50,
    )
    return rep, list(ds.ephys.index)


def test_store_report_round_trip(tmp_path: Path, report) -> None:  # type: ignore[no-untyped-def]
    rep, cells = report
    atlas = Atlas(tmp_path / "a.db")
    rid = atlas.store_crossmodal(rep, cells=cells)
    runs = crossmodal_runs(atlas)
    assert runs["id"].tolist() == [rid] and runs["dataset"].iloc[0] == "synthetic"
    got = crossmodal_scores(atlas)
    want = rep.scores
    assert len(got) == len(want) == 4 * 3 * 2  # specs × features × repeats
    merged = got.merge(want, on=["regime", "model", "feature", "repeat"], suffixes=("", "_w"))
    assert len(merged) == len(want)
    np.testing.assert_allclose(merged["r2"], merged["r2_w"], equal_nan=True)
    np.testing.assert_allclose(merged["within_type_r2"], merged["within_type_r2_w"], equal_nan=True)
    pred = crossmodal_predictions(atlas, feature="ap_width_ms", regime="single_cell", model="ridge")
    assert len(pred) == len(cells) and pred["cell"].tolist() == cells
    # predictions are repeat 0 of the out-of-fold predictions: their R² is that repeat's score
    obs, hat = pred["observed"].to_numpy(), pred["predicted"].to_numpy()
    r2 = 1 - ((obs - hat) ** 2).sum() / ((obs - obs.mean()) ** 2).sum()
    s = want[
        (want["regime"] == "single_cell")
        & (want["feature"] == "ap_width_ms")
        & (want["repeat"] == 0)
    ]
    assert r2 == pytest.approx(float(s["r2"].iloc[0]), abs=1e-9)
    # storing again under the same name replaces the run
    atlas.store_crossmodal(rep, cells=cells)
    assert len(crossmodal_runs(atlas)) == 1
    assert len(crossmodal_scores(atlas)) == len(want)


def test_import_results_dir_through_cli(tmp_path: Path, report) -> None:  # type: ignore[no-untyped-def]
    from click.testing import CliRunner

    from patchatlas.cli.main import cli
    from patchatlas.crossmodal import prediction_table

    rep, cells = report
    out = tmp_path / "res"
    out.mkdir()
    cols = ["dataset", "regime", "model", "feature", "repeat", "r2", "r", "within_type_r2"]
    rep.scores[cols].to_csv(out / "results.csv", index=False)
    url = f"sqlite:///{tmp_path / 'b.db'}"
    r = CliRunner().invoke(cli, ["atlas", "import-crossmodal", str(out), "--atlas", url])
    assert r.exit_code == 0, r.output
    atlas = Atlas(url)
    assert len(crossmodal_scores(atlas)) == len(rep.scores)
    assert crossmodal_predictions(atlas).empty
    prediction_table(rep.result, cells=cells).to_csv(out / "predictions.csv", index=False)
    r = CliRunner().invoke(
        cli, ["atlas", "import-crossmodal", str(out), "--atlas", url, "--name", "with_pred"]
    )
    assert r.exit_code == 0, r.output
    assert crossmodal_runs(atlas)["name"].tolist() == ["synthetic", "with_pred"]
    assert len(crossmodal_predictions(atlas, "with_pred")) == len(cells) * 3 * 4
    with pytest.raises(AtlasError, match="no crossmodal run"):
        crossmodal_scores(atlas, "nope")


def test_store_rejects_a_table_without_scores(tmp_path: Path) -> None:
    atlas = Atlas(tmp_path / "c.db")
    with pytest.raises(AtlasError, match="lacks columns"):
        store_crossmodal(atlas, pd.DataFrame({"feature": ["x"], "value": [1.0]}))
    assert crossmodal_runs(atlas).empty
