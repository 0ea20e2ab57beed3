"""``patchatlas celltypes``: t-type mapping and Patch-seq QC, e-/m-/me-types, t-type prediction
from physiology and morphology, cross-species transfer."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from patchatlas.cli._util import console

_OUT = click.Path(path_type=Path)


@click.group()
def celltypes() -> None:
    """Cell types: map transcriptomes, find e/m/me-types, predict t-types from physiology."""


@contextmanager
def _progress(what: str) -> Iterator[Callable[[int, int], None]]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console(),
        transient=True,
    ) as bar:
        task = bar.add_task(what, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


def _figures(enabled: bool) -> Any:
    if not enabled:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _store(
    atlas_url: str | None, assignments: Any, **run: Any
) -> None:  # one library call: the atlas reports unknown cells
    if atlas_url is None:
        return
    from patchatlas.atlas import Atlas

    with Atlas(atlas_url, mode="a") as atlas:
        res = atlas.store_cell_types(assignments, **run)
    msg = f"stored run {run['name']!r}: {res['n_stored']} cells"
    if res["n_unknown"]:
        msg += f" ({res['n_unknown']} not in the atlas, e.g. {', '.join(res['unknown'][:3])})"
    console().print(msg, markup=False)


# --------------------------------------------------------------------------------- predict


@celltypes.command("predict-ttype")
@click.option(
    "--data",
    "source",
    required=True,
    help="Published dataset folder (v1_gouwens2020_ephys_only, m1_scala2021, ...), a CSV of "
    "features with t_type/subclass columns, or an atlas URL.",
)
@click.option(
    "--level",
    type=click.Choice(["family", "subclass", "type"]),
    default="subclass",
    show_default=True,
)
@click.option("--out", "out_dir", type=_OUT, required=True, help="Output folder.")
@click.option(
    "--features",
    type=click.Choice(["ephys", "morph", "ephys+morph"]),
    default="ephys",
    show_default=True,
)
@click.option("--repeats", type=int, default=5, show_default=True, help="CV repeats.")
@click.option("--folds", type=int, default=5, show_default=True, help="CV folds.")
@click.option("--min-cells", type=int, default=20, show_default=True, help="Smallest class.")
@click.option(
    "--model",
    type=click.Choice(["svm", "logistic", "forest"]),
    default="svm",
    show_default=True,
    help="TTypeClassifier model.",
)
@click.option(
    "--shuffled-repeats",
    type=int,
    default=1,
    show_default=True,
    help="Repeats also run on shuffled labels (baseline).",
)
@click.option(
    "--reference-forest/--no-reference-forest",
    default=True,
    show_default=True,
    help="Also run a plain class-balanced random forest.",
)
@click.option(
    "--embedding",
    type=click.Choice(["pca", "lda", "tsne"]),
    default="lda",
    show_default=True,
    help="2-D embedding of the figure.",
)
@click.option("--n-jobs", type=int, default=1, show_default=True, help="Parallel fold workers.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--figures/--no-figures", default=True, show_default=True)
@click.option("--atlas", "atlas_url", default=None, help="Store the typing in this atlas.")
@click.option("--name", default=None, help="Run name in the atlas.")
def predict_ttype(
    source: str,
    level: str,
    out_dir: Path,
    features: str,
    repeats: int,
    folds: int,
    min_cells: int,
    model: str,
    shuffled_repeats: int,
    reference_forest: bool,
    embedding: str,
    n_jobs: int,
    seed: int,
    figures: bool,
    atlas_url: str | None,
    name: str | None,
) -> None:
    """Predict t-types from physiology (and morphology): repeated stratified CV with
    majority-class, shuffled-label and random-forest baselines."""
    import numpy as np
    import pandas as pd

    from patchatlas.celltyping import (
        TTypeClassifier,
        embed,
        predict_ttypes,
        prediction_markdown,
    )
    from patchatlas.datasets.celltyping import describe, load_typing_data
    from patchatlas.io.results import write_results

    con = console()
    data = load_typing_data(source, features=features)
    d = describe(data)
    con.print(
        f"{d['name']}: {d['n_cells']} cells × {d['n_features']} {features} features; "
        f"{d['labelled'][level]} with a {level} label",
        markup=False,
    )
    labels = data.labels(level)
    est = TTypeClassifier(model=model, random_state=seed)
    with _progress(f"{repeats}×{folds}-fold CV") as tick:
        res = predict_ttypes(
            data.X,
            labels.to_numpy(),
            level=level,
            estimator=est,
            n_repeats=repeats,
            n_folds=folds,
            min_cells=min_cells,
            shuffled_repeats=shuffled_repeats,
            reference=reference_forest,
            seed=seed,
            n_jobs=n_jobs,
            progress=tick,
        )
    # the model fitted on all evaluated cells: its recorded preprocessing, and the predictions of
    # cells without a usable label
    final = TTypeClassifier(model=model, random_state=seed).fit(data.X.loc[res.cells], res.labels)
    text = prediction_markdown(res, title=f"{level} ({d['name']}, {features})")
    text += (
        f"\nFinal model (all {len(res.cells)} cells): C = {final.C_:g}, temperature "
        f"{final.temperature_:.3g}; per-feature preprocessing in scaling.csv.\n"
    )
    tables = {
        "scaling": final.preparer_.scaling_table(),
        "metrics": res.scores,
        "summary": res.summary,
        "differences": res.differences,
        "confusion": res.confusion.reset_index(),
        "per_class": res.per_class,
        "calibration": res.calibration,
        "predictions": res.predictions,
    }
    figs = {}
    plt = _figures(figures)
    if plt is not None:
        from patchatlas.plot.celltyping import (
            plot_calibration,
            plot_confusion,
            plot_embedding,
            plot_model_scores,
        )

        ev = data.X.loc[res.cells]
        fig, ax = plt.subplots(figsize=(1.5 + 0.6 * len(res.classes), 1.0 + 0.5 * len(res.classes)))
        plot_confusion(res.confusion, ax=ax, title=f"{level}: row-normalised, {repeats} repeats")
        fig.tight_layout()
        figs["confusion"] = fig
        xy = embed(ev, method=embedding, labels=res.labels, random_state=seed)
        fig, ax = plt.subplots(figsize=(7, 5.5))
        plot_embedding(
            xy,
            res.labels,
            ax=ax,
            title=f"{d['name']} {features} features ({embedding.upper()}), coloured by {level}",
            xlabel=f"{embedding.upper()} 1",
            ylabel=f"{embedding.upper()} 2",
        )
        fig.tight_layout()
        figs["embedding"] = fig
        fig, ax = plt.subplots(figsize=(6, 3.8))
        plot_model_scores(res.summary, ax=ax, title="balanced accuracy (95 % CI)")
        fig.tight_layout()
        figs["scores"] = fig
        fig, ax = plt.subplots(figsize=(4.5, 4))
        plot_calibration(res.calibration, ax=ax, title="calibration")
        fig.tight_layout()
        figs["calibration"] = fig
    written = write_results(out_dir, tables=tables, texts={"summary.md": text}, figures=figs)
    con.print(text, markup=False)
    con.print(f"wrote {len(written)} files to {out_dir}")
    if atlas_url is not None:
        p0 = res.predictions
        oof = p0[(p0["model"] == "classifier") & (p0["repeat"] == 0)]
        assign = pd.DataFrame(
            {"cell": oof["cell"], "label": oof["predicted"], "confidence": oof["confidence"]}
        )
        # cells without a label (or of a class too small to evaluate): a model fitted on all
        # evaluated cells predicts them
        rest = data.X.index.difference(pd.Index(res.cells))
        if len(rest):
            proba = final.predict_proba(data.X.loc[rest])
            assign = pd.concat(
                [
                    assign,
                    pd.DataFrame(
                        {
                            "cell": rest,
                            "label": final.classes_[proba.argmax(axis=1)],
                            "confidence": proba.max(axis=1),
                        }
                    ),
                ],
                ignore_index=True,
            )
        clf = res.summary[res.summary["model"] == "classifier"].set_index("metric")
        _store(
            atlas_url,
            assign,
            name=name or f"{d['name']}:{level}:predicted-from-{features}",
            kind="t",
            level=level,
            method=f"ttype_classifier ({features})",
            model=res.provenance,
            scores={
                m: {k: float(clf.loc[m, k]) for k in ("mean", "ci_low", "ci_high")}
                for m in clf.index
            },
            parameters={
                "out_of_fold": "labelled cells: out-of-fold predictions of CV repeat 0",
                "unlabelled": len(rest),
                "baselines": {
                    m: float(np.round(res.metric(m), 4))
                    for m in ("majority", "shuffled", "reference_forest")
                },
            },
            source=f"patchatlas celltypes predict-ttype --data {source}",
        )


# ---------------------------------------------------------------------------------- map


def _read_adata(path: str) -> Any:
    from patchatlas.io.expression import read_expression, read_patchseq_dataset

    p = Path(path)
    if p.is_dir():
        return read_patchseq_dataset(p).adata
    return read_expression(p)


@celltypes.command("map-ttype")
@click.option(
    "--reference",
    required=True,
    help="Reference taxonomy: .h5ad with type labels in obs, or a Patch-seq dataset folder.",
)
@click.option(
    "--query",
    default=None,
    help="Cells to map (.h5ad, counts table or dataset folder). Without it, the reference "
    "is cross-validated: each fold is mapped onto the confident cells of the other folds.",
)
@click.option("--out", "out_dir", type=_OUT, required=True, help="Output folder.")
@click.option("--label-key", default="t_type", show_default=True, help="Type column (obs).")
@click.option("--family-key", default="family", show_default=True, help="Family column (obs).")
@click.option(
    "--confidence-key",
    default=None,
    help="Published confidence column (obs) for choosing reference cells in cross-validation.",
)
@click.option("--min-confidence", type=float, default=0.7, show_default=True)
@click.option("--folds", type=int, default=5, show_default=True)
@click.option("--n-markers", type=int, default=30, show_default=True, help="Markers per type.")
@click.option("--n-bootstrap", type=int, default=100, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--qc/--no-qc", default=True, show_default=True, help="Patch-seq QC scores.")
@click.option("--figures/--no-figures", default=True, show_default=True)
@click.option("--atlas", "atlas_url", default=None, help="Store the mapped types here.")
@click.option("--name", default=None, help="Run name in the atlas.")
def map_ttype(
    reference: str,
    query: str | None,
    out_dir: Path,
    label_key: str,
    family_key: str,
    confidence_key: str | None,
    min_confidence: float,
    folds: int,
    n_markers: int,
    n_bootstrap: int,
    seed: int,
    qc: bool,
    figures: bool,
    atlas_url: str | None,
    name: str | None,
) -> None:
    """Map Patch-seq transcriptomes onto a reference taxonomy (nearest centroid by correlation
    on marker genes, bootstrap confidence), with Patch-seq QC by normalised marker sums."""
    import numpy as np
    import pandas as pd

    from patchatlas.celltyping import (
        cross_validate_mapping,
        log_cpm,
        map_ttypes,
        patchseq_qc,
    )
    from patchatlas.io.results import write_results

    con = console()
    ref = _read_adata(reference)
    con.print(f"reference: {ref.n_obs} cells × {ref.n_vars} genes", markup=False)
    tables: dict[str, pd.DataFrame] = {}
    lines = ["# t-type mapping", ""]
    figs = {}
    lib = "library_size" if "library_size" in ref.obs.columns else None
    if query is None:
        with _progress(f"{folds}-fold mapping") as tick:
            val = cross_validate_mapping(
                ref,
                label_key=label_key,
                family_key=family_key,
                confidence_key=confidence_key,
                min_confidence=min_confidence,
                library_key=lib,
                n_folds=folds,
                n_markers=n_markers,
                n_bootstrap=n_bootstrap,
                seed=seed,
                progress=tick,
            )
        mapped = val.cells
        tables["agreement"] = val.agreement
        tables["calibration"] = val.calibration
        lines.append(
            f"Cross-validated on {len(mapped)} cells ({folds} folds): each fold mapped onto the "
            f"cells of the other folds with published confidence ≥ {min_confidence} "
            f"(reference sizes {val.provenance['reference_sizes']})."
        )
        lines += ["", "| level | cells | agreement (95 % CI) | balanced accuracy (95 % CI) |"]
        lines.append("|---|---|---|---|")
        for r in val.agreement.to_dict("records"):
            lines.append(
                f"| {r['level']} ({r['subset']}) | {r['n']} | {r['accuracy']:.3f} "
                f"({r['ci_low']:.3f}–{r['ci_high']:.3f}) | {r['balanced_accuracy']:.3f} "
                f"({r['balanced_ci_low']:.3f}–{r['balanced_ci_high']:.3f}) |"
            )
        lines += ["", "Agreement by mapping confidence (calibration):", ""]
        for r in val.calibration.to_dict("records"):
            lines.append(
                f"- {r['level']}: confidence {r['bin_low']:.2f}–{min(r['bin_high'], 1):.2f} "
                f"(n={r['n']}): {r['accuracy']:.3f} ({r['ci_low']:.3f}–{r['ci_high']:.3f})"
            )
        plt = _figures(figures)
        if plt is not None:
            from patchatlas.plot.celltyping import plot_calibration

            fig, ax = plt.subplots(figsize=(4.5, 4))
            plot_calibration(val.calibration, ax=ax, title="mapping calibration")
            fig.tight_layout()
            figs["calibration"] = fig
        qcells = ref
    else:
        qcells = _read_adata(query)
        with _progress("mapping") as tick:
            res = map_ttypes(
                qcells,
                ref,
                label_key=label_key,
                family_key=family_key if family_key in ref.obs.columns else None,
                library_key=lib,
                n_markers=n_markers,
                n_bootstrap=n_bootstrap,
                random_state=seed,
            )
            tick(1, 1)
        mapped = res.table
        tables["markers"] = pd.DataFrame({"gene": res.markers})
        lines.append(f"{res!r}")
    tables["mapping"] = mapped.reset_index()
    if qc and family_key in ref.obs.columns and "family" in mapped.columns:
        fams = ref.obs[family_key].astype(str).to_numpy()
        conf_ok = np.ones(ref.n_obs, dtype=bool)
        if confidence_key is not None and confidence_key in ref.obs.columns:
            c = pd.to_numeric(ref.obs[confidence_key], errors="coerce").fillna(0).to_numpy()
            conf_ok = c >= min_confidence
        rx = log_cpm(ref.X, library_size=ref.obs[lib].to_numpy(float) if lib else None)
        qlib = "library_size" if "library_size" in qcells.obs.columns else None
        qx = log_cpm(qcells.X, library_size=qcells.obs[qlib].to_numpy(float) if qlib else None)
        cells = list(qcells.obs_names.astype(str))
        q = patchseq_qc(
            qx,
            list(qcells.var_names.astype(str)),
            mapped.loc[cells, "family"].astype(str).to_numpy(),
            rx[conf_ok],
            list(ref.var_names.astype(str)),
            fams[conf_ok],
            cells=cells,
        )
        tables["qc"] = q.scores.join(q.nms.add_prefix("nms: ")).reset_index()
        lines += [
            "",
            "Patch-seq QC (normalised marker sums, Tripathy et al. 2018): median contamination "
            f"{q.scores['contamination'].median():.2f}, median quality "
            f"{q.scores['quality'].median():.2f} ({q.scores['n_markers'].iloc[0]} markers).",
        ]
    text = "\n".join(lines) + "\n"
    written = write_results(out_dir, tables=tables, texts={"summary.md": text}, figures=figs)
    con.print(text, markup=False)
    con.print(f"wrote {len(written)} files to {out_dir}")
    if atlas_url is not None:
        base = name or "t-type mapping"
        for level, col, ccol in (
            ("type", "t_type", "confidence"),
            ("family", "family", "family_confidence"),
        ):
            if col not in mapped.columns:
                continue
            _store(
                atlas_url,
                pd.DataFrame(
                    {"cell": mapped.index, "label": mapped[col], "confidence": mapped[ccol]}
                ),
                name=f"{base}:{level}",
                kind="t",
                level=level,
                method="taxonomy_mapping" + (" (cross-validated)" if query is None else ""),
                model={"reference": reference, "n_markers": n_markers, "n_bootstrap": n_bootstrap},
                scores=(
                    {
                        r["subset"]: {"agreement": r["accuracy"], "ci": [r["ci_low"], r["ci_high"]]}
                        for r in tables["agreement"].to_dict("records")
                        if r["level"] == level
                    }
                    if "agreement" in tables
                    else {}
                ),
                source="patchatlas celltypes map-ttype",
            )


# ------------------------------------------------------------------------------- cluster


@celltypes.command("cluster")
@click.option("--data", "source", required=True, help="Dataset folder, feature CSV or atlas URL.")
@click.option(
    "--kind",
    type=click.Choice(["e", "m", "me"]),
    default="e",
    show_default=True,
    help="e-types (ephys), m-types (morphology) or me-types (both).",
)
@click.option("--out", "out_dir", type=_OUT, required=True, help="Output folder.")
@click.option("--method", type=click.Choice(["gmm", "ward"]), default="gmm", show_default=True)
@click.option("--max-clusters", type=int, default=20, show_default=True)
@click.option("--n-components", type=int, default=10, show_default=True, help="sPCA per block.")
@click.option("--resamples", type=int, default=20, show_default=True, help="Stability resamples.")
@click.option(
    "--compare-level",
    type=click.Choice(["family", "subclass", "type"]),
    default="type",
    show_default=True,
    help="Label level the types are compared with.",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--figures/--no-figures", default=True, show_default=True)
@click.option("--atlas", "atlas_url", default=None, help="Store the types in this atlas.")
@click.option("--name", default=None, help="Run name in the atlas.")
def cluster(
    source: str,
    kind: str,
    out_dir: Path,
    method: str,
    max_clusters: int,
    n_components: int,
    resamples: int,
    compare_level: str,
    seed: int,
    figures: bool,
    atlas_url: str | None,
    name: str | None,
) -> None:
    """e-, m- or me-types: sparse PCA of feature blocks, clustering chosen by BIC, subsample
    stability, agreement with t-types and the features that separate the types."""
    import pandas as pd

    from patchatlas.celltyping import contingency, feature_separation
    from patchatlas.datasets.celltyping import describe, load_typing_data
    from patchatlas.io.results import write_results

    con = console()
    feats = {"e": "ephys", "m": "morph", "me": "ephys+morph"}[kind]
    data = load_typing_data(source, features=feats)
    d = describe(data)
    con.print(
        f"{d['name']}: {d['n_cells']} cells × {d['n_features']} {feats} features", markup=False
    )
    from patchatlas.celltyping import find_types

    compare = data.labels(compare_level).to_numpy()
    with _progress(f"{resamples} stability resamples") as tick:
        res = find_types(
            data.X,
            kind=kind,
            method=method,
            max_clusters=max_clusters,
            n_components=n_components,
            n_resamples=resamples,
            compare=compare,
            seed=seed,
            progress=tick,
        )
    types = pd.DataFrame(
        {"cell": res.labels.index, "type": res.labels, "confidence": res.confidence}
    )
    tables: dict[str, pd.DataFrame] = {
        "types": types,
        "selection": res.selection,
        "components": res.explained,
        "effect_sizes": res.effect_sizes,
        "separation": feature_separation(data.X.set_axis(res.labels.index), res.labels.to_numpy()),
    }
    lines = [
        f"# {kind}-types of {d['name']}",
        "",
        f"{res.n_types} types among {len(res.labels)} cells ({method}, BIC over 1–{max_clusters}); "
        f"{res.embedding.shape[1]} sparse-PCA components from "
        f"{', '.join(f'{b} ({n})' for b, n in res.provenance['blocks'].items())}.",
    ]
    if res.stability is not None:
        st = res.stability
        tables["stability"] = st.per_cluster
        tables["co_clustering"] = st.co_clustering.reset_index(names="type")
        tables["resamples"] = pd.DataFrame({"ari": st.ari, "n_clusters": st.n_clusters})
        lines.append(
            f"Stability over {len(st.ari)} subsamples of "
            f"{int(res.provenance['fraction'] * 100)} % of the cells: "
            f"adjusted Rand {st.mean_ari:.3f} (range {st.ari.min():.3f}–{st.ari.max():.3f}); "
            f"types chosen {st.n_clusters.min()}–{st.n_clusters.max()}; per-type Jaccard "
            + ", ".join(
                f"{r['cluster']} {r['jaccard_mean']:.2f}" for r in st.per_cluster.to_dict("records")
            )
            + "."
        )
    if res.agreement is not None:
        tables["contingency"] = contingency(res.labels.to_numpy(), compare).reset_index()
        lines.append(
            f"Agreement with {compare_level} labels ({res.agreement.n} labelled cells): adjusted "
            f"mutual information {res.agreement.ami:.3f}, adjusted Rand {res.agreement.ari:.3f}, "
            f"purity {res.agreement.purity:.3f}."
        )
    top = tables["separation"].head(5)
    if len(top):
        lines.append(
            "Features separating the types most (Kruskal–Wallis ε²): "
            + ", ".join(f"{r['feature']} {r['epsilon2']:.2f}" for r in top.to_dict("records"))
            + "."
        )
    text = "\n\n".join(lines) + "\n"
    figs = {}
    plt = _figures(figures)
    if plt is not None:
        from patchatlas.plot.celltyping import plot_bic, plot_confusion, plot_embedding

        fig, ax = plt.subplots(figsize=(4.5, 3.5))
        plot_bic(res.selection, ax=ax, title=f"{kind}-types: BIC")
        fig.tight_layout()
        figs["bic"] = fig
        emb = res.embedding.to_numpy()
        from sklearn.decomposition import PCA

        xy = PCA(n_components=2).fit_transform(emb) if emb.shape[1] > 2 else emb
        fig, ax = plt.subplots(figsize=(7, 5.5))
        plot_embedding(xy, res.labels.to_numpy(), ax=ax, title=f"{kind}-types (sPCA → PCA)")
        fig.tight_layout()
        figs["embedding"] = fig
        if res.agreement is not None:
            tab = res.agreement.contingency
            tab = tab.loc[:, tab.sum(axis=0).sort_values(ascending=False).index[:30]]
            fig, ax = plt.subplots(figsize=(2 + 0.35 * tab.shape[1], 1.5 + 0.4 * tab.shape[0]))
            plot_confusion(tab, ax=ax, title=f"{kind}-types × {compare_level} (row fractions)")
            ax.set_xlabel(compare_level)
            ax.set_ylabel(f"{kind}-type")
            fig.tight_layout()
            figs["contingency"] = fig
    written = write_results(out_dir, tables=tables, texts={"summary.md": text}, figures=figs)
    con.print(text, markup=False)
    con.print(f"wrote {len(written)} files to {out_dir}")
    _store(
        atlas_url,
        types.rename(columns={"type": "label"}),
        name=name or f"{d['name']}:{kind}-types:{method}",
        kind=kind,
        level="cluster",
        method=method,
        model=res.provenance,
        scores={
            "mean_ari": res.stability.mean_ari if res.stability is not None else None,
            "ami_vs_" + compare_level: res.agreement.ami if res.agreement is not None else None,
        },
        source=f"patchatlas celltypes cluster --data {source} --kind {kind}",
    )


# ------------------------------------------------------------------------- cross-species


@celltypes.command("cross-species")
@click.option("--train", "train_src", required=True, help="Mouse data (v1_gouwens2020_ephys_only).")
@click.option(
    "--test", "test_src", required=True, help="Human data (human_lee2023_gaba_ephys_only)."
)
@click.option("--out", "out_dir", type=_OUT, required=True)
@click.option("--repeats", type=int, default=5, show_default=True, help="Human-only CV repeats.")
@click.option("--folds", type=int, default=5, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--n-jobs", type=int, default=1, show_default=True)
def cross_species_cmd(
    train_src: str, test_src: str, out_dir: Path, repeats: int, folds: int, seed: int, n_jobs: int
) -> None:
    """Train on mouse, test on human (shared IPFX features, shared subclasses), against the
    human-only baseline."""
    from patchatlas.celltyping import (
        UNCOMPARABLE,
        cross_species,
        harmonize_subclass,
        ipfx_canonical,
    )
    from patchatlas.datasets.celltyping import load_typing_data
    from patchatlas.io.results import write_results

    con = console()
    tr = load_typing_data(train_src)
    te = load_typing_data(test_src)
    xtr, xte = ipfx_canonical(tr.X), ipfx_canonical(te.X)
    shared = [c for c in xtr.columns if c in xte.columns and c not in UNCOMPARABLE]
    res = cross_species(
        xtr[shared],
        harmonize_subclass(tr.labels("subclass").to_numpy()),
        xte[shared],
        harmonize_subclass(te.labels("subclass").to_numpy()),
        n_repeats=repeats,
        n_folds=folds,
        seed=seed,
        n_jobs=n_jobs,
    )
    lines = [
        f"# Cross-species: train on {tr.name} ({res.provenance['n_train']} cells), test on "
        f"{te.name} ({res.provenance['n_test']} cells)",
        "",
        f"Classes: {', '.join(res.classes)}. {len(res.features)} shared features: "
        f"{', '.join(res.features)}.",
        "",
        "| model | balanced accuracy (95 % CI) | macro-F1 (95 % CI) |",
        "|---|---|---|",
    ]
    s = res.summary
    for m in dict.fromkeys(s["model"]):
        r = {x["metric"]: x for x in s[s["model"] == m].to_dict("records")}
        b, f = r["balanced_accuracy"], r["macro_f1"]
        lines.append(
            f"| {m} | {b['mean']:.3f} ({b['ci_low']:.3f}–{b['ci_high']:.3f}) | "
            f"{f['mean']:.3f} ({f['ci_low']:.3f}–{f['ci_high']:.3f}) |"
        )
    text = "\n".join(lines) + "\n"
    tables = {"summary": s}
    for k, v in res.confusion.items():
        tables[f"confusion_{k}"] = v.reset_index()
    written = write_results(out_dir, tables=tables, texts={"summary.md": text})
    con.print(text, markup=False)
    con.print(f"wrote {len(written)} files to {out_dir}")
