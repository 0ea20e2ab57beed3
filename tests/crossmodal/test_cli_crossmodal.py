"""`patchatlas crossmodal` commands, model files and plots (on the small Fuzik 2016 set)."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from patchatlas.cli.main import cli
from patchatlas.core import PatchseqDataset
from patchatlas.crossmodal import apply_model, default_preprocess, fit_model
from patchatlas.errors import CorruptFileError, ReadError
from patchatlas.io.expression import read_fuzik2016, read_patchseq_dataset
from patchatlas.io.modelfile import load_model, save_model

matplotlib.use("Agg")
pytestmark = pytest.mark.shared_data


@pytest.fixture(scope="module")
def fuzik_dir(shared_data: Path) -> Path:
    return shared_data / "patchseq" / "fuzik2016"


@pytest.fixture(scope="module")
def fuzik(fuzik_dir: Path) -> PatchseqDataset:
    return read_fuzik2016(fuzik_dir)


def test_benchmark_command_writes_outputs(fuzik_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "bench"
    res = CliRunner().invoke(
        cli,
        [
            "crossmodal",
            "benchmark",
            "--data",
            str(fuzik_dir),
            "--out",
            str(out),
            "--repeats",
            "1",
            "--folds",
            "3",
            "--models",
            "ridge",
            "--n-genes",
            "300",
            "--no-held-out-type",
        ],
        catch_exceptions=False,
    )
    assert res.exit_code == 0, res.output
    df = pd.read_csv(out / "results.csv")
    assert list(df.columns) == [
        "dataset",
        "regime",
        "model",
        "feature",
        "repeat",
        "r2",
        "r",
        "within_type_r2",
    ]
    assert set(df["regime"]) >= {"single_cell", "type_average", "type_lookup", "global_mean"}
    assert (df["dataset"] == "fuzik2016").all()
    text = (out / "summary.md").read_text()
    assert "What the data support" in text and "t-type lookup" in text
    for name in ("r2_per_feature", "predicted_vs_observed", "top_genes"):
        assert (out / "figures" / f"{name}.png").stat().st_size > 1000


def test_train_predict_roundtrip(fuzik_dir: Path, fuzik: PatchseqDataset, tmp_path: Path) -> None:
    ds = fuzik
    model = tmp_path / "m.joblib"
    r = CliRunner().invoke(
        cli,
        [
            "crossmodal",
            "train",
            "--data",
            str(fuzik_dir),
            "--spec",
            "single_cell:ridge",
            "--out",
            str(model),
            "--n-genes",
            "300",
        ],
        catch_exceptions=False,
    )
    assert r.exit_code == 0, r.output
    est, meta = load_model(model)
    assert meta["spec"] == "single_cell:ridge" and meta["features"] == list(ds.ephys.columns)
    # write 5 cells' raw counts as genes × cells CSV, predict from the CLI, compare with API
    sub = ds.adata[:5]
    counts = pd.DataFrame(sub.X.T, index=sub.var_names, columns=sub.obs_names)
    counts.iloc[:200].to_csv(tmp_path / "few_genes.csv")  # most genes missing → warning
    counts.to_csv(tmp_path / "counts.csv")
    out = tmp_path / "pred.csv"
    r = CliRunner().invoke(
        cli,
        [
            "crossmodal",
            "predict",
            "--model",
            str(model),
            "--expression",
            str(tmp_path / "counts.csv"),
            "--out",
            str(out),
        ],
        catch_exceptions=False,
    )
    assert r.exit_code == 0, r.output
    pred = pd.read_csv(out, index_col=0)
    assert list(pred.index) == list(sub.obs_names)
    sub2 = sub.copy()
    del sub2.obs["library_size"]  # the CSV path uses total counts, like the training data
    direct, missing = apply_model(est, meta, sub2)
    assert not missing
    np.testing.assert_allclose(pred.to_numpy(), direct.to_numpy(), rtol=1e-6)
    r = CliRunner().invoke(
        cli,
        [
            "crossmodal",
            "predict",
            "--model",
            str(model),
            "--expression",
            str(tmp_path / "few_genes.csv"),
        ],
        catch_exceptions=False,
    )
    assert r.exit_code == 0 and "missing" in r.output


def test_model_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ReadError, match="no such model file"):
        load_model(tmp_path / "none.joblib")
    bad = tmp_path / "bad.joblib"
    bad.write_bytes(b"garbage")
    with pytest.raises(CorruptFileError, match=r"bad\.joblib"):
        load_model(bad)
    import joblib

    joblib.dump({"x": 1}, tmp_path / "other.joblib")
    with pytest.raises(CorruptFileError, match="not a patchatlas model"):
        load_model(tmp_path / "other.joblib")
    p = save_model(tmp_path / "sub" / "ok.joblib", {"a": 1}, {"spec": "x"})
    assert load_model(p) == ({"a": 1}, {"spec": "x"})


def test_dataset_dispatch_error(tmp_path: Path) -> None:
    from patchatlas.errors import UnsupportedFormatError

    with pytest.raises(UnsupportedFormatError, match="no known Patch-seq dataset"):
        read_patchseq_dataset(tmp_path)


def test_fit_model_and_gene_importance(fuzik: PatchseqDataset) -> None:
    from patchatlas.crossmodal import gene_importance

    ds = fuzik
    est, meta = fit_model(ds, "single_cell:srrr", preprocess=default_preprocess(ds, n_genes=300))
    top = gene_importance(est, meta["genes"], meta["features"], top=5)
    assert set(top["feature"]) <= set(meta["features"])
    assert top.groupby("feature").size().max() <= 5
    assert set(top["gene"]) <= set(meta["genes"])
    assert top["weight"].abs().gt(0).all()
