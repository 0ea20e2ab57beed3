"""The ``patchatlas demo`` workflow, as a library function the CLI renders.

:func:`run_demo` runs the demo steps in order and hands each step's result to a ``report``
callback as soon as it is ready, so the command line can print while the demo goes on:

1. ``dataset`` — simulate a few conductance-based cells of different firing types driven by
   Allen-style long-square, short-square and ramp protocols, and write one NWB 2 file per cell
   (or, with ``data_dir``, take the real recordings found there);
2. ``recordings`` — read every file back through :func:`patchatlas.read` (the same path a user's
   files take) and report its sweep table;
3. ``ephys`` — the Allen cell-level features of every recording (a table, one row per cell), and
   per cell a figure of its f-I curve and of its hero sweep with the detected spikes and the
   first-spike phase plot (``figures/``);
4. ``morphology`` — synthetic pyramidal and interneuron reconstructions written as SWC, read back,
   validated, their Allen whole-cell features and a 2-D render each;
5. ``atlas`` — a SQLite atlas (``atlas.db``) built by the ingest pipeline from a manifest that
   pairs each simulated recording with a reconstruction and its annotations, so the atlas holds
   recordings, sweeps, spike/sweep/cell features, morphologies and their features;
6. ``crossmodal`` — a small expression → physiology benchmark: a synthetic Patch-seq cohort (each
   simulated cell is a "t-type"; 30 cells per type with ±10 % within-type variation of its
   features, and counts generated from those features) run through the same in-fold pipeline as
   the real M1 benchmark (single-cell and type-average ridge, t-type lookup baseline, within-type
   R²). The data are synthetic by construction; the step shows the workflow, not a finding;
7. ``biophys`` — a ball-and-stick biophysical model (four conductances) fitted to the first cell's
   long squares by a few NSGA-II generations on Arbor, stored in the atlas
   (:mod:`patchatlas.datasets.demo_biophys`).
8. ``glif`` — GLIF1–5 fitted to two of the cells (:mod:`patchatlas.datasets.demo_glif`), held-out
   scores next to a plain LIF, data-vs-model figures, models stored in the atlas.
9. ``synphys`` — a simulated multipatch experiment with known synapses (Tsodyks–Markram
   dynamics, noise) written as a ``.mpx`` file, ingested into the atlas by the ``synphys`` engine
   and compared with the truth (:mod:`patchatlas.datasets.demo_synphys`).
10. ``celltyping`` — t-types predicted from ephys by cross-validated
    :class:`~patchatlas.celltyping.TTypeClassifier` against majority and shuffled baselines, and
    unsupervised e-types (chosen by BIC) compared with the t-types (ARI, AMI), on a synthetic
    cohort built around the demo cells; the demo cells' own t- and e-types are stored in the atlas
    for the portal's Cell types page (:mod:`patchatlas.datasets.demo_celltyping`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from patchatlas.core.recording import Recording
from patchatlas.datasets.demo_biophys import biophys_step
from patchatlas.datasets.demo_synphys import synphys_step
from patchatlas.errors import PatchAtlasError

__all__ = ["DEMO_STEPS", "DemoResult", "Step", "run_demo"]

log = logging.getLogger("patchatlas.demo")

EPHYS_EXTENSIONS = (".nwb", ".abf", ".ibw")


@dataclass
class Step:
    """One finished demo step: its name, a one-line summary, its payload, and whether it worked.

    A step that failed has ``ok=False`` and ``error`` saying why (the demo goes on with the
    steps that do not need it, and ``patchatlas demo`` exits non-zero).
    """

    name: str
    summary: str
    payload: Any = None
    ok: bool = True
    error: str = ""
    tables: list[tuple[str, Any]] = field(default_factory=list)  # (title, DataFrame) to show


@dataclass
class DemoResult:
    """Everything the demo produced."""

    out_dir: Path
    files: list[Path] = field(default_factory=list)
    recordings: list[Recording] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    cell_features: Any = None  # pandas DataFrame, one row per recording
    crossmodal: Any = None  # pandas DataFrame: the benchmark summary, one row per regime/model
    morphology_features: Any = None  # pandas DataFrame, one row per reconstruction
    figures: list[Path] = field(default_factory=list)
    morphology_files: list[Path] = field(default_factory=list)
    atlas_url: str | None = None
    atlas_summary: dict[str, Any] = field(default_factory=dict)
    analyses: list[Any] = field(default_factory=list)  # one EphysResult per recording

    @property
    def failed_steps(self) -> list[Step]:
        """The steps that did not work."""
        return [s for s in self.steps if not s.ok]

    @property
    def ok(self) -> bool:
        """True when every step worked."""
        return not self.failed_steps


def _ephys_files(data_dir: Path) -> list[Path]:
    return sorted(p for p in data_dir.rglob("*") if p.suffix.lower() in EPHYS_EXTENSIONS)


def run_demo(
    out_dir: str | Path,
    *,
    data_dir: str | Path | None = None,
    n_cells: int = 4,
    seed: int = 0,
    report: Callable[[Step], None] | None = None,
) -> DemoResult:
    """Run the demo end to end, offline.

    Parameters
    ----------
    out_dir
        Folder for the generated files (created; existing demo files are overwritten).
    data_dir
        Use the real recordings (``.nwb``, ``.abf``, ``.ibw``) found under this folder instead of
        simulating a dataset.
    n_cells, seed
        Size and seed of the simulated dataset.
    report
        Called with each :class:`Step` as soon as it finishes.

    Returns
    -------
    DemoResult
        Every step's outcome; ``result.ok`` is False when a step failed (its ``error`` says
        why). Paths in it (and in the manifest the atlas step writes) are absolute.
    """
    from patchatlas.reading import read as read_file

    out = Path(out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    result = DemoResult(out_dir=out)

    def done(step: Step) -> None:
        result.steps.append(step)
        if report is not None:
            report(step)

    if data_dir is None:
        from patchatlas.datasets.simulate import demo_dataset
        from patchatlas.io import write_nwb

        cells = demo_dataset(n_cells=n_cells, seed=seed)
        nwb_dir = out / "nwb"
        nwb_dir.mkdir(exist_ok=True)
        for rec in cells:
            path = nwb_dir / f"{rec.cell_id}.nwb"
            write_nwb(rec, path, overwrite=True)
            result.files.append(path)
        n_sweeps = sum(len(r) for r in cells)
        done(
            Step(
                "dataset",
                f"simulated {len(cells)} cells ({n_sweeps} sweeps) and wrote NWB 2 files to "
                f"{nwb_dir}",
                list(result.files),
            )
        )
    else:
        result.files = _ephys_files(Path(data_dir).resolve())
        done(
            Step("dataset", f"found {len(result.files)} recordings under {data_dir}", result.files)
        )

    for path in result.files:
        try:
            rec = read_file(path)
        except PatchAtlasError as exc:
            result.failed.append((path, str(exc)))
            log.warning("skipped %s", exc)
            continue
        result.recordings.append(rec)
    n_bad = len(result.failed)
    done(
        Step(
            "recordings",
            f"read back {len(result.recordings)} recordings"
            + (f", {n_bad} failed" if n_bad else ""),
            list(result.recordings),
            ok=n_bad == 0 and bool(result.recordings),
            error=(
                f"{n_bad} of {len(result.files)} files could not be read"
                if n_bad
                else ("no recordings found" if not result.recordings else "")
            ),
        )
    )
    for name, step in DEMO_STEPS:
        try:
            step(result, done, seed)
        except PatchAtlasError as exc:  # bad data in a step: report it, go on with the others
            done(Step(name, f"failed: {exc}", None, ok=False, error=str(exc)))
    return result


# Columns of the printed cell feature table (all are in the returned DataFrame).
EPHYS_COLUMNS = (
    "vrest",
    "ri",
    "tau",
    "sag",
    "threshold_i_long_square",
    "f_i_curve_slope",
    "adaptation",
    "avg_isi",
    "threshold_v_long_square",
    "upstroke_downstroke_ratio_long_square",
    "width_long_square",
)


MORPH_COLUMNS = (
    "issues",
    "total_length",
    "number_bifurcations",
    "number_branches",
    "max_branch_order",
    "max_euclidean_distance",
    "average_contraction",
    "soma_surface",
)


def _display_sweep(res: Any, fallback: int) -> Any:
    """The sweep the demo figure shows: the hero (thumbnail) sweep, else the rheobase sweep,
    else ``fallback``."""
    import math

    for key in ("thumbnail_sweep_num", "rheobase_sweep_num"):
        n = res.cell.get(key, math.nan)
        if math.isfinite(n) and res.sweep(int(n)).ok:
            return res.sweep(int(n))
    return res.sweep(fallback)


def _ephys_step(result: DemoResult, done: Callable[[Step], None], seed: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    from patchatlas.ephys import analyze
    from patchatlas.plot.ephys import plot_fi_curve, plot_phase, plot_sweep

    fig_dir = result.out_dir / "figures"
    fig_dir.mkdir(exist_ok=True)
    rows = []
    for rec in result.recordings:
        res = analyze(rec)  # the one analysis: the table, the figures and the atlas agree
        result.analyses.append(res)
        rows.append({"cell_id": rec.cell_id, **res.cell})
        fi = res.fi_curve()
        if fi.empty:
            continue
        fig, (a1, a2, a3) = plt.subplots(
            1, 3, figsize=(14, 3.4), gridspec_kw={"width_ratios": [1.1, 3, 1]}
        )
        plot_fi_curve(
            fi["amplitude_pa"].to_numpy(),
            fi["avg_rate"].to_numpy(),
            slope=res.cell.get("f_i_curve_slope"),
            ax=a1,
        )
        a1.set_title(f"{rec.cell_id}: f-I", fontsize=9)
        sa = _display_sweep(res, int(fi["sweep_number"].iloc[-1]))
        sweep = sa.sweep
        assert sa.spikes is not None
        plot_sweep(
            sweep.t,
            sweep.v,
            sa.spikes,
            window=(sweep.stimulus.start, sweep.stimulus.end),
            ax=a2,
            title=f"sweep {sweep.number}: {sweep.stimulus.amplitude:g} pA (hero sweep)",
        )
        plot_phase(sweep.t, sweep.v, sa.spikes, ax=a3)
        a3.set_title("first spike", fontsize=9)
        fig.tight_layout()
        path = fig_dir / f"{rec.cell_id}_ephys.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        result.figures.append(path)
    table = pd.DataFrame(rows).set_index("cell_id") if rows else pd.DataFrame()
    result.cell_features = table
    done(
        Step(
            "ephys",
            f"Allen cell features of {len(rows)} recordings (patchatlas.ephys.analyze); f-I and "
            f"spike figures in {fig_dir}",
            table,
            ok=bool(rows),
            error="" if rows else "no recording to analyse",
            tables=[
                (
                    "cell features (Allen names)",
                    table[[c for c in EPHYS_COLUMNS if c in table.columns]].T.rename_axis(
                        "feature"
                    ),
                )
            ]
            if rows
            else [],
        )
    )


def _morphology_step(result: DemoResult, done: Callable[[Step], None], seed: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    import patchatlas.morphology as morph
    from patchatlas.datasets.morphology import write_demo_morphologies
    from patchatlas.io import read_morphology
    from patchatlas.plot.morphology import plot_morphology

    swc_dir = result.out_dir / "morphology"
    paths = write_demo_morphologies(swc_dir, n=2, seed=seed)
    result.morphology_files = list(paths)
    rows = []
    fig, axes = plt.subplots(1, len(paths), figsize=(3.2 * len(paths), 4.2))
    for ax, path in zip(axes, paths, strict=True):
        m = read_morphology(path)
        report = morph.validate(m)
        rows.append(
            {
                "cell": path.stem,
                "issues": len(report),
                **morph.features(m, convention="allen"),
            }
        )
        plot_morphology(m, ax=ax)
        ax.set_title(path.stem, fontsize=9)
    fig.tight_layout()
    render = result.out_dir / "figures" / "morphologies.png"
    render.parent.mkdir(exist_ok=True)
    fig.savefig(render, dpi=110)
    plt.close(fig)
    result.figures.append(render)
    table = pd.DataFrame(rows).set_index("cell")
    result.morphology_features = table
    done(
        Step(
            "morphology",
            f"{len(paths)} synthetic reconstructions (SWC in {swc_dir}): Allen features and a "
            f"render in {render}",
            table,
            tables=[
                (
                    "morphology features (Allen names)",
                    table[[c for c in MORPH_COLUMNS if c in table.columns]].T.rename_axis(
                        "feature"
                    ),
                )
            ],
        )
    )


def demo_summary(steps: Sequence[Step]) -> str:
    """One line per step, for logs."""
    return "\n".join(f"{s.name}: {s.summary}" for s in steps)


# Features the synthetic expression is generated from (cell-level, present for spiking cells).
CROSSMODAL_FEATURES = (
    "vrest",
    "ri",
    "tau",
    "sag",
    "f_i_curve_slope",
    "threshold_v_long_square",
    "upstroke_downstroke_ratio_long_square",
    "width_long_square",
)


def _atlas_step(result: DemoResult, done: Callable[[Step], None], seed: int) -> None:
    import csv

    from patchatlas.atlas import Atlas
    from patchatlas.pipeline import ingest

    pyramidal = [p for p in result.morphology_files if p.stem.startswith("pyramidal")]
    interneuron = [p for p in result.morphology_files if p.stem.startswith("interneuron")]
    manifest = result.out_dir / "manifest.csv"
    with manifest.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["cell_id", "file", "morphology", "species", "t_type", "dendrite_type"])
        for k, rec in enumerate(result.recordings):
            if rec.source is None:
                continue
            spiny = "pyramidal" in rec.cell_id
            pool = pyramidal if spiny else interneuron
            morph = str(pool[k % len(pool)].resolve()) if pool else ""
            model = str(rec.metadata.get("model", rec.cell_id))
            species = str(rec.metadata.get("species", ""))
            w.writerow(
                [
                    rec.cell_id,
                    str(Path(rec.source).resolve()),
                    morph,
                    species,
                    model,
                    "spiny" if spiny else "aspiny",
                ]
            )
    url = f"sqlite:///{(result.out_dir / 'atlas.db').resolve()}"
    Atlas(url, mode="w").close()  # a fresh atlas each run
    summary = ingest(manifest, url, recompute=True)
    info = Atlas(url, mode="r").summary()
    result.atlas_url = url
    result.atlas_summary = info
    reasons = "; ".join(f"{f.name}: {f.reason}" for f in summary.failures[:3])
    done(
        Step(
            "atlas",
            f"ingested {summary.done} of {summary.total} cells into {url}"
            + (f" ({summary.failed} failed: {reasons})" if summary.failed else ""),
            info["counts"],
            ok=summary.failed == 0 and summary.done > 0,
            error=(
                f"{summary.failed} of {summary.total} cells failed to ingest: {reasons}"
                if summary.failed
                else ("no cell was ingested" if summary.done == 0 else "")
            ),
            tables=[("atlas tables (rows)", _counts_frame(info["counts"]))],
        )
    )


def _counts_frame(counts: dict[str, int]) -> Any:
    import pandas as pd

    nonzero = {k: v for k, v in counts.items() if v}
    return pd.DataFrame([nonzero], index=["rows"])


def _crossmodal_step(result: DemoResult, done: Callable[[Step], None], seed: int) -> None:
    import numpy as np
    import pandas as pd

    from patchatlas.crossmodal import run_benchmark
    from patchatlas.datasets import synthetic_patchseq

    feats = result.cell_features
    cols = [c for c in CROSSMODAL_FEATURES if feats is not None and c in feats.columns]
    base = feats[cols].astype(float).dropna(axis=1) if cols else pd.DataFrame()
    if len(base) < 2 or base.shape[1] < 2:
        done(Step("crossmodal", "skipped: needs at least 2 cells with features", None))
        return
    rng = np.random.default_rng(seed)
    per_type = 30
    values = np.repeat(base.to_numpy(), per_type, axis=0)
    values = values * (1.0 + 0.1 * rng.standard_normal(values.shape))
    types = np.repeat([str(c) for c in base.index], per_type)
    cohort = pd.DataFrame(
        values, columns=base.columns, index=[f"cell_{k:03d}" for k in range(len(values))]
    )
    ds = synthetic_patchseq(cohort, seed, types=types)
    report = run_benchmark(
        ds,
        specs=["single_cell:ridge", "type_average:ridge", "type_lookup", "global_mean"],
        n_repeats=1,
        n_folds=5,
        seed=seed,
        n_boot=200,
    )
    summary = report.summary
    result.crossmodal = summary
    if result.atlas_url:
        # so the portal's expression → physiology page shows the demo run
        from patchatlas.atlas import Atlas

        with Atlas(result.atlas_url) as atlas:
            atlas.store_crossmodal(report, cells=list(cohort.index), name="demo")
    done(
        Step(
            "crossmodal",
            f"expression → physiology on a synthetic cohort of {report.n_cells} cells, "
            f"{report.n_genes} genes, {report.n_types} types (5-fold CV, preprocessing in-fold)",
            summary,
            tables=[
                (
                    "mean R² over features",
                    summary[
                        [c for c in ("regime", "model", "r2", "within_type_r2") if c in summary]
                    ].set_index("regime"),
                )
            ],
        )
    )


StepFn = Callable[[DemoResult, Callable[[Step], None], int], None]

from patchatlas.datasets.demo_celltyping import celltyping_step  # noqa: E402  (imports Step lazily)
from patchatlas.datasets.demo_glif import glif_step  # noqa: E402  (its module imports Step lazily)

#: the demo's steps after reading the recordings, in order: ``(name, step(result, done, seed))``.
#: A step reports itself with ``done(Step(...))`` (``tables`` are printed by the CLI) and adds
#: what later steps need to ``result``; an engine adds its own step here, in its own function.
DEMO_STEPS: list[tuple[str, StepFn]] = [
    ("ephys", _ephys_step),
    ("morphology", _morphology_step),
    ("atlas", _atlas_step),
    ("crossmodal", _crossmodal_step),
    ("biophys", biophys_step),
    ("glif", glif_step),
    ("synphys", synphys_step),
    ("celltyping", celltyping_step),
]
