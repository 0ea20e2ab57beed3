"""Real morphologies from other labs (../shared/data/morphology/robustness), compared with
MorphIO/NeuroM in the NeuroM reference environment, and the reader rules on files made here:
Neurolucida points with label tokens and spines, MorphIO/NeuroM HDF5 v1 and v2, NeuroM features
per neurite type."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

import patchatlas
from patchatlas.core.morphology import Morphology
from patchatlas.errors import CorruptFileError, ParameterError, UnsupportedFormatError
from patchatlas.io.asc import parse_asc
from patchatlas.morphology import NEURITE_TYPES, features, features_by_type, features_table
from tests.conftest import ROOT, require_reference_env

NEUROM_PY = Path(
    os.environ.get("PATCHATLAS_NEUROM_PYTHON", ROOT / ".venv-neurom" / "bin" / "python")
)
RTOL, ATOL = 2e-5, 1e-4  # MorphIO stores float32


@pytest.fixture(scope="module")
def robust(morph_data: Path) -> Path:
    return morph_data / "robustness"


@pytest.fixture(scope="module")
def reference(robust: Path) -> dict[str, dict[str, object]]:
    require_reference_env(NEUROM_PY, "NeuroM", "benchmarks/setup_morphology_refs.sh")
    files = sorted(str(f) for f in robust.iterdir() if f.suffix in (".asc", ".h5"))
    script = str(ROOT / "benchmarks" / "neurom_reference.py")
    proc = subprocess.run(
        [str(NEUROM_PY), script, "--sholl", "0", "--neurite-types", *files],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    out: dict[str, dict[str, object]] = json.loads(proc.stdout)
    return out


def morphio_points(m: Morphology) -> int:
    """The neurite points MorphIO holds for our node table: every neurite node, plus the fork
    point MorphIO puts at the start of a child section that does not repeat it."""
    neur = m.types != 1
    par = m.parent
    has = par >= 0
    nch = np.bincount(par[has], minlength=len(m))
    pn = np.where(has, par, 0)
    forced = np.isin(m.ids, np.asarray(m.meta.get("section_start_ids", []), dtype=np.int64))
    heads = neur & has & neur[pn] & ((nch[pn] >= 2) | forced)
    moved = np.any(m.xyz[heads] != m.xyz[pn[heads]], axis=1)
    return int(neur.sum() + moved.sum())


def test_every_file_equals_morphio_and_neurom(
    robust: Path, reference: dict[str, dict[str, object]]
) -> None:
    compared = 0
    for path, ref in reference.items():
        m = patchatlas.read(path)
        if "error" in ref:
            # MorphIO 3.4+ dropped HDF5 v2: compared with its v1 twin below
            assert "h5v2" in str(ref["error"]), (path, ref["error"])
            continue
        assert morphio_points(m) == ref["points"], Path(path).name
        by_type = ref["by_type"]
        assert isinstance(by_type, dict)
        ours = features_by_type(m)
        for t, feats in by_type.items():
            for k, v in feats.items():
                assert np.isclose(ours.loc[k, t], v, rtol=RTOL, atol=ATOL, equal_nan=True), (
                    Path(path).name,
                    t,
                    k,
                    ours.loc[k, t],
                    v,
                )
        compared += 1
    assert compared == 4


def test_hdf5_v2_reads_like_its_v1_twin(robust: Path) -> None:
    v1 = patchatlas.read(robust / "Neuron_h5v1.h5")
    v2 = patchatlas.read(robust / "Neuron_h5v2.h5")
    assert (v1.meta["h5_version"], v2.meta["h5_version"]) == (1, 2)
    for a in ("ids", "types", "xyz", "radius", "parent"):
        np.testing.assert_array_equal(getattr(v1, a), getattr(v2, a))
    np.testing.assert_array_equal(v1.soma_contour, v2.soma_contour)
    assert v1.meta["section_start_ids"] == v2.meta["section_start_ids"]


def test_asc_soma_points_with_labels_and_spines(robust: Path) -> None:
    m = patchatlas.read(robust / "multifurcation.asc")
    assert m.soma_contour is not None and len(m.soma_contour) == 3  # (1 1 0 1 S1) ...
    assert m.has_soma and not any(i.code == "NO_SOMA" for i in m.issues)
    s = patchatlas.read(robust / "spine.asc")
    assert int((s.types == 2).sum()) == 3  # the spine is not an axon point
    (spine,) = s.meta["spines"]
    assert spine["points"] == [[0.0, 1.0, 2.0, 1.5]]
    assert s.ids[s.xyz[:, 1] == 9.0][0] == spine["node_id"]  # it follows (2 9 0 2)


def test_asc_label_tokens_and_spine_syntax() -> None:
    text = """("CellBody" (CellBody) (0 1 0 1 R1-2) (1 0 0 1 S2) (0 -1 0 1 "x") (-1 0 0 1))
    ((Dendrite) (0 2 0 2 S1) <(Class 4 "thin") (0 3 1 0.5)> (0 4 0 2) <(0 4 2 0.4)(0 4 3 0.3)>
     (0 5 0 2) (Marker (0 5 1 1)))"""
    m = parse_asc(text)
    assert m.soma_contour is not None and len(m.soma_contour) == 4
    np.testing.assert_array_equal(m.xyz[m.types == 3][:, 1], [2, 4, 5])
    assert [len(sp["points"]) for sp in m.meta["spines"]] == [1, 2]
    with pytest.raises(CorruptFileError, match="spine"):
        parse_asc("((Dendrite) (0 2 0 2) (0 3 0 2)>)")
    with pytest.raises(CorruptFileError, match="unbalanced"):
        parse_asc("((Dendrite) <(0 2 0 2)) (0 3 0 2)>)")


def _write_h5(path: Path, version: int, points: np.ndarray, structure: np.ndarray) -> Path:
    import h5py

    with h5py.File(path, "w") as h5:
        if version == 1:
            h5["points"] = points
            h5["structure"] = structure
        else:
            g = h5.create_group("neuron1")
            g["raw/points"] = points
            g["structure/raw"] = structure[:, [0, 2]]
            g["structure/sectiontype"] = structure[:, [1]]
    return path


# soma (3 points), an axon with a unifurcation (section 2 continues section 1), a basal
# dendrite that forks; children start with a copy of their parent's last point
POINTS = np.array(
    [
        [0, 0, 0, 2], [1, 0, 0, 2], [0, 1, 0, 2],  # soma
        [0, 2, 0, 1], [0, 5, 0, 1],  # axon, section 1
        [0, 5, 0, 1], [0, 9, 0, 1],  # axon, section 2 (a unifurcation)
        [0, -2, 0, 2], [0, -4, 0, 2],  # basal trunk
        [0, -4, 0, 2], [3, -8, 0, 1],  # basal child 1
        [0, -4, 0, 2], [-3, -8, 0, 1],  # basal child 2
    ],
    dtype=float,
)  # fmt: skip
STRUCTURE = np.array(
    [[0, 1, -1], [3, 2, 0], [5, 2, 1], [7, 3, 0], [9, 3, 3], [11, 3, 3]], dtype=np.int32
)


@pytest.mark.parametrize("version", [1, 2])
def test_hdf5_layouts(tmp_path: Path, version: int) -> None:
    m = patchatlas.read(_write_h5(tmp_path / f"c{version}.h5", version, POINTS, STRUCTURE))
    assert len(m) == 1 + 10 and m.meta["n_neurites"] == 2
    assert m.soma_contour is not None and len(m.soma_contour) == 3
    np.testing.assert_allclose(m.radius[1:], POINTS[3:, 3] / 2)
    f = features(m, convention="neurom")
    assert f["number_of_sections"] == 5  # the unifurcation splits the axon as in MorphIO
    assert f["number_of_bifurcations"] == 1
    assert f["total_length"] == pytest.approx(3 + 4 + 2 + 2 * 5)  # no segment into a copy
    ax = features(m, convention="neurom", neurite_type="axon")
    assert (ax["number_of_sections"], ax["total_length"]) == (2, pytest.approx(7.0))


def test_hdf5_refusals(tmp_path: Path) -> None:
    import h5py

    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as h5:
        h5["X"] = np.zeros((3, 3))
    with pytest.raises(UnsupportedFormatError, match="not a MorphIO/NeuroM HDF5 morphology"):
        patchatlas.read(other)
    bad = STRUCTURE.copy()
    bad[4, 2] = 5  # a parent after its child
    with pytest.raises(CorruptFileError, match="earlier section"):
        patchatlas.read(_write_h5(tmp_path / "bad.h5", 1, POINTS, bad))
    bad = STRUCTURE.copy()
    bad[2, 0] = 99
    with pytest.raises(CorruptFileError, match="offsets"):
        patchatlas.read(_write_h5(tmp_path / "bad2.h5", 1, POINTS, bad))
    text = tmp_path / "text.h5"
    text.write_text("not hdf5")
    with pytest.raises(UnsupportedFormatError, match="not an HDF5 file"):
        patchatlas.read(text)


def test_neurite_types_partition_the_cell(morph_data: Path) -> None:
    m = patchatlas.read(morph_data / "neurom_edge_cases" / "Neuron.swc")
    table = features_by_type(m)
    assert list(table.columns) == list(NEURITE_TYPES)
    for k in ("number_of_neurites", "number_of_sections", "total_length", "total_area"):
        parts = table.loc[k, ["axon", "basal_dendrite", "apical_dendrite"]].sum()
        assert parts == pytest.approx(table.loc[k, "all"])
    for k in ("max_path_distance", "max_radial_distance", "total_width"):
        assert table.loc[k, "all"] >= table.loc[k, ["axon", "basal_dendrite"]].max()
    assert features(m, convention="neurom", neurite_type="all") == features(m, convention="neurom")
    for t in NEURITE_TYPES:
        one = features(m, convention="neurom", neurite_type=t)
        assert one == pytest.approx(table[t].to_dict(), nan_ok=True)
    wide = features_table([m, m], convention="neurom", neurite_type=["axon", "all"])
    assert wide.columns.names == ["neurite_type", "feature"]
    assert wide[("axon", "total_length")].iloc[1] == table.loc["total_length", "axon"]
    narrow = features_table([m], convention="neurom", neurite_type="basal_dendrite")
    assert narrow["total_length"].iloc[0] == table.loc["total_length", "basal_dendrite"]
    # a type the cell lacks: NeuroM's empty values (0 for counts and extents, NaN for means)
    single = patchatlas.read(morph_data / "neurom_edge_cases" / "Single_axon.swc")
    api = features(single, convention="neurom", neurite_type="apical_dendrite")
    assert api["number_of_sections"] == 0 and api["total_width"] == 0
    assert np.isnan(api["mean_contraction"])
    with pytest.raises(ParameterError, match="unknown neurite_type"):
        features(m, convention="neurom", neurite_type="dendrite")
    with pytest.raises(ParameterError, match="convention='neurom'"):
        features(m, convention="allen", neurite_type="axon")
