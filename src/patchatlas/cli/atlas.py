"""``patchatlas atlas``: info, upgrade, import of published datasets, export, errors."""

from __future__ import annotations

from pathlib import Path

import click

from patchatlas.cli._util import console, table


@click.group()
def atlas() -> None:
    """Inspect, fill and export an atlas (sqlite:///atlas.db or postgresql://…)."""


@atlas.command()
@click.argument("url")
def info(url: str) -> None:
    """Schema revision and row counts of the atlas at URL."""
    from patchatlas.atlas import Atlas

    a = Atlas(url, mode="r")
    s = a.summary()
    con = console()
    con.print(f"atlas {s['url']}  (schema revision {s['revision']})")
    rows = [[name, n] for name, n in s["counts"].items() if n]
    con.print(table("rows per table", ["table", "rows"], rows))
    cells = a.cells()
    if len(cells):
        by = cells.groupby(cells["dataset"].fillna("(none)")).size()
        con.print(table("cells per dataset", ["dataset", "cells"], [[k, v] for k, v in by.items()]))


@atlas.command(name="import")
@click.argument("dataset")
@click.argument("folder", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option("--atlas", "url", required=True, envvar="PATCHATLAS_ATLAS", help="Atlas URL.")
def import_(dataset: str, folder: Path, url: str) -> None:
    """Import the published tables of DATASET from FOLDER.

    DATASET: m1_scala2021, v1_gouwens2020, lee2023, berg2021, allen_celltypes.
    """
    from patchatlas.atlas import Atlas
    from patchatlas.datasets.published import import_dataset

    with console().status(f"importing {dataset}"):
        res = import_dataset(Atlas(url), dataset, folder)
    console().print(table(f"imported {dataset}", list(res), [list(res.values())]))


@atlas.command()
@click.argument("url")
@click.argument("path", type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["parquet", "csv", "anndata", "nwb"]),
    default="parquet",
    show_default=True,
)
def export(url: str, path: Path, fmt: str) -> None:
    """Export the atlas at URL to PATH (a folder for parquet/csv, a file for anndata/nwb)."""
    from patchatlas.atlas import Atlas

    files = Atlas(url, mode="r").export(path, format=fmt)  # type: ignore[arg-type]
    for f in files:
        console().print(str(f))


@atlas.command()
@click.argument("url")
def errors(url: str) -> None:
    """Cells that failed to ingest, with the file and the reason."""
    from patchatlas.atlas import Atlas

    df = Atlas(url, mode="r").errors()
    if df.empty:
        console().print("no ingest errors")
        return
    rows = df[["cell_name", "path", "stage", "error_type", "reason"]].values.tolist()
    console().print(
        table(
            f"ingest errors ({len(df)} cells)", ["cell", "file", "stage", "error", "reason"], rows
        )
    )


@atlas.command()
@click.argument("url")
def upgrade(url: str) -> None:
    """Migrate the atlas at URL to this version's schema (opening an atlas never migrates).

    Results an older patchatlas stored wrongly are removed and their cells marked for
    recomputation; run `patchatlas ingest` on the same sources afterwards.
    """
    from patchatlas.atlas import upgrade_atlas

    before, after = upgrade_atlas(url)
    if before == after:
        console().print(f"the atlas is at schema revision {after}: nothing to do")
    else:
        console().print(f"upgraded the atlas from schema revision {before} to {after}")


@atlas.command(name="import-crossmodal")
@click.argument("results_dir", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option("--atlas", "url", required=True, envvar="PATCHATLAS_ATLAS", help="Atlas URL.")
@click.option("--name", default=None, help="Run name (default: the dataset; same name replaces).")
def import_crossmodal(results_dir: Path, url: str, name: str | None) -> None:
    """Store the results of `patchatlas crossmodal benchmark --out RESULTS_DIR` in the atlas
    (results.csv, and predictions.csv when present) for the portal's expression → physiology page.
    """
    from patchatlas.atlas import Atlas
    from patchatlas.atlas.crossmodal import store_crossmodal
    from patchatlas.io.results import read_crossmodal_results

    scores, preds = read_crossmodal_results(results_dir)
    run_id = store_crossmodal(
        Atlas(url), scores, preds, name=name, source=str(results_dir.resolve())
    )
    n_pred = 0 if preds is None else len(preds)
    console().print(
        f"stored crossmodal run {run_id}: {len(scores)} scores, {n_pred} predictions from "
        f"{results_dir}"
    )
