"""Cross-species descriptive comparison and the synthetic expression generator."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from patchatlas.cli.main import cli
from patchatlas.crossmodal import cross_validate, expression_matrix, summarize
from patchatlas.crossmodal.species import cliffs_delta, compare_groups, hedges_g
from patchatlas.datasets import synthetic_expression, synthetic_patchseq
from patchatlas.errors import DataError
from patchatlas.io.species_tables import read_berg2021_species, read_lee2023_gouwens2020


def test_effect_sizes_known_values() -> None:
    a = np.array([1.0, 2.0, 3.0, 4.0])
    b = np.array([3.0, 4.0, 5.0, 6.0])
    # pooled SD = sqrt(5/3); d = -2/1.291 = -1.549; J = 1 - 3/(4*8-9)
    assert hedges_g(a, b) == pytest.approx(-2 / np.sqrt(5 / 3) * (1 - 3 / 23))
    assert cliffs_delta(np.array([5.0, 6.0]), np.array([1.0, 2.0])) == pytest.approx(1.0)
    assert cliffs_delta(a, a) == pytest.approx(0.0)
    df = pd.DataFrame({"species": ["human"] * 4 + ["mouse"] * 4, "ap_width_ms": [*a, *b]})
    t = compare_groups(df, features=["ap_width_ms"], n_boot=200)
    assert t.loc[0, "median_a"] == 2.5 and t.loc[0, "ratio"] == pytest.approx(2.5 / 4.5)
    assert t.loc[0, "g_ci_low"] <= t.loc[0, "hedges_g"] <= t.loc[0, "g_ci_high"]
    with pytest.raises(DataError, match="no column"):
        compare_groups(df, group="nope")


@pytest.mark.shared_data
def test_berg2021_human_mouse_medians(shared_data: Path) -> None:
    df = read_berg2021_species(shared_data / "patchseq" / "human_berg2021_L23_ephys_only")
    assert (df["species"] == "human").sum() == 316 and (df["species"] == "mouse").sum() == 131
    t = compare_groups(df, n_boot=200).set_index("feature")
    # medians from the notes (L2/3 pyramidal cells; width and tau converted s -> ms)
    assert t.loc["upstroke_downstroke_ratio", "median_a"] == pytest.approx(3.33, abs=0.01)
    assert t.loc["upstroke_downstroke_ratio", "median_b"] == pytest.approx(4.36, abs=0.01)
    assert t.loc["ap_width_ms", "median_a"] == pytest.approx(0.98, abs=0.01)
    assert t.loc["tau_ms", "median_a"] == pytest.approx(21, abs=0.6)
    assert t.loc["tau_ms", "median_b"] == pytest.approx(11, abs=0.6)
    assert t.loc["input_resistance_mohm", "median_a"] == pytest.approx(110, abs=1)
    assert t.loc["upstroke_downstroke_ratio", "hedges_g"] < -0.8  # human APs: lower UDR
    assert t.loc["upstroke_downstroke_ratio", "q"] < 1e-6


@pytest.mark.shared_data
def test_species_cli(shared_data: Path, tmp_path: Path) -> None:
    gaba = read_lee2023_gouwens2020(
        shared_data / "patchseq" / "human_lee2023_gaba_ephys_only",
        shared_data / "patchseq" / "v1_gouwens2020_ephys_only",
    )
    assert set(gaba["subclass"]) == {"PVALB", "SST", "VIP", "LAMP5"}
    assert (gaba["species"] == "mouse").sum() > 3000
    assert "upstroke_downstroke_ratio" not in gaba.columns
    out = tmp_path / "sp"
    r = CliRunner().invoke(
        cli,
        ["crossmodal", "species", "--data", str(shared_data / "patchseq"), "--out", str(out)],
        catch_exceptions=False,
    )
    assert r.exit_code == 0, r.output
    text = (out / "species.md").read_text()
    assert "No expression data" in text and "PVALB" in text
    assert (out / "figures" / "berg2021_L23.png").exists()


def _features(n: int = 90, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
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
    f.iloc[0, 1] = np.nan
    return f, types


def test_synthetic_expression_structure_and_signal() -> None:
    f, types = _features()
    ad = synthetic_expression(f, 1, types=types)
    assert ad.shape == (90, 300)
    assert np.all(ad.X >= 0) and np.all(np.round(ad.X) == ad.X)
    assert (ad.var["role"] == "informative").sum() == 30
    again = synthetic_expression(f, 1, types=types)
    np.testing.assert_array_equal(ad.X, again.X)
    ds = synthetic_patchseq(f, 1, types=types)
    assert not ds.ephys.isna().to_numpy().any()
    res = cross_validate(
        expression_matrix(ds),
        ds.ephys.to_numpy(),
        types=ds.t_types,
        families=ds.families,
        specs=["single_cell:ridge", "global_mean"],
        n_repeats=1,
        n_folds=3,
    )
    s = summarize(res).set_index("regime")
    assert s.loc["single_cell", "r2"] > 0.5  # the planted gene–feature link is learnable
    noise = synthetic_expression(f, 1, types=types, effect=0.0, n_markers=0)
    res0 = cross_validate(
        expression_matrix(synthetic_patchseq(f, 1, types=types, effect=0.0, n_markers=0)),
        ds.ephys.to_numpy(),
        types=ds.t_types,
        specs=["single_cell:ridge"],
        n_repeats=1,
        n_folds=3,
    )
    assert summarize(res0)["r2"].iloc[0] < 0.1
    assert noise.shape == ad.shape
    with pytest.raises(DataError, match="n_informative"):
        synthetic_expression(f, 0, n_genes=10)


def test_tiny_demo_benchmark_on_synthetic_cells() -> None:
    """What `patchatlas demo` can run: synthetic expression for demo cells → full report."""
    import matplotlib

    matplotlib.use("Agg")
    from patchatlas.crossmodal import benchmark_markdown, run_benchmark
    from patchatlas.plot.crossmodal import benchmark_figures

    f, types = _features(n=60)
    ds = synthetic_patchseq(f, 0, types=types, n_genes=120, n_informative=12, n_markers=6)
    rep = run_benchmark(
        ds, models=["ridge"], n_repeats=1, n_folds=3, n_boot=100, held_out_type=True
    )
    text = benchmark_markdown(rep)
    assert "## What the data support" in text and "Held-out t-types" in text
    s = rep.summary.set_index(["regime", "model"])
    assert s.loc[("single_cell", "ridge"), "r2"] > s.loc[("global_mean", "-"), "r2"] + 0.3
    assert rep.paired is not None and rep.within_type is not None
    assert set(rep.top_genes["feature"]) == set(f.columns)
    figs = benchmark_figures(rep)
    assert set(figs) == {"r2_per_feature", "predicted_vs_observed", "top_genes"}
