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
def demo(data_dir: Path | None, out_dir: Path, n_cells: int, seed: int) -> None:
    """Run the patchatlas demo end to end, offline."""
    from patchatlas.cli.info import recording_table
    from patchatlas.datasets.demo import Step, run_demo

    con = console()

    def report(step: Step) -> None:
        con.rule(f"[bold]{step.name}")
        con.print(step.summary)
        if step.name == "recordings":
            for rec in step.payload:
                con.print(recording_table(rec))
                con.print()

    with con.status("running the demo…"):
        result = run_demo(out_dir, data_dir=data_dir, n_cells=n_cells, seed=seed, report=report)
    for path, reason in result.failed:
        con.print(f"[yellow]skipped[/yellow] {path}: {reason}")
    con.print(f"\nDemo outputs are in {result.out_dir.resolve()}")
