"""Feature conventions pinned on hand-computable fixtures and real cells."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from patchatlas import read
from patchatlas.datasets.morphology import synthetic_morphology
from patchatlas.errors import DataError
from patchatlas.io.swc import parse_swc
from patchatlas.morphology import (
    MorphologySet,
    feature_registry,
    features,
    features_table,
    sholl_crossings,
    sholl_matrix,
)

# simple.swc geometry (NeuroM's ASCII-art cell): soma r=1 at 0; basal 0→(0,5)→(−5,5),(6,5);
# axon 0→(0,−4)→(6,−4),(−5,−4)
SIMPLE = b"""1 1 0 0 0 1 -1
2 3 0 0 0 1 1
3 3 0 5 0 1 2
4 3 -5 5 0 0 3
5 3 6 5 0 0 3
6 2 0 0 0 1 1
7 2 0 -4 0 1 6
8 2 6 -4 0 0 7
9 2 -5 -4 0 0 7
"""


def test_allen_hand_values() -> None:
    f = features(parse_swc(SIMPLE), convention="allen")
    assert f["total_length"] == pytest.approx(5 + 5 + 6 + 4 + 6 + 5)
    assert f["number_stems"] == 2
    assert f["number_bifurcations"] == 2
    assert f["number_branches"] == 6
    assert f["number_tips"] == 4
    assert f["number_nodes"] == 8
    assert f["max_branch_order"] == 2  # stems are order 1
    assert f["max_path_distance"] == pytest.approx(11.0)
    assert f["max_euclidean_distance"] == pytest.approx(math.hypot(6, 5))
    assert f["average_contraction"] == pytest.approx(1.0)
    assert f["average_bifurcation_angle_local"] == pytest.approx(math.pi)
    assert f["overall_width"] == 11 and f["overall_height"] == 9 and f["overall_depth"] == 0
    assert f["soma_surface"] == pytest.approx(4 * math.pi)


def test_neurom_hand_values_and_differences() -> None:
    m = parse_swc(SIMPLE)
    n = features(m, convention="neurom")
    a = features(m, convention="allen")
    assert n["number_of_sections"] == 6
    assert n["max_branch_order"] == a["max_branch_order"] - 1  # root section order 0 vs 1
    assert n["total_length"] == pytest.approx(a["total_length"])
    assert n["mean_partition_asymmetry"] == 0.0


def test_trifurcation_conventions() -> None:
    text = (
        b"1 1 0 0 0 1 -1\n2 3 0 1 0 1 1\n3 3 0 2 0 1 2\n"
        b"4 3 1 3 0 1 3\n5 3 0 3 0 1 3\n6 3 -1 3 0 1 3\n"
    )
    m = parse_swc(text)
    a = features(m, convention="allen")
    n = features(m, convention="neurom")
    assert a["number_bifurcations"] == 2  # a trifurcation counts as two bifurcations
    assert a["number_branches"] == 1 + 4  # and adds an implicit zero-length branch
    assert n["number_of_sections"] == 4 and n["number_of_bifurcations"] == 0
    assert n["number_of_forking_points"] == 1


def test_allen_total_length_of_axon_from_dendrite_cell(sk: Path) -> None:
    m = read(sk / "upright_swcs" / "694146546.swc")
    a = features(m, convention="allen")
    g = features(m, convention="gouwens")
    # all-neurite length keeps the cross-type compartment that both per-type totals drop
    assert a["total_length"] == pytest.approx(7043.183, abs=1e-3)
    assert g["axon_total_length"] + g["basal_dendrite_total_length"] == pytest.approx(
        7042.664, abs=1e-3
    )
    assert a["max_branch_order"] == max(
        g["axon_max_branch_order"], g["basal_dendrite_max_branch_order"]
    )
    assert a["max_euclidean_distance"] == pytest.approx(
        max(g["axon_max_euclidean_distance"], g["basal_dendrite_max_euclidean_distance"])
    )


def test_batch_equals_single(morph_data: Path) -> None:
    files = sorted((morph_data / "allen_swc").glob("*_m.swc"))
    cells = [read(f) for f in files if "marker" not in f.name]
    for conv in ("allen", "neurom", "gouwens"):
        table = features_table(cells, convention=conv)
        assert table.shape[0] == len(cells)
        for k in (0, len(cells) - 1):
            one = features(cells[k], convention=conv)
            row = table.iloc[k]
            for name, v in one.items():
                assert v == pytest.approx(float(row[name]), nan_ok=True), (conv, name)
    packed = MorphologySet.pack(cells)
    t2 = features_table(packed, convention="allen")
    pd.testing.assert_frame_equal(t2, features_table(cells, convention="allen"))


def test_registry_lists_every_output() -> None:
    reg = feature_registry()
    assert {"name", "convention", "unit", "definition", "differs"} <= set(reg.columns)
    m = synthetic_morphology("pyramidal", seed=1)
    for conv in ("allen", "neurom", "gouwens"):
        names = set(reg.loc[reg.convention == conv, "name"])
        out = set(features(m, convention=conv))
        assert out <= names | {"axon_depth_pc_1"}, out - names
    shared = reg.groupby("name").convention.nunique()
    assert (shared > 1).any()  # same names exist under several conventions
    with pytest.raises(DataError, match="convention"):
        features(m, convention="lmeasure")


def test_synthetic_generator_plausible() -> None:
    pyr = synthetic_morphology("pyramidal", seed=3)
    inh = synthetic_morphology("interneuron", seed=3)
    assert set(np.unique(pyr.types)) == {1, 2, 3, 4}
    assert set(np.unique(inh.types)) == {1, 2, 3}
    again = synthetic_morphology("pyramidal", seed=3)
    assert np.array_equal(pyr.xyz, again.xyz)
    f = features(pyr, convention="gouwens")
    assert 500 < f["apical_dendrite_total_length"] < 10_000
    assert f["apical_dendrite_bias_y"] > 0  # apical goes toward pia
    assert f["dendrite_total_length"] == pytest.approx(
        f["basal_dendrite_total_length"] + f["apical_dendrite_total_length"]
    )
    assert f["dendrite_max_euclidean_distance"] == pytest.approx(
        max(f["basal_dendrite_max_euclidean_distance"], f["apical_dendrite_max_euclidean_distance"])
    )
    assert f["axon_bias_y"] < 0
    a = features(inh)
    assert 2_000 < a["total_length"] < 30_000
    assert 3 <= a["number_stems"] <= 9


def test_sholl_difference_array_matches_brute_force() -> None:
    m = synthetic_morphology("interneuron", seed=5)
    radii = np.arange(0, 400, 7.5)
    got = sholl_crossings(m, radii)
    # brute force over compartments
    p = m.parent
    neur = m.types != 1
    comp = (p >= 0) & neur & neur[np.maximum(p, 0)]
    d = np.linalg.norm(m.xyz - m.soma_center, axis=1)
    a, b = d[comp], d[p[comp]]
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    want = np.array([np.sum((lo <= r) & (r <= hi)) for r in radii])
    np.testing.assert_array_equal(got, want)
    mat = sholl_matrix([m, synthetic_morphology("pyramidal", seed=1)], radii)
    np.testing.assert_array_equal(mat[0], got)
    assert mat.shape == (2, radii.size)


def test_cell_without_soma() -> None:
    m = parse_swc(b"1 3 0 0 0 1 -1\n2 3 0 1 0 1 1\n3 3 1 2 0 1 2\n")
    a = features(m, convention="allen")
    assert a["number_stems"] == 0 and np.isnan(a["soma_surface"])
    assert a["total_length"] == pytest.approx(1 + math.sqrt(2))
    g = features(m, convention="gouwens")
    assert np.isnan(g["soma_surface_area"]) and np.isnan(g["axon_total_length"])
    n = features(m, convention="neurom")
    assert n["number_of_neurites"] == 1 and np.isnan(n["soma_surface_area"])


@pytest.mark.parametrize("convention", ["allen", "neurom", "gouwens"])
def test_batches_in_node_packs_equal_one_pack(
    monkeypatch: pytest.MonkeyPatch, convention: str
) -> None:
    # features_table / sholl_matrix split large batches into packs of ~CHUNK_NODES nodes;
    # the result must not depend on the pack size (same columns, same cells, same values)
    from patchatlas.morphology import _forest

    cells = [
        synthetic_morphology(k, seed=s) for s in range(4) for k in ("pyramidal", "interneuron")
    ]
    whole = features_table(cells, convention=convention)
    radii = np.arange(0.0, 400.0, 10.0)
    sh_whole = sholl_matrix(cells, radii)
    monkeypatch.setattr(_forest, "CHUNK_NODES", max(len(c) for c in cells) + 1)
    assert len(_forest.node_chunks(cells)) > 2
    packed = features_table(cells, convention=convention)
    pd.testing.assert_frame_equal(packed, whole, rtol=1e-9, atol=1e-9)
    assert np.array_equal(sholl_matrix(cells, radii), sh_whole)
