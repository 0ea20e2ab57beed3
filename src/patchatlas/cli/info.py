"""``patchatlas info PATH``: the sweep table of a recording."""

from __future__ import annotations

from pathlib import Path

import click

from patchatlas.cli._util import console, table


def recording_table(rec: object) -> object:
    """Rich table of a recording's sweeps (number, kind, amplitude, window, rate, duration)."""
    from patchatlas.core.recording import Recording

    assert isinstance(rec, Recording)

    def sec(x: float) -> str:
        return "–" if x != x else f"{x:.4f}"

    rows = [
        [
            s.number,
            s.clamp_mode.value.replace("_clamp", ""),
            s.stimulus.kind.value,
            s.stimulus.amplitude,
            sec(s.stimulus.start),
            sec(s.stimulus.end),
            s.sampling_rate / 1e3,
            sec(s.duration),
        ]
        for s in rec
    ]
    title = f"{rec.cell_id}  ({rec.format}, {len(rec)} sweeps)"
    cols = ["sweep", "clamp", "kind", "amp (pA)", "start (s)", "end (s)", "rate (kHz)", "dur (s)"]
    return table(title, cols, rows)


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
def info(paths: tuple[Path, ...]) -> None:
    """Print the sweep table of each recording in PATHS."""
    from patchatlas.errors import PatchAtlasError
    from patchatlas.reading import read as read_file

    con = console()
    failed = 0
    for p in paths:
        try:
            rec = read_file(p)
        except PatchAtlasError as exc:
            failed += 1
            con.print(f"[red]error[/red]: {exc}")
            continue
        con.print(recording_table(rec))
        con.print()
    if failed:
        raise SystemExit(2)
