"""Model geometry: sections from a reconstruction as NEURON's Import3d builds them, the Allen nseg
rule and axon replacement."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from patchatlas.core.morphology import Morphology
from patchatlas.errors import ParameterError, ValidationError
from patchatlas.io import read_morphology
from patchatlas.models.biophys import allen_nseg, ball_and_stick, cable_tree

SWCS = (
    "Scnn1a-Tg3-Cre_Ai14-177297.06.01.01_491120155_m.swc",
    "Sst-IRES-Cre_Ai14-165865.03.01.01_491119181_m.swc",
    "Nr5a1-Cre_Ai14_IVSCC_-177334.05.01.01_471120787_m.swc",
)


def _tiny(types=(1, 3, 3, 3, 2, 2)) -> Morphology:
    # soma at 0; a dendrite 0 -> (0,10) -> (0,20) branching nowhere; an axon going down
    xyz = [[0, 0, 0], [0, 6, 0], [0, 16, 0], [0, 26, 0], [0, -6, 0], [0, -100, 0]]
    return Morphology.from_arrays(
        ids=[1, 2, 3, 4, 5, 6],
        types=list(types),
        xyz=xyz,
        radius=[5, 1, 1, 0.5, 0.5, 0.5],
        parent_ids=[-1, 1, 2, 3, 1, 5],
    )


def test_allen_nseg_rule() -> None:
    assert [allen_nseg(x) for x in (0, 39.9, 40, 79.9, 80, 200)] == [1, 1, 3, 3, 5, 11]


def test_single_point_soma_is_a_cylinder_with_the_sphere_area() -> None:
    tree = cable_tree(_tiny(), axon="reconstructed")
    soma = tree.sections[0]
    assert soma.name == "soma[0]" and soma.length == pytest.approx(10.0)
    assert soma.area == pytest.approx(4 * math.pi * 5**2)
    dend = tree.sections[tree.indices("dend")[0]]
    # a child of the soma starts at its own first node and hangs on soma(0.5)
    assert dend.parent == 0 and dend.parent_x == 0.5
    assert dend.length == pytest.approx(20.0)
    assert [s.name for s in tree.sections] == ["soma[0]", "dend[0]", "axon[0]"]


def test_stub_axon_replaces_the_reconstructed_axon() -> None:
    tree = cable_tree(_tiny(), axon="stub")
    ax = [tree.sections[k] for k in tree.indices("axon")]
    assert [a.name for a in ax] == ["axon[0]", "axon[1]"]
    assert [a.length for a in ax] == pytest.approx([30.0, 30.0])
    assert [a.segment_diameter() for a in ax] == pytest.approx([1.0, 1.0])
    assert (ax[0].parent, ax[0].parent_x) == (0, 0.5)
    assert tree.sections[ax[1].parent].name == "axon[0]" and ax[1].parent_x == 1.0


def test_truncated_axon_takes_reconstructed_diameters_and_soma_end() -> None:
    tree = cable_tree(_tiny(), axon="truncated")
    ax = [tree.sections[k] for k in tree.indices("axon")]
    # the reconstructed axon is one 100 µm section of diameter 1 µm (radius 0.5): middle segment
    assert [a.segment_diameter() for a in ax] == pytest.approx([1.0, 1.0])
    assert ax[0].parent_x == 1.0


def test_no_soma_is_a_clear_error() -> None:
    m = _tiny(types=(3, 3, 3, 3, 2, 2))
    with pytest.raises(ValidationError, match="no soma"):
        cable_tree(m)


def test_bad_options() -> None:
    with pytest.raises(ParameterError, match="axon handling"):
        cable_tree(_tiny(), axon="none")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="nseg"):
        cable_tree(_tiny(), nseg=0)


def test_ball_and_stick() -> None:
    t = ball_and_stick(n_dendrites=3, dendrite_length_um=100.0)
    assert t.groups == ("soma", "dend", "axon")
    assert len(t.indices("dend")) == 3 and t.n_segments == 1 + 3 * 5 + 2
    assert t.with_nseg(2).n_segments == 2 * len(t.sections)


@pytest.mark.parametrize("name", SWCS)
def test_sections_equal_neuron_import3d(shared_data: Path, neuron_ok: None, name: str) -> None:
    """Every section (name, length, membrane area, nseg, parent and attachment point, segment
    diameters) equals what NEURON's own SWC import gives: the models run on the geometry their
    Allen fits used."""
    from neuron import h

    path = shared_data / "morphology" / "allen_swc" / name
    tree = cable_tree(read_morphology(path), axon="reconstructed")
    h.load_file("stdlib.hoc")
    h.load_file("import3d.hoc")
    swc = h.Import3d_SWC_read()
    swc.quiet = 1
    swc.input(str(path))
    imp = h.Import3d_GUI(swc, 0)
    imp.instantiate(None)
    try:
        secs = {s.name(): s for s in h.allsec() if not s.name().startswith("pa")}
        assert len(secs) == len(tree.sections)
        for s in tree.sections:
            ns = secs[s.name]
            ns.nseg = allen_nseg(ns.L)
            assert s.nseg == ns.nseg
            # NEURON keeps 3-D points in single precision
            assert s.length == pytest.approx(ns.L, rel=1e-5, abs=1e-3)
            area = sum(h.area(seg.x, sec=ns) for seg in ns)
            assert s.area == pytest.approx(area, rel=1e-4, abs=1e-2)
            diams = [seg.diam for seg in ns]
            mine = [s.segment_diameter((k + 0.5) / s.nseg) for k in range(s.nseg)]
            np.testing.assert_allclose(mine, diams, rtol=1e-4, atol=1e-5)
            ps = ns.parentseg()
            if ps is None:
                assert s.parent == -1
            else:
                assert tree.sections[s.parent].name == ps.sec.name()
                assert s.parent_x == pytest.approx(ps.x)
    finally:
        for ns in list(secs.values()):
            h.delete_section(sec=ns)
