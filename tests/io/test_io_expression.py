"""Expression readers and the Patch-seq dataset loaders (synthetic tables + the real files)."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from patchatlas.errors import CorruptFileError, ReadError
from patchatlas.io.expression import (
    join_cells,
    read_expression,
    read_fuzik2016,
    read_gene_set,
    read_scala2021_m1,
    read_scala2021_phys_temp,
)

GENES = ["Pvalb", "Sst", "Vip", "Gad1", "Kcnc1"]
CELLS = ["20180918sample1", "20180918sample2", "20180917sample4"]


def _counts() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(rng.integers(0, 50, size=(5, 3)), index=GENES, columns=CELLS)


@pytest.mark.parametrize("name", ["c.csv", "c.csv.gz", "c.tsv", "c.tsv.gz"])
@pytest.mark.parametrize("transpose", [False, True])
def test_read_expression_tables_any_orientation(tmp_path: Path, name: str, transpose: bool) -> None:
    df = _counts()
    table = df.T if transpose else df
    sep = "\t" if ".tsv" in name else ","
    path = tmp_path / name
    table.to_csv(path, sep=sep, compression="gzip" if name.endswith(".gz") else None)
    ad = read_expression(path)
    assert list(ad.obs_names) == CELLS
    assert list(ad.var_names) == GENES
    np.testing.assert_array_equal(ad.X, df.T.to_numpy(dtype=float))


def test_read_expression_forced_orientation_and_h5ad(tmp_path: Path) -> None:
    df = _counts()
    p = tmp_path / "c.csv"
    df.to_csv(p)
    ad = read_expression(p, orientation="cells_x_genes")  # wrong on purpose: genes become cells
    assert list(ad.obs_names) == GENES
    good = read_expression(p, orientation="genes_x_cells")
    h5 = tmp_path / "c.h5ad"
    good.write_h5ad(h5)
    back = read_expression(h5)
    np.testing.assert_array_equal(back.X, good.X)
    assert list(back.var_names) == GENES


def test_read_expression_errors(tmp_path: Path) -> None:
    with pytest.raises(ReadError, match="no such file"):
        read_expression(tmp_path / "missing.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("gene,a,b\nPvalb,1,x\n")
    with pytest.raises(CorruptFileError, match="non-numeric"):
        read_expression(bad)
    gz = tmp_path / "bad.csv.gz"
    gz.write_bytes(b"not gzip at all")
    with pytest.raises(CorruptFileError, match=r"bad\.csv\.gz"):
        read_expression(gz)


def test_join_cells_reports_what_did_not_join(tmp_path: Path) -> None:
    df = _counts()
    p = tmp_path / "c.csv"
    df.to_csv(p)
    ad = read_expression(p)
    meta = pd.DataFrame(
        {"type": ["A", "B", "C", "C"]},
        index=["20180918_sample_1", "20180917_sample_4", "20990101_sample_9", "20180917_sample_4"],
    )
    joined, rep = join_cells(ad, meta, what="meta", key=lambda s: s.replace("_", ""))
    assert joined.n_obs == 2
    assert rep.n_joined == 2
    assert rep.only_left == ["20180918sample2"]
    assert rep.only_right == ["20990101sample9"]
    assert rep.duplicated_right == ["20180917sample4"]
    assert list(joined.obs["type"]) == ["A", "B"]
    text = rep.summary()
    assert "2 of 3 cells joined" in text and "20990101sample9" in text
    left, _ = join_cells(ad, meta, key=lambda s: s.replace("_", ""), keep="left")
    assert left.n_obs == 3 and left.obs["type"].isna().sum() == 1


@pytest.mark.shared_data
def test_scala2021_m1_real(shared_data: Path) -> None:
    ds = read_scala2021_m1(shared_data / "patchseq" / "m1_scala2021")
    assert ds.adata.shape == (1208, 1000)
    assert ds.ephys.shape == (1208, 16)
    assert list(ds.ephys.index) == list(ds.adata.obs_names)
    assert ds.adata.obs["t_type"].nunique() == 76
    assert "low quality" not in set(ds.families)
    assert ds.adata.obs["family"].value_counts()["Pvalb"] == 287
    # counts are raw integers; library size is the metadata exon-read total by default
    assert np.all(np.round(ds.adata.X) == ds.adata.X)
    np.testing.assert_array_equal(ds.adata.obs["library_size"], ds.adata.obs["Exon reads"])
    alt = read_scala2021_m1(shared_data / "patchseq" / "m1_scala2021", library_size="gene_sum")
    np.testing.assert_allclose(alt.adata.obs["library_size"], alt.adata.X.sum(axis=1))
    meta_rep = ds.reports[0]
    assert meta_rep.n_joined == 1213 and len(meta_rep.only_right) == 1329 - 1213
    assert not np.isnan(ds.ephys.to_numpy()).any()


@pytest.mark.shared_data
def test_scala2021_phys_temp_real(shared_data: Path) -> None:
    ds = read_scala2021_phys_temp(shared_data / "patchseq" / "m1_scala2021_phys_temp")
    assert ds.adata.n_vars > 20_000  # full transcriptome (genes never detected dropped)
    assert 150 <= ds.adata.n_obs <= 185
    assert ds.ephys.shape[1] == 29 and not ds.ephys.isna().to_numpy().any()
    assert "low quality" not in set(ds.families)
    # the ephys join names the cells without features
    assert ds.reports[1].only_left, ds.reports[1].summary()


@pytest.mark.shared_data
def test_fuzik2016_real(shared_data: Path) -> None:
    ds = read_fuzik2016(shared_data / "patchseq" / "fuzik2016")
    assert ds.adata.n_vars > 20_000
    assert not any(g.startswith("ERCC-") for g in ds.adata.var_names)
    assert 60 <= ds.adata.n_obs <= 82
    assert set(ds.t_types) <= {"T1", "T2", "T3", "T4", "T5", "L2", "L4", "L5"}
    assert set(ds.families) == {"interneuron", "pyramidal"}
    assert not ds.ephys.isna().to_numpy().any()
    match_rep, ephys_rep = ds.reports
    assert match_rep.only_left  # three expression columns have no matching row
    assert "rows match no cell" in ephys_rep.summary() or ephys_rep.only_left


@pytest.mark.shared_data
def test_gene_set_real(shared_data: Path) -> None:
    genes = read_gene_set(
        shared_data / "patchseq" / "m1_scala2021" / "ion-channel-genes-group-177.csv"
    )
    assert len(genes) > 300 and "KCNC1" in genes


def test_fuzik_xls_gz_error(tmp_path: Path) -> None:
    from patchatlas.io.expression import read_fuzik2016_counts

    p = tmp_path / "x.xls.gz"
    with gzip.open(p, "wb") as fh:
        fh.write(b"definitely not an excel file")
    with pytest.raises(CorruptFileError, match=r"x\.xls\.gz"):
        read_fuzik2016_counts(p)
