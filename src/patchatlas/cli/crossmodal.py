"""``patchatlas crossmodal``: expression → physiology benchmark, training and prediction."""

from __future__ import annotations

from pathlib import Path

import click

from patchatlas.cli._util import console

_DIR = click.Path(path_type=Path, exists=True, file_okay=False)


@click.group()
def crossmodal() -> None:
    """Predict each neuron's electrophysiology from its own expression (Patch-seq)."""


@crossmodal.command()
@click.option(
    "--data",
    "data_dir",
    type=_DIR,
    required=True,
    help="Patch-seq dataset folder (m1_scala2021, m1_scala2021_phys_temp, fuzik2016).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    required=True,
    help="Folder for results.csv, summary.md and figures/.",
)
@click.option("--repeats", type=int, default=5, show_default=True, help="CV repeats.")
@click.option("--folds", type=int, default=10, show_default=True, help="CV folds.")
@click.option(
    "--models",
    default="ridge,srrr",
    show_default=True,
    help="Comma-separated: ridge, srrr, enet, pca_ridge, gbm (first gets every regime).",
)
@click.option(
    "--scheme",
    type=click.Choice(["stratified", "held_out_type"]),
    default="stratified",
    show_default=True,
    help="Stratified K-fold by t-type, or GroupKFold by t-type.",
)
@click.option(
    "--held-out-type/--no-held-out-type",
    default=True,
    show_default=True,
    help="Also run one repeat of held-out-type CV (single-cell models).",
)
@click.option(
    "--n-genes",
    type=int,
    default=1000,
    show_default=True,
    help="Genes chosen in-fold (HVG) when the dataset is a full transcriptome.",
)
@click.option(
    "--gene-set",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    default=None,
    help="Restrict to the genes of this table (e.g. the HGNC ion-channel group 177 CSV; "
    "matched case-insensitively).",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--n-jobs", type=int, default=1, show_default=True, help="Parallel fold workers.")
@click.option("--figures/--no-figures", default=True, show_default=True)
def benchmark(
    data_dir: Path,
    out_dir: Path,
    repeats: int,
    folds: int,
    models: str,
    scheme: str,
    held_out_type: bool,
    n_genes: int,
    gene_set: Path | None,
    seed: int,
    n_jobs: int,
    figures: bool,
) -> None:
    """Cross-validated benchmark of regimes, models and baselines on one dataset."""
    from rich.progress import Progress

    from patchatlas.crossmodal import (
        benchmark_markdown,
        default_preprocess,
        prediction_table,
        run_benchmark,
    )
    from patchatlas.io.expression import read_gene_set, read_patchseq_dataset
    from patchatlas.io.results import write_results

    con = console()
    ds = read_patchseq_dataset(data_dir)
    genes = read_gene_set(gene_set) if gene_set is not None else None
    con.print(repr(ds))
    for rep in ds.reports:
        con.print(rep.summary(), markup=False)
    names = [m.strip() for m in models.split(",") if m.strip()]
    with Progress(console=con, transient=True) as bar:
        task = bar.add_task("folds", total=None)
        report = run_benchmark(
            ds,
            models=names,
            n_repeats=repeats,
            n_folds=folds,
            scheme=scheme,
            seed=seed,
            preprocess=default_preprocess(ds, n_genes=n_genes, genes=genes),
            held_out_type=held_out_type,
            n_jobs=n_jobs,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    text = benchmark_markdown(report)
    tables = {
        "results": report.scores[
            ["dataset", "regime", "model", "feature", "repeat", "r2", "r", "within_type_r2"]
        ],
        "summary": report.summary,
        "top_genes": report.top_genes,
    }
    if report.paired is not None:
        tables["paired_difference"] = report.paired["per_feature"]
    tables["predictions"] = prediction_table(report.result, cells=list(ds.ephys.index))
    figs = {}
    if figures:
        import matplotlib

        matplotlib.use("Agg")
        from patchatlas.plot.crossmodal import benchmark_figures

        figs = benchmark_figures(report)
    written = write_results(out_dir, tables=tables, texts={"summary.md": text}, figures=figs)
    con.print(report.summary.round(3).to_string(index=False), markup=False)
    con.print(f"wrote {len(written)} files to {out_dir}")


@crossmodal.command()
@click.option("--data", "data_dir", type=_DIR, required=True, help="Patch-seq dataset folder.")
@click.option(
    "--spec",
    default="single_cell:ridge",
    show_default=True,
    help="regime:model (e.g. single_cell:srrr, type_plus_residual:ridge).",
)
@click.option(
    "--out",
    "out_file",
    type=click.Path(path_type=Path),
    required=True,
    help="Model file to write (.joblib).",
)
@click.option("--n-genes", type=int, default=1000, show_default=True)
def train(data_dir: Path, spec: str, out_file: Path, n_genes: int) -> None:
    """Fit one model on all cells of a dataset and save it."""
    from patchatlas.crossmodal import default_preprocess, fit_model
    from patchatlas.io.expression import read_patchseq_dataset
    from patchatlas.io.modelfile import save_model

    ds = read_patchseq_dataset(data_dir)
    est, meta = fit_model(ds, spec, preprocess=default_preprocess(ds, n_genes=n_genes))
    save_model(out_file, est, meta)
    console().print(f"trained {spec} on {meta['n_cells']} cells of {meta['dataset']} → {out_file}")


@crossmodal.command()
@click.option(
    "--model",
    "model_file",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    required=True,
    help="Model file from `crossmodal train`.",
)
@click.option(
    "--expression",
    "expr_file",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    required=True,
    help="Raw counts: .h5ad, or CSV/TSV(.gz) genes × cells or cells × genes.",
)
@click.option(
    "--out",
    "out_file",
    type=click.Path(path_type=Path),
    default=None,
    help="CSV for the predictions (default: print them).",
)
def predict(model_file: Path, expr_file: Path, out_file: Path | None) -> None:
    """Apply a saved model to new expression data (CPM from total counts unless the h5ad has
    obs['library_size'])."""
    from patchatlas.crossmodal import apply_model
    from patchatlas.io.expression import read_expression
    from patchatlas.io.modelfile import load_model
    from patchatlas.io.results import write_results

    con = console()
    est, meta = load_model(model_file)
    adata = read_expression(expr_file)
    pred, missing = apply_model(est, meta, adata)
    if missing:
        con.print(
            f"[yellow]{len(missing)} of {len(meta['genes'])} model genes missing in "
            f"{expr_file.name} (set to 0): {', '.join(missing[:8])}"
            f"{' …' if len(missing) > 8 else ''}[/yellow]"
        )
    if out_file is None:
        con.print(pred.round(4).to_string(), markup=False)
    else:
        write_results(out_file.parent, texts={out_file.name: pred.to_csv(index_label="cell")})
        con.print(f"wrote predictions for {len(pred)} cells to {out_file}")


@crossmodal.command()
@click.option(
    "--data",
    "data_dir",
    type=_DIR,
    required=True,
    help="The patchseq data folder holding human_berg2021_L23_ephys_only, "
    "human_lee2023_gaba_ephys_only and v1_gouwens2020_ephys_only.",
)
@click.option("--out", "out_dir", type=click.Path(path_type=Path), required=True)
@click.option("--figures/--no-figures", default=True, show_default=True)
def species(data_dir: Path, out_dir: Path, figures: bool) -> None:
    """Descriptive human vs mouse comparison of AP kinetics and passive properties."""
    from patchatlas.crossmodal.species import compare_groups, species_markdown
    from patchatlas.io.results import write_results
    from patchatlas.io.species_tables import read_berg2021_species, read_lee2023_gouwens2020

    con = console()
    tables, caveats, raw = {}, {}, {}
    berg_dir = data_dir / "human_berg2021_L23_ephys_only"
    if berg_dir.is_dir():
        berg = read_berg2021_species(berg_dir)
        tables["L2/3 pyramidal cells (Berg 2021)"] = compare_groups(berg)
        caveats["L2/3 pyramidal cells (Berg 2021)"] = berg.attrs["caveat"]
        raw["berg2021_L23"] = berg
    lee_dir, gou_dir = (
        data_dir / "human_lee2023_gaba_ephys_only",
        data_dir / "v1_gouwens2020_ephys_only",
    )
    if lee_dir.is_dir() and gou_dir.is_dir():
        gaba = read_lee2023_gouwens2020(lee_dir, gou_dir)
        name = "Interneurons by subclass (Lee 2023 human vs Gouwens 2020 mouse)"
        tables[name] = compare_groups(gaba, by="subclass")
        caveats[name] = gaba.attrs["caveat"]
        raw["lee2023_gouwens2020_gaba"] = gaba
    if not tables:
        raise click.ClickException(f"no human/mouse ephys folders found in {data_dir}")
    figs = {}
    if figures:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from patchatlas.plot.crossmodal import plot_group_comparison

        for key, df in raw.items():
            feats = [
                f
                for f in (
                    "ap_width_ms",
                    "upstroke_downstroke_ratio",
                    "input_resistance_mohm",
                    "tau_ms",
                    "sag",
                    "rheobase_pa",
                )
                if f in df.columns
            ]
            fig, axes = plt.subplots(1, len(feats), figsize=(2.6 * len(feats), 3.2))
            for ax, f in zip(axes, feats, strict=True):
                plot_group_comparison(df, f, ax=ax)
            fig.tight_layout()
            figs[key] = fig
    text = species_markdown(tables, caveats=caveats)
    out_tables = {f"species_{i}": t for i, t in enumerate(tables.values())}
    written = write_results(out_dir, tables=out_tables, texts={"species.md": text}, figures=figs)
    con.print(text, markup=False)
    con.print(f"wrote {len(written)} files to {out_dir}")
