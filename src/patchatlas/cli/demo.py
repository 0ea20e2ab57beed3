"""``patchatlas demo``: generate (or take) a small dataset and run patchatlas over it, offline."""

from __future__ import annotations

from pathlib import Path

import click

from patchatlas.cli._util import console


@click.command()
@click.option(
    "--data",
    "data_dir",
    type=click.Path(path_type=Path, exists=True, file_okay=False),
    help="Use the real recordings (.nwb, .abf, .ibw) under DIR instead of simulated ones.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    default=Path("patchatlas_demo"),
    show_default=True,
    help="Folder for the generated dataset and outputs.",
)
@click.option("--cells", "n_cells", default=4, show_default=True, help="Simulated cells.")
@click.option("--seed", default=0, show_default=True, help="Seed of the simulated dataset.")
@click.option(
    "--serve/--no-serve",
    default=True,
    show_default=True,
    help="End by serving the demo atlas in the web portal (Ctrl-C stops it).",
)
@click.option("--port", default=8000, show_default=True, help="Port of the demo portal.")
def demo(
    data_dir: Path | None, out_dir: Path, n_cells: int, seed: int, serve: bool, port: int
) -> None:
    """Run the patchatlas demo end to end, offline.

    Simulates a few neurons (or takes the recordings in --data), reads them back, extracts their
    features, measures synthetic reconstructions, builds an atlas, runs a small expression →
    physiology benchmark and serves the atlas in the web portal.
    """
    from rich.markup import escape

    from patchatlas.cli._util import frame_table
    from patchatlas.cli.info import recording_table
    from patchatlas.datasets.demo import Step, run_demo

    con = console()

    def report(step: Step) -> None:
        con.rule(f"[bold]{step.name}")
        con.print(step.summary if step.ok else f"[red]failed[/red]: {escape(step.error)}")
        if step.name == "recordings" and step.ok:
            for rec in step.payload:
                con.print(recording_table(rec))
                con.print()
        for title, frame in step.tables:
            con.print(frame_table(title, frame, index_name=str(frame.index.name or "")))

    with con.status("running the demo…"):
        result = run_demo(out_dir, data_dir=data_dir, n_cells=n_cells, seed=seed, report=report)
    for path, reason in result.failed:
        con.print(f"[yellow]skipped[/yellow] {path}: {reason}")
    for fig in result.figures:
        con.print(f"figure: {fig}")
    con.print(f"\nDemo outputs are in {result.out_dir.resolve()}")
    if not result.ok:
        for step in result.failed_steps:
            con.print(f"[red]demo step {step.name} failed[/red]: {escape(step.error)}")
        if result.atlas_url:
            con.print(f"list the ingest failures with `patchatlas atlas errors {result.atlas_url}`")
        raise SystemExit(1)
    if serve and result.atlas_url:
        import uvicorn

        from patchatlas.web import create_app

        app = create_app(result.atlas_url)
        con.print(
            f"\nServing the demo atlas on http://127.0.0.1:{port}/ (API docs at /docs); "
            "Ctrl-C stops it."
        )
        uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")
