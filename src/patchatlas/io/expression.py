"""Expression matrices (Patch-seq counts) into :class:`anndata.AnnData`, and the joins to metadata.

Readers
-------
* :func:`read_expression` — ``.h5ad``, or a delimited table (``.csv``/``.tsv``/``.txt``, optionally
  ``.gz``) with genes × cells or cells × genes (guessed, or forced with ``orientation=``).
* :func:`read_fuzik2016_counts`, :func:`read_fuzik2016_ephys` — the odd formats of Fuzik et al.
  2016 (old binary ``.xls.gz`` UMI table; ``.xlsx`` ephys table with three header rows).
* :func:`join_cells` — join a per-cell table onto an AnnData's cells by id; a :class:`JoinReport`
  says exactly which ids did not join on either side.
* Dataset loaders returning :class:`PatchseqDataset` (counts + metadata + ephys, joined):
  :func:`read_scala2021_m1`, :func:`read_scala2021_phys_temp`, :func:`read_fuzik2016`.

Counts stay raw integers in ``adata.X`` (cells × genes, float64); normalisation happens later, in
:mod:`patchatlas.transcriptomics`, inside cross-validation folds.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from patchatlas.core.expression import JoinReport, PatchseqDataset
from patchatlas.errors import CorruptFileError, ReadError, UnsupportedFormatError

if TYPE_CHECKING:
    from anndata import AnnData

__all__ = [
    "FUZIK2016_DEFAULT_FEATURES",
    "JoinReport",
    "PatchseqDataset",
    "join_cells",
    "read_expression",
    "read_fuzik2016",
    "read_fuzik2016_counts",
    "read_fuzik2016_ephys",
    "read_gene_lengths",
    "read_gene_set",
    "read_patchseq_dataset",
    "read_scala2021_m1",
    "read_scala2021_phys_temp",
]

PathLike = str | os.PathLike[str]
Orientation = Literal["auto", "genes_x_cells", "cells_x_genes"]


def _anndata() -> Any:
    try:
        import anndata
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ReadError(
            None,
            "reading expression data needs the 'anndata' package",
            "pip install 'patchatlas[transcriptomics]'",
        ) from exc
    return anndata


def _make_adata(counts: pd.DataFrame, obs: pd.DataFrame | None = None) -> AnnData:
    """AnnData from a cells × genes DataFrame of numbers."""
    ad = _anndata()
    x = counts.to_numpy(dtype=np.float64)
    obs_df = obs if obs is not None else pd.DataFrame(index=counts.index.astype(str))
    obs_df.index = counts.index.astype(str)
    var = pd.DataFrame(index=counts.columns.astype(str))
    adata: AnnData = ad.AnnData(X=x, obs=obs_df, var=var)
    return adata


# ---------------------------------------------------------------------------------------------
# generic readers


def _check_file(path: Path) -> None:
    if not path.exists():
        raise ReadError(path, "no such file", "check the path")
    if path.is_dir():
        raise UnsupportedFormatError(path, "is a folder, expected an expression file")


def _read_table(path: Path, *, sep: str | None, index_col: int | None = 0) -> pd.DataFrame:
    suffixes = [s.lower() for s in path.suffixes]
    if sep is None:
        core = [s for s in suffixes if s not in (".gz", ".bz2", ".xz", ".zip")]
        sep = "\t" if core and core[-1] in (".tsv", ".txt", ".tab") else ","
    try:
        df = pd.read_csv(path, sep=sep, index_col=index_col)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise CorruptFileError(path, f"cannot read the table: {exc}") from exc
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise CorruptFileError(
            path, f"not a delimited table ({exc})", "pass sep=... if it is not comma/tab separated"
        ) from exc
    if sep == "," and df.shape[1] == 0:
        raise CorruptFileError(path, "only one column found", "the file may be tab-separated")
    return df


def _looks_like_genes(labels: pd.Index) -> float:
    """Fraction of labels that look like gene symbols (letters first, short, no digits-only)."""
    s = pd.Series(labels.astype(str))
    gene_like = s.str.match(r"^[A-Za-z][A-Za-z0-9\-\.]{0,20}$") & ~s.str.contains(
        "sample", case=False
    )
    return float(gene_like.mean()) if len(s) else 0.0


def read_expression(
    path: PathLike,
    *,
    orientation: Orientation = "auto",
    sep: str | None = None,
) -> AnnData:
    """Read an expression matrix into an AnnData (cells × genes).

    Parameters
    ----------
    path
        ``.h5ad`` file, or a delimited table (``.csv``, ``.tsv``, ``.txt``, each optionally
        ``.gz``) whose first column holds row labels and first row column labels.
    orientation
        ``"genes_x_cells"``, ``"cells_x_genes"`` or ``"auto"``: guessed from which axis looks like
        gene symbols, then from shape (more genes than cells).
    sep
        Column separator; default by extension (tab for ``.tsv``/``.txt``, else comma).

    Returns
    -------
    anndata.AnnData
        Counts as float64 in ``X``; ``obs_names`` are cell ids, ``var_names`` genes.

    Raises
    ------
    patchatlas.errors.ReadError
        Missing, unreadable or non-numeric file; the message names the file.
    """
    p = Path(path)
    _check_file(p)
    ad = _anndata()
    if p.suffix.lower() == ".h5ad":
        try:
            adata: AnnData = ad.read_h5ad(p)
        except Exception as exc:  # h5py/anndata raise many types
            raise CorruptFileError(p, f"cannot read h5ad: {exc}") from exc
        return adata
    df = _read_table(p, sep=sep)
    non_numeric = [c for c in df.columns if not pd.api.types.is_numeric_dtype(df[c])]
    if non_numeric:
        raise CorruptFileError(
            p,
            f"{len(non_numeric)} non-numeric columns, e.g. {non_numeric[:3]}",
            "an expression table must hold only counts after the label column",
        )
    if df.isna().to_numpy().any():
        raise CorruptFileError(p, "the count table has empty cells (NaN)", "fill them with 0")
    if orientation == "auto":
        g_rows, g_cols = _looks_like_genes(df.index), _looks_like_genes(df.columns)
        if abs(g_rows - g_cols) > 0.3:
            orientation = "genes_x_cells" if g_rows > g_cols else "cells_x_genes"
        else:
            orientation = "genes_x_cells" if df.shape[0] >= df.shape[1] else "cells_x_genes"
    elif orientation not in ("genes_x_cells", "cells_x_genes"):
        raise UnsupportedFormatError(
            p,
            f"unknown orientation {orientation!r}",
            "use 'auto', 'genes_x_cells' or 'cells_x_genes'",
        )
    counts = df.T if orientation == "genes_x_cells" else df
    counts.index = counts.index.astype(str)
    counts.columns = counts.columns.astype(str)
    if counts.index.has_duplicates:
        dup = counts.index[counts.index.duplicated()].unique().tolist()[:3]
        raise CorruptFileError(p, f"duplicated cell ids, e.g. {dup}", "cell ids must be unique")
    if counts.columns.has_duplicates:
        # Gene symbols can legitimately repeat (aliases); sum them so names are unique.
        counts = counts.T.groupby(level=0, sort=False).sum().T
    return _make_adata(counts)


def join_cells(
    adata: AnnData,
    table: pd.DataFrame,
    *,
    what: str = "table",
    key: Callable[[str], str] | None = None,
    keep: Literal["inner", "left"] = "inner",
) -> tuple[AnnData, JoinReport]:
    """Join a per-cell table (indexed by cell id) onto ``adata.obs`` by id.

    Parameters
    ----------
    adata
        Expression data (cells × genes).
    table
        Per-cell table; its index holds the cell ids.
    what
        Name of the table, used in the report.
    key
        Function applied to the table's ids before matching (e.g. ``lambda s: s.replace("_", "")``).
    keep
        ``"inner"`` keeps only cells present in both; ``"left"`` keeps all cells (NaN where
        missing).

    Returns
    -------
    (AnnData, JoinReport)
        A new AnnData with the table's columns added to ``obs`` (suffix ``"_right"`` on clashes),
        and the report of what did not join.
    """
    right = table.copy()
    ids = right.index.astype(str).str.strip()
    if key is not None:
        ids = pd.Index([key(s) for s in ids])
    right.index = ids
    dups = sorted(set(right.index[right.index.duplicated()]))
    right = right[~right.index.duplicated()]
    left_ids = pd.Index(adata.obs_names.astype(str))
    both = left_ids.intersection(right.index, sort=False)
    report = JoinReport(
        what=what,
        n_left=len(left_ids),
        n_right=len(right),
        n_joined=len(both),
        only_left=sorted(set(left_ids) - set(right.index)),
        only_right=sorted(set(right.index) - set(left_ids)),
        duplicated_right=dups,
    )
    out = adata[left_ids.isin(both)].copy() if keep == "inner" else adata.copy()
    clash = [c for c in right.columns if c in out.obs.columns]
    right = right.rename(columns={c: f"{c}_right" for c in clash})
    obs = out.obs.join(right, how="left")
    obs.index = out.obs_names
    out.obs = obs
    return out, report


def read_gene_set(path: PathLike, *, column: str | None = None) -> list[str]:
    """Gene symbols from a CSV/TSV table (first column, or ``column``), e.g. HGNC group 177.

    Symbols are returned as written; match them to mouse genes with
    :func:`patchatlas.transcriptomics.match_genes` (case-insensitive).

    Parameters
    ----------
    path
        A comma-separated table, or tab-separated for ``.tsv`` / ``.txt`` / ``.tab`` (also
        compressed, ``.gz``).
    column
        Column holding the symbols (default: the first of ``Approved symbol``, ``symbol``,
        ``gene``, ``Gene``, ``gene_symbol`` present, else the first column).

    Returns
    -------
    list of str
        The symbols in file order, blanks stripped, empty cells skipped.

    Raises
    ------
    patchatlas.errors.ReadError
        Missing or unreadable file, or no column ``column``.
    """
    p = Path(path)
    _check_file(p)
    df = _read_table(p, sep=None, index_col=None)
    if column is None:
        for cand in ("Approved symbol", "symbol", "gene", "Gene", "gene_symbol"):
            if cand in df.columns:
                column = cand
                break
        else:
            column = str(df.columns[0])
    if column not in df.columns:
        raise CorruptFileError(p, f"no column {column!r}", f"columns are {list(df.columns)[:8]}")
    return [str(s).strip() for s in df[column].dropna()]


def read_gene_lengths(path: PathLike) -> pd.DataFrame:
    """Gene lengths table (index gene id; columns such as ``exon_bp``, ``intron_bp``).

    Parameters
    ----------
    path
        A CSV file whose first column is the gene id.

    Returns
    -------
    pandas.DataFrame
        One row per gene, indexed by the first column; the other columns as stored (lengths
        in base pairs).

    Raises
    ------
    patchatlas.errors.ReadError
        Missing or unreadable file.
    """
    p = Path(path)
    _check_file(p)
    return _read_table(p, sep=",", index_col=0)


# ---------------------------------------------------------------------------------------------
# Scala et al. 2021 (mouse M1)


def _require(folder: Path, name: str) -> Path:
    p = folder / name
    if not p.exists():
        raise ReadError(
            p, "missing file of the dataset", f"expected {name} in {folder} (see its MANIFEST.md)"
        )
    return p


def _scala_meta(path: Path) -> pd.DataFrame:
    meta = _read_table(path, sep="\t", index_col=None)
    if "Cell" not in meta.columns:
        raise CorruptFileError(path, "no 'Cell' column", "expected the tab-separated metadata")
    meta.index = pd.Index(meta["Cell"].astype(str))
    return meta


def _standard_obs(
    adata: AnnData, *, type_col: str, family_col: str, lib: pd.Series | np.ndarray[Any, Any]
) -> None:
    adata.obs["t_type"] = adata.obs[type_col].astype(str).to_numpy()
    adata.obs["family"] = adata.obs[family_col].astype(str).to_numpy()
    adata.obs["library_size"] = np.asarray(lib, dtype=np.float64)


def read_scala2021_m1(
    folder: PathLike,
    *,
    drop_low_quality: bool = True,
    library_size: Literal["exon_reads", "exon_intron_reads", "gene_sum"] = "exon_reads",
) -> PatchseqDataset:
    """The Scala et al. 2021 M1 Patch-seq benchmark set (1000 genes, 16 ephys features).

    Parameters
    ----------
    folder
        ``.../patchseq/m1_scala2021`` holding ``sbnn_gene_counts_1000genes.csv``,
        ``sbnn_ephys_values_16features.csv`` and ``m1_patchseq_meta_data.csv``.
    drop_low_quality
        Drop cells whose ``RNA family`` is ``"low quality"`` (leaves 1208 cells, 76 t-types).
    library_size
        CPM denominator stored in ``obs["library_size"]``: the metadata ``Exon reads``
        (default, as in the feasibility check of the notes), exon + intron reads, or the sum
        over the 1000 genes. Caveat: for 58 of the 1208 cells the 1000-gene sum exceeds the
        metadata exon reads, so the upstream counts and the metadata totals are not from the
        same pipeline step; the choice is recorded in ``notes``.

    Returns
    -------
    PatchseqDataset
        Counts (exon reads of 1000 genes), metadata (``t_type``, ``family``, ``library_size`` =
        total exon reads of the cell, not the sum over the 1000 genes) and the 16 features.
    """
    d = Path(folder)
    counts_p = _require(d, "sbnn_gene_counts_1000genes.csv")
    ephys_p = _require(d, "sbnn_ephys_values_16features.csv")
    meta_p = _require(d, "m1_patchseq_meta_data.csv")
    adata = read_expression(counts_p, orientation="genes_x_cells")
    meta = _scala_meta(meta_p)
    adata, rep_meta = join_cells(
        adata, meta, what=meta_p.name, key=lambda s: s.replace("_", ""), keep="inner"
    )
    ephys = _read_table(ephys_p, sep=",")
    ephys.index = ephys.index.astype(str)
    adata, rep_ephys = join_cells(adata, ephys.iloc[:, :0], what=ephys_p.name)
    if library_size == "exon_reads":
        lib = adata.obs["Exon reads"].to_numpy(dtype=np.float64)
    elif library_size == "exon_intron_reads":
        lib = adata.obs["Exon reads"].to_numpy(dtype=np.float64) + adata.obs[
            "Intron reads"
        ].to_numpy(dtype=np.float64)
    elif library_size == "gene_sum":
        lib = np.asarray(adata.X.sum(axis=1), dtype=np.float64).ravel()
    else:
        raise ReadError(
            meta_p,
            f"unknown library_size {library_size!r}",
            "use 'exon_reads', 'exon_intron_reads' or 'gene_sum'",
        )
    _standard_obs(adata, type_col="RNA type", family_col="RNA family", lib=lib)
    n_before = adata.n_obs
    if drop_low_quality:
        adata = adata[adata.obs["family"] != "low quality"].copy()
    dropped = n_before - adata.n_obs
    ephys = ephys.loc[adata.obs_names].astype(np.float64)
    return PatchseqDataset(
        name="m1_scala2021",
        adata=adata,
        ephys=ephys,
        reports=[rep_meta, rep_ephys],
        notes=[
            "The 1000 genes were chosen upstream on all 1213 cells by a mean-dropout heuristic "
            "(ephys-blind, but not inside CV folds).",
            "t-types were assigned from the full transcriptome, so a t-type lookup uses "
            "information that the 1000-gene models do not have.",
            "AP amp CV, AI and ISI CV are log-transformed upstream.",
            f"CPM library size: {library_size}.",
            f"{dropped} cells with RNA family 'low quality' dropped.",
        ],
    )


def read_scala2021_phys_temp(
    folder: PathLike,
    *,
    drop_low_quality: bool = True,
    features: Sequence[str] | None = None,
    min_detected_genes: int = 1,
) -> PatchseqDataset:
    """The Scala 2021 M1 follow-up set recorded at physiological temperature (full transcriptome).

    Parameters
    ----------
    folder
        ``.../patchseq/m1_scala2021_phys_temp``.
    drop_low_quality
        Drop ``RNA family == "low quality"`` cells.
    features
        Ephys columns to keep (default: all 29). Cells with NaN in a kept feature are dropped
        (and listed in the ephys :class:`JoinReport` as unjoined).
    min_detected_genes
        Genes detected (count > 0) in fewer cells than this are dropped (they carry no signal).

    Returns
    -------
    PatchseqDataset
        Exon counts of the whole transcriptome, metadata (``t_type``, ``family``,
        ``library_size`` = the sum of the cell's counts) and the ephys features; the joins are
        in ``reports``.

    Raises
    ------
    patchatlas.errors.ReadError
        A file of the dataset is missing or malformed, or a requested feature is not in the
        ephys table.
    """
    d = Path(folder)
    counts_p = _require(d, "m1_patchseq_phys_temp_exon_counts.csv.gz")
    ephys_p = _require(d, "m1_patchseq_phys_temp_ephys_features.csv")
    meta_p = _require(d, "m1_patchseq_phys_temp_meta_data.csv")
    adata = read_expression(counts_p, orientation="genes_x_cells")
    if min_detected_genes > 0:
        keep = np.asarray((adata.X > 0).sum(axis=0)).ravel() >= min_detected_genes
        adata = adata[:, keep].copy()
    meta = _scala_meta(meta_p)
    adata, rep_meta = join_cells(adata, meta, what=meta_p.name)
    ephys = _read_table(ephys_p, sep=",")
    ephys.index = ephys.index.astype(str)
    if features is not None:
        missing = [f for f in features if f not in ephys.columns]
        if missing:
            raise CorruptFileError(ephys_p, f"no feature columns {missing}")
        ephys = ephys[list(features)]
    ephys = ephys.dropna(axis=0, how="any")
    adata, rep_ephys = join_cells(adata, ephys.iloc[:, :0], what=ephys_p.name)
    _standard_obs(
        adata,
        type_col="RNA type",
        family_col="RNA family",
        lib=np.asarray(adata.X.sum(axis=1)).ravel(),
    )
    n_before = adata.n_obs
    if drop_low_quality:
        adata = adata[adata.obs["family"] != "low quality"].copy()
    return PatchseqDataset(
        name="m1_scala2021_phys_temp",
        adata=adata,
        ephys=ephys.loc[adata.obs_names].astype(np.float64),
        reports=[rep_meta, rep_ephys],
        notes=[
            "Full transcriptome: gene selection must run inside CV folds.",
            f"{n_before - adata.n_obs} cells with RNA family 'low quality' dropped.",
        ],
    )


# ---------------------------------------------------------------------------------------------
# Fuzik et al. 2016


def read_fuzik2016_counts(path: PathLike) -> AnnData:
    """GEO GSE70844 UMI counts (old binary ``.xls``, optionally ``.gz``) → AnnData.

    ERCC spike-ins are moved out of ``X`` into ``obs["ercc_umis"]``; repeated gene rows
    (``_loc1``/``_loc2`` splits keep their distinct names) stay as they are.

    Parameters
    ----------
    path
        ``GSE70844_Fuzik_et_al_molcounts.xls(.gz)``: genes × cells, cell ids in the first row,
        gene symbols in the first column.

    Returns
    -------
    anndata.AnnData
        Cells × genes UMI counts (float64) without the ERCC rows; genes that occur twice are
        summed.

    Raises
    ------
    patchatlas.errors.ReadError
        Missing file, xlrd not installed, an unreadable or too small table, or non-numeric
        counts.
    """
    p = Path(path)
    _check_file(p)
    try:
        if p.suffix.lower() == ".gz":
            with gzip.open(p, "rb") as fh:
                raw = pd.read_excel(fh, header=None, engine="xlrd")
        else:
            raw = pd.read_excel(p, header=None, engine="xlrd")
    except ImportError as exc:  # pragma: no cover - environment
        raise ReadError(p, "needs the 'xlrd' package", "pip install xlrd") from exc
    except Exception as exc:  # xlrd raises its own error types
        raise CorruptFileError(p, f"cannot read the .xls table: {exc}") from exc
    if raw.shape[0] < 2 or raw.shape[1] < 2:
        raise CorruptFileError(p, f"table too small ({raw.shape})")
    cells = raw.iloc[0, 1:].astype(str).str.strip()
    genes = raw.iloc[1:, 0].astype(str).str.strip()
    values = raw.iloc[1:, 1:].apply(pd.to_numeric, errors="coerce")
    if values.isna().to_numpy().any():
        raise CorruptFileError(p, "non-numeric counts in the table")
    df = pd.DataFrame(values.to_numpy(dtype=np.float64).T, index=cells.to_numpy(), columns=genes)
    ercc = df.columns.str.startswith("ERCC-")
    obs = pd.DataFrame({"ercc_umis": df.loc[:, ercc].sum(axis=1)}, index=df.index)
    counts = df.loc[:, ~ercc]
    if counts.columns.has_duplicates:
        counts = counts.T.groupby(level=0, sort=False).sum().T
    return _make_adata(counts, obs)


def read_fuzik2016_ephys(path: PathLike) -> pd.DataFrame:
    """Fuzik 2016 ephys table (``.xlsx``: 3 header rows, parameters × cells) → cells × features.

    Parameter names repeat under section rows (``OneAP spike1``, ``2x THR spike1`` ...); such
    names are prefixed with their section (``"2x THR spike1: AP halfwidth (ms)"``). The index
    is ``run_label``; columns ``cell_id`` and ``cell_type`` come first.

    Parameters
    ----------
    path
        ``Patch-Seq_e-phys_ALL.xlsx``.

    Returns
    -------
    pandas.DataFrame
        One row per recorded cell: ``cell_id``, ``cell_type``, then one float column per
        parameter, in the table's own units (named in the parameter, e.g. ``(ms)``, ``(mV)``).

    Raises
    ------
    patchatlas.errors.ReadError
        Missing or unreadable file, or a missing ``run_label`` / ``cell_id`` / ``Cell type``
        header row.
    """
    p = Path(path)
    _check_file(p)
    try:
        raw = pd.read_excel(p, header=None)
    except Exception as exc:  # openpyxl raises its own error types
        raise CorruptFileError(p, f"cannot read the .xlsx table: {exc}") from exc
    labels = raw.iloc[:, 0]
    rows: dict[str, int] = {
        str(v).strip(): i for i, v in enumerate(labels.tolist()) if isinstance(v, str)
    }
    body = raw.iloc[:, 1:]
    for need in ("run_label", "cell_id", "Cell type"):
        if need not in rows:
            raise CorruptFileError(p, f"no {need!r} header row", "expected the Fuzik 2016 layout")
    body_start = max(rows["run_label"], rows["cell_id"], rows["Cell type"]) + 1

    def row_text(i: int) -> np.ndarray[Any, np.dtype[np.str_]]:
        return np.array([str(v).strip() for v in body.iloc[i].tolist()], dtype=str)

    run = row_text(rows["run_label"])
    out: dict[str, Any] = {
        "cell_id": row_text(rows["cell_id"]),
        "cell_type": row_text(rows["Cell type"]),
    }
    section = ""
    for i in range(body_start, raw.shape[0]):
        name = labels.iloc[i]
        if not isinstance(name, str):
            continue
        vals = pd.to_numeric(body.iloc[i], errors="coerce")
        if vals.isna().all():
            section = name.strip()
            continue
        col = f"{section}: {name.strip()}" if section else name.strip()
        out[col] = vals.to_numpy(dtype=np.float64)
    return pd.DataFrame(out, index=pd.Index(run, name="run_label"))


FUZIK2016_DEFAULT_FEATURES: tuple[str, ...] = (
    "Vrest",
    "R input (MOhm)",
    "Tau (ms)",
    "SAG index",
    "max Frequency (Hz)",
    "Adaptation 1stlast 2X THR",
    "OneAP spike1: Rheobasic current step",
    "OneAP spike1: AP threshold (mV)",
    "OneAP spike1: AP ampl (mV)",
    "OneAP spike1: AP halfwidth (ms)",
    "OneAP spike1: Max Upstroke (mV/ms)",
    "OneAP spike1: Max Downstroke (mV/ms)",
    "OneAP spike1: AHP ampl (mV)",
)


def _fuzik_cell_key(run_label: str, cell_id: str) -> str:
    """The matching table's cell id for an ephys column: ``C`` prefix, ``_<run>`` for runs 11/20.

    In the ephys sheet, cells of the numbered runs (``11``, ``20``) restart at ``C1`` and some
    ids lack the ``C``; ``ephys_expr_matching.csv`` spells them ``C1_11`` and ``C110``.
    """
    cid = cell_id.strip()
    cid = cid if cid.startswith("C") else f"C{cid}"
    run = run_label.strip()
    return f"{cid}_{run}" if run.isdigit() else cid


def read_fuzik2016(folder: PathLike, *, features: Sequence[str] | None = None) -> PatchseqDataset:
    """Fuzik et al. 2016 Patch-seq (82 matched cells), joined through ``ephys_expr_matching.csv``.

    Parameters
    ----------
    folder
        ``.../patchseq/fuzik2016``.
    features
        Ephys columns to keep (default :data:`FUZIK2016_DEFAULT_FEATURES`: passive properties,
        firing and the first AP at rheobase). Cells with a NaN in a kept feature are dropped.

    Returns
    -------
    PatchseqDataset
        UMI counts, metadata (``t_type``, ``family``, ``library_size``) and the ephys
        features (the Fuzik table's units) of the matched cells; the joins are in ``reports``.

    Raises
    ------
    patchatlas.errors.ReadError
        A file of the dataset is missing or malformed, or a requested feature is not in the
        ephys table.

    Notes
    -----
    ``t_type`` is the paper's cell type (T1–T5 interneurons, L2/L4/L5 pyramidal); ``family``
    is ``"interneuron"`` or ``"pyramidal"``. Library size = total UMIs (ERCC excluded).
    """
    d = Path(folder)
    counts_p = _require(d, "GSE70844_Fuzik_et_al_molcounts.xls.gz")
    ephys_p = _require(d, "Patch-Seq_e-phys_ALL.xlsx")
    match_p = _require(d, "ephys_expr_matching.csv")
    adata = read_fuzik2016_counts(counts_p)
    ephys = read_fuzik2016_ephys(ephys_p)
    match = _read_table(match_p, sep=",", index_col=0)
    for need in ("cell_id", "Cell.type", "expr_ids"):
        if need not in match.columns:
            raise CorruptFileError(match_p, f"no column {need!r}")
    match = match.dropna(subset=["expr_ids"])
    match = match.set_index(match["expr_ids"].astype(str).str.strip())
    match["cell_id"] = match["cell_id"].astype(str).str.strip()
    adata, rep_match = join_cells(
        adata, match[["cell_id", "Cell.type", "GSM_id"]], what=match_p.name
    )
    ephys_num = ephys.drop(columns=["cell_id", "cell_type"])
    ephys_num.index = pd.Index(
        [
            _fuzik_cell_key(str(r), str(c))
            for r, c in zip(ephys.index, ephys["cell_id"], strict=True)
        ]
    )
    if features is None:
        features = list(FUZIK2016_DEFAULT_FEATURES)
    missing = [f for f in features if f not in ephys_num.columns]
    if missing:
        raise CorruptFileError(ephys_p, f"no feature columns {missing}")
    ephys_num = ephys_num[list(features)].dropna(axis=0, how="any")
    ephys_num = ephys_num[~ephys_num.index.duplicated()]
    by_cell = pd.Series(adata.obs_names.to_numpy(), index=adata.obs["cell_id"].astype(str))
    by_cell = by_cell[~by_cell.index.duplicated()]
    adata, rep_ephys = join_cells(
        adata,
        pd.DataFrame(index=ephys_num.index),
        what=ephys_p.name,
        key=lambda s: str(by_cell.get(s, f"(cell {s})")),
    )
    ephys_num.index = pd.Index([str(by_cell.get(s, f"(cell {s})")) for s in ephys_num.index])
    ctype = adata.obs["Cell.type"].astype(str)
    fam = np.where(ctype.str.startswith("T"), "interneuron", "pyramidal")
    adata.obs["t_type"] = ctype.to_numpy()
    adata.obs["family"] = fam
    adata.obs["library_size"] = np.asarray(adata.X.sum(axis=1)).ravel()
    return PatchseqDataset(
        name="fuzik2016",
        adata=adata,
        ephys=ephys_num.loc[adata.obs_names].astype(np.float64),
        reports=[rep_match, rep_ephys],
        notes=["UMI counts, whole transcriptome; small n (smoke test only)."],
    )


DATASET_READERS: dict[str, tuple[str, Callable[..., PatchseqDataset]]] = {
    "m1_scala2021": ("sbnn_gene_counts_1000genes.csv", read_scala2021_m1),
    "m1_scala2021_phys_temp": (
        "m1_patchseq_phys_temp_exon_counts.csv.gz",
        read_scala2021_phys_temp,
    ),
    "fuzik2016": ("GSE70844_Fuzik_et_al_molcounts.xls.gz", read_fuzik2016),
}


def read_patchseq_dataset(folder: PathLike, *, dataset: str | None = None) -> PatchseqDataset:
    """Load a known Patch-seq dataset folder, recognised by its files (or named by ``dataset``).

    Known: ``m1_scala2021``, ``m1_scala2021_phys_temp``, ``fuzik2016`` (see their MANIFEST).

    Parameters
    ----------
    folder
        The dataset folder.
    dataset
        Name of the dataset, when the folder's files should not decide; read with the
        loader's defaults.

    Returns
    -------
    PatchseqDataset
        What the dataset's loader returns (:func:`read_scala2021_m1`,
        :func:`read_scala2021_phys_temp` or :func:`read_fuzik2016`).

    Raises
    ------
    patchatlas.errors.ReadError
        ``folder`` is not a folder; (:class:`~patchatlas.errors.UnsupportedFormatError`) an
        unknown ``dataset`` or no known dataset in the folder; or the loader's own errors.
    """
    d = Path(folder)
    if not d.is_dir():
        raise ReadError(
            d, "not a folder", "pass the dataset folder, e.g. .../patchseq/m1_scala2021"
        )
    if dataset is not None:
        if dataset not in DATASET_READERS:
            raise UnsupportedFormatError(
                d, f"unknown dataset {dataset!r}", f"choose one of {sorted(DATASET_READERS)}"
            )
        return DATASET_READERS[dataset][1](d)
    for marker, reader in DATASET_READERS.values():
        if (d / marker).exists():
            return reader(d)
    raise UnsupportedFormatError(
        d,
        "no known Patch-seq dataset in this folder",
        "expected one of " + ", ".join(m for m, _ in DATASET_READERS.values()),
    )
