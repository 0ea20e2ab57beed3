"""Feature tables and type labels for cell typing, from a published dataset folder, a CSV table
or an atlas.

:func:`load_typing_data` returns a :class:`TypingData`: a cells × features table (ephys,
morphology or both; NaN where missing; feature blocks in ``attrs["blocks"]``) and the label
levels of each cell (``family``, ``subclass``, ``type``; see
:func:`patchatlas.celltyping.type_levels`).

Supported sources:

* the published folders of ``../shared/data/patchseq`` (recognised by their name):
  ``v1_gouwens2020_ephys_only`` (IPFX features, 4,435 cells), ``m1_scala2021`` (29 ephys and
  62 morphology features), ``human_lee2023_gaba_ephys_only`` (IPFX features),
  ``human_berg2021_L23_ephys_only``;
* a CSV/TSV table, one row per cell: an id column (first column), label columns
  (``t_type``, ``subclass``/``family``; chosen with ``label_columns``) and numeric features;
* an atlas URL (``sqlite:///…``, ``postgresql://…``): cell-level ephys features, morphology
  features and the cells' published ``subclass`` / ``t_type``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from patchatlas.errors import ReadError

__all__ = ["FEATURE_SETS", "TypingData", "describe", "load_typing_data"]

#: Which feature blocks ``features=`` selects.
FEATURE_SETS = ("ephys", "morph", "ephys+morph")

_DROP_MORPH = ("cell class", "normalized layer")  # labels / categorical in the M1 table


@dataclass
class TypingData:
    """Features and labels of one dataset for typing.

    Attributes
    ----------
    name
        Dataset name.
    X
        Cells × features (float, NaN where missing), index = cell names;
        ``attrs["blocks"]`` = ``{"ephys": [...], "morphology": [...]}``.
    levels
        Cells × ``family``, ``subclass``, ``type`` (same index as ``X``).
    species
        Species of the cells when known (``"mouse"`` / ``"human"``), else None.
    extra
        Other per-cell columns that may be useful (``condition`` ...).
    notes
        Caveats of the source.
    """

    name: str
    X: pd.DataFrame
    levels: pd.DataFrame
    species: str | None = None
    extra: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)

    def labels(self, level: str) -> pd.Series:
        """The labels at one level (``family``, ``subclass``, ``type``).

        Parameters
        ----------
        level
            The level.

        Returns
        -------
        pandas.Series
            Aligned with ``X``.
        """
        if level not in self.levels.columns:
            raise ReadError(
                None, f"unknown level {level!r}", f"choose one of {list(self.levels.columns)}"
            )
        return self.levels[level]


def _select(ephys: pd.DataFrame | None, morph: pd.DataFrame | None, features: str) -> pd.DataFrame:
    from patchatlas.celltyping import ipfx_canonical

    if features not in FEATURE_SETS:
        raise ReadError(None, f"unknown feature set {features!r}", f"use one of {FEATURE_SETS}")
    parts: dict[str, pd.DataFrame] = {}
    if "ephys" in features and ephys is not None and ephys.shape[1]:
        parts["ephys"] = ipfx_canonical(ephys, derive=False)
    if "morph" in features and morph is not None and morph.shape[1]:
        parts["morphology"] = morph.drop(columns=[c for c in _DROP_MORPH if c in morph.columns])
    if not parts:
        raise ReadError(None, f"the source has no {features} features", "choose another --features")
    if len(parts) == 2:
        e, m = parts["ephys"], parts["morphology"]
        common = e.index.intersection(m.index)
        m = m.add_prefix("morph: ") if set(e.columns) & set(m.columns) else m
        X = e.loc[common].join(m.loc[common])
        blocks = {"ephys": list(e.columns), "morphology": list(m.columns)}
    else:
        ((key, X),) = parts.items()
        blocks = {key: list(X.columns)}
    X = X.apply(pd.to_numeric, errors="coerce").astype(float)
    X = X.loc[:, X.notna().any(axis=0)]
    X.attrs["blocks"] = {b: [c for c in cols if c in X.columns] for b, cols in blocks.items()}
    out: pd.DataFrame = X
    return out


def _published(folder: Path, features: str) -> TypingData:
    from patchatlas.celltyping import feature_matrix, type_levels
    from patchatlas.datasets.published import load_published

    ds = load_published(folder.name, folder)
    ephys = feature_matrix(ds.ephys, name_column="native_name") if ds.ephys is not None else None
    morph = (
        feature_matrix(ds.morphology, name_column="native_name")
        if ds.morphology is not None and len(ds.morphology)
        else None
    )
    X = _select(ephys, morph, features)
    cells = ds.cells.reindex(X.index)
    sub = cells["subclass"] if "subclass" in cells.columns else None
    levels = type_levels(cells["t_type"], sub)
    species = None
    if "species" in cells.columns and cells["species"].notna().any():
        species = str(cells["species"].dropna().mode().iloc[0])
    extra_cols = [c for c in ("condition", "species", "traced") if c in cells.columns]
    notes = []
    if ds.name == "m1_scala2021":
        notes.append("Cells with RNA family 'low quality' have no label.")
    return TypingData(
        name=ds.name,
        X=X,
        levels=levels.set_axis(X.index),
        species=species,
        extra=cells[extra_cols] if extra_cols else None,
        notes=notes,
    )


def _table(path: Path, features: str, label_columns: dict[str, str] | None) -> TypingData:
    from patchatlas.celltyping import type_levels

    sep = "\t" if path.suffix.lower() in (".tsv", ".txt") else ","
    try:
        df = pd.read_csv(path, sep=sep, index_col=0)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise ReadError(
            path, f"cannot read the table ({exc})", "pass a CSV/TSV, one row per cell"
        ) from exc
    df.index = df.index.astype(str)
    names = {"type": "t_type", "subclass": "subclass", **(label_columns or {})}
    tcol, scol = names.get("type"), names.get("subclass")
    if tcol not in df.columns and scol not in df.columns:
        raise ReadError(
            path,
            f"no label column ({tcol!r} or {scol!r}) among {list(df.columns)[:10]}",
            "name the label columns (--type-column / --subclass-column)",
        )
    t = df[tcol] if tcol in df.columns else pd.Series(pd.NA, index=df.index)
    s = df[scol] if scol in df.columns else None
    levels = type_levels(t, s)
    feats = df.drop(columns=[c for c in (tcol, scol, "family") if c in df.columns])
    feats = feats.select_dtypes("number")
    X = _select(feats, None, "ephys") if features != "morph" else _select(None, feats, "morph")
    return TypingData(name=path.stem, X=X, levels=levels.reindex(X.index))


def _atlas(url: str, features: str) -> TypingData:
    from patchatlas.atlas import Atlas
    from patchatlas.atlas import portal as Q
    from patchatlas.celltyping import type_levels

    with Atlas(url, mode="r") as atlas:
        cells = atlas.cells()
        ephys = atlas.ephys_features(level="cell")
        morph = Q.morphology_features(atlas)
    X = _select(ephys, morph, features)
    c = cells.reindex(X.index)
    return TypingData(
        name=url.rsplit("/", 1)[-1],
        X=X,
        levels=type_levels(c["t_type"], c["subclass"]).set_axis(X.index),
    )


def load_typing_data(
    source: str | os.PathLike[str],
    *,
    features: str = "ephys",
    label_columns: dict[str, str] | None = None,
) -> TypingData:
    """Features and type labels of a published folder, a table or an atlas.

    Parameters
    ----------
    source
        A folder of ``../shared/data/patchseq`` (``v1_gouwens2020_ephys_only``,
        ``m1_scala2021``, ``human_lee2023_gaba_ephys_only``, ``human_berg2021_L23_ephys_only``),
        a CSV/TSV table, or an atlas URL.
    features
        ``"ephys"``, ``"morph"`` or ``"ephys+morph"`` (cells with both).
    label_columns
        For a table: ``{"type": column, "subclass": column}`` (default ``t_type`` /
        ``subclass``).

    Returns
    -------
    TypingData
        Features and label levels.

    Raises
    ------
    patchatlas.errors.ReadError
        An unknown source, a missing file or column, or no features of the requested set.
    """
    text = str(source)
    if "://" in text:
        return _atlas(text, features)
    p = Path(source)
    if p.is_dir():
        return _published(p, features)
    if p.is_file():
        return _table(p, features, label_columns)
    raise ReadError(
        p,
        "not found",
        "pass a published dataset folder, a CSV table of features or an atlas URL",
    )


def describe(data: TypingData) -> dict[str, Any]:
    """Counts for messages: cells, features, labelled cells per level.

    Parameters
    ----------
    data
        The loaded data.

    Returns
    -------
    dict
        ``name``, ``n_cells``, ``n_features`` and ``labelled`` (level → cells with a label).
    """
    return {
        "name": data.name,
        "n_cells": len(data.X),
        "n_features": data.X.shape[1],
        "labelled": {lv: int(data.levels[lv].notna().sum()) for lv in data.levels.columns},
    }
