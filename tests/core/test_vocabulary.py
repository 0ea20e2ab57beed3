"""The annotation vocabulary: case, synonyms, the taxonomy's hierarchy, quality labels, ranges."""

from __future__ import annotations

import math

import pytest

from patchatlas.core.vocabulary import (
    PHYSIOLOGICAL_RANGES,
    class_of,
    family_of,
    harmonise,
    is_quality_label,
    outside_range,
    region_parent,
    subclass_of,
)


@pytest.mark.parametrize(
    ("field", "native", "value"),
    [
        ("species", "Homo sapiens", "human"),
        ("species", "Mus musculus", "mouse"),
        ("species", "MOUSE", "mouse"),
        ("region", "temporal", "TemL"),
        ("region", "mtg", "MTG"),
        ("region", "VISp", "VISp"),
        ("layer", "L2/3", "2/3"),
        ("layer", "2_3", "2/3"),
        ("layer", "6A", "6a"),
        ("cre_line", "Sst-IRES-Cre ;Vip-IRES-FlpO", "Sst-IRES-Cre; Vip-IRES-FlpO"),
        ("subclass", "PVALB", "Pvalb"),
        ("subclass", "LAMP5/PAX6/Other", "Lamp5/Pax6/Other"),
        ("dendrite_type", "Aspiny", "aspiny"),
        ("t_type", "Sst Myh8 Etv1 ", "Sst Myh8 Etv1"),
    ],
)
def test_harmonise(field: str, native: str, value: str) -> None:
    h = harmonise(field, native)
    assert h.value == value and h.quality is None
    assert h.native == native.strip()


def test_quality_labels_are_not_types() -> None:
    h = harmonise("subclass", "low quality")
    assert h.value is None and h.quality == "low quality" and h.native == "low quality"
    assert is_quality_label("Low Quality") and not is_quality_label("Lamp5")
    assert harmonise("t_type", float("nan")).native is None
    assert harmonise("species", "low quality").value == "low quality"  # only type fields


@pytest.mark.parametrize(
    ("t_type", "subclass", "family", "klass"),
    [
        ("Sst Calb2 Pdlim5", "Sst", "Sst", "GABAergic"),
        ("L2/3 IT_3", "L2/3 IT", "IT", "Glutamatergic"),
        ("L4/5 IT_1", "L4/5 IT", "IT", "Glutamatergic"),
        ("L6 CT Cpa6", "L6 CT", "CT", "Glutamatergic"),
        ("L5/6 NP CT", "L5/6 NP", "NP", "Glutamatergic"),
        ("L6b Col6a1", "L6b", "L6b", "Glutamatergic"),
        ("L2/3 IT VISp Agmat", "L2/3 IT", "IT", "Glutamatergic"),
        ("Inh L2-4 PVALB WFDC2", "Pvalb", "Pvalb", "GABAergic"),
        ("Inh L1-3 VIP SYT6", "Vip", "Vip", "GABAergic"),
        ("Exc L2 LAMP5 LTK", "L2/3 IT", "IT", "Glutamatergic"),
        ("Exc L3-5 RORB COL22A1", "L2/3 IT", "IT", "Glutamatergic"),
        ("Sncg Vip Itih5", "Sncg", "Sncg", "GABAergic"),
    ],
)
def test_taxonomy_levels(t_type: str, subclass: str, family: str, klass: str) -> None:
    assert subclass_of(t_type) == subclass
    assert family_of(subclass) == family
    assert class_of(family) == klass


def test_unknown_labels_stay_unknown() -> None:
    assert subclass_of("Inh L1-2 ADARB2 MC4R") is None
    assert subclass_of("low quality") is None and subclass_of(None) is None
    assert region_parent("MTG") == "TemL" and region_parent("VISpm") == "VIS"
    assert region_parent("Narnia") is None


def test_ranges() -> None:
    assert outside_range("ri", -789.0) and outside_range("vrest", -3.3)
    assert not outside_range("ri", 150.0) and not outside_range("vrest", -70.0)
    assert not outside_range("ri", math.nan) and not outside_range("no_such_feature", 1e9)
    for r in PHYSIOLOGICAL_RANGES.values():
        assert r.low < r.high and r.unit and r.note
