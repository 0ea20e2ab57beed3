"""Writers for atlas exports: Parquet/CSV tables, AnnData (``.h5ad``) and NWB.

:meth:`patchatlas.atlas.Atlas.export` collects the tables and checks the optional dependencies;
this module only writes files.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from patchatlas.errors import WriteError

__all__ = ["write_anndata", "write_nwb", "write_tables"]


def _for_arrow(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object:
            out[col] = out[col].map(lambda v: None if v is None else str(v))
    return out


def write_tables(
    folder: str | os.PathLike[str], tables: dict[str, pd.DataFrame], *, format: str = "parquet"
) -> list[Path]:
    """Write each table to ``folder/<name>.parquet`` (or ``.csv``); returns the files.

    Parameters
    ----------
    folder
        Output folder (created if missing); existing files of the same names are replaced.
    tables
        Table name → table; the index is not written. For Parquet, object columns are
        written as strings (``None`` stays null).
    format
        ``"parquet"`` (needs pyarrow); any other value writes CSV.

    Returns
    -------
    list of Path
        The files written, in the order of ``tables``.

    Raises
    ------
    patchatlas.errors.WriteError
        The folder cannot be created.
    """
    out = Path(folder)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WriteError(f"{out}: cannot create the export folder ({exc.strerror})") from exc
    written = []
    for name, df in tables.items():
        path = out / f"{name}.{'parquet' if format == 'parquet' else 'csv'}"
        if format == "parquet":
            _for_arrow(df).to_parquet(path, index=False)
        else:
            df.to_csv(path, index=False)
        written.append(path)
    return written


def write_anndata(
    path: str | os.PathLike[str], cells: pd.DataFrame, features: pd.DataFrame
) -> Path:
    """An ``.h5ad``: ``obs`` = cell annotations, ``X`` = cell-level features (NaN = missing).

    Parameters
    ----------
    path
        Output ``.h5ad`` file (its folder is created if missing).
    cells
        Cell annotations, one row per cell (the index becomes ``obs_names``; object columns
        are written as strings, ``None`` as ``""``).
    features
        Cell-level features, rows aligned with ``cells``, one column per feature (library
        units).

    Returns
    -------
    Path
        The file written (needs anndata).
    """
    import anndata

    obs = cells.copy()
    obs.index = obs.index.astype(str)
    for col in obs.columns:
        if obs[col].dtype == object:
            obs[col] = obs[col].map(lambda v: "" if v is None else str(v))
    x = features.to_numpy(dtype=np.float64) if features.shape[1] else np.zeros((len(obs), 0))
    var = pd.DataFrame(index=[str(c) for c in features.columns])
    adata = anndata.AnnData(X=x, obs=obs, var=var)
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    adata.write_h5ad(p)
    return p


def write_nwb(
    path: str | os.PathLike[str], tables: dict[str, pd.DataFrame], *, source: str
) -> Path:
    """An NWB file whose ``patchatlas`` processing module holds the atlas tables.

    Parameters
    ----------
    path
        Output ``.nwb`` file (its folder is created if missing).
    tables
        Table name → table; each non-empty one (except ``ingest_errors``) becomes a
        ``DynamicTable`` (columns ``id`` and ``name`` are renamed ``atlas_id`` and
        ``feature``; numbers are written as float64, everything else as strings).
    source
        What was exported (the atlas URL), written into the session description.

    Returns
    -------
    Path
        The file written (needs pynwb).
    """
    from hdmf.common import DynamicTable
    from pynwb import NWBHDF5IO, NWBFile

    nwb = NWBFile(
        session_description=f"patchatlas export of {source}",
        identifier=f"patchatlas-export-{datetime.now(UTC).isoformat()}",
        session_start_time=datetime.now(UTC),
    )
    module = nwb.create_processing_module("patchatlas", "cell-types atlas tables")
    for name, df in tables.items():
        if name == "ingest_errors" or df.shape[1] == 0 or len(df) == 0:
            continue
        # DynamicTable reserves "id" and "name" for itself
        clean = df.rename(columns={"id": "atlas_id", "name": "feature"}).reset_index(drop=True)
        for col in clean.columns:
            s = clean[col]
            if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
                clean[col] = s.to_numpy(dtype=np.float64)
            else:
                clean[col] = ["" if v is None else str(v) for v in s]
        clean.columns = [str(c) for c in clean.columns]
        module.add(
            DynamicTable.from_dataframe(
                df=clean, name=name, table_description=f"atlas table {name}"
            )
        )
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with NWBHDF5IO(str(p), "w") as io:
        io.write(nwb)
    return p
