"""``patchatlas synphys``: PSP fits, connectivity tables and figures, imports, simulation."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import click

from patchatlas.cli._util import console

_FILES = click.Path(path_type=Path, exists=True)


@click.group()
def synphys() -> None:
    """Synaptic physiology of multipatch experiments (Allen Synaptic Physiology compatible)."""


def _progress(label: str) -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn(f"[bold]{label}[/bold]"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[item]}"),
        console=console(),
        transient=False,
    )


def _experiment_files(paths: tuple[Path, ...]) -> list[Path]:
    from patchatlas.io.multipatch import EXPERIMENT_EXTENSIONS

    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out += sorted(f for f in p.rglob("*") if f.suffix.lower() in EXPERIMENT_EXTENSIONS)
        else:
            out.append(p)
    return out


@synphys.command()
@click.argument("paths", nargs=-1, required=True, type=_FILES)
@click.option("--sign", type=click.Choice(["+", "-", "0"]), default=None,
              help="Sign of trace files' responses (default: the file's, or either).")  # fmt: skip
@click.option("--clamp-mode", type=click.Choice(["ic", "vc"]), default="ic", show_default=True)
@click.option("--onset-ms", nargs=2, type=float, default=None, metavar="FROM TO",
              help="Onset search window of trace files (ms on their time axis).")  # fmt: skip
@click.option("--out", type=click.Path(path_type=Path), help="Write the fits as CSV.")
def fit(
    paths: tuple[Path, ...],
    sign: str | None,
    clamp_mode: str,
    onset_ms: tuple[float, float] | None,
    out: Path | None,
) -> None:
    """Fit the PSP/PSC template to responses.

    PATHS are response tables (.csv: time_s, value[, weight]; .json: Allen test_psp_fit) or
    multipatch experiments (.mpx, .nwb, .syn, folders of them): experiments are analysed and
    every synapse's averaged responses reported.
    """
    import pandas as pd
    from rich.markup import escape

    from patchatlas.cli._util import frame_table
    from patchatlas.errors import PatchAtlasError
    from patchatlas.io.multipatch import TRACE_EXTENSIONS, read_experiment, read_psp_trace
    from patchatlas.synphys import analyze, fit_psp

    con = console()
    files = [f for p in paths for f in ([p] if p.is_file() else _experiment_files((p,)))]
    rows: list[dict[str, Any]] = []
    failed = 0
    with _progress("fit") as bar:
        tid = bar.add_task("fit", total=len(files), item="")
        for f in files:
            bar.update(tid, item=f.name)
            try:
                if f.suffix.lower() in TRACE_EXTENSIONS:
                    tr = read_psp_trace(f, clamp_mode=clamp_mode)
                    sg = tr.sign if sign is None else {"+": 1, "-": -1, "0": 0}[sign]
                    win = None if onset_ms is None else (onset_ms[0] * 1e-3, onset_ms[1] * 1e-3)
                    r = fit_psp(tr.t, tr.y, sign=sg, clamp_mode=clamp_mode,  # type: ignore[arg-type]
                                onset_window=win, weights=tr.weights)  # fmt: skip
                    rows.append({"source": f.name, "pair": "", "category": "trace",
                                 **_fit_row(r, "mV" if clamp_mode == "ic" else "pA")})  # fmt: skip
                else:
                    res = analyze(read_experiment(f))
                    for pa in res:
                        for av in pa.averages:
                            if av.fit is None or not pa.row.get("connected"):
                                continue
                            unit = "mV" if av.category.startswith("ic") else "pA"
                            rows.append({"source": f.name, "pair": f"{pa.pre}->{pa.post}",
                                         "category": av.category, **_fit_row(av.fit, unit),
                                         "n": av.n})  # fmt: skip
            except PatchAtlasError as exc:
                failed += 1
                con.print(f"[red]failed[/red] {escape(str(f))}: {escape(str(exc))}")
            bar.advance(tid)
    table = pd.DataFrame(rows)
    if len(table):
        con.print(frame_table("PSP/PSC fits", table.set_index("source")))
    if out is not None:
        table.to_csv(out, index=False)
        con.print(f"wrote {out}")
    if failed:
        con.print(f"[red]{failed} of {len(files)} files failed[/red]")
        raise SystemExit(1)


def _fit_row(r: Any, unit: str) -> dict[str, Any]:
    return {
        f"amp_{unit}": round(r.amp, 5),
        "latency_ms": round(1e3 * r.latency, 4),
        "rise_ms": round(1e3 * r.rise_time, 4),
        "decay_ms": round(1e3 * r.decay_tau, 3),
        "nrmse": round(r.nrmse, 4),
        "at_bound": ",".join(r.at_bound),
    }


@synphys.command()
@click.argument("paths", nargs=-1, required=True, type=_FILES)
@click.option("--out", "out_dir", type=click.Path(path_type=Path), required=True,
              help="Folder for matrix.csv/png, distance.csv/png and profiles.csv.")  # fmt: skip
@click.option(
    "--classes",
    default=None,
    help="Comma-separated classes in display order (default: every class seen).",
)
@click.option(
    "--sigma",
    type=float,
    default=100.0,
    show_default=True,
    help="Width (µm) of the fixed Gaussian profile of the adjusted probability.",
)
@click.option(
    "--bin", "bin_um", type=float, default=25.0, show_default=True, help="Distance bin (µm)."
)
@click.option("--calls-only", is_flag=True,
              help="Use the calls the files carry; do not analyse sweeps.")  # fmt: skip
@click.option("--figures/--no-figures", default=True, show_default=True)
def connectivity(
    paths: tuple[Path, ...],
    out_dir: Path,
    classes: str | None,
    sigma: float,
    bin_um: float,
    calls_only: bool,
    figures: bool,
) -> None:
    """Connection probability by class and against distance, with Clopper-Pearson 95 % CIs.

    PATHS are experiment files or folders (.syn connection matrices, .mpx, .nwb). Writes the
    class x class matrix, the distance bins, a Gaussian profile per class pair (profile-
    likelihood CI of p_max) and the sigma-adjusted probability.
    """
    import pandas as pd
    from rich.markup import escape

    from patchatlas.cli._util import frame_table
    from patchatlas.errors import PatchAtlasError
    from patchatlas.io.multipatch import read_experiment
    from patchatlas.pipeline.synphys import pair_table
    from patchatlas.synphys import (
        connectivity_by_distance,
        connectivity_matrix,
        distance_adjusted_connectivity,
        fit_distance_profile,
    )

    con = console()
    files = _experiment_files(paths)
    if not files:
        con.print("[red]no experiment files[/red] (.syn, .mpx, .nwb) under the given paths")
        raise SystemExit(1)
    exps = []
    failed = 0
    with _progress("read") as bar:
        tid = bar.add_task("read", total=len(files), item="")
        for f in files:
            bar.update(tid, item=f.name)
            try:
                exps.append(read_experiment(f))
            except PatchAtlasError as exc:
                failed += 1
                con.print(f"[red]failed[/red] {escape(str(f))}: {escape(str(exc))}")
            bar.advance(tid)
    with _progress("pairs") as bar:
        tid = bar.add_task("pairs", total=len(exps), item="")

        def tick(done: int, total: int, name: str) -> None:
            bar.update(tid, completed=done, item=name)

        pairs = pair_table(exps, analyze_sweeps=not calls_only, progress=tick)
    order = [c.strip() for c in classes.split(",")] if classes else None
    matrix = connectivity_matrix(pairs, by="class", classes=order)
    out_dir.mkdir(parents=True, exist_ok=True)
    matrix.to_csv(out_dir / "matrix.csv", index=False)
    bins = connectivity_by_distance(pairs, bin_um=bin_um)
    bins.to_csv(out_dir / "distance.csv", index=False)
    prof_rows = []
    fitted: dict[tuple[str, str], tuple[pd.DataFrame, Any]] = {}
    names = order or sorted(set(matrix["pre"]))
    for a in names:
        for b in names:
            sub = pairs[(pairs["pre_class"] == a) & (pairs["post_class"] == b)]
            sub = sub[sub["connected"].notna() & sub["distance_um"].notna()]
            if not len(sub):
                continue
            d = sub["distance_um"].to_numpy(float)
            y = sub["connected"].astype(bool).to_numpy()
            prof = fit_distance_profile(d, y)
            adj = distance_adjusted_connectivity(d, y, sigma=sigma)
            fitted[(a, b)] = (sub, prof)
            prof_rows.append({"pre": a, "post": b, "n_tested": len(sub),
                              "n_connected": int(y.sum()),
                              "p_max": prof.p_max, "p_max_ci_low": prof.ci_low,
                              "p_max_ci_high": prof.ci_high, "sigma_um": prof.sigma,
                              "median_distance_um": float(pd.Series(d).median()),
                              "median_connected_distance_um": float(pd.Series(d[y]).median())
                              if y.any() else math.nan,
                              f"adjusted_p_sigma{sigma:g}": adj["adjusted_probability"],
                              "adjusted_ci_low": adj["adjusted_ci_low"],
                              "adjusted_ci_high": adj["adjusted_ci_high"]})  # fmt: skip
    profiles = pd.DataFrame(prof_rows)
    profiles.to_csv(out_dir / "profiles.csv", index=False)
    shown = matrix.assign(
        probability=matrix["probability"].round(4),
        ci=[
            f"{lo:.4f}-{hi:.4f}" for lo, hi in zip(matrix["ci_low"], matrix["ci_high"], strict=True)
        ],
    )[["pre", "post", "n_connected", "n_tested", "probability", "ci"]]
    con.print(frame_table("connection probability (Clopper-Pearson 95 %)", shown.set_index("pre")))
    if len(profiles):
        adj_col = f"adjusted_p_sigma{sigma:g}"
        compact = pd.DataFrame(
            {
                "pre": profiles["pre"],
                "post": profiles["post"],
                "p_max [95% PL]": [
                    f"{a:.3f} [{b:.3f}, {c:.3f}]"
                    for a, b, c in zip(
                        profiles["p_max"],
                        profiles["p_max_ci_low"],
                        profiles["p_max_ci_high"],
                        strict=True,
                    )
                ],
                "sigma_um": profiles["sigma_um"].round(0),
                "median_um tested/conn": [
                    f"{a:.0f} / {b:.0f}" if b == b else f"{a:.0f} / -"
                    for a, b in zip(
                        profiles["median_distance_um"],
                        profiles["median_connected_distance_um"],
                        strict=True,
                    )
                ],
                f"p at 0 (sigma {sigma:g})": profiles[adj_col].round(3),
            }
        )
        con.print(frame_table("Gaussian distance profiles", compact.set_index("pre")))
    if figures:
        try:
            import matplotlib
        except ImportError:
            con.print("[yellow]no figures[/yellow]: matplotlib is missing (pip install "
                      "'patchatlas[plot]'), or pass --no-figures")  # fmt: skip
            figures = False
    if figures:
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from patchatlas.plot.synphys import plot_connectivity_matrix, plot_distance_profile

        fig, ax0 = plt.subplots(figsize=(1.6 * len(names) + 2.0, 1.4 * len(names) + 1.5))
        plot_connectivity_matrix(matrix, classes=order, ax=ax0)
        fig.tight_layout()
        fig.savefig(out_dir / "matrix.png", dpi=120)
        plt.close(fig)
        fig, ax = plt.subplots(figsize=(7, 4.5))
        drawn = False
        for (a, b), (sub, prof) in fitted.items():
            if not sub["connected"].astype(bool).any():
                continue
            plot_distance_profile(
                connectivity_by_distance(sub, bin_um=bin_um), profile=prof,
                label=f"{a}→{b}", ax=ax,
            )  # fmt: skip
            drawn = True
        if not drawn:
            plot_distance_profile(bins, label="all tested pairs", ax=ax)
        fig.tight_layout()
        fig.savefig(out_dir / "distance.png", dpi=120)
        plt.close(fig)
    con.print(f"wrote {out_dir}/matrix.csv, distance.csv, profiles.csv"
              + (", matrix.png, distance.png" if figures else ""))  # fmt: skip
    if failed:
        con.print(f"[red]{failed} of {len(files)} files failed[/red]")
        raise SystemExit(1)


@synphys.command("import-aisynphys")
@click.argument("database", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--atlas", "url", required=True, envvar="PATCHATLAS_ATLAS", help="Atlas URL.")
def import_aisynphys_cmd(database: Path, url: str) -> None:
    """Import an Allen Synaptic Physiology SQLite release (schema 22) into an atlas."""
    from patchatlas.atlas import Atlas
    from patchatlas.pipeline.synphys import import_aisynphys

    with Atlas(url) as atlas, _progress("import") as bar:
        tid = bar.add_task("import", total=None, item="")

        def tick(done: int, total: int) -> None:
            bar.update(tid, completed=done, total=total)

        n = import_aisynphys(database, atlas, progress=tick)
    console().print(f"imported {n} experiments into {url}")


@synphys.command()
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--sweeps", "sweeps_per_cell", type=int, default=10, show_default=True,
              help="Sweeps in which each cell is stimulated.")  # fmt: skip
def simulate(out: Path, seed: int, sweeps_per_cell: int) -> None:
    """Write a simulated multipatch experiment (OUT.mpx) and its ground truth (OUT.truth.csv)."""
    from patchatlas.datasets.demo_synphys import simulate_multipatch
    from patchatlas.io.multipatch import write_multipatch

    exp, truth = simulate_multipatch(seed=seed, sweeps_per_cell=sweeps_per_cell)
    path = write_multipatch(exp, out.with_suffix(".mpx"))
    truth.to_csv(out.with_suffix(".truth.csv"), index=False)
    console().print(f"wrote {path} ({len(exp.sweeps)} sweeps, {len(exp.cells)} cells) and "
                    f"{out.with_suffix('.truth.csv')}")  # fmt: skip
