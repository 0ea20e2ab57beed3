"""Human and mouse ephys feature tables for the descriptive cross-species comparison.

* :func:`read_berg2021_species` — Berg et al. 2021 L2/3 pyramidal cells, human and mouse,
  features from one pipeline (the clean comparison).
* :func:`read_lee2023_gouwens2020` — Lee, Dalley et al. 2023 human interneurons vs Gouwens et
  al. 2020 mouse V1 interneurons, matched by subclass. The two tables come from different
  feature-extraction runs (see the returned ``attrs["caveat"]``).

Both return one row per cell with ``species`` and harmonised feature columns in library units
(ms, mV, MΩ, pA): ``ap_width_ms``, ``upstroke_downstroke_ratio``, ``upstroke_mv_per_ms``,
``input_resistance_mohm``, ``tau_ms``, ``v_rest_mv``, ``rheobase_pa``, ``ap_threshold_mv``,
``sag`` (and ``subclass`` for the interneuron table).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from patchatlas.errors import CorruptFileError, ReadError

__all__ = ["read_berg2021_species", "read_lee2023_gouwens2020"]

PathLike = str | os.PathLike[str]


def _csv(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise ReadError(path, "missing file", "see the folder's MANIFEST.md")
    try:
        return pd.read_csv(path)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise CorruptFileError(path, f"cannot read the table: {exc}") from exc


def _need(df: pd.DataFrame, cols: list[str], path: Path) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise CorruptFileError(path, f"missing columns {missing}")


def read_berg2021_species(folder: PathLike) -> pd.DataFrame:
    """Berg 2021 human and mouse L2/3 pyramidal-cell ephys (``human_mouse_ephys_all_0127.csv``),
    species from the two consolidated metadata tables; width and τ converted s → ms.

    Parameters
    ----------
    folder
        Folder holding ``human_mouse_ephys_all_0127.csv``,
        ``human_IVSCC_excitatory_L23_consolidated_0131.csv`` and
        ``mouse_IVSCC_excitatory_L23_consolidated_0129.csv``.

    Returns
    -------
    pandas.DataFrame
        One row per cell found in either metadata table: ``specimen_id``, ``species``
        (``"human"`` / ``"mouse"``) and the harmonised features of the module docs (long-square
        AP features); ``attrs["source"]`` and ``attrs["caveat"]`` say where they come from.

    Raises
    ------
    patchatlas.errors.ReadError
        A file is missing or unreadable, or lacks a needed column.
    """
    d = Path(folder)
    fp = d / "human_mouse_ephys_all_0127.csv"
    eph = _csv(fp)
    hp = d / "human_IVSCC_excitatory_L23_consolidated_0131.csv"
    mp = d / "mouse_IVSCC_excitatory_L23_consolidated_0129.csv"
    human, mouse = _csv(hp), _csv(mp)
    cols = [
        "specimen_id",
        "width_long_square",
        "upstroke_downstroke_ratio_long_square",
        "upstroke_long_square",
        "input_resistance",
        "tau",
        "v_baseline",
        "rheobase_i",
        "threshold_v_long_square",
        "sag",
    ]
    _need(eph, cols, fp)
    _need(human, ["SpecimenID"], hp)
    _need(mouse, ["SpecimenID"], mp)
    species = np.where(
        eph["specimen_id"].isin(human["SpecimenID"]),
        "human",
        np.where(eph["specimen_id"].isin(mouse["SpecimenID"]), "mouse", ""),
    )
    out = pd.DataFrame(
        {
            "specimen_id": eph["specimen_id"].to_numpy(),
            "species": species,
            "ap_width_ms": eph["width_long_square"].to_numpy() * 1e3,
            "upstroke_downstroke_ratio": eph["upstroke_downstroke_ratio_long_square"].to_numpy(),
            "upstroke_mv_per_ms": eph["upstroke_long_square"].to_numpy(),
            "input_resistance_mohm": eph["input_resistance"].to_numpy(),
            "tau_ms": eph["tau"].to_numpy() * 1e3,
            "v_rest_mv": eph["v_baseline"].to_numpy(),
            "rheobase_pa": eph["rheobase_i"].to_numpy(),
            "ap_threshold_mv": eph["threshold_v_long_square"].to_numpy(),
            "sag": eph["sag"].to_numpy(),
        }
    )
    out = out[out["species"] != ""].reset_index(drop=True)
    out.attrs["source"] = "Berg et al. 2021 (AllenInstitute/patchseq_human_L23), L2/3 pyramidal"
    out.attrs["caveat"] = "Same feature pipeline for both species; long-square AP features."
    return out


def read_lee2023_gouwens2020(
    lee_folder: PathLike, gouwens_folder: PathLike, *, acute_only: bool = True
) -> pd.DataFrame:
    """Human (Lee 2023) vs mouse (Gouwens 2020) interneurons, rheobase-spike features, by
    subclass (PVALB, SST, VIP, LAMP5; Lee's LAMP5/PAX6/Other ↔ mouse Lamp5 + Sncg).

    ``acute_only`` drops Lee's slice-culture cells. The upstroke/downstroke ratio is left out:
    the two tables were extracted by different runs and its medians disagree by 2× in a way
    that suggests a definition difference, not biology.

    Parameters
    ----------
    lee_folder
        Folder holding ``LeeDalley_ephys_fx.csv`` and ``LeeDalley_manuscript_metadata_v2.csv``.
    gouwens_folder
        Folder holding ``ephys_features_gouwens_w_QC.csv`` and
        ``20200625_patchseq_metadata_mouse.csv``.
    acute_only
        Keep only Lee's cells from acute slices (``condition == "acute"``).

    Returns
    -------
    pandas.DataFrame
        One row per cell of the four subclasses: ``specimen_id``, ``species``, ``subclass``
        and the harmonised features of the module docs (rheobase-spike features, no
        upstroke); ``attrs["source"]`` and ``attrs["caveat"]`` say where they come from.

    Raises
    ------
    patchatlas.errors.ReadError
        A file is missing or unreadable, or lacks a needed column.
    """
    ld, gd = Path(lee_folder), Path(gouwens_folder)
    lf, lm = ld / "LeeDalley_ephys_fx.csv", ld / "LeeDalley_manuscript_metadata_v2.csv"
    gf = gd / "ephys_features_gouwens_w_QC.csv"
    gm = gd / "20200625_patchseq_metadata_mouse.csv"
    lee, lmeta, gou, gmeta = _csv(lf), _csv(lm), _csv(gf), _csv(gm)
    _need(
        lee,
        [
            "specimen_id",
            "width_rheo",
            "input_resistance",
            "tau",
            "v_baseline",
            "rheobase_i",
            "threshold_v_rheo",
            "sag",
            "upstroke_rheo",
        ],
        lf,
    )
    _need(lmeta, ["specimen_id_x", "Revised_subclass_label", "condition"], lm)
    _need(
        gou,
        [
            "filename",
            "rheo_width",
            "input_resistance",
            "tau",
            "v_baseline",
            "rheobase_i",
            "rheo_threshold_v",
            "sag",
        ],
        gf,
    )
    _need(gmeta, ["ephys_session_id", "corresponding_AIT2.3.1_alias"], gm)
    lmeta = lmeta.drop_duplicates("specimen_id_x").set_index("specimen_id_x")
    lee = lee[lee["specimen_id"].isin(lmeta.index)]
    cond = lmeta.loc[lee["specimen_id"], "condition"].astype(str).to_numpy()
    if acute_only:
        lee = lee[cond == "acute"]
    lsub = lmeta.loc[lee["specimen_id"], "Revised_subclass_label"].astype(str).str.upper()
    lsub = lsub.replace({"LAMP5/PAX6/OTHER": "LAMP5"}).to_numpy()
    human = pd.DataFrame(
        {
            "specimen_id": lee["specimen_id"].to_numpy(),
            "species": "human",
            "subclass": lsub,
            "ap_width_ms": lee["width_rheo"].to_numpy() * 1e3,
            "input_resistance_mohm": lee["input_resistance"].to_numpy(),
            "tau_ms": lee["tau"].to_numpy() * 1e3,
            "v_rest_mv": lee["v_baseline"].to_numpy(),
            "rheobase_pa": lee["rheobase_i"].to_numpy(),
            "ap_threshold_mv": lee["threshold_v_rheo"].to_numpy(),
            "sag": lee["sag"].to_numpy(),
        }
    )
    ses = pd.to_numeric(gou["filename"].astype(str).str.extract(r"ses-(\d+)_")[0], errors="coerce")
    alias = gmeta.drop_duplicates("ephys_session_id").set_index("ephys_session_id")[
        "corresponding_AIT2.3.1_alias"
    ]
    msub = ses.map(alias).astype(str).str.split().str[0].str.upper()
    msub = msub.replace({"SNCG": "LAMP5"})
    mouse = pd.DataFrame(
        {
            "specimen_id": ses.to_numpy(),
            "species": "mouse",
            "subclass": msub.to_numpy(),
            "ap_width_ms": gou["rheo_width"].to_numpy() * 1e3,
            "input_resistance_mohm": gou["input_resistance"].to_numpy(),
            "tau_ms": gou["tau"].to_numpy() * 1e3,
            "v_rest_mv": gou["v_baseline"].to_numpy(),
            "rheobase_pa": gou["rheobase_i"].to_numpy(),
            "ap_threshold_mv": gou["rheo_threshold_v"].to_numpy(),
            "sag": gou["sag"].to_numpy(),
        }
    )
    keep = {"PVALB", "SST", "VIP", "LAMP5"}
    out = pd.concat([human, mouse[mouse["subclass"].isin(keep)]], ignore_index=True)
    out = out[out["subclass"].isin(keep)].reset_index(drop=True)
    out.attrs["source"] = "Lee, Dalley et al. 2023 (human) vs Gouwens et al. 2020 (mouse V1)"
    out.attrs["caveat"] = (
        "Different feature-extraction runs for the two species (Allen release vs a third-party "
        "IPFX run on DANDI files); rheobase-spike features; treat differences as descriptive."
    )
    return out
