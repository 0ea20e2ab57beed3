"""``patchatlas biophys``: simulate Allen biophysical models and fit conductances to a cell."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from patchatlas.cli._util import console, table

__all__ = ["biophys"]

_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)
_PATH = click.Path(exists=True, path_type=Path)
_EPHYS = (".nwb", ".abf", ".ibw", ".txt", ".csv", ".tsv", ".dat")


@click.group()
def biophys() -> None:
    """Biophysical models: run Allen models (Arbor by default, NEURON), fit conductances."""


def _save(fig: Any, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(out, dpi=120)


@biophys.command()
@click.argument("fit_json", type=_FILE)
@click.option("--morphology", "swc", type=_FILE, required=True, help="The model's SWC file.")
@click.option(
    "--protocol",
    default="long_square:100",
    show_default=True,
    help="long_square:AMP_pA, short_square:AMP_pA or ramp:SLOPE_pA_per_s (onset at 1 s).",
)
@click.option("--tstop", type=float, default=None, help="Simulated time in s (default: 3 s).")
@click.option(
    "--backend", type=click.Choice(["arbor", "neuron"]), default="arbor", show_default=True
)
@click.option("--modfiles", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--axon",
    type=click.Choice(["auto", "stub", "truncated", "reconstructed"]),
    default="auto",
    show_default=True,
    help="Axon replacement (auto: stub for perisomatic, truncated for all-active).",
)
@click.option("--out", "out", type=click.Path(path_type=Path), help="Figure (PNG/PDF/SVG).")
def simulate(
    fit_json: Path,
    swc: Path,
    protocol: str,
    tstop: float | None,
    backend: str,
    modfiles: Path | None,
    axon: str,
    out: Path | None,
) -> None:
    """Simulate an Allen model (FIT_JSON + --morphology) under one protocol; plot the sweep.

    Prints the spike count and the sweep features the ephys engine measures on the model.
    """
    from patchatlas.core.recording import Recording
    from patchatlas.ephys import analyze
    from patchatlas.models.biophys import parse_protocol
    from patchatlas.reading import load_allen_model

    con = console()
    model = load_allen_model(fit_json, swc, modfiles=modfiles, axon=axon)
    clamp = parse_protocol(protocol)
    t_end = tstop if tstop is not None else max(3.0, clamp.end + 0.5)
    with con.status(f"simulating {model.name} on {backend} …"):
        sweep = model.simulate(clamp, tstop_s=t_end, backend=backend)
    res = analyze(Recording([sweep], cell_id=model.name, format=f"model-{backend}"), qc=False)
    sa = res.sweeps[0]
    con.print(
        f"{model.name}: {model.kind}, {len(model.geometry.sections)} sections, "
        f"{model.geometry.n_segments} segments, axon {model.geometry.axon}; {backend}"
    )
    f = sa.features
    rows: list[list[Any]] = [
        ["protocol", protocol],
        ["spikes", sa.n_spikes],
        ["avg_rate (Hz)", f.get("avg_rate", float("nan"))],
        ["latency (s)", f.get("latency", float("nan"))],
        ["v_baseline (mV)", f.get("v_baseline", float("nan"))],
        ["junction potential (mV)", model.conditions.junction_potential],
    ]
    con.print(table("model sweep", ["quantity", "value"], rows))
    if out is not None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from patchatlas.plot.biophys import plot_simulated_sweep

        fig, ax = plt.subplots(figsize=(9, 3.5))
        plot_simulated_sweep(sweep, ax=ax, title=f"{model.name} — {protocol} ({backend})")
        _save(fig, out)
        plt.close(fig)
        con.print(f"figure: {out}")


def _ephys_files(paths: tuple[Path, ...]) -> list[Path]:
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            files += sorted(f for f in p.iterdir() if f.suffix.lower() in _EPHYS)
        else:
            files.append(p)
    if not files:
        raise click.UsageError("no ephys files given (CELL: a recording file or a folder)")
    return files


@biophys.command(name="fit")
@click.argument("cell", nargs=-1, required=True, type=_PATH)
@click.option("--morphology", "swc", type=_FILE, required=True, help="The cell's SWC file.")
@click.option(
    "--model",
    "fit_json",
    type=_FILE,
    default=None,
    help="Start from this Allen fit (its non-zero gbars are refined within 10×); default: the "
    "Allen perisomatic template (ten somatic conductances).",
)
@click.option("--generations", type=int, default=10, show_default=True)
@click.option("--population", type=int, default=24, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--amplitudes",
    default=None,
    help="Long-square amplitudes to fit, pA, comma-separated (default: two spiking ones).",
)
@click.option("--workers", type=int, default=1, show_default=True, help="Local worker processes.")
@click.option("--dask", default=None, help="Dask scheduler address or local:N.")
@click.option(
    "--backend", type=click.Choice(["arbor", "neuron"]), default="arbor", show_default=True
)
@click.option("--atlas", "atlas_url", default=None, help="Store the fitted model in this atlas.")
@click.option("--cell-id", default=None, help="Atlas cell name (default: the recording's).")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), required=True)
def fit_cmd(
    cell: tuple[Path, ...],
    swc: Path,
    fit_json: Path | None,
    generations: int,
    population: int,
    seed: int,
    amplitudes: str | None,
    workers: int,
    dask: str | None,
    backend: str,
    atlas_url: str | None,
    cell_id: str | None,
    out_dir: Path,
) -> None:
    """Fit a biophysical model's conductances to a CELL's long-square features (NSGA-II).

    CELL is the cell's recording file(s) or a folder of them. Writes best_parameters.json,
    hall_of_fame.csv, history.csv, features.csv and fit.png (model vs data sweeps and the
    feature errors) to --out.
    """
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from patchatlas.io import read_morphology
    from patchatlas.models.biophys import perisomatic_bounds, perisomatic_template
    from patchatlas.pipeline.biophys import fit_cell
    from patchatlas.reading import load_allen_model

    con = console()
    files = _ephys_files(cell)
    morph = read_morphology(swc)
    if fit_json is not None:
        model = load_allen_model(fit_json, morph)
        bounds = None
    else:
        model = perisomatic_template(morph)
        bounds = perisomatic_bounds()
    amps = [float(a) for a in amplitudes.split(",")] if amplitudes else None
    atlas = None
    if atlas_url:
        from patchatlas.atlas import Atlas

        atlas = Atlas(atlas_url, mode="a")
    with Progress(
        TextColumn("[bold]fit[/] gen {task.completed}/{task.total}"),
        BarColumn(),
        TextColumn("best total error {task.fields[best]}"),
        TimeElapsedColumn(),
        console=con,
    ) as bar:
        task = bar.add_task("fit", total=generations, best="–")

        def progress(g: int, row: Any) -> None:
            bar.update(task, completed=g, best=f"{row['best_total']:.3g} SD")

        result = fit_cell(
            files,
            model,
            parameters=bounds,
            generations=generations,
            population=population,
            seed=seed,
            amplitudes=amps,
            workers=workers,
            dask=dask,
            backend=backend,
            atlas=atlas,
            cell_id=cell_id,
            progress=progress,
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "best_parameters.json").write_text(
        json.dumps(result.parameters, indent=2) + "\n", encoding="utf-8"
    )
    result.hall_of_fame.to_csv(out_dir / "hall_of_fame.csv", index=False)
    result.history.to_csv(out_dir / "history.csv", index=False)
    feats = result.feature_table()
    feats.to_csv(out_dir / "features.csv", index=False)
    _fit_figure(files, result, out_dir / "fit.png")
    p = result.provenance
    con.print(
        f"{p['evaluations']} evaluations in {p['seconds']:.1f} s "
        f"({p['evaluations'] / max(p['seconds'], 1e-9):.1f}/s, {p.get('executor')}); "
        f"total error {result.total_error:.3g} SD"
    )
    con.print(
        table(
            "best parameters",
            ["parameter", "value"],
            [[k, v] for k, v in result.parameters.items()],
        )
    )
    con.print(
        table(
            "feature errors (SD)",
            ["feature", "error"],
            [[k, v] for k, v in result.errors.items()],
        )
    )
    if atlas is not None:
        con.print(f"stored in {atlas_url}")
    con.print(f"outputs: {out_dir}")


def _fit_figure(files: list[Path], result: Any, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from patchatlas.plot.biophys import plot_feature_errors, plot_model_vs_data
    from patchatlas.reading import read

    data: dict[int, Any] = {}
    for f in files:
        for s in read(f).sweeps:
            data.setdefault(s.number, s)
    n = len(result.targets)
    fig, axes = plt.subplots(n + 1, 1, figsize=(9, 2.8 * (n + 1)))
    for k, (t, ms) in enumerate(zip(result.targets, result.sweeps, strict=True)):
        ds = next((data[s] for s in t.sweeps if s in data), None)
        if ds is not None:
            plot_model_vs_data(ds, ms, ax=axes[k], title=f"{t.amplitude_pa:g} pA")
    plot_feature_errors(result.errors, ax=axes[-1])
    _save(fig, out)
    plt.close(fig)
