"""``patchatlas ingest PATH --atlas URL``: files → engines → atlas, resumable, with progress."""

from __future__ import annotations

from pathlib import Path

import click

from patchatlas.cli._util import console, table


@click.command()
@click.argument("source", type=click.Path(path_type=Path, exists=True))
@click.option(
    "--atlas",
    "url",
    required=True,
    envvar="PATCHATLAS_ATLAS",
    help="Atlas URL: sqlite:///atlas.db (or a plain path), postgresql://user@host/db.",
)
@click.option(
    "--workers", "-j", type=int, default=1, show_default=True, help="Local worker processes."
)
@click.option(
    "--dask",
    "dask",
    metavar="ADDRESS",
    help="Compute on Dask: tcp://scheduler:8786, or local:N for a LocalCluster.",
)
@click.option(
    "--write-on-workers",
    is_flag=True,
    help="With --dask on PostgreSQL: workers store their cells themselves.",
)
@click.option("--recompute", is_flag=True, help="Recompute cells whose inputs did not change.")
@click.option(
    "--engine",
    "engines",
    multiple=True,
    help="Run only these engines (ephys, morphology ...); repeatable.",
)
@click.option("--profile", default="allen", show_default=True, help="Ephys feature profile.")
def ingest(
    source: Path,
    url: str,
    workers: int,
    dask: str | None,
    write_on_workers: bool,
    recompute: bool,
    engines: tuple[str, ...],
    profile: str,
) -> None:
    """Ingest a folder of recordings or a manifest (CSV/YAML) into an atlas.

    Idempotent (content hashes; unchanged cells are skipped) and resumable: each cell is stored in
    one transaction, so an interrupted run is finished by running it again. Failing cells are
    recorded in the atlas (`patchatlas atlas errors URL`) and the others go on.
    """
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from patchatlas.pipeline import ingest as run_ingest

    con = console()
    with Progress(
        TextColumn("[bold]ingest[/bold]"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[cell]}"),
        console=con,
        transient=False,
    ) as bar:
        tid = bar.add_task("ingest", total=None, cell="")

        def progress(event: str, cell: str, n: int, total: int) -> None:
            bar.update(tid, completed=n, total=total, cell=f"{event} {cell}" if cell else "")

        summary = run_ingest(
            source,
            url,
            workers=workers,
            dask=dask,
            writer="workers" if write_on_workers else "single",
            recompute=recompute,
            engines=list(engines) or None,
            params={"ephys": {"profile": profile}},
            progress=progress,
        )
    con.print(
        table(
            "ingest summary",
            ["cells", "done", "skipped", "failed"],
            [[summary.total, summary.done, summary.skipped, summary.failed]],
        )
    )
    for f in summary.failures:
        con.print(f"[red]failed[/red] {escape(f.path)} ({f.stage}): {escape(f.reason)}")
    if summary.failed:
        what = "every cell" if summary.failed == summary.total else "some cells"
        con.print(
            f"[red]{summary.failed} of {summary.total} cells failed[/red] ({what}); they are "
            f"recorded in the atlas: `patchatlas atlas errors {url}`"
        )
        raise SystemExit(1)
