"""``patchatlas glif``: simulate Allen GLIF configs and fit GLIF1–5 to recordings."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import click

from patchatlas.cli._util import console, table


@click.group()
def glif() -> None:
    """Generalized leaky integrate-and-fire models (Teeter et al. 2018, GLIF1–5)."""


def _stimulus(spec: str, dt: float) -> Any:
    """``step:AMP_pA:DUR_s`` (0.1 s of rest on each side) or a ``.npy`` file of pA at ``dt``."""
    import numpy as np

    if spec.startswith("step:"):
        parts = spec.split(":")
        try:
            amp, dur = float(parts[1]), float(parts[2])
        except (IndexError, ValueError):
            raise click.BadParameter(
                f"{spec!r}: use step:AMP_pA:DUR_s, e.g. step:150:1", param_hint="--stimulus"
            ) from None
        if not (dur > 0 and math.isfinite(amp)):
            raise click.BadParameter(f"{spec!r}: duration must be > 0 s", param_hint="--stimulus")
        pad = round(0.1 / dt)
        return np.concatenate([np.zeros(pad), np.full(round(dur / dt), amp), np.zeros(pad)])
    path = Path(spec)
    if path.suffix.lower() != ".npy" or not path.is_file():
        raise click.BadParameter(
            f"{spec!r} is neither step:AMP_pA:DUR_s nor an existing .npy file (pA per sample)",
            param_hint="--stimulus",
        )
    try:
        arr = np.load(path)
    except (OSError, ValueError) as exc:
        raise click.BadParameter(f"{spec}: cannot load ({exc})", param_hint="--stimulus") from exc
    return np.asarray(arr, dtype=float).ravel()


@glif.command("simulate")
@click.argument("config", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--stimulus", "stim", required=True, help="step:AMP_pA:DUR_s or FILE.npy (pA per sample)."
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Figure (.png/.pdf/.svg).",
)
@click.option("--dt", type=float, default=5e-5, show_default=True, help="Time step (s).")
@click.option(
    "--method",
    type=click.Choice(["exact", "euler"]),
    default="exact",
    show_default=True,
    help="exact exponential integration, or the Allen simulator's forward Euler.",
)
def simulate_cmd(config: Path, stim: str, out: Path | None, dt: float, method: str) -> None:
    """Simulate an Allen GLIF neuron_config.json under a current stimulus."""
    from patchatlas.io import read_glif_config
    from patchatlas.models.glif import GlifModel

    model = GlifModel.from_allen_config(read_glif_config(config), where=str(config))
    current = _stimulus(stim, dt)
    sim = model.simulate(current, dt, method=method)  # type: ignore[arg-type]
    dur = current.shape[0] * dt
    con = console()
    con.print(
        f"{model!r}\n{sim.n_spikes} spikes in {dur:g} s ({sim.n_spikes / dur:.1f} Hz), "
        f"method {method}, backend {sim.backend}"
        + (f"; {sim.n_bad_resets} resets above threshold" if sim.n_bad_resets else "")
    )
    if sim.n_spikes:
        first = ", ".join(f"{t * 1e3:.2f}" for t in sim.spike_times[:8])
        con.print(f"first spike times (ms): {first}{' ...' if sim.n_spikes > 8 else ''}")
    if out is not None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from patchatlas.plot.glif import plot_glif_trace, plot_raster

        fig, (a1, a2, a3) = plt.subplots(
            3, 1, figsize=(9, 5), sharex=True, gridspec_kw={"height_ratios": [3, 1, 0.6]}
        )
        plot_glif_trace(
            sim.t,
            sim.voltage,
            threshold=sim.threshold,
            ax=a1,
            title=f"{model.name} ({model.level_name})",
        )
        a2.plot(sim.t, current, color="k", lw=0.7)
        a2.set_ylabel("I (pA)")
        plot_raster([sim.spike_times], labels=["spikes"], ax=a3)
        fig.tight_layout()
        fig.savefig(out, dpi=110)
        plt.close(fig)
        con.print(f"wrote {out}")


@glif.command("fit")
@click.argument(
    "paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--levels", default="1,2,3,4,5", show_default=True, help="Comma-separated GLIF levels."
)
@click.option(
    "--out", type=click.Path(file_okay=False, path_type=Path), required=True, help="Output folder."
)
@click.option("--method", type=click.Choice(["exact", "euler"]), default="exact", show_default=True)
@click.option("--workers", type=int, default=1, show_default=True, help="Local worker processes.")
@click.option("--dask", default=None, help="Dask scheduler address or local:N.")
@click.option("--no-plots", is_flag=True, help="Skip the data-vs-model figures.")
def fit_cmd(
    paths: tuple[Path, ...],
    levels: str,
    out: Path,
    method: str,
    workers: int,
    dask: str | None,
    no_plots: bool,
) -> None:
    """Fit GLIF models to recordings (one cell per file); write configs, scores and figures.

    Per cell: OUT/CELL/GLIF<n>_neuron_config.json (Allen format), OUT/CELL/CELL_glif.png
    (held-out sweep: data vs every level, rasters); OUT/glif_scores.csv (train and held-out
    scores of every level and of a plain LIF).
    """
    import pandas as pd
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from patchatlas.atlas.records import CellFailure
    from patchatlas.io import write_glif_config
    from patchatlas.pipeline.glif import fit_files

    try:
        lv = tuple(sorted({int(x) for x in levels.split(",") if x.strip()}))
    except ValueError:
        raise click.BadParameter(f"{levels!r}: use e.g. 1,2,3,4,5", param_hint="--levels") from None
    if not lv or any(x not in (1, 2, 3, 4, 5) for x in lv):
        raise click.BadParameter(f"{levels!r}: levels are 1..5", param_hint="--levels")
    out.mkdir(parents=True, exist_ok=True)
    con = console()
    frames, failures, done = [], [], 0
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=con
    ) as bar:
        job = bar.add_task("fitting GLIF", total=len(paths))
        for name, res in fit_files(
            paths, params={"levels": lv, "method": method}, workers=workers, dask=dask
        ):
            bar.advance(job)
            if isinstance(res, CellFailure):
                failures.append(res)
                continue
            done += 1
            cell_dir = out / name
            cell_dir.mkdir(exist_ok=True)
            for level, model in res.models.items():
                write_glif_config(
                    model.to_allen_config(), cell_dir / f"GLIF{level}_neuron_config.json"
                )
            frames.append(res.scores.assign(cell=name))
            if not no_plots and res.models and (res.test_sweeps or res.train_sweeps):
                import matplotlib

                matplotlib.use("Agg")
                import matplotlib.pyplot as plt

                from patchatlas.plot.glif import plot_glif_fit

                fig = plot_glif_fit(res)
                fig.savefig(cell_dir / f"{name}_glif.png", dpi=100)
                plt.close(fig)
            for level, why in res.skipped.items():
                con.print(f"[yellow]{name}: GLIF{level} skipped[/]: {why}")
    if frames:
        scores = pd.concat(frames, ignore_index=True)
        cols = ["cell", "model", "split"] + [
            c for c in scores.columns if c not in ("cell", "model", "split")
        ]
        scores[cols].to_csv(out / "glif_scores.csv", index=False)
        test = scores[scores["split"] == "test"]
        rows = [
            [
                r.cell,
                r.model,
                r.n_spikes_data,
                r.n_spikes_model,
                r.count_relative,
                r.gamma_4ms,
                r.ev_10ms,
            ]
            for r in test.itertuples()
        ]
        con.print(
            table(
                "held-out sweeps",
                [
                    "cell",
                    "model",
                    "spikes data",
                    "spikes model",
                    "count err",
                    "Γ(4 ms)",
                    "EV(10 ms)",
                ],
                rows,
            )
        )
        con.print(f"wrote {out / 'glif_scores.csv'} and one folder per cell in {out}")
    for f in failures:
        con.print(f"[red]{f.name}[/]: {f.reason}")
    con.print(f"{len(paths)} files: {done} fitted, {len(failures)} failed")
    if failures:
        raise SystemExit(1)
