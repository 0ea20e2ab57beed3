"""``patchatlas fetch``: pull public cells (Allen Cell Types Database, DANDI) into a cache and
ingest them into an atlas; compare Allen's own features with patchatlas's."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from patchatlas.cli._util import console, frame_table, table

_ATLAS_HELP = "Atlas URL: sqlite:///atlas.db (or a plain path), postgresql://user@host/db."


def _common(f: Callable[..., Any]) -> Callable[..., Any]:
    """Options shared by the fetch commands."""
    for opt in reversed(
        [
            click.option("--atlas", "url", envvar="PATCHATLAS_ATLAS", help=_ATLAS_HELP),
            click.option(
                "--download-only", is_flag=True, help="Only fill the cache; ingest nothing."
            ),
            click.option(
                "--cache",
                type=click.Path(path_type=Path, file_okay=False),
                envvar="PATCHATLAS_CACHE",
                help="Download cache (default ~/.cache/patchatlas).",
            ),
            click.option("--limit", type=click.IntRange(min=1), help="At most this many cells."),
            click.option(
                "--concurrency",
                type=click.IntRange(min=1),
                default=4,
                show_default=True,
                help="Files downloaded at once.",
            ),
            click.option(
                "--retries",
                type=click.IntRange(min=1),
                default=5,
                show_default=True,
                help="Tries per request (exponential backoff between them).",
            ),
            click.option(
                "--workers",
                "-j",
                type=int,
                default=1,
                show_default=True,
                help="Ingest worker processes.",
            ),
            click.option("--recompute", is_flag=True, help="Recompute unchanged cells."),
        ]
    ):
        f = opt(f)
    return f


@contextmanager
def _bars() -> Iterator[Callable[[str, str, int, int], None]]:
    """A progress bar for bytes and one for cells (one live display); yields the callback the
    library calls (from its download threads too)."""
    from rich.console import Group
    from rich.live import Live
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TransferSpeedColumn,
    )

    con = console()
    files = Progress(
        TextColumn("[bold]download[/bold]"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TextColumn("{task.fields[files]} files"),
        console=con,
    )
    cells = Progress(
        TextColumn("[bold]  ingest[/bold]"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[what]}"),
        console=con,
    )
    down = files.add_task("download", total=0, files=0)
    state: dict[str, Any] = {"cells": None}

    def progress(event: str, name: str, done: int, total: int) -> None:
        if event == "bytes":
            t = files.tasks[down]
            files.update(down, total=(t.total or 0) + total, advance=done)
        elif event == "file":
            files.update(down, files=f"{done}/{total}")
        elif event == "cell":
            if state["cells"] is None:
                state["cells"] = cells.add_task("ingest", total=total, what="")
            cells.update(state["cells"], completed=done, total=total, what=name)

    try:
        with Live(Group(files, cells), console=con, refresh_per_second=8, transient=False):
            yield progress
    finally:
        con.print()


def _report(res: Any, url: str | None) -> None:
    from rich.markup import escape

    con = console()
    mb = 1 << 20
    summary = [
        len(res.cells),
        len(res.files),
        f"{res.bytes_downloaded / mb:.1f}",
        f"{res.bytes_cached / mb:.1f}",
    ]
    cols = ["cells", "files", "downloaded (MiB)", "from cache (MiB)"]
    if res.ingest is not None:
        cols += ["ingested", "skipped", "failed"]
        summary += [res.ingest.done, res.ingest.skipped, res.ingest.failed]
    if res.imported is not None:
        cols.append("Allen feature values")
        summary.append(res.imported.get("ephys_values", 0))
    con.print(table(f"fetch {res.source}", cols, [summary]))
    for name, why in res.skipped.items():
        con.print(f"[yellow]skipped[/yellow] {escape(name)}: {escape(why)}")
    if res.ingest is not None:
        for f in res.ingest.failures:
            con.print(f"[red]failed[/red] {escape(f.path)} ({f.stage}): {escape(f.reason)}")
        if res.ingest.failed:
            con.print(
                f"[red]{res.ingest.failed} of {res.ingest.total} cells failed[/red]; they are "
                f"recorded in the atlas: `patchatlas atlas errors {url}`"
            )
            raise SystemExit(1)


@click.group()
def fetch() -> None:
    """Download public cells into a cache (resumable, checksummed) and ingest them.

    Base URLs come from --api or PATCHATLAS_ALLEN_API / PATCHATLAS_DANDI_API (a mirror or a test
    server); the cache from --cache or PATCHATLAS_CACHE.
    """


@fetch.command()
@click.option("--species", help="mouse or human.")
@click.option("--structure", help="Structure acronym or prefix (VISp, MTG ...).")
@click.option("--layer", help="Cortical layer (5; 6 matches 6a and 6b).")
@click.option("--cre-line", help="Transgenic line, substring (Sst, Pvalb ...).")
@click.option("--dendrite-type", help="spiny, aspiny or 'sparsely spiny'.")
@click.option(
    "--reconstruction/--no-reconstruction",
    "has_reconstruction",
    default=None,
    help="Only cells with (without) a reconstruction.",
)
@click.option("--models", "with_models", is_flag=True, help="Only cells with models; fetch them.")
@click.option("--specimen", "specimens", type=int, multiple=True, help="Specimen id; repeatable.")
@click.option("--no-features", is_flag=True, help="Do not import Allen's computed features.")
@click.option("--refresh", is_flag=True, help="Query the specimen table again.")
@click.option("--api", envvar="PATCHATLAS_ALLEN_API", help="Allen API base URL.")
@_common
def allen(
    species: str | None,
    structure: str | None,
    layer: str | None,
    cre_line: str | None,
    dendrite_type: str | None,
    has_reconstruction: bool | None,
    with_models: bool,
    specimens: tuple[int, ...],
    no_features: bool,
    refresh: bool,
    api: str | None,
    url: str | None,
    download_only: bool,
    cache: Path | None,
    limit: int | None,
    concurrency: int,
    retries: int,
    workers: int,
    recompute: bool,
) -> None:
    """Cells of the Allen Cell Types Database: NWB recordings, SWC reconstructions, marker
    files, sweep tables (and models) into the cache, then into the atlas with Allen's own
    features.

    Example: patchatlas fetch allen --species mouse --layer 5 --limit 20 --atlas allen.db
    """
    from patchatlas.datasets.allen import AllenCellTypes, fetch_allen

    if url is None and not download_only:
        raise click.UsageError("give --atlas URL (or --download-only)")
    client = AllenCellTypes(cache, api=api, retry=retries, concurrency=concurrency)
    kinds = ["ephys", "reconstruction", "markers", "sweeps"] + (["models"] if with_models else [])
    with _bars() as progress:
        res = fetch_allen(
            None if download_only else url,
            species=species,
            structure=structure,
            layer=layer,
            cre_line=cre_line,
            dendrite_type=dendrite_type,
            has_reconstruction=has_reconstruction,
            has_models=True if with_models else None,
            specimen_ids=specimens or None,
            limit=limit,
            kinds=kinds,
            import_features=not no_features,
            client=client,
            refresh=refresh,
            workers=workers,
            recompute=recompute,
            progress=progress,
        )
    _report(res, url)


@fetch.command()
@click.argument("dandiset")
@click.option("--version", "version", help="Dandiset version (default: latest published).")
@click.option("--match", default="*.nwb", show_default=True, help="Asset path pattern.")
@click.option("--api", envvar="PATCHATLAS_DANDI_API", help="DANDI API base URL.")
@_common
def dandi(
    dandiset: str,
    version: str | None,
    match: str,
    api: str | None,
    url: str | None,
    download_only: bool,
    cache: Path | None,
    limit: int | None,
    concurrency: int,
    retries: int,
    workers: int,
    recompute: bool,
) -> None:
    """NWB files of a DANDI dandiset (e.g. 000008, Scala et al. 2021 M1 Patch-seq), one cell
    per file.

    Example: patchatlas fetch dandi 000008 --limit 20 --atlas m1.db
    """
    from patchatlas.datasets.dandi import Dandi, fetch_dandi

    if url is None and not download_only:
        raise click.UsageError("give --atlas URL (or --download-only)")
    client = Dandi(cache, api=api, retry=retries, concurrency=concurrency)
    with _bars() as progress:
        res = fetch_dandi(
            None if download_only else url,
            dandiset,
            version=version,
            match=match,
            limit=limit,
            client=client,
            workers=workers,
            recompute=recompute,
            progress=progress,
        )
    _report(res, url)


@fetch.command()
@click.option("--atlas", "url", required=True, envvar="PATCHATLAS_ATLAS", help=_ATLAS_HELP)
@click.option("--cell", "cells", multiple=True, help="Only this cell; repeatable.")
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), help="Per-cell CSV.")
def compare(url: str, cells: tuple[str, ...], out: Path | None) -> None:
    """Allen's own computed features next to patchatlas's, for fetched Allen cells: a summary per
    feature (and every cell with --out)."""
    from patchatlas.datasets.allen import compare_allen_features, summarize_comparison

    per_cell = compare_allen_features(url, cells=list(cells) or None)
    con = console()
    if per_cell.empty:
        con.print(
            "no cell has both Allen's and patchatlas's values: fetch Allen cells first "
            "(`patchatlas fetch allen ... --atlas URL`)"
        )
        raise SystemExit(1)
    summary = summarize_comparison(per_cell).set_index("name")
    con.print(frame_table(f"Allen vs patchatlas ({per_cell['cell_id'].nunique()} cells)", summary))
    if out is not None:
        per_cell.to_csv(out, index=False)
        con.print(f"wrote {len(per_cell)} rows to {out}")
