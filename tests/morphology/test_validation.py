"""Every synthetic NeuroM edge case gives its expected validation issues; profiles; repairs."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from patchatlas import read
from patchatlas.errors import ValidationError
from patchatlas.io.swc import parse_swc
from patchatlas.morphology import repair, validate

# file -> codes that must be reported (and, for the clean ones, the codes that must NOT be)
EXPECTED: dict[str, set[str]] = {
    "Neuron.swc": {"SOMA_NON_CONFORM"},
    "Neuron_missing_ids.swc": {"MISSING_PARENT", "DISCONNECTED_NEURITE"},
    "Neuron_zero_radius.swc": {"CONSTRICTION", "NEURITE_ON_NON_ROOT_SOMA", "ROOT_NODE_JUMP"},
    "Single_apical.swc": {"NO_AXON", "SOMA_NON_CONFORM"},
    "Single_axon.swc": {"NO_DENDRITE", "SOMA_NON_CONFORM"},
    "Single_basal.swc": {"NO_AXON"},
    "custom_type.swc": {"CUSTOM_TYPE", "NO_AXON"},
    "dangling_axon.swc": {"DANGLING_AXON", "ROOT_NODE_JUMP"},
    "multiple_somata.swc": {"MULTIPLE_SOMATA"},
    "point_soma.swc": {"NO_AXON", "NO_DENDRITE"},
    "repeated_id.swc": {"DUPLICATE_ID"},
    "root_node_jump.swc": {"ROOT_NODE_JUMP"},
    "simple.swc": {"ZERO_RADIUS"},
    "simple-different-soma.swc": {"ZERO_RADIUS"},
    "split_soma_two_neurites.swc": {"SOMA_NON_CONFORM"},
    "strahler.swc": {"NO_AXON"},
    "undefined_type.swc": {"UNDEFINED_TYPE"},
    "z_jump.swc": {"Z_JUMP"},
}
ERRORS = {"Neuron_missing_ids.swc", "multiple_somata.swc", "repeated_id.swc"}
STRUCTURAL = {
    "MISSING_PARENT",
    "DISCONNECTED_NEURITE",
    "MULTIPLE_SOMATA",
    "DUPLICATE_ID",
    "Z_JUMP",
    "ROOT_NODE_JUMP",
    "DANGLING_AXON",
    "UNDEFINED_TYPE",
    "CUSTOM_TYPE",
}


def test_edge_case_list_is_complete(edge: Path) -> None:
    assert {f.name for f in edge.glob("*.swc")} == set(EXPECTED)


@pytest.mark.parametrize("fname", sorted(EXPECTED))
def test_edge_case_issues(edge: Path, fname: str) -> None:
    rep = validate(read(edge / fname), profile="lenient")
    assert EXPECTED[fname] <= rep.codes, rep.codes
    # structural codes appear only where expected
    unexpected = (rep.codes & STRUCTURAL) - EXPECTED[fname]
    assert not unexpected, unexpected
    assert rep.ok == (fname not in ERRORS)
    for issue in rep:
        assert issue.severity in ("error", "warning", "info")
        assert issue.message


def test_issue_node_ids_and_lines(edge: Path) -> None:
    rep = validate(read(edge / "z_jump.swc"), profile="lenient")
    (z,) = [i for i in rep if i.code == "Z_JUMP"]
    assert z.node_ids == (11,)
    assert z.lines and z.lines[0] > 11  # header comments come first
    rep = validate(read(edge / "Neuron_missing_ids.swc"), profile="lenient")
    (mp,) = [i for i in rep if i.code == "MISSING_PARENT"]
    assert set(mp.node_ids) == {8, 9}


def test_analysis_profile_raises_on_errors(edge: Path) -> None:
    with pytest.raises(ValidationError, match="MULTIPLE_SOMATA"):
        validate(read(edge / "multiple_somata.swc"))
    validate(read(edge / "simple.swc"))  # no error: passes


def test_neuron_profile_is_stricter(edge: Path, morph_data: Path) -> None:
    m = read(edge / "undefined_type.swc")
    assert validate(m, profile="analysis").ok
    with pytest.raises(ValidationError, match="UNDEFINED_TYPE"):
        validate(m, profile="neuron")
    rep = validate(m, profile="neuron", raise_on_error=False)
    assert any(i.code == "UNDEFINED_TYPE" and i.severity == "error" for i in rep)


def test_type_change_without_bifurcation_reported(morph_data: Path) -> None:
    f = morph_data / "neuron_morphology_tests"
    m = read(f / "Ctgf-2A-dgCre-D_Ai14_BT_-245170.06.06.01_539748835_m_pia.swc")
    rep = validate(m)
    assert "SECTION_TYPE_CHANGED" in rep.codes
    assert rep.ok


def test_repair_is_explicit_and_logged(edge: Path, caplog: pytest.LogCaptureFixture) -> None:
    m = read(edge / "Neuron_missing_ids.swc")
    with pytest.raises(ValidationError):
        validate(m)
    with caplog.at_level(logging.WARNING, logger="patchatlas.morphology"):
        rep = validate(m, repair=True)
    assert rep.ok and rep.repairs
    assert "attached" in caplog.text
    fixed = rep.morphology
    assert int((fixed.parent < 0).sum()) == 1
    assert len(fixed) == len(m)
    assert "repairs" in fixed.meta and "repairs" not in m.meta  # original untouched
    dropped = repair(m, disconnected="drop")
    assert len(dropped) == len(m) - 2


def test_real_allen_cells_validate(morph_data: Path) -> None:
    for f in sorted((morph_data / "allen_swc").glob("*_m.swc")):
        if "marker" in f.name:
            continue
        rep = validate(read(f))
        assert rep.ok, (f.name, rep.errors)


def test_unit_checks() -> None:
    m = parse_swc(b"1 1 0 0 0 1 -1\n2 3 0 1 0 -1 1\n3 3 0 2 0 1 2\n4 1 9 9 9 1 -1\n")
    rep = validate(m, profile="lenient")
    assert {"NEGATIVE_RADIUS", "MULTIPLE_SOMATA"} <= rep.codes
    empty_ok = validate(parse_swc(b"1 1 0 0 0 1 -1\n"), profile="lenient")
    assert "NO_DENDRITE" in empty_ok.codes
    assert np.all(m.radius == [1, -1, 1, 1])  # validation never modifies
