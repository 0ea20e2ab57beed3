"""Golden test: Gouwens (skeleton_keys) features of the 3 published example cells, 3 decimals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from patchatlas import read
from patchatlas.morphology.depth import DepthProfilePCA, depth_profiles
from patchatlas.morphology.feature_sets import features, features_table
from patchatlas.morphology.registry import REGISTRY


@pytest.fixture(scope="module")
def golden(sk: Path) -> tuple[pd.DataFrame, list[object], list[object]]:
    ref = pd.read_csv(sk / "example_features_wide_unnormalized.csv", index_col=0)
    ids = [int(s) for s in ref.index]
    up = [read(sk / "upright_swcs" / f"{s}.swc", name=str(s)) for s in ids]
    al = [read(sk / "layer_aligned_swcs" / f"{s}.swc", name=str(s)) for s in ids]
    return ref, up, al


def test_every_published_column_matches_to_3_decimals(golden: tuple) -> None:
    ref, up, al = golden
    df = features_table(up, convention="gouwens", aligned=al)
    assert len(ref.columns) == 46
    missing = [c for c in ref.columns if c not in df.columns]
    assert not missing
    for c in ref.columns:
        np.testing.assert_allclose(
            df[c].to_numpy(), ref[c].to_numpy(), atol=5e-4, rtol=0, err_msg=c
        )
    # every gouwens output is a registry entry
    assert set(df.columns) <= set(REGISTRY["gouwens"]) | {"axon_depth_pc_1"}


def test_single_cell_api_matches_batch(golden: tuple) -> None:
    ref, up, al = golden
    one = features(up[1], convention="gouwens", aligned=al[1])
    row = ref.iloc[1]
    for c in ref.columns:
        if "depth_pc" in c:
            assert c not in one  # one cell: no population to fit a PCA on
            continue
        assert one[c] == pytest.approx(float(row[c]), abs=5e-4), c
    # absent compartment -> explicit NaN, not a missing key
    assert np.isnan(one["apical_dendrite_total_length"])


def test_depth_profiles_and_stored_loadings(golden: tuple, sk: Path) -> None:
    ref, _, al = golden
    prof = pd.read_csv(sk / "aligned_depth_profiles.csv", index_col=0)
    ours = depth_profiles(al)
    for t in (2, 3, 4):
        cols = [c for c in prof.columns if c.startswith(f"{t}_")]
        got = ours[t]
        order = [list(ref.index).index(i) for i in prof.index]
        np.testing.assert_array_equal(got[order], prof[cols].to_numpy())
    # projecting on the published loadings reproduces the published scores exactly
    load = pd.read_csv(sk / "axon_loadings.csv", header=None).to_numpy()
    x = ours[2]
    pca = DepthProfilePCA.from_loadings(load, x.mean(axis=0))
    scores = pca.transform(x)
    np.testing.assert_allclose(
        scores, ref[["axon_depth_pc_0", "axon_depth_pc_1"]].to_numpy(), atol=5e-4
    )
    fitted = DepthProfilePCA().fit(x)
    assert fitted.components_ is not None
    np.testing.assert_allclose(fitted.components_, load, atol=1e-9)


def test_axon_from_dendrite_cell(morph_data: Path) -> None:
    m = read(
        morph_data
        / "neuron_morphology_tests"
        / "Ctgf-2A-dgCre-D_Ai14_BT_-245170.06.06.01_539748835_m_pia.swc"
    )
    f = features(m, convention="gouwens")
    assert f["axon_total_length"] > 0
    assert f["axon_num_branches"] >= 1
    assert f["axon_exit_distance"] > 0  # leaves a dendrite, not the soma
    assert np.isfinite(f["axon_max_path_distance"]) and f["axon_max_path_distance"] > 0
