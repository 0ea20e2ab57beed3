"""The reported cell-typing numbers, reproduced on the real tables with reduced repeats.

benchmarks/RESULTS-celltyping.md holds the full runs (5 × 5-fold CV, 20 resamples); here one
CV repeat (and few resamples), so the tolerances cover the spread between repeats.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from patchatlas.celltyping import (
    UNCOMPARABLE,
    cross_species,
    find_types,
    harmonize_subclass,
    ipfx_canonical,
    log_cpm,
    map_ttypes,
    patchseq_qc,
    predict_ttypes,
)
from patchatlas.cli.main import cli
from patchatlas.datasets.celltyping import load_typing_data

matplotlib.use("Agg")
pytestmark = pytest.mark.shared_data


@pytest.fixture(scope="module")
def ps(shared_data: Path) -> Path:
    return shared_data / "patchseq"


def _run(args: list[str]) -> None:
    res = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert res.exit_code == 0, res.output


def test_v1_subclass_beats_both_baselines_and_the_forest(ps: Path, tmp_path: Path) -> None:
    out = tmp_path / "v1"
    _run(
        [
            "celltypes",
            "predict-ttype",
            "--data",
            str(ps / "v1_gouwens2020_ephys_only"),
            "--level",
            "subclass",
            "--out",
            str(out),
            "--repeats",
            "1",
            "--n-jobs",
            "2",
            "--embedding",
            "pca",
        ]
    )
    s = pd.read_csv(out / "summary.csv").set_index(["model", "metric"])["mean"]
    clf = s[("classifier", "balanced_accuracy")]
    assert 0.76 <= clf <= 0.82  # reported: 0.79 (5 × 5-fold)
    assert s[("majority", "balanced_accuracy")] == pytest.approx(1 / 6)
    assert s[("shuffled", "balanced_accuracy")] < 0.25
    assert 0.70 <= s[("reference_forest", "balanced_accuracy")] <= 0.76  # issue: ~0.73
    d = pd.read_csv(out / "differences.csv").set_index(["versus", "metric"])
    assert d.loc[("reference_forest", "balanced_accuracy"), "ci_low"] > 0.02  # paired
    assert s[("classifier", "macro_f1")] > s[("reference_forest", "macro_f1")]
    pc = pd.read_csv(out / "per_class.csv").set_index("class")
    assert list(pc.index) == ["Lamp5", "Pvalb", "Serpinf1", "Sncg", "Sst", "Vip"]
    assert (pc.loc[["Lamp5", "Pvalb", "Sst", "Vip"], "recall"] > 0.8).all()
    assert (out / "figures" / "confusion.png").stat().st_size > 10_000
    assert (out / "figures" / "embedding.png").stat().st_size > 10_000


def test_m1_family_morphology_adds_to_ephys(ps: Path) -> None:
    both = load_typing_data(ps / "m1_scala2021", features="ephys+morph")
    assert 640 <= len(both.X) <= 646
    b = both.X.attrs["blocks"]
    fam = both.labels("family").to_numpy()
    kw = {"level": "family", "n_repeats": 1, "min_cells": 20, "shuffled_repeats": 0}
    e = predict_ttypes(both.X[b["ephys"]], fam, **kw)
    em = predict_ttypes(both.X, fam, **kw)
    assert 0.82 <= e.metric() <= 0.92 and 0.90 <= em.metric() <= 0.96
    assert em.metric() > e.metric() + 0.02
    assert e.metric("majority") == pytest.approx(1 / len(e.classes))


def test_m1_mapping_agreement_and_calibration(ps: Path, tmp_path: Path) -> None:
    out = tmp_path / "map"
    _run(
        [
            "celltypes",
            "map-ttype",
            "--reference",
            str(ps / "m1_scala2021"),
            "--confidence-key",
            "RNA type confidence",
            "--out",
            str(out),
        ]
    )
    a = pd.read_csv(out / "agreement.csv").set_index(["level", "subset"])
    assert 0.96 <= a.loc[("family", "all"), "accuracy"] <= 0.99  # reported 0.975
    assert 0.67 <= a.loc[("type", "all"), "accuracy"] <= 0.73  # reported 0.698
    assert a.loc[("type", "confident"), "accuracy"] > a.loc[("type", "all"), "accuracy"]
    cal = pd.read_csv(out / "calibration.csv")
    for level, g in cal.groupby("level"):
        assert g["accuracy"].iloc[-1] > g["accuracy"].iloc[:-1].max(), level
        assert g["spearman"].iloc[0] > 0.85
    qc = pd.read_csv(out / "qc.csv")
    assert len(qc) == 1208 and qc["quality"].median() > 0.5


def test_qc_flags_the_low_quality_cells(ps: Path) -> None:
    from patchatlas.io.expression import read_scala2021_phys_temp

    ad = read_scala2021_phys_temp(ps / "m1_scala2021_phys_temp", drop_low_quality=False).adata
    low = (ad.obs["family"] == "low quality").to_numpy()
    assert low.sum() >= 5
    good = ad[~low].copy()
    fam = map_ttypes(ad, good, n_bootstrap=20).table["family"].to_numpy()
    x = log_cpm(ad.X)
    q = patchseq_qc(
        x, list(ad.var_names), fam, x[~low], list(ad.var_names), good.obs["family"].to_numpy()
    )
    on = q.scores["on_type_nms"].to_numpy()
    assert np.median(on[low]) < 0.2 < 0.8 < np.median(on[~low])
    assert np.nanmedian(q.scores["quality"].to_numpy()[~low]) > 0.5


def test_clustering_is_stable_and_related_to_ttypes(ps: Path) -> None:
    d = load_typing_data(ps / "m1_scala2021", features="ephys")
    r = find_types(d.X, kind="e", n_resamples=4, compare=d.labels("family").to_numpy())
    assert 3 <= r.n_types <= 20
    assert r.stability is not None and r.stability.mean_ari > 0.4
    assert r.agreement is not None and r.agreement.ami > 0.3


def test_cross_species_transfer_is_below_the_human_baseline(ps: Path) -> None:
    tr = load_typing_data(ps / "v1_gouwens2020_ephys_only")
    te = load_typing_data(ps / "human_lee2023_gaba_ephys_only")
    xtr, xte = ipfx_canonical(tr.X), ipfx_canonical(te.X)
    shared = [c for c in xtr.columns if c in xte.columns and c not in UNCOMPARABLE]
    assert len(shared) >= 15
    r = cross_species(
        xtr[shared],
        harmonize_subclass(tr.labels("subclass").to_numpy()),
        xte[shared],
        harmonize_subclass(te.labels("subclass").to_numpy()),
        n_repeats=1,
    )
    transfer, human = r.metric("mouse→human (none)"), r.metric("human-only CV")
    assert 0.25 < transfer < human and 0.68 <= human <= 0.80  # reported 0.48 and 0.75
