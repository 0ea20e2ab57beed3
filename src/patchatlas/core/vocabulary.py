"""One vocabulary for cell annotations: species, brain regions, layers, Cre lines, dendrite
types and the transcriptomic taxonomy, plus the quality labels that are not types and the
documented physiological ranges of the main cell features.

Lookup tables and string rules only (no inference, no I/O): the importers of published tables
(:mod:`patchatlas.datasets.published`) harmonise every label they store with :func:`harmonise`
and keep the native label next to it; the atlas and the portal use the same tables.

Taxonomy levels (Tasic et al. 2018 and Yao et al. 2021 for mouse, Hodge et al. 2019 and Berg
et al. 2021 for human, with the cross-species subclass names of Bakken et al. 2021):

* ``t_type`` — the published type label, white space tidied (``"Sst Myh8 Etv1 "`` →
  ``"Sst Myh8 Etv1"``);
* ``subclass`` — :func:`subclass_of`: ``"Sst Calb2 Pdlim5"`` → ``Sst``, ``"L2/3 IT_3"`` →
  ``L2/3 IT``, ``"Inh L2-4 PVALB WFDC2"`` → ``Pvalb``, ``"Exc L2 LAMP5 LTK"`` → ``L2/3 IT``;
* ``family`` — :func:`family_of`: the GABAergic subclasses themselves, and the projection class
  of a glutamatergic subclass (``L2/3 IT`` → ``IT``, ``L5 ET`` → ``ET`` …), the level of the
  ``RNA family`` of Scala et al. 2021;
* ``class`` — :func:`class_of`: ``GABAergic``, ``Glutamatergic`` or ``Non-neuronal``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = [
    "FIELDS",
    "GABAERGIC_FAMILIES",
    "GLUTAMATERGIC_FAMILIES",
    "MARKER_GENES",
    "PHYSIOLOGICAL_RANGES",
    "QUALITY_LABELS",
    "REGIONS",
    "SPECIES",
    "Harmonised",
    "PhysiologicalRange",
    "class_of",
    "family_of",
    "harmonise",
    "is_quality_label",
    "outside_range",
    "region_parent",
    "subclass_of",
]

#: the annotation fields :func:`harmonise` knows
FIELDS: tuple[str, ...] = (
    "species",
    "region",
    "layer",
    "cre_line",
    "reporter",
    "dendrite_type",
    "subclass",
    "t_type",
)

#: canonical species name → synonyms (compared case-insensitively)
SPECIES: dict[str, tuple[str, ...]] = {
    "mouse": ("mus musculus", "m. musculus", "mice", "mus"),
    "human": ("homo sapiens", "h. sapiens", "homo sapiens sapiens"),
    "rat": ("rattus norvegicus", "r. norvegicus"),
    "macaque": ("macaca mulatta", "rhesus macaque", "macaca fascicularis"),
}

#: canonical region acronym → (name, parent acronym or None). Mouse: Allen CCF acronyms; human:
#: the gyri and lobes of the Allen human reference atlas used by the Allen Patch-seq tables.
REGIONS: dict[str, tuple[str, str | None]] = {
    # mouse
    "VIS": ("visual areas", "Isocortex"),
    "VISp": ("primary visual area", "VIS"),
    "VISl": ("lateral visual area", "VIS"),
    "VISal": ("anterolateral visual area", "VIS"),
    "VISam": ("anteromedial visual area", "VIS"),
    "VISpm": ("posteromedial visual area", "VIS"),
    "VISpl": ("posterolateral visual area", "VIS"),
    "VISli": ("laterointermediate area", "VIS"),
    "VISpor": ("postrhinal area", "VIS"),
    "VISrl": ("rostrolateral visual area", "VIS"),
    "VISa": ("anterior visual area", "VIS"),
    "MO": ("somatomotor areas", "Isocortex"),
    "MOp": ("primary motor area", "MO"),
    "MOs": ("secondary motor area", "MO"),
    "SSp": ("primary somatosensory area", "Isocortex"),
    "ALM": ("anterior lateral motor cortex", "MO"),
    "CA1": ("field CA1", "HPF"),
    "CA3": ("field CA3", "HPF"),
    "DG": ("dentate gyrus", "HPF"),
    "HPF": ("hippocampal formation", None),
    "Isocortex": ("isocortex", None),
    # human
    "TemL": ("temporal lobe", None),
    "FroL": ("frontal lobe", None),
    "ParL": ("parietal lobe", None),
    "OccL": ("occipital lobe", None),
    "LimL": ("limbic lobe", None),
    "MTG": ("middle temporal gyrus", "TemL"),
    "STG": ("superior temporal gyrus", "TemL"),
    "ITG": ("inferior temporal gyrus", "TemL"),
    "TP": ("temporal pole", "TemL"),
    "MFG": ("middle frontal gyrus", "FroL"),
    "SFG": ("superior frontal gyrus", "FroL"),
    "IFG": ("inferior frontal gyrus", "FroL"),
    "IFGtr": ("inferior frontal gyrus, triangular part", "FroL"),
    "PRG": ("precentral gyrus", "FroL"),
    "AOrG": ("anterior orbital gyrus", "FroL"),
    "LOrG": ("lateral orbital gyrus", "FroL"),
    "SPL": ("superior parietal lobule", "ParL"),
    "AnG": ("angular gyrus", "ParL"),
    "PaCG": ("paracentral gyrus", "ParL"),
    "CeG": ("postcentral gyrus", "ParL"),
    "PLP": ("parietal lobe, posterior part", "ParL"),
    "SOG": ("superior occipital gyrus", "OccL"),
    "IOG": ("inferior occipital gyrus", "OccL"),
    "CgGr": ("cingulate gyrus", "LimL"),
}
_REGION_SYNONYMS: dict[str, str] = {
    "temporal": "TemL",
    "temporal lobe": "TemL",
    "frontal": "FroL",
    "frontal lobe": "FroL",
    "parietal": "ParL",
    "parietal lobe": "ParL",
    "occipital": "OccL",
    "occipital lobe": "OccL",
    "m1": "MOp",
    "v1": "VISp",
    "primary motor cortex": "MOp",
    "primary visual cortex": "VISp",
    "middle temporal gyrus": "MTG",
}

#: labels that say something about a sample's quality, never a type (compared lower-case)
QUALITY_LABELS: frozenset[str] = frozenset(
    {
        "low quality",
        "low-quality",
        "lowquality",
        "doublet",
        "unassigned",
        "unclassified",
        "failed",
        "fail",
        "exclude",
        "excluded",
        "contaminated",
        "na",
        "n/a",
        "none",
        "nan",
        "unknown",
        "?",
    }
)

GABAERGIC_FAMILIES: tuple[str, ...] = (
    "Lamp5",
    "Sncg",
    "Serpinf1",
    "Vip",
    "Sst",
    "Pvalb",
    "Meis2",
    "Pax6",
    "Lamp5/Pax6/Other",
)
GLUTAMATERGIC_FAMILIES: tuple[str, ...] = ("IT", "ET", "CT", "NP", "L6b", "CR")
_NON_NEURONAL = ("Astro", "Oligo", "OPC", "Micro", "Endo", "VLMC", "SMC", "Peri", "Macrophage")

# canonical subclass spelling, keyed lower-case
_SUBCLASS_CANON: dict[str, str] = {
    s.lower(): s
    for s in (
        *GABAERGIC_FAMILIES,
        "Sst Chodl",
        "L2/3 IT",
        "L4 IT",
        "L4/5 IT",
        "L5 IT",
        "L6 IT",
        "L6 IT Car3",
        "L5 ET",
        "L5/6 NP",
        "L6 CT",
        "L6b",
        *GLUTAMATERGIC_FAMILIES,
        *_NON_NEURONAL,
    )
}
_SUBCLASS_CANON.update(
    {
        "l5 pt": "L5 ET",
        "pt": "ET",
        "l2/3": "L2/3 IT",
        "l23 it": "L2/3 IT",
        "l2-3 it": "L2/3 IT",
        "l6 np": "L5/6 NP",
        "l5 np": "L5/6 NP",
        "chandelier": "Pvalb",
        "astrocyte": "Astro",
        "oligodendrocyte": "Oligo",
        "microglia": "Micro",
        "lamp5/pax6/other": "Lamp5/Pax6/Other",
    }
)
# human (Hodge 2019) marker of an "Inh Lx-y MARKER …" type → subclass
_HUMAN_INH_MARKERS: dict[str, str] = {
    "PVALB": "Pvalb",
    "SST": "Sst",
    "VIP": "Vip",
    "LAMP5": "Lamp5",
    "PAX6": "Pax6",
}
# human excitatory types of layers 2 and 3 (Berg et al. 2021: LTK, GLP2R, FREM3, CARM1P1 and
# COL22A1 are the five L2/3 IT types)
_HUMAN_L23_IT = ("LTK", "GLP2R", "FREM3", "CARM1P1", "COL22A1")

#: marker genes shown on a cell's transcriptome panel (mouse symbols; human data are matched
#: case-insensitively), in display order: gene → what it marks
MARKER_GENES: dict[str, str] = {
    "Snap25": "neurons",
    "Gad1": "GABAergic",
    "Gad2": "GABAergic",
    "Slc17a7": "glutamatergic",
    "Lamp5": "Lamp5",
    "Sncg": "Sncg",
    "Vip": "Vip",
    "Sst": "Sst",
    "Pvalb": "Pvalb",
    "Cux2": "L2/3 IT",
    "Rorb": "L4/5 IT",
    "Fezf2": "ET",
    "Foxp2": "CT",
    "Tshz2": "NP",
    "Ctgf": "L6b",
    "Gfap": "astrocytes (contamination)",
    "Mbp": "oligodendrocytes (contamination)",
    "C1qb": "microglia (contamination)",
    "Pdgfra": "OPCs (contamination)",
}


@dataclass(frozen=True)
class Harmonised:
    """One harmonised label: the canonical ``value`` (None when the native label is empty or a
    quality label), the ``native`` label as given, and ``quality`` (the native label when it is a
    quality label such as ``"low quality"``, else None)."""

    value: str | None
    native: str | None
    quality: str | None = None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    s = re.sub(r"\s+", " ", str(value)).strip()
    if not s or s.lower() in ("nan", "none", "<na>", "null"):
        return None
    return s


def is_quality_label(label: Any) -> bool:
    """Whether a type label is a quality label (``"low quality"``, ``"doublet"`` …).

    Parameters
    ----------
    label
        A native label (any value; missing values are not quality labels).

    Returns
    -------
    bool
    """
    s = _text(label)
    return s is not None and s.lower() in QUALITY_LABELS


_SPECIES_LOOKUP = {
    **{k: k for k in SPECIES},
    **{syn: k for k, syns in SPECIES.items() for syn in syns},
}
_REGION_LOOKUP = {k.lower(): k for k in REGIONS} | _REGION_SYNONYMS


def _species(s: str) -> str:
    return _SPECIES_LOOKUP.get(s.lower(), s.lower())


def _region(s: str) -> str:
    return _REGION_LOOKUP.get(s.lower(), s)


def _layer(s: str) -> str:
    x = s.strip()
    x = re.sub(r"^(layer|l)\s*", "", x, flags=re.IGNORECASE)
    x = x.replace("_", "/")
    if x in ("23", "2-3"):
        x = "2/3"
    if x in ("56", "5-6"):
        x = "5/6"
    return x.lower() if re.fullmatch(r"\d[ABab]", x) else x


def _cre(s: str) -> str:
    parts = [p.strip() for p in re.split(r";", s) if p.strip()]
    return "; ".join(parts)


def _subclass(s: str) -> str:
    return _SUBCLASS_CANON.get(s.lower(), s)


def subclass_of(t_type: Any) -> str | None:
    """The subclass of a t-type label, by the naming rules of the published taxonomies.

    Parameters
    ----------
    t_type
        A t-type label (mouse Tasic/Yao style ``"Sst Calb2 Pdlim5"``, ``"L2/3 IT_3"``,
        ``"L6 CT Cpa6"``; human Hodge style ``"Inh L2-4 PVALB WFDC2"``, ``"Exc L2 LAMP5 LTK"``).

    Returns
    -------
    str or None
        The canonical subclass (``"Sst"``, ``"L2/3 IT"``, ``"Pvalb"`` …); None when the label is
        missing, a quality label, or follows no known rule.
    """
    s = _text(t_type)
    if s is None or is_quality_label(s):
        return None
    words = s.split(" ")
    if words[0] in ("Inh", "Exc") and len(words) >= 3:
        marker = words[2].upper()
        if words[0] == "Inh":
            return _HUMAN_INH_MARKERS.get(marker)
        if words[-1].upper() in _HUMAN_L23_IT:
            return "L2/3 IT"
        return None
    # mouse: "L2/3 IT_3", "L5 ET_1", "L6 CT Cpa6", "L5/6 NP CT", "L2/3 IT VISp Agmat"
    m = re.match(r"^(L\d(?:/\d)?b?)\s+(IT|ET|PT|CT|NP)(?:[_ ]|$)", s)
    if m:
        return _subclass(f"{m.group(1)} {m.group(2)}")
    if re.match(r"^L6b(?:[_ ]|$)", s):
        return "L6b"
    head = re.split(r"[ _]", s)[0]
    canon = _SUBCLASS_CANON.get(head.lower())
    return canon if canon in GABAERGIC_FAMILIES or canon in _NON_NEURONAL else None


def family_of(subclass: Any) -> str | None:
    """The family of a subclass: a GABAergic subclass itself (``Sst Chodl`` → ``Sst``), the
    projection class of a glutamatergic one (``L2/3 IT`` → ``IT``), a non-neuronal subclass
    itself.

    Parameters
    ----------
    subclass
        A canonical subclass (:func:`subclass_of`) or family.

    Returns
    -------
    str or None
    """
    s = _text(subclass)
    if s is None:
        return None
    s = _subclass(s)
    if s in GABAERGIC_FAMILIES or s in GLUTAMATERGIC_FAMILIES or s in _NON_NEURONAL:
        return s
    if s == "Sst Chodl":
        return "Sst"
    m = re.search(r"\b(IT|ET|CT|NP)\b", s)
    if m:
        return m.group(1)
    return s


def class_of(family: Any) -> str | None:
    """``"GABAergic"``, ``"Glutamatergic"`` or ``"Non-neuronal"`` for a family or subclass.

    Parameters
    ----------
    family
        A family (:func:`family_of`) or subclass.

    Returns
    -------
    str or None
        None for a missing or unknown label.
    """
    f = family_of(family)
    if f is None:
        return None
    if f in GABAERGIC_FAMILIES:
        return "GABAergic"
    if f in GLUTAMATERGIC_FAMILIES:
        return "Glutamatergic"
    if f in _NON_NEURONAL:
        return "Non-neuronal"
    return None


def region_parent(region: Any) -> str | None:
    """The parent of a canonical region (``MTG`` → ``TemL``, ``VISp`` → ``VIS``); None for a
    top-level or unknown region.

    Parameters
    ----------
    region
        A region label (harmonised or native).

    Returns
    -------
    str or None
    """
    s = _text(region)
    if s is None:
        return None
    entry = REGIONS.get(_region(s))
    return None if entry is None else entry[1]


_RULES: dict[str, Callable[[str], str]] = {
    "species": _species,
    "region": _region,
    "layer": _layer,
    "cre_line": _cre,
    "reporter": _cre,
    "dendrite_type": str.lower,
    "subclass": _subclass,
    "t_type": lambda s: s,
}


def harmonise(field: str, label: Any) -> Harmonised:
    """Map a native annotation onto the vocabulary.

    Parameters
    ----------
    field
        One of :data:`FIELDS`.
    label
        The native label (any value; NaN, None and blank strings are missing).

    Returns
    -------
    Harmonised
        The canonical value, the native label (white space tidied) and, for a quality label in a
        type field (``subclass``, ``t_type``), the quality label (then ``value`` is None).

    Raises
    ------
    KeyError
        ``field`` is not one of :data:`FIELDS` (a programming error, not bad data).
    """
    rule = _RULES[field]
    s = _text(label)
    if s is None:
        return Harmonised(None, None)
    if field in ("subclass", "t_type") and is_quality_label(s):
        return Harmonised(None, s, s)
    return Harmonised(rule(s), s)


@dataclass(frozen=True)
class PhysiologicalRange:
    """The range a cell feature of a healthy neuron lies in (library units); values outside are
    flagged as implausible, never dropped."""

    low: float
    high: float
    unit: str
    note: str


#: Registry cell features → the range values of recorded cortical and hippocampal neurons lie in,
#: deliberately wide (about twice the spread of NeuroElectro's curated values across neuron
#: types, Tripathy et al. 2015): a value outside is a failed fit, a dead cell or a unit error.
PHYSIOLOGICAL_RANGES: dict[str, PhysiologicalRange] = {
    "vrest": PhysiologicalRange(-110.0, -35.0, "mV", "resting potential of a living neuron"),
    "ri": PhysiologicalRange(5.0, 5000.0, "MΩ", "input resistance is positive"),
    "tau": PhysiologicalRange(0.5, 300.0, "ms", "membrane time constant"),
    "sag": PhysiologicalRange(-0.2, 1.0, "1", "sag ratio"),
    "threshold_i_long_square": PhysiologicalRange(0.0, 3000.0, "pA", "rheobase is positive"),
    "threshold_v_long_square": PhysiologicalRange(-75.0, 0.0, "mV", "AP threshold"),
    "peak_v_long_square": PhysiologicalRange(-20.0, 80.0, "mV", "AP peak"),
    "trough_v_long_square": PhysiologicalRange(-100.0, -20.0, "mV", "AP trough"),
    "upstroke_downstroke_ratio_long_square": PhysiologicalRange(0.5, 15.0, "1", "AP symmetry"),
    "f_i_curve_slope": PhysiologicalRange(-0.5, 10.0, "Hz/pA", "f-I slope"),
    "avg_firing_rate": PhysiologicalRange(0.0, 1000.0, "Hz", "mean firing rate"),
}


def outside_range(name: str, value: Any) -> bool:
    """Whether ``value`` of feature ``name`` lies outside its :data:`PHYSIOLOGICAL_RANGES`
    entry (False for features without one and for missing values).

    Parameters
    ----------
    name
        Registry feature name.
    value
        The value, in the feature's library unit.

    Returns
    -------
    bool
    """
    r = PHYSIOLOGICAL_RANGES.get(name)
    if r is None:
        return False
    try:
        x = float(value)
    except (TypeError, ValueError):
        return False
    return math.isfinite(x) and not (r.low <= x <= r.high)
