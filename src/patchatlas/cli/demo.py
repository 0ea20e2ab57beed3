"""``patchatlas demo``: generate (or take) a small dataset, read it back, print its tables."""

from __future__ import annotations

from pathlib import Path

import click

from patchatlas.cli._util import console


@click.command()
@click.option(
    "--data",
    "data_dir",
    type=click.Path(path_type=Path, exists=True, file_okay=False),
    help="Use the real recordings in DIR instead of generated ones.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    default=Path("patchatlas_demo"),
    show_default=True,
    help="Folder for the generated dataset and outputs.",
)
def demo(data_dir: Path | None, out_dir: Path) -> None:
    """Run the patchatlas demo end to end, offline."""
    import patchatlas
    from patchatlas.cli.info import recording_table

    con = console()
    if data_dir is None:
        raise click.ClickException(
            "the simulated demo dataset is not available yet; pass --data DIR"
        )
    files = sorted(p for p in data_dir.rglob("*") if p.suffix.lower() in (".abf", ".nwb", ".ibw"))
    for f in files:
        try:
            rec = patchatlas.read(f)
        except patchatlas.errors.PatchAtlasError as exc:
            con.print(f"[yellow]skipped[/yellow] {exc}")
            continue
        con.print(recording_table(rec))
    _ = out_dir
