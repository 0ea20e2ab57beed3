"""Allen Cell Types biophysical models (perisomatic and all-active) from their fit files.

An Allen model download holds ``<id>_fit.json`` (blocks ``passive``, ``conditions``, ``genome``,
``fitting``), the reconstruction (SWC) and ``modfiles/``. :func:`load_allen_model` turns the
parsed fit and the reconstruction into a :class:`~patchatlas.models.biophys.BiophysModel` the way
the Allen runner configures NEURON (Gouwens et al. 2018; Nandi et al. 2022), re-implemented from
that behaviour:

* sections from the SWC by NEURON's Import3d rules, ``nseg = 1 + 2 int(L / 40 µm)``;
* the reconstructed axon replaced: perisomatic models by the 2 × 30 µm × 1 µm stub on
  ``soma(0.5)``; all-active models by the legacy "truncated" axon (diameters from the
  reconstruction, on ``soma(1)``), or the stub with ``axon="stub"`` (the runner's
  ``--axon_type stub`` for newer all-active models);
* ``pas`` in every section; perisomatic: ``Ra`` and ``e_pas`` from ``passive`` for all sections
  and ``cm`` per section group from ``passive.cm``; all-active: ``cm``, ``Ra``, ``g_pas`` and
  ``e_pas`` per group from the genome;
* every genome entry ``{section, name, value, mechanism}``: the mechanism is inserted in that
  group and ``name`` (``<param>_<mechanism>``) set; a group the morphology lacks (``apic`` on an
  aspiny cell) is skipped, as the Allen runner skips it; ``"glob"`` entries set a mechanism
  parameter everywhere the mechanism is;
* ``conditions``: ``celsius``, ``v_init``, ``erev`` (``ena``/``ek`` per group);
  ``fitting[0].junction_potential`` (−14 mV) is applied to the simulated voltage.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from patchatlas._version import __version__
from patchatlas.core.morphology import Morphology
from patchatlas.errors import DataError, ParameterError, SectionGroupError
from patchatlas.models.biophys.geometry import AXON_HANDLING, cable_tree
from patchatlas.models.biophys.model import BiophysModel, Conditions, Mechanism

__all__ = [
    "KNOWN_GROUPS",
    "PERISOMATIC_UPPER",
    "load_allen_model",
    "model_kind",
    "perisomatic_bounds",
    "perisomatic_template",
]

#: section groups an Allen fit may name (``glob``: global parameters)
KNOWN_GROUPS = ("soma", "axon", "dend", "apic", "glob")
#: NEURON's defaults for ``pas`` where a fit does not set them
_PAS_DEFAULTS = {"g": 0.001, "e": -70.0}


def model_kind(fit: Mapping[str, Any]) -> str:
    """``"all_active"`` when the genome sets passive parameters per group, else ``"perisomatic"``.

    Parameters
    ----------
    fit
        The parsed fit file.

    Returns
    -------
    str
        The model kind.
    """
    names = {str(g.get("name", "")) for g in fit.get("genome", []) if isinstance(g, Mapping)}
    return "all_active" if names & {"cm", "Ra", "e_pas"} else "perisomatic"


def _first(fit: Mapping[str, Any], key: str, where: str, *, required: bool = True) -> Any:
    block = fit.get(key)
    if isinstance(block, Sequence) and not isinstance(block, str | bytes):
        if block:
            return block[0]
    elif isinstance(block, Mapping):
        return block
    if required:
        raise DataError(
            f"{where}: the fit has no {key!r} block; an Allen fit file has 'passive', "
            "'conditions', 'genome' and 'fitting'"
        )
    return {}


def _number(value: Any, where: str, item: str) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise DataError(f"{where}: {item}: value {value!r} is not a number") from None
    if not math.isfinite(x):
        raise DataError(f"{where}: {item}: value {value!r} is not finite")
    return x


def load_allen_model(
    fit_json: Mapping[str, Any],
    swc: Morphology,
    *,
    axon: Literal["auto", "stub", "truncated", "reconstructed"] = "auto",
    kind: Literal["auto", "perisomatic", "all_active"] = "auto",
    source: str = "",
    name: str | None = None,
    modfiles: str | None = None,
) -> BiophysModel:
    """An Allen perisomatic or all-active model from its parsed fit file and reconstruction.

    This is the engine's loader: it takes the file contents. :func:`patchatlas.load_allen_model`
    takes the paths (it reads both files with :mod:`patchatlas.io` and calls this).

    Parameters
    ----------
    fit_json
        The parsed ``<id>_fit.json`` (``passive``, ``conditions``, ``genome``, ``fitting``).
    swc
        The reconstruction (:class:`~patchatlas.core.Morphology`, e.g.
        ``patchatlas.read("cell.swc")``).
    axon
        ``"auto"``: the stub for perisomatic, the legacy truncated axon for all-active models;
        or ``"stub"``, ``"truncated"``, ``"reconstructed"``.
    kind
        ``"auto"`` (from the genome), ``"perisomatic"`` or ``"all_active"``.
    source
        The fit file's path, for messages and provenance.
    name
        Model name (default: the reconstruction's).
    modfiles
        Folder of the model's ``.mod`` files (NEURON backend).

    Returns
    -------
    BiophysModel
        The model; ``provenance`` records the loader, kind, axon handling and segment rule.

    Raises
    ------
    patchatlas.errors.SectionGroupError
        A genome or ``erev`` entry names a section group that is not ``soma``, ``axon``,
        ``dend``, ``apic`` or ``glob`` (the message names the file and the entry).
    patchatlas.errors.DataError
        A missing block, or a value that is not a number.
    patchatlas.errors.ValidationError
        The reconstruction has no soma.
    """
    if isinstance(fit_json, str | bytes) or not isinstance(fit_json, Mapping):
        raise ParameterError(
            "patchatlas.models.biophys.load_allen_model takes the parsed fit (a mapping) and a "
            "Morphology; to load from files use patchatlas.load_allen_model(fit_json_path, "
            "swc_path)"
        )
    if not isinstance(swc, Morphology):
        raise ParameterError(
            "load_allen_model: swc must be a patchatlas Morphology (patchatlas.read('cell.swc')); "
            "to load from files use patchatlas.load_allen_model(fit_json_path, swc_path)"
        )
    where = source or "Allen fit"
    genome = fit_json.get("genome")
    if not isinstance(genome, Sequence) or isinstance(genome, str) or not genome:
        raise DataError(f"{where}: the fit has no 'genome' list of parameters")
    passive = _first(fit_json, "passive", where)
    conditions = _first(fit_json, "conditions", where)
    fitting = _first(fit_json, "fitting", where, required=False)
    the_kind = model_kind(fit_json) if kind == "auto" else kind
    if the_kind not in ("perisomatic", "all_active"):
        raise ParameterError(f"unknown model kind {kind!r}; use 'perisomatic' or 'all_active'")
    if axon == "auto":
        axon_how = "stub" if the_kind == "perisomatic" else "truncated"
    elif axon in AXON_HANDLING:
        axon_how = axon
    else:
        raise ParameterError(
            f"unknown axon handling {axon!r}; use 'auto' or one of {AXON_HANDLING}"
        )

    # check every group named before building anything
    for i, g in enumerate(genome):
        if not isinstance(g, Mapping) or not {"section", "name", "value"} <= set(g):
            raise DataError(
                f"{where}: genome[{i}] is not an entry with 'section', 'name', 'value' (got {g!r})"
            )
        if g["section"] not in KNOWN_GROUPS:
            raise SectionGroupError(
                f"{where}: genome[{i}] ({g.get('name')}) names section group "
                f"{g['section']!r}; Allen models use {', '.join(KNOWN_GROUPS)}"
            )
    erev = conditions.get("erev", []) or []
    for i, e in enumerate(erev):
        if not isinstance(e, Mapping) or e.get("section") not in KNOWN_GROUPS[:-1]:
            raise SectionGroupError(
                f"{where}: conditions.erev[{i}] names section group "
                f"{e.get('section') if isinstance(e, Mapping) else e!r}; Allen models use "
                f"{', '.join(KNOWN_GROUPS[:-1])}"
            )

    tree = cable_tree(swc, axon=axon_how, name=name)  # type: ignore[arg-type]
    groups = set(tree.groups)
    skipped: list[str] = []

    ra_all = _number(passive.get("ra", 35.4), where, "passive.ra")
    ra = dict.fromkeys(groups, ra_all)
    cm = dict.fromkeys(groups, 1.0)
    pas: dict[str, dict[str, float]] = {g: dict(_PAS_DEFAULTS) for g in groups}
    if "e_pas" in passive:
        e = _number(passive["e_pas"], where, "passive.e_pas")
        for g in groups:
            pas[g]["e"] = e
    for i, c in enumerate(passive.get("cm", []) or []):
        g = c.get("section") if isinstance(c, Mapping) else None
        if g not in KNOWN_GROUPS[:-1]:
            raise SectionGroupError(
                f"{where}: passive.cm[{i}] names section group {g!r}; Allen models use "
                f"{', '.join(KNOWN_GROUPS[:-1])}"
            )
        if g in groups:
            cm[g] = _number(c.get("cm"), where, f"passive.cm[{i}]")

    mech_params: dict[tuple[str, str], dict[str, float]] = {}
    mech_origin: dict[tuple[str, str], str] = {}
    glob: list[tuple[int, str, str, float]] = []
    for i, g in enumerate(genome):
        group, pname = str(g["section"]), str(g["name"])
        mech = str(g.get("mechanism", "") or "")
        item = f"genome[{i}] ({pname} in {group})"
        value = _number(g["value"], where, item)
        if group == "glob":
            glob.append((i, pname, mech, value))
            continue
        if group not in groups:
            skipped.append(item)
            continue
        if mech == "":
            if pname == "cm":
                cm[group] = value
            elif pname == "Ra":
                ra[group] = value
            elif pname in ("g_pas", "e_pas"):
                pas[group][pname[0]] = value
            else:
                raise DataError(
                    f"{where}: {item} has no mechanism and is not cm, Ra, g_pas or e_pas"
                )
            continue
        suffix = "_" + mech
        param = pname[: -len(suffix)] if pname.endswith(suffix) else pname
        key = (group, mech)
        mech_params.setdefault(key, {})[param] = value
        mech_origin.setdefault(key, f"{where} {item}")

    for i, pname, mech, value in glob:
        if not mech:
            raise DataError(f"{where}: genome[{i}] ({pname} in glob) names no mechanism")
        param = pname.removesuffix("_" + mech)
        hits = [k for k in mech_params if k[1] == mech]
        if not hits:
            skipped.append(f"genome[{i}] ({pname} in glob: {mech} is not inserted)")
        for k in hits:
            mech_params[k][param] = value

    order = ["soma", "axon", "dend", "apic"]
    mechanisms = [Mechanism("pas", g, pas[g], f"{where} passive/pas") for g in order if g in groups]
    for key in sorted(mech_params, key=lambda k: (order.index(k[0]), k[1])):
        mechanisms.append(Mechanism(key[1], key[0], mech_params[key], mech_origin[key]))

    reversal: dict[str, dict[str, float]] = {}
    for i, e in enumerate(erev):
        g = str(e["section"])
        if g not in groups:
            continue
        for var in ("ena", "ek", "eca"):
            if var in e:
                reversal.setdefault(g, {})[var[1:]] = _number(
                    e[var], where, f"conditions.erev[{i}].{var}"
                )
    cond = Conditions(
        celsius=_number(conditions.get("celsius", 34.0), where, "conditions.celsius"),
        v_init=_number(conditions.get("v_init", -80.0), where, "conditions.v_init"),
        junction_potential=_number(
            fitting.get("junction_potential", 0.0), where, "fitting.junction_potential"
        ),
        reversal=reversal,
    )
    return BiophysModel(
        geometry=tree,
        mechanisms=tuple(mechanisms),
        cm=cm,
        ra=ra,
        conditions=cond,
        name=name if name is not None else swc.label,
        kind=the_kind,
        source=source,
        modfiles=modfiles,
        provenance={
            "loader": "patchatlas.models.biophys.load_allen_model",
            "package_version": __version__,
            "kind": the_kind,
            "axon": axon_how,
            "nseg": "1 + 2 int(L / 40 um)",
            "morphology": swc.source or swc.label,
            "fit": source,
            "fit_sweeps": list(fitting.get("sweeps", []) or []),
            "skipped": skipped,
            "notes": list(tree.notes),
        },
    )


#: upper bounds of the somatic conductances (S/cm²) of the Allen perisomatic fits (fit style
#: "f9"); :func:`perisomatic_template` searches from 1e-4 of each up to it, on a log scale
PERISOMATIC_UPPER = {
    "gbar_NaTs.soma": 15.0,
    "gbar_Nap.soma": 0.1,
    "gbar_K_P.soma": 1.0,
    "gbar_K_T.soma": 1.0,
    "gbar_Kv3_1.soma": 3.0,
    "gbar_SK.soma": 1.0,
    "gbar_Ca_HVA.soma": 0.001,
    "gbar_Ca_LVA.soma": 0.01,
    "gbar_Im.soma": 0.1,
    "gbar_Ih.soma": 0.1,
}


def perisomatic_bounds(*, decades: float = 4.0) -> dict[str, tuple[float, float]]:
    """Search ranges of the perisomatic template's somatic conductances.

    Parameters
    ----------
    decades
        Each range spans this many decades below the Allen upper bound.

    Returns
    -------
    dict
        Parameter key → (lower, upper) in S/cm².
    """
    return {k: (u * 10.0**-decades, u) for k, u in PERISOMATIC_UPPER.items()}


def perisomatic_template(
    morphology: Morphology,
    *,
    name: str | None = None,
    e_pas: float = -80.0,
    g_pas: float = 1e-4,
    cm: float = 1.0,
    ra: float = 100.0,
    junction_potential: float = -14.0,
    axon: Literal["stub", "truncated", "reconstructed"] = "stub",
) -> BiophysModel:
    """An Allen-style perisomatic model to fit: the ten Allen somatic conductances (plus calcium
    dynamics) on the soma, passive dendrites and the stub axon, 34 °C.

    Conductances start at the geometric middle of :func:`perisomatic_bounds`; fit them with
    :func:`patchatlas.models.biophys.fit` (``parameters=perisomatic_bounds()``).

    Parameters
    ----------
    morphology
        The reconstruction.
    name
        Model name (default: the reconstruction's).
    e_pas, g_pas
        Leak reversal (mV) and conductance (S/cm²) in every section.
    cm, ra
        Membrane capacitance (µF/cm²) and axial resistivity (Ω·cm) in every section.
    junction_potential
        Applied to simulated sweeps (mV; Allen −14).
    axon
        Axon handling (default: the Allen stub).

    Returns
    -------
    BiophysModel
        ``kind="perisomatic"``.
    """
    tree = cable_tree(morphology, axon=axon, name=name)
    groups = tree.groups
    mechs = [Mechanism("pas", g, {"g": g_pas, "e": e_pas}, "template") for g in groups]
    for key, (lo, hi) in perisomatic_bounds().items():
        pname, _, _ = key.partition(".")
        mech = pname.removeprefix("gbar_")
        mechs.append(Mechanism(mech, "soma", {"gbar": math.sqrt(lo * hi)}, "template"))
    mechs.append(Mechanism("CaDynamics", "soma", {"gamma": 0.05, "decay": 80.0}, "template"))
    return BiophysModel(
        geometry=tree,
        mechanisms=tuple(mechs),
        cm=dict.fromkeys(groups, cm),
        ra=dict.fromkeys(groups, ra),
        conditions=Conditions(
            celsius=34.0,
            v_init=e_pas,
            junction_potential=junction_potential,
            reversal={"soma": {"na": 53.0, "k": -107.0}},
        ),
        name=name if name is not None else morphology.label,
        kind="perisomatic",
        provenance={
            "loader": "patchatlas.models.biophys.perisomatic_template",
            "package_version": __version__,
            "axon": axon,
            "morphology": morphology.source or morphology.label,
        },
    )
