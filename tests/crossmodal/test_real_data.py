"""Validation on the real Patch-seq data against the published / measured anchors.

The anchors (../shared/notes/crossmodal.md) come from 10-fold CV; here 1 × 5-fold keeps the
module fast, which costs a little R² (less training data), hence the ± 0.03 tolerances.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from patchatlas.crossmodal import (
    CrossModalResult,
    cross_validate,
    default_preprocess,
    expression_matrix,
    paired_difference,
    summarize,
    within_type_interval,
)
from patchatlas.io.expression import (
    PatchseqDataset,
    read_fuzik2016,
    read_scala2021_m1,
    read_scala2021_phys_temp,
)

pytestmark = pytest.mark.shared_data

SPECS = [
    "single_cell:ridge",
    "type_average:ridge",
    "type_denoised:ridge",
    "type_plus_residual:ridge",
    "single_cell:srrr",
    "type_lookup",
    "family_lookup",
    "global_mean",
]


@pytest.fixture(scope="module")
def m1(shared_data: Path) -> PatchseqDataset:
    return read_scala2021_m1(shared_data / "patchseq" / "m1_scala2021")


@pytest.fixture(scope="module")
def m1_result(m1: PatchseqDataset) -> CrossModalResult:
    return cross_validate(
        expression_matrix(m1),
        m1.ephys.to_numpy(),
        types=m1.t_types,
        families=m1.families,
        specs=SPECS,
        n_repeats=1,
        n_folds=5,
        seed=0,
        dataset=m1.name,
        feature_names=list(m1.ephys.columns),
        gene_names=list(m1.adata.var_names),
    )


def _r2(summary: pd.DataFrame, regime: str, model: str) -> float:
    row = summary[(summary["regime"] == regime) & (summary["model"] == model)]
    return float(row["r2"].iloc[0])


def test_m1_anchor_values(m1_result: CrossModalResult) -> None:
    s = summarize(m1_result)
    assert _r2(s, "single_cell", "ridge") == pytest.approx(0.447, abs=0.03)
    assert _r2(s, "type_average", "ridge") == pytest.approx(0.403, abs=0.03)
    assert _r2(s, "type_lookup", "-") == pytest.approx(0.473, abs=0.03)
    assert _r2(s, "family_lookup", "-") == pytest.approx(0.407, abs=0.03)
    assert _r2(s, "type_plus_residual", "ridge") == pytest.approx(0.477, abs=0.03)
    # Scala et al. 2021: sparse RRR, rank 5, 25 genes, R² = 0.38
    assert _r2(s, "single_cell", "srrr") == pytest.approx(0.38, abs=0.03)
    assert abs(_r2(s, "global_mean", "-")) < 0.01
    n_genes = [fi["n_genes"] for fi in m1_result.fold_info["single_cell:srrr"]]
    assert all(23 <= k <= 28 for k in n_genes), n_genes
    # multivariate R² on z-scored features equals the feature mean
    row = s[(s["regime"] == "single_cell") & (s["model"] == "ridge")].iloc[0]
    assert row["multivariate_r2"] == pytest.approx(row["r2"], abs=1e-9)


def test_m1_feature_ordering(m1_result: CrossModalResult) -> None:
    sc = m1_result.scores
    r2 = sc[(sc["regime"] == "single_cell") & (sc["model"] == "ridge")].set_index("feature")["r2"]
    top3 = set(r2.sort_values(ascending=False).index[:3])
    assert top3 == {"UDR", "AP width", "Max AP num"}
    assert r2["UDR"] > 0.7 and r2["AP width"] > 0.65 and r2["Max AP num"] > 0.65
    assert r2["AP thresh"] < 0.2 and r2["AP amp CV"] < 0.15
    assert r2["UDR"] > r2["AHP"] > r2["V_rest"] > r2["AP thresh"]


def test_m1_single_cell_vs_type_average_and_within_type(m1_result: CrossModalResult) -> None:
    d = paired_difference(m1_result, "single_cell:ridge", "type_average:ridge", n_boot=500)
    assert d["ci_low"] > 0  # single-cell training beats type-average training ...
    w = within_type_interval(m1_result, "type_plus_residual:ridge", n_boot=500)
    # ... but almost nothing is explained within t-types
    assert -0.03 < w["mean"] < 0.05
    assert w["ci_low"] < 0.03
    wsc = within_type_interval(m1_result, "single_cell:ridge", n_boot=200)
    assert wsc["mean"] < 0  # the single-cell model is worse than the type lookup


def test_m1_shuffled_labels_give_no_skill(m1: PatchseqDataset) -> None:
    rng = np.random.default_rng(0)
    y = m1.ephys.to_numpy()[rng.permutation(m1.adata.n_obs)]
    res = cross_validate(
        expression_matrix(m1),
        y,
        types=m1.t_types,
        families=m1.families,
        specs=["single_cell:ridge", "type_average:ridge"],
        n_repeats=1,
        n_folds=5,
    )
    s = summarize(res)
    assert (s["r2"] <= 0.0).all(), s


def test_phys_temp_in_fold_gene_selection(shared_data: Path) -> None:
    ds = read_scala2021_phys_temp(shared_data / "patchseq" / "m1_scala2021_phys_temp")
    feats = [
        "AP width (ms)",
        "Upstroke-to-downstroke ratio",
        "Input resistance (MOhm)",
        "AP threshold (mV)",
    ]
    pre = default_preprocess(ds, n_genes=1000)
    assert "select" in pre.named_steps  # full transcriptome → HVG selection in-fold
    res = cross_validate(
        expression_matrix(ds),
        ds.ephys[feats].to_numpy(),
        types=ds.t_types,
        families=ds.families,
        specs=["single_cell:ridge", "type_lookup", "global_mean"],
        n_repeats=1,
        n_folds=5,
        preprocess=pre,
        feature_names=feats,
    )
    sc = res.scores[res.scores["regime"] == "single_cell"].set_index("feature")["r2"]
    assert sc["AP width (ms)"] > 0.3
    assert sc.mean() > 0.1
    assert summarize(res).set_index("regime").loc["global_mean", "r2"] < 0.02


def test_fuzik2016_end_to_end(shared_data: Path) -> None:
    ds = read_fuzik2016(shared_data / "patchseq" / "fuzik2016")
    res = cross_validate(
        expression_matrix(ds),
        ds.ephys.to_numpy(),
        types=ds.t_types,
        families=ds.families,
        specs=["single_cell:ridge", "type_lookup", "family_lookup"],
        n_repeats=1,
        n_folds=5,
        preprocess=default_preprocess(ds, n_genes=500),
        feature_names=list(ds.ephys.columns),
    )
    s = summarize(res).set_index("regime")
    # small n (77 cells, 8 types): weak but real type signal; single-cell ridge stays sane
    assert s.loc["type_lookup", "r2"] > 0.05
    assert -0.2 < s.loc["single_cell", "r2"] < s.loc["type_lookup", "r2"]
    assert np.isfinite(res.predictions["single_cell:ridge"]).all()
    sc = res.scores[res.scores["regime"] == "single_cell"].set_index("feature")["r2"]
    assert sc["Vrest"] > 0.1
