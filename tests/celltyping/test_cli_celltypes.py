"""`patchatlas celltypes` on small synthetic inputs: files written, atlas storage, errors."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from patchatlas.atlas import Atlas
from patchatlas.cli.main import cli
from patchatlas.datasets.synthetic_atlas import build_synthetic_atlas
from tests.celltyping.conftest import typed_features

matplotlib.use("Agg")


def _run(args: list[str]) -> str:
    res = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res.output


@pytest.fixture()
def table(tmp_path: Path) -> Path:
    x, y = typed_features(n_per=30, n_types=3, seed=4)
    x.insert(0, "t_type", [f"{t} a" for t in y])
    p = tmp_path / "features.csv"
    x.to_csv(p, index_label="cell")
    return p


def test_predict_ttype_writes_everything(table: Path, tmp_path: Path) -> None:
    out = tmp_path / "pred"
    text = _run(
        [
            "celltypes",
            "predict-ttype",
            "--data",
            str(table),
            "--level",
            "subclass",
            "--out",
            str(out),
            "--repeats",
            "1",
            "--folds",
            "3",
            "--min-cells",
            "10",
        ]
    )
    assert "balanced accuracy" in text
    for f in (
        "metrics.csv",
        "scaling.csv",
        "summary.csv",
        "differences.csv",
        "confusion.csv",
        "per_class.csv",
        "calibration.csv",
        "predictions.csv",
        "summary.md",
        "figures/confusion.png",
        "figures/embedding.png",
        "figures/scores.png",
        "figures/calibration.png",
    ):
        assert (out / f).is_file(), f
    m = pd.read_csv(out / "metrics.csv")
    assert set(m["model"]) == {"classifier", "majority", "shuffled", "reference_forest"}
    clf = m[m["model"] == "classifier"]["balanced_accuracy"].iloc[0]
    assert clf > 0.9 and m[m["model"] == "majority"]["balanced_accuracy"].iloc[0] == 1 / 3
    conf = pd.read_csv(out / "confusion.csv").set_index("true")
    assert conf.to_numpy().sum() == 90


def test_cluster_and_store_in_atlas(tmp_path: Path) -> None:
    syn = build_synthetic_atlas(
        f"sqlite:///{tmp_path / 'a.db'}",
        tmp_path / "files",
        n_cells=60,
        n_trace_cells=0,
        n_swc_cells=0,
        n_pairs=0,
        seed=2,
    )
    out = tmp_path / "e"
    _run(
        [
            "celltypes",
            "cluster",
            "--data",
            syn.url,
            "--kind",
            "e",
            "--out",
            str(out),
            "--max-clusters",
            "5",
            "--resamples",
            "3",
            "--atlas",
            syn.url,
            "--name",
            "etypes",
        ]
    )
    types = pd.read_csv(out / "types.csv")
    assert len(types) == 60 and types["type"].str.startswith("e").all()
    for f in (
        "selection.csv",
        "stability.csv",
        "contingency.csv",
        "effect_sizes.csv",
        "separation.csv",
        "figures/bic.png",
        "figures/embedding.png",
    ):
        assert (out / f).is_file(), f
    _run(
        [
            "celltypes",
            "predict-ttype",
            "--data",
            syn.url,
            "--level",
            "subclass",
            "--out",
            str(tmp_path / "p"),
            "--repeats",
            "1",
            "--folds",
            "3",
            "--min-cells",
            "5",
            "--no-figures",
            "--no-reference-forest",
            "--shuffled-repeats",
            "0",
            "--atlas",
            syn.url,
        ]
    )
    with Atlas(syn.url, mode="r") as atlas:
        got = atlas.cell_types()
    assert set(got["kind"]) == {"e", "t"}
    e = got[got["kind"] == "e"].set_index("cell")["label"]
    pd.testing.assert_series_equal(
        e.sort_index(), types.set_index("cell")["type"].sort_index(), check_names=False
    )
    t = got[got["kind"] == "t"]
    assert len(t) == 60 and t["confidence"].between(0, 1).all()


def test_bad_input_fails_cleanly(tmp_path: Path) -> None:
    res = CliRunner().invoke(
        cli,
        ["celltypes", "predict-ttype", "--data", str(tmp_path / "nope"), "--out", str(tmp_path)],
    )
    assert res.exit_code != 0
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"a": [1.0, 2.0]}, index=["x", "y"]).to_csv(bad)
    from patchatlas.cli.main import main

    with pytest.raises(SystemExit) as exc:
        main(["celltypes", "predict-ttype", "--data", str(bad), "--out", str(tmp_path / "o")])
    assert exc.value.code == 2


def test_map_ttype_with_a_query(tmp_path: Path) -> None:
    anndata = pytest.importorskip("anndata")
    from tests.celltyping.test_mapping import counts

    x, t, genes = counts(n_per=20)
    fam = np.array([s[0] for s in t])
    ref = anndata.AnnData(X=x[::2], obs=pd.DataFrame({"t_type": t[::2], "family": fam[::2]}))
    ref.var_names, ref.obs_names = genes, [f"r{i}" for i in range(40)]
    q = anndata.AnnData(X=x[1::2])
    q.var_names, q.obs_names = genes, [f"q{i}" for i in range(40)]
    ref.write_h5ad(tmp_path / "ref.h5ad")
    q.write_h5ad(tmp_path / "q.h5ad")
    out = tmp_path / "map"
    _run(
        [
            "celltypes",
            "map-ttype",
            "--reference",
            str(tmp_path / "ref.h5ad"),
            "--query",
            str(tmp_path / "q.h5ad"),
            "--out",
            str(out),
            "--n-markers",
            "10",
            "--n-bootstrap",
            "20",
        ]
    )
    m = pd.read_csv(out / "mapping.csv").set_index("cell")
    assert (m["t_type"].to_numpy() == t[1::2]).mean() > 0.9
    qc = pd.read_csv(out / "qc.csv")
    assert {"quality", "contamination", "on_type_nms"} <= set(qc.columns) and len(qc) == 40
