"""Loading Allen fit files: both model kinds, the Allen passive/genome/conditions rules, and clear
errors naming the file and the item."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

import patchatlas
from patchatlas.errors import (
    CorruptFileError,
    DataError,
    ParameterError,
    ReadError,
    SectionGroupError,
    ValidationError,
)
from patchatlas.io import read_morphology
from patchatlas.io.allen_models import read_allen_fit, read_allen_sweep_table
from patchatlas.models.biophys import load_allen_model, model_kind


def test_perisomatic_model(peri_model) -> None:
    m = peri_model
    assert m.kind == "perisomatic" and m.geometry.axon == "stub"
    assert m.conditions.celsius == 34.0 and m.conditions.junction_potential == -14.0
    assert m.conditions.v_init == pytest.approx(-80.97549438476562)
    assert m.conditions.reversal == {"soma": {"na": 53.0, "k": -107.0}}
    p = m.parameters
    # passive block: Ra and e_pas everywhere, cm per group; genome: g_pas per group
    groups = m.geometry.groups
    assert [p[f"Ra.{g}"] for g in groups] == pytest.approx([294.577379958] * len(groups))
    assert [p[f"e_pas.{g}"] for g in groups] == pytest.approx([-80.97549438476562] * len(groups))
    assert p["cm.dend"] == pytest.approx(2.207587481)
    assert p["g_pas.dend"] == pytest.approx(0.00012046511053782884)
    assert p["gbar_NaTs.soma"] == pytest.approx(0.26291899248487288)
    assert p["decay_CaDynamics.soma"] == pytest.approx(210.69882206178499)
    # ten somatic conductances + calcium dynamics on the soma, pas everywhere
    soma = {x.name for x in m.mechanisms if x.group == "soma"}
    assert soma == {
        "pas",
        "Im",
        "Ih",
        "NaTs",
        "Nap",
        "K_P",
        "K_T",
        "SK",
        "Kv3_1",
        "Ca_HVA",
        "Ca_LVA",
        "CaDynamics",
    }
    axon = [m.geometry.sections[k] for k in m.geometry.indices("axon")]
    assert [(a.length, a.parent_x) for a in axon] == [(30.0, 0.5), (30.0, 1.0)]


def test_all_active_model(aa_model) -> None:
    m = aa_model
    assert m.kind == "all_active" and m.geometry.axon == "truncated"
    assert m.conditions.v_init == -90.0
    p = m.parameters
    assert p["Ra.axon"] == pytest.approx(134.494) and p["cm.soma"] == pytest.approx(5.74988)
    assert p["e_pas.apic"] == pytest.approx(-85.0301)
    assert p["gbar_NaV.apic"] == pytest.approx(0.0116712)
    assert set(m.conditions.reversal) == {"soma", "axon", "apic", "dend"}
    axon = [m.geometry.sections[k] for k in m.geometry.indices("axon")]
    # the legacy rule: the first reconstructed axon section's middle-segment diameter, on soma(1)
    assert axon[0].parent_x == 1.0
    assert axon[0].segment_diameter() == pytest.approx(0.4051, abs=1e-3)


def test_all_active_with_the_stub_axon(aa_paths) -> None:
    m = patchatlas.load_allen_model(*aa_paths, axon="stub")
    axon = [m.geometry.sections[k] for k in m.geometry.indices("axon")]
    assert [(a.segment_diameter(), a.parent_x) for a in axon] == [(1.0, 0.5), (1.0, 1.0)]


def test_model_kind_and_apic_skipped_on_an_aspiny_cell(peri_paths, aa_paths) -> None:
    fit = read_allen_fit(aa_paths[0])
    assert model_kind(fit) == "all_active"
    assert model_kind(read_allen_fit(peri_paths[0])) == "perisomatic"
    # the all-active genome on the aspiny (no apical) Sst cell: apic entries are skipped as the
    # Allen runner skips them
    m = load_allen_model(fit, read_morphology(peri_paths[1]), source="aa.json")
    assert "apic" not in m.geometry.groups
    assert any("apic" in s for s in m.provenance["skipped"])


def test_loading_from_paths_finds_modfiles_beside_the_fit(tmp_path: Path, peri_paths) -> None:
    fit = tmp_path / "472450023_fit.json"
    fit.write_bytes(peri_paths[0].read_bytes())
    (tmp_path / "modfiles").mkdir()
    (tmp_path / "modfiles" / "X.mod").write_text("NEURON { SUFFIX X }\n")
    m = patchatlas.load_allen_model(fit, peri_paths[1])
    assert m.modfiles == str(tmp_path / "modfiles") and m.source == str(fit)


def test_the_engine_loader_takes_parsed_objects(peri_paths) -> None:
    with pytest.raises(ParameterError, match=r"patchatlas\.load_allen_model"):
        load_allen_model(str(peri_paths[0]), str(peri_paths[1]))  # type: ignore[arg-type]


def _fit_copy(path: Path) -> dict:
    return copy.deepcopy(json.loads(path.read_text()))


def test_unknown_section_group_names_file_and_entry(peri_paths) -> None:
    fit = _fit_copy(peri_paths[0])
    fit["genome"][3]["section"] = "basal"
    with pytest.raises(SectionGroupError, match=r"my_fit\.json: genome\[3\] \(gbar_Nap\).*'basal'"):
        load_allen_model(fit, read_morphology(peri_paths[1]), source="my_fit.json")
    fit = _fit_copy(peri_paths[0])
    fit["conditions"][0]["erev"][0]["section"] = "somata"
    with pytest.raises(SectionGroupError, match=r"conditions\.erev\[0\]"):
        load_allen_model(fit, read_morphology(peri_paths[1]), source="my_fit.json")


def test_bad_values_and_blocks(peri_paths) -> None:
    morph = read_morphology(peri_paths[1])
    fit = _fit_copy(peri_paths[0])
    fit["genome"][0]["value"] = "fast"
    with pytest.raises(DataError, match=r"genome\[0\] \(gbar_Im in soma\).*'fast'"):
        load_allen_model(fit, morph, source="f.json")
    fit = _fit_copy(peri_paths[0])
    del fit["conditions"]
    with pytest.raises(DataError, match="no 'conditions' block"):
        load_allen_model(fit, morph, source="f.json")


def test_no_soma(peri_paths) -> None:
    morph = read_morphology(peri_paths[1])
    bad = morph.replace(types=morph.types.copy())
    bad.types[bad.types == 1] = 3
    with pytest.raises(ValidationError, match="no soma"):
        load_allen_model(read_allen_fit(peri_paths[0]), bad)


def test_io_errors(tmp_path: Path) -> None:
    with pytest.raises(ReadError, match="no such file"):
        read_allen_fit(tmp_path / "missing.json")
    p = tmp_path / "x.json"
    p.write_text("{not json")
    with pytest.raises(CorruptFileError, match="not valid JSON"):
        read_allen_fit(p)
    p.write_text(json.dumps({"genome": []}))
    with pytest.raises(CorruptFileError, match="'passive'"):
        read_allen_fit(p)
    with pytest.raises(CorruptFileError):
        read_allen_sweep_table(p)


def test_sweep_table(shared_data: Path) -> None:
    from tests.models.biophys.conftest import PERI_SWEEPS

    t = read_allen_sweep_table(shared_data / PERI_SWEEPS)
    ls = t[t.stimulus_name == "Long Square"]
    assert len(ls) == 17
    row = ls[ls.sweep_number == 30].iloc[0]
    assert row.amplitude_pa == pytest.approx(90.0) and row.num_spikes == 30
