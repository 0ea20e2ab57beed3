"""``patchatlas ephys``: feature registry, feature tables, QC and plots for recordings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from patchatlas.cli._read_options import read_kwargs, reader_options
from patchatlas.cli._util import console, table


@click.group()
def ephys() -> None:
    """Electrophysiology features (Allen/IPFX definitions), QC and plots."""


@ephys.command("list-features")
@click.option(
    "--level", type=click.Choice(["spike", "sweep", "cell", "efel", "vector"]), default=None
)
def list_features_cmd(level: str | None) -> None:
    """List the feature registry (name, unit, window, convention, definition)."""
    from rich.markup import escape

    from patchatlas.ephys.registry import list_features

    feats = list_features(level)
    rows = [
        [escape(x) for x in (f.level, f.name, f.unit, f.convention, f.window, f.definition)]
        for f in feats
    ]
    con = console()
    con.width = max(con.width, 160)
    con.print(
        table(
            f"{len(feats)} ephys features",
            ["level", "name", "unit", "conv", "window", "definition"],
            rows,
        )
    )


def _progress() -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=console()
    )


def _write(df: Any, out: Path | None) -> None:
    if out is None:
        click.echo(df.to_csv(index=False), nl=False)
        return
    if out.suffix.lower() == ".parquet":
        df.to_parquet(out, index=False)
    else:
        df.to_csv(out, index=False)
    console().print(f"wrote {len(df)} rows to {out}")


@ephys.command("features")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path, exists=True))
@click.option(
    "--level", type=click.Choice(["spike", "sweep", "cell"]), default="cell", show_default=True
)
@click.option(
    "--profile", type=click.Choice(["allen", "robust"]), default="allen", show_default=True
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="FILE.csv or FILE.parquet (default: CSV to stdout)",
)
@reader_options()
def features_cmd(
    paths: tuple[Path, ...], level: str, profile: str, out: Path | None, **read_options: Any
) -> None:
    """Spike, sweep or cell features of the recordings in PATHS (patchatlas.ephys.analyze)."""
    import pandas as pd

    from patchatlas.ephys.batch import recording_features
    from patchatlas.errors import PatchAtlasError
    from patchatlas.reading import read as read_file

    options = read_kwargs(**read_options)
    frames = []
    failed = 0
    with _progress() as prog:
        task = prog.add_task("features", total=len(paths))
        for p in paths:
            try:
                rec = read_file(p, **options)
                frames.append(recording_features(rec, level=level, profile=profile))
            except PatchAtlasError as exc:
                failed += 1
                prog.console.print(f"[red]error[/red]: {exc}")
            prog.advance(task)
    if frames:
        _write(pd.concat(frames, ignore_index=True), out)
    if failed:
        raise SystemExit(2)


@ephys.command("qc")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path, exists=True))
@click.option(
    "--out", type=click.Path(path_type=Path), default=None, help="sweep QC to FILE.csv/.parquet"
)
@click.option(
    "--cell-out",
    type=click.Path(path_type=Path),
    default=None,
    help="cell QC (one row per rule) to FILE.csv/.parquet",
)
@click.option(
    "--findings-out",
    type=click.Path(path_type=Path),
    default=None,
    help="the readers' plausibility findings to FILE.csv/.parquet",
)
@reader_options(
    plausibility_default="error",
    plausibility_help="'warn' reads files with implausible values anyway (their findings are "
    "listed).",
)
def qc_cmd(
    paths: tuple[Path, ...],
    out: Path | None,
    cell_out: Path | None,
    findings_out: Path | None,
    **read_options: Any,
) -> None:
    """Reader plausibility findings, then the Allen v1.1 sweep and cell QC rules plus detection
    flags, for the recordings in PATHS."""
    import pandas as pd

    from patchatlas.ephys.batch import cell_qc_table, recording_qc_table
    from patchatlas.ephys.qc import plausibility_table
    from patchatlas.errors import PatchAtlasError
    from patchatlas.reading import read as read_file

    options = read_kwargs(**read_options)
    frames = []
    cells = []
    found = []
    with _progress() as prog:
        task = prog.add_task("qc", total=len(paths))
        for p in paths:
            try:
                rec = read_file(p, **options)
                found.append(plausibility_table(rec))
                frames.append(recording_qc_table(rec))
                cells.append(cell_qc_table(rec))
            except PatchAtlasError as exc:
                prog.console.print(f"[red]error[/red]: {exc}")
            prog.advance(task)
    if not frames:
        raise SystemExit(2)
    fdf = pd.concat(found, ignore_index=True)
    if findings_out is not None:
        _write(fdf, findings_out)
    else:
        _print_findings(fdf)
    df = pd.concat(frames, ignore_index=True)
    cdf = pd.concat(cells, ignore_index=True)
    if out is not None:
        _write(df, out)
    else:
        cols = [
            "cell_id",
            "sweep_number",
            "stimulus_kind",
            "pre_noise_rms_mv",
            "slow_noise_rms_mv",
            "vm_delta_mv",
            "detection_disagreement",
            "passed",
        ]
        cols = [c for c in cols if c in df]
        if "sweep_number" in df and len(df):
            console().print(table("sweep QC (Allen v1.1)", cols, df[cols].values.tolist()))
        else:
            console().print("sweep QC (Allen v1.1): no current-clamp stimulus sweeps")
    if cell_out is not None:
        _write(cdf, cell_out)
    elif out is None:
        from rich.markup import escape

        ccols = ["cell_id", "rule", "value", "unit", "limit", "passed", "reason"]
        rows = [[escape(str(x)) for x in row] for row in cdf[ccols].values.tolist()]
        con = console()
        con.width = max(con.width, 140)
        con.print(table("cell QC (Allen v1.1; missing values fail the cell)", ccols, rows))
        for cid, ok in cdf.groupby("cell_id", sort=False)["cell_passed"].first().items():
            con.print(f"cell {cid}: {'passed' if ok else 'FAILED'}")


def _print_findings(fdf: Any) -> None:
    from rich.markup import escape

    con = console()
    if not len(fdf):
        con.print("reader plausibility: every check passed")
        return
    con.width = max(con.width, 140)
    cols = ["cell_id", "check", "severity", "sweeps", "message"]

    def short(sweeps: str) -> str:
        nums = sweeps.split()
        return f"{nums[0]}-{nums[-1]} ({len(nums)})" if len(nums) > 6 else sweeps

    rows = [
        [escape(str(x)) if c != "sweeps" else short(str(x)) for c, x in zip(cols, r, strict=True)]
        for r in fdf[cols].values.tolist()
    ]
    con.print(table("reader plausibility findings", cols, rows))


@ephys.command("plot")
@click.argument("path", type=click.Path(path_type=Path, exists=True))
@click.option(
    "--sweep", "sweep_number", type=int, default=None, help="Sweep number (default: the hero sweep)"
)
@click.option(
    "--profile", type=click.Choice(["allen", "robust"]), default="allen", show_default=True
)
@click.option("--out", type=click.Path(path_type=Path), required=True, help="FIG.png")
@reader_options()
def plot_cmd(
    path: Path, sweep_number: int | None, profile: str, out: Path, **read_options: Any
) -> None:
    """Plot one sweep with its detected spikes and the first-spike phase plot."""
    import math

    import matplotlib

    matplotlib.use("Agg")
    from patchatlas.ephys import analyze
    from patchatlas.plot.ephys import sweep_figure
    from patchatlas.reading import read as read_file

    rec = read_file(path, **read_kwargs(**read_options))
    res = analyze(rec, profile=profile, qc=False)
    if not res.sweeps:
        raise click.ClickException(f"{path}: no current-clamp sweep to plot")
    if sweep_number is None:
        hero = res.cell["thumbnail_sweep_num"]
        sweep_number = int(hero) if math.isfinite(hero) else res.sweeps[0].number
    match = [r for r in res.sweeps if r.number == sweep_number and r.ok]
    if not match:
        raise click.ClickException(f"{path}: no analysable sweep number {sweep_number}")
    r = match[0]
    assert r.spikes is not None
    fig = sweep_figure(
        r.sweep, r.spikes, title=f"{rec.cell_id} sweep {sweep_number} ({r.spikes.n_rows} spikes)"
    )
    fig.savefig(out, dpi=120)
    console().print(f"wrote {out}")
