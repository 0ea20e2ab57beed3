"""Readers for published Patch-seq tables, normalised for the atlas.

Each loader reads one dataset's files (cell metadata, ephys features, morphology features,
expression counts) and returns a :class:`PublishedDataset`: a cell table with atlas annotation
columns, and long feature tables whose native names are mapped to registry (Allen cell-record)
names where a mapping exists and kept as-is where not (``native_name`` always keeps the original).

Supported: ``m1_scala2021`` (Scala et al. 2021), ``v1_gouwens2020`` (Gouwens et al. 2020),
``lee2023`` (Lee, Dalley et al. 2023) and ``berg2021`` (Berg et al. 2021).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from patchatlas.errors import ReadError

__all__ = ["DATASETS", "IPFX_TO_REGISTRY", "PublishedDataset", "import_dataset", "load_published"]

# native IPFX name -> (registry name, unit, factor to library units)
IPFX_TO_REGISTRY: dict[str, tuple[str, str, float]] = {
    "v_baseline": ("vrest", "mV", 1.0),
    "input_resistance": ("ri", "MΩ", 1.0),
    "tau": ("tau", "ms", 1e3),  # IPFX reports s; the Allen cell record uses ms
    "sag": ("sag", "", 1.0),
    "vm_for_sag": ("vm_for_sag", "mV", 1.0),
    "fi_fit_slope": ("f_i_curve_slope", "Hz/pA", 1.0),
    "rheobase_i": ("threshold_i_long_square", "pA", 1.0),
    # first spike of the rheobase sweep = Allen's *_long_square spike features
    "rheo_threshold_v": ("threshold_v_long_square", "mV", 1.0),
    "rheo_peak_v": ("peak_v_long_square", "mV", 1.0),
    "rheo_trough_v": ("trough_v_long_square", "mV", 1.0),
    "rheo_fast_trough_v": ("fast_trough_v_long_square", "mV", 1.0),
    "rheo_slow_trough_v": ("slow_trough_v_long_square", "mV", 1.0),
    "rheo_upstroke_downstroke_ratio": ("upstroke_downstroke_ratio_long_square", "", 1.0),
    "threshold_v_rheo": ("threshold_v_long_square", "mV", 1.0),
    "upstroke_downstroke_ratio_rheo": ("upstroke_downstroke_ratio_long_square", "", 1.0),
    "threshold_v_ramp": ("threshold_v_ramp", "mV", 1.0),
    "threshold_i_ramp": ("threshold_i_ramp", "pA", 1.0),
    "upstroke_downstroke_ratio_ramp": ("upstroke_downstroke_ratio_ramp", "", 1.0),
    "threshold_v_short_square": ("threshold_v_short_square", "mV", 1.0),
    "upstroke_downstroke_ratio_short_square": ("upstroke_downstroke_ratio_short_square", "", 1.0),
}

# Scala et al. 2021 column -> (registry name, unit, factor)
SCALA_TO_REGISTRY: dict[str, tuple[str, str, float]] = {
    "Resting membrane potential (mV)": ("vrest", "mV", 1.0),
    "Input resistance (MOhm)": ("ri", "MΩ", 1.0),
    "Membrane time constant (ms)": ("tau", "ms", 1.0),
    "Rheobase (pA)": ("threshold_i_long_square", "pA", 1.0),
}


@dataclass
class TranscriptomeLink:
    """An expression matrix file and which of its samples belongs to which cell."""

    name: str
    path: str
    format: str
    sha256: str
    n_genes: int
    samples: pd.Series  # cell name -> sample (column) id
    library_size: pd.Series | None = None
    genes_detected: pd.Series | None = None


@dataclass
class PublishedDataset:
    """A published dataset, normalised: cells, long ephys/morphology tables, expression link.

    ``cells`` is indexed by cell name with atlas columns (species, region, layer, depth_um,
    normalized_depth, cre_line, reporter, dendrite_type, subclass, t_type, t_type_confidence,
    donor, donor_sex, donor_age, ...). ``ephys`` and ``morphology`` have the columns
    ``cell, name, value, unit, native_name``; ``qc`` has ``cell, check, value``.
    """

    name: str
    cells: pd.DataFrame
    ephys: pd.DataFrame | None = None
    morphology: pd.DataFrame | None = None
    qc: pd.DataFrame | None = None
    transcriptome: TranscriptomeLink | None = None
    sources: list[str] = field(default_factory=list)


def _read_csv(path: Path, **kwargs: Any) -> pd.DataFrame:
    if not path.exists():
        raise ReadError(path, "missing from the dataset folder", "check the folder or the dataset")
    try:
        df: pd.DataFrame = pd.read_csv(path, encoding="utf-8-sig", **kwargs)
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise ReadError(path, f"cannot be parsed as a table ({exc})") from exc
    return df


def _long(
    table: pd.DataFrame,
    id_col: str,
    mapping: Mapping[str, tuple[str, str, float]],
    *,
    drop: tuple[str, ...] = (),
) -> pd.DataFrame:
    """Wide feature table -> long (cell, name, value, unit, native_name), numeric columns only."""
    t = table.drop(columns=[c for c in drop if c in table.columns])
    t = t.drop_duplicates(subset=id_col).set_index(id_col)
    t.index = t.index.astype(str)
    num = t.apply(pd.to_numeric, errors="coerce")
    num = num.loc[:, num.notna().any()]
    long = num.stack().reset_index()
    long.columns = ["cell", "native_name", "value"]
    names = long["native_name"].astype(str)
    mapped = names.map(lambda n: mapping.get(n, (n, None, 1.0)))
    long["name"] = [m[0] for m in mapped]
    long["unit"] = [m[1] for m in mapped]
    long["value"] = long["value"].to_numpy(dtype=float) * np.array([m[2] for m in mapped])
    long["native_name"] = names
    out: pd.DataFrame = long[["cell", "name", "value", "unit", "native_name"]]
    return out


def _split_genotype(genotype: Any) -> tuple[str | None, str | None]:
    """``"Sst-IRES-Cre/wt;Ai14(RCL-tdT)/wt"`` -> (``"Sst-IRES-Cre"``, ``"Ai14(RCL-tdT)"``)."""
    if not isinstance(genotype, str) or not genotype.strip():
        return None, None
    parts = [p.strip().split("/")[0] for p in re.split(r"[;]", genotype) if p.strip()]
    drivers = [p for p in parts if "Cre" in p or "Flp" in p]
    reporters = [p for p in parts if re.match(r"^Ai\d+", p)]
    return ("; ".join(drivers) or None), ("; ".join(reporters) or None)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


# ------------------------------------------------------------------------------------- loaders


def load_m1_scala2021(folder: Path) -> PublishedDataset:
    """Scala et al. 2021 mouse M1 Patch-seq: metadata, 29 ephys, 63 morphology features, counts."""
    meta = _read_csv(folder / "m1_patchseq_meta_data.csv", sep="\t")
    meta = meta.drop_duplicates(subset="Cell")
    drivers = meta["Mouse genotype"].map(_split_genotype)
    depth = pd.to_numeric(meta["Soma depth (µm)"], errors="coerce")
    thick = pd.to_numeric(meta["Cortical thickness (µm)"], errors="coerce")
    cells = pd.DataFrame(
        {
            "species": "mouse",
            "region": "MOp",
            "layer": meta["Inferred layer"].astype("string"),
            "depth_um": depth,
            "normalized_depth": depth / thick,
            "cre_line": [d[0] for d in drivers],
            "reporter": [d[1] for d in drivers],
            "reporter_status": meta["Cre"],
            "subclass": meta["RNA family"],
            "t_type": meta["RNA type"],
            "t_type_confidence": pd.to_numeric(meta["RNA type confidence"], errors="coerce"),
            "donor": meta["Mouse"],
            "donor_sex": meta["Mouse gender"],
            "donor_age": meta["Mouse age"].astype(str),
            "donor_genotype": meta["Mouse genotype"],
            "traced": meta["Traced"],
            "exclusion_reasons": meta["Exclusion reasons"],
        }
    )
    cells.index = meta["Cell"].astype(str)
    ephys = _long(
        _read_csv(folder / "m1_patchseq_ephys_features.csv"), "cell id", SCALA_TO_REGISTRY
    )
    morph_t = _read_csv(folder / "m1_patchseq_morph_features.csv")
    # erratum of the publication: this cell's reconstruction is wrong
    morph_t = morph_t[morph_t["cell id"].astype(str).str.replace("_", "") != "20171207sample1"]
    morph = _long(morph_t, "cell id", {})
    counts_path = folder / "sbnn_gene_counts_1000genes.csv"
    transcriptome = None
    if counts_path.exists():
        header = pd.read_csv(counts_path, nrows=0).columns[1:].astype(str)
        n_genes = sum(1 for _ in counts_path.open("rb")) - 1
        key = pd.Series(cells.index, index=cells.index).str.replace("_", "")
        linked = key[key.isin(set(header))]
        transcriptome = TranscriptomeLink(
            name="m1_scala2021_sbnn_1000genes",
            path=str(counts_path.resolve()),
            format="csv:genes_x_cells",
            sha256=_sha256(counts_path),
            n_genes=n_genes,
            samples=linked,
            library_size=pd.to_numeric(
                pd.Series(meta["Exon reads"].to_numpy(), index=cells.index), errors="coerce"
            ),
            genes_detected=pd.to_numeric(
                pd.Series(meta["Number of genes detected"].to_numpy(), index=cells.index),
                errors="coerce",
            ),
        )
    return PublishedDataset(
        "m1_scala2021", cells, ephys=ephys, morphology=morph, transcriptome=transcriptome
    )


def _layer_of(structure: Any) -> str | None:
    if not isinstance(structure, str):
        return None
    m = re.search(r"(\d(?:/\d)?[ab]?)$", structure)
    return m.group(1) if m else None


def load_v1_gouwens2020(folder: Path) -> PublishedDataset:
    """Gouwens et al. 2020 Allen Patch-seq: mouse (and human) metadata + IPFX features."""
    frames = []
    for species in ("mouse", "human"):
        path = folder / f"20200625_patchseq_metadata_{species}.csv"
        if species == "human" and not path.exists():
            continue
        m = _read_csv(path)
        drivers = m["full_genotype"].map(_split_genotype)
        region = m["structure"].astype("string")
        if species == "mouse":
            region = region.str.replace(r"\d(?:/\d)?[ab]?$", "", regex=True)
        frames.append(
            pd.DataFrame(
                {
                    "species": species,
                    "region": region.to_numpy(),
                    "layer": m["structure"].map(_layer_of).to_numpy(),
                    "depth_um": pd.to_numeric(m["depth_from_pia_um"], errors="coerce").to_numpy(),
                    "normalized_depth": pd.to_numeric(
                        m["cell_soma_normalized_depth"], errors="coerce"
                    ).to_numpy(),
                    "cre_line": [d[0] for d in drivers],
                    "reporter": [d[1] for d in drivers],
                    "dendrite_type": m["dendrite_type"].to_numpy(),
                    "t_type": m["corresponding_AIT2.3.1_alias"].to_numpy(),
                    "donor": m["donor_name"].astype(str).to_numpy(),
                    "donor_sex": m["biological_sex"].to_numpy(),
                    "donor_age": m["age"].astype(str).to_numpy(),
                    "donor_medical_conditions": m["medical_conditions"].to_numpy(),
                    "specimen_name": m["cell_specimen_name"].to_numpy(),
                    "ephys_session_id": m["ephys_session_id"].to_numpy(),
                    "transcriptomics_sample_id": m["transcriptomics_sample_id"].to_numpy(),
                },
                index=m["cell_specimen_id"].astype(str).to_numpy(),
            )
        )
    cells = pd.concat(frames)
    cells = cells[~cells.index.duplicated()]
    feats = _read_csv(folder / "ephys_features_gouwens_w_QC.csv")
    session = feats["filename"].astype(str).str.extract(r"ses-(\d+)")[0]
    by_session = pd.Series(cells.index, index=cells["ephys_session_id"].astype(str).to_numpy())
    by_session = by_session[~by_session.index.duplicated()]
    feats["cell"] = session.map(by_session)
    feats = feats[feats["cell"].notna()]
    drop = ("Unnamed: 0", "filename", "qc_recording_date")
    qc_cols = [c for c in feats.columns if c.startswith("qc_") and c not in drop]
    ephys = _long(feats.drop(columns=qc_cols), "cell", IPFX_TO_REGISTRY, drop=drop)
    qc = _long(feats[["cell", *qc_cols]], "cell", {})
    qc = qc.rename(columns={"name": "check"})[["cell", "check", "value"]]
    return PublishedDataset("v1_gouwens2020", cells, ephys=ephys, qc=qc)


def load_lee2023(folder: Path) -> PublishedDataset:
    """Lee, Dalley et al. 2023 human GABAergic Patch-seq: metadata, IPFX and morphology features."""
    meta = _read_csv(folder / "LeeDalley_manuscript_metadata_v2.csv")
    meta.columns = [c.strip() for c in meta.columns]
    meta = meta.drop_duplicates(subset="specimen_id_x")
    donors = _read_csv(folder / "DataS1_Donor_table.csv").drop_duplicates(subset="Donor")
    donors = donors.set_index("Donor")
    d = meta["Donor"].map
    cells = pd.DataFrame(
        {
            "species": "human",
            "region": meta["structure"].to_numpy(),
            "layer": meta["Cortical_layer"].astype("string").str.replace("_", "/").to_numpy(),
            "subclass": meta["Revised_subclass_label"].to_numpy(),
            "t_type": meta["Transcriptomic_type"].to_numpy(),
            "donor": meta["Donor"].to_numpy(),
            "donor_sex": d(donors["Sex"]).to_numpy(),
            "donor_age": d(donors["Age"]).to_numpy(),
            "donor_medical_conditions": d(donors["disease category"]).to_numpy(),
            "condition": meta["condition"].to_numpy(),
            "cell_name": meta["cell_name"].to_numpy(),
            "lobe": meta["lobe"].to_numpy(),
        },
        index=meta["specimen_id_x"].astype(str).to_numpy(),
    )
    ephys = _long(_read_csv(folder / "LeeDalley_ephys_fx.csv"), "specimen_id", IPFX_TO_REGISTRY)
    morph = _long(
        _read_csv(folder / "LeeDalley_morpho_features.csv"), "specimen_id", {}, drop=("Unnamed: 0",)
    )
    return PublishedDataset("lee2023", cells, ephys=ephys, morphology=morph)


def load_berg2021(folder: Path) -> PublishedDataset:
    """Berg et al. 2021 human and mouse L2/3 excitatory Patch-seq: metadata, ephys, morphology."""
    human = _read_csv(folder / "human_IVSCC_excitatory_L23_consolidated_0131.csv")
    mouse = _read_csv(folder / "mouse_IVSCC_excitatory_L23_consolidated_0129.csv")
    h_drv = pd.DataFrame(
        {
            "species": "human",
            "region": human["region"].to_numpy(),
            "layer": "2/3",
            "depth_um": pd.to_numeric(human["depth_from_pia_microns"], errors="coerce").to_numpy(),
            "t_type": human["SeuratMapping"].to_numpy(),
            "t_type_confidence": pd.to_numeric(
                human["SeuratMappingScore"], errors="coerce"
            ).to_numpy(),
            "donor": human["donor"].astype(str).to_numpy(),
            "donor_sex": human["gender"].to_numpy(),
            "donor_age": human["age"].astype(str).to_numpy(),
            "donor_medical_conditions": human["medical_conditions"].to_numpy(),
            "sample_id": human["sample_id"].to_numpy(),
        },
        index=human["SpecimenID"].astype(str).to_numpy(),
    )
    drivers = mouse["genotype_label"].map(_split_genotype)
    m_drv = pd.DataFrame(
        {
            "species": "mouse",
            "layer": "2/3",
            "depth_um": pd.to_numeric(mouse["depth_from_pia_microns"], errors="coerce").to_numpy(),
            "cre_line": [x[0] for x in drivers],
            "reporter": [x[1] for x in drivers],
            "t_type": mouse["SeuratMapping"].to_numpy(),
            "t_type_confidence": pd.to_numeric(
                mouse["SeuratMappingScore"], errors="coerce"
            ).to_numpy(),
            "donor": mouse["donor_mouse"].astype(str).to_numpy(),
            "sample_id": mouse["sample_id"].to_numpy(),
        },
        index=mouse["SpecimenID"].astype(str).to_numpy(),
    )
    ephys_t = _read_csv(folder / "human_mouse_ephys_all_0127.csv")
    morph_t = pd.concat(
        [
            _read_csv(folder / "All_L23_Lockdown_all_raw_features.csv"),
            _read_csv(folder / "All_Mouse_Cells_Lockdown_All_raw_features.csv"),
        ],
        ignore_index=True,
    )
    cells = pd.concat([h_drv, m_drv])
    cells = cells[~cells.index.duplicated()]
    extra = sorted(
        (set(ephys_t["specimen_id"].astype(str)) | set(morph_t["specimen_id"].astype(str)))
        - set(cells.index)
    )
    if extra:
        cells = pd.concat([cells, pd.DataFrame(index=extra)])
    ephys = _long(ephys_t, "specimen_id", IPFX_TO_REGISTRY)
    morph = _long(morph_t, "specimen_id", {})
    return PublishedDataset("berg2021", cells, ephys=ephys, morphology=morph)


def load_allen_celltypes(folder: Path) -> PublishedDataset:
    """Allen Cell Types Database: specimen table with Allen's ``ef__``/``nr__`` features (see
    :func:`patchatlas.datasets.allen.load_allen_celltypes`)."""
    from patchatlas.datasets.allen import load_allen_celltypes as load

    return load(folder)


DATASETS: dict[str, Callable[[Path], PublishedDataset]] = {
    "m1_scala2021": load_m1_scala2021,
    "v1_gouwens2020": load_v1_gouwens2020,
    "lee2023": load_lee2023,
    "berg2021": load_berg2021,
    "allen_celltypes": load_allen_celltypes,
}
_ALIASES = {
    "scala2021": "m1_scala2021",
    "gouwens2020": "v1_gouwens2020",
    "human_lee2023_gaba_ephys_only": "lee2023",
    "human_berg2021_l23_ephys_only": "berg2021",
    "v1_gouwens2020_ephys_only": "v1_gouwens2020",
    "allen": "allen_celltypes",
}


def load_published(name: str, folder: str | os.PathLike[str]) -> PublishedDataset:
    """Load a published dataset by name from its folder.

    Parameters
    ----------
    name
        ``"m1_scala2021"``, ``"v1_gouwens2020"``, ``"lee2023"`` or ``"berg2021"`` (case
        ignored; the folder names of ``../shared/data/patchseq``, such as ``"scala2021"`` or
        ``"v1_gouwens2020_ephys_only"``, are accepted too).
    folder
        The dataset's folder.

    Returns
    -------
    PublishedDataset
        The normalised tables (cells; ephys and morphology as long tables with registry
        names where a mapping exists and the ``native_name``), ``name`` set to the canonical
        name and ``sources`` to the folder's files.

    Raises
    ------
    patchatlas.errors.ReadError
        Unknown dataset name, a folder that does not exist, or a file missing/malformed (the
        message names it).
    """
    key = _ALIASES.get(name.lower(), name.lower())
    if key not in DATASETS:
        raise ReadError(
            Path(folder), f"unknown dataset {name!r}", f"choose one of {', '.join(DATASETS)}"
        )
    p = Path(folder)
    if not p.is_dir():
        raise ReadError(p, "is not a folder", f"give the folder holding the {key} tables")
    ds = DATASETS[key](p)
    ds.name = key
    ds.sources = sorted(str(f.resolve()) for f in p.iterdir() if f.is_file())
    return ds


def import_dataset(atlas: Any, name: str, folder: str | os.PathLike[str]) -> dict[str, int]:
    """Load a published dataset from ``folder`` and import it into ``atlas``.

    Parameters
    ----------
    atlas
        An open :class:`~patchatlas.atlas.Atlas` (read-write).
    name
        ``"m1_scala2021"``, ``"v1_gouwens2020"``, ``"lee2023"`` or ``"berg2021"``.
    folder
        The dataset's folder (as in ``../shared/data/patchseq``).

    Returns
    -------
    dict
        Counts written (cells, ephys values, cells with ephys, morphologies, QC values,
        transcriptome links).
    """
    from patchatlas.atlas.importers import import_published

    return import_published(atlas, load_published(name, folder))
